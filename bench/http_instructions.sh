#!/usr/bin/env bash
# User-space instructions per HTTP keep-alive request of portd's http handler, and where they go.
#
# The workload of bench/compare.sh's http-keepalive row (h2load --h1 -c64 -m1, GET /hello of a
# 13-byte route, portd with one worker), but counted in requests rather than seconds and under
# callgrind rather than cachegrind (the same instruction count, plus the shared object of each
# function). portd is started fresh for two runs, of N and 4N requests; the difference of the
# counts, divided by the 3N requests between them, is the figure, so that start-up and shutdown
# cancel. The counts are callgrind's totals (its "summary:" line), so the figure is the one
# bench/compare.sh gets from cachegrind. The same difference is split by where the code is (its
# source file; for code inlined from a system header, the namespace of the function it is
# inlined into), and the parts add up to the total:
#
#   http handler    daemon/handlers/http/ (the sessions, the parser's checks, the responses)
#   llhttp          llhttp's generated parser
#   net, libuv      daemon/net/, daemon/core/, daemon/server/ and libuv: the loop and the I/O
#   libc            libc, libstdc++ (std::string's members too) and the dynamic loader
#   other           the rest of portd (handler glue, spdlog, ...)
#   not attributed  what callgrind_annotate's listing leaves out: 0 unless it changes
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

# shellcheck source=bench/lib.sh
source "$script_dir/lib.sh"
bench_init http_instructions "$build_dir"
[[ $requests =~ ^[0-9]+$ && $requests -ge 1000 ]] || die "--requests: a number of at least 1000"
# valgrind (callgrind, callgrind_annotate) and h2load.
bench_install valgrind nghttp2-client

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
  # The run's total is callgrind's own "summary:" line, the figure cachegrind gives too.
  sed -n 's/^summary: \([0-9]*\)$/\1/p' "$work/callgrind.$n" >"$work/total-$n.txt"
  [[ -s $work/total-$n.txt ]] || die "no summary line in callgrind's output"
  # callgrind_annotate lists "COUNT (PERCENT)  FILE:FUNCTION [OBJECT]" for every function, but
  # leaves the object out for code inlined from another file (an "fi=" line in callgrind's
  # output: std::string's members, field_syntax.cc's checks inlined into the parser): those
  # lines are kept too, with "-" for the object, so that the functions add up to the total.
  callgrind_annotate --threshold=100 --auto=no "$work/callgrind.$n" | tr -d , |
    awk '/^-+$/ { next }
      /file:function$/ { listing = 1; next }
      listing && match($0, /^ *[0-9]+ \([ 0-9.]+%\)  /) {
        count = $1
        rest = substr($0, RLENGTH + 1)
        obj = "-"
        if (match(rest, / \[\/[^]]*\]$/)) {
          obj = substr(rest, RSTART + 2, RLENGTH - 3)
          rest = substr(rest, 1, RSTART - 1)
        }
        printf "%s\t%s\t%s\n", count, obj, rest
      }' >"$work/run-$n.txt"
  [[ -s $work/run-$n.txt ]] || die "nothing read from callgrind's output"
  [[ -z $keep ]] || { mkdir -p "$keep" && cp "$work/callgrind.$n" "$keep/"; }
}

run "$requests"
run $((requests * 4))

# The difference of the two runs by function, then by part, per request. The total is the
# difference of the summary lines; the parts add up to it, and what the listing leaves out (it
# should be nothing) is printed as "not attributed".
short_total=$(<"$work/total-$requests.txt")
long_total=$(<"$work/total-$((requests * 4)).txt")
awk -F'\t' -v n="$((requests * 3))" -v top="$top" -v short="$work/run-$requests.txt" \
  -v total="$((long_total - short_total))" '
  # By the file of the code first, then by its namespace, for code inlined from a system header
  # (/usr/include/c++/...:portd::handlers::http::appendCanned is std::string inlined there,
  # /usr/lib/gcc/.../emmintrin.h:portd::handlers::http::... SSE2 intrinsics),
  # then by the shared object.
  function part(obj, fn) {
    if (fn ~ /daemon\/handlers\/http\//) return "http handler"
    if (fn ~ /llhttp/ || obj ~ /llhttp/) return "llhttp"
    if (fn ~ /daemon\/(net|core|server)\// || obj ~ /libuv/ || fn ~ /:uv_/) return "net, libuv"
    if (fn ~ /^\/usr\/[^:]*:portd::handlers::http::/) return "http handler"
    if (fn ~ /^\/usr\/[^:]*:portd::(net|core|server)::/) return "net, libuv"
    if (obj ~ /\/(libc|libm|libstdc\+\+|libgcc_s|ld-linux[^\/]*)\.so/) return "libc"
    if (fn ~ /^\/usr\/include\/c\+\+\/[^:]*:std::/) return "libc"
    return "other"
  }
  FILENAME == short { ir[$2 "\t" $3] -= $1; next }
  { ir[$2 "\t" $3] += $1 }
  END {
    listed = 0
    for (k in ir) {
      split(k, f, "\t")
      p = part(f[1], f[2])
      by_part[p] += ir[k]
      listed += ir[k]
    }
    printf "instructions per request: %.0f\n", total / n
    parts[1] = "http handler"; parts[2] = "llhttp"; parts[3] = "net, libuv"
    parts[4] = "libc"; parts[5] = "other"
    for (i = 1; i <= 5; ++i) printf "  %-15s %6.0f\n", parts[i], by_part[parts[i]] / n
    printf "  %-15s %6.0f\n", "not attributed", (total - listed) / n
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
