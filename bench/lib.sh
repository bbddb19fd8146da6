# Shared by the bench/load_*.sh scripts (source it): a work directory removed at exit, the
# processes started stopped by their pid, and portd started on a configuration with its
# listener's port read from its log.
#
#   bench_init NAME BUILD_DIR     # sets $portd and $work; `die` prefixes messages with NAME
#   bench_spawn CMD...            # runs CMD in the background, stopped at exit
#   start_portd LISTENER [CPUS]   # serves $work/portd.toml (pinned to CPUS); sets $port

bench_init() {
  bench_name=$1
  portd=$2/daemon/portd
  [[ -x $portd ]] || die "$portd not found: build first"
  work=$(mktemp -d -t "$bench_name.XXXXXX")
  bench_pids=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

die() {
  echo "${bench_name:-bench}: $*" >&2
  exit 1
}

bench_cleanup() {
  for p in "${bench_pids[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}

bench_spawn() {
  "$@" &
  bench_pids+=($!)
}

start_portd() {
  local listener=$1 cpus=${2:-}
  if [[ -n $cpus ]]; then
    bench_spawn taskset -c "$cpus" "$portd" serve -c "$work/portd.toml" >"$work/portd.log" 2>&1
  else
    bench_spawn "$portd" serve -c "$work/portd.toml" >"$work/portd.log" 2>&1
  fi
  for _ in $(seq 100); do
    grep -q "portd ready" "$work/portd.log" && break
    sleep 0.05
  done
  port=$(sed -n "s/.*listener \"$listener\": [a-z]* [a-z]* on 127\.0\.0\.1:\([0-9]*\) (.*/\1/p" \
    "$work/portd.log")
  [[ -n $port ]] || die "portd did not start: $(cat "$work/portd.log")"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
