#!/bin/bash
# test_item3_longjmp_claim.sh - issue 16 item 3: longjmp or a C++ exception out of a memoized
# function.
#
# Proves: five calls of hd_jump(7) (singleflight = yes, shared tier), each leaving by longjmp,
# never wait for a single-flight claim: the abandoned calls' claims are released (the segment's
# flight_waits counter stays 0), the function ran five times, the output is identical. The same
# for hd_throw(7), which leaves by a C++ exception the program catches (the exception unwinds
# through the hook).
. "$CM_SRC/lib.sh"
cm_require "$CLOUDM" "$CM_BIN/jump" "$CM_BIN/throw" || cm_done
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

# A C++ exception instead of longjmp (its own segment, so the counters are its own).
export CLOUDM_SHARED_PATH="$CM_TMP/seg-throw"
tconf=$(cm_conf throw <<'CONF'
[function hd_throw]
signature    = i64 hd_throw(i64 x)
singleflight = yes
CONF
)
cm_plain tplain "$CM_BIN/throw"
cm_expect_eq "plain: the exceptions are caught" "$(cat "$CM_TMP/tplain.out")" "caught 5, hd_throw(-3) = -2"
cm_run tmemo -c "$tconf" --report="$CM_TMP/tmemo.json" -- "$CM_BIN/throw"
cm_same tplain tmemo
cm_expect_eq "hd_throw ran 6 times (5 thrown + 1)" "$(cm_execs tmemo hd_throw)" 6
"$CLOUDM" stats -c "$tconf" --json >"$CM_TMP/tstats.json" 2>"$CM_TMP/tstats.err"
cm_expect_eq "exceptions: single-flight waits" "$(jq -r '.segment.flight_waits' "$CM_TMP/tstats.json")" 0
cm_expect_eq "exceptions: single-flight takeovers" "$(jq -r '.segment.flight_takeovers' "$CM_TMP/tstats.json")" 0
cm_expect_eq "hd_throw(-3) memoized (a miss, counted)" "$(cm_fn tmemo hd_throw .misses)" 1
cm_done
