#!/bin/bash
# test_messages.sh - the run-time messages that lead to the fix, with their exact text (the
# config parser's messages are the table in tests/unit/test_config.c), and how `cloudm check
# PROGRAM` and the report treat functions that are skipped or found nowhere.
#
# Proves, per row of the table below: `cloudm run` of prog/sigs.c (case sq) with the row's config
# prints exactly the expected line on stderr, once, and the program's output is untouched. Then:
# `cloudm check -c FILE PROGRAM` with every function skipped exits 0, prints the warning once
# and never says the program exited; with a config error it does not start the program; the
# report lists skipped and missing functions as not hooked, with why (table and JSON).
. "$CM_SRC/lib.sh"
export CLOUDM_TIERS=memory
prog=$CM_BIN/sigs_O2
cm_require "$CLOUDM" "$prog" || { cm_done; exit; }
cm_plain plain "$prog" sq

# NAME|SECTION NAME|SIGNATURE|EXPECTED STDERR LINE (exact)
TABLE="\
typo|lg_sqq|i64 lg_sqq(i64 x)|cloudm: function 'lg_sqq' not found in any loaded object (it will be memoized if a library loaded later provides it)
typo_similar|lg_sqq|i64 lg_sqq(i64 x)|cloudm:   similar names: 'lg_sq' in liblegacy.so
symtab_only|lg_count|void lg_count(i32 f)|cloudm:   'lg_count' is defined in liblegacy.so but not exported (only in .symtab): add 'hook = inline' to its section
cxx_missing|\"ns::lg_sq(long)\"|i64 lg_sq(i64 x)|cloudm: C++ function \"ns::lg_sq(long)\" not found in any loaded object (it will be memoized if a library loaded later provides it under its mangled name)
skipped_report|printf|i32 printf(str fmt, ...)|cloudm: printf  not hooked (skipped: variadic functions cannot be memoized)
missing_report|lg_sqq|i64 lg_sqq(i64 x)|cloudm: lg_sqq  not hooked (not found in any loaded object)"

while IFS='|' read -r name section sig want; do
  conf=$(printf '[function %s]\nsignature = %s\n' "$section" "$sig" | cm_conf "$name")
  cm_memo "$name" "$conf" "$prog" sq
  cm_same plain "$name"
  cm_run "$name.h" -c "$conf" --report -- "$prog" sq # the report's table on stderr
  cm_expect_eq "$name: the line, exactly once" "$(grep -cxF -- "$want" "$CM_TMP/$name.h.err")" 1
done <<<"$TABLE"
cm_expect_match "objects searched" "$CM_TMP/typo.err" \
  '^cloudm:   objects searched: sigs_O2, ([^ ]+, )?liblegacy\.so, ([^ ]+, )*libc\.so\.6(, [^ ]+)*$'
cm_expect_eq "missing: JSON why" "$(cm_fn typo lg_sqq '"\(.hooked) \(.why)"')" \
  "false not found in any loaded object"
cm_expect_eq "skipped: in the JSON report" "$(cm_fn skipped_report printf '"\(.hooked) \(.calls) \(.why)"')" \
  "false 0 skipped: variadic functions cannot be memoized"

# cloudm check PROGRAM, every function skipped: status 0, the warning once, no blame.
SKIP=$(cm_conf skip <<'CONF'
[function printf]
signature = i32 printf(str fmt, ...)
CONF
)
cm_plain check_skip "$CLOUDM" check -c "$SKIP" -- "$prog" sq
cm_expect_eq "check, all skipped: status" "$(cat "$CM_TMP/check_skip.rc")" 0
cm_expect_eq "check, all skipped: the warning once" \
  "$(grep -c "warning: function 'printf' skipped: variadic functions cannot be memoized" "$CM_TMP/check_skip.err")" 1
cm_expect_nomatch "check, all skipped: no blame" "$CM_TMP/check_skip.err" 'exited with status'
cm_expect_match "check, all skipped: summary" "$CM_TMP/check_skip.out" 'skip\.conf: 0 functions, 0 errors, 1 warning$'

# A function found nowhere: status 0, the hint under its name, each message once.
TYPO=$(cm_conf typo2 <<'CONF'
[function lg_sqq]
signature = i64 lg_sqq(i64 x)
CONF
)
cm_plain check_typo "$CLOUDM" check -c "$TYPO" -- "$prog" sq
cm_expect_eq "check, not found: status" "$(cat "$CM_TMP/check_typo.rc")" 0
cm_expect_eq "check, not found: the hint once" \
  "$(grep -cxF "  similar names: 'lg_sq' in liblegacy.so" "$CM_TMP/check_typo.out")" 1
cm_expect_nomatch "check, not found: no run-time duplicate" "$CM_TMP/check_typo.err" '^cloudm: function'

# A config with errors: the program is not started.
BAD=$(cm_conf bad <<'CONF'
[function lg_sq]
signature = i64 lg_sq(dobule x)
CONF
)
rm -f "$CM_TMP/ran"
cm_plain check_bad "$CLOUDM" check -c "$BAD" -- "$prog" sq
cm_expect_eq "check, errors: status" "$(cat "$CM_TMP/check_bad.rc")" 1
cm_expect_eq "check, errors: not started" \
  "$(grep -cxF "cloudm check: $prog not started: the config has errors" "$CM_TMP/check_bad.err")" 1
cm_expect_eq "check, errors: the error once" "$(grep -c "unknown type 'dobule'" "$CM_TMP/check_bad.err")" 1

cm_done
