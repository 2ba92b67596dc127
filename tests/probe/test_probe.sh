#!/bin/bash
# test_probe.sh - `cloudm probe` finds each mistake of conf/wrong.conf, with its line verbatim,
# exits 3, and leaves the program's output unchanged; conf/right.conf (the fixes it suggests)
# passes with exit 0. (tests/probe/CMakeLists.txt sets CLOUDM, CM_BIN, CM_SRC, CM_E2E.)
. "$CM_E2E/lib.sh"
PROG="$CM_BIN/prog_misdecl"

cm_plain plain "$PROG"

# --- the wrong config: every finding, verbatim ---------------------------------------------------
"$CLOUDM" probe -c "$CM_SRC/conf/wrong.conf" --json "$CM_TMP/wrong.json" -- "$PROG" \
  >"$CM_TMP/wrong.out" 2>"$CM_TMP/wrong.err"
cm_expect_eq "probe exit status with findings" "$?" 3
CM_CHECKS=$((CM_CHECKS + 1))
if cmp -s "$CM_TMP/plain.out" "$CM_TMP/wrong.out"; then cm_ok "output unchanged under probe"
else cm_fail "output changed under probe"; diff "$CM_TMP/plain.out" "$CM_TMP/wrong.out" | head >&2; fi
cm_expect_eq "stderr of the program kept (md_pi's 35 lines)" \
  "$(grep -c '^pi step' "$CM_TMP/wrong.err")" 35

expect_line() {
  CM_CHECKS=$((CM_CHECKS + 1))
  if grep -Fxq -- "$1" "$CM_TMP/wrong.err"; then cm_ok "line: $1"
  else cm_fail "missing line: $1"; grep -v '^pi step' "$CM_TMP/wrong.err" | sed 's/^/    /' >&2; fi
}
expect_line "md_lg writes md_sign (4 bytes, prog_misdecl) — add: writes = md_sign:4"
expect_line "md_fill writes 48 bytes through parameter 1 (buf) — declare it out[n] (48 = n in every probed call)"
expect_line "md_name writes 11 to 17 bytes through parameter 1 (out), past its declared out[n] — declare it out[n + 1] (11 to 17 bytes = n + 1 in every probed call)"
expect_line "md_scaled: same arguments, different results in calls 1 and 3 — it depends on state the config does not name (a global it reads, time, randomness); declare it with reads = or do not memoize it"
expect_line "md_roll: same arguments, different results when call 1 ran again at once — it depends on time, randomness or state it changes itself; do not memoize it"
expect_line "md_pi prints to stderr (35 calls): a hit will not repeat that output"
cm_expect_eq "no finding for the correctly declared md_pure" \
  "$(grep -c '^md_pure' "$CM_TMP/wrong.err")" 0

# --- the JSON for tools ---------------------------------------------------------------------------
cm_expect_eq "json: findings" "$(jq '.findings | length' "$CM_TMP/wrong.json")" 7
cm_expect_eq "json: md_lg's fix" \
  "$(jq -r '.findings[] | select(.function == "md_lg") | .config' "$CM_TMP/wrong.json")" \
  "writes = md_sign:4"
cm_expect_eq "json: md_fill's fix" \
  "$(jq -r '.findings[] | select(.function == "md_fill") | .config' "$CM_TMP/wrong.json")" \
  "out[n] buf"
cm_expect_eq "json: kinds" \
  "$(jq -r '[.findings[].kind] | sort | unique | join(",")' "$CM_TMP/wrong.json")" \
  "global,output,param,rerun,result"
cm_expect_eq "json: md_pure calls" \
  "$(jq '.functions[] | select(.name == "md_pure") | .calls' "$CM_TMP/wrong.json")" 20

# --- --calls bounds the full checks ------------------------------------------------------------
"$CLOUDM" probe -c "$CM_SRC/conf/wrong.conf" --calls 2 --json "$CM_TMP/c2.json" -- "$PROG" pure \
  >/dev/null 2>&1
cm_expect_eq "--calls 2: md_pure checked in full" \
  "$(jq '.functions[] | select(.name == "md_pure") | .probed' "$CM_TMP/c2.json")" 2

# --- the corrected config passes ---------------------------------------------------------------
"$CLOUDM" probe -c "$CM_SRC/conf/right.conf" -- "$PROG" >"$CM_TMP/right.out" 2>"$CM_TMP/right.err"
cm_expect_eq "probe exit status of the corrected config" "$?" 0
cm_expect_match "nothing found" "$CM_TMP/right.err" "^cloudm probe: 0 findings"
CM_CHECKS=$((CM_CHECKS + 1))
if cmp -s "$CM_TMP/plain.out" "$CM_TMP/right.out"; then cm_ok "output unchanged (right.conf)"
else cm_fail "output changed under probe (right.conf)"; fi

# --- usage errors --------------------------------------------------------------------------------
"$CLOUDM" probe --calls 0 -- "$PROG" >/dev/null 2>&1
cm_expect_eq "--calls 0 is a usage error" "$?" 2
"$CLOUDM" probe -c "$CM_SRC/conf/right.conf" >/dev/null 2>&1
cm_expect_eq "missing PROGRAM is a usage error" "$?" 2
cm_done
