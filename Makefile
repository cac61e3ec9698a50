# novadev: make up runs the Nova stack, make test runs every test.
SHELL := /bin/bash
GO ?= go
ENV ?= local
TARGET ?= docker
BIN := bin/novadev
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/novadev/novadev/internal/cli.Version=$(VERSION)

.PHONY: up down build test test-unit vet render check-render bench fuzz images docker clean

## up: bring the whole Nova stack up on Docker, or on kind with TARGET=kind (installs Docker and builds the offline images when needed)
up:
	@scripts/up.sh $(ENV) $(TARGET)

## down: stop the stack and remove its containers, network and volumes
down: build
	@$(BIN) down --env $(ENV) --volumes

build:
	@mkdir -p bin
	@$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/novadev

## test: vet, every test (integration tests run when Docker / kube-apiserver are reachable; required with NOVADEV_E2E=1), fuzz seeds, drift of rendered files
test: vet
	$(GO) test -count=1 -timeout 40m ./...
	@$(MAKE) --no-print-directory check-render

test-unit:
	$(GO) test -short ./...

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

## render: rewrite compose/, kind/ and Tiltfile from envs/
render: build
	$(BIN) render all

## check-render: fail when the committed compose/, kind/ or Tiltfile differ from the catalog
check-render: render
	@git diff --exit-code --stat -- compose kind Tiltfile || { echo "rendered files drifted from envs/: run make render and commit the result"; exit 1; }
	@test -z "$$(git status --porcelain --untracked-files=all -- compose kind Tiltfile | grep -v '^?? compose/.env$$')" || { echo "untracked rendered files: run make render and commit the result"; git status --porcelain -- compose kind Tiltfile; exit 1; }

## bench: catalog/render benchmarks, then cold and warm up/down of the full stack on Docker, then on kind beside the staging guide's procedure (BENCH_KIND=0 skips kind)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...
	@if [ -x scripts/bench.sh ]; then scripts/bench.sh; fi
	@if [ -x scripts/bench-kind.sh ]; then scripts/bench-kind.sh; fi

## fuzz: explore every parser for a while (CI runs the seed corpora only)
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 60s ./internal/catalog && $(GO) test -run '^$$' -fuzz '^FuzzLoadEnvironment$$' -fuzztime 30s ./internal/catalog && $(GO) test -run '^$$' -fuzz '^FuzzParseMigrationName$$' -fuzztime 15s ./internal/catalog
	$(GO) test -run '^$$' -fuzz '^FuzzJSONReader$$' -fuzztime 30s ./internal/render/compose
	$(GO) test -run '^$$' -fuzz '^FuzzParseMirror$$' -fuzztime 20s ./internal/catalog
	$(GO) test -run '^$$' -fuzz '^FuzzParseTTL$$' -fuzztime 10s ./internal/app && $(GO) test -run '^$$' -fuzz '^FuzzValidateInstanceName$$' -fuzztime 10s ./internal/app && $(GO) test -run '^$$' -fuzz '^FuzzParseInstanceRecord$$' -fuzztime 10s ./internal/state
	$(GO) test -run '^$$' -fuzz '^FuzzDecodePairs$$' -fuzztime 10s ./internal/app && $(GO) test -run '^$$' -fuzz '^FuzzParseStoreCopy$$' -fuzztime 10s ./internal/backend/docker
	$(GO) test -run '^$$' -fuzz '^FuzzParseMigrationName$$' -fuzztime 5m ./internal/bootstrap # from an empty cache it took 3.4 min (3.9M execs, loaded 2-core machine) to find 00_00000.sql.sql
	$(GO) test -run '^$$' -fuzz '^FuzzParseDialMap$$' -fuzztime 1m ./internal/bootstrap
	$(GO) test -run '^$$' -fuzz '^FuzzParseRoutes$$' -fuzztime 20s ./internal/placeholder
	$(GO) test -run '^$$' -fuzz '^FuzzGatewayRequest$$' -fuzztime 60s ./internal/placeholder
	$(GO) test -run '^$$' -fuzz '^FuzzScramMatches$$' -fuzztime 20s ./internal/bootstrap
	$(GO) test -run '^$$' -fuzz '^FuzzSplitEngineFull$$' -fuzztime 20s ./internal/bootstrap
	$(GO) test -run '^$$' -fuzz '^FuzzNormKey$$' -fuzztime 20s ./internal/bootstrap
	$(GO) test -run '^$$' -fuzz '^FuzzReadHealth$$' -fuzztime 20s ./internal/probe
	$(GO) test -run '^$$' -fuzz '^FuzzParseSemver$$' -fuzztime 1m ./internal/bootstrap
	$(GO) test -run '^$$' -fuzz '^FuzzParseRegistry$$' -fuzztime 2m ./internal/bootstrap
	$(GO) test -run '^$$' -fuzz '^FuzzValueRender$$' -fuzztime 20s ./internal/contract
	$(GO) test -run '^$$' -fuzz '^FuzzShellQuote$$' -fuzztime 20s ./internal/cli
	$(GO) test -run '^$$' -fuzz '^FuzzDotenvQuote$$' -fuzztime 20s ./internal/cli
	$(GO) test -run '^$$' -fuzz '^FuzzClusterMasters$$' -fuzztime 20s ./internal/verify
	$(GO) test -run '^$$' -fuzz '^FuzzCountMetrics$$' -fuzztime 20s ./internal/verify
	$(GO) test -run '^$$' -fuzz '^FuzzParseClusterName$$' -fuzztime 20s ./internal/verify/kubecluster && $(GO) test -run '^$$' -fuzz '^FuzzParseGetent$$' -fuzztime 10s ./internal/verify/kubecluster
	$(GO) test -run '^$$' -fuzz '^FuzzMerge$$' -fuzztime 20s ./scripts/host-workarounds/daemon-json
	$(GO) test -run '^$$' -fuzz '^FuzzDropCaps$$' -fuzztime 20s ./scripts/host-workarounds/runc-wrapper
	$(GO) test -run '^$$' -fuzz '^FuzzRegistryRef$$' -fuzztime 20s ./internal/kindcluster
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeAddon$$' -fuzztime 10s ./internal/kindcluster
	$(GO) test -run '^$$' -fuzz '^FuzzSpecFile$$' -fuzztime 20s ./scripts/host-workarounds/runc-wrapper
	$(GO) test -run '^$$' -fuzz '^FuzzInstanceFromNamespace$$' -fuzztime 20s ./internal/state
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime 20s ./internal/kubegc

images:
	scripts/images/build.sh

docker:
	scripts/install-docker.sh

clean:
	rm -rf bin
