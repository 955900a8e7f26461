#!/usr/bin/env bash
# Runs every Fuzz target of the product module for a short time ($1, default 5s). The seed
# corpora under testdata/fuzz also run as plain tests in `go test`.
set -euo pipefail
fuzztime="${1:-5s}"
cd "$(dirname "$0")/.."
status=0
while IFS= read -r file; do
  dir="./$(dirname "$file")"
  for target in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | sed 's/^func //'); do
    echo "fuzz $dir $target ($fuzztime)"
    if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$dir"; then
      status=1
    fi
  done
done < <(grep -rl --include='*_test.go' -E '^func Fuzz' libs services tools 2>/dev/null | LC_ALL=C sort)
exit $status
