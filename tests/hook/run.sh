#!/bin/bash
# run.sh CASE BINDIR - one hook-layer test case (see CMakeLists.txt for the list).
#
# What it does: runs a test program plain and under the hook harness (libcmhook_harness.so,
# which counts calls reaching each bound replacement and writes "hook NAME VERSION CALLS
# PROVIDER" lines to $HOOK_REPORT), then checks: both exit 0, the hooked output is
# byte-identical to the plain output and to the expected text, no recursion (timeout), and the
# number of calls that reached each replacement. Prints "N passed, N failed"; exit 1 on failure.
#
# What it does not do: build anything (CMake does), or test the dispatcher (tests/e2e does).
set -u
CASE=$1
T=$2
H=$T/libcmhook_harness.so
PASS=0
FAIL=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cloudm-hook.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
unset HOOK_TARGETS HOOK_REPORT HOOK_DESCRIBE CLOUDM_DEBUG LD_LIBRARY_PATH
# Sanitizer builds: the runtime must come first in LD_PRELOAD.
PRE=${CLOUDM_TEST_PRELOAD:-}
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"

ok() { PASS=$((PASS + 1)); echo "ok: $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL: $*"; }

preload() { # preload LIBS... -> LD_PRELOAD value
  local v=$PRE l
  for l in "$@"; do v="${v:+$v:}$l"; done
  echo "$v"
}

# run TARGETS "EXTRA_PRELOADS" EXPECTED_OUTPUT PROGRAM ARGS...
# Runs plain (with EXTRA_PRELOADS only) and hooked; checks status and outputs.
run() {
  local targets=$1 extra=$2 expected=$3
  shift 3
  rm -f "$TMP/report"
  # shellcheck disable=SC2086
  LD_PRELOAD=$(preload $extra) timeout 30 "$@" >"$TMP/plain.out" 2>"$TMP/plain.err"
  local prc=$?
  # shellcheck disable=SC2086
  HOOK_TARGETS=$targets HOOK_REPORT=$TMP/report LD_PRELOAD=$(preload "$H" $extra) \
    timeout 30 "$@" >"$TMP/hook.out" 2>"$TMP/hook.err"
  local hrc=$?
  [ $hrc -eq 0 ] && ok "$1 hooked exit 0" || bad "$1 hooked exit $hrc: $(head -c 300 "$TMP/hook.err")"
  if [ -n "${NOPLAIN:-}" ]; then
    echo "skip: $1 plain comparison ($NOPLAIN)"
  elif [ $prc -ne 0 ]; then
    bad "$1 plain exit $prc: $(head -c 300 "$TMP/plain.err")"
  elif cmp -s "$TMP/plain.out" "$TMP/hook.out"; then
    ok "$1 output identical plain and hooked"
  else
    bad "$1 output differs: plain [$(tr '\n' '|' <"$TMP/plain.out")] hooked [$(tr '\n' '|' <"$TMP/hook.out")]"
  fi
  if [ "$(cat "$TMP/hook.out")" = "$expected" ]; then
    ok "$1 output is the expected text"
  else
    bad "$1 output [$(tr '\n' '|' <"$TMP/hook.out")] expected [$(echo "$expected" | tr '\n' '|')]"
  fi
  if grep -q "^cloudm:" "$TMP/hook.err"; then
    bad "$1 printed messages: $(grep '^cloudm:' "$TMP/hook.err" | head -3 | tr '\n' '|')"
  fi
}

# count NAME VERSION PROVIDER EXPECTED: calls that reached the replacement(s) of NAME bound to
# VERSION ('*' = any) from PROVIDER ('*' = any), summed over bindings.
count() {
  local name=$1 version=$2 provider=$3 want=$4 got
  got=$(awk -v n="$name" -v v="$version" -v p="$provider" \
    '$1 == "hook" && $2 == n && (v == "*" || $3 == v) && (p == "*" || $5 == p) { s += $4 }
     END { print s + 0 }' "$TMP/report" 2>/dev/null)
  if [ "$got" = "$want" ]; then
    ok "$name@$version from $provider reached the hook $want times"
  else
    bad "$name@$version from $provider reached the hook $got times, expected $want ($(tr '\n' '|' <"$TMP/report" 2>/dev/null))"
  fi
}

# A sanitizer runtime intercepts dlopen itself and so breaks caller-relative dlopen ($ORIGIN,
# DT_RUNPATH) in the plain run (the very problem dlwrap.c solves): no plain reference there.
RP_NOPLAIN=${PRE:+sanitizer runtime intercepts dlopen}

BASIC_OUT=$'add 55\ntwice 42\nscale 10.00\nifunc 21'

case $CASE in
basic_*)
  run tl_add,tl_twice,tl_scale:d,tl_ifunc "" "$BASIC_OUT" "$T/$CASE"
  count tl_add '*' libtl.so 11
  count tl_twice '*' libtl.so 1
  count tl_scale '*' libtl.so 1
  count tl_ifunc '*' libtl.so 1
  ;;
ifunc)
  # the IFUNC alone: the original must be the implementation the resolver picked (x * 3)
  for v in basic_pie_lazy_O2 basic_nopie_now_O0 basic_pie_noplt_now_O2; do
    run tl_ifunc "" "$BASIC_OUT" "$T/$v"
    count tl_ifunc '*' libtl.so 1
  done
  ;;
canon)
  run tl_add "" $'fp 5\ng 9\ndirect 2\ntwice 10\nequal 1' "$T/canon"
  count tl_add '*' libtl.so 4
  ;;
dl_local)
  run dep_mul "" $'run 6 15\nmul 42\nglobal invisible' "$T/dl_local" "$T"
  count dep_mul '*' libdep.so 3
  # object glob: matching the provider's basename binds, another glob does not
  run 'dep_mul@libdep*' "" $'run 6 15\nmul 42\nglobal invisible' "$T/dl_local" "$T"
  count dep_mul '*' libdep.so 3
  run 'dep_mul@*/libnothing.so' "" $'run 6 15\nmul 42\nglobal invisible' "$T/dl_local" "$T"
  count dep_mul '*' '*' 0
  ;;
versions)
  run tv_get "" 'old 101 102' "$T/tv_old"
  count tv_get V1 libtv.so 2
  count tv_get V2 libtv.so 0
  # the dlvsym pointer to V1 is bound on demand (nothing imports V1 here)
  run tv_get "" $'new 201 202\ndlvsym 203 103' "$T/tv_new"
  count tv_get V2 libtv.so 3
  count tv_get V1 libtv.so 1
  run tv_get "" 'both 101 201 202' "$T/tv_both"
  count tv_get V1 libtv.so 1
  count tv_get V2 libtv.so 2
  ;;
dlsym)
  # pointers from dlsym(handle), dlsym(RTLD_DEFAULT) and dlvsym are hooked entries, also for a
  # target nobody imports (plug_run is only ever reached through dlsym)
  run dep_mul,plug_run "" $'run 6 15\nmul 42\nglobal invisible' "$T/dl_local" "$T"
  count dep_mul '*' libdep.so 3
  count plug_run '*' libplug.so 2
  run tv_get "" $'new 201 202\ndlvsym 203 103' "$T/tv_new"
  count tv_get V2 libtv.so 3
  count tv_get V1 libtv.so 1
  NOPLAIN=$RP_NOPLAIN run tl_add "" $'rp 1001\norigin same\nldr 1002\ndlsym 42\ntwice 2' "$T/rp_main"
  count tl_add '*' libtl.so 4
  ;;
runpath)
  NOPLAIN=$RP_NOPLAIN run tl_add "" $'rp 1001\norigin same\nldr 1002\ndlsym 42\ntwice 2' "$T/rp_main"
  count tl_add '*' libtl.so 4
  # LD_LIBRARY_PATH comes before DT_RUNPATH: still the same library found
  NOPLAIN=$RP_NOPLAIN LD_LIBRARY_PATH=$T/rpdir run tl_add "" $'rp 1001\norigin same\nldr 1002\ndlsym 42\ntwice 2' "$T/rp_main"
  count tl_add '*' libtl.so 4
  ;;
rtld_next)
  # libnext.so interposes tl_add and finds libtl's with dlsym(RTLD_NEXT); the hook binds to the
  # interposer (what the program reaches), and nothing recurses
  run tl_add "$T/libnext.so" "$BASIC_OUT" "$T/basic_pie_lazy_O2"
  count tl_add '*' libnext.so 11
  count tl_add '*' libtl.so 0
  ;;
threads)
  run tl_add,dep_mul "" $'wrong 0\nruns 2340' "$T/threads" "$T"
  calls=$(awk '$1 == "calls" { print $2 }' "$TMP/hook.err")
  count tl_add '*' libtl.so "${calls:-missing}"
  count dep_mul '*' libdep.so 40
  ;;
zlib)
  run compress,compress2,uncompress "" \
    $'compress 0\nuncompress 0 56 cloudm cloudm cloudm cloudm cloudm cloudm cloudm cloudm' "$T/zt"
  count compress '*' '*' 1
  count compress2 '*' '*' 1
  count uncompress '*' '*' 1
  ;;
describe)
  HOOK_DESCRIBE=1 HOOK_TARGETS=tv_get,tl_add,no_such_function HOOK_REPORT=$TMP/describe \
    LD_PRELOAD=$(preload "$H") "$T/tv_both" >/dev/null 2>&1
  d=$TMP/describe
  grep -q "^tv_get$" "$d" && ok "describe names tv_get" || bad "describe: no tv_get line"
  grep -q "^  provided by .*/libtv.so (version V1, at 0x" "$d" && ok "describe: V1 provider" ||
    bad "describe: no V1 provider"
  grep -q "^  provided by .*/libtv.so (version V2, at 0x" "$d" && ok "describe: V2 provider" ||
    bad "describe: no V2 provider"
  grep -q "^  imported by .*/tv_both (JUMP_SLOT, version V1)$" "$d" && ok "describe: V1 import" ||
    bad "describe: no V1 import"
  grep -q "^  imported by .*/tv_both (JUMP_SLOT, version V2)$" "$d" && ok "describe: V2 import" ||
    bad "describe: no V2 import"
  # tl_add: not loaded by tv_both; no_such_function: nowhere
  [ "$(grep -c '^  not found in any loaded object$' "$d")" = 2 ] && ok "describe: 2 not found" ||
    bad "describe: not-found lines: $(tr '\n' '|' <"$d")"
  grep -q "^nowhere 2$" "$d" && ok "describe returns 2" || bad "describe return: $(grep nowhere "$d")"
  ;;
*)
  bad "unknown case $CASE"
  ;;
esac

echo "$PASS passed, $FAIL failed"
[ $FAIL -eq 0 ]
