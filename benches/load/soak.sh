#!/usr/bin/env bash
# Resident memory across a long POST /predict run (default 10 minutes): is it flat?
#
#   benches/load/soak.sh [SECONDS] [CONNECTIONS]     (defaults 600 and 8; needs wrk)
#
# Samples the server's VmRSS every 10 s after a 30 s warm-up (/metrics is scraped every
# 10 s from the start, as Prometheus would) and prints every sample, then first, last,
# min, max and the spread relative to the first sample. The warm-up does not reach a
# steady state: the drift horizon fills for its first minute and the allocator's arenas
# grow for a few more (benches/RESULTS.md), so the first samples run low; read the
# spread over a long run. Uses 10 s windows and a 1-minute drift horizon so that many windows
# rotate, are stored and expire from the horizon during the run. SEXTANT_BIN=path runs
# that binary instead of building target/release/sextant.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-600}
conns=${2:-8}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
bin=${SEXTANT_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --bin sextant -q
  bin=target/release/sextant
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
"$bin" serve --addr "127.0.0.1:$port" --data-dir "$dir" \
  --window 10s --drift-horizon 1m 2>/dev/null &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.1; done
wrk -t1 -c"$conns" -d"$((secs + 30))s" -s benches/load/predict.lua "http://127.0.0.1:$port/predict" \
  > "$dir/wrk.txt" &
wrkpid=$!
# Warm-up, scraped as Prometheus would from the start: the first scrape registers the
# per-feature series and merges the first horizon, memory the server then keeps.
for _ in 1 2 3; do
  sleep 10
  curl -sf "http://127.0.0.1:$port/metrics" >/dev/null
done
samples=()
for ((t = 0; t <= secs; t += 10)); do
  rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  samples+=("$rss")
  # A scrape, as Prometheus would do, so the collectors run during the soak too.
  curl -sf "http://127.0.0.1:$port/metrics" >/dev/null
  echo "t=${t}s rss=${rss} KiB"
  sleep 10
done
wait $wrkpid || true
grep -E "requests in|Requests/sec" "$dir/wrk.txt"
printf '%s\n' "${samples[@]}" | python3 -c '
import sys
xs = [int(x) for x in sys.stdin.read().split()]
first, last, lo, hi = xs[0], xs[-1], min(xs), max(xs)
print(f"rss KiB: first {first} last {last} min {lo} max {hi}; max-min = {100 * (hi - lo) / first:.1f} % of first; last vs first {100 * (last - first) / first:+.1f} %")
'
