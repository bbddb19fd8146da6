#!/usr/bin/env bash
# Does portd load measure what other tools measure? At low load, against the same portd http
# target: p50 of `portd load -c1` (closed model, one connection) beside wrk's (-t1 -c1), and
# p50 against /echo?delay=10ms, which must be 10 ms plus the round trip (within 0.5 ms); and
# against sockperf's own server over UDP and TCP, p50 of `portd load --format sockperf -c1`
# beside `sockperf ping-pong --full-rtt` (both one message in flight). Servers on CPU 0,
# clients on CPU 1.
#
#   bench/load_agreement.sh                    # 5 s each, 3 rounds

set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir="$script_dir/../build"
duration=5s
rounds=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    -h | --help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "usage: see $0 --help" >&2; exit 2 ;;
  esac
done

source "$script_dir/lib.sh"
bench_init load_agreement "$build_dir"
command -v wrk >/dev/null || die "wrk is not installed"
command -v sockperf >/dev/null || die "sockperf is not installed"

printf 'hello, world\n' >"$work/body.txt"
cat >"$work/portd.toml" <<EOF_TOML
[server]
workers = 1
[[listener]]
name = "web"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "http"
[[listener.options.route]]
path = "/hello"
body_file = "body.txt"
EOF_TOML
start_portd web 0

# sockperf's servers: UDP on one socket; TCP multiplexed only with a feed file and -F.
sp_udp=$(free_port)
sp_tcp=$(free_port)
echo "T:127.0.0.1:$sp_tcp" >"$work/feed"
bench_spawn taskset -c 0 sockperf server -i 127.0.0.1 -p "$sp_udp" >"$work/sp_udp.log" 2>&1
bench_spawn taskset -c 0 sockperf server -f "$work/feed" -F epoll >"$work/sp_tcp.log" 2>&1
sleep 0.5

p50_load() { # URL [OPTIONS...] -> p50 in ms
  local url=$1
  shift
  taskset -c 1 "$portd" load "$url" "$@" -c 1 -d "$duration" -q --json "$work/r.json" >/dev/null
  python3 -c 'import json,sys; print("%.3f" % (json.load(open(sys.argv[1]))["latency"]["corrected"]["p50_us"] / 1000))' "$work/r.json"
}
p50_wrk() { # URL -> p50 in ms
  taskset -c 1 wrk -t1 -c1 -d "$duration" --latency "$1" | awk '$1 == "50%" {
    v = $2; if (v ~ /us$/) { sub("us", "", v); v /= 1000 } else if (v ~ /ms$/) { sub("ms", "", v) }
    else if (v ~ /s$/) { sub("s", "", v); v *= 1000 } printf "%.3f\n", v }'
}

p50_sockperf() { # udp|tcp PORT -> p50 in ms (full round trip)
  local flag=()
  [[ $1 == tcp ]] && flag=(--tcp)
  taskset -c 1 sockperf ping-pong "${flag[@]}" -i 127.0.0.1 -p "$2" -t "${duration%s}" -m 64 \
    --full-rtt 2>&1 | awk '/percentile 50.000/ { printf "%.3f\n", $NF / 1000 }'
}
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }

echo "load_agreement: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
  a=$(p50_load "http://127.0.0.1:$port/hello")
  b=$(p50_wrk "http://127.0.0.1:$port/hello")
  c=$(p50_load "http://127.0.0.1:$port/echo?delay=10ms")
  echo "  round $round: /hello p50 portd load $a ms, wrk $b ms (ratio $(ratio "$a" "$b")); /echo?delay=10ms p50 portd load $c ms"
  for proto in udp tcp; do
    [[ $proto == udp ]] && sp_port=$sp_udp || sp_port=$sp_tcp
    d=$(p50_load "$proto://127.0.0.1:$sp_port" --format sockperf)
    e=$(p50_sockperf "$proto" "$sp_port")
    echo "           $proto echo p50 portd load $d ms, sockperf ping-pong $e ms (ratio $(ratio "$d" "$e"))"
  done
done
