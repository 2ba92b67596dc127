#!/usr/bin/env bash
# test_redis_e2e.sh - the remote tier on one redis-server, end to end through the shim: two
# "machines" (separate shared segments and HOMEs) share manyprog's results; the second machine's
# run is all remote hits with byte-identical output and never runs the functions; then the
# server is killed while a program runs: output still correct, errors counted, the breaker
# opens.
. "$CM_SRC/lib.sh"
. "$CM_SRC/servers.sh"
. "$(dirname "${BASH_SOURCE[0]}")/redis_lib.sh"
cm_require "$CM_BIN/manyprog" "$CM_BUILD/lib/libcloudm-remote.so" || cm_done
command -v redis-server >/dev/null || { cm_fail "redis-server missing (package redis-server)"; cm_done; }
unset CLOUDM_TIERS CLOUDM_SHARED_PATH


N_SQ=200
N_PACK=20
cm_plain plain "$CM_BIN/manyprog" 200 2

cm_redis_start shared || cm_done
P=$CM_REDIS_PORT
conf=$(cm_conf share <<CONF
[cache]
remote = redis://127.0.0.1:$P/2
namespace = team-a
remote_expire = 7d
remote_timeout = 10s
[function lg_sq]
signature = i64 lg_sq(i64 x)
[function lg_pack]
signature = i32 lg_pack(out[*outlen] out, inout[8] outlen, in[n] src, u64 n, i32 level)
CONF
)
machine a cm_memo a "$conf" "$CM_BIN/manyprog" 200 2
cm_same plain a
cm_expect_eq "machine a computes lg_sq" "$(cm_fn a lg_sq .misses)" $N_SQ
cm_expect_eq "machine a remote misses" "$(remote a misses)" $((N_SQ + N_PACK))
cm_expect_eq "machine a stored everything" "$(remote a stored)" $((N_SQ + N_PACK))
cm_expect_eq "machine a remote errors" "$(remote a errors)" 0
# (remote_timeout 10s is only a bound: on a loaded machine a lookup answered after the default
# 250ms would be an error and a miss. The program hands its stores to the agent and does not
# wait: the agent is flushed before the keys are counted and machine b reads them.)
machine a cm_agent_flush "$conf"
cm_expect_eq "keys in db 2" "$(rcli $P -n 2 dbsize)" $((N_SQ + N_PACK))
cm_expect_eq "keys are team-a:<128 hex>" \
  "$(rcli $P -n 2 --scan --pattern '*' | grep -cvE '^team-a:[0-9a-f]{128}$')" 0
k=$(rcli $P -n 2 --scan --pattern 'team-a:*' | head -1)
t=$(rcli $P -n 2 ttl "$k")
cm_expect_ge "remote_expire = 7d: TTL" "$t" $((7 * 86400 - 120))
cm_expect_le "remote_expire = 7d: TTL" "$t" $((7 * 86400))

machine b cm_memo b "$conf" "$CM_BIN/manyprog" 200 2
cm_same plain b
cm_expect_eq "machine b lg_sq remote hits" "$(cm_fn b lg_sq .hits.remote)" $N_SQ
cm_expect_eq "machine b lg_pack remote hits" "$(cm_fn b lg_pack .hits.remote)" $N_PACK
cm_expect_eq "machine b misses" "$(cm_fn b lg_sq .misses)" 0
cm_expect_eq "machine b never ran lg_sq" "$(cm_execs b lg_sq)" 0
cm_expect_eq "machine b never ran lg_pack" "$(cm_execs b lg_pack)" 0
cm_expect_eq "machine b stored nothing remotely" "$(remote b stored)" 0
cm_expect_eq "machine b remote errors" "$(remote b errors)" 0
cm_invariant b lg_sq

# --- the server killed while a program runs -------------------------------------------------------
conf=$(cm_conf killed <<CONF
[cache]
remote = redis://127.0.0.1:$P/2
namespace = team-a
remote_timeout = 100ms
flush_timeout = 1s
[function lg_sq]
signature = i64 lg_sq(i64 x)
CONF
)
cm_plain plain400 "$CM_BIN/manyprog" 400 1
# rhits: the server's keyspace hits so far (every GET that found its key)
rhits() { rcli $P info stats 2>/dev/null | tr -d '\r' | sed -n 's/^keyspace_hits://p' | grep . || echo 0; }
base_hits=$(rhits)
machine c cm_memo killed "$conf" "$CM_BIN/manyprog" 400 1 5 &
runpid=$!
# kill the server once the program has been answered from it (not after a fixed time: a loaded
# machine can take longer than that to start the program and its agent)
for _ in $(seq 1 400); do
  [ "$(rhits)" -gt "$base_hits" ] && break
  sleep 0.025
done
sleep 0.1
kill -9 "$CM_REDIS_PID"
wait "$runpid"
cm_same plain400 killed
cm_expect_ge "server killed: remote hits before the kill" "$(cm_fn killed lg_sq .hits.remote)" 1
cm_expect_ge "server killed: errors" "$(remote killed errors)" 1
cm_expect_ge "server killed: breaker opened" "$(remote killed breaker_opens)" 1
cm_expect_ge "server killed: lookups skipped" "$(remote killed skipped)" 1
cm_expect_eq "server killed: every call answered" \
  "$(cm_fn killed lg_sq '.hits.remote + .misses')" 400

cm_done
