#!/usr/bin/env bash
# portd under a real systemd: builds the .deb, installs it into a Debian 12 image whose PID 1
# is systemd (run by podman), and checks:
#   1. systemctl start reaches active (running) through READY=1, and traffic works;
#   2. systemctl reload with a changed file: a new listener serves, a connection opened before
#      keeps working, and traffic during 20 reloads sees no error;
#   3. systemctl reload with a broken file: still active, the old configuration serving, the
#      error in journalctl -u portd;
#   4. a hung process (SIGSTOP) is restarted by systemd's watchdog;
#   5. systemctl stop: a request in flight completes and the process exits 0 within the drain;
#   6. socket activation through portd.socket: the first connection starts the service;
#   7. systemd-analyze security portd.service rates the exposure 2.0 or less.
# Each step prints what it checks.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/podman.sh

image=localhost/portd-systemd:test
name=portd-systemd-$$
work=$(mktemp -d)
step() { echo "systemd: $*"; }
fail() {
  echo "systemd: FAILED: $*" >&2
  P exec "$name" journalctl -u portd --no-pager -n 50 >&2 2>/dev/null || true
  exit 1
}
cleanup() {
  P rm -f "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
X() { P exec "$name" "$@"; }

for tool in podman /usr/sbin/runc debootstrap cpack; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (.ci/setup installs it)"
done

step "building the .deb (cmake -DCMAKE_INSTALL_PREFIX=/usr, cpack)"
build=$work/build
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPORTD_BUILD_TESTS=OFF \
  -DPORTD_BUILD_BENCH=OFF -DCMAKE_INSTALL_PREFIX=/usr >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; fail cmake; }
cmake --build "$build" -j"$(nproc)" >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; fail build; }
(cd "$build" && cpack >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail cpack; }
ctx=$work/context
mkdir -p "$ctx"
cp "$build"/portd_*.deb "$ctx/portd.deb"
cp tests/systemd/Containerfile tests/systemd/traffic.py "$ctx/"

ensure_debian_base "$work" || fail "debootstrap"
step "building $image: Debian 12 with systemd, portd installed with apt install ./portd.deb"
P build "${podman_limits[@]}" --build-arg BASE="$debian_base" -t "$image" "$ctx" \
  >"$work/image.log" 2>&1 || { tail -30 "$work/image.log"; fail "podman build"; }

# --privileged: systemd sets up the unit's sandbox (mount, IPC namespaces) inside the container.
P run -d --name "$name" --privileged --systemd=always "${podman_limits[@]}" "$image" /sbin/init >/dev/null
for _ in $(seq 1 100); do
  state=$(X systemctl is-system-running 2>/dev/null || true)
  [[ $state == running || $state == degraded ]] && break
  sleep 0.2
done
step "systemd is up in the container ($state)"

# What the package installed: binary, units, configuration, and the plugin SDK.
for f in /usr/bin/portd /usr/lib/systemd/system/portd.service /usr/lib/systemd/system/portd.socket \
  /etc/portd/portd.toml /usr/include/portd/handler.h /usr/include/portd/handler.hpp \
  /usr/share/portd/plugin.map; do
  X test -f "$f" || fail "the package did not install $f"
done
X sh -c 'ls /usr/lib/*/cmake/portd/portdConfig.cmake /usr/lib/*/pkgconfig/portd.pc' >/dev/null ||
  fail "the package did not install the SDK's CMake package and pkg-config file"
grep -q /etc/portd/portd.toml <<<"$(X dpkg-query -W -f '${Conffiles}' portd)" || fail "portd.toml is not a conffile"
step "0. apt install ./portd.deb: binary, units, /etc/portd/portd.toml (a conffile) and the SDK"

# The test's configuration: the default echo listeners, plus http for the slow request.
write_config() {
  P exec -i "$name" sh -c "cat > /etc/portd/portd.toml" <<TOML
[server]
shutdown_timeout = "10s"
[[listener]]
name = "echo-tcp"
protocol = "tcp"
address = "127.0.0.1:7000"
handler = "echo"
[[listener]]
name = "echo-udp"
protocol = "udp"
address = "127.0.0.1:7000"
handler = "echo"
[[listener]]
name = "http"
protocol = "tcp"
address = "127.0.0.1:8080"
handler = "http"
$1
TOML
}
write_config ""
# A short watchdog interval, so that step 4 takes seconds, not the unit's 10 s.
X mkdir -p /etc/systemd/system/portd.service.d
X sh -c 'printf "[Service]\nWatchdogSec=2s\n" > /etc/systemd/system/portd.service.d/test.conf'
X systemctl daemon-reload

# 1
X systemctl start portd || fail "systemctl start portd"
[[ $(X systemctl show -p ActiveState --value portd) == active ]] || fail "not active"
[[ $(X systemctl show -p SubState --value portd) == running ]] || fail "not running"
[[ $(X systemctl show -p Type --value portd) == notify ]] || fail "not Type=notify"
got=$(X sh -c 'printf "hello\n" | socat -t 2 - TCP:127.0.0.1:7000')
[[ $got == hello ]] || fail "TCP echo answered '$got'"
step "1. systemctl start portd: active (running) through READY=1 ($(X systemctl show -p StatusText --value portd)); TCP echo answers"

# 2
write_config '[[listener]]
name = "extra"
protocol = "tcp"
address = "127.0.0.1:7100"
handler = "echo"'
X python3 /usr/local/bin/traffic.py reload-keeps-connection || fail "reload with a changed file"
step "2. systemctl reload with a changed file: a new listener serves, an open connection survives"
out=$(X python3 /usr/local/bin/traffic.py during-reloads 20) || fail "traffic during 20 reloads"
step "2. $out"

# 3
X sh -c 'printf "[[listener]]\nname = \"x\"\nhandler = \"nope\"\n" > /etc/portd/portd.toml'
X systemctl reload portd || fail "systemctl reload (broken file) failed itself"
for _ in $(seq 1 50); do
  grep -q "reload refused" <<<"$(X journalctl -u portd -o cat --no-pager)" && break
  sleep 0.1
done
grep -qE 'reload refused, the previous configuration keeps serving: /etc/portd/portd.toml:[0-9]+:[0-9]+: ' <<<"$(X journalctl -u portd -o cat --no-pager)" ||
  fail "the journal does not show the refused reload with its place"
[[ $(X systemctl show -p ActiveState --value portd) == active ]] || fail "not active after a broken reload"
got=$(X sh -c 'printf "still\n" | socat -t 2 - TCP:127.0.0.1:7100')
[[ $got == still ]] || fail "the previous configuration does not serve"
step "3. a broken file: still active, old configuration serving; journal: $(X journalctl -u portd -o cat --no-pager | grep 'reload refused' | tail -1)"
write_config ""
X systemctl reload portd

# 4
pid=$(X systemctl show -p MainPID --value portd)
restarts=$(X systemctl show -p NRestarts --value portd)
X kill -STOP "$pid"
for _ in $(seq 1 150); do
  now=$(X systemctl show -p MainPID --value portd)
  [[ $now != "$pid" && $now != 0 && $(X systemctl show -p ActiveState --value portd) == active ]] && break
  sleep 0.1
done
[[ $now != "$pid" ]] || fail "the watchdog did not restart the hung service"
# journald writes systemd's own line about the unit asynchronously: wait for it rather than race.
for _ in $(seq 1 50); do
  grep -q "Watchdog timeout" <<<"$(X journalctl -u portd -o cat --no-pager)" && break
  sleep 0.1
done
grep -q "Watchdog timeout" <<<"$(X journalctl -u portd -o cat --no-pager)" || fail "no watchdog timeout in the journal"
step "4. SIGSTOP: systemd's watchdog restarted portd (pid $pid -> $now, NRestarts $restarts -> $(X systemctl show -p NRestarts --value portd))"

# 5
out=$(X python3 /usr/local/bin/traffic.py slow-request-during-stop) || fail "slow request during stop"
[[ $(X systemctl show -p ExecMainStatus --value portd) == 0 ]] || fail "portd did not exit 0"
[[ $(X systemctl show -p Result --value portd) == success ]] || fail "the stop was not a success"
step "5. systemctl stop: $out; exit status 0"

# 6
X systemctl start portd.socket
[[ $(X systemctl show -p ActiveState --value portd) == inactive ]] || fail "portd runs before the first connection"
got=$(X sh -c 'printf "activated\n" | socat -t 3 - TCP:127.0.0.1:7000')
[[ $got == activated ]] || fail "the first connection through portd.socket got '$got'"
[[ $(X systemctl show -p ActiveState --value portd) == active ]] || fail "portd did not start"
for _ in $(seq 1 50); do
  grep -q 'listener "echo-tcp".*socket from systemd' <<<"$(X journalctl -u portd -o cat --no-pager)" && break
  sleep 0.1
done
grep -q 'listener "echo-tcp".*socket from systemd' <<<"$(X journalctl -u portd -o cat --no-pager)" || fail "the socket was not adopted"
step "6. socket activation: the first connection started portd, which adopted the socket and answered"
X systemctl stop portd portd.socket

# 7
exposure=$(X systemd-analyze security portd.service 2>/dev/null | grep -o 'Overall exposure level for portd.service: [0-9.]*' | grep -o '[0-9.]*$')
[[ -n $exposure ]] || fail "systemd-analyze security printed no exposure"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "exposure $exposure is above 2.0"
step "7. systemd-analyze security portd.service: exposure $exposure"

echo "systemd: all checks passed"
