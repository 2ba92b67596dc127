#!/bin/bash
# test_demo.sh - the README demo end to end: legacy_sim plain, then under
# `cloudm run -c config/examples/demo.conf`: stdout and exit status byte-identical, and the
# report says the repeated calls were answered from memory (6 calls, 2 distinct: 2 misses,
# 4 hits). Also `cloudm check` accepts the example config, and `cloudm profile` counts the
# same calls without caching any.
#
# Uses fewer integration steps than the demo (-n) so it runs in well under a second.
# Needs CLOUDM, CM_BIN, CM_SRC, CM_EXAMPLES (set by tests/demo/CMakeLists.txt).
. "$CM_SRC/../e2e/lib.sh"

CONF=$CM_EXAMPLES/demo.conf
SIM=$CM_BIN/legacy_sim
ARGS=(-n 2000000 0.5 1.5 0.5 0.5 1.5 0.5)

cm_plain check "$CLOUDM" check -c "$CONF"
cm_expect_eq "check demo.conf: status" "$(cat "$CM_TMP/check.rc")" 0
cm_expect_match "check demo.conf: sim_step placement" "$CM_TMP/check.out" \
  '^sim_step  f64 sim_step\(f64, ?i32\)  x:xmm0 steps:rdi$'

# With PROGRAM, the shim lists who provides and imports sim_step and stops before main.
cm_plain checkprog "$CLOUDM" check -c "$CONF" -- "$SIM" "${ARGS[@]}"
cm_expect_eq "check PROGRAM: status" "$(cat "$CM_TMP/checkprog.rc")" 0
cm_expect_match "check PROGRAM: provider" "$CM_TMP/checkprog.out" 'libsim\.so'
cm_expect_match "check PROGRAM: importer" "$CM_TMP/checkprog.out" 'legacy_sim'
cm_expect_eq "check PROGRAM: main never ran" "$(grep -c '^sim_step(' "$CM_TMP/checkprog.out")" 0

cm_plain plain "$SIM" "${ARGS[@]}"
cm_expect_eq "plain run: status" "$(cat "$CM_TMP/plain.rc")" 0
cm_expect_eq "plain run: 6 results" "$(wc -l <"$CM_TMP/plain.out")" 6

cm_memo memo "$CONF" "$SIM" "${ARGS[@]}"
cm_same plain memo
cm_expect_eq "memoized: calls" "$(cm_fn memo sim_step .calls)" 6
cm_expect_eq "memoized: misses" "$(cm_fn memo sim_step .misses)" 2
cm_expect_eq "memoized: memory hits" "$(cm_fn memo sim_step .hits.memory)" 4

"$CLOUDM" profile -c "$CONF" --report="$CM_TMP/prof.json" -- "$SIM" "${ARGS[@]}" \
  >"$CM_TMP/prof.out" 2>"$CM_TMP/prof.err"
echo $? >"$CM_TMP/prof.rc"
cm_same plain prof
cm_expect_eq "profile: calls" "$(cm_fn prof sim_step .calls)" 6
cm_expect_eq "profile: distinct" "$(cm_fn prof sim_step .distinct)" 2
cm_expect_eq "profile: no hits" "$(cm_fn prof sim_step .hits.memory)" 0

cm_done
