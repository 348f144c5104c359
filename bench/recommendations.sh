#!/usr/bin/env bash
# Recommendations under concurrent load from wrk on this machine, on the embedded default
# (SQLite) and on PostgreSQL + Redis. Sets everything up itself:
#
#     bench/recommendations.sh [--users 20000] [--days 30] [--duration 20] [--connections 32] [--sqlite-only]
#
# Simulates a population, imports it through the ingest path, runs the nightly batch (segments,
# activity hours), then serves it and lets wrk ask for random users' recommendations.
# PostgreSQL at $PLAYPULSE_BENCH_PG (default postgres://postgres@127.0.0.1:5432) and Redis at
# $PLAYPULSE_BENCH_REDIS (default redis://127.0.0.1:6379); the PostgreSQL run is skipped,
# saying so, when either is unreachable.
set -euo pipefail
cd "$(dirname "$0")/.."

users=20000 days=30 duration=20 connections=32 sqlite_only=
while [ $# -gt 0 ]; do
  case "$1" in
    --users) users=$2; shift 2 ;;
    --days) days=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --sqlite-only) sqlite_only=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
pg_base=${PLAYPULSE_BENCH_PG:-postgres://postgres@127.0.0.1:5432}
redis=${PLAYPULSE_BENCH_REDIS:-redis://127.0.0.1:6379}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -p playpulse
bin=target/release/playpulse
work=target/bench-recommendations
start=$(date -u -d "-$days days" +%F)
last=$(date -u -d "-1 day" +%F)
# The PostgreSQL run's cache keys live under a prefix of the benchmark's own, removed at the
# end with its database: a shared Redis and PostgreSQL are left as they were found.
export PLAYPULSE_CACHE__PREFIX=bench_recommendations
export PLAYPULSE_SCHEDULE__ENABLED=false PLAYPULSE_SERVER__RATE_LIMIT_PER_S=10000000 \
  PLAYPULSE_SERVER__RATE_LIMIT_BURST=10000000 RUST_LOG=warn

if [ ! -f "$work/sim/events.parquet" ] || [ "$(cat "$work/sim/.shape" 2>/dev/null)" != "$users $days $start" ]; then
  rm -rf "$work" && mkdir -p "$work"
  $bin simulate --users "$users" --days "$days" --start "$start" --seed 11 --out "$work/sim" >/dev/null
  echo "$users $days $start" > "$work/sim/.shape"
fi

# One backend: import, batch, serve, load. $1 names it, $2 is the DB URL and $3 the Redis
# URL (both empty: the embedded default).
run() {
  local name=$1 data="$work/data-$1" store=(--data-dir "$work/data-$1") cache=()
  [ -n "$2" ] && store+=(--db "$2")
  [ -n "$3" ] && cache=(--redis "$3")
  rm -rf "$data" && mkdir -p "$data"
  $bin import "${store[@]}" "${cache[@]}" "$work/sim/events.parquet" | tail -n 1
  $bin batch "${store[@]}" "${cache[@]}" --as-of "$last" | head -n 1
  local key
  key=$($bin keys create "${store[@]}" --scope read --name bench 2>/dev/null)
  local port=$((18000 + RANDOM % 1000))
  $bin serve "${store[@]}" "${cache[@]}" --listen "127.0.0.1:$port" >"$work/serve-$name.log" 2>&1 &
  local server=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  PP_KEY=$key PP_USERS=$users wrk -t2 -c"$connections" -d5s -s bench/recommendations.lua \
    "http://127.0.0.1:$port" >/dev/null  # warm-up
  echo "backend=$name users=$users connections=$connections duration=${duration}s"
  PP_KEY=$key PP_USERS=$users wrk -t2 -c"$connections" -d"${duration}s" -s bench/recommendations.lua \
    "http://127.0.0.1:$port" | grep '^bench='
  kill "$server"
  wait "$server" 2>/dev/null || true
}

run sqlite "" ""
[ -n "$sqlite_only" ] && exit 0
if pg_isready -q -d "$pg_base/postgres" && redis-cli -u "$redis" ping >/dev/null 2>&1; then
  psql -q "$pg_base/postgres" -c "DROP DATABASE IF EXISTS playpulse_bench" -c "CREATE DATABASE playpulse_bench"
  cleanup() {
    psql -q "$pg_base/postgres" -c "DROP DATABASE IF EXISTS playpulse_bench WITH (FORCE)"
    redis-cli -u "$redis" --scan --pattern "$PLAYPULSE_CACHE__PREFIX:*" | xargs -r -n 1000 redis-cli -u "$redis" del >/dev/null
  }
  trap cleanup EXIT
  run postgres_redis "$pg_base/playpulse_bench" "$redis"
else
  echo "backend=postgres_redis skipped: PostgreSQL or Redis unreachable"
fi
