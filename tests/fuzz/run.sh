#!/usr/bin/env bash
# Fuzzes one target for a while:
#   tests/fuzz/run.sh {http|config|hdr|dns_answer|resp|resp_request|smtp|dns_query|dns_zone|smtp_session|netstat} [MINUTES] [libFuzzer flags...]
#
# Builds the fuzz targets with clang-14 and libFuzzer into build-fuzz/ (configured on first use;
# Debian packages clang-14 and libfuzzer-14-dev), then runs the target for MINUTES (default 10)
# on the seed corpus in tests/fuzz/corpus/<target>/, which it only reads. New inputs that reach
# new code go to a scratch folder (PORTD_FUZZ_WORK, default a fresh folder under /tmp), as do
# crashing inputs. Exits 1 and names them when there is a crash, a leak, a timeout or an
# out-of-memory; see docs/fuzzing.md for what to do then.
set -euo pipefail
cd "$(dirname "$0")/../.."

usage() {
  echo "usage: $0 {http|config|hdr|dns_answer|resp|resp_request|smtp|dns_query|dns_zone|smtp_session|netstat} [MINUTES] [libFuzzer flags...]" >&2
  exit 2
}
[ $# -ge 1 ] || usage
case $1 in
  http) target=fuzz_http_request ;;
  config) target=fuzz_config ;;
  hdr) target=fuzz_hdr_decode ;;
  dns_answer) target=fuzz_dns_answer ;;
  resp) target=fuzz_resp_reply ;;
  resp_request) target=fuzz_resp_request ;;
  smtp) target=fuzz_smtp_reply ;;
  dns_query) target=fuzz_dns_query ;;
  dns_zone) target=fuzz_dns_zone ;;
  smtp_session) target=fuzz_smtp_session ;;
  netstat) target=fuzz_netstat ;;
  *) usage ;;
esac
corpus=tests/fuzz/corpus/$1
dict=tests/fuzz/$1.dict
minutes=${2:-10}
[[ $minutes =~ ^[0-9]+$ ]] || usage
shift $(($# >= 2 ? 2 : 1))

for tool in clang-14 clang++-14; do
  command -v "$tool" >/dev/null || {
    echo "fuzz: $tool not found: apt-get install clang-14 libfuzzer-14-dev" >&2
    exit 2
  }
done
if [ ! -f build-fuzz/CMakeCache.txt ]; then
  cmake -S . -B build-fuzz -DPORTD_FUZZ=ON -DCMAKE_C_COMPILER=clang-14 \
    -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPORTD_BUILD_BENCH=OFF >/dev/null
fi
# Only the fuzz target and what it links: the rest of the suite is not needed here.
cmake --build build-fuzz -j "$(nproc)" --target "$target"

work=${PORTD_FUZZ_WORK:-$(mktemp -d "/tmp/portd-fuzz-$1.XXXXXX")}
mkdir -p "$work/corpus" "$work/artifacts"
flags=(-max_total_time=$((minutes * 60)) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
  -artifact_prefix="$work/artifacts/")
[ -f "$dict" ] && flags+=(-dict="$dict")
echo "fuzz: $target for $minutes min; new corpus entries in $work/corpus, crashes in $work/artifacts"
status=0
# The first folder is where libFuzzer writes what it finds; the seed corpus is only read.
build-fuzz/tests/fuzz/"$target" "${flags[@]}" "$@" "$work/corpus" "$corpus" 2>"$work/log" ||
  status=$?
tail -n 20 "$work/log"
echo "fuzz: $(find "$work/corpus" -type f | wc -l) new corpus entries in $work/corpus (full log: $work/log)"
found=$(find "$work/artifacts" -type f)
if [ -n "$found" ] || [ "$status" -ne 0 ]; then
  echo "fuzz: FAILED (libFuzzer exit status $status); inputs that fail:" >&2
  for f in $found; do
    echo "  $f  (reproduce: build-fuzz/tests/fuzz/$target $f)" >&2
  done
  exit 1
fi
echo "fuzz: no crash"
