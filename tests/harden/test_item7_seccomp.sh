#!/bin/bash
# test_item7_seccomp.sh - issue 16 item 7: programs that sandbox themselves.
#
# Proves: with the default tiers (memory and shared), a program entering seccomp strict mode,
# one installing an allow-list filter without clone (no new thread), and one disabling rdtsc
# (PR_SET_TSC) all run to the end under cloudm with the plain output; under the filter, the
# calls are still memoized.
. "$CM_SRC/lib.sh"
cm_require "$CLOUDM" "$CM_BIN/sandbox" || cm_done
export CLOUDM_TIERS="memory shared"
conf=$(cm_conf sq <<'CONF'
[function hd_sq]
signature = i64 hd_sq(i64 x)
CONF
)
modes="strict filter tsc"
# The sanitizer runtime the sanitizer stages preload reads clocks after PR_SET_TSC: the plain
# run itself cannot survive it there.
[ -n "${CLOUDM_TEST_PRELOAD:-}" ] && modes="strict filter"
for mode in $modes; do
  cm_plain plain_$mode "$CM_BIN/sandbox" $mode
  cm_expect_eq "plain $mode runs" "$(cat "$CM_TMP/plain_$mode.rc")" 0
  rm -f "$CLOUDM_SHARED_PATH"
  cm_run $mode -c "$conf" --report="$CM_TMP/$mode.json" -- "$CM_BIN/sandbox" $mode
  cm_same plain_$mode $mode
done
case $modes in *tsc*) cm_expect_eq "tsc: hd_sq hits" "$(cm_hits tsc hd_sq)" 100 ;; esac
cm_expect_eq "filter: hd_sq memory hits" "$(cm_fn filter hd_sq .hits.memory)" 200
cm_done
