#!/usr/bin/env bash
# Benchmarks of the release binary on SQLite and on PostgreSQL (127.0.0.1:5432), with wrk.
# Every machine-dependent figure is a ratio against a baseline measured in the same run.
# Prints one table: figure, value, target, mark. BENCH_SECONDS (default 10) sets each wrk run;
# BENCH_STORM (default 30) and BENCH_SETTLE (default 60) the login storm and the wait after it.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${BENCH_SECONDS:-10}
STORM=${BENCH_STORM:-30}
SETTLE=${BENCH_SETTLE:-60}
PG=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
CORES=$(nproc)

command -v wrk >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
command -v psql >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client >/dev/null; }
cargo build --release -p codex-cloud-backend >&2
BIN=$PWD/target/release/codex-cloud-backend
WORK=$(mktemp -d)
trap 'pkill -f "$BIN serve" 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT=18700
ROWS=()

rss_mib() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
reqs() { awk '/Requests\/sec/ { print $2 }'; }
p99_ms() { awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms/, "", v) } else if (v ~ /s$/) { sub(/s/, "", v); v *= 1000 } print v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
mark() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { ok = (op == ">=" ? v >= t : v <= t); print (ok ? "pass" : "FAIL") }'; }
row() { ROWS+=("$(printf '%-4s %-10s %-58s %12s %10s %s' "$1" "$2" "$3" "$4" "$5 $6" "$(mark "$4" "$5" "$6")")"); }

bench_one() {
  local name=$1 url=$2
  PORT=$((PORT + 1))
  local base="http://127.0.0.1:$PORT"
  export CODEX_DATABASE_URL=$url CODEX_BIND=127.0.0.1:$PORT RUST_LOG=warn
  for i in $(seq 0 31); do
    "$BIN" create-admin "u$i@bench.example" 'correct horse battery staple' >/dev/null 2>&1 || true
  done
  local started=$(date +%s.%N)
  "$BIN" serve 2>"$WORK/$name.log" & local pid=$!
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

  # P3 baseline: one login at a time (an argon2id hash plus the request), then 8 at once.
  local one=$(wrk -t1 -c1 -d"${SECONDS_EACH}s" -s bench/login.lua "$base" | reqs)
  local eight=$(wrk -t2 -c8 -d"${SECONDS_EACH}s" -s bench/login.lua "$base" | reqs)
  row P3 "$name" "logins/s at 8 conns ÷ (cores × sequential logins/s) ($eight / $CORES×$one)" \
    "$(ratio "$eight" "$(awk -v c="$CORES" -v o="$one" 'BEGIN { print c * o }')")" ">=" 0.85

  # P2 and P7: /healthz latency and memory while 32 logins run at once.
  local idle_p99=$(wrk -t1 -c8 -d"${SECONDS_EACH}s" --latency "$base/healthz" | p99_ms)
  wrk -t2 -c32 -d"${STORM}s" -s bench/login.lua "$base" >/dev/null &
  local storm=$!
  local peak=0
  sleep 2
  local busy_p99=$(wrk -t1 -c8 -d"${SECONDS_EACH}s" --latency "$base/healthz" | p99_ms)
  while kill -0 "$storm" 2>/dev/null; do
    peak=$(awk -v a="$peak" -v b="$(rss_mib "$pid")" 'BEGIN { print (b > a ? b : a) }')
    sleep 0.5
  done
  row P2 "$name" "p99 /healthz during 32 logins ÷ idle p99 ($busy_p99 / $idle_p99 ms)" "$(ratio "$busy_p99" "$idle_p99")" "<=" 3
  sleep "$SETTLE"
  local after=$(rss_mib "$pid")
  row P6 "$name" "resident memory idle, MiB" "$idle_rss" "<=" 30
  [ "$name" = sqlite ] && row P6 "$name" "start to ready, s" "$ready" "<=" 1
  row P7 "$name" "peak resident memory during ${STORM} s of 32 logins, MiB" "$peak" "<=" 160
  row P7 "$name" "resident memory ${SETTLE} s after, MiB" "$after" "<=" 64
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

bench_one sqlite "sqlite://$WORK/bench.db?mode=rwc"
schema="bench_$(date +%s)"
psql "$PG" -qAtc "CREATE SCHEMA $schema" >/dev/null
bench_one postgres "$PG?options=-c%20search_path%3D$schema"
psql "$PG" -qAtc "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1 || true

printf '\n%-4s %-10s %-58s %12s %10s %s\n' id database figure value target mark
printf '%s\n' "${ROWS[@]}"
echo "(P4, P5, P8 and P9 are not measured by this script yet.)"
