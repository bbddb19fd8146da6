#!/usr/bin/env bash
# What latency mode ([server] busy_poll) does to echo ping-pong: round-trip p50 and p99, and
# the CPU the server uses, with busy_poll off and on, over TCP and UDP on 127.0.0.1.
#
# Two portd processes run side by side (one worker each, pinned to the same CPU, the client to
# another): one with busy_poll off, one with it on. Runs alternate for --pairs pairs, the first
# of a pair switching every time. CPU use is the server's utime + stime (/proc/PID/stat) over
# the run divided by its wall time: 100% means one CPU kept busy. A last line shows the CPU use
# of each server over one idle second, which must stay near 0 either way: the worker polls
# only for busy_poll after I/O, never while nothing arrives.
#
# Exits non-zero if any step fails to run; the processes it starts are stopped at exit.

set -euo pipefail

usage() {
  cat <<EOF
usage: $0 [options]
  --build-dir DIR     build tree with daemon/portd and bench/portd_pingpong (default: ../build)
  --busy-poll D       the value tried (default: 50us)
  --pairs N           A/B pairs per protocol, at least 5 (default: 5)
  --count N           timed requests per run (default: 20000)
  --size N            message size in bytes (default: 64)
  --server-cpu N      CPU of both servers (default: 1)
  --client-cpu N      CPU of the client (default: 0)
EOF
}

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir="$script_dir/../build"
busy=50us
pairs=5
count=20000
size=64
server_cpu=1
client_cpu=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --busy-poll) busy=$2; shift 2 ;;
    --pairs) pairs=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --server-cpu) server_cpu=$2; shift 2 ;;
    --client-cpu) client_cpu=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

# shellcheck source=bench/lib.sh
source "$script_dir/lib.sh"
bench_init busy_poll "$build_dir"
[[ $pairs -ge 5 ]] || die "--pairs must be at least 5"
pingpong=$build_dir/bench/portd_pingpong
[[ -x $pingpong ]] || die "$pingpong not found: build with PORTD_BUILD_BENCH=ON"

# Starts one portd with busy_poll = $2; sets pid[$1], tcp_port[$1], udp_port[$1].
declare -A pid tcp_port udp_port
start_side() { # SIDE BUSY_POLL
  cat >"$work/portd.toml" <<EOF
[server]
workers = 1
busy_poll = "$2"

[[listener]]
name = "e2e-tcp"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "echo"

[[listener]]
name = "e2e-udp"
protocol = "udp"
address = "127.0.0.1:0"
handler = "echo"
EOF
  start_portd e2e-tcp "$server_cpu"
  tcp_port[$1]=$port
  pid[$1]=${bench_pids[-1]}  # taskset execs portd: the same process
  udp_port[$1]=$(sed -n 's/.*listener "e2e-udp": udp echo on 127\.0\.0\.1:\([0-9]*\) (.*/\1/p' \
    "$work/portd.log")
  [[ -n ${udp_port[$1]} && -n ${pid[$1]} ]] || die "portd ($1) did not start"
  mv "$work/portd.log" "$work/portd-$1.log"
}
start_side off 0s
start_side on "$busy"

cpu_ticks() { # PID -> utime + stime in clock ticks
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}
hz=$(getconf CLK_TCK)

field() { # LINE KEY
  tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"
}

median() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
                                      else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "busy_poll: $(date -u +%Y-%m-%dT%H:%M:%SZ), load average $(cut -d' ' -f1-3 /proc/loadavg)," \
  "busy_poll = \"$busy\", $pairs pairs x $count requests of $size bytes"
results=$work/results.txt # proto side p50 p99 cpu%
: >"$results"
for proto in tcp udp; do
  for pair in $(seq "$pairs"); do
    order="off on"
    ((pair % 2 == 0)) && order="on off"
    for side in $order; do
      if [[ $proto == tcp ]]; then p=${tcp_port[$side]}; else p=${udp_port[$side]}; fi
      t0=$(date +%s%N)
      c0=$(cpu_ticks "${pid[$side]}")
      line=$(taskset -c "$client_cpu" "$pingpong" --protocol "$proto" --port "$p" \
        --count "$count" --warmup 2000 --size "$size") || die "client failed ($proto, $side)"
      c1=$(cpu_ticks "${pid[$side]}")
      t1=$(date +%s%N)
      cpu=$(awk -v c="$((c1 - c0))" -v hz="$hz" -v ns="$((t1 - t0))" \
        'BEGIN { printf "%.0f", 100 * c / hz / (ns / 1e9) }')
      echo "$proto $side $(field "$line" rtt_p50_us) $(field "$line" rtt_p99_us) $cpu" \
        >>"$results"
      echo "  $proto pair $pair busy_poll $side: $line cpu=$cpu%"
    done
  done
done

echo
echo "| protocol | busy_poll | p50 µs | p99 µs | server CPU |"
echo "|---|---|---|---|---|"
for proto in tcp udp; do
  for side in off on; do
    col() { awk -v p="$proto" -v s="$side" -v c="$1" '$1 == p && $2 == s { print $c }' \
      "$results" | median; }
    label=off
    [[ $side == on ]] && label=$busy
    echo "| $proto | $label | $(col 3) | $(col 4) | $(col 5)% |"
  done
done

# Idle: nothing arrives for a second; neither server may spin.
c_off=$(cpu_ticks "${pid[off]}")
c_on=$(cpu_ticks "${pid[on]}")
sleep 1
echo
echo "idle second: server CPU $(( ($(cpu_ticks "${pid[off]}") - c_off) * 100 / hz ))% (off)," \
  "$(( ($(cpu_ticks "${pid[on]}") - c_on) * 100 / hz ))% ($busy)"
