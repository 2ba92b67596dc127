#!/bin/bash
# test_discover.sh - `cloudm discover` end to end on libdisc.so (built with -g):
#  - the slow function with repeated arguments ranks first, the never-repeating one saves
#    nothing, cheap ones are not worth it, C-library functions (printf, strlen, malloc) never
#    appear;
#  - the program's output is unchanged under discover;
#  - the generated config passes `cloudm check` and memoizes the function with identical output
#    (hit counts from the report);
#  - a second run sees the first run's keys (saved across runs, through the shared segment's
#    profile table; `cloudm profile --reset` forgets them);
#  - a program that dlopen's the library: its functions are observed through dlsym;
#  - --internal: a static function of the program, through an inline hook;
#  - sampling: cheap functions are counted exactly, only a sample of their calls keyed, and
#    CLOUDM_DISCOVER_SAMPLE=off keys them all;
#  - a shell script running the program twice and another binary: every process is keyed by
#    its prototypes (plans served to each process, not only the first).
. "$(dirname "$0")/../e2e/lib.sh"

P=$CM_BIN/disc_prog
cm_plain plain "$P"
"$CLOUDM" discover -o "$CM_TMP/gen.conf" --json "$CM_TMP/d1.json" -- "$P" >"$CM_TMP/d1.out" 2>"$CM_TMP/d1.err"
echo $? >"$CM_TMP/d1.rc"
cm_same plain d1
J=$CM_TMP/d1.json
cm_expect_eq "rank 1" "$(jq -r '.functions[0].name' "$J")" disc_slow_repeat
cm_expect_eq "its prototype" "$(jq -r '.functions[0].prototype_source' "$J" | cut -c1-5)" DWARF
cm_expect_eq "its distinct keys" "$(jq -r '.functions[0].distinct' "$J")" 4
cm_expect_eq "its calls" "$(jq -r '.functions[0].calls' "$J")" 60
cm_expect_eq "never-repeating one saves nothing" \
  "$(jq -r '.functions[] | select(.name=="disc_slow_unique") | .saved_within_ns' "$J")" 0
cm_expect_eq "string keys by content" \
  "$(jq -r '.functions[] | select(.name=="disc_slow_name") | .distinct' "$J")" 3
cm_expect_eq "cheap ones not worth it" \
  "$(jq -r '[.functions[] | select(.name|startswith("disc_cheap")) | .worth] | any' "$J")" false
cm_expect_eq "no C-library function observed" \
  "$(jq -r '[.functions[] | select(.name=="printf" or .name=="strlen" or .name=="malloc" or .name=="free" or .name=="snprintf")] | length' "$J")" 0
cm_expect_match "table on stderr" "$CM_TMP/d1.err" '^1 +disc_slow_repeat +libdisc.so +60 +4 '
cm_expect_match "curve in the config" "$CM_TMP/gen.conf" 'Memory tier \(LRU\) hits by entries held: 1:0 2:0 4:56'
cm_expect_nomatch "printf never suggested" "$CM_TMP/gen.conf" 'printf|strlen|malloc'
cm_expect_match "signature from DWARF" "$CM_TMP/gen.conf" '^signature = f64 disc_slow_repeat\(i32 n, f64 x\)$'
cm_expect_match "string signature" "$CM_TMP/gen.conf" '^signature = i64 disc_slow_name\(str name, i32 k\)$'

"$CLOUDM" check -c "$CM_TMP/gen.conf" >"$CM_TMP/check.out" 2>&1
cm_expect_eq "generated config passes cloudm check" "$?" 0
cm_memo memo "$CM_TMP/gen.conf" "$P"
cm_same plain memo
cm_expect_eq "disc_slow_repeat hits" "$(cm_fn memo disc_slow_repeat .hits.memory)" 56
cm_expect_eq "disc_slow_name hits" "$(cm_fn memo disc_slow_name .hits.memory)" 57

# across runs: the second run has seen every key before
"$CLOUDM" discover --json "$CM_TMP/d2.json" -- "$P" >"$CM_TMP/d2.out" 2>"$CM_TMP/d2.err"
cm_expect_eq "across runs: every call's key seen before" \
  "$(jq -r '.functions[] | select(.name=="disc_slow_unique") | ((.saved_across_ns - .total_ns) | fabs) < 2' "$CM_TMP/d2.json")" true
# the digests live in the shared segment's profile table ($CLOUDM_SHARED_PATH, lib.sh), like
# cloudm profile's: its --reset forgets them, and no file of discover's own is written
cm_expect_eq "across runs: digests in the shared segment" "$(test -f "$CLOUDM_SHARED_PATH" && echo yes)" yes
cm_expect_eq "no digest file of its own" "$(ls "${XDG_CACHE_HOME:-$HOME/.cache}/cloudm/discover" 2>/dev/null | wc -l)" 0
"$CLOUDM" profile --reset >/dev/null 2>&1
"$CLOUDM" discover --json "$CM_TMP/d2r.json" -- "$P" >/dev/null 2>&1
cm_expect_eq "after cloudm profile --reset: nothing seen before" \
  "$(jq -r '.functions[] | select(.name=="disc_slow_unique") | .saved_across_ns' "$CM_TMP/d2r.json")" 0

# dlopen + dlsym
cm_plain dlplain "$P" --dlopen "$CM_BIN/libdisc.so"
"$CLOUDM" discover --json "$CM_TMP/d3.json" -- "$P" --dlopen "$CM_BIN/libdisc.so" >"$CM_TMP/dl.out" 2>"$CM_TMP/dl.err"
echo $? >"$CM_TMP/dl.rc"
cm_same dlplain dl
cm_expect_eq "dlopen: calls through dlsym pointers" \
  "$(jq -r '.functions[] | select(.name=="disc_slow_repeat") | .calls' "$CM_TMP/d3.json")" 60
cm_expect_eq "dlopen: the defining object" \
  "$(jq -r '.functions[] | select(.name=="disc_slow_repeat") | .object' "$CM_TMP/d3.json")" "$CM_BIN/libdisc.so"
cm_expect_eq "dlopen: keyed by the prototype (plan asked at dlopen)" \
  "$(jq -c '.functions[] | select(.name=="disc_slow_repeat") | [.approximate_keys, .distinct]' "$CM_TMP/d3.json")" '[false,4]'

# sampling: the slow functions take the full path on every call, the cheap ones are counted
# exactly and keyed on a sample (fewer keyed calls), with the same distinct estimate here
cm_expect_eq "slow function: every call keyed" \
  "$(jq -c '.functions[] | select(.name=="disc_slow_repeat") | [.calls, .keyed_calls]' "$J")" '[60,60]'
cm_expect_eq "cheap function: exact count, sampled keys" \
  "$(jq -r '.functions[] | select(.name=="disc_cheap_hash") | "\(.calls) \(.keyed_calls < .calls)"' "$J")" "3000 true"
cm_expect_eq "cheap function: distinct estimated from the sample" \
  "$(jq -r '.functions[] | select(.name=="disc_cheap_hash") | .distinct' "$J")" 3
CLOUDM_DISCOVER_SAMPLE=off "$CLOUDM" discover --json "$CM_TMP/full.json" -- "$P" >/dev/null 2>&1
cm_expect_eq "CLOUDM_DISCOVER_SAMPLE=off: every call keyed" \
  "$(jq -c '.functions[] | select(.name=="disc_cheap_hash") | [.calls, .keyed_calls, .distinct]' "$CM_TMP/full.json")" '[3000,3000,3]'

# a shell script: the program twice, then another binary; every process asks for its plans
S=$CM_TMP/script.sh
printf '#!/bin/sh\n"%s"\n"%s"\n"%s"\n' "$P" "$P" "$CM_BIN/disc_internal" >"$S"
chmod +x "$S"
cm_plain splain "$S"
"$CLOUDM" discover --internal --json "$CM_TMP/s.json" -- "$S" >"$CM_TMP/s.out" 2>"$CM_TMP/s.err"
echo $? >"$CM_TMP/s.rc"
cm_same splain s
cm_expect_eq "script: processes observed" "$(jq -r '.processes >= 3' "$CM_TMP/s.json")" true
cm_expect_eq "script: both runs of the program counted and keyed by the prototype" \
  "$(jq -c '.functions[] | select(.name=="disc_slow_repeat") | [.calls, .distinct, .approximate_keys]' "$CM_TMP/s.json")" '[120,4,false]'
cm_expect_eq "script: string keys by content in every process" \
  "$(jq -c '.functions[] | select(.name=="disc_slow_name") | [.distinct, .approximate_keys]' "$CM_TMP/s.json")" '[3,false]'
cm_expect_eq "script: the other binary keyed by its own prototype" \
  "$(jq -c '.functions[] | select(.name=="slow_static") | [.distinct, .approximate_keys]' "$CM_TMP/s.json")" '[5,false]'

# --internal: a static function of the program itself (inline hook, DWARF prototype)
I=$CM_BIN/disc_internal
cm_plain iplain "$I"
"$CLOUDM" discover --internal -o "$CM_TMP/int.conf" --json "$CM_TMP/int.json" -- "$I" >"$CM_TMP/int.out" 2>"$CM_TMP/int.err"
echo $? >"$CM_TMP/int.rc"
cm_same iplain int
cm_expect_eq "--internal: static function ranks first" "$(jq -r '.functions[0].name' "$CM_TMP/int.json")" slow_static
cm_expect_eq "--internal: distinct" "$(jq -r '.functions[0].distinct' "$CM_TMP/int.json")" 5
cm_expect_eq "--internal: a cheap static function counted exactly through the inline fast path" \
  "$(jq -r '.functions[] | select(.name=="cheap_static") | "\(.calls) \(.keyed_calls < .calls)"' "$CM_TMP/int.json")" "5040 true"
cm_expect_match "--internal: signature" "$CM_TMP/int.conf" '^signature = f64 slow_static\(i32 n, f64 x\)$'
cm_memo imemo "$CM_TMP/int.conf" "$I"
cm_same iplain imemo
cm_expect_eq "--internal: config memoizes the static function" "$(cm_fn imemo slow_static .hits.memory)" 35
"$CLOUDM" discover --json "$CM_TMP/noint.json" -- "$I" >/dev/null 2>&1
cm_expect_eq "without --internal: not observed" \
  "$(jq -r '[.functions[] | select(.name=="slow_static")] | length' "$CM_TMP/noint.json")" 0

# a statically linked program cannot be observed: said, exit 1
"$CLOUDM" discover -- "$CM_BIN/disc_static" >"$CM_TMP/st.out" 2>"$CM_TMP/st.err"
cm_expect_eq "static program: exit 1" "$?" 1
cm_expect_match "static program: why" "$CM_TMP/st.err" 'left no observation file: it is not dynamically linked'

# bad usage
"$CLOUDM" discover >/dev/null 2>"$CM_TMP/u.err"
cm_expect_eq "missing PROGRAM is a usage error" "$?" 2
cm_done
