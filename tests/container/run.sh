#!/usr/bin/env bash
# Builds the container image with podman and checks it for real:
#   1. it starts, the HEALTHCHECK passes, TCP echo, UDP echo, HTTP and /metrics answer through
#      published ports (promtool checks the metrics text);
#   2. it runs read-only, with no capabilities, no-new-privileges, as a non-root user;
#   3. podman stop during a slow request: the request completes, the exit status is 0, before
#      the stop timeout;
#   4. --cpus 1 gives one worker, --cpuset-cpus 0,1 two;
#   5. a broken mounted configuration exits 2 with the place of the error;
#   and PORTD_CONFIG replaces the configuration file.
#
# No registry is reachable here, so the Debian 12 base is made with debootstrap and imported
# (once; set PORTD_REBUILD_BASE=1 to redo it). Each step prints what it checks.
set -euo pipefail
cd "$(dirname "$0")/../.."

source tests/lib/podman.sh
limits=("${podman_limits[@]}")
base=$debian_base
image=localhost/portd:test
prefix=portd-ctest-$$
work=$(mktemp -d)

step() { echo "container: $*"; }
fail() {
  echo "container: FAILED: $*" >&2
  exit 1
}
cleanup() {
  for c in $(P ps -a --format '{{.Names}}' | grep "^$prefix" || true); do
    P rm -f "$c" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

for tool in podman /usr/sbin/runc debootstrap curl socat promtool python3; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (.ci/setup installs it)"
done

ensure_debian_base "$work" || fail "debootstrap"

step "building $image (docker format, so that HEALTHCHECK is kept)"
P build --format docker "${limits[@]}" --build-arg BUILD_BASE="$base" \
  -f docker/Dockerfile -t "$image" . >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; fail "podman build"; }
size=$(P image inspect --format '{{.Size}}' "$image")
step "image size: $((size / 1024 / 1024)) MiB ($size bytes) uncompressed"
[[ $size -lt $((40 * 1024 * 1024)) ]] || fail "the image is larger than 40 MB"

# run NAME [podman run options...]: starts a detached container of the image.
run() {
  local name=$prefix-$1
  shift
  P run -d --name "$name" "${limits[@]}" "$@" "$image" >/dev/null
  echo "$name"
}
# host_port NAME PORT/PROTO: the host port podman published for it.
host_port() { P port "$1" "$2" | head -1 | sed 's/.*://'; }
# wait_healthy NAME: runs the image's HEALTHCHECK until it passes (at most 20 s).
wait_healthy() {
  for _ in $(seq 1 100); do
    if P healthcheck run "$1" >/dev/null 2>&1; then return 0; fi
    [[ $(P inspect --format '{{.State.Running}}' "$1") == true ]] || { P logs "$1" >&2; fail "$1 exited"; }
    sleep 0.2
  done
  P logs "$1" >&2
  fail "$1: the HEALTHCHECK did not pass within 20 s"
}
# wait_exit NAME SECONDS: waits for the container to stop; prints its exit code.
wait_exit() {
  for _ in $(seq 1 $(($2 * 10))); do
    if [[ $(P inspect --format '{{.State.Running}}' "$1") == false ]]; then
      P inspect --format '{{.State.ExitCode}}' "$1"
      return 0
    fi
    sleep 0.1
  done
  fail "$1 still runs after $2 s"
}
secure=(--read-only --cap-drop=ALL --security-opt no-new-privileges)
publish=(-p 127.0.0.1::7000/tcp -p 127.0.0.1::7000/udp -p 127.0.0.1::8080/tcp -p 127.0.0.1::9090/tcp)

step "1. starting the image read-only, without capabilities, with ports published"
main=$(run main "${secure[@]}" "${publish[@]}")
wait_healthy "$main"
step "1. HEALTHCHECK (portd probe http://127.0.0.1:9090/healthz) passes"
tcp=$(host_port "$main" 7000/tcp)
udp=$(host_port "$main" 7000/udp)
http=$(host_port "$main" 8080/tcp)
admin=$(host_port "$main" 9090/tcp)

got=$(printf 'hello over tcp\n' | socat -t 2 - TCP:127.0.0.1:"$tcp")
[[ $got == "hello over tcp" ]] || fail "TCP echo answered '$got'"
step "1. TCP echo answers through port $tcp"
got=$(printf 'hello over udp' | socat -t 2 - UDP:127.0.0.1:"$udp")
[[ $got == "hello over udp" ]] || fail "UDP echo answered '$got'"
step "1. UDP echo answers through port $udp"
code=$(curl -s -o "$work/echo.out" -w '%{http_code}' "http://127.0.0.1:$http/echo?status=201")
[[ $code == 201 ]] || fail "HTTP /echo?status=201 answered $code"
step "1. HTTP answers through port $http"
curl -sf "http://127.0.0.1:$admin/metrics" >"$work/metrics.txt" || fail "/metrics"
promtool check metrics <"$work/metrics.txt" >"$work/promtool.txt" 2>&1 || { cat "$work/promtool.txt"; fail "promtool rejects /metrics"; }
grep -q '^portd_connections_accepted_total{listener="echo-tcp"' "$work/metrics.txt" || fail "/metrics lacks the echo-tcp listener"
step "1. /metrics answers through port $admin and promtool accepts it"

pid=$(P inspect --format '{{.State.Pid}}' "$main")
uid=$(awk '/^Uid:/ {print $2}' /proc/"$pid"/status)
capeff=$(awk '/^CapEff:/ {print $2}' /proc/"$pid"/status)
nnp=$(awk '/^NoNewPrivs:/ {print $2}' /proc/"$pid"/status)
readonly_root=$(P inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$main")
[[ $uid != 0 ]] || fail "portd runs as root"
[[ $capeff == 0000000000000000 ]] || fail "portd has capabilities $capeff"
[[ $nnp == 1 ]] || fail "no_new_privs is not set"
[[ $readonly_root == true ]] || fail "the root file system is writable"
step "2. portd runs as uid $uid, CapEff $capeff, NoNewPrivs $nnp, read-only root $readonly_root"

step "3. podman stop during /echo?delay=2s"
start=$(date +%s%N)
curl -s -o "$work/slow.out" -w '%{http_code}' "http://127.0.0.1:$http/echo?delay=2s" >"$work/slow.code" &
curl_pid=$!
# Stop once the request is in: the listener counts it as accepted.
for _ in $(seq 1 50); do
  grep -q '^portd_requests_total{listener="http".*} [1-9]' <<<"$(curl -s "http://127.0.0.1:$admin/metrics")" && break
  sleep 0.1
done
P stop -t 15 "$main" >/dev/null
wait "$curl_pid" || true
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
[[ $(cat "$work/slow.code") == 200 ]] || fail "the slow request got '$(cat "$work/slow.code")' instead of 200"
status=$(P inspect --format '{{.State.ExitCode}}' "$main")
[[ $status == 0 ]] || fail "the container exited $status after SIGTERM"
[[ $elapsed_ms -lt 15000 ]] || fail "stopping took $elapsed_ms ms, past the stop timeout"
step "3. the slow request completed with 200, the container exited 0 after $elapsed_ms ms"

one=$(run cpus1 --cpus 1)
wait_healthy "$one"
grep -q 'workers: 1 ' <<<"$(P logs "$one" 2>&1)" || { P logs "$one"; fail "--cpus 1 did not give one worker"; }
step "4. --cpus 1: $(P logs "$one" 2>&1 | grep -o 'workers: 1 ([^)]*)' | head -1)"
if [[ $(nproc) -ge 2 ]]; then
  two=$(run cpuset --cpuset-cpus 0,1)
  wait_healthy "$two"
  grep -q 'workers: 2 ' <<<"$(P logs "$two" 2>&1)" || { P logs "$two"; fail "--cpuset-cpus 0,1 did not give two workers"; }
  step "4. --cpuset-cpus 0,1: $(P logs "$two" 2>&1 | grep -o 'workers: 2 ([^)]*)' | head -1)"
fi

printf '[[listener]]\nname = "x"\nprotocol = "tcp"\naddress = "0.0.0.0:7000"\nhandler = "nope"\n' >"$work/broken.toml"
chmod 644 "$work/broken.toml"
broken=$(run broken -v "$work/broken.toml:/etc/portd/portd.toml:ro,Z")
code=$(wait_exit "$broken" 20)
[[ $code == 2 ]] || fail "a broken configuration exited $code, not 2"
grep -q '/etc/portd/portd.toml:5:11: listener\[0\].handler: unknown handler "nope"' <<<"$(P logs "$broken" 2>&1)" ||
  { P logs "$broken"; fail "the message does not name the place of the error"; }
step "5. a broken mounted configuration exits 2: $(P logs "$broken" 2>&1 | head -1)"

printf '[[listener]]\nname = "alt"\nprotocol = "tcp"\naddress = "0.0.0.0:7001"\nhandler = "discard"\n[admin]\naddress = "0.0.0.0:9090"\n' >"$work/alt.toml"
chmod 644 "$work/alt.toml"
alt=$(run alt -v "$work/alt.toml:/config/alt.toml:ro,Z" -e PORTD_CONFIG=/config/alt.toml)
wait_healthy "$alt"
grep -q 'listener \\\?"alt\\\?"' <<<"$(P logs "$alt" 2>&1)" || { P logs "$alt"; fail "PORTD_CONFIG was not used"; }
step "PORTD_CONFIG=/config/alt.toml replaces the configuration"

echo "container: all checks passed"
