#!/usr/bin/env bash
# Regenerates proto/gen/go from proto/ with the generator versions pinned in tools/gen/go.mod.
# protoc itself comes from Debian's protobuf-compiler (its well-known types in /usr/include).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bindir="$root/.cache/protoc-bin"
mkdir -p "$bindir"
(cd "$root/tools/gen" && GOWORK=off go build -o "$bindir" \
  google.golang.org/protobuf/cmd/protoc-gen-go \
  google.golang.org/grpc/cmd/protoc-gen-go-grpc \
  github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway)

out="$root/proto/gen/go"
rm -rf "$out"
mkdir -p "$out"
cd "$root/proto"
# Every .proto outside gen/ is ours; grpc stubs are only emitted for files that define services.
mapfile -t files < <(find . -name '*.proto' -not -path './gen/*' | sed 's|^\./||' | LC_ALL=C sort)
PATH="$bindir:$PATH" protoc -I . -I /usr/include \
  --go_out="$out" --go_opt=module=github.com/tracekit/tracekit/proto/gen/go \
  --go-grpc_out="$out" --go-grpc_opt=module=github.com/tracekit/tracekit/proto/gen/go \
  "${files[@]}"
