#!/usr/bin/env bash
# portd load against the well-known generators, on the same target, one thread each.
#
# Closed model, keep-alive: `portd load -t1`, `wrk -t1` and `h2load -t1 --h1` (when installed)
# against the same portd http listener (and nginx's, when nginx is installed), A/B
# alternated ROUNDS times, the server pinned to one CPU and the generators to another. Prints
# each run's requests/s and the medians with portd load's ratio to each peer.
#
#   bench/load_compare.sh                       # 5 s runs, 3 rounds, 32 connections
#   bench/load_compare.sh --duration 10s --rounds 5 --connections 64 --pipeline 1

set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir="$script_dir/../build"
duration=5s
rounds=3
connections=32
server_cpu=0
client_cpu=1

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --server-cpu) server_cpu=$2; shift 2 ;;
    --client-cpu) client_cpu=$2; shift 2 ;;
    -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "usage: see $0 --help" >&2; exit 2 ;;
  esac
done

source "$script_dir/lib.sh"
bench_init load_compare "$build_dir"

command -v wrk >/dev/null || die "wrk is not installed"

# The portd target: one worker, a fixed 13-byte route.
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
start_portd web "$server_cpu"
targets=("portd http://127.0.0.1:$port/hello")

if command -v nginx >/dev/null; then
  start_nginx "$server_cpu"
  targets+=("nginx http://127.0.0.1:$nginx_port/hello")
fi

run() { # TOOL URL -> requests/s
  local tool=$1 url=$2
  case $tool in
    portd-load)
      taskset -c "$client_cpu" "$portd" load "$url" -t 1 -c "$connections" -d "$duration" -q \
        --json "$work/r.json" >/dev/null
      python3 -c 'import json,sys; print("%.0f" % json.load(open(sys.argv[1]))["achieved_rate"])' "$work/r.json"
      ;;
    wrk)
      taskset -c "$client_cpu" wrk -t1 -c "$connections" -d "$duration" "$url" \
        | awk '/^Requests\/sec:/ { printf "%.0f\n", $2 }'
      ;;
    h2load)
      local secs=${duration%s}
      taskset -c "$client_cpu" h2load --h1 -t1 -c "$connections" -D "$secs" "$url" 2>/dev/null \
        | awk '/^finished in/ { gsub(",", "", $4); printf "%.0f\n", $4 }'
      ;;
  esac
}

tools=(portd-load wrk)
command -v h2load >/dev/null && tools+=(h2load)
echo "load_compare: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "load_compare: server on CPU $server_cpu, generators on CPU $client_cpu, 1 thread, $connections connections, $duration, $rounds rounds"
declare -A results
for target in "${targets[@]}"; do
  name=${target%% *}
  url=${target#* }
  for round in $(seq "$rounds"); do
    for tool in "${tools[@]}"; do
      rps=$(run "$tool" "$url")
      [[ -n $rps ]] || die "$tool against $name gave no figure"
      echo "  $name round $round: $tool $rps requests/s"
      results[$name,$tool]+="$rps "
    done
  done
done
for target in "${targets[@]}"; do
  name=${target%% *}
  mine=$(echo "${results[$name,portd-load]}" | median)
  line="load_compare: $name: portd load $mine/s"
  for tool in "${tools[@]:1}"; do
    other=$(echo "${results[$name,$tool]}" | median)
    line+=", $tool $other/s (ratio $(python3 -c "print('%.2f' % ($mine / $other))"))"
  done
  echo "$line"
done
