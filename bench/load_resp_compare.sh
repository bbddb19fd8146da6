#!/usr/bin/env bash
# portd load against redis-benchmark, both generating load on the same redis-server 7
# (persistence off): the same command, connections and pipelining (`portd load --batch -p P`
# sends each connection's P requests together once all P are answered, as redis-benchmark's
# -P does). The server on one CPU, the generator on the other, A/B alternated ROUNDS times.
# Prints each run's requests/s, the medians and portd load's ratio.
#
#   bench/load_resp_compare.sh                  # SET and GET, -c 50, -P 16 and 1, 2M/300k requests, 3 rounds
#   bench/load_resp_compare.sh --rounds 5 --connections 50
#   bench/load_resp_compare.sh --busy-poll      # portd load polls without sleeping (docs/load.md)

set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir="$script_dir/../build"
rounds=3
connections=50
server_cpu=0
client_cpu=1
busy_poll=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --busy-poll) busy_poll=(--busy-poll); shift ;;
    -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "usage: see $0 --help" >&2; exit 2 ;;
  esac
done

source "$script_dir/lib.sh"
bench_init load_resp_compare "$build_dir"
command -v redis-server >/dev/null || die "redis-server is not installed (.ci/setup)"
command -v redis-benchmark >/dev/null || die "redis-benchmark is not installed (.ci/setup)"

start_redis "$server_cpu"
port=$redis_port
[[ $(ss -ltnH "sport = :$port" | wc -l) -eq 1 ]] || die "another process shares port $port"

rate_benchmark() { # TEST P N -> requests/s
  taskset -c "$client_cpu" redis-benchmark -p "$port" -t "$1" -P "$2" -c "$connections" -n "$3" \
    --csv | awk -F'"' 'NR > 1 && $4 != "" { printf "%.0f\n", $4 }' | tail -1
}
rate_load() { # TEST P N -> requests/s
  local test=${1,,}
  taskset -c "$client_cpu" "$portd" load "resp://127.0.0.1:$port" --mix "$test=1" --keys 1 \
    -c "$connections" -p "$2" --batch "${busy_poll[@]}" -n "$3" -q --json "$work/r.json" >/dev/null
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.0f" % r["achieved_rate"])' "$work/r.json"
}

echo "load_resp_compare: $(date -u +%Y-%m-%dT%H:%M:%SZ), redis-server $(redis-server --version | grep -o 'v=[0-9.]*'), server on CPU $server_cpu, generators on CPU $client_cpu, $connections connections${busy_poll:+, portd load --busy-poll}, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-4s %-4s %14s %16s %7s\n' "-P" test "portd load/s" "redis-bench/s" ratio
for spec in "16 2000000" "1 300000"; do
  read -r pipeline requests <<<"$spec"
  for test in SET GET; do
    a=""
    b=""
    for round in $(seq "$rounds"); do
      a+=" $(rate_load "$test" "$pipeline" "$requests")"
      b+=" $(rate_benchmark "$test" "$pipeline" "$requests")"
    done
    ma=$(echo "$a" | median)
    mb=$(echo "$b" | median)
    printf '%-4s %-4s %14s %16s %6.2fx   (runs:%s |%s)\n' "$pipeline" "$test" "$ma" "$mb" \
      "$(python3 -c "print($ma / $mb)")" "$a" "$b"
  done
done
