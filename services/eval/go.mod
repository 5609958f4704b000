module github.com/keelhq/keel/services/eval

go 1.26.8

require (
	github.com/keelhq/keel/pkg v0.0.0
	github.com/keelhq/keel/proto v0.0.0
)

replace (
	github.com/keelhq/keel/pkg => ../../pkg
	github.com/keelhq/keel/proto => ../../proto
)
