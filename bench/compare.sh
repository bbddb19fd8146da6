#!/usr/bin/env bash
# portd against the servers it is measured by, side by side, in one table.
#
# Installs what is missing first (the peers, the clients, perf and valgrind, from apt), then
# for each workload starts the peer and portd (one worker) on their own configurations on free
# loopback ports, the servers pinned to one CPU and the client to another, and alternates A/B
# runs for --pairs pairs (the first of a pair switching every time). Reported per workload:
# the median figure of each side, the median over pairs of portd/peer, which of higher or lower
# is better, the system calls per request of each server (perf stat -e raw_syscalls:sys_enter
# over one more run, divided by the requests served in it) and, for the HTTP keep-alive and
# ping-pong rows, the user-space instructions per request of each server (cachegrind, two run
# lengths differenced so that start-up cancels). Every process started is stopped by its pid.
#
#   bench/compare.sh --quick                    # 1 pair, 2 s runs, no cachegrind: ~3 minutes
#   bench/compare.sh                            # 5 pairs of 10 s runs: 20-40 minutes
#   bench/compare.sh --pairs 7 --json out.json --rows http-keepalive,tcp-echo
#
# docs/performance.md shows a table and how to read it.

set -euo pipefail

usage() {
  cat <<EOF_USAGE
usage: $0 [options]
  --build-dir DIR       build tree with daemon/portd (default: ../build)
  --pairs N             A/B pairs per workload (default: 5)
  --duration S          seconds per run (default: 10)
  --quick               1 pair, 2 s runs, 3000 idle connections, no instruction counts
  --no-instructions     skip cachegrind (the slow part)
  --rows LIST           comma-separated row ids (default: all): $all_rows
  --idle-connections N  connections of the idle-memory row (default: 9000)
  --json FILE           also write the table as JSON
  --server-cpu N        CPU of the servers (default: 1)
  --client-cpu N        CPU of the clients (default: 0)
  --no-install          do not apt-get install what is missing
  --busy-poll D         run portd in latency mode ([server] busy_poll = D, e.g. 50us)
  --no-io-uring         run portd with [server] io_uring = false (a send per reply)
  --server-share PCT    give every server PCT% of one CPU (a cgroup quota), so that the
                        servers, not the clients, set the rates: the work per request decides
EOF_USAGE
}

all_rows="http-keepalive,http-pipelined,http-newconn,http-idle,tcp-echo,udp-echo,dns-knot,dns-nsd,resp-p1,resp-p16"
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir="$script_dir/../build"
pairs=5
duration=10
instructions=1
rows=$all_rows
idle_connections=9000
json=""
server_cpu=1
client_cpu=0
install=1
quick=""
busy_poll=0s
io_uring=true
server_share=""
# Cachegrind's two runs, in seconds of client time: their difference is what is divided.
cg_short=3
cg_long=9

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --pairs) pairs=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --no-instructions) instructions=""; shift ;;
    --rows) rows=$2; shift 2 ;;
    --idle-connections) idle_connections=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    --server-cpu) server_cpu=$2; shift 2 ;;
    --client-cpu) client_cpu=$2; shift 2 ;;
    --no-install) install=""; shift ;;
    --busy-poll) busy_poll=$2; shift 2 ;;
    --no-io-uring) io_uring=false; shift ;;
    --server-share) server_share=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
if [[ -n $server_share ]] && ! [[ $server_share =~ ^[0-9]+$ && $server_share -ge 10 &&
  $server_share -le 100 ]]; then
  echo "compare: --server-share takes a whole percentage from 10 to 100" >&2
  exit 2
fi
if [[ -n $quick ]]; then
  pairs=1
  duration=2
  instructions=""
  idle_connections=3000
fi

source "$script_dir/lib.sh"
if [[ -n $install ]]; then
  bench_install nginx-light redis-server redis-tools knot nsd sockperf dnsperf bind9-dnsutils \
    nghttp2-client wrk valgrind linux-perf curl python3
fi
bench_init compare "$build_dir"
# A package's own service (on a machine whose init starts it) keeps its fixed port: it is left
# alone and not measured, but it shares the CPUs, so say so.
for fixed in 53 80 6379 11111; do
  if ss -lntuH "sport = :$fixed" | grep -q .; then
    echo "compare: note: something already listens on port $fixed (not used here)" >&2
  fi
done
for cpu in "$server_cpu" "$client_cpu"; do
  taskset -c "$cpu" true 2>/dev/null || die "CPU $cpu is not available to this process"
done
# System calls are counted by perf's tracepoint. Where perf cannot attach (not root and
# perf_event_paranoid > 1, no tracefs), strace -c counts them instead: the counts are right,
# but a server slowed down by strace batches more requests per read, so the table says so.
syscall_counter=perf
if ! perf stat -e raw_syscalls:sys_enter -o /dev/null true 2>/dev/null; then
  command -v strace >/dev/null || bench_install strace
  syscall_counter=strace
  echo "compare: perf cannot count raw_syscalls:sys_enter here; counting with strace -c" >&2
fi

# ---- The servers. start_side SIDE starts one and sets $side_port and $side_pid.

# portd with one worker and one listener, "main", of the kind the workload needs.
portd_config() { # KIND
  local protocol=tcp handler=$1 options="" limit="max_connections = 20000"
  case $1 in
    http) options=$'[[listener.options.route]]\npath = "/hello"\nbody_file = "body.txt"' ;;
    tcp) handler=stream options=$'[listener.options]\nmode = "sockperf"' ;;
    udp) protocol=udp handler=stream limit="" options=$'[listener.options]\nmode = "sockperf"' ;;
    dns) protocol=udp limit="" options=$'[listener.options]\nzone_file = "example.zone"' ;;
  esac
  printf 'hello, world\n' >"$work/body.txt"
  cat >"$work/portd.toml" <<EOF_TOML
[server]
workers = 1
busy_poll = "$busy_poll"
io_uring = $io_uring
[[listener]]
name = "main"
protocol = "$protocol"
address = "127.0.0.1:0"
handler = "$handler"
$limit
$options
EOF_TOML
}

start_side() { # SIDE
  case $1 in
    nginx) start_nginx "$server_cpu" && side_port=$nginx_port side_pid=$nginx_pid ;;
    redis) start_redis "$server_cpu" && side_port=$redis_port side_pid=$redis_pid ;;
    knot) dns_zone && start_knot "$server_cpu" && side_port=$knot_port side_pid=$knot_pid ;;
    nsd) dns_zone && start_nsd "$server_cpu" && side_port=$nsd_port side_pid=$nsd_pid ;;
    sockperf-*)
      start_sockperf "${1#sockperf-}" "$server_cpu"
      side_port=$sockperf_port side_pid=$sockperf_pid
      ;;
    portd-*)
      [[ $1 == portd-dns ]] && dns_zone
      portd_config "${1#portd-}"
      start_portd main "$server_cpu"
      side_port=$port side_pid=$portd_pid
      ;;
    *) die "unknown server $1" ;;
  esac
  [[ -z $server_share ]] || cpu_share "$side_pid" "$server_share"
}

# ---- The clients. Each takes its options, then PORT and SECONDS, runs pinned to the client
# CPU and prints "FIGURE REQUESTS": the row's figure and how many requests (or connections)
# the server served in the run, which system calls and instructions are divided by.

h2load_run() { # PIPELINE PORT SECONDS
  taskset -c "$client_cpu" h2load --h1 -t1 -c64 -m "$1" -D "$3" "http://127.0.0.1:$2/hello" \
    >"$work/h2load.out" 2>&1 || die "h2load failed: $(tail -5 "$work/h2load.out")"
  awk '/^finished in/ { gsub(",", "", $4); rps = $4 }
       /^requests:/ { done = $8; failed = $10 + $12 }
       END { if (failed > 0) exit 1; printf "%.0f %d\n", rps, done }' "$work/h2load.out" ||
    die "h2load: failed requests: $(grep ^requests: "$work/h2load.out")"
}

wrk_close_run() { # PORT SECONDS
  taskset -c "$client_cpu" wrk -t1 -c64 -d "$2s" -H "Connection: close" \
    "http://127.0.0.1:$1/hello" >"$work/wrk.out" 2>&1 || die "wrk failed: $(cat "$work/wrk.out")"
  ! grep -q "Non-2xx" "$work/wrk.out" || die "wrk: non-2xx responses: $(cat "$work/wrk.out")"
  # A connection closed by the server after its response is not an error; anything else is.
  if grep -q "Socket errors" "$work/wrk.out"; then
    echo "  wrk on port $1: $(grep "Socket errors" "$work/wrk.out")" >&2
  fi
  awk '/requests in/ { n = $1 } /^Requests\/sec:/ { rps = $2 }
       END { printf "%.0f %d\n", rps, n }' "$work/wrk.out"
}

sockperf_run() { # PROTOCOL PORT SECONDS: the median round trip in microseconds
  local flag=()
  [[ $1 == tcp ]] && flag=(--tcp)
  taskset -c "$client_cpu" sockperf ping-pong "${flag[@]}" -i 127.0.0.1 -p "$2" -m 64 -t "$3" \
    --full-rtt >"$work/sockperf.out" 2>&1 || die "sockperf failed: $(cat "$work/sockperf.out")"
  local p50 n
  p50=$(sed -n 's/.*percentile 50\.000 = *\([0-9.]*\).*/\1/p' "$work/sockperf.out")
  n=$(sed -n 's/.*\[Total Run\].*ReceivedMessages=\([0-9]*\).*/\1/p' "$work/sockperf.out")
  [[ -n $p50 && -n $n ]] || die "no figures in sockperf's output: $(cat "$work/sockperf.out")"
  echo "$p50 $n"
}

dnsperf_run() { # PORT SECONDS
  taskset -c "$client_cpu" dnsperf -s 127.0.0.1 -p "$1" -d "$work/queries" -l "$2" -c 10 \
    -q 200 -T 1 >"$work/dnsperf.out" 2>&1 || die "dnsperf failed: $(cat "$work/dnsperf.out")"
  awk '/Queries completed:/ { n = $3 } /Queries per second:/ { qps = $4 }
       END { printf "%.0f %d\n", qps, n }' "$work/dnsperf.out"
}

# redis-benchmark counts requests, not seconds: about SECONDS of them on a quiet machine.
redis_run() { # PIPELINE PORT SECONDS
  local n=$(($3 * ($1 == 1 ? 80000 : 1000000)))
  taskset -c "$client_cpu" redis-benchmark -p "$2" -c 50 -P "$1" -n "$n" -t get --csv \
    >"$work/redis.out" 2>&1 || die "redis-benchmark failed: $(cat "$work/redis.out")"
  awk -F'"' -v n="$n" 'NR > 1 && $4 != "" { rps = $4 } END { printf "%.0f %d\n", rps, n }' \
    "$work/redis.out"
}

# ---- Measurements.

# The next three set $result rather than print it: they start processes, which must be
# started by this shell (not a $(...) subshell) for the exit trap to stop them on a failure.

# System calls per request of the server PID during one client run (perf attached first).
syscalls_per_request() { # PID CLIENT...
  local pids
  pids=$(pid_tree "$1")
  shift
  if [[ $syscall_counter == perf ]]; then
    bench_spawn perf stat -x, -e raw_syscalls:sys_enter -p "$pids" -o "$work/perf.csv"
  else
    bench_spawn strace -c -f -o "$work/perf.csv" $(sed 's/^/-p /; s/,/ -p /g' <<<"$pids")
  fi
  local counter=${bench_pids[-1]}
  sleep 0.5 # neither says when it has attached; this is ample for a few threads
  local out calls
  out=$("$@")
  bench_stop "$counter" INT
  if [[ $syscall_counter == perf ]]; then
    calls=$(awk -F, '$3 == "raw_syscalls:sys_enter" { print $1 }' "$work/perf.csv")
  else
    calls=$(awk '$NF == "total" { print $4 }' "$work/perf.csv")
  fi
  [[ $calls =~ ^[0-9]+$ ]] || die "$syscall_counter counted nothing: $(cat "$work/perf.csv")"
  result=$(awk -v c="$calls" -v n="${out#* }" 'BEGIN { printf "%.2f\n", c / n }')
}

# Instructions per request of SIDE under cachegrind: a fresh server for each of two client
# runs of different lengths; (Ir long - Ir short) / (requests long - requests short).
instructions_per_request() { # SIDE CLIENT...
  local side=$1 secs ir=() n=()
  shift
  # nginx's worker runs as nobody: it must be able to write its file too.
  chmod 711 "$work"
  mkdir -p -m 1777 "$work/cg"
  for secs in "$cg_short" "$cg_long"; do
    rm -f "$work"/cg/*
    bench_wrap=(valgrind --tool=cachegrind --cache-sim=no --branch-sim=no
      "--cachegrind-out-file=$work/cg/%p")
    start_side "$side"
    bench_wrap=()
    local out
    out=$("$@" "$side_port" "$secs")
    bench_stop "$side_pid"
    n+=("${out#* }")
    # Every process of the server (nginx's master and worker) writes its own file.
    ir+=("$(cat "$work"/cg/* | awk '/^summary:/ { s += $2 } END { print s }')")
  done
  result=$(awk -v a="${ir[0]}" -v b="${ir[1]}" -v m="${n[0]}" -v k="${n[1]}" \
    'BEGIN { if (k <= m) print "n/a"; else printf "%.0f\n", (b - a) / (k - m) }')
}

# Results, one line per row in $work/table.tsv:
# id workload peer better peer_fig portd_fig ratio peer_sys portd_sys peer_ir portd_ir
: >"$work/table.tsv"
declare -A text

# row ID PEER_SIDE PORTD_SIDE BETTER CLIENT...: alternated pairs, then the system calls.
row() {
  local id=$1 peer=$2 mine=$3 better=$4
  shift 4
  [[ ,$rows, == *,$id,* ]] || return 0
  echo "compare: $id: ${text[$id]}" >&2
  start_side "$peer"
  local peer_port=$side_port peer_pid=$side_pid
  start_side "$mine"
  local portd_port_=$side_port portd_pid_=$side_pid
  local pair side figures=() ratios=() a b
  for pair in $(seq "$pairs"); do
    local order=(peer portd)
    ((pair % 2 == 0)) && order=(portd peer)
    for side in "${order[@]}"; do
      if [[ $side == peer ]]; then
        a=$("$@" "$peer_port" "$duration")
      else
        b=$("$@" "$portd_port_" "$duration")
      fi
    done
    echo "  pair $pair: ${peer%%-*} ${a% *}, portd ${b% *}" >&2
    figures+=("${a% *} ${b% *}")
    ratios+=("$(awk -v a="${a% *}" -v b="${b% *}" 'BEGIN { print (a > 0) ? b / a : "nan" }')")
  done
  local peer_sys portd_sys
  syscalls_per_request "$peer_pid" "$@" "$peer_port" "$duration"
  peer_sys=$result
  syscalls_per_request "$portd_pid_" "$@" "$portd_port_" "$duration"
  portd_sys=$result
  kill -0 "$portd_pid_" 2>/dev/null || die "portd died: $(cat "$work/portd.log")"
  bench_stop "$portd_pid_"
  bench_stop "$peer_pid"
  local peer_ir="-" portd_ir="-"
  if [[ -n $instructions && ($id == http-keepalive || $id == tcp-echo || $id == udp-echo) ]]; then
    echo "  instructions per request under cachegrind ($cg_short s and $cg_long s runs)" >&2
    instructions_per_request "$peer" "$@"
    peer_ir=$result
    instructions_per_request "$mine" "$@"
    portd_ir=$result
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "${text[$id]}" "${peer%%-*}" \
    "$better" "$(printf '%s\n' "${figures[@]}" | cut -d' ' -f1 | median)" \
    "$(printf '%s\n' "${figures[@]}" | cut -d' ' -f2 | median)" \
    "$(printf '%s\n' "${ratios[@]}" | median)" "$peer_sys" "$portd_sys" "$peer_ir" "$portd_ir" \
    >>"$work/table.tsv"
}

# Bytes of resident memory per idle connection: a fresh server for each run, RSS of all its
# processes before and after the connections are open and idle.
idle_run() { # SIDE
  start_side "$1"
  local before after client
  before=$(rss_kib "$side_pid")
  rm -f "$work/idle.ready"
  bench_spawn taskset -c "$client_cpu" python3 "$script_dir/idle_connections.py" \
    --port "$side_port" --count "$idle_connections" --ready "$work/idle.ready"
  client=${bench_pids[-1]}
  wait_until 120 test -e "$work/idle.ready" || die "the idle connections did not open"
  after=$(rss_kib "$side_pid")
  bench_stop "$client"
  bench_stop "$side_pid"
  result=$(awk -v a="$before" -v b="$after" -v n="$idle_connections" \
    'BEGIN { printf "%.0f\n", (b - a) * 1024 / n }')
}

idle_row() {
  local id=http-idle
  [[ ,$rows, == *,$id,* ]] || return 0
  echo "compare: $id: ${text[$id]}" >&2
  local pair side figures=() ratios=() a b
  for pair in $(seq "$pairs"); do
    local order=(nginx portd-http)
    ((pair % 2 == 0)) && order=(portd-http nginx)
    for side in "${order[@]}"; do
      idle_run "$side"
      if [[ $side == nginx ]]; then a=$result; else b=$result; fi
    done
    echo "  pair $pair: nginx $a, portd $b" >&2
    figures+=("$a $b")
    ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { print (a > 0) ? b / a : "nan" }')")
  done
  printf '%s\t%s\tnginx\tlower\t%s\t%s\t%s\t-\t-\t-\t-\n' "$id" "${text[$id]}" \
    "$(printf '%s\n' "${figures[@]}" | cut -d' ' -f1 | median)" \
    "$(printf '%s\n' "${figures[@]}" | cut -d' ' -f2 | median)" \
    "$(printf '%s\n' "${ratios[@]}" | median)" >>"$work/table.tsv"
}

text=(
  [http-keepalive]="HTTP keep-alive, h2load --h1 -c64 -m1: requests/s"
  [http-pipelined]="HTTP pipelined, h2load --h1 -c64 -m16: requests/s"
  [http-newconn]="HTTP, a connection per request, wrk -c64 'Connection: close': connections/s"
  [http-idle]="$idle_connections idle HTTP connections: RSS bytes per connection"
  [tcp-echo]="TCP ping-pong 64 B, sockperf ping-pong --tcp: p50 round trip µs"
  [udp-echo]="UDP ping-pong 64 B, sockperf ping-pong: p50 round trip µs"
  [dns-knot]="DNS, dnsperf -c10 -q200: queries/s"
  [dns-nsd]="DNS, dnsperf -c10 -q200: queries/s"
  [resp-p1]="RESP, redis-benchmark -c50 -P1 GET: requests/s"
  [resp-p16]="RESP, redis-benchmark -c50 -P16 GET: requests/s"
)

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "compare: $started, $(nproc) CPUs, load average $load_before; servers on CPU $server_cpu," \
  "clients on CPU $client_cpu, $pairs pair(s) of $duration s${server_share:+, servers limited to $server_share% of a CPU}" >&2

row http-keepalive nginx portd-http higher h2load_run 1
row http-pipelined nginx portd-http higher h2load_run 16
row http-newconn nginx portd-http higher wrk_close_run
idle_row
row tcp-echo sockperf-tcp portd-tcp lower sockperf_run tcp
row udp-echo sockperf-udp portd-udp lower sockperf_run udp
row dns-knot knot portd-dns higher dnsperf_run
row dns-nsd nsd portd-dns higher dnsperf_run
row resp-p1 redis portd-resp higher redis_run 1
row resp-p16 redis portd-resp higher redis_run 16

# ---- The table, in Markdown on stdout, and in JSON when asked.
echo "portd $("$portd" --version 2>/dev/null | awk '{ print $2 }'), $started, $(nproc) CPUs," \
  "load average $load_before at the start; servers on CPU $server_cpu, clients on CPU" \
  "$client_cpu; $pairs pair(s) of $duration s runs${quick:+ (--quick)}$(
    [[ $busy_poll == 0s ]] || echo "; portd with busy_poll = $busy_poll")$(
    [[ $io_uring == true ]] || echo "; portd with io_uring = false")$(
    [[ -z $server_share ]] || echo "; every server limited to $server_share% of one CPU")"
echo
[[ $syscall_counter == perf ]] ||
  echo "System calls counted with strace -c, perf being unable to attach here: a server slowed down by strace reads more requests at a time, so batched rows show fewer calls than they make at full speed."
echo
echo "| workload | peer | peer figure | portd figure | portd/peer | better | syscalls/req peer | syscalls/req portd | instructions/req peer | instructions/req portd |"
echo "|---|---|---:|---:|---:|---|---:|---:|---:|---:|"
awk -F'\t' '{ printf "| %s | %s | %s | %s | %.2f | %s | %s | %s | %s | %s |\n",
  $2, $3, $5, $6, $7, $4, $8, $9, $10, $11 }' "$work/table.tsv"
if [[ -n $json ]]; then
  python3 - "$work/table.tsv" "$json" "$started" "$pairs" "$duration" "$server_share" <<'EOF_PY'
import json, sys
keys = ["id", "workload", "peer", "better", "peer_figure", "portd_figure", "ratio",
        "peer_syscalls_per_request", "portd_syscalls_per_request",
        "peer_instructions_per_request", "portd_instructions_per_request"]
def value(v):
    try:
        return float(v)
    except ValueError:
        return None
rows = []
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    rows.append({k: (v if i < 4 else value(v)) for i, (k, v) in enumerate(zip(keys, f))})
json.dump({"date": sys.argv[3], "pairs": int(sys.argv[4]), "seconds_per_run": float(sys.argv[5]),
           "server_cpu_percent": int(sys.argv[6]) if sys.argv[6] else None, "rows": rows},
          open(sys.argv[2], "w"), indent=2)
EOF_PY
fi
