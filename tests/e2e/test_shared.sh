#!/usr/bin/env bash
# test_shared.sh - the shared-memory tier across processes (issue 3): a second run of a program
# is answered from the segment (outputs identical, no execution), a segment that anyone else
# could have written is refused (the run goes on, correct, with the memory tier only), and
# several processes missing the same slow key at once run it exactly once (single-flight).
. "$CM_SRC/lib.sh"
export CLOUDM_TIERS="memory shared"
seg=$CLOUDM_SHARED_PATH

conf=$(cm_conf shared <<'CONF'
[function lg_poly]
signature = i64 lg_poly(i32 x)
[function lg_sq]
signature = i64 lg_sq(i64 x)
CONF
)

cm_plain plain "$CM_BIN/modeprog"
cm_memo first "$conf" "$CM_BIN/modeprog"
cm_same plain first
cm_expect_eq "first run: lg_poly shared hits" "$(cm_fn first lg_poly .hits.shared)" 0
cm_expect_eq "first run: lg_poly misses" "$(cm_fn first lg_poly .misses)" 20
cm_expect_eq "segment created with mode 0600" "$(stat -c %a "$seg")" 600

cm_memo second "$conf" "$CM_BIN/modeprog"
cm_same plain second
cm_expect_eq "second run: lg_poly misses" "$(cm_fn second lg_poly .misses)" 0
# A key's first shared hit does not fill the memory tier, its second does (tier.h,
# cm_shared_fill_wanted): of 5 calls per argument, 2 shared hits then 3 memory hits.
cm_expect_eq "second run: lg_poly shared hits" "$(cm_fn second lg_poly .hits.shared)" 40
cm_expect_eq "second run: lg_poly memory hits" "$(cm_fn second lg_poly .hits.memory)" 60
cm_expect_eq "second run: lg_sq shared hits" "$(cm_fn second lg_sq .hits.shared)" 20
cm_expect_eq "second run: lg_poly never ran" "$(cm_execs second lg_poly)" 0

# tiers = shared: no memory tier at all, every call is answered by the segment.
CLOUDM_TIERS=shared cm_memo sharedonly "$conf" "$CM_BIN/modeprog"
cm_same plain sharedonly
cm_expect_eq "tiers = shared: lg_poly memory hits" "$(cm_fn sharedonly lg_poly .hits.memory)" 0
cm_expect_eq "tiers = shared: lg_poly shared hits" "$(cm_fn sharedonly lg_poly .hits.shared)" 100

# Control: with the memory tier only, a new process computes everything again.
CLOUDM_TIERS=memory cm_memo memonly "$conf" "$CM_BIN/modeprog"
cm_same plain memonly
cm_expect_eq "tiers = memory: lg_poly misses" "$(cm_fn memonly lg_poly .misses)" 20

# A segment writable by others is refused: one message, correct output, memory tier only.
chmod 0666 "$seg"
cm_memo open "$conf" "$CM_BIN/modeprog"
cm_same plain open
cm_expect_match "0666 segment refused with a message" "$CM_TMP/open.err" "shared tier off"
cm_expect_eq "0666 segment: no shared hits" "$(cm_fn open lg_poly .hits.shared)" 0
cm_expect_eq "0666 segment: computed again" "$(cm_fn open lg_poly .misses)" 20
chmod 0600 "$seg"
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
  chown nobody "$seg"
  cm_memo foreign "$conf" "$CM_BIN/modeprog"
  cm_same plain foreign
  cm_expect_match "foreign-owned segment refused" "$CM_TMP/foreign.err" "shared tier off"
  cm_expect_eq "foreign segment: no shared hits" "$(cm_fn foreign lg_poly .hits.shared)" 0
  chown root "$seg"
fi

# Single-flight: 4 processes miss the same 300 ms call at once; it runs exactly once.
sf=$(cm_conf sf <<'CONF'
[function slow_square]
signature = f64 slow_square(f64 x)
singleflight = yes
CONF
)
export CLOUDM_SHARED_PATH="$CM_TMP/sf-segment"
export SLOW_LOG="$CM_TMP/slow.log"
cm_plain sfplain "$CM_BIN/slowprog" 7
rm -f "$SLOW_LOG"
pids=()
for i in 1 2 3 4; do
  "$CLOUDM" run -c "$sf" --report="$CM_TMP/sf$i.json" -- "$CM_BIN/slowprog" 7 \
    >"$CM_TMP/sf$i.out" 2>"$CM_TMP/sf$i.err" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for i in 1 2 3 4; do echo 0 >"$CM_TMP/sf$i.rc"; cm_same sfplain "sf$i"; done
cm_expect_eq "single-flight: slow_square ran once in 4 processes" "$(wc -l <"$SLOW_LOG")" 1
shared_hits=0
for i in 1 2 3 4; do
  shared_hits=$((shared_hits + $(cm_fn "sf$i" slow_square .hits.shared)))
done
cm_expect_eq "single-flight: the other 3 got it from the segment" "$shared_hits" 3

# singleflight = auto (the default): once any process has timed the function (>= 1 ms, in the
# segment's statistics), processes starting together on a new argument coordinate too.
auto=$(cm_conf auto <<'CONF'
[function slow_square]
signature = f64 slow_square(f64 x)
CONF
)
"$CLOUDM" run -c "$auto" -- "$CM_BIN/slowprog" 5 >/dev/null 2>&1
rm -f "$SLOW_LOG"
pids=()
for i in 1 2 3 4; do
  "$CLOUDM" run -c "$auto" -- "$CM_BIN/slowprog" 9 >"$CM_TMP/auto$i.out" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
cm_expect_eq "singleflight = auto, timed function: ran once in 4 processes" "$(wc -l <"$SLOW_LOG")" 1
cm_expect_eq "singleflight = auto: every process printed the result" \
  "$(cat "$CM_TMP"/auto?.out | sort -u)" "slow_square(9) = 81"
cm_done
