#!/usr/bin/env bash
# Turns `go test -bench -benchmem` output (stdin) into the markdown table of docs/benchmarks.md:
# one row per benchmark with ns/op, µs per span (from the spans/s or points/s it reports), and
# allocations.
set -euo pipefail
awk '
/^pkg: / { pkg = $2; sub("github.com/tracekit/tracekit/", "", pkg); next }
/^Benchmark/ {
  name = $1; sub(/-[0-9]+$/, "", name)
  nsop = ""; rate = ""; per = ""; bop = ""; aop = ""
  for (i = 3; i < NF; i += 2) {
    v = $i; u = $(i + 1)
    if (u == "ns/op") nsop = v
    else if (u == "spans/s" || u == "points/s") { rate = sprintf("%.0f %s", v, u); per = sprintf("%.2f", 1e6 / v) }
    else if (u == "B/op") bop = v
    else if (u == "allocs/op") aop = v
  }
  printf "| `%s` | `%s` | %s | %s | %s | %s | %s |\n", pkg, name, nsop, per, rate, bop, aop
}' | { echo "| Package | Benchmark | ns/op | µs per span (or point) | rate | B/op | allocs/op |"; echo "| --- | --- | --- | --- | --- | --- | --- |"; cat; }
