#!/usr/bin/env bash
# test_remote_bounds.sh - the agent bounds every lookup and its own memory whatever the server
# or the resolver does (issue 17): a server that stalls GETs but answers PUTs opens the read
# breaker only (stores still go through); a 200 with no length and an endless body is cut off at
# remote_max_value and the agent's peak memory stays small; a resolver that never answers costs
# each lookup at most remote_timeout. Bounds are asserted from counters: every lookup is a hit,
# a miss, a skip (breaker open) or one timeout of remote_timeout, and timeouts are at most 5 per
# breaker opening plus the probes.
. "$CM_SRC/lib.sh"
. "$CM_SRC/servers.sh"
cm_require "$CM_BIN/manyprog" "$CM_FAULT" "$CM_BUILD/lib/libcloudm-remote.so" || cm_done
unset CLOUDM_TIERS CLOUDM_SHARED_PATH
mkconf() {
  cm_remote_conf "$1" "$2" "remote_timeout = 100ms
flush_timeout = 5s
${3:-}"
}
N=200
cm_plain plain "$CM_BIN/manyprog" $N 1
# bounded NAME: every lookup of run NAME accounted for, timeouts bounded by the breaker
bounded() {
  local t o
  t=$(remote "$1" timeouts)
  o=$(remote "$1" breaker_opens)
  cm_expect_eq "$1: every lookup a miss, a skip or one timeout" \
    "$(($(remote "$1" misses) + $(remote "$1" skipped) + $(remote "$1" errors) + $(remote "$1" hits)))" $N
  cm_expect_eq "$1: no remote hits" "$(remote "$1" hits)" 0
  cm_expect_ge "$1: the agent's read breaker opened" "$o" 1
  cm_expect_le "$1: lookups that waited remote_timeout (<= 5 per opening + 2 probes)" "$t" $((5 * o + 2))
}

# --- GETs stall, PUTs are answered: the read breaker opens, stores go through ----------------------
cm_fault_start sg slowget || cm_done
c=$(mkconf slowget "$FURL")
machine sg cm_memo slowget "$c" "$CM_BIN/manyprog" $N 1
cm_same plain slowget
bounded slowget
machine sg cm_agent_flush "$c"
cm_expect_eq "slowget: the write breaker stayed closed" "$(machine sg cm_agent_json "$c" breaker_write)" closed
cm_expect_eq "slowget: every store reached the server" \
  "$(cm_curl -s "$FURL/_stats" | sed -n 's/^puts //p')" $N

# --- a 200 with no length and an endless body ------------------------------------------------------
cm_fault_start en endless || cm_done
c=$(mkconf endless "$FURL" "remote_max_value = 4M")
machine en cm_memo endless "$c" "$CM_BIN/manyprog" $N 1
cm_same plain endless
bounded endless
pid=$(machine en cm_agent_json "$c" pid)
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
cm_expect_le "endless body: the agent's peak memory (kB) stays small" "$hwm" 65536

# --- a resolver that never answers (UDP and TCP port 53 black holes, own namespaces) -------------
if unshare -m -n true 2>/dev/null && command -v python3 >/dev/null && command -v ip >/dev/null; then
  printf 'nameserver 127.0.0.1\noptions timeout:5 attempts:2\n' >"$CM_TMP/resolv.conf"
  cat >"$CM_TMP/blackhole.py" <<'PY'
import socket, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 53))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM); t.bind(("127.0.0.1", 53)); t.listen(64)
open(__import__("sys").argv[1], "w").write("ready\n")
time.sleep(600)
PY
  c=$(mkconf dns "http://cloudm-no-answer.example:8080")
  unshare -m -n bash -c '
    ip link set lo up
    python3 "$1/blackhole.py" "$1/bh.ready" & bh=$!
    for _ in $(seq 1 50); do [ -s "$1/bh.ready" ] && break; sleep 0.1; done
    mount --bind "$1/resolv.conf" /etc/resolv.conf
    shift
    "$@"; rc=$?
    kill $bh
    exit $rc' _ "$CM_TMP" env HOME="$CM_TMP/home-dns" CLOUDM_SHARED_PATH="$CM_TMP/seg-dns" \
      "$CLOUDM" run -c "$c" --report="$CM_TMP/dns.json" -- "$CM_BIN/manyprog" $N 1 \
      >"$CM_TMP/dns.out" 2>"$CM_TMP/dns.err"
  echo $? >"$CM_TMP/dns.rc"
  cm_same plain dns
  bounded dns
else
  echo "skip: no unshare/python3/ip for the resolver case"
fi

cm_done
