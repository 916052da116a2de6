#!/usr/bin/env bash
# Benchmarks of the release binary on SQLite and on PostgreSQL (127.0.0.1:5432), with wrk.
# Every machine-dependent figure is a ratio against a baseline measured in the same run.
# Prints one table: figure, value, target, mark. BENCH_SECONDS (default 10) sets each wrk run
# (P2's at most that, so that three fit in the storm); BENCH_STORM (default 30, at least 6) and
# BENCH_SETTLE (default 60) the login storm and the wait after it; BENCH_LOGINS (default 300) the
# sequential provider logins. P2 compares medians of three p99s, idle and inside the storm; P7's
# peak is sampled every 0.5 s for the whole storm. The provider figures (P4, P5, P9) run against
# a local stand-in with a compiled client (bench-oidc, bench/src/main.rs); P5 by the server's own
# clock, on a second server that logs every request; P8 against two replicas on PostgreSQL. Rows
# without a target are printed for comparison only.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${BENCH_SECONDS:-10}
STORM=${BENCH_STORM:-30}
SETTLE=${BENCH_SETTLE:-60}
LOGINS=${BENCH_LOGINS:-300}
PG=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
CORES=$(nproc)
[ "$SECONDS_EACH" -ge 1 ] || { echo "BENCH_SECONDS must be at least 1" >&2; exit 1; }
[ "$STORM" -ge 6 ] || { echo "BENCH_STORM must be at least 6" >&2; exit 1; }
# P2's wrk runs: three fit in a storm after its first 2 s.
P2_EACH=$(( SECONDS_EACH < (STORM - 3) / 3 ? SECONDS_EACH : (STORM - 3) / 3 ))

command -v wrk >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
command -v psql >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client >/dev/null; }
cargo build --release -p codex-cloud-backend -p codex-cloud-bench >&2
BIN=$PWD/target/release/codex-cloud-backend
OIDC=$PWD/target/release/bench-oidc
WORK=$(mktemp -d)
SERVERS=()
trap 'kill "${SERVERS[@]}" "$OP_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT=18700
OP_PORT=18690
OP="http://127.0.0.1:$OP_PORT"
"$OIDC" provider "$OP_PORT" & OP_PID=$!
until curl -sf "$OP/.well-known/openid-configuration" >/dev/null; do sleep 0.05; done
ROWS=()

rss_mib() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
reqs() { awk '/Requests\/sec/ { print $2 }'; }
p99_ms() { awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms/, "", v) } else if (v ~ /s$/) { sub(/s/, "", v); v *= 1000 } print v }'; }
# The median p99 of `GET /healthz` over three wrk runs at 8 connections; fails unless all three
# gave one.
p99_median() {
  local p99s
  p99s=$(for _ in 1 2 3; do wrk -t1 -c8 -d"${P2_EACH}s" --latency "$1/healthz" | p99_ms; done)
  [ "$(grep -cE '^[0-9]+(\.[0-9]+)?$' <<<"$p99s")" = 3 ] || { echo "P2: no p99 from wrk ($p99s)" >&2; return 1; }
  LC_ALL=C sort -g <<<"$p99s" | sed -n 2p
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
mark() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { ok = (op == ">=" ? v >= t : v <= t); print (ok ? "pass" : "FAIL") }'; }
# A number of bench-oidc's one-line JSON answers (flat, numbers only).
json_field() { grep -oE "\"$2\":[-0-9.eE+]+" <<<"$1" | cut -d: -f2 || true; }
row() { ROWS+=("$(printf '%-4s %-10s %-58s %12s %10s %s' "$1" "$2" "$3" "$4" "$5 $6" "$(mark "$4" "$5" "$6")")"); }
info() { ROWS+=("$(printf '%-4s %-10s %-58s %12s %10s %s' "$1" "$2" "$3" "$4" "" "(no target)")"); }

bench_one() {
  local name=$1 url=$2
  PORT=$((PORT + 1))
  local base="http://127.0.0.1:$PORT"
  export CODEX_DATABASE_URL=$url CODEX_BIND=127.0.0.1:$PORT RUST_LOG=warn
  export CODEX_OIDC_ISSUER=$OP CODEX_OIDC_CLIENT_ID=bench CODEX_OIDC_CLIENT_SECRET=bench-secret
  export CODEX_OIDC_REDIRECT_URI=$base/auth/oidc/callback
  for i in $(seq 0 31); do
    "$BIN" create-admin "u$i@bench.example" 'correct horse battery staple' >/dev/null 2>&1 || true
  done
  "$BIN" link-identity --issuer "$OP" --subject bench-user --user-email u0@bench.example >/dev/null
  local started=$(date +%s.%N)
  "$BIN" serve 2>"$WORK/$name.log" & local pid=$!
  SERVERS+=("$pid")
  until curl -sf "$base/readyz" >/dev/null; do sleep 0.02; done
  local ready=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  sleep 1
  local idle_rss=$(rss_mib "$pid")
  local token=$(curl -s "$base/auth/login" -H 'content-type: application/json' \
    -d '{"email":"u0@bench.example","password":"correct horse battery staple"}' | sed -E 's/.*"access_token":"([^"]+)".*/\1/')

  # P1: the bearer check against a bare route.
  local healthz=$(wrk -t2 -c64 -d"${SECONDS_EACH}s" "$base/healthz" | reqs)
  local me=$(wrk -t2 -c64 -d"${SECONDS_EACH}s" -H "authorization: Bearer $token" "$base/auth/me" | reqs)
  row P1 "$name" "GET /auth/me ÷ GET /healthz req/s ($me / $healthz)" "$(ratio "$me" "$healthz")" ">=" 0.60

  # P4, P5, P9: provider logins through the stand-in.
  local oidc
  oidc=$("$OIDC" measure "$base" "$OP" "$pid" "$healthz" "$LOGINS")
  local field
  for field in p4_cold p4_unknown_kid p5_p50_ms p9_logins_per_s p9_ratio p9_cpu_ms; do
    [ -n "$(json_field "$oidc" "$field")" ] || { echo "P4, P5, P9: no $field ($oidc)" >&2; exit 1; }
  done
  row P4 "$name" "JWKS fetches for 100 concurrent callbacks, cold cache" "$(json_field "$oidc" p4_cold)" "<=" 1
  row P4 "$name" "JWKS fetches for 100 ID tokens under an unknown kid" "$(json_field "$oidc" p4_unknown_kid)" "<=" 2
  info P5 "$name" "client's p50 callback round trip less token endpoint, ms" "$(printf '%.2f' "$(json_field "$oidc" p5_p50_ms)")"
  row P9 "$name" "provider logins/s ÷ GET /healthz req/s ($(printf '%.1f' "$(json_field "$oidc" p9_logins_per_s)") / $healthz)" "$(printf '%.4f' "$(json_field "$oidc" p9_ratio)")" ">=" 0.005
  row P9 "$name" "server CPU per provider login, ms" "$(printf '%.2f' "$(json_field "$oidc" p9_cpu_ms)")" "<=" 1.5

  # P3 baseline: one login at a time (an argon2id hash plus the request), then 8 at once.
  local one=$(wrk -t1 -c1 -d"${SECONDS_EACH}s" -s bench/login.lua "$base" | reqs)
  local eight=$(wrk -t2 -c8 -d"${SECONDS_EACH}s" -s bench/login.lua "$base" | reqs)
  row P3 "$name" "logins/s at 8 conns ÷ (cores × sequential logins/s) ($eight / $CORES×$one)" \
    "$(ratio "$eight" "$(awk -v c="$CORES" -v o="$one" 'BEGIN { print c * o }')")" ">=" 0.85

  # P2 and P7: /healthz latency and memory while 32 logins run at once. Each p99 is the median
  # of three wrk runs: one run's idle p99 spreads tenfold on a virtual machine (docs/BENCHMARKS.md).
  local idle_p99 busy_p99 peak
  idle_p99=$(p99_median "$base")
  wrk -t2 -c32 -d"${STORM}s" -s bench/login.lua "$base" >/dev/null &
  local storm=$!
  # The resident memory, sampled every 0.5 s for as long as the storm lasts.
  (
    peak=$(rss_mib "$pid")
    echo "$peak" >"$WORK/$name.peak"
    while kill -0 "$storm" 2>/dev/null; do
      peak=$(awk -v a="$peak" -v b="$(rss_mib "$pid")" 'BEGIN { print (b > a ? b : a) }')
      echo "$peak" >"$WORK/$name.peak"
      sleep 0.5
    done
  ) &
  local sampler=$!
  sleep 2
  busy_p99=$(p99_median "$base")
  wait "$storm" || { echo "P2, P7: the login storm failed" >&2; exit 1; }
  wait "$sampler"
  peak=$(cat "$WORK/$name.peak")
  [[ $peak =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "P7: no resident memory sampled ($peak)" >&2; exit 1; }
  row P2 "$name" "median p99 /healthz during 32 logins ÷ idle ($busy_p99 / $idle_p99 ms)" "$(ratio "$busy_p99" "$idle_p99")" "<=" 3
  sleep "$SETTLE"
  local after=$(rss_mib "$pid")
  row P6 "$name" "resident memory idle, MiB" "$idle_rss" "<=" 30
  [ "$name" = sqlite ] && row P6 "$name" "start to ready, s" "$ready" "<=" 1
  row P7 "$name" "peak resident memory during ${STORM} s of 32 logins, MiB" "$peak" "<=" 160
  row P7 "$name" "resident memory ${SETTLE} s after, MiB" "$after" "<=" 64
  kill "$pid"; wait "$pid" 2>/dev/null || true

  # P5 by the server's own clock: a second server on the same database, logging every request.
  PORT=$((PORT + 1))
  base="http://127.0.0.1:$PORT"
  CODEX_BIND=127.0.0.1:$PORT CODEX_OIDC_REDIRECT_URI=$base/auth/oidc/callback RUST_LOG=info \
    CODEX_LOG_FORMAT=json "$BIN" serve 2>"$WORK/$name-p5.log" & pid=$!
  SERVERS+=("$pid")
  until curl -sf "$base/readyz" >/dev/null; do sleep 0.02; done
  local p5
  p5=$("$OIDC" server-time "$base" "$OP" "$WORK/$name-p5.log" "$LOGINS")
  p5=$(json_field "$p5" p5_server_p50_ms)
  [[ $p5 =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "P5: no server time measured ($p5)" >&2; exit 1; }
  row P5 "$name" "p50 server time of a callback less the token endpoint, ms" "$(printf '%.2f' "$p5")" "<=" 2
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

bench_one sqlite "sqlite://$WORK/bench.db?mode=rwc"
schema="bench_$(date +%s)"
psql "$PG" -qAtc "CREATE SCHEMA $schema" >/dev/null
bench_one postgres "$PG?options=-c%20search_path%3D$schema"

# P8: a logout on replica A, then how long replica B (which had read the session) accepts it.
p8() {
  local url="$PG?options=-c%20search_path%3D$schema"
  local a="http://127.0.0.1:$((PORT + 1))" b="http://127.0.0.1:$((PORT + 2))"
  CODEX_DATABASE_URL=$url CODEX_BIND=${a#http://} "$BIN" serve 2>"$WORK/p8-a.log" & local pa=$!
  CODEX_DATABASE_URL=$url CODEX_BIND=${b#http://} "$BIN" serve 2>"$WORK/p8-b.log" & local pb=$!
  SERVERS+=("$pa" "$pb")
  until curl -sf "$a/readyz" >/dev/null && curl -sf "$b/readyz" >/dev/null; do sleep 0.05; done
  local worst=0
  for _ in 1 2 3 4 5; do
    local token=$(curl -s "$a/auth/login" -H 'content-type: application/json' \
      -d '{"email":"u1@bench.example","password":"correct horse battery staple"}' | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
    curl -sf -o /dev/null -H "authorization: Bearer $token" "$b/auth/me"
    curl -sf -o /dev/null -X POST -H "authorization: Bearer $token" "$a/auth/logout"
    local t0=$(date +%s.%N)
    local code
    while code=$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $token" "$b/auth/me"); [ "$code" != 401 ]; do
      [ "$code" = 200 ] || { echo "P8: B answered $code" >&2; exit 1; }
      sleep 0.005
    done
    local took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
    worst=$(awk -v a="$worst" -v b="$took" 'BEGIN { print (b > a ? b : a) }')
    sleep 0.3
  done
  row P8 postgres "worst of 5: logout on A until B refuses the token, s" "$worst" "<=" 1
  kill "$pa" "$pb"; wait "$pa" "$pb" 2>/dev/null || true
}
p8
psql "$PG" -qAtc "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1 || true

printf '\n%-4s %-10s %-58s %12s %10s %s\n' id database figure value target mark
printf '%s\n' "${ROWS[@]}"
