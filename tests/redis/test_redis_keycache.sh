#!/usr/bin/env bash
# test_redis_keycache.sh - `cloudm keycache --store redis://...` (issue 6): two keycache servers
# share one redis-server, as they would behind a load balancer. What one stores the other
# serves (every status of the protocol: 201, 204, 200, HEAD, DELETE 204/404); --expire becomes
# the Redis TTL, refreshed by a read; two "machines" through the two servers share results via
# the shim; and since an entry "ns/key" is the Redis key "ns:key", a machine reading Redis
# directly (remote = redis://) gets the same entries. Then the same on a Redis Cluster is in
# test_redis_cluster.sh.
. "$CM_SRC/lib.sh"
. "$CM_SRC/servers.sh"
. "$(dirname "${BASH_SOURCE[0]}")/redis_lib.sh"
cm_require "$CM_BIN/manyprog" "$CM_BUILD/lib/libcloudm-remote.so" || cm_done
command -v redis-server >/dev/null || { cm_fail "redis-server missing (package redis-server)"; cm_done; }
unset CLOUDM_TIERS CLOUDM_SHARED_PATH

cm_redis_start kc || cm_done
P=$CM_REDIS_PORT
printf 'rw tok-rw\n' >"$CM_TMP/tokens"
echo tok-rw >"$CM_TMP/rw.token"
cm_keycache_start kc1 --store "redis://127.0.0.1:$P/3" --expire 1d --token-file "$CM_TMP/tokens" || cm_done
K1=$CM_KC_URL
cm_keycache_start kc2 --store "redis://127.0.0.1:$P/3" --expire 1d --token-file "$CM_TMP/tokens" || cm_done
K2=$CM_KC_URL
cm_expect_match "the server says where its store is" "$CM_TMP/kc1.log" "store in Redis"

auth=(-H "Authorization: Bearer tok-rw")
key=$(printf 'entry-1' | sha512sum | cut -c1-128)
code() { cm_curl -s -o "$CM_TMP/body" -w '%{http_code}' "${auth[@]}" "$@"; }
cm_expect_eq "PUT through server 1: created" "$(code -X PUT --data-binary first "$K1/ns1/$key")" 201
cm_expect_eq "PUT again through server 2: replaced" "$(code -X PUT --data-binary second "$K2/ns1/$key")" 204
cm_expect_eq "GET through server 1" "$(code "$K1/ns1/$key")" 200
cm_expect_eq "GET body is the last PUT" "$(cat "$CM_TMP/body")" second
cm_expect_eq "HEAD through server 2" "$(code -I "$K2/ns1/$key")" 200
cm_expect_eq "stored as the Redis key ns1:<key>" "$(rcli $P -n 3 exists "ns1:$key")" 1
t=$(rcli $P -n 3 ttl "ns1:$key")
cm_expect_ge "--expire 1d is the TTL" "$t" $((86400 - 60))
rcli $P -n 3 expire "ns1:$key" 100 >/dev/null
code "$K2/ns1/$key" >/dev/null
cm_expect_ge "a read refreshes the TTL" "$(rcli $P -n 3 ttl "ns1:$key")" $((86400 - 60))
cm_expect_eq "another namespace misses" "$(code "$K1/ns2/$key")" 404
cm_expect_eq "DELETE through server 2" "$(code -X DELETE "$K2/ns1/$key")" 204
cm_expect_eq "gone for server 1" "$(code "$K1/ns1/$key")" 404
cm_expect_eq "DELETE again: absent" "$(code -X DELETE "$K1/ns1/$key")" 404
cm_expect_eq "tokens still apply" "$(cm_curl -s -o /dev/null -w '%{http_code}' "$K1/ns1/$key")" 401

# Two machines, each through its own keycache server, one Redis behind them.
cm_plain plain "$CM_BIN/manyprog" 200 2
# (remote_timeout 10s: only a bound; on a loaded machine a lookup answered after the default
# 250ms would count as a miss, and these runs must hit.)
conf() {
  cm_conf "$1" <<CONF
[cache]
remote = $2
remote_timeout = 10s
${3:-}
[function lg_sq]
signature = i64 lg_sq(i64 x)
CONF
}
ca=$(conf a "$K1" "token_file = $CM_TMP/rw.token")
machine a cm_memo a "$ca" "$CM_BIN/manyprog" 200 2
cm_same plain a
cm_expect_eq "machine a stored through server 1" "$(remote a stored)" 200
# The program hands its stores to machine a's agent and does not wait: wait until the agent
# has sent them before machine b reads.
machine a cm_agent_flush "$ca"
machine b cm_memo b "$(conf b "$K2" "token_file = $CM_TMP/rw.token")" "$CM_BIN/manyprog" 200 2
cm_same plain b
cm_expect_eq "machine b: remote hits through server 2" "$(cm_fn b lg_sq .hits.remote)" 200
cm_expect_eq "machine b never ran lg_sq" "$(cm_execs b lg_sq)" 0
# The same entries, read from Redis directly by the shim's Redis backend.
machine c cm_memo c "$(conf c "redis://127.0.0.1:$P/3")" "$CM_BIN/manyprog" 200 2
cm_same plain c
cm_expect_eq "machine c (redis:// directly): remote hits" "$(cm_fn c lg_sq .hits.remote)" 200
cm_expect_eq "server metrics: entries" \
  "$(cm_curl -s "${auth[@]}" "$K1/metrics" | sed -n 's/^cloudm_keycache_entries \([0-9]*\).*/\1/p')" 200

# Redis goes away: the keycache answers 500 (no wrong value), the program's output is correct.
rcli $P shutdown nosave >/dev/null 2>&1
cm_expect_eq "Redis down: GET is a server error" "$(code "$K1/default/$key")" 500
machine d cm_memo d "$(conf d "$K1" "token_file = $CM_TMP/rw.token")" "$CM_BIN/manyprog" 200 2
cm_same plain d
cm_expect_eq "Redis down: the program computed everything" "$(cm_fn d lg_sq .misses)" 200

# Usage errors.
"$CLOUDM" keycache --store memcached://x >/dev/null 2>"$CM_TMP/bad.err"
cm_expect_eq "--store with another scheme: usage error" "$?" 2
cm_expect_match "--store error names the option" "$CM_TMP/bad.err" "invalid --store 'memcached://x'"

cm_done
