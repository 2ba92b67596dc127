#!/bin/bash
# test_threads.sh - `cloudm probe` on a program whose second thread keeps changing a global while
# md_pure (correctly declared) runs: the change also happens while md_pure is not running, so
# probe must not blame md_pure (the second look of shim/probe/snap.c). Label `threads`.
. "$CM_E2E/lib.sh"
PROG="$CM_BIN/prog_misdecl"

# --- another thread changing a global during md_pure's calls is not md_pure's doing -----------
"$CLOUDM" probe -c "$CM_SRC/conf/right.conf" --calls 16 -- "$PROG" noisy >"$CM_TMP/noisy.out" \
  2>"$CM_TMP/noisy.err"
cm_expect_eq "probe exit status with a noisy thread" "$?" 0
cm_expect_match "noisy: md_pure checked" "$CM_TMP/noisy.err" "^cloudm probe: 0 findings; [0-9]+ calls of 5 functions, 16 checked"

cm_done
