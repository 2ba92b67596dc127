#!/bin/bash
# test_libm.sh - libm functions with side channels (prog/mathprog.c, conf/libm.conf): lgamma
# with `writes = signgam:4`, log with `errno = yes`; and the two ways of turning cloudm off.
#
# Proves: memoized output identical to plain, including signgam after every lgamma (reset to a
# sentinel before each call) and errno after every log (EDOM, ERANGE, 0), with exact counts
# (lgamma 600 calls / 30 distinct, log 100 / 5). Control runs show the program would notice:
# without `writes` or without `errno = yes` the memoized output differs. `cloudm run --mode off`
# and CLOUDM_DISABLE=1 give identical output and no hits.
. "$CM_SRC/lib.sh"

PROG=$CM_BIN/mathprog
CONF=$CM_SRC/conf/libm.conf
cm_require "$CLOUDM" "$PROG" || cm_done

cm_plain plain "$PROG"
cm_expect_eq "plain exit status" "$(cat "$CM_TMP/plain.rc")" 0
# The program exercises what it claims to (a test of the test).
cm_expect_match "plain: some lgamma has signgam -1" "$CM_TMP/plain.out" 'signgam -1$'
cm_expect_match "plain: log(-1) sets EDOM" "$CM_TMP/plain.out" "^log -0x1p\+0 .* errno 33$"
cm_expect_match "plain: log(0) sets ERANGE" "$CM_TMP/plain.out" "^log 0x0p\+0 .* errno 34$"

for run in 1 2; do
  cm_memo memo$run "$CONF" "$PROG"
  cm_same plain memo$run
  cm_counts memo$run lgamma 600 570 30 0
  cm_counts memo$run log 100 95 5 0
done

# Controls: without the side-channel keys, hits cannot reproduce signgam / errno.
NOWRITES=$(cm_conf nowrites <<'CONF'
[function lgamma]
signature = f64 lgamma(f64 x)
CONF
)
cm_memo nowrites "$NOWRITES" "$PROG"
cm_expect_eq "control without writes: lgamma hits" "$(cm_hits nowrites lgamma)" 570
CM_CHECKS=$((CM_CHECKS + 1))
if cmp -s "$CM_TMP/plain.out" "$CM_TMP/nowrites.out"; then
  cm_fail "control without writes = signgam: output should differ (signgam not restored)"
else cm_ok "control without writes = signgam: output differs"; fi

NOERRNO=$(cm_conf noerrno <<'CONF'
[function log]
signature = f64 log(f64 x)
CONF
)
cm_memo noerrno "$NOERRNO" "$PROG"
cm_expect_eq "control without errno: log hits" "$(cm_hits noerrno log)" 95
CM_CHECKS=$((CM_CHECKS + 1))
if cmp -s "$CM_TMP/plain.out" "$CM_TMP/noerrno.out"; then
  cm_fail "control without errno = yes: output should differ (errno not restored)"
else cm_ok "control without errno = yes: output differs"; fi

# Off switches.
cm_run off -c "$CONF" --mode off --report="$CM_TMP/off.json" -- "$PROG"
cm_same plain off
cm_expect_no_hits off lgamma log

CLOUDM_DISABLE=1 cm_run disabled -c "$CONF" --report="$CM_TMP/disabled.json" -- "$PROG"
cm_same plain disabled
cm_expect_no_hits disabled lgamma log

cm_done
