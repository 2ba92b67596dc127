#!/bin/bash
# test_threads.sh - 8 threads calling memoized functions at once (label `threads`: CI also runs
# it under TSan).
#
# Proves: every result each thread got is right (prog/threads.c checks them against a table
# computed before the threads start, without cloudm, and exits 1 on any mismatch); output and
# status identical to the plain run; for each function the report accounts for every call
# (calls = 8 threads x 4000, and calls = hits + misses + errors + bypassed), there were hits,
# every distinct argument set missed at most once per thread (misses <= 200 x 8) and the code
# really ran no more often than the misses and errors say.
. "$CM_SRC/lib.sh"

PROG=$CM_BIN/threads
CONF=$CM_SRC/conf/threads.conf
cm_require "$CLOUDM" "$PROG" || cm_done

cm_plain plain "$PROG"
cm_expect_eq "plain exit status" "$(cat "$CM_TMP/plain.rc")" 0
for run in 1 2 3; do
  m=memo$run
  cm_run "$m" -c "$CONF" --report="$CM_TMP/$m.json" -- "$PROG"
  cm_same plain "$m"
  cm_expect_match "$m: every thread saw right results" "$CM_TMP/$m.out" '^wrong results: 0$'
  for f in lg_mix64 lg_wave lg_crc lg_name; do
    cm_expect_eq "$m $f calls" "$(cm_fn "$m" "$f" .calls)" 32000
    cm_invariant "$m" "$f"
    cm_expect_ge "$m $f hits" "$(cm_hits "$m" "$f")" 1
    misses=$(cm_fn "$m" "$f" .misses)
    cm_expect_ge "$m $f misses" "$misses" 200
    cm_expect_le "$m $f misses" "$misses" 1600
    ran=$(cm_fn "$m" "$f" '.misses + .errors + .bypassed')
    cm_expect_eq "$m $f execs = misses + errors + bypassed" "$(cm_execs "$m" "$f")" "$ran"
  done
done

cm_done
