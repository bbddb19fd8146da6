#!/usr/bin/env bash
# The SDK as a plugin author meets it: install the just-built portd into a temporary prefix,
# build both example plugins from that prefix alone (CMake package and pkg-config), check that
# each exports portd_plugin_entry and nothing else and was compiled with optimisation, load
# them from a configuration with [[plugin]], and talk to them.
#
# usage: sdk_test.sh SOURCE_DIR BUILD_DIR [SANITIZE]
#
# SANITIZE is the build's PORTD_SANITIZE (empty for a plain build). The installed daemon is
# then a sanitized binary, and the test loads both kinds of plugin into it: delay-responder is
# built with the same -fsanitize flags, so that its code (per-connection state, timers) is
# checked too; udp-reverse is built plainly, as a third party's plugin would be, which a
# sanitized daemon loads fine. The reverse does not work: a plugin built with ASan needs the
# ASan runtime first in the process's library list, which a plain daemon does not have (it
# would need LD_PRELOAD), so sanitizer flags are never used for a plain build.
set -euo pipefail

src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
sanitize=${3:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/portd-sdk-test.XXXXXX")
daemon_pid=""
cleanup() {
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -KILL "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "sdk_test: FAIL: $*" >&2
  if [ -f "$tmp/daemon.log" ]; then
    echo "--- daemon log:" >&2
    cat "$tmp/daemon.log" >&2
  fi
  exit 1
}
step() { echo "sdk_test: $*"; }

# check_exports SO: the plugin's dynamic symbol table defines portd_plugin_entry and nothing
# else (the version script's doing; -fvisibility=hidden alone leaves std:: templates exported).
check_exports() {
  local exported
  exported=$(nm -D --defined-only "$1" | awk '{ print $NF }' | sort -u) || fail "nm -D $1"
  [ "$exported" = "portd_plugin_entry" ] ||
    fail "$1 exports more than portd_plugin_entry: $(echo "$exported" | paste -sd ' ')"
}

# opt_levels SO: the optimisation level each of the plugin's sources was compiled with, i.e.
# the last -O option of each record that -frecord-gcc-switches left in the object ("-O0" when
# there is none). Checks what the compiler was given, whichever layer added it.
opt_levels() {
  local records
  records=$(readelf -p .GCC.command.line "$1" 2>/dev/null | sed -n 's/^ *\[ *[0-9a-f]*\] *//p')
  [ -n "$records" ] || fail "$1 has no record of its compiler options"
  awk '{ level = "-O0"; for (i = 1; i <= NF; i++) if ($i ~ /^-O/) level = $i; print level }' \
    <<<"$records" | sort -u
}

# check_optimised SO HOW: every source of the plugin was compiled with -O1 or more.
check_optimised() {
  local levels
  levels=$(opt_levels "$1")
  if grep -Eqv '^-O([1-3]|s|z|fast)?$' <<<"$levels"; then
    fail "$1 ($2) was not compiled with optimisation: $(echo "$levels" | paste -sd ' ')"
  fi
  step "$(basename "$1") ($2): exports portd_plugin_entry only, compiled with $(echo "$levels" | paste -sd ' ')"
}

# 1. Install, then move the tree: everything installed must be relative to its prefix.
prefix=$tmp/prefix
step "installing into $tmp/staging, then moving it to $prefix"
cmake --install "$build" --prefix "$tmp/staging" >"$tmp/install.log" || fail "cmake --install: $(cat "$tmp/install.log")"
mv "$tmp/staging" "$prefix"
if grep -rq "$tmp/staging" "$prefix/lib" "$prefix/include"; then
  fail "installed files name the prefix they were installed to: $(grep -rl "$tmp/staging" "$prefix")"
fi
for f in bin/portd include/portd/handler.h include/portd/handler.hpp; do
  [ -e "$prefix/$f" ] || fail "$f is not installed"
done
# lib/, or lib/<multiarch>/ when the build was configured for the /usr prefix.
libdir=$(cd "$prefix" && ls -d lib*/cmake/portd | head -1 | sed 's|/cmake/portd$||')
[ -n "$libdir" ] || fail "no lib*/cmake/portd/ installed"
for f in "$libdir/cmake/portd/portdConfig.cmake" "$libdir/cmake/portd/portdConfigVersion.cmake" \
         "$libdir/pkgconfig/portd.pc" share/portd/plugin.map; do
  [ -e "$prefix/$f" ] || fail "$f is not installed"
done
portd=$prefix/bin/portd

# 2. Build each example as its own project, from the prefix alone, without choosing a build
# type: portd_add_plugin() must still optimise. -frecord-gcc-switches keeps the compiler's
# options in the plugin, for check_optimised.
record=-frecord-gcc-switches
declare -A flags=([delay-responder]="$record" [udp-reverse]="$record")
if [ -n "$sanitize" ]; then
  step "sanitized daemon ($sanitize): delay-responder built with -fsanitize=$sanitize, udp-reverse plain"
  flags[delay-responder]="$record -fsanitize=$sanitize -fno-omit-frame-pointer"
fi
# build_example EXAMPLE BUILD_DIR [CMAKE_OPTION...]
build_example() {
  local ex=$1 dir=$2 found
  shift 2
  cmake -S "$src/examples/$ex" -B "$dir" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_COMPILE_WARNING_AS_ERROR=ON \
    -DCMAKE_C_FLAGS="${flags[$ex]}" -DCMAKE_CXX_FLAGS="${flags[$ex]}" \
    -DCMAKE_MODULE_LINKER_FLAGS="${flags[$ex]}" "$@" \
    >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log" >&2; fail "configuring examples/$ex"; }
  found=$(sed -n 's/^portd_DIR:PATH=//p' "$dir/CMakeCache.txt")
  [ "$found" = "$prefix/$libdir/cmake/portd" ] || fail "examples/$ex found portd in '$found', not in the prefix"
  cmake --build "$dir" >"$dir.build.log" 2>&1 || { cat "$dir.build.log" >&2; fail "building examples/$ex"; }
}
for ex in delay-responder udp-reverse; do
  step "building examples/$ex against the installed SDK"
  build_example "$ex" "$tmp/build-$ex"
done
delay_so=$tmp/build-delay-responder/delay_responder.so
reverse_so=$tmp/build-udp-reverse/udp_reverse.so
for so in "$delay_so" "$reverse_so"; do
  [ -f "$so" ] || fail "$so was not built"
  check_exports "$so"
  check_optimised "$so" "CMake, no build type"
done
# A build type the project chose is left alone: Debug stays unoptimised.
build_example udp-reverse "$tmp/build-debug" -DCMAKE_BUILD_TYPE=Debug
[ "$(opt_levels "$tmp/build-debug/udp_reverse.so")" = "-O0" ] ||
  fail "portd_add_plugin() overrode CMAKE_BUILD_TYPE=Debug: $(opt_levels "$tmp/build-debug/udp_reverse.so")"
check_exports "$tmp/build-debug/udp_reverse.so"

# 3. pkg-config, from the prefix: its flags alone give what portd_add_plugin() gives, for a
# plugin built without CMake: optimised, and only portd_plugin_entry exported.
pc=(env PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig" pkg-config)
pc_flags=$("${pc[@]}" --cflags --libs portd) || fail "pkg-config --cflags --libs portd"
step "pkg-config --cflags --libs portd: $pc_flags"
[ "$("${pc[@]}" --modversion portd)" = "$("$portd" --version | awk '{ print $2 }')" ] ||
  fail "pkg-config --modversion portd differs from portd --version"
mkdir -p "$tmp/pc"
# shellcheck disable=SC2086  # pc_flags is a list of flags
cc -std=c11 -Wall -Wextra -Werror -fPIC -shared $record \
  "$src/examples/udp-reverse/udp_reverse.c" -o "$tmp/pc/udp_reverse.so" $pc_flags ||
  fail "building udp_reverse.c with pkg-config's flags"
# shellcheck disable=SC2086
c++ -std=c++20 -Wall -Wextra -Werror -fPIC -shared $record \
  "$src/examples/delay-responder/delay_responder.cc" -o "$tmp/pc/delay_responder.so" $pc_flags ||
  fail "building delay_responder.cc with pkg-config's flags"
for so in "$tmp/pc/delay_responder.so" "$tmp/pc/udp_reverse.so"; do
  check_exports "$so"
  check_optimised "$so" "pkg-config"
done

# 4. A configuration in its own directory: plugin paths are relative to it.
mkdir -p "$tmp/conf"
delay_ms=200
max_line=64
max_bytes=300
cat >"$tmp/conf/portd.toml" <<TOML
[server]
workers = 2
shutdown_timeout = "2s"

[[plugin]]
path = "../build-delay-responder/delay_responder.so"

[[plugin]]
path = "../build-udp-reverse/udp_reverse.so"

[[listener]]
name = "delay"
protocol = "tcp"
address = "127.0.0.1:0"
handler = "delay"
[listener.options]
delay = "${delay_ms}ms"
prefix = "> "
max_line = $max_line

[[listener]]
name = "reverse"
protocol = "udp"
address = "127.0.0.1:0"
handler = "reverse"
[listener.options]
max_bytes = $max_bytes
TOML
cfg=$tmp/conf/portd.toml

step "portd handlers -c"
"$portd" handlers -c "$cfg" >"$tmp/handlers.out" 2>&1 || { cat "$tmp/handlers.out" >&2; fail "portd handlers -c"; }
cat "$tmp/handlers.out"
grep -Eq '^delay +tcp' "$tmp/handlers.out" || fail "portd handlers does not list the delay handler"
grep -Eq '^reverse +udp' "$tmp/handlers.out" || fail "portd handlers does not list the reverse handler"
grep -q 'max_line' "$tmp/handlers.out" || fail "portd handlers does not list the delay handler's options"
grep -Eq '^echo ' "$tmp/handlers.out" || fail "portd handlers no longer lists the built-in handlers"

step "portd check -c"
"$portd" check -c "$cfg" >"$tmp/check.out" 2>&1 || { cat "$tmp/check.out" >&2; fail "portd check -c"; }
grep -q 'delay="200ms"' "$tmp/check.out" || { cat "$tmp/check.out" >&2; fail "portd check does not show the plugin handler's options"; }

# The plugins built with pkg-config's flags load as well.
sed 's|\.\./build-delay-responder/|../pc/|; s|\.\./build-udp-reverse/|../pc/|' "$cfg" >"$tmp/conf/pc.toml"
grep -q '"\.\./pc/udp_reverse.so"' "$tmp/conf/pc.toml" || fail "no pc.toml with the pkg-config plugins"
"$portd" check -c "$tmp/conf/pc.toml" >"$tmp/check-pc.out" 2>&1 ||
  { cat "$tmp/check-pc.out" >&2; fail "portd check -c with the plugins built with pkg-config's flags"; }

# A value the plugin rejects is a configuration error at that option.
sed 's/^max_line = .*/max_line = 0/' "$cfg" >"$tmp/conf/bad.toml"
status=0
"$portd" check -c "$tmp/conf/bad.toml" >"$tmp/bad.out" 2>&1 || status=$?
[ "$status" -eq 2 ] || fail "portd check of a rejected option exited with $status"
grep -q "bad.toml:[0-9]*:[0-9]*: listener\[0\].options.max_line: must be between 1 and 1MiB" "$tmp/bad.out" ||
  { cat "$tmp/bad.out" >&2; fail "no error at the rejected option"; }

# 5. Serve, and talk to both handlers.
step "starting the installed portd"
"$portd" serve -c "$cfg" 2>"$tmp/daemon.log" &
daemon_pid=$!
for _ in $(seq 100); do
  grep -q "portd ready" "$tmp/daemon.log" && break
  kill -0 "$daemon_pid" 2>/dev/null || fail "portd exited at start"
  sleep 0.1
done
grep -q "portd ready" "$tmp/daemon.log" || fail "portd not ready after 10 s"
tcp_ep=$(sed -n 's/.*listener "delay": tcp delay on \([^ ]*\) (.*/\1/p' "$tmp/daemon.log")
udp_ep=$(sed -n 's/.*listener "reverse": udp reverse on \([^ ]*\) (.*/\1/p' "$tmp/daemon.log")
[ -n "$tcp_ep" ] && [ -n "$udp_ep" ] || fail "no bound addresses in the log"
step "delay on $tcp_ep, reverse on $udp_ep"

python3 "$src/tests/plugin/sdk_client.py" "$tcp_ep" "$udp_ep" "$delay_ms" "> " "$max_line" "$max_bytes" ||
  fail "talking to the plugins"

kill -0 "$daemon_pid" 2>/dev/null || fail "portd died"
kill -TERM "$daemon_pid"
status=0
wait "$daemon_pid" || status=$?
daemon_pid=""
[ "$status" -eq 0 ] || fail "portd exited with status $status after SIGTERM"
if grep -Eq ' (error|critical) \[|ERROR: (Address|Thread|Leak)Sanitizer|runtime error:' "$tmp/daemon.log"; then
  fail "errors in the daemon's log"
fi
step "passed"
