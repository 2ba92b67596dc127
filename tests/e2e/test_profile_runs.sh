#!/bin/bash
# test_profile_runs.sh - `cloudm profile` across runs: each distinct call's key digest goes to
# the shared segment's profile table, so a second run on the same input reports what a cache
# kept across runs would have saved; `cloudm profile --reset` forgets.
#
# Proves, with prog/modeprog.c (lg_poly: 100 calls, 20 distinct; lg_sq: 40 calls, 10 distinct):
# the first run finds no call made before (seen_before 0, and across-run savings = in-run
# savings); the second finds every distinct call made before (seen_before 20 / 10) and reports
# across-run savings of every call (calls x mean time, more than in-run savings); a run with a
# different input is not credited with calls it did not repeat; after --reset, a run is a first
# run again; without a shared tier the across-run fields are null. The functions always ran
# (profile mode caches nothing).
. "$CM_SRC/lib.sh"
export CLOUDM_TIERS="memory shared"

conf=$(cm_conf prof <<'CONF'
[function lg_poly]
signature = i64 lg_poly(i32 x)

[function lg_sq]
signature = i64 lg_sq(i64 x)
CONF
)
prog=$CM_BIN/modeprog
cm_require "$CLOUDM" "$prog" || { cm_done; exit; }

# prof NAME: one profiling run, JSON report into NAME.json
prof() {
  "$CLOUDM" profile -c "$conf" --report="$CM_TMP/$1.json" -- "$prog" >"$CM_TMP/$1.out" \
    2>"$CM_TMP/$1.err"
  echo $? >"$CM_TMP/$1.rc"
}
# fields NAME FUNC: "calls distinct seen_before" and whether across-run savings cover all calls
fields() {
  cm_fn "$1" "$2" '"\(.calls) \(.distinct) \(.seen_before)"'
}

cm_plain plain "$prog"
prof run1
cm_same plain run1
cm_expect_eq "run 1 lg_poly calls distinct seen_before" "$(fields run1 lg_poly)" "100 20 0"
cm_expect_eq "run 1 lg_sq calls distinct seen_before" "$(fields run1 lg_sq)" "40 10 0"
cm_expect_eq "run 1: across runs = within the run" \
  "$(cm_fn run1 lg_poly '.saved_across_runs_ns == .saved_ns')" true
cm_expect_eq "run 1: the functions ran every time" "$(cm_execs run1 lg_poly)" 100

prof run2
cm_same plain run2
cm_expect_eq "run 2 lg_poly calls distinct seen_before" "$(fields run2 lg_poly)" "100 20 20"
cm_expect_eq "run 2 lg_sq calls distinct seen_before" "$(fields run2 lg_sq)" "40 10 10"
cm_expect_eq "run 2: across-run savings = every call x mean time" \
  "$(cm_fn run2 lg_poly '.saved_across_runs_ns == ((.calls * .miss_ns / .misses) | floor) or .saved_across_runs_ns == ((.calls * .miss_ns / .misses) | ceil) or (.saved_across_runs_ns - .calls * .miss_ns / .misses | fabs) < 2')" true
cm_expect_eq "run 2: across runs saves more than within the run" \
  "$(cm_fn run2 lg_poly '.saved_across_runs_ns > .saved_ns')" true
cm_expect_eq "run 2: the functions ran every time" "$(cm_execs run2 lg_poly)" 100

# The human table says it in words.
"$CLOUDM" profile -c "$conf" -- "$prog" >/dev/null 2>"$CM_TMP/human.err"
cm_expect_match "human report: across runs" "$CM_TMP/human.err" \
  '^cloudm: lg_poly  calls 100  distinct 20  time .*a cache kept across runs would have saved ~.* \(20 of 20 distinct calls made by earlier runs\)$'

# --reset forgets: the next run is a first run again.
cm_plain reset "$CLOUDM" profile -c "$conf" --reset
cm_expect_eq "--reset status" "$(cat "$CM_TMP/reset.rc")" 0
cm_expect_match "--reset says how many" "$CM_TMP/reset.out" '^forgot 30 recorded calls in '
prof run3
cm_expect_eq "after --reset lg_poly seen_before" "$(fields run3 lg_poly)" "100 20 0"

# Without a shared tier nothing is known across runs: null, not 0.
CLOUDM_TIERS=memory prof noseg
cm_expect_eq "no segment: seen_before null" "$(fields noseg lg_sq)" "40 10 null"

cm_done
