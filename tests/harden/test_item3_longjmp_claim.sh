#!/bin/bash
# test_item3_longjmp_claim.sh - issue 16 item 3: longjmp out of a memoized function.
#
# Proves: five calls of hd_jump(7) (singleflight = yes, shared tier), each leaving by longjmp,
# never wait for a single-flight claim: the abandoned calls' claims are released (the segment's
# flight_waits counter stays 0), the function ran five times, the output is identical.
. "$CM_SRC/lib.sh"
cm_require "$CLOUDM" "$CM_BIN/jump" || cm_done
export CLOUDM_TIERS="memory shared"
conf=$(cm_conf jump <<'CONF'
[function hd_jump]
signature    = i64 hd_jump(i64 x)
singleflight = yes
CONF
)
cm_plain plain "$CM_BIN/jump"
cm_run memo -c "$conf" --report="$CM_TMP/memo.json" -- "$CM_BIN/jump"
cm_same plain memo
cm_expect_eq "hd_jump ran 6 times (5 abandoned + 1)" "$(cm_execs memo hd_jump)" 6
"$CLOUDM" stats -c "$conf" --json >"$CM_TMP/stats.json" 2>"$CM_TMP/stats.err"
cm_expect_eq "single-flight waits in the segment" "$(jq -r '.segment.flight_waits' "$CM_TMP/stats.json")" 0
cm_expect_eq "single-flight takeovers in the segment" "$(jq -r '.segment.flight_takeovers' "$CM_TMP/stats.json")" 0
cm_done
