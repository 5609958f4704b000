module github.com/keelhq/keel/cmd/keel

go 1.26.8

require (
	github.com/keelhq/keel/pkg v0.0.0
	github.com/keelhq/keel/proto v0.0.0
	github.com/keelhq/keel/services/audit v0.0.0
	github.com/keelhq/keel/services/embed v0.0.0
	github.com/keelhq/keel/services/eval v0.0.0
	github.com/keelhq/keel/services/gateway v0.0.0
	github.com/keelhq/keel/services/ingest v0.0.0
	github.com/keelhq/keel/services/retrieve v0.0.0
	github.com/keelhq/keel/services/router v0.0.0
	github.com/keelhq/keel/services/workflows v0.0.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/go-logr/logr v1.4.4 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	github.com/google/uuid v1.6.0 // indirect
	go.opentelemetry.io/auto/sdk v1.2.1 // indirect
	go.opentelemetry.io/otel v1.46.0 // indirect
	go.opentelemetry.io/otel/log v0.20.0 // indirect
	go.opentelemetry.io/otel/metric v1.46.0 // indirect
	go.opentelemetry.io/otel/sdk v1.46.0 // indirect
	go.opentelemetry.io/otel/sdk/metric v1.46.0 // indirect
	go.opentelemetry.io/otel/trace v1.46.0 // indirect
	go.temporal.io/api v1.63.5 // indirect
	go.temporal.io/sdk v1.47.0 // indirect
	go.temporal.io/server v1.32.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
)

replace (
	github.com/keelhq/keel/pkg => ../../pkg
	github.com/keelhq/keel/proto => ../../proto
	github.com/keelhq/keel/services/audit => ../../services/audit
	github.com/keelhq/keel/services/embed => ../../services/embed
	github.com/keelhq/keel/services/eval => ../../services/eval
	github.com/keelhq/keel/services/gateway => ../../services/gateway
	github.com/keelhq/keel/services/ingest => ../../services/ingest
	github.com/keelhq/keel/services/retrieve => ../../services/retrieve
	github.com/keelhq/keel/services/router => ../../services/router
	github.com/keelhq/keel/services/workflows => ../../services/workflows
)
