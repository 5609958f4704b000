#!/usr/bin/env bash
# Measures what Keel's OpenAI-compatible endpoint adds over the mock
# provider, beside the peer gateway, in one run (BENCHMARKS.md, "Model
# gateway"). Expects, already running on loopback:
#   mockllm on 127.0.0.1:18080      (../shared/bench/mockllm)
#   keel gateway on 127.0.0.1:8481  (keel gateway -addr 127.0.0.1:8481
#                                    -routes deploy/bench/routes-mock.yaml
#                                    -print-token bench -quiet > TOKEN_FILE)
#   the peer on 127.0.0.1:8787      (optional; see ../shared/bench/README.md)
#   the relay on 127.0.0.1:8482     (optional: go run deploy/bench/relay/relay.go,
#                                    the floor of a Go gateway doing nothing)
#   the TCP relay on 127.0.0.1:8486 (optional: go run deploy/bench/tcprelay/tcprelay.go,
#                                    the floor of one more hop, parsing nothing)
# Usage: deploy/bench/gateway-bench.sh TOKEN_FILE [seconds] [rounds]
set -euo pipefail
token=$(cat "$1")
secs=${2:-10}
rounds=${3:-3}
loadgen=${LOADGEN:-/tmp/loadgen}
peer_headers='x-portkey-provider: openai; x-portkey-custom-host: http://127.0.0.1:18080/v1'

for round in $(seq 1 "$rounds"); do
  for c in 1 16; do
    printf 'round %s c=%-2s mock  ' "$round" "$c"
    "$loadgen" -c "$c" -d "${secs}s"
    if (exec 3<>/dev/tcp/127.0.0.1/8486) 2>/dev/null; then
      printf 'round %s c=%-2s tcp   ' "$round" "$c"
      "$loadgen" -c "$c" -d "${secs}s" -url http://127.0.0.1:8486/v1/chat/completions
    fi
    if curl -s -o /dev/null http://127.0.0.1:8482/; then
      printf 'round %s c=%-2s relay ' "$round" "$c"
      "$loadgen" -c "$c" -d "${secs}s" -url http://127.0.0.1:8482/v1/chat/completions
    fi
    printf 'round %s c=%-2s keel  ' "$round" "$c"
    "$loadgen" -c "$c" -d "${secs}s" -url http://127.0.0.1:8481/v1/chat/completions \
      -H "Authorization: Bearer $token"
    if curl -s -o /dev/null http://127.0.0.1:8787/; then
      printf 'round %s c=%-2s peer  ' "$round" "$c"
      "$loadgen" -c "$c" -d "${secs}s" -url http://127.0.0.1:8787/v1/chat/completions -H "$peer_headers"
    fi
  done
done
