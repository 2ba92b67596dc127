#!/bin/bash
# test_item14_fork_counters.sh - issue 16 item 14 (third part), through the shim: a fork child's
# report counts only the child's own remote traffic, never the parent's.
#
# Proves: `forker prefork` computes lg_sq(0..9) in the parent (10 remote lookups that miss, 10
# stores), then forks; the child calls lg_sq(0..9) twice. The parent's report has its 10 misses
# and 10 stores; the child's report has exactly the remote lookups and stores the child made
# (its own function counts: lookups = remote hits + misses, stores = misses), not the parent's
# 10 and 10. (remote_item14_fork_counters tests the same in the agent's HTTP client library.)
. "$CM_SRC/lib.sh"
. "$CM_SRC/servers.sh"
FORKER=$CM_BUILD/tests/bin/forker
cm_require "$CLOUDM" "$FORKER" "$CM_BUILD/lib/libcloudm-remote.so" || cm_done
unset CLOUDM_TIERS
cm_keycache_start kc || cm_done
conf=$(cm_remote_conf fork "$CM_KC_URL" "remote_timeout = 2s")
cm_plain plain "$FORKER" prefork
machine m cm_run pf -c "$conf" --report="$CM_TMP/pf-%p.json" -- "$FORKER" prefork
cm_same plain pf
cm_fork_reports pf parent child
cm_expect_eq "parent: its 10 remote misses" "$(remote parent misses)" 10
cm_expect_eq "parent: its 10 stores" "$(remote parent stored)" 10
lookups=$(cm_fn child lg_sq '.hits.remote + .misses')
cm_expect_eq "child: remote lookups are the child's own ($lookups)" \
  "$(cm_json child '.remote.hits + .remote.misses')" "$lookups"
cm_expect_eq "child: stores are the child's own" "$(remote child stored)" "$(cm_fn child lg_sq .misses)"
cm_expect_eq "child: 20 calls" "$(cm_fn child lg_sq .calls)" 20
cm_done
