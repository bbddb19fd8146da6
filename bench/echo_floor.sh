#!/usr/bin/env bash
# How far an event loop's echo can get towards sockperf's server, and where portd stands.
#
# sockperf ping-pong (64 B, one message in flight) against four servers pinned to one CPU, the
# client on the other, in turns for --rounds rounds (the order rotating each round):
#   sockperf     sockperf's own server: one socket, blocked in recvfrom (2 calls a round trip)
#   epoll floor  bench/echo_floor.cc --wait epoll: epoll_wait, then read and send, nothing else
#   uring floor  bench/echo_floor.cc --wait uring: io_uring multishot receives, so that the
#                wake-up brings the bytes as recvfrom's does
#   portd        one worker, the stream handler in sockperf mode, default settings
# Prints the median p50 round trip of each (µs) and the ratios to sockperf's server. The two
# floors say what any server that waits for readiness on many descriptors pays here, and what
# io_uring's receive would win back; portd against the epoll floor is portd's own cost.
#
#   bench/echo_floor.sh [--build-dir DIR] [--rounds N] [--duration S] [--protocols udp,tcp]
#                       [--no-install]
# Every process it starts is stopped by its pid; loopback only, free ports.

set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir="$script_dir/../build"
rounds=5
duration=3
protocols="udp,tcp"
install=1
server_cpu=1
client_cpu=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) build_dir=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --protocols) protocols=$2; shift 2 ;;
    --no-install) install=""; shift ;;
    *) echo "usage: $0 [--build-dir DIR] [--rounds N] [--duration S] [--protocols udp,tcp] [--no-install]" >&2
       exit 2 ;;
  esac
done
[[ $rounds =~ ^[1-9][0-9]*$ && $duration =~ ^[1-9][0-9]*$ ]] || {
  echo "echo_floor: --rounds and --duration take whole numbers above 0" >&2
  exit 2
}

source "$script_dir/lib.sh"
[[ -n $install ]] && bench_install sockperf
bench_init echo_floor "$build_dir"
floor=$build_dir/bench/portd_echo_floor
[[ -x $floor ]] || die "$floor not found: build the benchmarks first"
(($(nproc) >= 2)) || die "needs two CPUs: the servers on one, the client on the other"

# start_floor PROTO WAIT: sets $floor_port (empty when it could not start: io_uring refused).
start_floor() {
  local out="$work/floor-$1-$2.out"
  bench_spawn taskset -c "$server_cpu" "$floor" --protocol "$1" --wait "$2" >"$out" 2>&1
  floor_pid=${bench_pids[-1]}
  floor_port=""
  if wait_until 10 grep -q "^port " "$out"; then
    floor_port=$(sed -n 's/^port //p' "$out")
  else
    echo "echo_floor: the $2 floor did not start ($1): $(cat "$out")" >&2
    bench_stop "$floor_pid"
  fi
}

p50() { # PROTO PORT: the median round trip in µs
  local flag=()
  [[ $1 == tcp ]] && flag=(--tcp)
  taskset -c "$client_cpu" sockperf ping-pong "${flag[@]}" -i 127.0.0.1 -p "$2" -m 64 \
    -t "$duration" --full-rtt >"$work/client.out" 2>&1 || die "sockperf failed: $(cat "$work/client.out")"
  sed -n 's/.*percentile 50\.000 = *\([0-9.]*\).*/\1/p' "$work/client.out"
}

ratio() { # A B: A/B, or - when either is missing
  if [[ $1 == - || $2 == - ]]; then
    echo -
  else
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'
  fi
}

names=(sockperf "epoll floor" "uring floor" portd)
echo "echo_floor: $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg), $rounds" \
  "round(s) of $duration s, servers on CPU $server_cpu, client on CPU $client_cpu" >&2
echo "| protocol | sockperf µs | epoll floor µs | uring floor µs | portd µs | epoll floor / sockperf | uring floor / sockperf | portd / sockperf | portd / epoll floor |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for proto in ${protocols//,/ }; do
  [[ $proto == udp || $proto == tcp ]] || die "unknown protocol $proto"
  pids=()
  start_sockperf "$proto" "$server_cpu"
  ports=("$sockperf_port")
  pids+=("$sockperf_pid")
  start_floor "$proto" epoll
  ports+=("$floor_port")
  pids+=("$floor_pid")
  start_floor "$proto" uring
  ports+=("$floor_port")
  pids+=("$floor_pid")
  cat >"$work/portd.toml" <<EOF_TOML
[server]
workers = 1
[[listener]]
name = "main"
protocol = "$proto"
address = "127.0.0.1:0"
handler = "stream"
[listener.options]
mode = "sockperf"
EOF_TOML
  start_portd main "$server_cpu"
  ports+=("$port")
  pids+=("$portd_pid")
  declare -A got=()
  for ((r = 0; r < rounds; r++)); do
    line="  $proto round $((r + 1)):"
    for ((k = 0; k < 4; k++)); do
      i=$(((r + k) % 4))
      [[ -n ${ports[$i]} ]] || continue
      v=$(p50 "$proto" "${ports[$i]}")
      got[$i]="${got[$i]:-} $v"
      line+=" ${names[$i]} $v"
    done
    echo "$line" >&2
  done
  med=()
  for i in 0 1 2 3; do
    if [[ -n ${got[$i]:-} ]]; then
      med+=("$(median <<<"${got[$i]}")")
    else
      med+=("-")
    fi
  done
  echo "| $proto | ${med[0]} | ${med[1]} | ${med[2]} | ${med[3]} | $(ratio "${med[1]}" "${med[0]}") |" \
    "$(ratio "${med[2]}" "${med[0]}") | $(ratio "${med[3]}" "${med[0]}") | $(ratio "${med[3]}" "${med[1]}") |"
  for p in "${pids[@]}"; do
    bench_stop "$p"
  done
  unset got
done
