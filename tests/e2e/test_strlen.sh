#!/bin/bash
# test_strlen.sh - memoizing functions the shim and libc use themselves: strlen and memcpy
# (both IFUNCs in glibc, memcpy with two symbol versions) in prog/strheavy.c, a program that
# calls them 6000 times each and prints with printf.
#
# Proves: no deadlock and no recursion (each run finishes under a timeout, status 0), output
# byte-identical to the plain run, and the calls made by the program are memoized with exact
# counts: 6000 calls over 80 distinct arguments each. Calls the shim makes itself must not be
# counted (the recursion guard sends them straight to the original), so the counts are exact.
# Also runs with only strlen, and with the memory tier disabled (mode = profile), where every
# call goes through the shim's slow path.
. "$CM_SRC/lib.sh"

PROG=$CM_BIN/strheavy
CONF=$CM_SRC/conf/strlen.conf
cm_require "$CLOUDM" "$PROG" || cm_done

cm_plain plain "$PROG"
cm_expect_eq "plain exit status" "$(cat "$CM_TMP/plain.rc")" 0

for run in 1 2; do
  cm_run memo$run -c "$CONF" --report="$CM_TMP/memo$run.json" -- "$PROG"
  cm_expect_eq "memo$run exit status (124 = hung)" "$(cat "$CM_TMP/memo$run.rc")" 0
  cm_same plain memo$run
  cm_counts memo$run strlen 6000 5920 80 0
  cm_counts memo$run memcpy 6000 5920 80 0
done

ONLY=$(cm_conf only_strlen <<'CONF'
[function strlen]
signature = u64 strlen(str s)
CONF
)
cm_run only -c "$ONLY" --report="$CM_TMP/only.json" -- "$PROG"
cm_expect_eq "strlen only: exit status" "$(cat "$CM_TMP/only.rc")" 0
cm_same plain only
cm_counts only strlen 6000 5920 80 0

cm_run profile -c "$CONF" --mode profile --report="$CM_TMP/profile.json" -- "$PROG"
cm_expect_eq "profile: exit status" "$(cat "$CM_TMP/profile.rc")" 0
cm_same plain profile
cm_expect_eq "profile strlen calls" "$(cm_fn profile strlen .calls)" 6000
cm_expect_eq "profile strlen distinct" "$(cm_fn profile strlen .distinct)" 80
cm_expect_eq "profile memcpy distinct" "$(cm_fn profile memcpy .distinct)" 80

cm_done
