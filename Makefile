# tracekit: one product module (proto/gen, libs, services, tools) plus the e2e module.
SHELL := /bin/bash
GO ?= go
# Builds and tests use each module's own go.mod (go.work is for editors): the product binaries
# link exactly the versions the product module names, whatever e2e pulls in.
export GOWORK := off
BIN := $(CURDIR)/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/tracekit/tracekit/libs/buildinfo.Version=$(VERSION) -X github.com/tracekit/tracekit/libs/buildinfo.Commit=$(COMMIT)
FUZZTIME ?= 5s
# Profile-guided optimisation (go.dev/doc/pgo): every binary and `make bench` are compiled with
# this profile of the hot paths; `make pgo` regenerates it.
PGO ?= $(CURDIR)/services/tracekit/default.pgo

.PHONY: all build test unit e2e fuzz verify verify-proto verify-tidy proto bench pgo run vet clean tidy images

all: build

## build: every service, the all-in-one `tracekit`, dataway-sim and nats-server into bin/
build:
	@mkdir -p $(BIN)
	$(GO) build -trimpath -pgo=$(PGO) -ldflags '$(LDFLAGS)' -o $(BIN)/ ./services/... ./tools/...
	$(GO) build -trimpath -o $(BIN)/nats-server github.com/nats-io/nats-server/v2

## test: what CI runs: generated code current, vet, unit tests with -race, e2e, short fuzz
test: verify vet unit e2e fuzz

unit:
	$(GO) test -race -count=1 ./...

e2e: build
	cd e2e && TRACEKIT_BIN=$(BIN) $(GO) test -count=1 -timeout 15m ./...

## fuzz: every Fuzz target for FUZZTIME (seed corpora live in testdata/fuzz)
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

vet:
	$(GO) vet ./... && (cd e2e && $(GO) vet ./...)

verify: verify-proto verify-tidy

## verify-tidy: go.mod/go.sum of both modules are exactly what their imports need
verify-tidy:
	@$(GO) mod tidy -diff || (echo "go.mod is not tidy: run 'make tidy' and commit" >&2; exit 1)
	@cd e2e && $(GO) mod tidy -diff || (echo "e2e/go.mod is not tidy: run 'make tidy' and commit" >&2; exit 1)

## proto: regenerate proto/gen from proto/ (needs protoc: apt-get install protobuf-compiler libprotobuf-dev)
proto:
	./scripts/genproto.sh

verify-proto: proto
	@git diff --exit-code -- proto/gen || (echo "proto/gen is stale: run 'make proto' and commit" >&2; exit 1)
	@test -z "$$(git status --porcelain -- proto/gen)" || (echo "proto/gen has untracked generated files: run 'make proto' and commit" >&2; git status --porcelain -- proto/gen; exit 1)

## bench: every benchmark; results in docs/benchmarks.md
bench:
	$(GO) test -p 1 -pgo=$(PGO) -run='^$$' -bench=. -benchmem ./... | tee benchmark.txt
	./scripts/bench-table.sh < benchmark.txt

## run: the all-in-one on embedded NATS plus dataway-sim, on the default config
pgo:
	./scripts/pgo.sh $(PGO)

run: build
	./scripts/run.sh

## images: one image per binary (needs a Docker engine; not available on CI machines)
IMAGES := $(notdir $(wildcard services/*)) dataway-sim
images:
	for s in $(IMAGES); do \
	  docker build -f deploy/docker/Dockerfile --build-arg SERVICE=$$s --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t tracekit/$$s:dev . || exit 1; \
	done

tidy:
	$(GO) mod tidy && (cd e2e && $(GO) mod tidy)

clean:
	rm -rf $(BIN) .cache benchmark.txt
