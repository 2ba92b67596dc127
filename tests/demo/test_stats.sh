#!/bin/bash
# test_stats.sh - end-to-end tests of `cloudm stats` and `cloudm clear` against a real shared
# segment: the demo program (legacy_sim, sim_step in libsim.so) runs under `cloudm run` with a
# config whose shared_path points into the test's temporary directory; a second run is answered
# from the shared tier and `stats` (table and --json) shows it; `clear` empties the segment (the
# next run misses again) and `clear --function` drops only the named function's entries; with no
# segment, `stats` exits 1 and `clear` exits 0; a 0666 segment or a file that is not a segment is
# refused (exit 1) and left alone.
#
# What it does not test: the segment's own guarantees (tests/seg), or timing.
# Needs CLOUDM, CM_BIN, CM_SRC (set by tests/demo/CMakeLists.txt).
. "$CM_SRC/../e2e/lib.sh"

# lib.sh points every test at a per-test segment through the environment and turns the shared
# tier off; here the config says where the segment is, and the tiers are the default (both).
unset CLOUDM_SHARED_PATH CLOUDM_TIERS

SIM=$CM_BIN/legacy_sim
ARGS=(-n 200000 0.5 1.5 0.5) # 3 calls, 2 distinct
T=$(cd "$CM_TMP" && pwd -P)
SEG=$T/seg-$(id -u)
cm_require "$SIM" "$CLOUDM" || cm_done

CONF=$(cm_conf stats <<CONF
[cache]
shared_path = $T/seg-%u
shared_size = 4M

[function sim_step]
signature = f64 sim_step(f64 x, i32 steps)
CONF
)
NOSEG=$(cm_conf noseg <<CONF
[cache]
shared_path = $T/nothing-here-%u
CONF
)

# stats NAME ARGS...: `cloudm stats ARGS` into $CM_TMP/NAME.{out,err,rc}
stats() {
  local name=$1; shift
  cm_plain "$name" timeout -k 5 30 "$CLOUDM" stats "$@"
}
# clear NAME ARGS...
clear_seg() {
  local name=$1; shift
  cm_plain "$name" timeout -k 5 30 "$CLOUDM" clear "$@"
}
rc() { cat "$CM_TMP/$1.rc"; }
# sj NAME JQ: a jq expression over `stats --json` output NAME
sj() { jq -r "$2" "$CM_TMP/$1.out" 2>/dev/null || echo "invalid-json"; }
SIMQ='[.functions[] | select(.name == "sim_step")][0]'

# --- no segment yet ----------------------------------------------------------------------------
stats none -c "$CONF"
cm_expect_eq "stats without a segment: status" "$(rc none)" 1
cm_expect_match "stats without a segment: message" "$CM_TMP/none.err" \
  "^cloudm: no shared segment at $SEG\$"
clear_seg clearnone -c "$CONF"
cm_expect_eq "clear without a segment: status" "$(rc clearnone)" 0
cm_expect_match "clear without a segment: message" "$CM_TMP/clearnone.out" "no shared segment at $SEG"

# --- first run fills the segment, second run hits it -------------------------------------------
cm_plain plain "$SIM" "${ARGS[@]}"
cm_memo run1 "$CONF" "$SIM" "${ARGS[@]}"
cm_same plain run1
cm_counts run1 sim_step 3 1 2
cm_expect_eq "segment file created" "$(test -f "$SEG" && echo yes)" yes
cm_expect_eq "segment mode" "$(stat -c %a "$SEG" 2>/dev/null)" 600

cm_memo run2 "$CONF" "$SIM" "${ARGS[@]}"
cm_same plain run2
# the repeated argument's second call is a shared hit too (the first shared hit of a key does not
# fill the memory tier: tier.h, cm_shared_fill_wanted)
cm_expect_eq "run2: shared hits" "$(cm_fn run2 sim_step .hits.shared)" 3
cm_expect_eq "run2: misses" "$(cm_fn run2 sim_step .misses)" 0

# --- stats: table ------------------------------------------------------------------------------
stats table -c "$CONF"
cm_expect_eq "stats: status" "$(rc table)" 0
cm_expect_match "stats: header" "$CM_TMP/table.out" '^function +calls +hit% +memory +shared +misses +saved$'
# sim_step: 6 calls, 4 hits (66.7%), 1 memory, 3 shared, 2 misses
cm_expect_match "stats: sim_step line" "$CM_TMP/table.out" \
  '^sim_step +6 +66\.7 +1 +3 +2 +[0-9.]+ (ns|us|ms|s|h)$'
cm_expect_match "stats: segment line" "$CM_TMP/table.out" \
  "^segment $SEG  4 MiB  [0-9]+% full  2 entries  0 evictions  0 checksum failures\$"

# --- stats: JSON -------------------------------------------------------------------------------
stats json -c "$CONF" --json
cm_expect_eq "stats --json: status" "$(rc json)" 0
cm_expect_eq "stats --json: one line" "$(wc -l <"$CM_TMP/json.out")" 1
cm_expect_eq "stats --json: segment path" "$(sj json .segment.path)" "$SEG"
cm_expect_eq "stats --json: segment size" "$(sj json .segment.size)" 4194304
cm_expect_eq "stats --json: entries" "$(sj json .segment.entries)" 2
cm_expect_eq "stats --json: fill in (0,1]" "$(sj json '.segment.fill > 0 and .segment.fill <= 1')" true
cm_expect_eq "stats --json: sim_step counts" \
  "$(sj json "$SIMQ | \"\(.calls) \(.hits.memory) \(.hits.shared) \(.hits.remote) \(.misses) \(.errors)\"")" \
  "6 1 3 0 2 0"
cm_expect_eq "stats --json: hit_rate" "$(sj json "$SIMQ | .hit_rate")" 0.6667
cm_expect_eq "stats --json: ident is 16 hex digits" \
  "$(sj json "$SIMQ | .ident | test(\"^[0-9a-f]{16}\$\")")" true
cm_expect_eq "stats --json: saved_ns > 0" "$(sj json "$SIMQ | .saved_ns > 0")" true

# The environment overrides the config, as it does for the shim; %u is the uid.
(cd "$T" && CLOUDM_SHARED_PATH="$T/seg-%u" "$CLOUDM" stats --json) >"$CM_TMP/env.out" 2>"$CM_TMP/env.err"
cm_expect_eq "CLOUDM_SHARED_PATH: path" "$(sj env .segment.path)" "$SEG"
CLOUDM_SHARED_PATH="$T/nothing-%u" "$CLOUDM" stats -c "$CONF" >/dev/null 2>&1
cm_expect_eq "CLOUDM_SHARED_PATH wins over -c" "$?" 1

# --watch: snapshots until SIGINT, then exit 0
timeout --preserve-status -s INT 1.2 "$CLOUDM" stats -c "$CONF" --json --watch 0.2 \
  >"$CM_TMP/watch.out" 2>"$CM_TMP/watch.err"
cm_expect_eq "stats --watch: SIGINT exits 0" "$?" 0
cm_expect_ge "stats --watch: snapshots" "$(wc -l <"$CM_TMP/watch.out")" 3
cm_expect_eq "stats --watch: every line is JSON" \
  "$(jq -s 'map(.segment.entries) | unique' -c "$CM_TMP/watch.out" 2>/dev/null)" "[2]"

# --- usage errors ------------------------------------------------------------------------------
stats badwatch -c "$CONF" --watch 0
cm_expect_eq "stats --watch 0: status" "$(rc badwatch)" 2
stats badopt --bogus
cm_expect_eq "stats --bogus: status" "$(rc badopt)" 2
clear_seg badclear extra
cm_expect_eq "clear extra argument: status" "$(rc badclear)" 2
cm_plain helpstats "$CLOUDM" help stats
cm_expect_match "help stats" "$CM_TMP/helpstats.out" '^Usage: cloudm stats '
cm_plain helpclear "$CLOUDM" clear --help
cm_expect_match "clear --help" "$CM_TMP/helpclear.out" '^Usage: cloudm clear '

# --- clear --function: only the named function's entries --------------------------------------
clear_seg clearother -c "$CONF" --function not_sim_step
cm_expect_eq "clear --function other: status" "$(rc clearother)" 0
cm_expect_match "clear --function other: nothing dropped" "$CM_TMP/clearother.out" \
  "^cleared 0 entries of not_sim_step from $SEG\$"
cm_memo run3 "$CONF" "$SIM" "${ARGS[@]}"
cm_same plain run3
cm_expect_eq "run3 (other function cleared): shared hits" "$(cm_fn run3 sim_step .hits.shared)" 3

clear_seg clearfn -c "$CONF" --function=sim_step
cm_expect_eq "clear --function sim_step: status" "$(rc clearfn)" 0
cm_expect_match "clear --function sim_step: 2 dropped" "$CM_TMP/clearfn.out" \
  "^cleared 2 entries of sim_step from $SEG\$"
stats afterfn -c "$CONF" --json
cm_expect_eq "after clear --function: entries" "$(sj afterfn .segment.entries)" 0
cm_expect_eq "statistics survive clear" "$(sj afterfn "$SIMQ | .calls")" 9
cm_memo run4 "$CONF" "$SIM" "${ARGS[@]}"
cm_same plain run4
cm_counts run4 sim_step 3 1 2
cm_expect_eq "run4 (after clear --function): shared hits" "$(cm_fn run4 sim_step .hits.shared)" 0

# --- clear everything --------------------------------------------------------------------------
clear_seg clearall -c "$CONF"
cm_expect_eq "clear: status" "$(rc clearall)" 0
cm_expect_match "clear: 2 dropped" "$CM_TMP/clearall.out" "^cleared 2 entries from $SEG\$"
stats afterall -c "$CONF" --json
cm_expect_eq "after clear: entries" "$(sj afterall .segment.entries)" 0
cm_memo run5 "$CONF" "$SIM" "${ARGS[@]}"
cm_same plain run5
cm_counts run5 sim_step 3 1 2
cm_expect_eq "run5 (after clear): shared hits" "$(cm_fn run5 sim_step .hits.shared)" 0

# --- a config naming no existing segment ------------------------------------------------------
stats noseg -c "$NOSEG"
cm_expect_eq "stats, config with another path: status" "$(rc noseg)" 1
cm_expect_match "stats, config with another path: message" "$CM_TMP/noseg.err" \
  "^cloudm: no shared segment at $T/nothing-here-$(id -u)\$"

# --- segments the commands must refuse, as the shim does ----------------------------------------
BAD=$(cm_conf bad <<CONF
[cache]
shared_path = $T/bad-%u
CONF
)
BADSEG=$T/bad-$(id -u)
cp "$SEG" "$BADSEG" && chmod 0666 "$BADSEG"
stats open666 -c "$BAD"
cm_expect_eq "stats, 0666 segment: status" "$(rc open666)" 1
cm_expect_match "stats, 0666 segment: refused" "$CM_TMP/open666.err" "^cloudm stats: $BADSEG: refused"
clear_seg clear666 -c "$BAD"
cm_expect_eq "clear, 0666 segment: status" "$(rc clear666)" 1
echo "not a segment" >"$BADSEG" && chmod 0600 "$BADSEG"
stats notseg -c "$BAD"
cm_expect_eq "stats, not a segment: status" "$(rc notseg)" 1
cm_expect_eq "stats, not a segment: file left alone" "$(cat "$BADSEG")" "not a segment"

cm_done
