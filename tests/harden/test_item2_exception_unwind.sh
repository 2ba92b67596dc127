#!/bin/bash
# test_item2_exception_unwind.sh - issue 16 items 2 and 3: C++ exceptions through memoized
# functions.
#
# Proves: an exception thrown at the deepest level of a recursion through memoized functions
# (hd_xa <-> hd_xb through the PLT; ux_a <-> ux_b by inline hooks) unwinds through every
# level's entry code (its call-frame information is exact on the miss path, where the entry
# code calls the original itself) to the program's catch, three times; the output is identical
# to a plain run; afterwards the calls are memoized again (the second round is all hits: hd_xa
# ran 3 x 6 + 6 times) and no single-flight claim of an abandoned call is waited for (the
# segment's flight_waits stays 0).
. "$CM_SRC/lib.sh"
cm_require "$CLOUDM" "$CM_BIN/unwind" || cm_done
export CLOUDM_TIERS="memory shared"
conf=$(cm_conf unwind <<'CONF'
[function hd_xa]
signature    = i64 hd_xa(i64 n)
singleflight = yes
[function hd_xb]
signature    = i64 hd_xb(i64 n)
singleflight = yes
[function ux_a]
signature    = i64 ux_a(i64 n)
[function ux_b]
signature    = i64 ux_b(i64 n)
CONF
)
cm_plain plain "$CM_BIN/unwind"
cm_expect_eq "plain run works" "$(cat "$CM_TMP/plain.rc")" 0
cm_run memo -c "$conf" --report="$CM_TMP/memo.json" -- "$CM_BIN/unwind"
cm_same plain memo
cm_expect_eq "caught 6 exceptions under cloudm" "$(grep -c '^caught:' "$CM_TMP/memo.out")" 6
cm_expect_eq "hd_xa ran 3 x 6 + 6 times (the last round all hits)" "$(cm_execs memo hd_xa)" 24
cm_expect_eq "hd_xa: hits" "$(cm_hits memo hd_xa)" 1
cm_expect_eq "ux_a: hits" "$(cm_hits memo ux_a)" 1
"$CLOUDM" stats -c "$conf" --json >"$CM_TMP/stats.json" 2>"$CM_TMP/stats.err"
cm_expect_eq "single-flight waits in the segment" "$(jq -r '.segment.flight_waits' "$CM_TMP/stats.json")" 0
cm_done
