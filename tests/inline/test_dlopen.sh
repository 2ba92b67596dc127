#!/bin/bash
# test_dlopen.sh - `hook = inline` on an exported library function, in a library dlopen'ed
# while 4 threads are running.
#
# Proves: the library is patched before dlopen returns (its internal direct calls to inl_hash,
# invisible to GOT hooks, are counted: 4 threads x 50 rounds x 32 calls, 64 distinct arguments);
# every thread got right results; output identical to the plain run; with `hook = got` the same
# internal calls are not seen at all.
. "$CM_E2E/lib.sh"

PROG=$CM_BIN/dlthreads
LIB=$CM_BIN/libinl.so
cm_require "$CLOUDM" "$PROG" || cm_done
cm_plain plain "$PROG" "$LIB"
cm_expect_match "plain: all right" "$CM_TMP/plain.out" '^threads 4 rounds 50 wrong 0$'
INL=$(cm_conf inl <<'C'
[function inl_hash]
signature = i64 inl_hash(i64 x)
hook = inline
C
)
for run in 1 2 3; do
  cm_run "inl$run" -c "$INL" --report="$CM_TMP/inl$run.json" -- "$PROG" "$LIB"
  cm_same plain "inl$run"
  cm_expect_eq "inl$run inl_hash calls" "$(cm_fn "inl$run" inl_hash .calls)" 6400
  cm_invariant "inl$run" inl_hash
  misses=$(cm_fn "inl$run" inl_hash .misses)
  cm_expect_ge "inl$run misses" "$misses" 64
  cm_expect_le "inl$run misses (at most once per thread and argument)" "$misses" 256
  cm_expect_eq "inl$run execs = misses" "$(cm_execs "inl$run" inl_hash)" "$misses"
done
GOT=$(cm_conf got <<'C'
[function inl_hash]
signature = i64 inl_hash(i64 x)
hook = got
C
)
cm_run got -c "$GOT" --report="$CM_TMP/got.json" -- "$PROG" "$LIB"
cm_same plain got
cm_expect_eq "hook = got: internal calls unseen" "$(cm_fn got inl_hash .calls)" 0
cm_expect_eq "hook = got: every call ran" "$(cm_execs got inl_hash)" 6400
cm_done
