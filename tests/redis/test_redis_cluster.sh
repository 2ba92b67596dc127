#!/usr/bin/env bash
# test_redis_cluster.sh - the remote tier on a Redis Cluster this script builds (3 masters, 3
# replicas, cluster-node-timeout 1000 ms, `redis-cli --cluster create`):
#   - the plugin (redis_driver) spreads keys over the three masters by slot and reads them back
#     from four threads;
#   - slots are resharded between masters while a driver reads and writes: MOVED and ASK are
#     followed (no lookup fails, never a wrong value);
#   - two "machines" share manyprog's results through the cluster via the shim;
#   - a master (also the URL's first seed) is SIGKILLed while a program and a driver run: output
#     correct, never a wrong value; once its replica is promoted, new runs read the keys of the
#     failed-over slots (remote hits) and a last machine gets every result from the cluster.
. "$CM_SRC/lib.sh"
. "$CM_SRC/servers.sh"
. "$(dirname "${BASH_SOURCE[0]}")/redis_lib.sh"
so=$CM_BUILD/lib/libcloudm-remote.so
cm_require "$CM_REDIS_DRIVER" "$so" "$CM_BIN/manyprog" || cm_done
command -v redis-server >/dev/null || { cm_fail "redis-server missing (package redis-server)"; cm_done; }
unset CLOUDM_TIERS CLOUDM_SHARED_PATH

drive() {
  local name=$1; shift
  CM_CHECKS=$((CM_CHECKS + 1))
  if "$CM_REDIS_DRIVER" "$so" "$@" >"$CM_TMP/$name.out" 2>"$CM_TMP/$name.err"; then
    cm_ok "driver $name: $*"
  else
    cm_fail "driver $name: $*"; sed 's/^/    /' "$CM_TMP/$name.err" | head -20 >&2
  fi
}
counter() { sed -n 's/.* '"$2"'=\([0-9]*\).*/\1/p' "$CM_TMP/$1.out" | tail -1; }
# node_id PORT: a node's id; master_ports: the ports of the live masters
node_id() { rcli "$1" cluster myid; }
master_ports() {
  local p
  for p in "${CM_CL_PORTS[@]}"; do
    if [ "$(cm_cluster_role "$p")" = master ]; then echo "$p"; fi
  done
}

cm_cluster_start || cm_done
U=$CM_CL_URL

# --- routing -----------------------------------------------------------------------------------
drive put "$U" put 0 300
total=0 nonempty=0
for p in $(master_ports); do
  n=$(rcli "$p" dbsize)
  total=$((total + n))
  [ "$n" -gt 0 ] && nonempty=$((nonempty + 1))
done
cm_expect_eq "keys over all masters" "$total" 300
cm_expect_eq "masters holding keys" "$nonempty" 3
drive get "$U" --threads 4 get 0 300 hit

# --- resharding while a driver runs: MOVED and ASK -------------------------------------------------
read -r pa pb _ < <(master_ports | tr '\n' ' ')
drive reshard_bg "$U" hammer 0 300 4 &
hpid=$!
sleep 0.3
env -u LD_PRELOAD redis-cli --cluster reshard "127.0.0.1:$pa" --cluster-from "$(node_id "$pa")" \
  --cluster-to "$(node_id "$pb")" --cluster-slots 2000 --cluster-yes \
  >"$CM_TMP/reshard.log" 2>&1 || { cm_fail "reshard failed"; tail -5 "$CM_TMP/reshard.log" >&2; }
wait "$hpid" || cm_fail "hammer during the reshard"
cm_expect_ge "reshard: slots moved" "$(grep -c '^Moving slot' "$CM_TMP/reshard.log")" 2000
cm_expect_ge "reshard: hits while slots moved" "$(counter reshard_bg hits)" 100
cm_expect_eq "reshard: no lookup failed (MOVED/ASK followed)" "$(counter reshard_bg errors)" 0
drive after_reshard "$U" get 0 300 hit

# --- two machines through the cluster, via the shim --------------------------------------------------
cm_plain plain "$CM_BIN/manyprog" 200 2
conf=$(cm_conf cl <<CONF
[cache]
remote = $U
remote_timeout = 200ms
flush_timeout = 3s
[function lg_sq]
signature = i64 lg_sq(i64 x)
CONF
)
# The runs that must hit or must see no error: remote_timeout 10s, only a bound (on a loaded
# machine a lookup answered after 200ms would count as an error and a miss). Programs hand
# their stores to their machine's agent and do not wait: the agent is flushed before another
# machine counts on them.
confhit=$(sed 's/^remote_timeout = .*/remote_timeout = 10s/; s/^flush_timeout = .*/flush_timeout = 10s/' "$conf" |
  cm_conf clhit)
machine a cm_memo a "$confhit" "$CM_BIN/manyprog" 200 2
cm_same plain a
cm_expect_eq "machine a stored lg_sq" "$(remote a stored)" 200
machine a cm_agent_flush "$confhit"
machine b cm_memo b "$confhit" "$CM_BIN/manyprog" 200 2
cm_same plain b
cm_expect_eq "machine b: lg_sq all remote hits" "$(cm_fn b lg_sq .hits.remote)" 200
cm_expect_eq "machine b never ran lg_sq" "$(cm_execs b lg_sq)" 0

# --- failover while programs run ---------------------------------------------------------------------
victim=${CM_CL_PORTS[0]}
[ "$(cm_cluster_role "$victim")" = master ] || cm_fail "node 1 is not a master"
vid=$(node_id "$victim")
replica=
for p in "${CM_CL_PORTS[@]}"; do
  if rcli "$p" cluster nodes | awk -v id="$vid" '$2 !~ /^:/ && $3 ~ /myself/ && $4 == id' | grep -q .; then
    replica=$p
  fi
done
cm_expect_ge "the victim has a replica" "${replica:-0}" 1
sleep 0.3 # replication of what was written above
victim_keys=$(rcli "$victim" dbsize)
cm_plain plain400 "$CM_BIN/manyprog" 400 1
machine c cm_memo c "$conf" "$CM_BIN/manyprog" 400 1 5 &
cpid=$!
drive failover_bg "$U" hammer 0 300 5 &
hpid=$!
sleep 0.6
{ kill -9 "${CM_CL_PIDS[0]}" && wait "${CM_CL_PIDS[0]}"; } 2>/dev/null
wait "$cpid"
wait "$hpid" || cm_fail "hammer during the failover"
cm_same plain400 c
cm_expect_eq "failover: every call answered" "$(cm_fn c lg_sq '.hits.remote + .misses')" 400
cm_expect_ge "failover: the driver saw it (errors or skipped lookups)" \
  "$(($(counter failover_bg errors) + $(counter failover_bg skipped)))" 1
live=()
for p in "${CM_CL_PORTS[@]}"; do [ "$p" != "$victim" ] && live+=("$p"); done
cm_cluster_wait_ok "${live[@]}"
cm_expect_eq "the replica was promoted" "$(cm_cluster_role "$replica")" master
cm_expect_eq "the promoted node holds the failed-over keys" "$(($(rcli "$replica" dbsize) >= victim_keys))" 1

# The driver's keys: every one of them readable again, on the new topology.
drive after_failover "$U" get 0 300 hit
# Machine d (new): the results machine a stored, those in the failed-over slots included.
machine d cm_memo d "$confhit" "$CM_BIN/manyprog" 400 1
cm_same plain400 d
cm_expect_ge "after failover: remote hits" "$(cm_fn d lg_sq .hits.remote)" 200
cm_expect_eq "after failover: remote errors" "$(remote d errors)" 0
machine d cm_agent_flush "$confhit"
# Machine e (new): everything from the cluster.
machine e cm_memo e "$confhit" "$CM_BIN/manyprog" 400 1
cm_same plain400 e
cm_expect_eq "last machine: all 400 remote hits" "$(cm_fn e lg_sq .hits.remote)" 400
cm_expect_eq "last machine never ran lg_sq" "$(cm_execs e lg_sq)" 0

# `cloudm keycache --store redis+cluster://` (after the failover, with the seed that died first
# in the URL): two servers on the cluster; what one stores the other serves, and the entries
# machine a wrote directly are there too (same Redis keys), spread over the masters.
if cm_keycache_start kcc1 --store "redis+cluster://127.0.0.1:$victim,127.0.0.1:$replica"; then
  KC1=$CM_KC_URL
  cm_keycache_start kcc2 --store "$CM_CL_URL" && KC2=$CM_KC_URL
  n_ok=0
  for i in $(seq 1 30); do
    k=$(printf 'kc-%d' "$i" | sha512sum | cut -c1-128)
    [ "$(cm_curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary "v$i" "$KC1/kc/$k")" = 201 ] &&
      [ "$(cm_curl -s "$KC2/kc/$k")" = "v$i" ] && n_ok=$((n_ok + 1))
  done
  cm_expect_eq "keycache on the cluster: stored by one server, served by the other" "$n_ok" 30
  masters=0
  for p in "${live[@]}"; do
    [ "$(cm_cluster_role "$p")" = master ] && [ "$(rcli "$p" --scan --pattern 'kc:*' | wc -l)" -gt 0 ] &&
      masters=$((masters + 1))
  done
  cm_expect_eq "keycache on the cluster: entries on every master" "$masters" 3
  machine f cm_memo f "$(cm_conf kcf <<CONF
[cache]
remote = $KC2
remote_timeout = 10s
[function lg_sq]
signature = i64 lg_sq(i64 x)
CONF
)" "$CM_BIN/manyprog" 400 1
  cm_same plain400 f
  cm_expect_eq "a machine through the keycache reads the cluster's entries" \
    "$(cm_fn f lg_sq .hits.remote)" 400
fi

cm_done
