#!/usr/bin/env bash
# What peers that keep their sockets full do to the other clients of the same worker: echo
# ping-pong round trips on one connection, alone and then while --flooders connections send to
# a listener of the same worker as fast as the kernel takes their bytes (portd_flood): a
# stream sink (the default: 64-byte messages, which cost the server more per byte than sending
# them costs the client, so its sockets stay full) or a discard listener.
#
# A worker reads four buffers from a connection per event, then puts the rest off so that the
# other connections of the batch get their turn; the deferred reads must also leave room for
# the events that arrive meanwhile (the ping-pong's) and for the loop's timers. The ping-pong's
# p99 and max under the flood show whether they do: a few ms of CPU contention on a small
# machine, where starvation shows as hundreds of ms and as few round trips in the time.
#
# Nothing is pinned by default (the flooders and the kernel's loopback work need CPUs of their
# own); --server-cpu pins the server. Exits non-zero if any step fails to run; the processes it
# starts are stopped at exit.

set -euo pipefail

usage() {
  cat <<EOF
usage: $0 [options]
  --build-dir DIR     build tree with daemon/portd and bench/portd_{flood,pingpong} (default: ../build)
  --flooders N        connections flooding the sink (default: 2)
  --sink H            stream (64-byte messages) or discard (default: stream)
  --seconds S         how long the flood lasts, whole seconds (default: 8)
  --count N           timed round trips, alone and under the flood (default: 1000)
  --server-cpu N      pin the server to this CPU (default: not pinned)
EOF
}

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir="$script_dir/../build"
flooders=2
sink=stream
seconds=8
count=1000
server_cpu=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --flooders) flooders=$2; shift 2 ;;
    --sink) sink=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --server-cpu) server_cpu=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

# shellcheck source=bench/lib.sh
source "$script_dir/lib.sh"
bench_init flood_fairness "$build_dir"
[[ $sink == stream || $sink == discard ]] || die "--sink is stream or discard"
flood_args=()
[[ $sink == stream ]] && flood_args=(--stream 64)
[[ $seconds =~ ^[0-9]+$ ]] && ((seconds >= 2)) || die "--seconds must be a whole number, at least 2"
flood=$build_dir/bench/portd_flood
pingpong=$build_dir/bench/portd_pingpong
[[ -x $flood && -x $pingpong ]] ||
  die "$flood or $pingpong not found: build with PORTD_BUILD_BENCH=ON"

cat >"$work/portd.toml" <<EOF
[server]
workers = 1

[[listener]]
name = "sink"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "$sink"

[[listener]]
name = "echo"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"
EOF
start_portd sink "$server_cpu"
sink_port=$port
echo_port=$(portd_port echo)
[[ -n $echo_port ]] || die "portd did not start: $(cat "$work/portd.log")"

ping() { # WARMUP -> one portd_pingpong line
  "$pingpong" --port "$echo_port" --count "$count" --warmup "$1" --size 64 --timeout-ms 30000 ||
    die "the ping-pong failed"
}

echo "flood_fairness: $(date -u +%Y-%m-%dT%H:%M:%SZ), load average" \
  "$(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs, one worker, $flooders flooders of a $sink sink for" \
  "${seconds}s, $count round trips"
echo "alone:       $(ping 200)"
bench_spawn "$flood" --port "$sink_port" -c "$flooders" -d "$seconds" "${flood_args[@]}"
flood_pid=${bench_pids[-1]}
sleep 0.5 # the flood under way
start=$SECONDS
line=$(ping 0) # every round trip timed: a starved worker shows from the first
took=$((SECONDS - start))
echo "under flood: $line"
wait "$flood_pid" || die "the flood failed"
((took < seconds)) ||
  echo "note: the ping-pong outlasted the flood, so part of it was measured without: its worker" \
    "was starved, or --count is too high for --seconds"
