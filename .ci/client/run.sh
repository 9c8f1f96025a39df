#!/usr/bin/env bash
# The generated-client check of CI: generate a Go client from the CURRENT
# adapters/httpapi/openapi.json with oapi-codegen v2.8.2 (a Go tool of this
# module; the service's go.mod gains nothing), start `orgstack dev` (embedded
# SQLite and the development issuer) on a free port in a temporary
# directory, mint two users' tokens with `orgstack token`, and run the typed
# flow in ./flow against it.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)

echo "-- generate the client (oapi-codegen $(go tool oapi-codegen -version 2>/dev/null | tail -n1))"
go tool oapi-codegen -config oapi-codegen.yaml "$root/adapters/httpapi/openapi.json"
go vet ./...

tmp=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

(cd "$root" && go build -o "$tmp/orgstack" .)

port=""
for _ in $(seq 1 50); do
  p=$((20000 + RANDOM % 20000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "FAIL: no free port" >&2; exit 1; }
base="http://127.0.0.1:$port"

ORGSTACK_HTTP_ADDR="127.0.0.1:$port" "$tmp/orgstack" dev --db "$tmp/dev.db" --key "$tmp/dev.key" >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  if curl -fsS "$base/livez" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then echo "FAIL: orgstack dev exited:" >&2; cat "$tmp/server.log" >&2; exit 1; fi
  sleep 0.1
done
curl -fsS "$base/livez" >/dev/null || { echo "FAIL: orgstack dev is not live:" >&2; cat "$tmp/server.log" >&2; exit 1; }

owner=$("$tmp/orgstack" token --sub ci-owner --email owner@example.com --key "$tmp/dev.key")
bob=$("$tmp/orgstack" token --sub ci-bob --email bob@example.com --key "$tmp/dev.key")
if ! BASE_URL="$base" OWNER_TOKEN="$owner" BOB_TOKEN="$bob" BOB_SUBJECT=ci-bob go run ./flow; then
  echo "server log:" >&2; tail -n 50 "$tmp/server.log" >&2; exit 1
fi
