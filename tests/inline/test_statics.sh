#!/bin/bash
# test_statics.sh - static functions of prog/statics.c hooked inline, in 7 builds (-O0/-O2/-Os,
# with and without -fcf-protection, and a non-PIE -O2).
#
# Proves, for every build: output and exit status byte-identical to the plain run; exact
# calls/hits/misses for weigh (RIP-relative add and a short branch among its first bytes), poly
# (RIP-relative double load) and keepregs (a caller that may keep values in call-clobbered
# registers), each executed exactly `misses` times; brfirst (a short jle among the displaced
# bytes, widened in the trampoline) right on both paths of the branch; no mapping is ever
# writable and executable; fib's recursive direct calls reach the hook
# (hits > 0); loopy (a branch into its first bytes) and callfirst (a call among them) are refused
# with one warning each naming the reason, left unhooked, and still compute the right result.
# Also: `hook = got` leaves static functions alone; `mode = off` runs them unmemoized.
. "$CM_E2E/lib.sh"

CONF=$CM_SRC/conf/statics.conf
for b in O0 O2 Os O0_cet O2_cet Os_cet O2_nopie; do
  PROG=$CM_BIN/statics_$b
  cm_require "$CLOUDM" "$PROG" || continue
  case $b in
    *_cet) cm_expect_match "$b: weigh starts with endbr64" <(objdump -d "$PROG" | grep -A1 '<weigh>:') endbr64 ;;
  esac
  cm_plain "p_$b" "$PROG"
  cm_expect_eq "$b plain exit status" "$(cat "$CM_TMP/p_$b.rc")" 0
  cm_run "m_$b" -c "$CONF" --report="$CM_TMP/m_$b.json" -- "$PROG"
  cm_same "p_$b" "m_$b"
  cm_counts "m_$b" weigh 1001 951 50
  cm_counts "m_$b" poly 1000 980 20
  cm_counts "m_$b" keepregs 1000 970 30
  for f in weigh poly keepregs; do
    cm_expect_eq "m_$b $f execs = misses" "$(cm_execs "m_$b" "$f")" "$(cm_fn "m_$b" "$f" .misses)"
  done
  cm_counts "m_$b" brfirst 1000 990 10
  cm_counts "m_$b" manyargs 1000 940 60
  cm_expect_eq "m_$b manyargs execs (stack arguments keyed)" "$(cm_execs "m_$b" manyargs)" 60
  cm_counts "m_$b" fill 1000 994 6
  cm_expect_eq "m_$b fill execs (void, out buffer)" "$(cm_execs "m_$b" fill)" 6
  cm_expect_eq "m_$b brfirst execs (7 positive arguments)" "$(cm_execs "m_$b" brfirst)" 7
  cm_expect_match "m_$b: no writable and executable mapping" "$CM_TMP/m_$b.err" '^statics: rwx mappings 0$'
  cm_invariant "m_$b" fib
  cm_expect_ge "m_$b fib hits (recursive direct calls)" "$(cm_hits "m_$b" fib)" 1
  cm_expect_match "m_$b: loopy refused" "$CM_TMP/m_$b.err" \
    "warning: function 'loopy' in .*statics_$b is not memoized: a branch in the function jumps into the displaced bytes"
  cm_expect_match "m_$b: callfirst refused" "$CM_TMP/m_$b.err" \
    "warning: function 'callfirst' in .*statics_$b is not memoized: the displaced bytes contain a call"
  cm_expect_eq "m_$b: one warning each" "$(grep -c 'loopy\|callfirst' "$CM_TMP/m_$b.err")" 2
  cm_counts "m_$b" loopy 0 0 0
  cm_counts "m_$b" callfirst 0 0 0
done

# hook = got: a static function is never reached through a GOT slot.
PROG=$CM_BIN/statics_O2
GOT=$(cm_conf got <<'C'
[function weigh]
signature = i64 weigh(i64 n)
hook = got
C
)
cm_run got -c "$GOT" --report="$CM_TMP/got.json" -- "$PROG"
cm_same p_O2 got
cm_expect_eq "hook = got: weigh calls" "$(cm_fn got weigh .calls)" 0
cm_expect_eq "hook = got: weigh ran every time" "$(cm_execs got weigh)" 1001

# mode = off: patched, but the relay goes straight to the original code.
OFF=$(cm_conf off <<'C'
[function weigh]
signature = i64 weigh(i64 n)
mode = off
C
)
cm_run off -c "$OFF" --report="$CM_TMP/off.json" -- "$PROG"
cm_same p_O2 off
cm_expect_eq "mode = off: weigh ran every time" "$(cm_execs off weigh)" 1001

# cloudm check shows where each function was found and what became of it.
timeout 60 "$CLOUDM" check -c "$CONF" "$PROG" >"$CM_TMP/check.out" 2>&1
cm_expect_match "check: weigh hooked inline" "$CM_TMP/check.out" \
  "defined in .*statics_O2 at 0x[0-9a-f]+ \(static, from statics.c, [0-9]+ bytes, symbols from (.*statics_O2|the identity cache)\): inline hook"
cm_expect_match "check: loopy refused" "$CM_TMP/check.out" "not hooked: a branch in the function jumps into the displaced bytes"

cm_done
