#!/usr/bin/env bash
# Measure OrgStack on PostgreSQL side by side with the reference probe
# (../shared/perf, see ../shared/PERFORMANCE.md). Not part of CI: run by hand.
#   .ci/perf/run.sh [duration]      e.g. .ci/perf/run.sh 10s
# Needs: wrk (apt-get install wrk),
# the probe built and its database loaded (psql -U postgres -f ../shared/perf/setup.sql).
set -euo pipefail
cd "$(dirname "$0")/../.."
D=${1:-10s}
W=/tmp/perf; mkdir -p "$W/jwks"
PROBE_DIR=${PROBE_DIR:-$(cd ../shared/perf 2>/dev/null && pwd || echo /work/shared/perf)}
DB=orgstack_perf
PGURL="postgres://postgres@127.0.0.1:5432/$DB?sslmode=disable"
API=127.0.0.1:18080; PROBE=127.0.0.1:18090; JWKS=127.0.0.1:18082

cleanup() { kill $(jobs -p) 2>/dev/null || true; }
trap cleanup EXIT

[ -x "$W/probe" ] || (cd "$PROBE_DIR" && go build -o "$W/probe" ./server && go build -o "$W/olg" ./olg)
go build -o "$W/orgstack" .

if [ "${RESEED:-0}" = 1 ] || ! psql -h 127.0.0.1 -U postgres -d "$DB" -Atqc 'select 1 from organizations limit 1' >/dev/null 2>&1; then
  psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
  ORGSTACK_DATABASE_URL=$PGURL "$W/orgstack" migrate up
  psql -h 127.0.0.1 -U postgres -d "$DB" -q -f .ci/perf/seed.sql
fi

# An "external" IdP: the development key's JWKS served by a static file server.
ORGSTACK_HTTP_ADDR=127.0.0.1:18081 "$W/orgstack" dev --db "$W/dev.db" --key "$W/perf.key" >/dev/null 2>&1 &
DEVPID=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:18081/.well-known/jwks.json -o "$W/jwks/jwks.json" && break; sleep 0.2; done
kill $DEVPID
(cd "$W/jwks" && exec python3 -m http.server 18082 --bind 127.0.0.1 >/dev/null 2>&1) &

ORGSTACK_DATABASE_URL=$PGURL ORGSTACK_HTTP_ADDR=$API ORGSTACK_OIDC_ISSUER=https://dev.orgstack.invalid \
ORGSTACK_AUDIENCE=orgstack ORGSTACK_JWKS_URL=http://$JWKS/jwks.json ORGSTACK_JWT_ALGORITHMS=RS256 \
  "$W/orgstack" serve >"$W/serve.log" 2>&1 &
(cd "$W" && exec ./probe -mode check -addr $PROBE -token-out "$W/probe.token" >/dev/null 2>&1) &
for _ in $(seq 50); do curl -sf http://$API/readyz >/dev/null && curl -s http://$PROBE/ >/dev/null && break; sleep 0.2; done
echo "RSS of orgstack serve after start: $(ps -o rss= -p "$(pgrep -f "$W/orgstack serve" | head -1)") KiB"

ORG=$(psql -h 127.0.0.1 -U postgres -d "$DB" -Atqc "select md5('org42')::uuid::text")
TARGET=$(psql -h 127.0.0.1 -U postgres -d "$DB" -Atqc "select md5('user42-50')::uuid::text")
TOKEN=$("$W/orgstack" token --sub u-42-1 --key "$W/perf.key" --ttl 2h)
PTOKEN=$(cat "$W/probe.token")
BODY="{\"user_id\":\"$TARGET\",\"permission\":\"members:read\"}"
curl -sf -X POST "http://$API/api/v1/organizations/$ORG/check" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d "$BODY" >/dev/null # warm JWKS and caches
echo "check answer: $(curl -s -X POST "http://$API/api/v1/organizations/$ORG/check" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$BODY")"

cat >"$W/check.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA
rps() { awk '/Requests\/sec/ {print $2}'; }
lat() { awk '/ 50%/ {p50=$2} / 99%/ {p99=$2} END {print "p50=" p50 " p99=" p99}'; }

echo "== closed loop, wrk -t2 -c64 -d$D (runs alternated)"
for round in 1 2; do
  p=$(wrk -t2 -c64 -d"$D" --latency -H "Authorization: Bearer $PTOKEN" "http://$PROBE/orgs/42/permissions/members.read/check" | rps)
  o=$(wrk -t2 -c64 -d"$D" --latency -s "$W/check.lua" "http://$API/api/v1/organizations/$ORG/check" | rps)
  echo "round $round check: probe=$p orgstack=$o ratio=$(echo "scale=2; $o / $p" | bc)"
done
(cd "$W" && exec ./probe -mode list -addr 127.0.0.1:18091 -token-out "$W/probe-list.token" >/dev/null 2>&1) &
for _ in $(seq 50); do curl -s http://127.0.0.1:18091/ >/dev/null && break; sleep 0.2; done
for round in 1 2; do
  p=$(wrk -t2 -c64 -d"$D" -H "Authorization: Bearer $(cat "$W/probe-list.token")" "http://127.0.0.1:18091/orgs/42/members" | rps)
  o=$(wrk -t2 -c64 -d"$D" -H "Authorization: Bearer $TOKEN" "http://$API/api/v1/organizations/$ORG/members?size=50" | rps)
  echo "round $round list of 50: probe=$p orgstack=$o ratio=$(echo "scale=2; $o / $p" | bc)"
done
BIGTOKEN=$("$W/orgstack" token --sub u-big-1 --key "$W/perf.key" --ttl 2h); printf %s "$BIGTOKEN" >"$W/big.token"
for pg in 1 200; do
  echo "org of 10k members, page $pg (size 50) @200/s: $("$W/olg" -url "http://$API/api/v1/organizations/org-big/members?size=50&page=$pg" -rate 200 -d "$D" -token "$W/big.token")"
done
o=$(wrk -t2 -c64 -d"$D" "http://$API/livez" | rps)
echo "livez: orgstack=$o"
o=$(wrk -t2 -c64 -d"$D" "http://$API/api/v1/organizations" | rps)
echo "401 (no token): orgstack=$o"

echo "== open loop (olg: fixed arrival rate, latency from the intended send time)"
printf %s "$TOKEN" >"$W/orgstack.token"
for rate in 2000 4000; do
  echo "probe    @$rate: $("$W/olg" -url "http://$PROBE/orgs/42/permissions/members.read/check" -rate $rate -d "$D" -token "$W/probe.token")"
  echo "orgstack @$rate: $("$W/olg" -method POST -body "$BODY" -url "http://$API/api/v1/organizations/$ORG/check" -rate $rate -d "$D" -token "$W/orgstack.token")"
done
echo "RSS of orgstack serve after the load: $(ps -o rss= -p "$(pgrep -f "$W/orgstack serve" | head -1)") KiB"
