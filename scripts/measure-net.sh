#!/usr/bin/env bash
# Measures `whispernet net` at one size: the JSON summary (stable time,
# components, fit, propagation) plus the peak resident memory summed over
# the network's processes (main + workers) and the CPU they use once the
# overlay is idle. Used for docs/measurements.md.
#
#   scripts/measure-net.sh PEERS [extra net flags...]
set -euo pipefail
peers=${1:?usage: measure-net.sh PEERS [net flags]}
shift
bin=${WHISPERNET:-./whispernet}
dir=$(mktemp -d)
idle_from=${IDLE_FROM:-40}   # seconds after start when the idle CPU window begins
idle_len=${IDLE_LEN:-10}
duration=$((idle_from + idle_len + 2))

"$bin" net --peers "$peers" --log-dir "$dir" --http off --gossip-count 0 --messages 20 \
  --duration "${duration}s" --json "$@" >"$dir/summary.json" 2>"$dir/stderr.txt" &
main=$!

ticks() { # total utime+stime (clock ticks) of the net and its workers
  local t=0
  for p in $main $(pgrep -P "$main" || true); do
    v=$(awk '{print $14 + $15}' /proc/$p/stat 2>/dev/null); t=$((t + ${v:-0}))
  done
  echo $t
}
rss() { # summed resident KiB
  local r=0
  for p in $main $(pgrep -P "$main" || true); do
    v=$(awk '/^VmRSS/ {print $2}' /proc/$p/status 2>/dev/null); r=$((r + ${v:-0}))
  done
  echo $r
}

peak=0
start=$(date +%s)
cpu0=""
while kill -0 $main 2>/dev/null; do
  r=$(rss); [ "$r" -gt "$peak" ] && peak=$r
  now=$(( $(date +%s) - start ))
  if [ -z "$cpu0" ] && [ "$now" -ge "$idle_from" ]; then cpu0=$(ticks); t0=$(date +%s.%N); fi
  if [ -n "$cpu0" ] && [ -z "${cpu1:-}" ] && [ "$now" -ge $((idle_from + idle_len)) ]; then cpu1=$(ticks); t1=$(date +%s.%N); fi
  sleep 0.5
done
wait $main || true
hz=$(getconf CLK_TCK)
idle_cpu="n/a"
if [ -n "${cpu1:-}" ]; then
  idle_cpu=$(awk -v a="$cpu0" -v b="$cpu1" -v t0="$t0" -v t1="$t1" -v hz="$hz" 'BEGIN { printf "%.1f", 100 * (b - a) / hz / (t1 - t0) }')
fi
echo "peers=$peers peak_rss_mib=$((peak / 1024)) rss_per_peer_kib=$((peak / peers)) idle_cpu_percent_of_one_core=$idle_cpu"
tail -n 1 "$dir/summary.json"
rm -rf "$dir"
