#!/usr/bin/env bash
# Re-create the golden BGP byte vectors in crates/bgp-wire/tests/golden/.
#
# Usage (as root):   tools/golden/capture.sh [session ...]
#   with no argument every session is captured; `--list` prints the names.
#
# Every session runs real daemons (FRR, BIRD 2, GoBGP, OpenBGPD) in network
# namespaces named bgw-*, joined by veth pairs, with configurations generated
# into a temporary directory.  tcpdump records the session's TCP stream inside
# one namespace, the script drives the daemons through their CLIs (originate,
# withdraw, refresh, shut down), and tools/golden/pcap2vec.py turns the pcap
# into a vector file.  Nothing is configured in the host's own network
# namespace; on exit (also on error or Ctrl-C) every process the script
# started is stopped by pid and every bgw-* namespace it created is deleted.
#
# Environment:
#   BGW_OUT=dir   write the vector files there instead of the repository
#   BGW_KEEP=1    keep the temporary directory (configs, logs, pcaps)
#   BGW_DEBUG=1   print the per-message feature summary of every session

set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${BGW_OUT:-$REPO/crates/bgp-wire/tests/golden}
PCAP2VEC=$HERE/pcap2vec.py
FRR_DIR=/usr/lib/frr
OBGPD=/usr/sbin/bgpd      # OpenBGPD's daemon (Debian package openbgpd)
BGPCTL=/usr/sbin/bgpctl

ALL_SESSIONS=(
  frr-bird-ebgp
  gobgp-openbgpd-ebgp
  frr-gobgp-ibgp-addpath
  bird-openbgpd-ebgp
  frr-bird-extended-nexthop
  frr-bird-as2
  frr-openbgpd-refresh-shutdown
)

log() { printf '[capture %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
  log "ERROR: $*"
  show_logs
  exit 1
}

# ---------------------------------------------------------------------------
# bookkeeping: everything we start or create, so that cleanup can undo it

PIDS=()                # processes started by this script (current session)
STARTED=()             # every process started by this script or forked by one, for the final check
declare -A PID_NAME=() # pid -> label, for messages
NAMESPACES=()          # namespaces created by this script (current session)
CREATED_NS=()          # every namespace created by this script, for the final check
FRR_PATHSPACES=()      # FRR -N names: FRR creates an (empty) /var/run/frr/NAME for each
WORK=""

alive() {
  # true if pid exists and is not a zombie
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n $st && $st != Z* ]]
}

starttime() { # kernel start time of a pid (field 22 of /proc/PID/stat), to tell a reused pid apart
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  # shellcheck disable=SC2086
  set -- $stat
  echo "${20}"
}

remember() { # remember PID: note it for the final check
  STARTED+=("$1:$(starttime "$1")")
}

stop_pid() {
  local pid=$1 kids k i
  kids=$(pgrep -P "$pid" 2>/dev/null || true)   # OpenBGPD forks helpers
  for k in $kids; do remember "$k"; done
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
      log "process $pid (${PID_NAME[$pid]:-?}) ignored SIGTERM, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
  for k in $kids; do
    for ((i = 0; i < 30; i++)); do alive "$k" || break; sleep 0.1; done
    if alive "$k"; then kill -KILL "$k" 2>/dev/null || true; fi
  done
}

teardown() {
  # stop this session's processes (newest first) and delete its namespaces
  local i ns
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  PIDS=()
  for ns in "${NAMESPACES[@]}"; do
    ip netns del "$ns" 2>/dev/null || true
  done
  NAMESPACES=()
  for ns in "${FRR_PATHSPACES[@]}"; do
    rmdir "/var/run/frr/$ns" 2>/dev/null || true
  done
  FRR_PATHSPACES=()
}

on_exit() {
  local rc=$?
  set +e
  trap - ERR
  teardown
  local entry pid left=0
  for entry in "${STARTED[@]}"; do
    pid=${entry%%:*}
    if alive "$pid" && [[ $(starttime "$pid") == "${entry#*:}" ]]; then
      log "WARNING: process $pid (${PID_NAME[$pid]:-helper}) is still running"
      left=1
    fi
  done
  local ns
  for ns in "${CREATED_NS[@]}"; do
    if ip netns list | cut -d' ' -f1 | grep -qx -- "$ns"; then
      log "WARNING: namespace $ns is still there"
      left=1
    fi
  done
  if [[ $left -eq 1 && $rc -eq 0 ]]; then rc=1; fi
  if [[ -n $WORK && -d $WORK ]]; then
    if [[ $rc -ne 0 || ${BGW_KEEP:-0} == 1 ]]; then
      log "temporary files kept in $WORK"
    else
      rm -rf "$WORK"
    fi
  fi
  exit "$rc"
}

show_logs() {
  [[ -n $WORK && -d $WORK ]] || return 0
  local f
  [[ -n ${SESSION:-} ]] || return 0
  for f in "$WORK"/"$SESSION"/*/*.log; do
    [[ -s $f ]] || continue
    echo "----- ${f#"$WORK"/} (last 25 lines)" >&2
    tail -n 25 "$f" >&2
  done
}

on_err() {
  local rc=$?
  log "failed at line $1 (exit $rc) in session ${SESSION:-?}"
  show_logs
}

trap on_exit EXIT
trap 'on_err $LINENO' ERR
trap 'exit 130' INT TERM HUP

# ---------------------------------------------------------------------------
# preflight

preflight() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces)"
  local b
  for b in "$FRR_DIR/bgpd" "$FRR_DIR/zebra" "$OBGPD" "$BGPCTL"; do
    [[ -x $b ]] || die "missing $b (packages frr, openbgpd)"
  done
  for b in vtysh bird birdc gobgpd gobgp tcpdump python3 unshare ip; do
    command -v "$b" >/dev/null || die "missing $b in PATH (packages frr, bird2, gobgpd, tcpdump, python3, util-linux, iproute2)"
  done
  "$OBGPD" -V 2>&1 | grep -q OpenBGPD || die "$OBGPD is not OpenBGPD"
  getent passwd frr >/dev/null || die "user frr missing (package frr)"
  getent passwd _openbgpd >/dev/null || die "user _openbgpd missing (package openbgpd: systemd-sysusers openbgpd.conf)"
  if ip netns list | grep -q '^bgw-'; then
    die "namespaces bgw-* already exist (left over from a killed run?): $(ip netns list | grep '^bgw-' | cut -d' ' -f1 | tr '\n' ' ')— delete them with 'ip netns del NAME' after checking nothing runs in them"
  fi
  V_FRR=$("$FRR_DIR/bgpd" -v | sed -n 's/^bgpd version \([^ ]*\).*/\1/p' | head -1)
  V_BIRD=$(bird --version 2>&1 | sed -n 's/^BIRD version \([^ ]*\).*/\1/p' | head -1)
  V_GOBGP=$(gobgpd --version 2>&1 | sed -n 's/^gobgpd version \([^ ]*\).*/\1/p' | head -1)
  V_OBGPD=$("$OBGPD" -V 2>&1 | sed -n 's/^OpenBGPD \([^ ]*\).*/\1/p' | head -1)
  log "frr $V_FRR, bird $V_BIRD, gobgp $V_GOBGP, openbgpd $V_OBGPD"
  CAPTURED="$(date -u +%Y-%m-%d) by tools/golden/capture.sh"
}

# ---------------------------------------------------------------------------
# namespaces and links

ns_add() {
  local ns=bgw-$1
  ip netns add "$ns"
  NAMESPACES+=("$ns")
  CREATED_NS+=("$ns")
  ip -n "$ns" link set lo up
  # no duplicate address detection: addresses are usable at once
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}

# link NS1 IF1 NS2 IF2: a veth pair between two of our namespaces.  The MAC
# addresses are fixed (02:00:00:SESSION:LINK:01/02) so that the IPv6
# link-local next hops in the vectors are the same on every run.
LINK_NO=0
link() {
  LINK_NO=$((LINK_NO + 1))
  local mac
  mac=$(printf '02:00:00:%02x:%02x' "$SESSION_NO" "$LINK_NO")
  ip -n "bgw-$1" link add "$2" address "$mac:01" type veth peer name "$4" address "$mac:02" netns "bgw-$3"
  ip -n "bgw-$1" link set "$2" up
  ip -n "bgw-$3" link set "$4" up
}

# addr NS IF ADDRESS/LEN
addr() {
  if [[ $3 == *:* ]]; then
    ip -n "bgw-$1" -6 addr add "$3" dev "$2" nodad
  else
    ip -n "bgw-$1" addr add "$3" dev "$2"
  fi
}

wait_linklocal() {
  local ns=bgw-$1 ifc=$2 i
  for ((i = 0; i < 100; i++)); do
    if ip -n "$ns" -6 addr show dev "$ifc" scope link | grep -q 'inet6' &&
      ! ip -n "$ns" -6 addr show dev "$ifc" | grep -q tentative; then
      return 0
    fi
    sleep 0.1
  done
  die "no IPv6 link-local address on $ns/$ifc"
}

# ---------------------------------------------------------------------------
# processes

# start LABEL NS CMD...: run CMD in namespace NS in the background.
# `ip netns exec` execs CMD, so $! is CMD's pid.
start() {
  # LABEL is DIR or DIR/NAME: logs go to $SDIR/DIR/NAME.log (NAME defaults to DIR)
  local label=$1 ns=bgw-$2
  shift 2
  local dir=${label%%/*} name=${label##*/}
  mkdir -p "$SDIR/$dir"
  ip netns exec "$ns" "$@" >"$SDIR/$dir/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  remember "$pid"
  PID_NAME[$pid]=$label
  LAST_PID=$pid
}

# wait_until SECONDS DESCRIPTION CMD...: poll CMD every 0.5 s
wait_until() {
  local secs=$1 desc=$2 i
  shift 2
  for ((i = 0; i < secs * 2; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  die "timed out after ${secs}s waiting for: $desc"
}

# wait_has SECONDS CHECK LABEL PREFIX...: wait until `CHECK LABEL PREFIX`
# holds for every prefix (CHECK is frr_has, bird_has, gobgp_has, obgpd_has)
wait_has() {
  local secs=$1 check=$2 label=$3 p
  shift 3
  for p in "$@"; do wait_until "$secs" "$label has $p" "$check" "$label" "$p"; done
}

lacks() { ! "$@"; }

# wait_lacks SECONDS CHECK LABEL PREFIX...: wait until no prefix is there
wait_lacks() {
  local secs=$1 check=$2 label=$3 p
  shift 3
  for p in "$@"; do wait_until "$secs" "$label no longer has $p" lacks "$check" "$label" "$p"; done
}

paths_are() { # paths_are COUNTFN LABEL PREFIX N
  [[ $("$1" "$2" "$3") -eq $4 ]]
}

# --- tcpdump

cap_start() { # cap_start NS IF
  CAP_FILE=$SDIR/capture/session.pcap
  start capture "$1" tcpdump -i "$2" -s 0 -U -n -Z root -w "$CAP_FILE" 'tcp port 179'
  CAP_PID=$LAST_PID
  wait_until 10 "tcpdump listening" grep -q 'listening on' "$SDIR/capture/capture.log"
}

cap_stop() {
  sleep 1 # let the last segments land
  stop_pid "$CAP_PID"
}

# --- FRR: zebra + bgpd per instance, each with its own files and sockets

frr_start() { # frr_start LABEL NS  (config in $SDIR/LABEL/bgpd.conf)
  local label=$1 ns=$2 d=$SDIR/$1
  : >"$d/zebra.conf"
  chown -R frr:frr "$d"
  [[ -e /var/run/frr/bgw-$SESSION-$label ]] || FRR_PATHSPACES+=("bgw-$SESSION-$label")
  start "$label/zebra" "$ns" "$FRR_DIR/zebra" -N "bgw-$SESSION-$label" -f "$d/zebra.conf" -i "$d/zebra.pid" \
    -z "$d/zserv.api" --vty_socket "$d" -u frr -g frr --log stdout --log-level notifications
  wait_until 20 "zebra of $label" test -S "$d/zserv.api"
  start "$label/bgpd" "$ns" "$FRR_DIR/bgpd" -N "bgw-$SESSION-$label" -f "$d/bgpd.conf" -i "$d/bgpd.pid" \
    -z "$d/zserv.api" --vty_socket "$d" -u frr -g frr --log stdout --log-level informational
  wait_until 20 "bgpd of $label" test -S "$d/bgpd.vty"
}

vty() { # vty LABEL COMMAND...
  local d=$SDIR/$1 c args=()
  shift
  for c in "$@"; do args+=(-c "$c"); done
  vtysh --vty_socket "$d" "${args[@]}"
}

frr_afi() { [[ $1 == *:* ]] && echo ipv6 || echo ipv4; }

frr_has() { # frr_has LABEL PREFIX: the prefix is in bgpd's table
  local out
  out=$(vty "$1" "show bgp $(frr_afi "$2") unicast $2 json") || return 1
  grep -q '"paths"' <<<"$out"
}

# --- BIRD

bird_start() { # config in $SDIR/LABEL/bird.conf
  local label=$1 ns=$2 d=$SDIR/$1
  bird -p -c "$d/bird.conf" || die "bird config of $label does not parse"
  start "$label" "$ns" bird -f -c "$d/bird.conf" -s "$d/bird.ctl" -P "$d/bird.pid"
  wait_until 20 "bird $label" test -S "$d/bird.ctl"
}

birdc_() { # birdc_ LABEL COMMAND...
  local d=$SDIR/$1
  shift
  birdc -s "$d/bird.ctl" "$@"
}

bird_has() {
  local out
  out=$(birdc_ "$1" show route "$2") || return 1
  grep -qF -- "$2" <<<"$out"
}

# --- GoBGP

gobgp_start() { # config in $SDIR/LABEL/gobgpd.toml
  local label=$1 ns=$2 d=$SDIR/$1
  start "$label" "$ns" gobgpd -t toml -f "$d/gobgpd.toml" --api-hosts 127.0.0.1:50051 -l info
  GOBGP_NS[$label]=bgw-$ns
  wait_until 20 "gobgpd $label API" gobgp_ "$label" global
}

declare -A GOBGP_NS=()
gobgp_() { # gobgp_ LABEL ARGS...
  local ns=${GOBGP_NS[$1]}
  shift
  ip netns exec "$ns" gobgp -u 127.0.0.1 -p 50051 "$@"
}

gobgp_paths() { # number of paths gobgp holds for PREFIX
  local out
  out=$(gobgp_ "$1" -j global rib -a "$(frr_afi "$2")" "$2") || return 1
  grep -o '"nlri"' <<<"$out" | wc -l
}

gobgp_has() { [[ $(gobgp_paths "$1" "$2") -ge 1 ]]; }

# --- OpenBGPD
# bgpd chroots into the home of _openbgpd, /run/openbgpd, which systemd's
# RuntimeDirectory= would create.  Instead of creating it on the host we run
# bgpd in a private mount namespace with a small tmpfs on /run that holds the
# (empty) chroot directory.  The control socket lives in our temp dir.

obgpd_start() { # config in $SDIR/LABEL/bgpd.conf (must contain: socket "$SDIR/LABEL/bgpd.sock")
  local label=$1 ns=$2 d=$SDIR/$1
  "$OBGPD" -n -f "$d/bgpd.conf" >/dev/null 2>&1 || { "$OBGPD" -n -f "$d/bgpd.conf"; die "openbgpd config of $label does not parse"; }
  # shellcheck disable=SC2016
  start "$label" "$ns" unshare -m --propagation private sh -c \
    'mount -t tmpfs -o mode=0755,size=1m bgw-run /run && mkdir -m 0755 /run/openbgpd && exec "$@"' \
    sh "$OBGPD" -d -f "$d/bgpd.conf"
  wait_until 20 "openbgpd $label" test -S "$d/bgpd.sock"
}

# OpenBGPD 7.7 (portable) picks the next hop it announces for the other
# address family (IPv6 routes on an IPv4 session) from the first interface
# getifaddrs() lists, which is lo, instead of the session's interface: it
# would announce ::1.  In OpenBGPD's namespaces lo therefore carries the
# namespace's link address instead of ::1.
obgpd_lo_fix() { # obgpd_lo_fix NS IPV6-ADDRESS
  ip -n "bgw-$1" -6 addr del ::1/128 dev lo
  ip -n "bgw-$1" -6 addr add "$2/128" dev lo nodad
}

bgpctl_() { # bgpctl_ LABEL ARGS...
  local d=$SDIR/$1
  shift
  "$BGPCTL" -s "$d/bgpd.sock" "$@"
}

obgpd_paths() { # number of paths OpenBGPD holds for PREFIX
  local out
  out=$(bgpctl_ "$1" show rib "$2") || return 1
  grep -cF -- " $2 " <<<"$out" || true
}

obgpd_has() { [[ $(obgpd_paths "$1" "$2") -ge 1 ]]; }

# ---------------------------------------------------------------------------
# session plumbing

session_begin() { # session_begin NAME
  SESSION=$1
  SESSION_NO=0
  local i
  for i in "${!ALL_SESSIONS[@]}"; do
    if [[ ${ALL_SESSIONS[i]} == "$SESSION" ]]; then SESSION_NO=$((i + 1)); fi
  done
  LINK_NO=0
  SDIR=$WORK/$SESSION
  mkdir -p "$SDIR"
  log "=== $SESSION"
}

NOTES=()
session_finish() { # session_finish A_DESC B_DESC "A_IPS" "B_IPS" EXPECT...
  local a_desc=$1 b_desc=$2 a_ips=$3 b_ips=$4 ip n args=()
  shift 4
  for ip in $a_ips; do args+=(--a-ip "$ip"); done
  for ip in $b_ips; do args+=(--b-ip "$ip"); done
  for n in "${NOTES[@]}"; do args+=(--note "$n"); done
  for n in "$@"; do args+=(--expect "$n"); done
  [[ ${BGW_DEBUG:-0} == 1 ]] && args+=(--summary)
  args+=(--tshark) # independent check of the reassembly when tshark is installed
  mkdir -p "$OUT"
  python3 "$PCAP2VEC" "$CAP_FILE" "$SDIR/$SESSION.txt" --session "$SESSION" \
    --a-desc "$a_desc" --b-desc "$b_desc" --captured "$CAPTURED" "${args[@]}"
  cp "$SDIR/$SESSION.txt" "$OUT/$SESSION.txt"
  NOTES=()
  teardown
}

step() { log "  $*"; }

# ---------------------------------------------------------------------------
# configuration snippets shared by the FRR sessions

frr_header() { # frr_header HOSTNAME
  cat <<EOF
frr defaults traditional
hostname $1
!
route-map TAG-1 permit 10
 set origin igp
 set metric 50
 set community 65535:0 64999:100 64999:200
 set large-community 4200000001:1:1 64999:2:3
 set extcommunity rt 64999:10
 set extcommunity soo 64999:20
!
route-map TAG-2 permit 10
 set origin incomplete
 set community 64999:300 64999:301
 set large-community 64999:4:5
!
EOF
}

# ===========================================================================
# a. FRR <-> BIRD, eBGP, IPv4 + IPv6 over one IPv4 session, BIRD with a
#    4-octet AS.

sess_frr_bird_ebgp() {
  session_begin frr-bird-ebgp
  ns_add a-frr; ns_add a-bird
  link a-frr to-bird a-bird to-frr
  addr a-frr to-bird 10.0.1.1/24; addr a-frr to-bird fd00:1::1/64
  addr a-bird to-frr 10.0.1.2/24; addr a-bird to-frr fd00:1::2/64
  wait_linklocal a-frr to-bird; wait_linklocal a-bird to-frr

  mkdir -p "$SDIR/frr" "$SDIR/bird"
  { frr_header a-frr; cat <<'EOF'
router bgp 65001
 bgp router-id 10.0.1.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 no bgp default ipv4-unicast
 neighbor 10.0.1.2 remote-as 4200000001
 neighbor 10.0.1.2 description bird
 neighbor 10.0.1.2 timers connect 3
 !
 address-family ipv4 unicast
  network 10.1.1.0/24 route-map TAG-1
  network 10.1.2.0/24 route-map TAG-2
  network 10.1.3.0/24
  neighbor 10.0.1.2 activate
 exit-address-family
 !
 address-family ipv6 unicast
  network fd00:1:1::/48 route-map TAG-1
  network fd00:1:2::/48
  network fd00:1:3::/48
  neighbor 10.0.1.2 activate
 exit-address-family
!
EOF
  } >"$SDIR/frr/bgpd.conf"

  cat >"$SDIR/bird/bird.conf" <<'EOF'
router id 10.0.1.2;
log stderr all;
protocol device { }
protocol static st4 {
  ipv4;
  route 10.1.101.0/24 blackhole {
    bgp_community.add((65101, 100)); bgp_community.add((65101, 200));
    bgp_large_community.add((4200000001, 100, 1));
    bgp_ext_community.add((rt, 4200000001, 10)); bgp_ext_community.add((ro, 65101, 20));
  };
  route 10.1.102.0/24 blackhole;
}
protocol static st4w { ipv4; route 10.1.103.0/24 blackhole; }
protocol static st6 {
  ipv6;
  route fd00:1:101::/48 blackhole {
    bgp_community.add((65101, 600)); bgp_large_community.add((4200000001, 600, 1));
  };
  route fd00:1:102::/48 blackhole;
}
protocol static st6w { ipv6; route fd00:1:103::/48 blackhole; }
# BIRD sends MULTI_EXIT_DISC to an eBGP peer only when the export filter sets it
filter to_frr {
  if source != RTS_STATIC then reject;
  bgp_large_community.add((4200000001, 0, 65001));
  if net = 10.1.101.0/24 then bgp_med = 30;
  if net = fd00:1:101::/48 then bgp_med = 60;
  accept;
}
protocol bgp peer_frr {
  local 10.0.1.2 as 4200000001;
  neighbor 10.0.1.1 as 65001;
  passive on;
  error wait time 1, 5;
  enable extended messages on;
  ipv4 { import all; export filter to_frr; };
  ipv6 { import all; export filter to_frr; };
}
EOF

  cap_start a-frr to-bird
  bird_start bird a-bird
  frr_start frr a-frr

  step "waiting for the initial exchange"
  wait_has 60 frr_has frr 10.1.101.0/24 10.1.102.0/24 10.1.103.0/24 fd00:1:101::/48 fd00:1:102::/48 fd00:1:103::/48
  wait_has 30 bird_has bird 10.1.1.0/24 10.1.2.0/24 10.1.3.0/24 fd00:1:1::/48 fd00:1:2::/48 fd00:1:3::/48
  sleep 2

  step "withdrawals"
  vty frr "configure terminal" "router bgp 65001" "address-family ipv4 unicast" "no network 10.1.3.0/24" \
    "exit-address-family" "address-family ipv6 unicast" "no network fd00:1:3::/48"
  birdc_ bird disable st4w >/dev/null
  birdc_ bird disable st6w >/dev/null
  wait_lacks 30 bird_has bird 10.1.3.0/24 fd00:1:3::/48
  wait_lacks 30 frr_has frr 10.1.103.0/24 fd00:1:103::/48
  sleep 1

  step "frr resets the session (hard clear) and waits for it to come back"
  vty frr "clear bgp 10.0.1.2"
  sleep 2
  wait_has 60 frr_has frr 10.1.101.0/24 10.1.102.0/24 fd00:1:101::/48 fd00:1:102::/48
  wait_has 30 bird_has bird 10.1.1.0/24 10.1.2.0/24 fd00:1:1::/48 fd00:1:2::/48
  sleep 2

  step "bird shuts the session down with a message"
  birdc_ bird disable peer_frr '"bird: maintenance"' >/dev/null
  sleep 2
  cap_stop

  NOTES=("scenario: extended messages (RFC 8654) negotiated, no ADD-PATH (FRR offers receive only, BIRD nothing);"
    "scenario: initial exchange (ipv4 in NLRI, ipv6 in MP_REACH), FRR withdraws 10.1.3.0/24 + fd00:1:3::/48,"
    "scenario: BIRD withdraws 10.1.103.0/24 + fd00:1:103::/48; FRR hard-resets the session (NOTIFICATION Cease/administrative reset),"
    "scenario: the session comes back (tcp connection 2), then BIRD disables it with a shutdown message")
  session_finish "frr $V_FRR, AS 65001, 10.0.1.1 / fd00:1::1" \
    "bird $V_BIRD, AS 4200000001, 10.0.1.2 / fd00:1::2" \
    "10.0.1.1 fd00:1::1" "10.0.1.2 fd00:1::2" \
    a:OPEN b:OPEN a:UPDATE b:UPDATE a:KEEPALIVE b:KEEPALIVE a:cap:AS4=65001 b:cap:AS4=4200000001 \
    a:cap:EXTMSG b:cap:EXTMSG \
    a:open:myas=65001 b:open:myas=23456 \
    a:attr:COMMUNITIES a:attr:LARGE_COMMUNITIES a:attr:EXT_COMMUNITIES a:attr:MED \
    b:attr:COMMUNITIES b:attr:LARGE_COMMUNITIES b:attr:EXT_COMMUNITIES b:attr:MED \
    a:reach:ipv6* b:reach:ipv6* a:withdraw:ipv4 a:withdraw:ipv6 b:withdraw:ipv4 b:withdraw:ipv6 \
    a:notification:6/4 b:notification:6/2 'b:shutdown-message:bird: maintenance'
}

# ===========================================================================
# b. GoBGP <-> OpenBGPD, eBGP, IPv4 + IPv6.

sess_gobgp_openbgpd_ebgp() {
  session_begin gobgp-openbgpd-ebgp
  ns_add b-gobgp; ns_add b-obgpd
  link b-gobgp to-obgpd b-obgpd to-gobgp
  addr b-gobgp to-obgpd 10.0.2.1/24; addr b-gobgp to-obgpd fd00:2::1/64
  addr b-obgpd to-gobgp 10.0.2.2/24; addr b-obgpd to-gobgp fd00:2::2/64
  wait_linklocal b-gobgp to-obgpd; wait_linklocal b-obgpd to-gobgp
  obgpd_lo_fix b-obgpd fd00:2::2

  mkdir -p "$SDIR/gobgp" "$SDIR/obgpd"
  cat >"$SDIR/gobgp/gobgpd.toml" <<'EOF'
[global.config]
  as = 65002
  router-id = "10.0.2.1"
  local-address-list = ["10.0.2.1", "fd00:2::1"]

[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.0.2.2"
    peer-as = 4200000002
  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 120
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
EOF

  cat >"$SDIR/obgpd/bgpd.conf" <<EOF
AS 4200000002
router-id 10.0.2.2
fib-update no
socket "$SDIR/obgpd/bgpd.sock"
listen on 10.0.2.2
network 10.2.101.0/24 set { community 65102:100 community 65102:200 large-community 4200000002:100:1 ext-community rt 4200000002:10 med 30 }
network 10.2.102.0/24 set { origin egp }
network fd00:2:101::/48 set { community 65102:600 large-community 4200000002:600:1 ext-community soo 65102:20 med 60 }
network fd00:2:102::/48
neighbor 10.0.2.1 {
  remote-as 65002
  descr "gobgp"
  passive
  announce IPv4 unicast
  announce IPv6 unicast
}
allow from any
allow to any
EOF

  cap_start b-gobgp to-obgpd
  obgpd_start obgpd b-obgpd
  gobgp_start gobgp b-gobgp

  step "originating routes"
  gobgp_ gobgp global rib -a ipv4 add 10.2.1.0/24 origin igp med 50 community 65002:100,65002:200 \
    large-community 4200000001:1:1,65002:2:3 rt 65002:10
  gobgp_ gobgp global rib -a ipv4 add 10.2.2.0/24 origin incomplete community 65002:300
  gobgp_ gobgp global rib -a ipv4 add 10.2.3.0/24
  gobgp_ gobgp global rib -a ipv6 add fd00:2:1::/48 nexthop fd00:2::1 origin igp med 50 community 65002:600 \
    large-community 65002:600:1
  gobgp_ gobgp global rib -a ipv6 add fd00:2:2::/48 nexthop fd00:2::1
  gobgp_ gobgp global rib -a ipv6 add fd00:2:3::/48 nexthop fd00:2::1
  # dynamic networks on OpenBGPD, so that they can be withdrawn with bgpctl
  bgpctl_ obgpd network add 10.2.103.0/24 community 65102:300 >/dev/null
  bgpctl_ obgpd network add fd00:2:103::/48 >/dev/null

  step "waiting for the initial exchange"
  wait_has 60 gobgp_has gobgp 10.2.101.0/24 10.2.102.0/24 10.2.103.0/24 fd00:2:101::/48 fd00:2:102::/48 fd00:2:103::/48
  wait_has 30 obgpd_has obgpd 10.2.1.0/24 10.2.2.0/24 10.2.3.0/24 fd00:2:1::/48 fd00:2:2::/48 fd00:2:3::/48
  sleep 2

  step "withdrawals"
  gobgp_ gobgp global rib -a ipv4 del 10.2.3.0/24
  gobgp_ gobgp global rib -a ipv6 del fd00:2:3::/48
  bgpctl_ obgpd network delete 10.2.103.0/24 >/dev/null
  bgpctl_ obgpd network delete fd00:2:103::/48 >/dev/null
  wait_lacks 30 gobgp_has gobgp 10.2.103.0/24 fd00:2:103::/48
  wait_lacks 30 obgpd_has obgpd 10.2.3.0/24 fd00:2:3::/48
  sleep 1

  step "openbgpd takes the session down with a message"
  bgpctl_ obgpd neighbor 10.0.2.1 down "openbgpd: planned maintenance" >/dev/null
  sleep 2
  cap_stop

  NOTES=("scenario: initial exchange (ipv4 + ipv6 over one ipv4 session), GoBGP withdraws 10.2.3.0/24 + fd00:2:3::/48,"
    "scenario: OpenBGPD withdraws 10.2.103.0/24 + fd00:2:103::/48, then OpenBGPD takes the session down with a shutdown message")
  session_finish "gobgp $V_GOBGP, AS 65002, 10.0.2.1 / fd00:2::1" \
    "openbgpd $V_OBGPD, AS 4200000002, 10.0.2.2 / fd00:2::2" \
    "10.0.2.1 fd00:2::1" "10.0.2.2 fd00:2::2" \
    a:OPEN b:OPEN a:UPDATE b:UPDATE a:cap:AS4=65002 b:cap:AS4=4200000002 a:cap:GR b:cap:GR \
    a:attr:COMMUNITIES a:attr:LARGE_COMMUNITIES a:attr:EXT_COMMUNITIES a:attr:MED \
    b:attr:COMMUNITIES b:attr:LARGE_COMMUNITIES b:attr:EXT_COMMUNITIES b:attr:MED \
    a:withdraw:ipv4 a:withdraw:ipv6 b:withdraw:ipv4 b:withdraw:ipv6 'a:eor:*' 'b:eor:*' \
    b:notification:6/2 'b:shutdown-message:openbgpd: planned maintenance'
}

# ===========================================================================
# c. FRR (route reflector) <-> GoBGP (client), iBGP with ADD-PATH.  A BIRD
#    client behind FRR supplies reflected routes (ORIGINATOR_ID,
#    CLUSTER_LIST) and a second path for 10.3.99.0/24 and fd00:3:99::/48.
#    Only the FRR <-> GoBGP link is captured.

sess_frr_gobgp_ibgp_addpath() {
  session_begin frr-gobgp-ibgp-addpath
  ns_add c-frr; ns_add c-gobgp; ns_add c-bird
  link c-frr to-gobgp c-gobgp to-frr
  link c-frr to-bird c-bird to-frr
  addr c-frr to-gobgp 10.0.3.1/24; addr c-frr to-gobgp fd00:3::1/64
  addr c-gobgp to-frr 10.0.3.2/24; addr c-gobgp to-frr fd00:3::2/64
  addr c-frr to-bird 10.0.13.1/24; addr c-frr to-bird fd00:13::1/64
  addr c-bird to-frr 10.0.13.2/24; addr c-bird to-frr fd00:13::2/64
  wait_linklocal c-frr to-gobgp; wait_linklocal c-gobgp to-frr
  wait_linklocal c-frr to-bird; wait_linklocal c-bird to-frr

  mkdir -p "$SDIR/frr" "$SDIR/gobgp" "$SDIR/bird"
  { frr_header c-frr; cat <<'EOF'
route-map IBGP permit 10
 set local-preference 200
 set metric 5
 set community 65003:100
 set large-community 65003:1:1
 set extcommunity rt 65003:10
!
router bgp 65003
 bgp router-id 10.0.3.1
 bgp cluster-id 10.0.3.100
 no bgp network import-check
 no bgp default ipv4-unicast
 neighbor 10.0.3.2 remote-as internal
 neighbor 10.0.3.2 description gobgp
 neighbor 10.0.3.2 timers connect 5
 neighbor 10.0.13.2 remote-as internal
 neighbor 10.0.13.2 description bird
 !
 address-family ipv4 unicast
  network 10.3.1.0/24 route-map IBGP
  network 10.3.2.0/24
  network 10.3.3.0/24
  network 10.3.99.0/24 route-map IBGP
  neighbor 10.0.3.2 activate
  neighbor 10.0.3.2 route-reflector-client
  neighbor 10.0.3.2 addpath-tx-all-paths
  neighbor 10.0.13.2 activate
  neighbor 10.0.13.2 route-reflector-client
 exit-address-family
 !
 address-family ipv6 unicast
  network fd00:3:1::/48 route-map IBGP
  network fd00:3:2::/48
  network fd00:3:3::/48
  network fd00:3:99::/48
  neighbor 10.0.3.2 activate
  neighbor 10.0.3.2 route-reflector-client
  neighbor 10.0.3.2 addpath-tx-all-paths
  neighbor 10.0.13.2 activate
  neighbor 10.0.13.2 route-reflector-client
 exit-address-family
!
EOF
  } >"$SDIR/frr/bgpd.conf"

  cat >"$SDIR/gobgp/gobgpd.toml" <<'EOF'
[global.config]
  as = 65003
  router-id = "10.0.3.2"
  local-address-list = ["10.0.3.2", "fd00:3::2"]

[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.0.3.1"
    peer-as = 65003
  [neighbors.transport.config]
    passive-mode = true
  [neighbors.add-paths.config]
    receive = true
    send-max = 8
  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 120
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
EOF

  cat >"$SDIR/bird/bird.conf" <<'EOF'
router id 10.0.13.2;
log stderr all;
protocol device { }
protocol static st4 {
  ipv4;
  route 10.3.201.0/24 blackhole { bgp_local_pref = 300; bgp_community.add((65003, 201)); };
}
protocol static st4w {
  ipv4;
  route 10.3.99.0/24 blackhole { bgp_community.add((65003, 399)); bgp_med = 7; };
  route 10.3.203.0/24 blackhole;
}
protocol static st6 { ipv6; route fd00:3:201::/48 blackhole { bgp_large_community.add((65003, 201, 6)); }; }
protocol static st6w { ipv6; route fd00:3:99::/48 blackhole; route fd00:3:203::/48 blackhole; }
protocol bgp peer_rr {
  local 10.0.13.2 as 65003;
  neighbor 10.0.13.1 as 65003;
  ipv4 { import all; export where source = RTS_STATIC; next hop self; };
  ipv6 { import all; export where source = RTS_STATIC; next hop self; };
}
EOF

  cap_start c-frr to-gobgp
  frr_start frr c-frr
  bird_start bird c-bird
  wait_has 60 frr_has frr 10.3.201.0/24 10.3.203.0/24 fd00:3:201::/48 fd00:3:203::/48
  gobgp_start gobgp c-gobgp

  step "originating routes on gobgp"
  gobgp_ gobgp global rib -a ipv4 add 10.3.101.0/24 origin igp local-pref 150 med 15 community 65003:101 \
    large-community 65003:101:1
  gobgp_ gobgp global rib -a ipv4 add 10.3.102.0/24
  gobgp_ gobgp global rib -a ipv4 add 10.3.103.0/24
  gobgp_ gobgp global rib -a ipv6 add fd00:3:101::/48 nexthop fd00:3::2 local-pref 150 community 65003:601
  gobgp_ gobgp global rib -a ipv6 add fd00:3:103::/48 nexthop fd00:3::2

  step "waiting for the initial exchange"
  wait_until 60 "gobgp has two paths for 10.3.99.0/24" paths_are gobgp_paths gobgp 10.3.99.0/24 2
  wait_until 30 "gobgp has two paths for fd00:3:99::/48" paths_are gobgp_paths gobgp fd00:3:99::/48 2
  wait_has 30 gobgp_has gobgp 10.3.1.0/24 10.3.2.0/24 10.3.3.0/24 10.3.201.0/24 10.3.203.0/24 \
    fd00:3:1::/48 fd00:3:2::/48 fd00:3:3::/48 fd00:3:201::/48 fd00:3:203::/48
  wait_has 30 frr_has frr 10.3.101.0/24 10.3.102.0/24 10.3.103.0/24 fd00:3:101::/48 fd00:3:103::/48
  sleep 2

  step "withdrawals (frr's own, reflected ones incl. one of two paths, gobgp's)"
  vty frr "configure terminal" "router bgp 65003" "address-family ipv4 unicast" "no network 10.3.3.0/24" \
    "exit-address-family" "address-family ipv6 unicast" "no network fd00:3:3::/48"
  birdc_ bird disable st4w >/dev/null
  birdc_ bird disable st6w >/dev/null
  gobgp_ gobgp global rib -a ipv4 del 10.3.103.0/24
  gobgp_ gobgp global rib -a ipv6 del fd00:3:103::/48
  wait_until 30 "gobgp has one path for 10.3.99.0/24" paths_are gobgp_paths gobgp 10.3.99.0/24 1
  wait_until 30 "gobgp has one path for fd00:3:99::/48" paths_are gobgp_paths gobgp fd00:3:99::/48 1
  wait_lacks 30 gobgp_has gobgp 10.3.3.0/24 10.3.203.0/24 fd00:3:3::/48 fd00:3:203::/48
  wait_lacks 30 frr_has frr 10.3.103.0/24 fd00:3:103::/48
  sleep 1

  # GoBGP 3.10 never sends ROUTE-REFRESH (its softresetin re-reads its own
  # Adj-RIB-In), so the request comes from FRR and GoBGP answers it.
  step "frr asks gobgp for a route refresh (ipv4)"
  vty frr "clear bgp ipv4 unicast 10.0.3.2 soft in"
  sleep 3

  step "gobgp shuts the session down with a message"
  # `disable` ignores --reason in GoBGP 3.10; the deprecated `shutdown` sends it
  gobgp_ gobgp neighbor 10.0.3.1 shutdown --reason "gobgp: draining node" >/dev/null
  sleep 2
  cap_stop

  NOTES=("scenario: FRR is route reflector (cluster-id 10.0.3.100) for GoBGP and for a BIRD client (10.0.13.2) that is not captured;"
    "scenario: 10.3.99.0/24 and fd00:3:99::/48 have two paths at FRR (own + BIRD's), both sent to GoBGP with distinct path ids;"
    "scenario: withdrawals of FRR's own, of reflected routes (one of the two paths) and of GoBGP's routes;"
    "scenario: FRR sends ROUTE-REFRESH for ipv4 (GoBGP re-sends its routes), then GoBGP shuts the session down with a shutdown message")
  session_finish "frr $V_FRR, AS 65003, 10.0.3.1 / fd00:3::1 (route reflector)" \
    "gobgp $V_GOBGP, AS 65003, 10.0.3.2 / fd00:3::2 (route-reflector client)" \
    "10.0.3.1 fd00:3::1" "10.0.3.2 fd00:3::2" \
    a:OPEN b:OPEN a:UPDATE b:UPDATE 'a:cap:ADDPATH:ipv4:rx+tx' 'b:cap:ADDPATH:ipv4:rx+tx' \
    'a:cap:ADDPATH:ipv6:rx+tx' 'b:cap:ADDPATH:ipv6:rx+tx' \
    a:attr:LOCAL_PREF b:attr:LOCAL_PREF a:attr:ORIGINATOR_ID a:attr:CLUSTER_LIST \
    a:attr:COMMUNITIES a:attr:LARGE_COMMUNITIES a:attr:EXT_COMMUNITIES a:attr:MED b:attr:MED \
    a:withdraw:ipv4 a:withdraw:ipv6 b:withdraw:ipv4 b:withdraw:ipv6 'a:refresh:ipv4:request' \
    b:notification:6/2 'b:shutdown-message:gobgp: draining node'
}

# ===========================================================================
# d. BIRD <-> OpenBGPD, eBGP, IPv4 + IPv6, ADD-PATH both ways, enhanced
#    route refresh requested both ways (OpenBGPD 7.7 ignores the requests
#    it receives, BIRD answers with BoRR/EoRR).

sess_bird_openbgpd_ebgp() {
  session_begin bird-openbgpd-ebgp
  ns_add d-bird; ns_add d-obgpd
  link d-bird to-obgpd d-obgpd to-bird
  addr d-bird to-obgpd 10.0.4.1/24; addr d-bird to-obgpd fd00:4::1/64
  addr d-obgpd to-bird 10.0.4.2/24; addr d-obgpd to-bird fd00:4::2/64
  wait_linklocal d-bird to-obgpd; wait_linklocal d-obgpd to-bird
  obgpd_lo_fix d-obgpd fd00:4::2

  mkdir -p "$SDIR/bird" "$SDIR/obgpd"
  cat >"$SDIR/bird/bird.conf" <<'EOF'
router id 10.0.4.1;
log stderr all;
protocol device { }
protocol static st4 {
  ipv4;
  route 10.4.1.0/24 blackhole {
    bgp_community.add((65104, 100)); bgp_large_community.add((4200000004, 1, 1));
    bgp_ext_community.add((rt, 4200000004, 10));
  };
  route 10.4.99.0/24 blackhole { bgp_community.add((65104, 991)); };
}
# a second route for 10.4.99.0/24 and fd00:4:99::/48: with ADD-PATH tx both are sent
protocol static st4b { ipv4; route 10.4.99.0/24 blackhole { bgp_community.add((65104, 992)); }; }
protocol static st4w { ipv4; route 10.4.3.0/24 blackhole; }
protocol static st6 {
  ipv6;
  route fd00:4:1::/48 blackhole { bgp_community.add((65104, 600)); bgp_ext_community.add((ro, 65104, 60)); };
  route fd00:4:99::/48 blackhole { bgp_community.add((65104, 991)); };
}
protocol static st6b { ipv6; route fd00:4:99::/48 blackhole { bgp_community.add((65104, 992)); }; }
protocol static st6w { ipv6; route fd00:4:3::/48 blackhole; }
# BIRD sends MULTI_EXIT_DISC to an eBGP peer only when the export filter sets it
filter to_obgpd {
  if source != RTS_STATIC then reject;
  if net = 10.4.1.0/24 then bgp_med = 10;
  if (65104, 991) ~ bgp_community then bgp_med = 1;
  if (65104, 992) ~ bgp_community then bgp_med = 2;
  accept;
}
protocol bgp peer_obgpd {
  local 10.0.4.1 as 4200000004;
  neighbor 10.0.4.2 as 65004;
  ipv4 { import all; export filter to_obgpd; add paths on; };
  ipv6 { import all; export filter to_obgpd; add paths on; };
}
EOF

  cat >"$SDIR/obgpd/bgpd.conf" <<EOF
AS 65004
router-id 10.0.4.2
fib-update no
socket "$SDIR/obgpd/bgpd.sock"
listen on 10.0.4.2
network 10.4.101.0/24 set { community 65004:100 large-community 65004:100:1 ext-community rt 65004:10 med 30 }
network 10.4.102.0/24
network fd00:4:101::/48 set { community 65004:600 large-community 65004:600:1 }
network fd00:4:102::/48
neighbor 10.0.4.1 {
  remote-as 4200000004
  descr "bird"
  passive
  announce IPv4 unicast
  announce IPv6 unicast
  announce enhanced refresh yes
  announce add-path recv yes
  announce add-path send all
}
allow from any
allow to any
EOF

  cap_start d-bird to-obgpd
  obgpd_start obgpd d-obgpd
  bgpctl_ obgpd network add 10.4.103.0/24 community 65004:300 >/dev/null
  bgpctl_ obgpd network add fd00:4:103::/48 >/dev/null
  bird_start bird d-bird

  step "waiting for the initial exchange"
  wait_has 60 bird_has bird 10.4.101.0/24 10.4.102.0/24 10.4.103.0/24 fd00:4:101::/48 fd00:4:102::/48 fd00:4:103::/48
  wait_has 30 obgpd_has obgpd 10.4.1.0/24 10.4.3.0/24 fd00:4:1::/48 fd00:4:3::/48
  wait_until 30 "openbgpd has two paths for 10.4.99.0/24" paths_are obgpd_paths obgpd 10.4.99.0/24 2
  wait_until 30 "openbgpd has two paths for fd00:4:99::/48" paths_are obgpd_paths obgpd fd00:4:99::/48 2
  sleep 2

  step "bird asks for a route refresh, then openbgpd does"
  birdc_ bird reload in peer_obgpd >/dev/null
  sleep 2
  bgpctl_ obgpd neighbor 10.0.4.1 refresh >/dev/null
  sleep 2

  step "withdrawals (one of two paths, and whole prefixes)"
  birdc_ bird disable st4b >/dev/null
  birdc_ bird disable st4w >/dev/null
  birdc_ bird disable st6w >/dev/null
  bgpctl_ obgpd network delete 10.4.103.0/24 >/dev/null
  bgpctl_ obgpd network delete fd00:4:103::/48 >/dev/null
  wait_until 30 "openbgpd has one path for 10.4.99.0/24" paths_are obgpd_paths obgpd 10.4.99.0/24 1
  wait_lacks 30 obgpd_has obgpd 10.4.3.0/24 fd00:4:3::/48
  wait_lacks 30 bird_has bird 10.4.103.0/24 fd00:4:103::/48
  sleep 1

  step "openbgpd takes the session down (no message)"
  bgpctl_ obgpd neighbor 10.0.4.1 down >/dev/null
  sleep 2
  cap_stop

  NOTES=("scenario: ADD-PATH negotiated both ways; BIRD sends two paths for 10.4.99.0/24 and fd00:4:99::/48;"
    "scenario: BIRD sends ROUTE-REFRESH (ipv4, ipv6), which OpenBGPD 7.7 ignores ('AID not negotiated', see docs/GOLDEN.md);"
    "scenario: OpenBGPD sends ROUTE-REFRESH (ipv4, ipv6), BIRD answers with BoRR ... EoRR;"
    "scenario: withdrawals (one path of 10.4.99.0/24, whole prefixes from both sides), then OpenBGPD takes the session down without a message")
  session_finish "bird $V_BIRD, AS 4200000004, 10.0.4.1 / fd00:4::1" \
    "openbgpd $V_OBGPD, AS 65004, 10.0.4.2 / fd00:4::2" \
    "10.0.4.1 fd00:4::1" "10.0.4.2 fd00:4::2" \
    a:OPEN b:OPEN a:UPDATE b:UPDATE 'a:cap:ADDPATH:ipv4:rx+tx' 'b:cap:ADDPATH:ipv4:rx+tx' a:cap:ERR b:cap:ERR \
    a:attr:COMMUNITIES a:attr:LARGE_COMMUNITIES a:attr:EXT_COMMUNITIES a:attr:MED \
    b:attr:COMMUNITIES b:attr:LARGE_COMMUNITIES b:attr:EXT_COMMUNITIES b:attr:MED \
    a:withdraw:ipv4 a:withdraw:ipv6 b:withdraw:ipv4 b:withdraw:ipv6 \
    'a:refresh:ipv4:request' 'a:refresh:ipv6:request' \
    'b:refresh:ipv4:request' 'a:refresh:ipv4:BoRR' 'a:refresh:ipv4:EoRR' 'a:refresh:ipv6:BoRR' 'a:refresh:ipv6:EoRR' \
    b:notification:6/2
}

# ===========================================================================
# e. FRR <-> BIRD over an IPv6-only link: IPv4 routes with IPv6 next hops
#    (extended next hop, RFC 8950).

sess_frr_bird_extended_nexthop() {
  session_begin frr-bird-extended-nexthop
  ns_add e-frr; ns_add e-bird
  link e-frr to-bird e-bird to-frr
  addr e-frr to-bird fd00:5::1/64
  addr e-bird to-frr fd00:5::2/64
  wait_linklocal e-frr to-bird; wait_linklocal e-bird to-frr

  mkdir -p "$SDIR/frr" "$SDIR/bird"
  { frr_header e-frr; cat <<'EOF'
router bgp 65005
 bgp router-id 10.0.5.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 no bgp default ipv4-unicast
 neighbor fd00:5::2 remote-as 65105
 neighbor fd00:5::2 description bird
 neighbor fd00:5::2 capability extended-nexthop
 neighbor fd00:5::2 timers 3 9
 !
 address-family ipv4 unicast
  network 10.5.1.0/24 route-map TAG-1
  network 10.5.2.0/24
  network 10.5.3.0/24
  neighbor fd00:5::2 activate
 exit-address-family
 !
 address-family ipv6 unicast
  network fd00:5:1::/48 route-map TAG-2
  network fd00:5:3::/48
  neighbor fd00:5::2 activate
 exit-address-family
!
EOF
  } >"$SDIR/frr/bgpd.conf"

  cat >"$SDIR/bird/bird.conf" <<'EOF'
router id 10.0.5.2;
log stderr all;
protocol device { }
protocol static st4 {
  ipv4;
  route 10.5.101.0/24 blackhole {
    bgp_community.add((65105, 100)); bgp_large_community.add((65105, 1, 1)); bgp_ext_community.add((rt, 65105, 10));
  };
  route 10.5.102.0/24 blackhole;
}
protocol static st4w { ipv4; route 10.5.103.0/24 blackhole; }
protocol static st6 { ipv6; route fd00:5:101::/48 blackhole { bgp_community.add((65105, 600)); }; }
protocol static st6w { ipv6; route fd00:5:103::/48 blackhole; }
filter to_frr {
  if source != RTS_STATIC then reject;
  if net = 10.5.101.0/24 then bgp_med = 30;
  accept;
}
protocol bgp peer_frr {
  local fd00:5::2 as 65105;
  neighbor fd00:5::1 as 65005;
  interface "to-frr";
  passive on;
  ipv4 { import all; export filter to_frr; extended next hop on; };
  ipv6 { import all; export filter to_frr; };
}
EOF

  cap_start e-frr to-bird
  bird_start bird e-bird
  frr_start frr e-frr

  step "waiting for the initial exchange"
  wait_has 60 frr_has frr 10.5.101.0/24 10.5.102.0/24 10.5.103.0/24 fd00:5:101::/48 fd00:5:103::/48
  wait_has 30 bird_has bird 10.5.1.0/24 10.5.2.0/24 10.5.3.0/24 fd00:5:1::/48 fd00:5:3::/48
  sleep 2

  step "withdrawals"
  vty frr "configure terminal" "router bgp 65005" "address-family ipv4 unicast" "no network 10.5.3.0/24" \
    "exit-address-family" "address-family ipv6 unicast" "no network fd00:5:3::/48"
  birdc_ bird disable st4w >/dev/null
  birdc_ bird disable st6w >/dev/null
  wait_lacks 30 bird_has bird 10.5.3.0/24 fd00:5:3::/48
  wait_lacks 30 frr_has frr 10.5.103.0/24 fd00:5:103::/48
  sleep 1

  step "a few KEEPALIVE intervals (3 s)"
  sleep 7

  step "bird disables the session (no message)"
  birdc_ bird disable peer_frr >/dev/null
  sleep 2
  cap_stop

  NOTES=("scenario: session over IPv6 only (no IPv4 address on the link); extended next hop negotiated for ipv4 unicast,"
    "scenario: IPv4 routes travel in MP_REACH_NLRI (AFI 1) with IPv6 next hops; FRR offers hold time 9 s, so KEEPALIVEs"
    "scenario: come every 3 s; withdrawals from both sides,"
    "scenario: then BIRD disables the session without a message")
  session_finish "frr $V_FRR, AS 65005, fd00:5::1" \
    "bird $V_BIRD, AS 65105, fd00:5::2" \
    "fd00:5::1 $(ip -n bgw-e-frr -6 addr show dev to-bird scope link | sed -n 's/.*inet6 \([^/]*\).*/\1/p')" \
    "fd00:5::2 $(ip -n bgw-e-bird -6 addr show dev to-frr scope link | sed -n 's/.*inet6 \([^/]*\).*/\1/p')" \
    a:OPEN b:OPEN a:UPDATE b:UPDATE 'a:cap:ENH:ipv4:nh-afi2' 'b:cap:ENH:ipv4:nh-afi2' \
    'a:reach:ipv4:*' 'b:reach:ipv4:*' 'a:reach:ipv6:*' 'b:reach:ipv6:*' \
    a:attr:COMMUNITIES a:attr:LARGE_COMMUNITIES a:attr:EXT_COMMUNITIES b:attr:EXT_COMMUNITIES \
    a:withdraw:ipv4 a:withdraw:ipv6 b:withdraw:ipv4 b:withdraw:ipv6 b:notification:6/2
}

# ===========================================================================
# f. FRR with a 4-octet AS <-> BIRD without 4-octet AS support (enable as4
#    off): AS_TRANS in OPEN and AS_PATH, AS4_PATH, AGGREGATOR with
#    AS4_AGGREGATOR.
#
#    BIRD 2.0.12 with `enable as4 off` still reads the AS number from the
#    peer's 4-octet-AS capability, so it rejects FRR's first OPEN (My AS 23456
#    plus capability AS 4200000006) with NOTIFICATION Bad Peer AS, and it
#    refuses a configured neighbor AS above 65535.  That rejected attempt is
#    kept in the file (tcp connection 1).  FRR is then told not to send
#    capabilities at all (`dont-capability-negotiate`), so that it presents
#    itself as AS 23456 only; the session comes up as a plain RFC 4271
#    IPv4-unicast session (no MP-BGP, hence no IPv6 here) on which FRR acts
#    as a 4-octet speaker talking to an old one.

sess_frr_bird_as2() {
  session_begin frr-bird-as2
  ns_add f-frr; ns_add f-bird
  link f-frr to-bird f-bird to-frr
  addr f-frr to-bird 10.0.6.1/24; addr f-frr to-bird fd00:6::1/64
  addr f-bird to-frr 10.0.6.2/24; addr f-bird to-frr fd00:6::2/64
  wait_linklocal f-frr to-bird; wait_linklocal f-bird to-frr

  mkdir -p "$SDIR/frr" "$SDIR/bird"
  { frr_header f-frr; cat <<'EOF'
route-map PREPEND permit 10
 set as-path prepend 4200000099 65099
 set community 65006:100
!
router bgp 4200000006
 bgp router-id 10.0.6.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 no bgp default ipv4-unicast
 neighbor 10.0.6.2 remote-as 65006
 neighbor 10.0.6.2 description bird-as2
 neighbor 10.0.6.2 timers connect 3
 !
 address-family ipv4 unicast
  network 10.6.1.0/24 route-map PREPEND
  network 10.6.2.0/24 route-map TAG-1
  network 10.6.3.0/24
  aggregate-address 10.6.0.0/16
  neighbor 10.0.6.2 activate
 exit-address-family
!
EOF
  } >"$SDIR/frr/bgpd.conf"

  cat >"$SDIR/bird/bird.conf" <<'EOF'
router id 10.0.6.2;
log stderr all;
protocol device { }
protocol static st4 {
  ipv4;
  route 10.6.101.0/24 blackhole {
    bgp_path.prepend(4200000066); bgp_path.prepend(65066);
    bgp_community.add((65006, 101)); bgp_large_community.add((4200000006, 101, 1));
  };
  route 10.6.102.0/24 blackhole;
}
protocol static st4w { ipv4; route 10.6.103.0/24 blackhole; }
protocol bgp peer_frr {
  local 10.0.6.2 as 65006;
  # an old (2-octet) speaker sees every 4-octet AS as AS_TRANS
  neighbor 10.0.6.1 as 23456;
  enable as4 off;
  passive on;
  error wait time 1, 5;
  ipv4 { import all; export where source = RTS_STATIC; };
}
EOF

  cap_start f-frr to-bird
  bird_start bird f-bird
  frr_start frr f-frr

  step "bird rejects frr's first OPEN (Bad Peer AS), then frr stops sending capabilities"
  wait_until 60 "bird rejected frr's OPEN" grep -q 'Bad peer AS' "$SDIR/bird/bird.log"
  vty frr "configure terminal" "router bgp 4200000006" "neighbor 10.0.6.2 dont-capability-negotiate"

  step "waiting for the initial exchange"
  wait_has 60 frr_has frr 10.6.101.0/24 10.6.102.0/24 10.6.103.0/24
  wait_has 30 bird_has bird 10.6.0.0/16 10.6.1.0/24 10.6.2.0/24 10.6.3.0/24
  sleep 2

  step "withdrawals"
  vty frr "configure terminal" "router bgp 4200000006" "address-family ipv4 unicast" "no network 10.6.3.0/24"
  birdc_ bird disable st4w >/dev/null
  wait_lacks 30 bird_has bird 10.6.3.0/24
  wait_lacks 30 frr_has frr 10.6.103.0/24
  sleep 1

  step "frr shuts the neighbor down (no message)"
  vty frr "configure terminal" "router bgp 4200000006" "neighbor 10.0.6.2 shutdown"
  sleep 2
  cap_stop

  NOTES=("scenario: tcp connection 1: FRR's OPEN carries My AS 23456 and the 4-octet-AS capability 4200000006; BIRD 2.0.12"
    "scenario: ('enable as4 off', neighbor AS 23456) still reads the capability and answers NOTIFICATION OPEN/Bad Peer AS;"
    "scenario: tcp connection 2: FRR sends an OPEN without any optional parameter (dont-capability-negotiate), the session is"
    "scenario: plain IPv4 unicast between an old speaker (BIRD) and FRR as 4-octet speaker: AS_TRANS in AS_PATH with AS4_PATH,"
    "scenario: AGGREGATOR 23456 with AS4_AGGREGATOR 4200000006 for 10.6.0.0/16, BIRD's 4-octet prepends in AS4_PATH;"
    "scenario: withdrawals from both sides, then FRR shuts the neighbor down without a message")
  session_finish "frr $V_FRR, AS 4200000006, 10.0.6.1" \
    "bird $V_BIRD, AS 65006 (enable as4 off), 10.0.6.2" \
    "10.0.6.1 fd00:6::1" "10.0.6.2 fd00:6::2" \
    a:OPEN b:OPEN a:UPDATE b:UPDATE a:open:myas=23456 b:open:myas=65006 a:cap:AS4=4200000006 \
    a:open:no-optional-parameters b:notification:2/2 \
    a:attr:AS4_PATH a:attr:AGGREGATOR a:attr:AS4_AGGREGATOR a:attr:ATOMIC_AGGREGATE b:attr:AS4_PATH \
    a:withdraw:ipv4 b:withdraw:ipv4 a:notification:6/2
}

# ===========================================================================
# g. FRR <-> OpenBGPD: BGP roles (customer/provider, OTC attribute), route
#    refresh requests in both directions (FRR answers with BoRR/EoRR;
#    OpenBGPD 7.7 ignores the requests it receives), then an RFC 8203
#    shutdown communication from FRR.

sess_frr_openbgpd_refresh_shutdown() {
  session_begin frr-openbgpd-refresh-shutdown
  ns_add g-frr; ns_add g-obgpd
  link g-frr to-obgpd g-obgpd to-frr
  addr g-frr to-obgpd 10.0.7.1/24; addr g-frr to-obgpd fd00:7::1/64
  addr g-obgpd to-frr 10.0.7.2/24; addr g-obgpd to-frr fd00:7::2/64
  wait_linklocal g-frr to-obgpd; wait_linklocal g-obgpd to-frr
  obgpd_lo_fix g-obgpd fd00:7::2

  mkdir -p "$SDIR/frr" "$SDIR/obgpd"
  { frr_header g-frr; cat <<'EOF'
router bgp 65007
 bgp router-id 10.0.7.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 no bgp default ipv4-unicast
 neighbor 10.0.7.2 remote-as 65107
 neighbor 10.0.7.2 description openbgpd
 neighbor 10.0.7.2 local-role customer
 !
 address-family ipv4 unicast
  network 10.7.1.0/24 route-map TAG-1
  network 10.7.2.0/24
  network 10.7.3.0/24
  neighbor 10.0.7.2 activate
 exit-address-family
 !
 address-family ipv6 unicast
  network fd00:7:1::/48 route-map TAG-2
  network fd00:7:3::/48
  neighbor 10.0.7.2 activate
 exit-address-family
!
EOF
  } >"$SDIR/frr/bgpd.conf"

  cat >"$SDIR/obgpd/bgpd.conf" <<EOF
AS 65107
router-id 10.0.7.2
fib-update no
socket "$SDIR/obgpd/bgpd.sock"
listen on 10.0.7.2
network 10.7.101.0/24 set { community 65107:100 large-community 65107:100:1 ext-community rt 65107:10 med 30 }
network fd00:7:101::/48 set { community 65107:600 }
neighbor 10.0.7.1 {
  remote-as 65007
  descr "frr"
  passive
  announce IPv4 unicast
  announce IPv6 unicast
  announce enhanced refresh yes
  announce policy provider
}
allow from any
allow to any
EOF

  cap_start g-frr to-obgpd
  obgpd_start obgpd g-obgpd
  bgpctl_ obgpd network add 10.7.103.0/24 >/dev/null
  bgpctl_ obgpd network add fd00:7:103::/48 >/dev/null
  frr_start frr g-frr

  step "waiting for the initial exchange"
  wait_has 60 frr_has frr 10.7.101.0/24 10.7.103.0/24 fd00:7:101::/48 fd00:7:103::/48
  wait_has 30 obgpd_has obgpd 10.7.1.0/24 10.7.2.0/24 10.7.3.0/24 fd00:7:1::/48 fd00:7:3::/48
  sleep 2

  step "frr asks for route refresh (ipv4, ipv6)"
  vty frr "clear bgp ipv4 unicast 10.0.7.2 soft in"
  sleep 2
  vty frr "clear bgp ipv6 unicast 10.0.7.2 soft in"
  sleep 2
  step "openbgpd asks for route refresh"
  bgpctl_ obgpd neighbor 10.0.7.1 refresh >/dev/null
  sleep 3

  step "withdrawals"
  vty frr "configure terminal" "router bgp 65007" "address-family ipv4 unicast" "no network 10.7.3.0/24" \
    "exit-address-family" "address-family ipv6 unicast" "no network fd00:7:3::/48"
  bgpctl_ obgpd network delete 10.7.103.0/24 >/dev/null
  bgpctl_ obgpd network delete fd00:7:103::/48 >/dev/null
  wait_lacks 30 obgpd_has obgpd 10.7.3.0/24 fd00:7:3::/48
  wait_lacks 30 frr_has frr 10.7.103.0/24 fd00:7:103::/48
  sleep 1

  step "frr shuts the neighbor down with a message"
  vty frr "configure terminal" "router bgp 65007" "neighbor 10.0.7.2 shutdown message maintenance"
  sleep 2
  cap_stop

  NOTES=("scenario: BGP roles (RFC 9234): FRR is customer, OpenBGPD provider, so OpenBGPD's routes carry OTC;"
    "scenario: enhanced route refresh negotiated; FRR sends ROUTE-REFRESH for ipv4 and ipv6, which OpenBGPD 7.7 ignores"
    "scenario: ('AID not negotiated', see docs/GOLDEN.md); OpenBGPD sends ROUTE-REFRESH (ipv4, ipv6), FRR answers with BoRR ... EoRR;"
    "scenario: withdrawals from both sides;"
    "scenario: then FRR shuts the neighbor down with the RFC 8203 message \"maintenance\"")
  session_finish "frr $V_FRR, AS 65007, 10.0.7.1 / fd00:7::1" \
    "openbgpd $V_OBGPD, AS 65107, 10.0.7.2 / fd00:7::2" \
    "10.0.7.1 fd00:7::1" "10.0.7.2 fd00:7::2" \
    a:OPEN b:OPEN a:UPDATE b:UPDATE a:cap:ERR b:cap:ERR a:ROUTE-REFRESH b:ROUTE-REFRESH \
    'a:refresh:ipv4:request' 'a:refresh:ipv6:request' 'b:refresh:ipv4:request' 'b:refresh:ipv6:request' \
    'a:refresh:ipv4:BoRR' 'a:refresh:ipv4:EoRR' 'a:refresh:ipv6:BoRR' 'a:refresh:ipv6:EoRR' \
    a:withdraw:ipv4 a:withdraw:ipv6 b:withdraw:ipv4 b:withdraw:ipv6 \
    a:cap:ROLE b:cap:ROLE b:attr:OTC a:notification:6/2 'a:shutdown-message:maintenance'
}

# ---------------------------------------------------------------------------

main() {
  local s sessions=()
  if [[ ${1:-} == --list ]]; then
    printf '%s\n' "${ALL_SESSIONS[@]}"
    exit 0
  fi
  if [[ $# -gt 0 ]]; then
    for s in "$@"; do
      printf '%s\n' "${ALL_SESSIONS[@]}" | grep -qx -- "$s" || die "unknown session $s (try --list)"
      sessions+=("$s")
    done
  else
    sessions=("${ALL_SESSIONS[@]}")
  fi
  preflight
  WORK=$(mktemp -d /tmp/bgw-golden.XXXXXX)
  chmod 0755 "$WORK" # FRR's daemons run as user frr and need to reach their directory
  for s in "${sessions[@]}"; do
    "sess_${s//-/_}"
  done
  log "done: ${sessions[*]} -> $OUT"
}

main "$@"
