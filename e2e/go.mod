module github.com/tracekit/tracekit/e2e

go 1.26.8

replace github.com/tracekit/tracekit => ../
