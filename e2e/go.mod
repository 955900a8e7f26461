module github.com/tracekit/tracekit/e2e

go 1.26.8

require github.com/tracekit/tracekit v0.0.0

replace github.com/tracekit/tracekit => ../
