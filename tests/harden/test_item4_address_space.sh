#!/bin/bash
# test_item4_address_space.sh - issue 16 item 4: RLIMIT_AS.
#
# Proves: under `ulimit -v 400000` a program that allocates 150 MiB gets it under cloudm as it
# does plain (the caches take at most a quarter of the limit), cloudm says so in one line, and
# memoization still works (hits).
. "$CM_SRC/lib.sh"
if [ -n "${CLOUDM_TEST_PRELOAD:-}" ]; then echo "skipped: sanitizers reserve terabytes"; exit 77; fi
cm_require "$CLOUDM" "$CM_BIN/bigmalloc" || cm_done
export CLOUDM_TIERS="memory shared"
conf=$(cm_conf sq <<'CONF'
[function hd_sq]
signature = i64 hd_sq(i64 x)
CONF
)
(ulimit -v 400000; cm_plain plain "$CM_BIN/bigmalloc")
cm_expect_eq "plain under ulimit -v 400000" "$(cat "$CM_TMP/plain.out")" "sum 2850, malloc(150 MiB) ok"
(ulimit -v 400000; cm_run memo -c "$conf" --report="$CM_TMP/memo.json" -- "$CM_BIN/bigmalloc")
cm_same plain memo
cm_expect_eq "hd_sq hits" "$(cm_hits memo hd_sq)" 90
cm_expect_match "one line about the limit" "$CM_TMP/memo.err" "RLIMIT_AS"
cm_expect_eq "said once" "$(grep -c RLIMIT_AS "$CM_TMP/memo.err")" 1
# Without a limit nothing is said.
cm_run free -c "$conf" -- "$CM_BIN/bigmalloc"
cm_expect_nomatch "no limit, no message" "$CM_TMP/free.err" "RLIMIT_AS"
cm_done
