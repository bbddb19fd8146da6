#!/usr/bin/env bash
# The dns handler against Knot DNS (knotd) and NSD on the same zone, one worker each.
#
# Each server runs pinned to one CPU and answers dnsperf, pinned to another, over UDP on
# loopback, with a query file of mixed names (answers, CNAME, NODATA, NXDOMAIN, REFUSED, MX,
# TXT, AAAA). The servers are alternated ROUNDS times; each run prints its queries per second,
# then the medians. Last, one more run against portd under `perf stat -e raw_syscalls:sys_enter`
# gives its system calls per query (recvmmsg and sendmmsg batches make it less than one).
#
#   bench/dns_compare.sh                        # 10 s runs, 3 rounds
#   bench/dns_compare.sh --duration 20 --rounds 5 --clients 20

set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir="$script_dir/../build"
duration=10
rounds=3
clients=10
outstanding=200
server_cpu=0
client_cpu=1

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --outstanding) outstanding=$2; shift 2 ;;
    --server-cpu) server_cpu=$2; shift 2 ;;
    --client-cpu) client_cpu=$2; shift 2 ;;
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "usage: see $0 --help" >&2; exit 2 ;;
  esac
done

# What the comparison needs, from Debian's packages, first.
source "$script_dir/lib.sh"
bench_install dnsperf knot nsd linux-perf bind9-dnsutils
bench_init dns_compare "$build_dir"

dns_zone

# portd: one worker, UDP and TCP on one port.
pport=$(free_port)
{
  echo "[server]"
  echo "workers = 1"
  for proto in udp tcp; do
    printf '[[listener]]\nname = "dns-%s"\nprotocol = "%s"\naddress = "127.0.0.1:%s"\n' \
      "$proto" "$proto" "$pport"
    printf 'handler = "dns"\n[listener.options]\nzone_file = "example.zone"\n'
  done
} >"$work/portd.toml"
start_portd dns-udp "$server_cpu"
portd_pid=${bench_pids[-1]}

# Knot DNS (one UDP worker) and NSD (one server process), on free ports; each answers first.
start_knot "$server_cpu"
kport=$knot_port
start_nsd "$server_cpu"
nport=$nsd_port
wait_dns "$pport"

# One dnsperf run; prints QPS and remembers the whole output.
run() {
  local port=$1
  taskset -c "$client_cpu" dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries" -l "$duration" \
    -c "$clients" -q "$outstanding" -T 1 >"$work/last" 2>&1
  local lost
  lost=$(sed -n 's/.*Queries lost: *\([0-9]*\).*/\1/p' "$work/last")
  [[ ${lost:-1} -lt 1000 ]] || echo "  (lost $lost queries)" >&2
  sed -n 's/.*Queries per second: *\([0-9.]*\).*/\1/p' "$work/last"
}

declare -A results
names=(portd knot nsd)
declare -A ports=([portd]=$pport [knot]=$kport [nsd]=$nport)
for r in $(seq "$rounds"); do
  # Alternate the order between rounds, so that no server always runs first.
  order=("${names[@]}")
  if ((r % 2 == 0)); then order=(nsd knot portd); fi
  for n in "${order[@]}"; do
    q=$(run "${ports[$n]}")
    printf 'round %d  %-6s %12.0f qps\n' "$r" "$n" "$q"
    results[$n]+="$q "
  done
done

echo
for n in "${names[@]}"; do
  printf 'median %-6s %12.0f qps\n' "$n" "$(echo "${results[$n]}" | median)"
done
mp=$(echo "${results[portd]}" | median)
printf 'portd/knot %.2f  portd/nsd %.2f\n' \
  "$(echo "$mp / $(echo "${results[knot]}" | median)" | bc -l)" \
  "$(echo "$mp / $(echo "${results[nsd]}" | median)" | bc -l)"

# System calls per query for portd under the same load.
perf stat -e raw_syscalls:sys_enter -p "$portd_pid" -o "$work/perf" -- sleep "$duration" &
perf_pid=$!
run "$pport" >/dev/null
wait "$perf_pid"
calls=$(awk '/raw_syscalls:sys_enter/ {gsub(",", "", $1); print $1}' "$work/perf")
completed=$(sed -n 's/.*Queries completed: *\([0-9]*\).*/\1/p' "$work/last")
printf 'portd: %s system calls for %s queries: %.3f per query\n' "$calls" "$completed" \
  "$(echo "$calls / $completed" | bc -l)"
