# lib.sh - helpers shared by the end-to-end tests (sourced, never run).
#
# What it does: runs a program plain and under `cloudm run`, compares outputs byte for byte,
# reads counts out of the JSON report with jq, and keeps a per-test failure count so one script
# can check many things and still exit non-zero at the end (cm_done).
#
# What it does not do: build anything (CMake builds the programs and passes their directory), or
# time anything (speed is the benchmarks' job).
#
# Environment (set by CTest, see tests/e2e/CMakeLists.txt):
#   CLOUDM        path of the `cloudm` command
#   CM_BIN        directory holding the test programs and libraries
#   CM_SRC        tests/e2e source directory (configs live there)
#   CLOUDM_TEST_PRELOAD  sanitizer runtime that must stay first in LD_PRELOAD (sanitizer builds)
set -u
CM_FAILS=0
CM_CHECKS=0
CM_TMP=$(mktemp -d "${TMPDIR:-/tmp}/cloudm-e2e.XXXXXX")
trap 'rm -rf "$CM_TMP"' EXIT
# Keep tests independent of the developer's own config files.
unset CLOUDM_CONFIG CLOUDM_MODE CLOUDM_DISABLE CLOUDM_REPORT CLOUDM_CHECK
export XDG_CONFIG_HOME="$CM_TMP/xdg"
export XDG_CACHE_HOME="$CM_TMP/xdg-cache" # the code identity cache (idcache.c)
# Each test script gets its own shared segment, and by default the memory tier only, so counts
# are per process as the memory-tier tests expect; shared-tier tests set CLOUDM_TIERS themselves.
export CLOUDM_SHARED_PATH="$CM_TMP/shm-segment"
export CLOUDM_TIERS="${CM_TEST_TIERS:-memory}"
if [ -n "${CLOUDM_TEST_PRELOAD:-}" ]; then
  export LD_PRELOAD="$CLOUDM_TEST_PRELOAD${LD_PRELOAD:+:$LD_PRELOAD}"
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
fi

cm_fail() { CM_FAILS=$((CM_FAILS + 1)); echo "FAIL: $*" >&2; }
cm_ok() { echo "ok: $*"; }

# cm_expect_eq DESC ACTUAL EXPECTED
cm_expect_eq() {
  CM_CHECKS=$((CM_CHECKS + 1))
  if [ "$2" = "$3" ]; then cm_ok "$1 = $3"; else cm_fail "$1: got '$2', expected '$3'"; fi
}
# cm_expect_ge DESC ACTUAL MIN
# cm_expect_ne DESC ACTUAL OTHER: ACTUAL is not OTHER
cm_expect_ne() {
  CM_CHECKS=$((CM_CHECKS + 1))
  if [ "$2" != "$3" ]; then cm_ok "$1: $2 != $3"; else cm_fail "$1: got '$2', expected anything else"; fi
}
cm_expect_ge() {
  CM_CHECKS=$((CM_CHECKS + 1))
  if [ "$2" -ge "$3" ] 2>/dev/null; then cm_ok "$1 = $2 >= $3"; else cm_fail "$1: got '$2', expected >= $3"; fi
}
# cm_expect_match DESC FILE REGEX: FILE has a line matching the extended regex
cm_expect_match() {
  CM_CHECKS=$((CM_CHECKS + 1))
  if grep -Eq -- "$3" "$2"; then cm_ok "$1"; else cm_fail "$1: no line matching /$3/ in $2:"; sed 's/^/    /' "$2" >&2; fi
}

# cm_plain NAME CMD...: run CMD, stdout in $CM_TMP/NAME.out, stderr in .err, status in .rc
cm_plain() {
  local name=$1; shift
  "$@" >"$CM_TMP/$name.out" 2>"$CM_TMP/$name.err"
  echo $? >"$CM_TMP/$name.rc"
}
# cm_memo NAME CONF CMD...: the same under `cloudm run -c CONF --report=$CM_TMP/NAME.json`
cm_memo() {
  local name=$1 conf=$2; shift 2
  "$CLOUDM" run -c "$conf" --report="$CM_TMP/$name.json" -- "$@" >"$CM_TMP/$name.out" 2>"$CM_TMP/$name.err"
  echo $? >"$CM_TMP/$name.rc"
}
# cm_same A B: outputs and exit statuses of runs A and B are byte-identical
cm_same() {
  CM_CHECKS=$((CM_CHECKS + 1))
  if cmp -s "$CM_TMP/$1.out" "$CM_TMP/$2.out" && cmp -s "$CM_TMP/$1.rc" "$CM_TMP/$2.rc"; then
    cm_ok "$1 and $2 identical"
  else
    cm_fail "$1 and $2 differ"; diff "$CM_TMP/$1.out" "$CM_TMP/$2.out" | head -20 >&2
    echo "  rc: $(cat "$CM_TMP/$1.rc") vs $(cat "$CM_TMP/$2.rc"); stderr of $2:" >&2
    head -20 "$CM_TMP/$2.err" >&2
  fi
}
# cm_json NAME JQ: evaluate a jq expression over run NAME's report (prints "missing" if absent)
cm_json() {
  if [ -s "$CM_TMP/$1.json" ]; then jq -r "$2" "$CM_TMP/$1.json"; else echo missing; fi
}
# cm_fn NAME FUNC FIELD: a field of one function's entry, e.g. cm_fn r2 lgamma .hits.memory
cm_fn() {
  cm_json "$1" "[.functions[] | select(.name == \"$2\")][0] | $3"
}
# cm_conf NAME <<EOF ... EOF: write a config file, print its path
cm_conf() { cat >"$CM_TMP/$1.conf"; echo "$CM_TMP/$1.conf"; }

cm_done() {
  echo "$CM_CHECKS checks, $CM_FAILS failed"
  [ "$CM_FAILS" -eq 0 ] && [ "$CM_CHECKS" -gt 0 ]
  exit $?
}

# --- additions for tests/e2e (the functions above keep their behaviour) -------------------------

# cm_expect_le DESC ACTUAL MAX
cm_expect_le() {
  CM_CHECKS=$((CM_CHECKS + 1))
  if [ "$2" -le "$3" ] 2>/dev/null; then cm_ok "$1 = $2 <= $3"; else cm_fail "$1: got '$2', expected <= $3"; fi
}
# cm_expect_nomatch DESC FILE REGEX: no line of FILE matches (a missing FILE passes)
cm_expect_nomatch() {
  CM_CHECKS=$((CM_CHECKS + 1))
  if [ -e "$2" ] && grep -Eq -- "$3" "$2"; then
    cm_fail "$1: unexpected line matching /$3/ in $2:"; grep -E -- "$3" "$2" | head -5 | sed 's/^/    /' >&2
  else cm_ok "$1"; fi
}
# cm_require FILE...: each must exist and be executable (a missing build fails loudly, not as
# a string of confusing mismatches); returns 1 after recording a failure.
cm_require() {
  local f
  for f in "$@"; do
    if [ ! -x "$f" ]; then
      CM_CHECKS=$((CM_CHECKS + 1)); cm_fail "missing or not executable: $f (build first)"; return 1
    fi
  done
}
# cm_run NAME CLOUDM-RUN-ARGS...: `cloudm run ARGS` (the caller supplies -c, --report, --, the
# program) under a timeout (CM_TIMEOUT seconds, default 60); outputs as for cm_plain. A hang
# shows as status 124.
cm_run() {
  local name=$1; shift
  timeout -k 5 "${CM_TIMEOUT:-60}" "$CLOUDM" run "$@" >"$CM_TMP/$name.out" 2>"$CM_TMP/$name.err"
  echo $? >"$CM_TMP/$name.rc"
}
# cm_hits NAME FUNC: hits over all tiers ("missing" when the report or the function is absent)
cm_hits() {
  cm_fn "$1" "$2" '(.hits.memory + .hits.shared + .hits.remote) // "missing"'
}
# cm_execs NAME FUNC: how often FUNC really ran, from the "legacy: execs FUNC N" line the test
# programs print on stderr (0 when absent: the function never ran).
cm_execs() {
  local n
  n=$(sed -n "s/^[a-z]*: execs $2 \([0-9][0-9]*\)\$/\1/p" "$CM_TMP/$1.err" | tail -1)
  echo "${n:-0}"
}
# cm_invariant NAME FUNC: the report's calls = hits (all tiers) + misses + errors + bypassed
cm_invariant() {
  local r
  r=$(cm_fn "$1" "$2" 'if . == null then "missing" else
        (.calls == .hits.memory + .hits.shared + .hits.remote + .misses + .errors + .bypassed) end')
  cm_expect_eq "$1 $2: calls = hits + misses + errors + bypassed" "$r" true
}
# cm_counts NAME FUNC CALLS HITS MISSES [ERRORS]: the report's counts for FUNC, exactly (hits
# over all tiers; one jq run, one check)
cm_counts() {
  local got want="$3 $4 $5" q='"\(.calls) \(.hits.memory + .hits.shared + .hits.remote) \(.misses)'
  if [ $# -ge 6 ]; then want="$want $6" q="$q \\(.errors)"; fi
  got=$(cm_fn "$1" "$2" "$q\"")
  if [ $# -ge 6 ]; then
    cm_expect_eq "$1 $2 calls hits misses errors" "$got" "$want"
  else
    cm_expect_eq "$1 $2 calls hits misses" "$got" "$want"
  fi
}
# cm_table NAME: one line per function of run NAME's report: "name calls memory shared remote
# misses errors bypassed distinct" (nothing when the report is absent)
cm_table() {
  [ -s "$CM_TMP/$1.json" ] || return 0
  jq -r '.functions[] | "\(.name) \(.calls) \(.hits.memory) \(.hits.shared) \(.hits.remote) \(.misses) \(.errors) \(.bypassed) \(.distinct)"' "$CM_TMP/$1.json"
}
# cm_expect_no_hits NAME FUNC...: run NAME's report is absent (nothing installed) or shows no
# hits for each FUNC
cm_expect_no_hits() {
  local name=$1 f h; shift
  for f in "$@"; do
    h=$(cm_hits "$name" "$f")
    CM_CHECKS=$((CM_CHECKS + 1))
    case "$h" in
      0 | missing) cm_ok "$name $f: no hits ($h)" ;;
      *) cm_fail "$name $f: $h hits, expected none" ;;
    esac
  done
}

# cm_fork_reports RUN PARENT CHILD: after prog/forker ran as RUN (stderr in RUN.err, reports
# --report=$CM_TMP/RUN-%p.json), copies the parent's report to PARENT.json and the child's to
# CHILD.json (a missing one is left missing)
cm_fork_reports() {
  local ppid cpid
  ppid=$(sed -n 's/^forker: parent pid //p' "$CM_TMP/$1.err")
  cpid=$(sed -n 's/^forker: child pid //p' "$CM_TMP/$1.err")
  cp "$CM_TMP/$1-$ppid.json" "$CM_TMP/$2.json" 2>/dev/null
  cp "$CM_TMP/$1-$cpid.json" "$CM_TMP/$3.json" 2>/dev/null
}
