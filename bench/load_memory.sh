#!/usr/bin/env bash
# portd load's memory does not grow with the number of requests: an open-model run at a fixed
# rate against portd's UDP echo, RSS sampled once a second; prints RSS after the first second
# and at the end, and their difference. The claim (docs/load.md): under 1 MiB of growth.
#
#   bench/load_memory.sh                        # 60 s at 50,000/s
#   bench/load_memory.sh --duration 10m --rate 50000 --scheme tcp

set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir="$script_dir/../build"
duration=60s
rate=50000
scheme=udp

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --scheme) scheme=$2; shift 2 ;;
    -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "usage: see $0 --help" >&2; exit 2 ;;
  esac
done

source "$script_dir/lib.sh"
bench_init load_memory "$build_dir"

cat >"$work/portd.toml" <<EOF_TOML
[server]
workers = 1
[[listener]]
name = "echo"
protocol = "$scheme"
address = "127.0.0.1:0"
handler = "echo"
EOF_TOML
start_portd echo

"$portd" load "$scheme://127.0.0.1:$port" --rate "$rate" -d "$duration" -q --json "$work/r.json" \
  --log "$work/r.hlog" >"$work/summary.txt" &
load=$!
bench_pids+=($load)
first="" last=""
second=0
while kill -0 "$load" 2>/dev/null; do
  rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$load/status" 2>/dev/null || true)
  [[ -n $rss ]] && last=$rss
  if [[ $second -eq 2 && -n $rss ]]; then
    first=$rss # one second into the run (it starts 20 ms after launch)
  fi
  second=$((second + 1))
  sleep 1
done
wait "$load" || die "portd load failed: $(cat "$work/summary.txt")"
sed -n '1,6p' "$work/summary.txt"
echo "load_memory: RSS after the first second ${first} KiB, at the end ${last} KiB, growth $((last - first)) KiB"
