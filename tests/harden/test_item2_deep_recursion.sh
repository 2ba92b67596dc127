#!/bin/bash
# test_item2_deep_recursion.sh - issue 16 item 2: deep recursion through memoized functions.
#
# Proves: hd_ra and hd_rb (two libraries calling each other through their PLTs, both memoized)
# recurse to a depth of 200 000 under cloudm as they do plain (when the thread's stack runs low,
# or the per-thread store of calls in flight is used up, calls go straight to the original:
# counted as bypassed, too_deep, said once); at depth 1000 every level is memoized (misses
# counted) and each memoized level costs at most 256 bytes of stack (the dispatcher's C frames
# have returned before the original runs), with GOT hooks (memory tier, memory + shared tiers)
# and with inline hooks (hd_ia <-> hd_ib inside the program). Prints the bytes per level
# measured (the program's "deep: bytes per level": stack from main to the deepest frame over
# the depth).
. "$CM_SRC/lib.sh"
cm_require "$CLOUDM" "$CM_BIN/deep" || cm_done
conf=$(cm_conf rec <<'CONF'
[function hd_ra]
signature = i64 hd_ra(i64 n)
[function hd_rb]
signature = i64 hd_rb(i64 n)
CONF
)
ulimit -s 8192
# The bound on a memoized level's stack (issue 16: 256 bytes; the programs are never
# instrumented, and the shim's own C frames are gone before the original runs, sanitizers or not).
maxb=${CM_DEEP_MAX_BYTES:-256}
# The "every level memoized" depth keeps the stack used under the guard's line (half of the
# 8 MiB stack): 1000 levels, 400 under the sanitizers (their hit paths are larger).
shallow=1000
[ -n "${CLOUDM_TEST_PRELOAD:-}" ] && shallow=400
levels=$((shallow / 2 + 1))
for tiers in memory "memory shared"; do
  tag=${tiers// /_}
  cm_plain plain "$CM_BIN/deep" 200000
  cm_expect_eq "plain depth 200000 works" "$(cat "$CM_TMP/plain.rc")" 0
  CLOUDM_SHARED_PATH=$CM_TMP/seg_deep_$tag CLOUDM_TIERS=$tiers cm_run deep_$tag -c "$conf" --report="$CM_TMP/deep_$tag.json" -- "$CM_BIN/deep" 200000
  cm_same plain deep_$tag
  cm_expect_eq "$tiers depth 200000: the calls past the store's end are bypassed (too_deep)" \
    "$(cm_fn deep_$tag hd_ra '.bypass.too_deep > 0 and .bypassed == .bypass.too_deep')" true
  cm_expect_eq "$tiers depth 200000: too_deep said once per function" \
    "$(grep -c 'too_deep' "$CM_TMP/deep_$tag.err")" 2
  cm_plain plain1k "$CM_BIN/deep" "$shallow"
  CLOUDM_SHARED_PATH=$CM_TMP/seg_shallow_$tag CLOUDM_TIERS=$tiers cm_run shallow_$tag -c "$conf" --report="$CM_TMP/shallow_$tag.json" -- "$CM_BIN/deep" "$shallow"
  cm_same plain1k shallow_$tag
  cm_expect_eq "$tiers depth $shallow: every level memoized (hd_ra calls)" \
    "$(cm_fn shallow_$tag hd_ra .calls)" "$levels"
  plainb=$(sed -n 's/^deep: bytes per level //p' "$CM_TMP/plain1k.err")
  memob=$(sed -n 's/^deep: bytes per level //p' "$CM_TMP/shallow_$tag.err")
  echo "tiers $tiers: stack per level: plain $plainb bytes, memoized $memob bytes"
  cm_expect_le "$tiers: stack per memoized level" "$memob" "$maxb"
done
# Inline hooks (functions the program calls directly, patched in place; hook = auto).
iconf=$(cm_conf inl <<'CONF'
[function hd_ia]
signature = i64 hd_ia(i64 n)
[function hd_ib]
signature = i64 hd_ib(i64 n)
CONF
)
cm_plain iplain "$CM_BIN/deep" 200000 inline
cm_expect_eq "plain inline depth 200000 works" "$(cat "$CM_TMP/iplain.rc")" 0
CLOUDM_TIERS=memory cm_run ideep -c "$iconf" --report="$CM_TMP/ideep.json" -- "$CM_BIN/deep" 200000 inline
cm_same iplain ideep
cm_expect_eq "inline depth 200000: the calls past the store's end are bypassed (too_deep)" \
  "$(cm_fn ideep hd_ia '.bypass.too_deep > 0 and .bypassed == .bypass.too_deep')" true
cm_plain iplain1k "$CM_BIN/deep" "$shallow" inline
CLOUDM_TIERS=memory cm_run ishallow -c "$iconf" --report="$CM_TMP/ishallow.json" -- "$CM_BIN/deep" "$shallow" inline
cm_same iplain1k ishallow
cm_expect_eq "inline depth $shallow: every level memoized (hd_ia calls)" "$(cm_fn ishallow hd_ia .calls)" "$levels"
iplainb=$(sed -n 's/^deep: bytes per level //p' "$CM_TMP/iplain1k.err")
imemob=$(sed -n 's/^deep: bytes per level //p' "$CM_TMP/ishallow.err")
echo "inline hooks: stack per level: plain $iplainb bytes, memoized $imemob bytes"
cm_expect_le "inline hooks: stack per memoized level" "$imemob" "$maxb"
cm_done
