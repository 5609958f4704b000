module github.com/keelhq/keel/services/embed

go 1.26.8

require (
	github.com/keelhq/keel/pkg v0.0.0
	github.com/keelhq/keel/proto v0.0.0
)

require github.com/google/go-cmp v0.7.0 // indirect

replace (
	github.com/keelhq/keel/pkg => ../../pkg
	github.com/keelhq/keel/proto => ../../proto
)
