#!/bin/bash
# test_lzop.sh - the real lzop -9 (Debian's lzop and liblzo2) on a file of four identical 256 KiB
# blocks, with conf/lzop.conf: `out[*dst_len] dst, out[8] dst_len`.
#
# Proves: the compressed output is byte-identical to the plain run's, and every identical block
# after the first is a memory hit (4 calls, 3 hits, 1 miss) although lzop leaves the previous
# block's size in *dst_len; declared `inout[8]` instead (the only way before out-only lengths),
# that stale value is keyed and the same file gets only 2 hits: the control that shows the check
# can fail.
. "$CM_SRC/lib.sh"
export CLOUDM_TIERS=memory

LZOP=$(command -v lzop || true)
cm_require "$CLOUDM" "$LZOP" || { cm_done; exit; }

# Four identical pseudo-random 256 KiB blocks (lzop's block size) of a small alphabet.
awk 'BEGIN { srand(7); for (i = 0; i < 262144; i++) printf "%c", substr("abcdefgh ", int(rand() * 9) + 1, 1) }' \
  >"$CM_TMP/block"
cat "$CM_TMP/block" "$CM_TMP/block" "$CM_TMP/block" "$CM_TMP/block" >"$CM_TMP/in.dat"

cm_plain plain "$LZOP" -9 -c "$CM_TMP/in.dat"
cm_expect_eq "plain lzop status" "$(cat "$CM_TMP/plain.rc")" 0
cm_memo memo "$CM_SRC/conf/lzop.conf" "$LZOP" -9 -c "$CM_TMP/in.dat"
cm_same plain memo
cm_counts memo lzo1x_999_compress_level 4 3 1 0

sed 's/out\[8\] dst_len/inout[8] dst_len/' "$CM_SRC/conf/lzop.conf" >"$CM_TMP/inout.conf"
cm_memo inout "$CM_TMP/inout.conf" "$LZOP" -9 -c "$CM_TMP/in.dat"
cm_same plain inout
cm_counts inout lzo1x_999_compress_level 4 2 2 0

cm_done
