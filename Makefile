# Keel developer commands. Every target works on a fresh machine: tools come
# from the Go module proxy into .bin/, test databases from the local Postgres.

SHELL := /bin/bash
BIN := $(CURDIR)/.bin
MODULES := proto pkg services/ingest services/embed services/retrieve services/router \
	services/eval services/audit services/workflows services/gateway cmd/keel
PKGS := github.com/keelhq/keel/...

BUF_VERSION := v1.75.0
PROTOC_GEN_GO_VERSION := v1.36.11
PROTOC_GEN_GO_GRPC_VERSION := v1.6.0

.PHONY: all demo dev test test-short vet fmt fmt-check proto proto-check tools tidy build ci

all: vet test

## demo: run the support-copilot demo on an embedded stack and exit.
demo:
	go run ./cmd/keel demo

## dev: run every service in one process on embedded infrastructure.
dev:
	go run ./cmd/keel dev

## test: run every test of every module (needs Postgres; see README).
test:
	go test -count=1 -timeout 30m $(PKGS)

build:
	go build $(PKGS)
	mkdir -p bin && go build -o bin/keel ./cmd/keel

vet:
	go vet $(PKGS)

fmt:
	gofmt -w $(MODULES)

fmt-check:
	@out="$$(gofmt -l $(MODULES))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

$(BIN)/buf:
	GOBIN=$(BIN) go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)

$(BIN)/protoc-gen-go:
	GOBIN=$(BIN) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)

$(BIN)/protoc-gen-go-grpc:
	GOBIN=$(BIN) go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

tools: $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc

## proto: lint the contracts and regenerate proto/gen/go.
proto: tools
	$(BIN)/buf lint
	rm -rf proto/gen/go/keel
	PATH=$(BIN):$$PATH $(BIN)/buf generate

## proto-check: fail when the committed generated code is stale.
proto-check: proto
	@git diff --exit-code --stat -- proto/gen || (echo "generated code is stale: run make proto and commit"; exit 1)
	@test -z "$$(git status --porcelain -- proto/gen)" || (echo "untracked generated files: run make proto and commit"; exit 1)

## tidy: keep every module's go.mod tidy.
tidy:
	@for m in $(MODULES); do (cd $$m && go mod tidy) || exit 1; done

## ci: what .ci/run runs.
ci: fmt-check vet proto-check test
