#!/usr/bin/env bash
# End-to-end ping-pong: portd's echo against sockperf's server as the reference peer, over TCP
# and UDP on 127.0.0.1. See docs/performance.md for what the figures mean.
#
# Both servers run pinned to one CPU and the client to another, and stay up for the whole run.
# The client is portd_pingpong (built with the benchmarks), not `sockperf ping-pong`: sockperf's
# client drops every reply that still carries its "from a client" flag, which an echo returns
# unchanged, so it cannot measure an echo server at all (the script shows this as a check).
# portd_pingpong sends sockperf's header, so sockperf's server answers it too, and the same
# client measures both sides.
#
# For each protocol, A (sockperf) and B (portd) runs alternate for --pairs pairs, the first of a
# pair switching every time so that a drift in the machine's speed does not favour one side.
# Reported: per side the median over pairs of the median round trip and of messages/s, and the
# median over pairs of the ratio portd/sockperf. Then system calls and context switches per
# request of each server process, from `perf stat -p` over two run lengths; the difference of
# the two cancels connection set-up and tear-down.
#
# Exits non-zero if any step fails to run; background processes are stopped on exit.

set -euo pipefail

usage() {
  cat <<EOF
usage: $0 [options]
  --build-dir DIR     build tree with daemon/portd and bench/portd_pingpong (default: ../build)
  --pairs N           A/B pairs per protocol, at least 5 (default: 5)
  --count N           timed requests per run (default: 20000)
  --warmup N          untimed requests before each run (default: 2000)
  --size N            message size in bytes, 14..65506 (default: 64)
  --syscall-runs A,B  request counts of the two perf stat runs (default: 10000,30000)
  --protocols LIST    tcp, udp or "tcp udp" (default: "tcp udp")
  --server-cpu N      CPU of both servers (default: 0)
  --client-cpu N      CPU of the client (default: 1)
EOF
}

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir="$script_dir/../build"
pairs=5
count=20000
warmup=2000
size=64
syscall_runs="10000,30000"
protocols="tcp udp"
server_cpu=0
client_cpu=1

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --pairs) pairs=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --syscall-runs) syscall_runs=$2; shift 2 ;;
    --protocols) protocols=$2; shift 2 ;;
    --server-cpu) server_cpu=$2; shift 2 ;;
    --client-cpu) client_cpu=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

die() {
  echo "echo_e2e: $*" >&2
  exit 1
}

[[ $pairs -ge 5 ]] || die "--pairs must be at least 5: fewer pairs make the median ratio noise"
IFS=, read -r syscall_short syscall_long <<<"$syscall_runs"
[[ $syscall_long -gt $syscall_short ]] || die "--syscall-runs: the second count must be larger"

portd=$build_dir/daemon/portd
pingpong=$build_dir/bench/portd_pingpong
[[ -x $portd ]] || die "$portd not found: build first (see docs/performance.md)"
[[ -x $pingpong ]] || die "$pingpong not found: build with PORTD_BUILD_BENCH=ON"
for tool in sockperf taskset perf awk; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done
for cpu in "$server_cpu" "$client_cpu"; do
  taskset -c "$cpu" true 2>/dev/null || die "CPU $cpu is not available to this process"
done

work=$(mktemp -d -t echo_e2e.XXXXXX)
pids=()

cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ $status -ne 0 ]]; then
    echo "echo_e2e: failed; logs kept in $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Runs the client once, pinned; prints its key=value line.
client() { # PROTOCOL PORT COUNT
  taskset -c "$client_cpu" "$pingpong" --protocol "$1" --port "$2" --count "$3" \
    --warmup "$warmup" --size "$size"
}

# Value of KEY in a key=value line.
field() { # LINE KEY
  tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"
}

# ---- portd: one worker, both listeners on port 0; the log line says which ports it got.
cat >"$work/portd.toml" <<EOF
[log]
level = "info"

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
taskset -c "$server_cpu" "$portd" serve -c "$work/portd.toml" --workers 1 >"$work/portd.log" 2>&1 &
portd_pid=$!
pids+=("$portd_pid")
for _ in $(seq 50); do
  grep -q "portd ready" "$work/portd.log" && break
  kill -0 "$portd_pid" 2>/dev/null || die "portd exited: $(cat "$work/portd.log")"
  sleep 0.1
done
grep -q "portd ready" "$work/portd.log" || die "portd did not become ready"
declare -A portd_port sockperf_port sockperf_pid
for proto in tcp udp; do
  portd_port[$proto]=$(sed -n \
    "s/.*listener \"e2e-$proto\": $proto echo on 127\.0\.0\.1:\([0-9]*\) (1 workers).*/\1/p" \
    "$work/portd.log")
  [[ -n ${portd_port[$proto]} ]] || die "no $proto port in the portd log: $(cat "$work/portd.log")"
done

# ---- sockperf server: it cannot take port 0, so try ports below the ephemeral range until one
# answers a short ping-pong (which also proves it is up).
start_sockperf() { # PROTOCOL
  local proto=$1 flag="" port pid
  [[ $proto == tcp ]] && flag=--tcp
  for _ in $(seq 20); do
    port=$((10000 + RANDOM % 22000))
    taskset -c "$server_cpu" sockperf server $flag -i 127.0.0.1 -p "$port" \
      >"$work/sockperf-$proto.log" 2>&1 &
    pid=$!
    for _ in $(seq 20); do
      kill -0 "$pid" 2>/dev/null || break
      if "$pingpong" --protocol "$proto" --port "$port" --count 10 --warmup 0 \
        --timeout-ms 200 >/dev/null 2>&1; then
        sockperf_port[$proto]=$port
        sockperf_pid[$proto]=$pid
        pids+=("$pid")
        return 0
      fi
      sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  die "could not start sockperf server ($proto): $(cat "$work/sockperf-$proto.log")"
}

# ---- Syscalls and context switches per request of one server process.
per_request_costs() { # PROTOCOL PORT PID -> "syscalls ctxsw"
  local proto=$1 port=$2 pid=$3 n s short_sys short_cs long_sys long_cs
  for n in "$syscall_short" "$syscall_long"; do
    perf stat -x, -e raw_syscalls:sys_enter,context-switches -p "$pid" -o "$work/perf.csv" \
      -- taskset -c "$client_cpu" "$pingpong" --protocol "$proto" --port "$port" --count "$n" \
      --warmup "$warmup" --size "$size" >/dev/null ||
      die "perf stat or the client failed ($proto, pid $pid)"
    s=$(awk -F, '$3 == "raw_syscalls:sys_enter" { sys = $1 } $3 == "context-switches" { cs = $1 }
                 END { print sys, cs }' "$work/perf.csv")
    if [[ $n == "$syscall_short" ]]; then
      read -r short_sys short_cs <<<"$s"
    else
      read -r long_sys long_cs <<<"$s"
    fi
  done
  [[ $short_sys =~ ^[0-9]+$ && $long_sys =~ ^[0-9]+$ ]] ||
    die "perf stat counted nothing: $(cat "$work/perf.csv")"
  awk -v a="$short_sys" -v b="$long_sys" -v c="$short_cs" -v d="$long_cs" \
    -v n="$((syscall_long - syscall_short))" \
    'BEGIN { printf "%.2f %.2f\n", (b - a) / n, (d - c) / n }'
}

median() { # values on stdin
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "nan"; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "echo_e2e: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, load average $load"
echo "echo_e2e: portd $("$portd" --version 2>/dev/null | awk '{ print $2 }') (pid $portd_pid)," \
  "servers on CPU $server_cpu, client on CPU $client_cpu, $size-byte messages," \
  "$pairs pairs x $count requests"

results=$work/results.txt # proto side pair p50 p99 msgs_per_s
: >"$results"
declare -A syscalls ctxsw calibration sockperf_vs_portd
for proto in $protocols; do
  start_sockperf "$proto"
  echo "echo_e2e: $proto: sockperf server on port ${sockperf_port[$proto]}," \
    "portd on port ${portd_port[$proto]}"

  for pair in $(seq "$pairs"); do
    order="sockperf portd"
    ((pair % 2 == 0)) && order="portd sockperf"
    for side in $order; do
      port=${portd_port[$proto]}
      [[ $side == sockperf ]] && port=${sockperf_port[$proto]}
      line=$(client "$proto" "$port" "$count") || die "$proto client against $side failed"
      echo "$proto $side $pair $(field "$line" rtt_p50_us) $(field "$line" rtt_p99_us)" \
        "$(field "$line" msgs_per_s)" >>"$results"
      echo "  $proto pair $pair $side: $line"
    done
  done

  # Assigned first: a failure inside $(...) must stop the script, and `read <<<` would hide it.
  costs=$(per_request_costs "$proto" "${sockperf_port[$proto]}" "${sockperf_pid[$proto]}")
  read -r "syscalls[$proto,sockperf]" "ctxsw[$proto,sockperf]" <<<"$costs"
  costs=$(per_request_costs "$proto" "${portd_port[$proto]}" "$portd_pid")
  read -r "syscalls[$proto,portd]" "ctxsw[$proto,portd]" <<<"$costs"

  # Calibration: sockperf's own client against its own server, to show that portd_pingpong
  # measures what sockperf measures. --full-rtt: sockperf reports half the round trip otherwise.
  flag=""
  [[ $proto == tcp ]] && flag=--tcp
  taskset -c "$client_cpu" sockperf ping-pong $flag -i 127.0.0.1 -p "${sockperf_port[$proto]}" \
    -m "$size" -t 2 --full-rtt >"$work/calibration-$proto.log" 2>&1 ||
    die "sockperf ping-pong failed: $(cat "$work/calibration-$proto.log")"
  p50=$(sed -n 's/.*percentile 50\.000 = *\([0-9.]*\).*/\1/p' "$work/calibration-$proto.log")
  valid='s/.*\[Valid Duration\] RunTime=\([0-9.]*\) sec;.*ReceivedMessages=\([0-9]*\).*/\2 \1/p'
  rate=$(sed -n "$valid" "$work/calibration-$proto.log" |
    awk '{ if ($2 > 0) printf "%.0f", $1 / $2 }')
  [[ -n $p50 && -n $rate ]] || die "could not read sockperf's output: $work/calibration-$proto.log"
  calibration[$proto]="p50 RTT $p50 us, $rate msgs/s"

  # The check behind the choice of client: sockperf's client does not count an echo's replies.
  taskset -c "$client_cpu" sockperf ping-pong $flag -i 127.0.0.1 -p "${portd_port[$proto]}" \
    -m "$size" -t 1 >"$work/sockperf-to-portd-$proto.log" 2>&1 || true
  if grep -q "No messages were received" "$work/sockperf-to-portd-$proto.log"; then
    sockperf_vs_portd[$proto]="no reply accepted (\"No messages were received from the server\")"
  else
    sockperf_vs_portd[$proto]="replies accepted: see $work/sockperf-to-portd-$proto.log"
  fi
done

kill -0 "$portd_pid" 2>/dev/null || die "portd died during the run: $(cat "$work/portd.log")"

# Median over pairs of column COLUMN of the results, for one protocol and side.
side_median() { # PROTOCOL SIDE COLUMN
  awk -v p="$1" -v s="$2" -v c="$3" '$1 == p && $2 == s { print $c }' "$results" | median
}

# Median over pairs of portd/sockperf for column COLUMN: each ratio compares two runs made one
# after the other, so slow drifts of the machine cancel.
pair_ratio() { # PROTOCOL COLUMN
  awk -v p="$1" -v c="$2" '$1 == p { v[$2 " " $3] = $c; pairs[$3] = 1 }
    END { for (i in pairs) print v["portd " i] / v["sockperf " i] }' "$results" | median
}

echo
printf '%-5s %-9s %12s %12s %12s %13s %10s\n' proto side "p50 RTT us" "p99 RTT us" "msgs/s" \
  "syscalls/req" "ctxsw/req"
for proto in $protocols; do
  for side in sockperf portd; do
    printf '%-5s %-9s %12s %12s %12.0f %13s %10s\n' "$proto" "$side" \
      "$(side_median "$proto" "$side" 4)" "$(side_median "$proto" "$side" 5)" \
      "$(side_median "$proto" "$side" 6)" "${syscalls[$proto,$side]}" "${ctxsw[$proto,$side]}"
  done
  printf '%-5s %-9s %12.3f %12.3f %12.3f   (median over pairs of portd/sockperf)\n' \
    "$proto" ratio "$(pair_ratio "$proto" 4)" "$(pair_ratio "$proto" 5)" "$(pair_ratio "$proto" 6)"
done
echo
for proto in $protocols; do
  echo "calibration, sockperf ping-pong -> sockperf server ($proto): ${calibration[$proto]}"
done
for proto in $protocols; do
  echo "check, sockperf ping-pong -> portd echo ($proto): ${sockperf_vs_portd[$proto]}"
done
