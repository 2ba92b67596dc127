#!/bin/bash
# test_libm.sh - `hook = inline` on a versioned library function: libm's lgamma, whose two
# versions (lgamma@GLIBC_2.2.5, lgamma@@GLIBC_2.23) are different code in one object.
#
# `object = libm.so*` picks libm's definitions (under ASan, libasan defines lgamma too).
# Proves: both versions are patched as separate variants (not reported as a duplicate name);
# tests/e2e's mathprog gives output identical to the plain run, signgam and errno included
# (`writes`, `errno = yes` through the register-preserving entry), with the same exact counts
# as its GOT-hooked test; `cloudm check` lists both definitions as inline hooks.
. "$CM_E2E/lib.sh"

PROG=$CM_BIN/../bin/mathprog
cm_require "$CLOUDM" "$PROG" || cm_done
CONF=$(cm_conf libm <<'C'
[function lgamma]
signature = f64 lgamma(f64 x)
writes = signgam:4
hook = inline
object = libm.so*

[function log]
signature = f64 log(f64 x)
errno = yes
hook = inline
object = libm.so*
C
)
cm_plain plain "$PROG"
for run in 1 2; do
  cm_run "m$run" -c "$CONF" --report="$CM_TMP/m$run.json" -- "$PROG"
  cm_same plain "m$run"
  cm_counts "m$run" lgamma 600 570 30 0
  cm_counts "m$run" log 100 95 5 0
  cm_expect_nomatch "m$run: no duplicate-name error" "$CM_TMP/m$run.err" "defined .* times"
done
timeout 60 "$CLOUDM" check -c "$CONF" "$PROG" >"$CM_TMP/check.out" 2>&1
n_def=$(grep -c 'defined in .*libm\.so' "$CM_TMP/check.out")
cm_expect_ge "check: versioned definitions of lgamma and log listed" "$n_def" 4
cm_expect_eq "check: every one hooked inline" \
  "$(grep -c 'defined in .*libm\.so.* (global, .*): inline hook' "$CM_TMP/check.out")" "$n_def"
cm_expect_match "check: lgamma@GLIBC_2.23 variant" "$CM_TMP/check.out" '^lgamma@GLIBC_2\.23 identity '
cm_done
