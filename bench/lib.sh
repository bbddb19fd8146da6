# Shared by the bench/*.sh scripts (source it): a work directory removed at exit, the processes
# started stopped by their pid, portd and its peers started on their own configurations on free
# loopback ports.
#
#   bench_install PACKAGE...      # apt-get installs the packages that are missing
#   bench_init NAME BUILD_DIR     # sets $portd and $work; `die` prefixes messages with NAME
#   bench_spawn CMD...            # runs CMD in the background, stopped at exit
#   bench_stop PID [SIGNAL]       # stops one of them now (SIGTERM unless told)
#   start_portd LISTENER [CPUS]   # serves $work/portd.toml (pinned to CPUS); sets $port, $portd_pid
#   portd_port LISTENER           # the port portd's log gives LISTENER
#   start_nginx CPU               # GET /hello on a free port: $nginx_port, $nginx_pid
#   start_redis CPU               # redis-server, persistence off: $redis_port, $redis_pid
#   dns_zone                      # $work/example.zone and dnsperf's $work/queries
#   start_knot CPU, start_nsd CPU # that zone: $knot_port and $knot_pid, $nsd_port and $nsd_pid
#   start_sockperf PROTO CPU      # sockperf's server: $sockperf_port, $sockperf_pid
#   cpu_share PID PERCENT         # PID and its descendants get PERCENT of one CPU (cgroup)
#
# The start_* functions put the array bench_wrap (empty unless set, e.g. to a valgrind command)
# between taskset and the server, and wait for the server to answer.

bench_install() {
  local missing=() p sudo=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -gt 0 ]] || return 0
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "installing ${missing[*]}" >&2
  $sudo apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
    "${missing[@]}" >&2
}

bench_init() {
  bench_name=$1
  portd=$2/daemon/portd
  [[ -x $portd ]] || die "$portd not found: build first"
  work=$(mktemp -d -t "$bench_name.XXXXXX")
  bench_pids=()
  bench_wrap=()
  bench_cgroups=()
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
  local g
  for g in "${bench_cgroups[@]}"; do
    rmdir "$g" 2>/dev/null || true
  done
  rm -rf "$work"
}

# cpu_share PID PERCENT: PID and its descendants (all their threads) share PERCENT of one CPU,
# enforced by the kernel's CPU bandwidth control (a cgroup of their own with a quota of
# PERCENT/100 of each 10 ms period; cgroup v2 cpu.max or v1 cpu.cfs_quota_us). A server given
# a share is the bottleneck of a run whatever the client costs, so two servers given the same
# share compare by the work they do per request, kernel time included. Needs root; the cgroup
# is removed at exit.
cpu_share() {
  local pid=$1 percent=$2 group p
  [[ $percent =~ ^[0-9]+$ ]] && ((percent >= 10 && percent <= 100)) ||
    die "a CPU share is a whole percentage from 10 to 100, not \"$percent\""
  local period=10000 quota=$((percent * 100))
  if [[ -e /sys/fs/cgroup/cgroup.controllers ]]; then
    group=/sys/fs/cgroup/$bench_name-$pid
    grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null ||
      echo +cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null ||
      die "cannot enable the cpu controller of cgroup v2 (root needed)"
    mkdir -p "$group" 2>/dev/null || die "cannot create $group (root needed)"
    bench_cgroups+=("$group")
    echo "$quota $period" >"$group/cpu.max"
  elif [[ -d /sys/fs/cgroup/cpu ]]; then
    group=/sys/fs/cgroup/cpu/$bench_name-$pid
    mkdir -p "$group" 2>/dev/null || die "cannot create $group (root needed)"
    bench_cgroups+=("$group")
    echo "$period" >"$group/cpu.cfs_period_us"
    echo "$quota" >"$group/cpu.cfs_quota_us"
  else
    die "no cgroup CPU controller here: --server-share needs one"
  fi
  # cgroup.procs moves every thread of a process; threads and children started later inherit.
  for p in $(pid_tree "$pid" | tr ',' ' '); do
    echo "$p" >"$group/cgroup.procs" || die "cannot move process $p into $group"
  done
}

bench_spawn() {
  "$@" &
  bench_pids+=($!)
}

bench_stop() {
  local pid=$1 kept=() p
  kill "-${2:-TERM}" "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${bench_pids[@]}"; do
    [[ $p == "$pid" ]] || kept+=("$p")
  done
  bench_pids=("${kept[@]}")
}

# wait_until SECONDS CMD...: runs CMD every 50 ms until it succeeds; fails after SECONDS.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

start_portd() {
  local listener=$1 cpus=${2:-}
  local pin=()
  [[ -n $cpus ]] && pin=(taskset -c "$cpus")
  bench_spawn "${pin[@]}" "${bench_wrap[@]}" "$portd" serve -c "$work/portd.toml" \
    >"$work/portd.log" 2>&1
  portd_pid=${bench_pids[-1]}
  wait_until 60 grep -q "portd ready" "$work/portd.log" || true
  port=$(portd_port "$listener")
  [[ -n $port ]] || die "portd did not start: $(cat "$work/portd.log")"
}

portd_port() {
  sed -n "s/.*listener \"$1\": [a-z]* [a-z]* on 127\.0\.0\.1:\([0-9]*\) (.*/\1/p" "$work/portd.log"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The numbers on stdin, one a line or separated by spaces: their median.
median() {
  tr ' ' '\n' | grep . | sort -g |
    awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# PID and its descendants, comma-separated, as perf stat -p takes them (nginx's and NSD's
# workers are child processes).
pid_tree() {
  local out=$1 child
  for child in $(pgrep -P "$1" || true); do
    out+=",$(pid_tree "$child")"
  done
  echo "$out"
}

# Resident memory in KiB of PID and its descendants.
rss_kib() {
  local total=0 p
  for p in $(pid_tree "$1" | tr ',' ' '); do
    total=$((total + $(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

# nginx: one worker, no access log, GET /hello answering "hello, world\n" as portd's route does.
start_nginx() {
  local cpu=$1
  nginx_port=$(free_port)
  mkdir -p "$work/nginx"
  cat >"$work/nginx/nginx.conf" <<EOF_NGINX
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 16384; }
http {
  access_log off;
  # portd serves a keep-alive connection for as long as its client wants; nginx's default ends
  # one after 1000 requests, which leaves a pipelining client (h2load -m16) hanging.
  keepalive_requests 1000000000;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx;
  scgi_temp_path $work/nginx;
  server {
    listen 127.0.0.1:$nginx_port;
    location /hello { return 200 "hello, world\n"; }
  }
}
EOF_NGINX
  bench_spawn taskset -c "$cpu" "${bench_wrap[@]}" nginx -c "$work/nginx/nginx.conf" \
    -e "$work/nginx/error.log"
  nginx_pid=${bench_pids[-1]}
  wait_until 60 curl -sf "http://127.0.0.1:$nginx_port/hello" ||
    die "nginx does not answer: $(cat "$work/nginx/error.log")"
}

start_redis() {
  local cpu=$1
  redis_port=$(free_port)
  bench_spawn taskset -c "$cpu" "${bench_wrap[@]}" redis-server --port "$redis_port" \
    --bind 127.0.0.1 --save '' --appendonly no --io-threads 1 --dir "$work" \
    --logfile "$work/redis.log"
  redis_pid=${bench_pids[-1]}
  wait_until 60 redis-cli -p "$redis_port" ping || die "redis-server does not answer"
}

dns_zone() {
  cat >"$work/example.zone" <<'EOF_ZONE'
$ORIGIN example.com.
$TTL 3600
@       SOA   ns1 hostmaster 2024010101 7200 3600 1209600 300
@       NS    ns1
@       MX    10 mail
ns1     A     192.0.2.53
www     A     192.0.2.1
www     AAAA  2001:db8::1
mail    A     192.0.2.25
alias   CNAME www
txt     TXT   "v=spf1 -all"
EOF_ZONE
  # Queries asking for each kind of answer: addresses, a CNAME, MX, TXT, NODATA, NXDOMAIN and
  # REFUSED (a zone not served).
  cat >"$work/queries" <<'EOF_Q'
www.example.com A
www.example.com AAAA
alias.example.com A
example.com MX
txt.example.com TXT
mail.example.com AAAA
nope.example.com A
www.example.org A
EOF_Q
}

# wait_dns PORT: the server on PORT answers www.example.com.
wait_dns() {
  wait_until 30 bash -c "dig +short +tries=1 +time=1 @127.0.0.1 -p $1 www.example.com A |
    grep -q 192.0.2.1" || die "nothing answers DNS on port $1"
}

# Knot DNS: one UDP worker.
start_knot() {
  local cpu=$1
  knot_port=$(free_port)
  mkdir -p "$work/knot"
  cat >"$work/knot/knot.conf" <<EOF_KNOT
server:
    rundir: "$work/knot"
    listen: 127.0.0.1@$knot_port
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
control:
    listen: "$work/knot/knot.sock"
database:
    storage: "$work/knot/db"
log:
  - target: stderr
    any: warning
zone:
  - domain: example.com
    storage: "$work"
    file: example.zone
EOF_KNOT
  bench_spawn taskset -c "$cpu" /usr/sbin/knotd -c "$work/knot/knot.conf"
  knot_pid=${bench_pids[-1]}
  wait_dns "$knot_port"
}

# NSD: one server process, in the foreground, as this user, without its default rate limit.
start_nsd() {
  local cpu=$1
  nsd_port=$(free_port)
  mkdir -p "$work/nsd"
  cat >"$work/nsd/nsd.conf" <<EOF_NSD
server:
    ip-address: 127.0.0.1@$nsd_port
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "$work"
    pidfile: "$work/nsd/nsd.pid"
    database: ""
    zonelistfile: "$work/nsd/zone.list"
    xfrdfile: "$work/nsd/xfrd.state"
    xfrdir: "$work/nsd"
    logfile: "$work/nsd/nsd.log"
    verbosity: 0
    # NSD limits answers per /24 by default (200/s); the others do not, and neither does this.
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: example.com
    zonefile: example.zone
EOF_NSD
  bench_spawn taskset -c "$cpu" /usr/sbin/nsd -d -c "$work/nsd/nsd.conf"
  nsd_pid=${bench_pids[-1]}
  wait_dns "$nsd_port"
}

# sockperf's server cannot take port 0: it gets a port that was free a moment before.
start_sockperf() {
  local proto=$1 cpu=$2 flag=() list=(ss -lunH)
  [[ $proto == tcp ]] && flag=(--tcp) && list=(ss -ltnH)
  sockperf_port=$(free_port)
  bench_spawn taskset -c "$cpu" "${bench_wrap[@]}" sockperf server "${flag[@]}" -i 127.0.0.1 \
    -p "$sockperf_port" >"$work/sockperf-$proto.log" 2>&1
  sockperf_pid=${bench_pids[-1]}
  wait_until 60 bash -c "${list[*]} 'sport = :$sockperf_port' | grep -q ." ||
    die "sockperf server ($proto) did not start: $(cat "$work/sockperf-$proto.log")"
}
