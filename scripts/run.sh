#!/usr/bin/env bash
# `make run`: dataway-sim plus the all-in-one tracekit on its built-in defaults (embedded
# NATS, every default receiver), flushing every second so a newcomer sees traces quickly.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p data
./bin/dataway-sim -listen 127.0.0.1:9528 -token tkn_local 2>data/dataway-sim.log &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 50); do
  (exec 3<>/dev/tcp/127.0.0.1/9528) 2>/dev/null && break
  sleep 0.1
done
cat <<'MSG'
tracekit all-in-one is starting (logs below; Ctrl-C stops both).
  send traces to:   http://127.0.0.1:9529/otel/v1/traces   (OTLP/HTTP, JSON or protobuf; gRPC on 127.0.0.1:4317)
                    DDTrace, Zipkin, Jaeger, SkyWalking, CAT, Pinpoint on DataKit's usual ports and paths
  see your traces:  http://127.0.0.1:9528/                 (what Dataway would have received)
  try it:           the curl example in README "See your traces"
  dataway-sim log:  data/dataway-sim.log
MSG
TRACEKIT_IO_FLUSH_INTERVAL="${TRACEKIT_IO_FLUSH_INTERVAL:-1s}" ./bin/tracekit "$@"
