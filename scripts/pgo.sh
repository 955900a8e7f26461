#!/usr/bin/env bash
# Regenerates services/tracekit/default.pgo, the CPU profile Go's profile-guided optimisation
# compiles the binaries with (https://go.dev/doc/pgo): `go build` picks it up for the
# all-in-one on its own (-pgo=auto), and `make build`/`make bench` pass it for every binary.
#
# The profile is the merge of every hot path's benchmark (each package that has one): the
# decode/convert, filter, encode and bus code those benchmarks drive is the code the
# binaries spend their CPU in under load. Refresh it when a hot path changes a lot; a stale
# profile still builds (PGO tolerates drift), it only optimises less.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOWORK=off
out="${1:-services/tracekit/default.pgo}"
benchtime="${BENCHTIME:-1s}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
pkgs=$(grep -rl '^func Benchmark' --include='*_test.go' libs services tools | xargs -n1 dirname | sort -u)
n=$(wc -w <<<"$pkgs")
i=0
for pkg in $pkgs; do
  i=$((i + 1))
  echo "pgo: [$i/$n] profiling ./$pkg" >&2
  go test -run='^$' -bench=. -benchtime="$benchtime" -cpuprofile="$tmp/$i.prof" -o "$tmp/$i.test" "./$pkg" >/dev/null
done
go tool pprof -proto "$tmp"/*.prof >"$out" 2>/dev/null
echo "pgo: wrote $out ($(wc -c <"$out") bytes from $n packages)" >&2
