module github.com/tracekit/tracekit/e2e

go 1.26.8

replace github.com/tracekit/tracekit => ../

require (
	github.com/stretchr/testify v1.12.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
