#!/bin/bash
# test_modes.sh - cache modes and their precedence, and a broken config (prog/modeprog.c:
# lg_poly 100 calls over 20 distinct arguments, lg_sq 40 calls over 10).
#
# Proves, each with output identical to the plain run:
#   readwrite  hits (80 / 30) and the code ran only 20 / 10 times (the baseline)
#   readonly   never stores: every call a miss, the code ran every time
#   writeonly  never hits: every call a miss, the code ran every time
#   off        nothing counted, the code ran every time
#   profile    every call counted and run, distinct argument sets counted (20 / 10)
#   per-function `mode =` overrides [cache] mode; CLOUDM_MODE and `cloudm run --mode` override both
#   a syntax error: `FILE:LINE:COL:` on stderr, the program runs unmemoized; with strict = yes
#   `cloudm run` exits 1 without starting it; an unsupported signature skips only its function.
# And the keys that decide whether a function is memoized at all: `min_time` (a result is
# stored only if its call took that long), `object =` matching no provider, and where the
# report goes: `report =` in [cache], CLOUDM_REPORT over it.
. "$CM_SRC/lib.sh"

PROG=$CM_BIN/modeprog
cm_require "$CLOUDM" "$PROG" || cm_done

cm_plain plain "$PROG"
cm_expect_eq "plain exit status" "$(cat "$CM_TMP/plain.rc")" 0
cm_expect_eq "plain execs lg_poly" "$(cm_execs plain lg_poly)" 100
cm_expect_eq "plain execs lg_sq" "$(cm_execs plain lg_sq)" 40

# conf NAME CACHE_MODE POLY_MODE SQ_MODE: a config ("-" leaves a mode unset)
conf() {
  {
    echo "[cache]"
    [ "$2" = - ] || echo "mode = $2"
    echo "[function lg_poly]"
    echo "signature = i64 lg_poly(i32 x)"
    [ "$3" = - ] || echo "mode = $3"
    echo "[function lg_sq]"
    echo "signature = i64 lg_sq(i64 x)"
    [ "$4" = - ] || echo "mode = $4"
  } | cm_conf "$1"
}
# expect RUN FUNC CALLS HITS MISSES EXECS [DISTINCT]
expect() {
  cm_expect_eq "$1 $2 calls" "$(cm_fn "$1" "$2" .calls)" "$3"
  cm_expect_eq "$1 $2 hits" "$(cm_hits "$1" "$2")" "$4"
  cm_expect_eq "$1 $2 misses" "$(cm_fn "$1" "$2" .misses)" "$5"
  cm_expect_eq "$1 $2 execs" "$(cm_execs "$1" "$2")" "$6"
  if [ $# -ge 7 ]; then cm_expect_eq "$1 $2 distinct" "$(cm_fn "$1" "$2" .distinct)" "$7"; fi
}
# off_counts RUN FUNC: a function in mode off counts nothing and runs every call
off_counts() {
  cm_expect_eq "$1 $2 calls (off counts nothing)" "$(cm_fn "$1" "$2" '.calls // 0')" 0
  cm_expect_eq "$1 $2 execs" "$(cm_execs "$1" "$2")" "$3"
}

# --- [cache] mode ------------------------------------------------------------------------------
for m in readwrite readonly writeonly off profile; do
  cm_memo "$m" "$(conf "$m" "$m" - -)" "$PROG"
  cm_same plain "$m"
done
expect readwrite lg_poly 100 80 20 20
expect readwrite lg_sq 40 30 10 10
cm_expect_eq "readwrite distinct is null" "$(cm_fn readwrite lg_poly .distinct)" null
expect readonly lg_poly 100 0 100 100
expect readonly lg_sq 40 0 40 40
expect writeonly lg_poly 100 0 100 100
expect writeonly lg_sq 40 0 40 40
off_counts off lg_poly 100
off_counts off lg_sq 40
expect profile lg_poly 100 0 100 100 20
expect profile lg_sq 40 0 40 40 10

# --- per-function mode overrides [cache] --------------------------------------------------------
cm_memo perfn "$(conf perfn off readwrite -)" "$PROG"
cm_same plain perfn
expect perfn lg_poly 100 80 20 20
off_counts perfn lg_sq 40

cm_memo perfn2 "$(conf perfn2 readwrite - profile)" "$PROG"
cm_same plain perfn2
expect perfn2 lg_poly 100 80 20 20
expect perfn2 lg_sq 40 0 40 40 10

# --- CLOUDM_MODE and --mode override both --------------------------------------------------------
CLOUDM_MODE=readonly cm_memo envmode "$CM_TMP/perfn.conf" "$PROG"
cm_same plain envmode
expect envmode lg_poly 100 0 100 100
expect envmode lg_sq 40 0 40 40

CLOUDM_MODE=off cm_memo envoff "$CM_TMP/perfn2.conf" "$PROG"
cm_same plain envoff
off_counts envoff lg_poly 100
off_counts envoff lg_sq 40

cm_run optmode -c "$CM_TMP/perfn.conf" --mode profile --report="$CM_TMP/optmode.json" -- "$PROG"
cm_same plain optmode
expect optmode lg_poly 100 0 100 100 20
expect optmode lg_sq 40 0 40 40 10

# --- broken configs -----------------------------------------------------------------------------
BAD=$(printf '[function lg_poly]\nsignature = i64 lg_poly(i32 x)\n[function lg_sq\nsignature = i64 lg_sq(i64 x)\n' |
  cm_conf bad)
cm_memo bad "$BAD" "$PROG"
cm_same plain bad
cm_expect_match "syntax error: FILE:LINE:COL: on stderr" "$CM_TMP/bad.err" "bad\.conf:3:[0-9]+: "
cm_expect_eq "syntax error: unmemoized, lg_poly ran every call" "$(cm_execs bad lg_poly)" 100
cm_expect_no_hits bad lg_poly lg_sq

STRICT=$(printf '[cache]\nstrict = yes\n[function lg_poly]\nsignature = i64 lg_poly(i32 x)\n[function lg_sq\n' |
  cm_conf strict)
cm_memo strict "$STRICT" "$PROG"
cm_expect_eq "strict: cloudm run exit status" "$(cat "$CM_TMP/strict.rc")" 1
cm_expect_eq "strict: program not started" "$(wc -c <"$CM_TMP/strict.out")" 0
cm_expect_match "strict: FILE:LINE:COL: on stderr" "$CM_TMP/strict.err" "strict\.conf:5:[0-9]+: "

# An unsupported signature (variadic) skips that function only, with a warning.
PARTIAL=$(printf '[function lg_sq]\nsignature = i64 lg_sq(i64 x, ...)\n[function lg_poly]\nsignature = i64 lg_poly(i32 x)\n' |
  cm_conf partial)
cm_memo partial "$PARTIAL" "$PROG"
cm_same plain partial
cm_expect_match "variadic: a warning naming the line" "$CM_TMP/partial.err" "partial\.conf:2:[0-9]+: "
expect partial lg_poly 100 80 20 20
cm_expect_eq "variadic: lg_sq ran every call" "$(cm_execs partial lg_sq)" 40

# --- min_time, object, report destinations -------------------------------------------------------
MINT=$(printf '[function lg_poly]\nsignature = i64 lg_poly(i32 x)\nmin_time = 1h\n[function lg_sq]\nsignature = i64 lg_sq(i64 x)\nmin_time = 0\n' |
  cm_conf min_time)
cm_memo min_time "$MINT" "$PROG"
cm_same plain min_time
expect min_time lg_poly 100 0 100 100
expect min_time lg_sq 40 30 10 10

OBJ=$(printf '[function lg_poly]\nsignature = i64 lg_poly(i32 x)\nobject = */libnothere.so\n[function lg_sq]\nsignature = i64 lg_sq(i64 x)\nobject = */liblegacy.so\n' |
  cm_conf object)
cm_memo object "$OBJ" "$PROG"
cm_same plain object
cm_expect_eq "object glob matching nothing: lg_poly ran every call" "$(cm_execs object lg_poly)" 100
cm_expect_no_hits object lg_poly
expect object lg_sq 40 30 10 10

REP=$(printf '[cache]\nreport = %s\n[function lg_sq]\nsignature = i64 lg_sq(i64 x)\n' "$CM_TMP/fromconf.%p.json" |
  cm_conf report)
cm_plain report_conf "$CLOUDM" run -c "$REP" -- "$PROG"
cm_same plain report_conf
n=$(ls "$CM_TMP" | grep -c '^fromconf\.[0-9]*\.json$')
cm_expect_eq "report = PATH with %p: one file" "$n" 1
f=$(ls "$CM_TMP" | grep '^fromconf\.[0-9]*\.json$' | head -1)
cm_expect_eq "report = PATH: lg_sq hits" "$(jq -r '.functions[] | select(.name == "lg_sq") | .hits.memory' "$CM_TMP/$f" 2>/dev/null)" 30
rm -f "$CM_TMP"/fromconf.*.json
CLOUDM_REPORT=$CM_TMP/fromenv.json cm_plain report_env "$CLOUDM" run -c "$REP" -- "$PROG"
cm_same plain report_env
cm_expect_eq "CLOUDM_REPORT wins over report =: lg_sq hits" \
  "$(jq -r '.functions[] | select(.name == "lg_sq") | .hits.memory' "$CM_TMP/fromenv.json" 2>/dev/null)" 30
cm_expect_eq "CLOUDM_REPORT wins over report =: no file from the config" \
  "$(ls "$CM_TMP" | grep -c '^fromconf\.')" 0

cm_done
