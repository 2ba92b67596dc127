#!/bin/bash
# test_dup.sh - a name defined twice (two `static solve` in dup_a.c and dup_b.c).
#
# Proves: without `object =`, an error that lists both candidates with the `object =` line that
# picks each, neither is hooked, the output is right; with `object = dupsolve:dup_a.c` only the
# first one is hooked (its calls and hits counted, the other runs every time).
. "$CM_E2E/lib.sh"

PROG=$CM_BIN/dupsolve
cm_require "$CLOUDM" "$PROG" || cm_done
cm_plain plain "$PROG"
AMB=$(cm_conf amb <<'C'
[function solve]
signature = i64 solve(i64 n)
C
)
cm_run amb -c "$AMB" --report="$CM_TMP/amb.json" -- "$PROG"
cm_same plain amb
cm_expect_match "ambiguity is an error" "$CM_TMP/amb.err" "error: function 'solve' is defined 2 times; it is not memoized"
cm_expect_match "candidate a listed" "$CM_TMP/amb.err" 'dupsolve at 0x[0-9a-f]+ from dup_a.c \(pick it with `object = dupsolve:dup_a.c`\)'
cm_expect_match "candidate b listed" "$CM_TMP/amb.err" 'from dup_b.c \(pick it with `object = dupsolve:dup_b.c`\)'
cm_expect_eq "ambiguous: no calls" "$(cm_fn amb solve .calls)" 0
cm_expect_eq "ambiguous: a ran every time" "$(cm_execs amb solve_a)" 500

PICK=$(cm_conf pick <<'C'
[function solve]
signature = i64 solve(i64 n)
object = dupsolve:dup_a.c
C
)
cm_run pick -c "$PICK" --report="$CM_TMP/pick.json" -- "$PROG"
cm_same plain pick
cm_counts pick solve 500 490 10
cm_expect_eq "picked: a ran once per argument" "$(cm_execs pick solve_a)" 10
cm_expect_eq "picked: b not hooked" "$(cm_execs pick solve_b)" 500
cm_done
