#!/usr/bin/env bash
# Measure OrgStack on PostgreSQL side by side with the reference probe
# (../shared/perf, see ../shared/PERFORMANCE.md), alternating the two in one
# run, and print a summary table of ratios against the targets. Not part of
# CI: run by hand, on a quiet machine (absolute numbers drift with load;
# ratios measured in one run do not).
#   .ci/perf/run.sh [duration]      e.g. .ci/perf/run.sh 10s
#   ROUNDS=3 .ci/perf/run.sh 10s    more alternations (default 2)
#   RESEED=1 .ci/perf/run.sh        reload the OrgStack data
#   FULL=1 .ci/perf/run.sh 10s      with metrics on, traces exported to a local
#                                   OTLP sink (parentbased_traceidratio 0.01) and
#                                   the Redis limiter on, its quotas above the load
#   INSTANCES=2 .ci/perf/run.sh 10s two serve processes on one database (and one
#                                   Redis): each load tool is split in two halves,
#                                   one per instance (no load balancer in between);
#                                   req/s are summed, latencies are the worse half's
# Needs: wrk (apt-get install wrk), python3, psql, the probe's database
# loaded (psql -h 127.0.0.1 -U postgres -f ../shared/perf/setup.sql).
set -euo pipefail
cd "$(dirname "$0")/../.."
D=${1:-10s}
ROUNDS=${ROUNDS:-2}
W=/tmp/perf; mkdir -p "$W/jwks"
PROBE_DIR=${PROBE_DIR:-$(cd ../shared/perf 2>/dev/null && pwd || echo /work/shared/perf)}
DB=orgstack_perf
PGURL="postgres://postgres@127.0.0.1:5432/$DB?sslmode=disable"
INSTANCES=${INSTANCES:-1}
API=127.0.0.1:18080; API2=127.0.0.1:18083; PROBE=127.0.0.1:18090; PROBE_LIST=127.0.0.1:18091; JWKS=127.0.0.1:18082
SUMMARY=$W/summary.txt; : >"$SUMMARY"

cleanup() { kill $(jobs -p) 2>/dev/null || true; }
trap cleanup EXIT

[ -x "$W/probe" ] || (cd "$PROBE_DIR" && go build -o "$W/probe" ./server && go build -o "$W/olg" ./olg)
go build -o "$W/orgstack" .

if [ "${RESEED:-0}" = 1 ] || ! psql -h 127.0.0.1 -U postgres -d "$DB" -Atqc 'select 1 from organizations limit 1' >/dev/null 2>&1; then
  psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
  ORGSTACK_DATABASE_URL=$PGURL "$W/orgstack" migrate up
  psql -h 127.0.0.1 -U postgres -d "$DB" -q -f .ci/perf/seed.sql
fi
ORGSTACK_DATABASE_URL=$PGURL "$W/orgstack" migrate up >/dev/null # data seeded by an earlier version
# Both databases as autovacuum leaves them in production: visibility maps
# set (index-only scans) and statistics fresh. Same treatment for both.
psql -h 127.0.0.1 -U postgres -d "$DB" -qc 'VACUUM (ANALYZE)'
psql -h 127.0.0.1 -U postgres -d probe -qc 'VACUUM (ANALYZE)'

# An "external" IdP: the development key's JWKS served by a static file server.
ORGSTACK_HTTP_ADDR=127.0.0.1:18081 "$W/orgstack" dev --db "$W/dev.db" --key "$W/perf.key" >/dev/null 2>&1 &
DEVPID=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:18081/.well-known/jwks.json -o "$W/jwks/jwks.json" && break; sleep 0.2; done
kill $DEVPID
(cd "$W/jwks" && exec python3 -m http.server 18082 --bind 127.0.0.1 >/dev/null 2>&1) &

# The access log stays on (buffered, as serve defaults), into a file.
SERVE_ENV=(ORGSTACK_DATABASE_URL=$PGURL ORGSTACK_OIDC_ISSUER=https://dev.orgstack.invalid ORGSTACK_AUDIENCE=orgstack
  ORGSTACK_JWKS_URL=http://$JWKS/jwks.json ORGSTACK_JWT_ALGORITHMS=RS256)
if [ "${FULL:-0}" = 1 ]; then
  go build -o "$W/otlpsink" ./.ci/perf/otlpsink
  "$W/otlpsink" -addr 127.0.0.1:4318 >"$W/otlpsink.out" 2>&1 &
  SINK_PID=$!
  SERVE_ENV+=(OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 OTEL_TRACES_SAMPLER=parentbased_traceidratio
    OTEL_TRACES_SAMPLER_ARG=0.01 ORGSTACK_REDIS_URL=redis://127.0.0.1:6379/0 ORGSTACK_REDIS_KEY_PREFIX=perf-$$:
    ORGSTACK_RATE_LIMIT=100000000 ORGSTACK_RATE_LIMIT_ORG=100000000 ORGSTACK_RATE_LIMIT_WINDOW=1m)
fi
env "${SERVE_ENV[@]}" ORGSTACK_HTTP_ADDR=$API ORGSTACK_METRICS_ADDR=$([ "${FULL:-0}" = 1 ] && echo 127.0.0.1:19090) \
  "$W/orgstack" serve >"$W/serve.log" 2>&1 &
SERVE_PID=$!
if [ "$INSTANCES" = 2 ]; then
  env "${SERVE_ENV[@]}" ORGSTACK_HTTP_ADDR=$API2 ORGSTACK_METRICS_ADDR=$([ "${FULL:-0}" = 1 ] && echo 127.0.0.1:19091) \
    "$W/orgstack" serve >"$W/serve2.log" 2>&1 &
  for _ in $(seq 50); do curl -sf http://$API2/readyz >/dev/null && break; sleep 0.2; done
fi
(cd "$W" && exec ./probe -mode check -addr $PROBE -token-out "$W/probe.token" >/dev/null 2>&1) &
(cd "$W" && exec ./probe -mode list -addr $PROBE_LIST -token-out "$W/probe-list.token" >/dev/null 2>&1) &
for _ in $(seq 50); do
  curl -sf http://$API/readyz >/dev/null && curl -s http://$PROBE/ >/dev/null && curl -s http://$PROBE_LIST/ >/dev/null && break
  sleep 0.2
done
RSS0=$(ps -o rss= -p "$SERVE_PID")

ORG=$(psql -h 127.0.0.1 -U postgres -d "$DB" -Atqc "select md5('org42')::uuid::text")
TARGET=$(psql -h 127.0.0.1 -U postgres -d "$DB" -Atqc "select md5('user42-50')::uuid::text")
TOKEN=$("$W/orgstack" token --sub u-42-1 --key "$W/perf.key" --ttl 2h)
printf %s "$TOKEN" >"$W/orgstack.token"
"$W/orgstack" token --sub u-big-1 --key "$W/perf.key" --ttl 2h | tr -d '\n' >"$W/big.token"
PTOKEN=$(cat "$W/probe.token"); LTOKEN=$(cat "$W/probe-list.token")
BODY="{\"user_id\":\"$TARGET\",\"permission\":\"members:read\"}"
CHECK_URL="http://$API/api/v1/organizations/$ORG/check"
PCHECK_URL="http://$PROBE/orgs/42/permissions/members.read/check"
echo "check answer: $(curl -s -X POST "$CHECK_URL" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$BODY")"

cat >"$W/check.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA
rps() { awk '/Requests\/sec/ {printf "%.0f", $2}'; }
ratio() { echo "scale=2; $1 / $2" | bc | sed 's/^\./0./'; }
field() { sed -n "s/.* $1=\([0-9.]*\)ms.*/\1/p"; } # a latency of olg's output, in ms
olg_probe() { "$W/olg" -url "$PCHECK_URL" -rate "$1" -d "$D" -token "$W/probe.token"; }
olg_one() { "$W/olg" -method POST -body "$BODY" -url "${CHECK_URL/$API/$2}" -rate "$1" -d "$D" -token "$W/orgstack.token"; }
# olg_ours RATE: one instance, or two halves at once (the line of the worse p99).
olg_ours() {
  if [ "$INSTANCES" = 1 ]; then olg_one "$1" "$API"; return; fi
  olg_one $(($1 / 2)) "$API" >"$W/olg1.out" & olg_one $(($1 / 2)) "$API2" >"$W/olg2.out"; wait $!
  for f in "$W/olg1.out" "$W/olg2.out"; do echo "$(field p99 <"$f") $(cat "$f")"; done |
    sort -n | tail -1 | cut -d' ' -f2-
}
# wrk_ours [wrk options…] URL: req/s of one instance, or the sum of two halves.
wrk_ours() {
  local url=${*: -1} opts=("${@:1:$#-1}")
  if [ "$INSTANCES" = 1 ]; then wrk -t2 -c64 -d"$D" "${opts[@]}" "$url" | rps; return; fi
  wrk -t1 -c32 -d"$D" "${opts[@]}" "$url" | rps >"$W/wrk1.out" &
  local a; a=$(wrk -t1 -c32 -d"$D" "${opts[@]}" "${url/$API/$API2}" | rps); wait
  echo $((a + $(cat "$W/wrk1.out")))
}
row() { printf '%-34s %-14s %-14s %-7s %s\n' "$@" | tee -a "$SUMMARY"; }

# Warm both (connections, statement caches, token cache, key sets).
wrk -t2 -c64 -d2s -H "Authorization: Bearer $PTOKEN" "$PCHECK_URL" >/dev/null
wrk -t2 -c64 -d2s -s "$W/check.lua" "$CHECK_URL" >/dev/null
[ "$INSTANCES" = 1 ] || wrk -t2 -c64 -d2s -s "$W/check.lua" "${CHECK_URL/$API/$API2}" >/dev/null

row "what" "probe" "orgstack" "ratio" "target"
echo "== closed loop, wrk -t2 -c64 -d$D, alternated"
for round in $(seq "$ROUNDS"); do
  p=$(wrk -t2 -c64 -d"$D" -H "Authorization: Bearer $PTOKEN" "$PCHECK_URL" | rps)
  o=$(wrk_ours -s "$W/check.lua" "$CHECK_URL")
  row "check req/s (round $round)" "$p" "$o" "$(ratio "$o" "$p")" ">= 0.80"
done
for round in $(seq "$ROUNDS"); do
  p=$(wrk -t2 -c64 -d"$D" -H "Authorization: Bearer $LTOKEN" "http://$PROBE_LIST/orgs/42/members" | rps)
  o=$(wrk_ours -H "Authorization: Bearer $TOKEN" "http://$API/api/v1/organizations/$ORG/members?size=50")
  row "list of 50 req/s (round $round)" "$p" "$o" "$(ratio "$o" "$p")" ">= 0.75"
done

echo "== open loop (olg: fixed arrival rate), check, alternated"
for round in $(seq "$ROUNDS"); do
  for rate in 2000 4000; do
    po=$(olg_probe $rate); oo=$(olg_ours $rate)
    echo "round $round probe    @$rate: $po"
    echo "round $round orgstack @$rate: $oo"
    target="p99 <= 1.5x, <= 2 ms"; [ $rate = 4000 ] && target="p99 <= 5 ms"
    for q in p50 p99 p99.9; do
      pv=$(echo "$po" | field "$q"); ov=$(echo "$oo" | field "$q")
      t=""; [ $q = p99 ] && t=$target
      row "check @$rate/s $q ms (round $round)" "$pv" "$ov" "$(ratio "$ov" "$pv")" "$t"
    done
    row "check @$rate/s achieved (round $round)" "$(echo "$po" | sed -n 's/.*achieved=\([0-9]*\).*/\1/p')" \
      "$(echo "$oo" | sed -n 's/.*achieved=\([0-9]*\).*/\1/p')" "" "errors: $(echo "$oo" | sed -n 's/.*errors=\([0-9]*\) non2xx=\([0-9]*\).*/\1, non-2xx \2/p')"
  done
done

echo "== OrgStack alone"
for pg in 1 200; do
  out=$("$W/olg" -url "http://$API/api/v1/organizations/org-big/members?size=50&page=$pg" -rate 200 -d "$D" -token "$W/big.token")
  echo "org of 10k members, page $pg (size 50) @200/s: $out"
  eval "deep_p99_$pg=$(echo "$out" | field p99)"
done
row "10k org p99 ms, page 1 / page 200" "" "$deep_p99_1 / $deep_p99_200" "$(ratio "$deep_p99_200" "$deep_p99_1")" "page 200 <= 2x page 1"
row "livez req/s" "" "$(wrk -t2 -c64 -d"$D" "http://$API/livez" | rps)" "" ">= 0.85 x probe b (not run here)"
row "401 without token req/s" "" "$(wrk -t2 -c64 -d"$D" "http://$API/api/v1/organizations" | rps)" "" ""
row "RSS KiB (start / after load)" "" "$RSS0 / $(ps -o rss= -p "$SERVE_PID")" "" "idle <= 40 MB"

echo
if [ "${FULL:-0}" = 1 ]; then
  kill "$SINK_PID"; wait "$SINK_PID" 2>/dev/null || true
  echo "OTLP sink received: $(cat "$W/otlpsink.out")"
  echo "rate-limit decisions (instance 1): $(curl -s http://127.0.0.1:19090/metrics | grep -c '^orgstack_ratelimit_decisions_total') series; refused: $(curl -s http://127.0.0.1:19090/metrics | awk '/^orgstack_ratelimit_decisions_total.*refused/ {s+=$2} END {print s+0}')"
fi
echo "== summary ($(date -u +%FT%TZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), duration $D per run, instances $INSTANCES, full ${FULL:-0})"
cat "$SUMMARY"
