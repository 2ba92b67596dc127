#!/bin/bash
# test_item1_fork_dlsym.sh - issue 16 item 1: fork while another thread is inside dlsym().
#
# Proves: 20 children forked while a thread loops dlsym(RTLD_DEFAULT, "hd_sq") all exit by
# themselves with the right answer under cloudm (none inherits the hook lock held), as they do
# plain; the parent's own output is identical.
. "$CM_SRC/lib.sh"
cm_require "$CLOUDM" "$CM_BIN/fork_dlsym" || cm_done
conf=$(cm_conf sq <<'CONF'
[function hd_sq]
signature = i64 hd_sq(i64 x)
CONF
)
cm_plain plain "$CM_BIN/fork_dlsym"
cm_expect_eq "plain: children" "$(cat "$CM_TMP/plain.out" | tail -1)" "children ok 20 hung 0"
for round in 1 2; do
  CM_TIMEOUT=300 cm_run memo$round -c "$conf" --report="$CM_TMP/memo$round.json" -- "$CM_BIN/fork_dlsym"
  cm_same plain memo$round
  cm_expect_ge "memo$round: hd_sq calls counted" "$(cm_fn memo$round hd_sq .calls)" 1
done
cm_done
