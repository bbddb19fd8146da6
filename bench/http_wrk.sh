#!/usr/bin/env bash
# HTTP/1.1 throughput of portd's http handler, measured with wrk against a fixed route.
#
# Starts portd with one http listener on 127.0.0.1 port 0 (the port is read from its log),
# checks the route answers, runs wrk for the given time with keep-alive connections, prints
# wrk's report and then one line with requests per second, and stops portd. Exits non-zero if a
# step fails or wrk reports socket errors or non-2xx responses.
#
#   bench/http_wrk.sh                          # 10 s, 2 wrk threads, 50 connections
#   bench/http_wrk.sh --duration 30s --connections 200 --workers 2

set -euo pipefail

usage() {
  cat <<EOF_USAGE
usage: $0 [options]
  --build-dir DIR     build tree with daemon/portd (default: ../build)
  --duration T        wrk's run time, e.g. 10s (default: 10s)
  --threads N         wrk threads (default: 2)
  --connections N     open connections (default: 50)
  --workers N         portd worker threads (default: 1)
  --body-size N       bytes in the route's response body (default: 13, "hello, world\\n")
  --server-cpus LIST  pin portd with taskset, e.g. 0 (default: no pinning)
  --client-cpus LIST  pin wrk with taskset, e.g. 1 (default: no pinning)
EOF_USAGE
}

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir="$script_dir/../build"
duration=10s
threads=2
connections=50
workers=1
body_size=13
server_cpus=""
client_cpus=""

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --body-size) body_size=$2; shift 2 ;;
    --server-cpus) server_cpus=$2; shift 2 ;;
    --client-cpus) client_cpus=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

die() {
  echo "http_wrk: $*" >&2
  exit 1
}

portd=$build_dir/daemon/portd
[[ -x $portd ]] || die "$portd not found: build first (cmake --build build)"
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
[[ $connections -ge $threads ]] || die "--connections must be at least --threads"

pin() { # CPUS COMMAND...: runs COMMAND pinned to CPUS, or as is when CPUS is empty
  local cpus=$1
  shift
  if [[ -n $cpus ]]; then
    taskset -c "$cpus" "$@"
  else
    "$@"
  fi
}

work=$(mktemp -d -t http_wrk.XXXXXX)
portd_pid=""

cleanup() {
  local status=$?
  if [[ -n $portd_pid ]]; then
    kill -TERM "$portd_pid" 2>/dev/null || true
    wait "$portd_pid" 2>/dev/null || true
  fi
  if [[ $status -ne 0 ]]; then
    echo "http_wrk: failed; files kept in $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The route's body: body_size bytes of printable text ending in a newline.
if [[ $body_size -eq 13 ]]; then
  printf 'hello, world\n' >"$work/body.txt"
else
  head -c "$body_size" /dev/zero | tr '\0' 'x' >"$work/body.txt"
fi

cat >"$work/portd.toml" <<EOF_TOML
[server]
workers = $workers

[log]
level = "info"

[[listener]]
name = "wrk"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "http"
max_connections = 100000

[[listener.options.route]]
path = "/hello"
body_file = "body.txt"
EOF_TOML

pin "$server_cpus" "$portd" serve -c "$work/portd.toml" >"$work/portd.log" 2>&1 &
portd_pid=$!
for _ in $(seq 100); do
  grep -q "portd ready" "$work/portd.log" && break
  kill -0 "$portd_pid" 2>/dev/null || die "portd exited: $(cat "$work/portd.log")"
  sleep 0.05
done
grep -q "portd ready" "$work/portd.log" || die "portd did not become ready: $(cat "$work/portd.log")"
port=$(sed -n 's/.*listener "wrk": tcp http on 127\.0\.0\.1:\([0-9]*\) (.*/\1/p' "$work/portd.log")
[[ -n $port ]] || die "no port in the portd log: $(cat "$work/portd.log")"
url="http://127.0.0.1:$port/hello"

if command -v curl >/dev/null; then
  code=$(curl -s -o /dev/null -w '%{http_code}' "$url") || die "curl could not reach $url"
  [[ $code == 200 ]] || die "$url answered $code"
fi

echo "http_wrk: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "http_wrk: portd $("$portd" --version | awk '{ print $2 }'), $workers worker(s)${server_cpus:+ on CPUs $server_cpus};" \
  "wrk $threads threads, $connections connections, $duration${client_cpus:+, on CPUs $client_cpus};" \
  "GET $url ($body_size-byte body)"
pin "$client_cpus" wrk --latency -t "$threads" -c "$connections" -d "$duration" "$url" \
  | tee "$work/wrk.txt"

kill -0 "$portd_pid" 2>/dev/null || die "portd died during the run: $(cat "$work/portd.log")"
grep -q "Socket errors" "$work/wrk.txt" && die "wrk reported socket errors"
grep -q "Non-2xx" "$work/wrk.txt" && die "wrk reported non-2xx responses"
rps=$(awk '/^Requests\/sec:/ { print $2 }' "$work/wrk.txt")
[[ -n $rps ]] || die "no Requests/sec in wrk's output"
echo "http_wrk: requests/s: $rps"
