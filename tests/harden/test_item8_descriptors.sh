#!/bin/bash
# test_item8_descriptors.sh - issue 16 item 8: descriptor limits.
#
# Proves: under RLIMIT_NOFILE=16 the program opens as many files under cloudm (default tiers:
# memory and shared) as plain (cloudm keeps no descriptor), with memoization working; at 4 (one
# descriptor free at a time) it still works, without a message (it used to say "cannot patch
# the GOT slot ... Bad address" when /proc/self/maps could not be opened).
. "$CM_SRC/lib.sh"
cm_require "$CLOUDM" "$CM_BIN/fdcount" || cm_done
export CLOUDM_TIERS="memory shared"
conf=$(cm_conf sq <<'CONF'
[function hd_sq]
signature = i64 hd_sq(i64 x)
CONF
)
# `cloudm run` opens nothing the program inherits; the limit applies to both runs alike.
# Descriptors this shell inherited (from ctest, a terminal) would count against the limit.
for fd in /proc/$$/fd/*; do
  n=${fd##*/}
  if [ "$n" -gt 2 ] && [ "$n" -lt 255 ]; then eval "exec $n>&-"; fi
done 2>/dev/null
for n in 16 4; do
  (ulimit -n $n; cm_plain plain$n "$CM_BIN/fdcount")
  (ulimit -n $n; CLOUDM_SHARED_PATH=$CM_TMP/seg$n cm_run memo$n -c "$conf" --report="$CM_TMP/memo$n.json" -- "$CM_BIN/fdcount")
  cm_same plain$n memo$n
  cm_expect_eq "nofile $n: hd_sq hits" "$(cm_hits memo$n hd_sq)" 32
  cm_expect_nomatch "nofile $n: no message" "$CM_TMP/memo$n.err" "cloudm:"
done
cm_done
