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

# Generate into a scratch tree and swap it in only when every protoc run succeeded, so a
# failing run never deletes the checked-in code.
final="$root/proto/gen/go"
work="$(mktemp -d)"
gwtmp="$(mktemp -d)"
trap 'rm -rf "$work" "$gwtmp"' EXIT
out="$work/go"
mkdir -p "$out"
cd "$root/proto"
# Every .proto outside gen/ is ours; grpc stubs are only emitted for files that define services.
# google/ holds declarations of upstream types whose Go code lives in genproto: import only.
mapfile -t files < <(find . -name '*.proto' -not -path './gen/*' -not -path './google/*' | sed 's|^\./||' | LC_ALL=C sort)
PATH="$bindir:$PATH" protoc -I . -I /usr/include \
  --go_out="$out" --go_opt=module=github.com/tracekit/tracekit/proto/gen/go \
  --go-grpc_out="$out" --go-grpc_opt=module=github.com/tracekit/tracekit/proto/gen/go \
  "${files[@]}"

# grpc-gateway: each <dir>/*_http.yaml holds the HTTP rules of the services in <dir> (no
# annotations in the .proto). standalone=true makes the reverse proxy its own package
# (<go package>gw, beside the stubs) so only the gateway binary links the grpc-gateway runtime.
mapfile -t gwconfs < <(find . -name '*_http.yaml' -not -path './gen/*' | sed 's|^\./||' | LC_ALL=C sort)
for conf in "${gwconfs[@]}"; do
  dir="$(dirname "$conf")"
  mapfile -t gwfiles < <(find "$dir" -maxdepth 1 -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort)
  PATH="$bindir:$PATH" protoc -I . -I /usr/include \
    --grpc-gateway_out="$gwtmp" \
    --grpc-gateway_opt=module=github.com/tracekit/tracekit/proto/gen/go \
    --grpc-gateway_opt=standalone=true \
    --grpc-gateway_opt=grpc_api_configuration="$conf" \
    "${gwfiles[@]}"
done
while IFS= read -r f; do
  rel="${f#"$gwtmp"/}"
  pkg="$(sed -n 's/^package \([a-z0-9_]*\)$/\1/p' "$f" | head -n1)"
  dest="$out/$(dirname "$rel")/${pkg}gw"
  mkdir -p "$dest"
  sed -e "s/^package ${pkg}\$/package ${pkg}gw/" -e "s/^Package ${pkg} is a reverse proxy\./Package ${pkg}gw is a reverse proxy./" \
    "$f" >"$dest/$(basename "$f")"
done < <(find "$gwtmp" -name '*.pb.gw.go' | LC_ALL=C sort)

rm -rf "$final"
mv "$out" "$final"
