#!/usr/bin/env bash
# Resident memory per idle TCP connection, by handler: portd (one worker) is started fresh for
# each handler, N connections each make one exchange (echo: a byte echoed back; http: one GET
# answered in whole) and then stay open and idle; the figure is the RSS growth divided by N.
# The echo handler is served through the C handler ABI's adapter, as a plugin is.
#
#   bench/idle_memory.sh [--build-dir DIR] [--connections N]
#
# Exits non-zero if any step fails to run; the processes it starts are stopped at exit.

set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir="$script_dir/../build"
connections=9000
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--build-dir DIR] [--connections N]" >&2; exit 2 ;;
  esac
done

# shellcheck source=bench/lib.sh
source "$script_dir/lib.sh"
bench_init idle_memory "$build_dir"
[[ $(ulimit -Hn) -gt $((connections + 100)) ]] || die "the hard descriptor limit is below $connections"
ulimit -n "$(ulimit -Hn)"

rss() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"; }

echo "idle_memory: $(date -u +%Y-%m-%dT%H:%M:%SZ), $connections connections per handler"
echo "| handler | exchange | RSS before | RSS with the connections idle | bytes per connection |"
echo "|---|---|---:|---:|---:|"
for handler in echo http; do
  mode=echo
  options=""
  if [[ $handler == http ]]; then
    mode=http
    options=$'[[listener.options.route]]\npath = "/hello"\nbody = "hello, world\\n"'
  fi
  cat >"$work/portd.toml" <<EOF
[server]
workers = 1

[[listener]]
name = "idle"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "$handler"
max_connections = $((connections * 2))
$options
EOF
  start_portd idle
  pid=${bench_pids[-1]}
  # A first exchange sets up the pools and the arenas a connection uses, which are not its cost.
  python3 "$script_dir/idle_connections.py" --port "$port" --count 20 --mode "$mode" \
    --ready "$work/warm.ready" &
  warm=$!
  for _ in $(seq 600); do [[ -e $work/warm.ready ]] && break; sleep 0.1; done
  kill "$warm"
  wait "$warm" 2>/dev/null || true
  before=$(rss "$pid")
  rm -f "$work/idle.ready"
  bench_spawn python3 "$script_dir/idle_connections.py" --port "$port" --count "$connections" \
    --mode "$mode" --ready "$work/idle.ready"
  client=${bench_pids[-1]}
  for _ in $(seq 1200); do [[ -e $work/idle.ready ]] && break; sleep 0.1; done
  [[ -e $work/idle.ready ]] || die "$handler: the connections did not open"
  after=$(rss "$pid")
  echo "| $handler | $mode | $before | $after | $(((after - before) / connections)) |"
  kill "$client" "$pid"
  wait "$client" "$pid" 2>/dev/null || true
done
