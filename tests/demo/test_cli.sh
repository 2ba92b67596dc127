#!/bin/bash
# test_cli.sh - end-to-end tests of the `cloudm` command itself: options, exit statuses, config
# handling before exec, and the environment it gives the program (LD_PRELOAD, CLOUDM_*).
#
# What it does not test: memoization (test_demo.sh and tests/e2e do); the program used here,
# cli_probe, only prints its environment, creates a marker file or exits with a status.
# Needs CLOUDM, CM_BIN, CM_SRC (set by tests/demo/CMakeLists.txt).
. "$CM_SRC/../e2e/lib.sh"

PROBE=$CM_BIN/cli_probe
T=$(cd "$CM_TMP" && pwd -P) # the physical path: cloudm exports resolved paths

# run NAME CMD...: stdout/stderr/status of one command into $T/NAME.{out,err,rc}
run() { cm_plain "$@"; }
rc() { cat "$T/$1.rc"; }

# --- version, help, usage errors ------------------------------------------------------------
run version "$CLOUDM" --version
cm_expect_eq "--version" "$(cat "$T/version.out")" "cloudm 0.1.0"
cm_expect_eq "--version status" "$(rc version)" 0

run help "$CLOUDM" --help
cm_expect_eq "--help status" "$(rc help)" 0
cm_expect_match "--help prints usage" "$T/help.out" '^Usage: cloudm COMMAND'
for c in run check profile; do
  run "help_$c" "$CLOUDM" help "$c"
  cm_expect_eq "help $c status" "$(rc "help_$c")" 0
  cm_expect_match "help $c" "$T/help_$c.out" "^Usage: cloudm $c "
  run "dash_help_$c" "$CLOUDM" "$c" --help
  cm_expect_eq "$c --help status" "$(rc "dash_help_$c")" 0
  cm_expect_match "$c --help" "$T/dash_help_$c.out" "^Usage: cloudm $c "
done

run noargs "$CLOUDM"
cm_expect_eq "no arguments status" "$(rc noargs)" 2
run badopt "$CLOUDM" --bogus
cm_expect_eq "unknown option status" "$(rc badopt)" 2
cm_expect_match "unknown option message" "$T/badopt.err" "unknown option '--bogus'"
cm_expect_match "unknown option usage on stderr" "$T/badopt.err" '^Usage: cloudm'
run badcmd "$CLOUDM" frobnicate
cm_expect_eq "unknown command status" "$(rc badcmd)" 2
cm_expect_match "unknown command message" "$T/badcmd.err" "unknown command 'frobnicate'"
run badrunopt "$CLOUDM" run --bogus -- "$PROBE"
cm_expect_eq "run unknown option status" "$(rc badrunopt)" 2
cm_expect_match "run unknown option usage" "$T/badrunopt.err" '^Usage: cloudm run'
run badmode "$CLOUDM" run --mode fast -- "$PROBE"
cm_expect_eq "run --mode fast status" "$(rc badmode)" 2
cm_expect_match "run --mode fast message" "$T/badmode.err" "unknown mode 'fast'"
run noprog "$CLOUDM" run -c /dev/null
cm_expect_eq "run without PROGRAM status" "$(rc noprog)" 2
run badhelp "$CLOUDM" help frobnicate
cm_expect_eq "help of an unknown command status" "$(rc badhelp)" 2

# --- configs ---------------------------------------------------------------------------------
GOOD=$(cm_conf good <<'CONF'
[function lgamma]
signature = f64 lgamma(f64 x)
writes    = signgam:4
CONF
)
BROKEN=$(cm_conf broken <<'CONF'
[cache]
mode = readwrite

signature f64 lgamma(f64 x)
CONF
)
STRICT=$(cm_conf strict <<'CONF'
[cache]
strict = yes

signature f64 lgamma(f64 x)
CONF
)

# --- run: exit status, strict, non-strict ----------------------------------------------------
run exit3 "$CLOUDM" run -c "$GOOD" -- "$PROBE" --print CLOUDM_CONFIG --exit 3
cm_expect_eq "run passes the exit status through" "$(rc exit3)" 3
cm_expect_eq "run exports CLOUDM_CONFIG" "$(cat "$T/exit3.out")" "$T/good.conf"

rm -f "$T/ran.strict"
run strict "$CLOUDM" run -c "$STRICT" -- "$PROBE" --touch "$T/ran.strict"
cm_expect_eq "strict broken config: status" "$(rc strict)" 1
cm_expect_eq "strict broken config: program not run" "$([ -e "$T/ran.strict" ] && echo ran || echo not-run)" not-run
cm_expect_match "strict broken config: FILE:LINE:COL: error:" "$T/strict.err" "strict\.conf:4:[0-9]+: error: "
cm_expect_match "strict broken config: says why" "$T/strict.err" "strict = yes"

rm -f "$T/ran.lax"
run lax "$CLOUDM" run -c "$BROKEN" -- "$PROBE" --touch "$T/ran.lax" --exit 5
cm_expect_eq "non-strict broken config: program runs" "$([ -e "$T/ran.lax" ] && echo ran || echo not-run)" ran
cm_expect_eq "non-strict broken config: status" "$(rc lax)" 5

run nofile "$CLOUDM" run -c "$T/missing.conf" -- "$PROBE" --touch "$T/ran.nofile"
cm_expect_eq "missing -c file: status" "$(rc nofile)" 1
cm_expect_match "missing -c file: message" "$T/nofile.err" "cannot read config .*missing\.conf"

run noexec "$CLOUDM" run -c "$GOOD" -- "$T/no-such-program" arg
cm_expect_eq "exec failure status" "$(rc noexec)" 127
cm_expect_match "exec failure message" "$T/noexec.err" "^cloudm: cannot run $T/no-such-program: No such file or directory"

# --- check -----------------------------------------------------------------------------------
run check_good "$CLOUDM" check -c "$GOOD"
cm_expect_eq "check good: status" "$(rc check_good)" 0
cm_expect_match "check good: summary" "$T/check_good.out" "^$GOOD: 1 function, 0 errors, 0 warnings$"
cm_expect_match "check good: signature and placement" "$T/check_good.out" '^lgamma  f64 lgamma\(f64\)  x:xmm0$'
cm_expect_match "check good: writes" "$T/check_good.out" 'writes signgam:4'

run check_broken "$CLOUDM" check -c "$BROKEN"
cm_expect_eq "check broken: status" "$(rc check_broken)" 1
cm_expect_match "check broken: diagnostic" "$T/check_broken.err" "broken\.conf:4:[0-9]+: error: "
cm_expect_match "check broken: summary" "$T/check_broken.out" "broken\.conf: [0-9]+ functions?, [1-9][0-9]* errors?, "

MIXED=$(cm_conf mixed <<'CONF'
[function lgamma]
signature = f64 lgamma(f64 x)

[function sum]
signature = i32 sum(i32 n, ...)

[function crunch]
signature = f64 crunch(i32 a, f64 b, in[n] buf, u64 n, f32 c)
CONF
)
run check_mixed "$CLOUDM" check -c "$MIXED"
cm_expect_eq "check variadic (a warning): status" "$(rc check_mixed)" 0
cm_expect_match "check variadic: warning" "$T/check_mixed.err" "mixed\.conf:5:[0-9]+: warning: "
cm_expect_match "check variadic: summary" "$T/check_mixed.out" "mixed\.conf: 2 functions, 0 errors, 1 warning$"
cm_expect_match "check mixed placement" "$T/check_mixed.out" '^crunch  .* a:rdi b:xmm0 buf:rsi n:rdx c:xmm1$'

run check_missing "$CLOUDM" check -c "$T/missing.conf"
cm_expect_eq "check missing file: status" "$(rc check_missing)" 1
(cd "$T" && "$CLOUDM" check >"$T/check_none.out" 2>"$T/check_none.err"; echo $? >"$T/check_none.rc")
cm_expect_eq "check without any config: status" "$(rc check_none)" 1
cm_expect_match "check without any config: message" "$T/check_none.err" "no config file"

run check_noexec "$CLOUDM" check -c "$GOOD" -- "$T/no-such-program"
cm_expect_eq "check PROGRAM that cannot run: status" "$(rc check_noexec)" 1

# With PROGRAM the shim prints its hook plan and exits before main: the marker stays absent.
rm -f "$T/ran.check"
run check_prog "$CLOUDM" check -c "$GOOD" -- "$PROBE" --touch "$T/ran.check"
cm_expect_eq "check PROGRAM: status" "$(rc check_prog)" 0
cm_expect_eq "check PROGRAM: stops before main" "$([ -e "$T/ran.check" ] && echo ran || echo not-run)" not-run

# --- the environment given to the program ----------------------------------------------------
LIB=$(realpath "$(dirname "$CLOUDM")/../lib/libcloudm.so")
cp "$CM_BIN/libsim.so" "$T/libclang_rt.asan-fake.so"
cp "$CM_BIN/libsim.so" "$T/libother.so"
TP=${CLOUDM_TEST_PRELOAD:+$CLOUDM_TEST_PRELOAD:}
run preload env LD_PRELOAD="${TP}$T/libclang_rt.asan-fake.so $T/libother.so" \
  "$CLOUDM" run -c "$GOOD" -- "$PROBE" --print LD_PRELOAD
cm_expect_eq "LD_PRELOAD: sanitizer runtimes stay first" "$(cat "$T/preload.out")" \
  "${TP}$T/libclang_rt.asan-fake.so:$LIB:$T/libother.so"
run preload2 env LD_PRELOAD="${TP}$T/libother.so:$LIB" \
  "$CLOUDM" run -c "$GOOD" -- "$PROBE" --print LD_PRELOAD
cm_expect_eq "LD_PRELOAD: the library is not preloaded twice" "$(cat "$T/preload2.out")" \
  "${TP}$LIB:$T/libother.so"

cp "$CM_BIN/libsim.so" "$T/libcloudm.so"
run cmlib env CLOUDM_LIB="$T/libcloudm.so" LD_PRELOAD="${CLOUDM_TEST_PRELOAD:-}" \
  "$CLOUDM" run -c "$GOOD" -- "$PROBE" --print LD_PRELOAD
cm_expect_eq "CLOUDM_LIB chooses the library" "$(cat "$T/cmlib.out")" "${TP}$T/libcloudm.so"
run nolib env CLOUDM_LIB="$T/nowhere/libcloudm.so" "$CLOUDM" run -c "$GOOD" -- "$PROBE" --touch "$T/ran.nolib"
cm_expect_eq "CLOUDM_LIB missing: status" "$(rc nolib)" 1
cm_expect_match "CLOUDM_LIB missing: message" "$T/nolib.err" "CLOUDM_LIB=.*nowhere/libcloudm.so"

mkdir -p "$T/wd"
cp "$GOOD" "$T/wd/rel.conf"
(cd "$T/wd" && "$CLOUDM" run -c rel.conf --report=rep-%p.json --mode readonly -- "$PROBE" \
   --print CLOUDM_CONFIG --print CLOUDM_REPORT --print CLOUDM_MODE --print CLOUDM_CHECK \
   >"$T/vars.out" 2>"$T/vars.err")
cm_expect_eq "relative -c, --report=FILE, --mode" "$(tr '\n' ' ' <"$T/vars.out")" \
  "$T/wd/rel.conf $T/wd/rep-%p.json readonly (unset) "

cp "$GOOD" "$T/wd/cloudm.conf"
(cd "$T/wd" && CLOUDM_CHECK=1 CLOUDM_DISABLE=1 "$CLOUDM" run --report -- "$PROBE" \
   --print CLOUDM_CONFIG --print CLOUDM_REPORT --print CLOUDM_DISABLE --print CLOUDM_CHECK \
   >"$T/found.out" 2>"$T/found.err")
cm_expect_eq "./cloudm.conf found, --report, CLOUDM_DISABLE kept, CLOUDM_CHECK dropped" \
  "$(tr '\n' ' ' <"$T/found.out")" "$T/wd/cloudm.conf stderr 1 (unset) "

mkdir -p "$XDG_CONFIG_HOME/cloudm"
cp "$GOOD" "$XDG_CONFIG_HOME/cloudm/cloudm.conf"
(cd "$T" && CLOUDM_DISABLE=1 "$CLOUDM" profile -- "$PROBE" --print CLOUDM_CONFIG \
   --print CLOUDM_MODE --print CLOUDM_REPORT >"$T/prof.out" 2>"$T/prof.err")
cm_expect_eq "profile: XDG config, mode profile, report on stderr" "$(tr '\n' ' ' <"$T/prof.out")" \
  "$T/xdg/cloudm/cloudm.conf profile stderr "
rm -f "$XDG_CONFIG_HOME/cloudm/cloudm.conf"

(cd "$T" && CLOUDM_DISABLE=1 "$CLOUDM" run -- "$PROBE" --print CLOUDM_CONFIG \
   >"$T/none.out" 2>"$T/none.err")
cm_expect_eq "no config anywhere: program still runs" "$(cat "$T/none.out")" "(unset)"
cm_expect_match "no config anywhere: one warning" "$T/none.err" "^cloudm: warning: no config file"
# The shim's own line (plain LD_PRELOAD users see only this one) names every place looked at,
# the system config last.
(cd "$T" && "$CLOUDM" run -- "$PROBE" --print CLOUDM_CONFIG >"$T/none2.out" 2>"$T/none2.err")
cm_expect_match "no config anywhere: the shim names the system config" "$T/none2.err" \
  '^cloudm: no config file \(.*XDG_CONFIG_HOME/cloudm/cloudm.conf, /.*/cloudm/cloudm.conf\): nothing is memoized'

cm_done
