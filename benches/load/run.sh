#!/usr/bin/env bash
# Load test of POST /predict with wrk (2 threads, 32 connections, loopback), profiling on
# and off and the prediction log on and off in the same run, with the server's CPU time
# per request and resident memory.
#
#   benches/load/run.sh [SECONDS]        (default 20; needs Debian's wrk)
#
# SEXTANT_BIN=path runs that binary instead of building target/release/sextant (to
# compare two builds in one session).
#
# Prints one line per configuration; copy them into benches/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-20}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
bin=${SEXTANT_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --bin sextant -q
  bin=target/release/sextant
fi
tick=$(getconf CLK_TCK)

run() {
  local label=$1; shift
  local port; port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  local dir; dir=$(mktemp -d)
  "$bin" serve --addr "127.0.0.1:$port" --data-dir "$dir" "$@" 2>/dev/null &
  local pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.1; done
  # Warm up, then measure.
  wrk -t2 -c32 -d2s -s benches/load/predict.lua "http://127.0.0.1:$port/predict" >/dev/null
  local rss0; rss0=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  local cpu0; cpu0=$(awk '{print $14 + $15}' /proc/$pid/stat)
  local out; out=$(wrk -t2 -c32 -d"${secs}s" --latency -s benches/load/predict.lua "http://127.0.0.1:$port/predict")
  local cpu1; cpu1=$(awk '{print $14 + $15}' /proc/$pid/stat)
  local rss1; rss1=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  kill -TERM $pid; wait $pid || true
  rm -rf "$dir"
  local reqs; reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  local rps; rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  local p50; p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  local p99; p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  local errors; errors=$(echo "$out" | awk '/Non-2xx/ {print $4}')
  local cpu_us; cpu_us=$(python3 -c "print(round(($cpu1 - $cpu0) / $tick / $reqs * 1e6, 1))")
  printf '%-16s req/s %-10s p50 %-8s p99 %-8s cpu/req %sus  rss %s->%s KiB  non-2xx %s\n' \
    "$label" "$rps" "$p50" "$p99" "$cpu_us" "$rss0" "$rss1" "${errors:-0}"
}

run "profiling on"
run "profiling off" --no-profiling
# The prediction log (SQLite) costs: both with profiling on, log on is the default.
run "log on"
run "log off" --no-prediction-log
