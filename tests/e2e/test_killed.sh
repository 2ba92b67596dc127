#!/bin/bash
# test_killed.sh - a process killed with SIGKILL loses at most its last second of statistics.
#
# Proves: prog/killme.c stores 24 entries over ~1.2 s (one miss every 50 ms, far fewer than 64
# events) and then answers from the memory tier until it is killed; killed with SIGKILL 1.5 s
# after it wrote its call count, `cloudm stats --json` shows at least that many calls for lg_sq
# in the shared segment (its misses and memory hits up to a second before the kill), with the
# 24 misses.
. "$CM_SRC/lib.sh"
export CLOUDM_TIERS="memory shared"

conf=$(cm_conf killed <<'CONF'
[function lg_sq]
signature = i64 lg_sq(i64 x)
CONF
)
prog=$CM_BIN/killme
cm_require "$CLOUDM" "$prog" || { cm_done; exit; }

marker=$CM_TMP/killme.count
"$CLOUDM" run -c "$conf" -- "$prog" "$marker" >"$CM_TMP/killme.out" 2>"$CM_TMP/killme.err" &
pid=$!
for _ in $(seq 1 200); do
  [ -s "$marker" ] && break
  sleep 0.05
done
cm_expect_eq "the program got through its misses" "$([ -s "$marker" ] && echo yes)" yes
sleep 1.5
kill -9 "$pid"
wait "$pid" 2>/dev/null
before=$(cat "$marker")

"$CLOUDM" stats -c "$conf" --json >"$CM_TMP/stats.json" 2>"$CM_TMP/stats.err"
calls=$(jq '[.functions[] | select(.name == "lg_sq") | .calls] | add // 0' "$CM_TMP/stats.json")
misses=$(jq '[.functions[] | select(.name == "lg_sq") | .misses] | add // 0' "$CM_TMP/stats.json")
cm_expect_ge "killed process: calls in the segment (>= $before counted before the last second)" \
  "$calls" "$((before + 1))"
cm_expect_eq "killed process: its 24 stored entries counted as misses" "$misses" 24

cm_done
