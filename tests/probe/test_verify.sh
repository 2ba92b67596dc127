#!/bin/bash
# test_verify.sh - `verify = 1` on md_scaled, whose config forgets `reads = md_factor:4`: the
# hit after the program changes md_factor is re-checked, differs, the caller gets the fresh
# value (output identical to the plain run), and md_scaled is quarantined in this process and,
# through the shared segment, in the next one until `cloudm clear --function md_scaled`.
. "$CM_E2E/lib.sh"
export CLOUDM_TIERS="memory shared"
PROG="$CM_BIN/prog_misdecl"
CONF="$CM_SRC/conf/verify.conf"

cm_plain plain "$PROG" scaled lg

cm_memo v1 "$CONF" "$PROG" scaled lg
cm_same plain v1
cm_expect_eq "v1: md_scaled verified" "$(cm_fn v1 md_scaled .verified)" 1
cm_expect_eq "v1: md_scaled mismatches" "$(cm_fn v1 md_scaled .mismatches)" 1
cm_expect_eq "v1: md_scaled quarantined" "$(cm_fn v1 md_scaled .quarantined)" true
cm_expect_match "v1: one line naming the part" "$CM_TMP/v1.err" \
  "^cloudm: verify: md_scaled: a cached result differs from a fresh call in the return: md_scaled is quarantined"
cm_expect_eq "v1: that line once" "$(grep -c 'verify: md_scaled' "$CM_TMP/v1.err")" 1
cm_expect_eq "v1: md_lg verified (every hit)" "$(cm_fn v1 md_lg .verified)" 2
cm_expect_eq "v1: md_lg no mismatch" "$(cm_fn v1 md_lg .mismatches)" 0
cm_expect_eq "v1: md_lg not quarantined" "$(cm_fn v1 md_lg .quarantined)" false

# A second process, verify off: the segment says md_scaled is quarantined.
"$CLOUDM" run -c "$CONF" --verify=0 --report="$CM_TMP/v2.json" -- "$PROG" scaled lg \
  >"$CM_TMP/v2.out" 2>"$CM_TMP/v2.err"
echo $? >"$CM_TMP/v2.rc"
cm_same plain v2
cm_expect_eq "v2: md_scaled quarantined" "$(cm_fn v2 md_scaled .quarantined)" true
cm_expect_eq "v2: md_scaled served nothing" "$(cm_fn v2 md_scaled '.hits.memory + .hits.shared')" 0
# (each argument twice from the segment: a first shared hit does not fill the memory tier)
cm_expect_eq "v2: md_lg served from the segment" "$(cm_fn v2 md_lg .hits.shared)" 4
cm_expect_match "v2: says so" "$CM_TMP/v2.err" "verify: md_scaled is quarantined in the shared segment"
"$CLOUDM" stats >"$CM_TMP/stats.txt" 2>&1
cm_expect_match "stats marks it" "$CM_TMP/stats.txt" "^md_scaled .*QUARANTINED$"
cm_expect_eq "stats --json" \
  "$("$CLOUDM" stats --json | jq -r '.functions[] | select(.name == "md_scaled") | .quarantined')" true

# cloudm clear --function lifts it.
"$CLOUDM" clear --function md_scaled >"$CM_TMP/clear.txt" 2>&1
cm_expect_match "clear lifts the quarantine" "$CM_TMP/clear.txt" "lifted the quarantine"
cm_memo v3 "$CONF" "$PROG" scaled
cm_expect_eq "v3: md_scaled served again (first hit verified)" "$(cm_fn v3 md_scaled .verified)" 1

# The part that differed is named: an output parameter, a `writes` global.
cm_plain pplain "$PROG" parts
cm_memo parts "$CM_SRC/conf/parts.conf" "$PROG" parts
cm_same pplain parts
cm_expect_match "parameter named" "$CM_TMP/parts.err" \
  "verify: md_label: a cached result differs from a fresh call in the parameter 1 \(out\): md_label is quarantined"
cm_expect_match "global named" "$CM_TMP/parts.err" \
  "verify: md_sgn: a cached result differs from a fresh call in the global md_sign: md_sgn is quarantined"

# `cloudm clear` without --function lifts every quarantine (md_scaled's, and md_label's and
# md_sgn's from the parts run: CLOUDM_TIERS puts them in the segment too).
"$CLOUDM" run -c "$CONF" --report="$CM_TMP/v4.json" -- "$PROG" scaled >/dev/null 2>&1
cm_expect_eq "v4: quarantined again" "$(cm_fn v4 md_scaled .quarantined)" true
"$CLOUDM" clear >"$CM_TMP/clear2.txt" 2>&1
cm_expect_match "clear (all) lifts them" "$CM_TMP/clear2.txt" "lifted the quarantine of 3 function variants$"
"$CLOUDM" stats --json >"$CM_TMP/stats2.json"
cm_expect_eq "stats: nothing quarantined" \
  "$(jq '[.functions[] | select(.quarantined)] | length' "$CM_TMP/stats2.json")" 0

# A bad rate in the config: an error at its line and column.
BAD=$(cm_conf bad <<'CONF'
[cache]
verify = 2
[function md_pure]
signature = i64 md_pure(i64 a, i64 b)
verify = 0.5
CONF
)
"$CLOUDM" check -c "$BAD" >"$CM_TMP/bad.out" 2>"$CM_TMP/bad.err"
cm_expect_eq "check: bad verify is an error" "$?" 1
cm_expect_match "check: names file:line:col" "$CM_TMP/bad.err" \
  "bad.conf:2:10: error: invalid verify '2' \(expected a fraction from 0 to 1, e.g. 0.01 or 1%\)"
cm_expect_match "check: per-function verify shown" "$CM_TMP/bad.out" "verify 0.5"

# A bad rate on the command line.
"$CLOUDM" run --verify=2 -c "$CONF" -- "$PROG" scaled >/dev/null 2>&1
cm_expect_eq "--verify=2 is a usage error" "$?" 2
cm_done
