#!/bin/bash
# test_cxx.sh - C++ functions named by their demangled signatures (conf/cxx.conf) in a C++
# library (cxx/cxxlib.cpp) with overloads in a namespace, a const member function and one function
# named by its mangled name, called by cxx/cxxprog.cpp through the PLT.
#
# Proves: the memoized output is byte-identical to the plain run; every overload is hooked as its
# own function and keyed by its own arguments (100 calls, 10 distinct: 90 hits, 10 misses, and
# the library really ran 10 times); `ignore threads` keeps a varying argument out of the key;
# `this` keyed by content (in[8]) tells two objects apart; `cloudm check PROGRAM` shows which
# mangled name each demangled signature matched. A config that names the C++ function by its
# bare or wrong name gets a "not found" with the overloads that exist.
. "$CM_SRC/lib.sh"

CONF=$CM_SRC/conf/cxx.conf
prog=$CM_BIN/cxxprog
cm_require "$CLOUDM" "$prog" || { cm_done; exit; }

cm_plain plain "$prog"
cm_memo memo "$CONF" "$prog"
cm_same plain memo
cm_expect_nomatch "memo: no cloudm message for a clean config" "$CM_TMP/memo.err" '^cloudm'
for f in "cx::pi(long, int)" "cx::pi(double)" "cx::pi(__int128, int)" "cx::Acc::add(long) const" \
  _ZN2cx3sqrEl; do
  cm_counts memo "$f" 100 90 10 0
  cm_invariant memo "$f"
done
for f in pi_long pi_double pi_i128 sqr add; do
  cm_expect_eq "plain execs $f" "$(cm_execs plain "$f")" 100
  cm_expect_eq "memo execs $f" "$(cm_execs memo "$f")" 10
done

# cloudm check: the mangled name behind each demangled signature, and its provider.
cm_plain check "$CLOUDM" check -c "$CONF" -- "$prog"
cm_expect_eq "check status" "$(cat "$CM_TMP/check.rc")" 0
cm_expect_match "check: overload 1" "$CM_TMP/check.out" '^"cx::pi\(long, int\)" = _ZN2cx2piEli$'
cm_expect_match "check: overload 2" "$CM_TMP/check.out" '^"cx::pi\(double\)" = _ZN2cx2piEd$'
cm_expect_match "check: overload 3" "$CM_TMP/check.out" '^"cx::pi\(__int128, int\)" = _ZN2cx2piEni$'
cm_expect_match "check: member" "$CM_TMP/check.out" '^"cx::Acc::add\(long\) const" = _ZNK2cx3Acc3addEl$'
cm_expect_match "check: placement of i128" "$CM_TMP/check.out" '^cx::pi\(__int128, int\)  i128 pi\(i128, ignore\)  x:rdi\+rsi threads:rdx$'
cm_expect_match "check: provider" "$CM_TMP/check.out" '^  provided by .*/libcxxlib\.so'

# The bare name and a wrong overload: not found, with the overloads that exist.
BARE=$(cm_conf bare <<'CONF'
[function pi]
signature = i64 pi(i64 x, i32 threads)

[function "cx::pi(long, long)"]
signature = i64 pi(i64 x, i64 threads)
CONF
)
cm_memo bare "$BARE" "$prog"
cm_same plain bare
cm_expect_match "bare name: not found" "$CM_TMP/bare.err" \
  "^cloudm: function 'pi' not found in any loaded object \(it will be memoized if a library loaded later provides it\)$"
cm_expect_match "bare name: the overloads" "$CM_TMP/bare.err" \
  "^cloudm:   C\+\+ functions named 'pi': \"cx::pi\(long, int\)\" in libcxxlib\.so, \"cx::pi\(double\)\" in libcxxlib\.so, \"cx::pi\(__int128, int\)\" in libcxxlib\.so \(name one in quotes, as c\+\+filt prints it: \[function \"cx::pi\(long, int\)\"\]\)$"
cm_expect_match "wrong overload: not found" "$CM_TMP/bare.err" \
  "^cloudm: C\+\+ function \"cx::pi\(long, long\)\" not found in any loaded object"
cm_expect_eq "each message once" "$(grep -c "C++ functions named 'pi'" "$CM_TMP/bare.err")" 2
cm_expect_eq "bare: report says why" \
  "$(cm_fn bare pi '"\(.hooked) \(.why)"')" "false not found in any loaded object"

cm_done
