#!/usr/bin/env bash
# The resp handler against redis-server 7 (persistence off), both on one worker/thread pinned
# to CPU 0, redis-benchmark pinned to CPU 1: PING_MBULK, SET, GET and INCR with 50
# connections, unpipelined (-P 1) and pipelined (-P 16), the two servers alternated ROUNDS
# times. Prints the median requests per second of each, their ratio, and each server's CPU
# time per request (its utime + stime from /proc/PID/stat over the run, divided by requests).
#
#   bench/resp_compare.sh [BUILD_DIR] [ROUNDS]      # defaults: build 3
#   REQUESTS_P1=300000 REQUESTS_P16=3000000 bench/resp_compare.sh
#   BUSY_POLL=50us bench/resp_compare.sh             # portd in latency mode ([server] busy_poll)
#   SERVER_SHARE=30 bench/resp_compare.sh            # each server held to 30% of one CPU
#
# On a machine with few CPUs redis-benchmark's one thread is the bottleneck at these rates, so
# the rates are what the client manages against each server. SERVER_SHARE gives both servers
# the same CPU budget (a cgroup quota, bench/lib.sh cpu_share) that makes each of them the
# bottleneck instead: the rates then compare what each server does with the same CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_init resp_compare "${1:-build}"
rounds=${2:-3}
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
requests_p1=${REQUESTS_P1:-300000}
requests_p16=${REQUESTS_P16:-3000000}
tests=(PING_MBULK SET GET INCR)
command -v redis-server >/dev/null || die "redis-server is not installed (.ci/setup)"
command -v redis-benchmark >/dev/null || die "redis-benchmark is not installed (.ci/setup)"

cat >"$work/portd.toml" <<TOML
[server]
workers = 1
busy_poll = "${BUSY_POLL:-0s}"
[[listener]]
name = "resp"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "resp"
TOML
start_portd resp "$server_cpu"
portd_port=$port
portd_pid=${bench_pids[-1]}

start_redis "$server_cpu"
if [[ -n ${SERVER_SHARE:-} ]]; then
  cpu_share "$portd_pid" "$SERVER_SHARE"
  cpu_share "$redis_pid" "$SERVER_SHARE"
fi

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run SERVER PORT PID PIPELINE TEST: appends "rps cpu_us_per_request" to $work/SERVER-P-TEST.
run() {
  local server=$1 port=$2 pid=$3 pipeline=$4 test=$5 n
  n=$([[ $pipeline == 1 ]] && echo "$requests_p1" || echo "$requests_p16")
  local before after rps
  before=$(cpu_ticks "$pid")
  rps=$(taskset -c "$client_cpu" redis-benchmark -p "$port" -c 50 -n "$n" -P "$pipeline" \
    -t "$test" --csv | awk -F'"' 'NR > 1 {print $4}')
  after=$(cpu_ticks "$pid")
  [[ -n $rps ]] || die "redis-benchmark gave no result for $server $test -P $pipeline"
  echo "$rps $(awk -v t=$((after - before)) -v hz="$ticks" -v n="$n" \
    'BEGIN {printf "%.3f", t / hz * 1e6 / n}')" >>"$work/$server-$pipeline-$test"
}

for round in $(seq "$rounds"); do
  for pipeline in 1 16; do
    for test in "${tests[@]}"; do
      # Alternate which server goes first, so that neither always meets a warmer machine.
      if ((round % 2)); then
        run portd "$portd_port" "$portd_pid" "$pipeline" "$test"
        run redis "$redis_port" "$redis_pid" "$pipeline" "$test"
      else
        run redis "$redis_port" "$redis_pid" "$pipeline" "$test"
        run portd "$portd_port" "$portd_pid" "$pipeline" "$test"
      fi
    done
  done
  echo "round $round of $rounds done" >&2
done

printf '%-4s %-11s %12s %12s %7s %14s %14s\n' "-P" test "portd req/s" "redis req/s" ratio \
  "portd us/req" "redis us/req"
for pipeline in 1 16; do
  for test in "${tests[@]}"; do
    p=$(cut -d' ' -f1 "$work/portd-$pipeline-$test" | median)
    r=$(cut -d' ' -f1 "$work/redis-$pipeline-$test" | median)
    pc=$(cut -d' ' -f2 "$work/portd-$pipeline-$test" | median)
    rc=$(cut -d' ' -f2 "$work/redis-$pipeline-$test" | median)
    printf '%-4s %-11s %12.0f %12.0f %6.2fx %14s %14s\n' "$pipeline" "$test" "$p" "$r" \
      "$(awk -v a="$p" -v b="$r" 'BEGIN {print a / b}')" "$pc" "$rc"
  done
done
