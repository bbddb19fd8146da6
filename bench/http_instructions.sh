#!/usr/bin/env bash
# User-space instructions per HTTP keep-alive request of portd's http handler, and where they go.
#
# The workload of bench/compare.sh's http-keepalive row (h2load --h1 -c64 -m1, GET /hello of a
# 13-byte route, portd with one worker), but counted in requests rather than seconds and under
# callgrind rather than cachegrind (the same instruction count, plus the shared object of each
# function). portd is started fresh for two runs, of N and 4N requests; the difference of the
# counts, divided by the 3N requests between them, is the figure, so that start-up and shutdown
# cancel. The same difference is split by where the instructions are:
#
#   http handler  daemon/handlers/http/ (the sessions, the parser's checks, the responses)
#   llhttp        llhttp's generated parser
#   net, libuv    daemon/net/, daemon/core/, daemon/server/ and libuv: the loop and the I/O
#   libc          libc, libstdc++ and the dynamic loader (system call wrappers, memcpy, ...)
#   other         the rest of portd (handler glue, spdlog, ...)
#
# Kernel work is not in it. Every process started is stopped by its pid.
#
#   bench/http_instructions.sh                       # 20,000 and 80,000 requests: ~1 minute
#   bench/http_instructions.sh --requests 50000 --top 25

set -euo pipefail

usage() {
  cat <<EOF_USAGE
usage: $0 [options]
  --build-dir DIR   build tree with daemon/portd (default: ../build)
  --requests N      requests of the short run; the long run makes 4N (default: 20000)
  --top K           also list the K functions with the most instructions per request (default: 0)
  --keep DIR        keep callgrind's two output files in DIR (for callgrind_annotate --tree=caller)
  --server-cpu N    CPU of portd (default: 1)
  --client-cpu N    CPU of h2load (default: 0)
EOF_USAGE
}

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir="$script_dir/../build"
requests=20000
top=0
keep=""
server_cpu=1
client_cpu=0

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --top) top=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    --server-cpu) server_cpu=$2; shift 2 ;;
    --client-cpu) client_cpu=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
source "$script_dir/lib.sh"
[[ $requests =~ ^[0-9]+$ && $requests -ge 1000 ]] || die "--requests: a number of at least 1000"
for tool in valgrind callgrind_annotate h2load; do
  command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install valgrind nghttp2-client)"
done
bench_init http_instructions "$build_dir"

printf 'hello, world\n' >"$work/body.txt"
cat >"$work/portd.toml" <<EOF_TOML
[server]
workers = 1
[[listener]]
name = "main"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "http"
max_connections = 20000
[[listener.options.route]]
path = "/hello"
body_file = "body.txt"
EOF_TOML

# One run of N requests against a fresh portd under callgrind; its per-function self counts go
# to $work/run-N.txt as "COUNT<TAB>OBJECT<TAB>FILE:FUNCTION" lines.
run() { # N
  local n=$1
  bench_wrap=(valgrind --tool=callgrind "--callgrind-out-file=$work/callgrind.$n")
  start_portd main "$server_cpu"
  bench_wrap=()
  taskset -c "$client_cpu" h2load --h1 -t1 -c64 -m1 -n "$n" "http://127.0.0.1:$port/hello" \
    >"$work/h2load.out" 2>&1 || die "h2load failed: $(tail -5 "$work/h2load.out")"
  grep -q "^requests: $n total, $n started, $n done, $n succeeded" "$work/h2load.out" ||
    die "not every request succeeded: $(grep ^requests: "$work/h2load.out")"
  bench_stop "$portd_pid"
  # callgrind_annotate lists "COUNT (PERCENT)  FILE:FUNCTION [OBJECT]" for every function.
  callgrind_annotate --threshold=100 "$work/callgrind.$n" |
    sed -n 's/^ *\([0-9,]*\) ([ 0-9.]*%)  \(.*\) \[\(.*\)\]$/\1\t\3\t\2/p' | tr -d , \
    >"$work/run-$n.txt"
  [[ -s $work/run-$n.txt ]] || die "nothing read from callgrind's output"
  [[ -z $keep ]] || { mkdir -p "$keep" && cp "$work/callgrind.$n" "$keep/"; }
}

run "$requests"
run $((requests * 4))

# The difference of the two runs by function, then by part, per request.
awk -F'\t' -v n="$((requests * 3))" -v top="$top" -v short="$work/run-$requests.txt" '
  function part(obj, fn) {
    if (fn ~ /daemon\/handlers\/http\//) return "http handler"
    if (fn ~ /llhttp/ || obj ~ /llhttp/) return "llhttp"
    if (fn ~ /daemon\/(net|core|server)\// || obj ~ /libuv/ || fn ~ /:uv_/) return "net, libuv"
    if (obj ~ /\/(libc|libm|libstdc\+\+|libgcc_s|ld-linux[^\/]*)\.so/) return "libc"
    return "other"
  }
  FILENAME == short { ir[$2 "\t" $3] -= $1; next }
  { ir[$2 "\t" $3] += $1 }
  END {
    for (k in ir) {
      split(k, f, "\t")
      p = part(f[1], f[2])
      by_part[p] += ir[k]
      total += ir[k]
    }
    printf "instructions per request: %.0f\n", total / n
    parts[1] = "http handler"; parts[2] = "llhttp"; parts[3] = "net, libuv"
    parts[4] = "libc"; parts[5] = "other"
    for (i = 1; i <= 5; ++i) printf "  %-13s %6.0f\n", parts[i], by_part[parts[i]] / n
    if (top > 0) {
      print "functions:"
      cmd = "sort -t \"\t\" -k1,1 -g -r | head -n " top
      for (k in ir) {
        split(k, f, "\t")
        printf "%.1f\t%s\n", ir[k] / n, f[2] | cmd
      }
      close(cmd)
    }
  }' "$work/run-$requests.txt" "$work/run-$((requests * 4)).txt"
