#!/usr/bin/env bash
# Does portd load measure what other tools measure? At low load, against the same portd http
# target: p50 of `portd load -c1` (closed model, one connection) beside wrk's (-t1 -c1), and
# p50 against /echo?delay=10ms, which must be 10 ms plus the round trip (within 0.5 ms).
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
start_portd web

p50_load() { # URL -> p50 in ms
  "$portd" load "$1" -c 1 -d "$duration" -q --json "$work/r.json" >/dev/null
  python3 -c 'import json,sys; print("%.3f" % (json.load(open(sys.argv[1]))["latency"]["corrected"]["p50_us"] / 1000))' "$work/r.json"
}
p50_wrk() { # URL -> p50 in ms
  wrk -t1 -c1 -d "$duration" --latency "$1" | awk '$1 == "50%" {
    v = $2; if (v ~ /us$/) { sub("us", "", v); v /= 1000 } else if (v ~ /ms$/) { sub("ms", "", v) }
    else if (v ~ /s$/) { sub("s", "", v); v *= 1000 } printf "%.3f\n", v }'
}

echo "load_agreement: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
  a=$(p50_load "http://127.0.0.1:$port/hello")
  b=$(p50_wrk "http://127.0.0.1:$port/hello")
  c=$(p50_load "http://127.0.0.1:$port/echo?delay=10ms")
  echo "  round $round: /hello p50 portd load $a ms, wrk $b ms (ratio $(python3 -c "print('%.2f' % ($a / $b))")); /echo?delay=10ms p50 portd load $c ms"
done
