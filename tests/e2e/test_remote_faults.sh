#!/usr/bin/env bash
# test_remote_faults.sh - the remote tier against servers that misbehave (issue 4), end to end
# through the shim: whatever the server answers (truncated bodies, wrong lengths, garbage,
# valid envelopes of another signature, another key's entry, 500s, tampered ciphertext, a
# stall), the program's output is byte-identical to a plain run, no remote hit is counted, and
# the report says what happened. A stalled server costs at most `remote_timeout` per lookup
# until the breaker opens: the bound is asserted from the report's counts, not from wall time.
# The runs that must hit (the store-mode and encrypted ones) get a generous remote_timeout, so
# that a loaded machine answering a lookup late does not turn a hit into a miss; the fault
# runs keep 100ms (a late answer is an error there too, which they count as such).
. "$CM_SRC/lib.sh"
. "$CM_SRC/servers.sh"
cm_require "$CM_BIN/manyprog" "$CM_FAULT" "$CM_BUILD/lib/libcloudm-remote.so" || cm_done
unset CLOUDM_TIERS CLOUDM_SHARED_PATH
setmode() { cm_curl -s -o /dev/null "$FURL/_mode/$1"; }

cm_plain plain "$CM_BIN/manyprog" 200 2
LOOKUPS=220 # distinct calls: 200 of lg_sq, 20 of lg_pack

# conf NAME URL [EXTRA] [TIMEOUT]: a config with both functions (remote_timeout TIMEOUT, default
# 100ms; flush_timeout 10s: a bound, the agent's flush ends as soon as the server acknowledged)
conf() {
  cm_conf "$1" <<CONF
[cache]
remote = $2
remote_timeout = ${4:-100ms}
flush_timeout = 10s
${3:-}
[function lg_sq]
signature = i64 lg_sq(i64 x)
[function lg_pack]
signature = i32 lg_pack(out[*outlen] out, inout[8] outlen, in[n] src, u64 n, i32 level)
CONF
}

# all_missed RUN DESC: output identical to the plain run, no remote hit, every distinct call
# computed, and every remote lookup accounted for as an error or skipped by the breaker.
all_missed() {
  cm_same plain "$1"
  cm_expect_eq "$2: no remote hits (lg_sq)" "$(cm_fn "$1" lg_sq .hits.remote)" 0
  cm_expect_eq "$2: no remote hits (lg_pack)" "$(cm_fn "$1" lg_pack .hits.remote)" 0
  cm_expect_eq "$2: lg_sq computed" "$(cm_fn "$1" lg_sq .misses)" 200
  cm_expect_eq "$2: lookups = errors + skipped" \
    "$(($(remote "$1" errors) + $(remote "$1" skipped) + $(remote "$1" misses)))" $LOOKUPS
  cm_expect_ge "$2: errors counted" "$(remote "$1" errors)" 1
}

cm_fault_start fs store || cm_done
c=$(conf clear "$FURL/t" "" 10s)
cf=$(conf faults "$FURL/t")
machine fill cm_memo fill "$c" "$CM_BIN/manyprog" 200 2
machine fill cm_agent_flush "$c"
cm_same plain fill
cm_expect_eq "fault server filled" "$(cm_curl -s "$FURL/_stats" | sed -n 's/^entries //p')" $LOOKUPS
# Sanity: the same server in store mode answers a second machine entirely.
machine ok cm_memo ok "$c" "$CM_BIN/manyprog" 200 2
cm_same plain ok
cm_expect_eq "store mode: remote hits" "$(cm_fn ok lg_sq .hits.remote)" 200

n=0
for mode in truncated wronglen garbage othersig swap e500; do
  n=$((n + 1))
  setmode "$mode"
  machine "m$n" cm_memo "$mode" "$cf" "$CM_BIN/manyprog" 200 2
  all_missed "$mode" "$mode"
  # With 500s to everything (reads and writes) the breaker opens, with one line on stderr. (In
  # the other modes the server accepts the writes, and a write that succeeds counts as the
  # server answering, so failed reads need not come 5 in a row.)
  [ "$mode" != e500 ] ||
    cm_expect_match "$mode: breaker message on stderr" "$CM_TMP/$mode.err" "cloudm: remote .*failures in a row"
done

# Encrypted: a second machine with the secret reads everything; tampered ciphertext (checksum
# recomputed, so only the AES-GCM tag can tell) is rejected; another secret sees nothing.
setmode store
head -c 48 /dev/urandom | base64 >"$CM_TMP/secret"
head -c 48 /dev/urandom | base64 >"$CM_TMP/secret2"
s=$(conf sec "$FURL/enc" "secret_file = $CM_TMP/secret" 10s)
s2=$(conf sec2 "$FURL/enc" "secret_file = $CM_TMP/secret2" 10s)
sf=$(conf secfaults "$FURL/enc" "secret_file = $CM_TMP/secret")
machine efill cm_memo efill "$s" "$CM_BIN/manyprog" 200 2
cm_same plain efill
machine eok cm_memo eok "$s" "$CM_BIN/manyprog" 200 2
cm_same plain eok
cm_expect_eq "secret: remote hits" "$(cm_fn eok lg_sq .hits.remote)" 200
# With the secret the keys are HMACs: none of them equals the plain SHA-512 key the clear run
# stored for the same calls.
cm_curl -s "$FURL/_keys" | sed -n 's|^/*t/default/||p' | sort >"$CM_TMP/clear.keys"
cm_curl -s "$FURL/_keys" | sed -n 's|^/*enc/default/||p' | sort >"$CM_TMP/enc.keys"
cm_expect_eq "secret: entries stored" "$(wc -l <"$CM_TMP/enc.keys")" $LOOKUPS
cm_expect_eq "secret: no key equal to a clear key" "$(comm -12 "$CM_TMP/clear.keys" "$CM_TMP/enc.keys" | wc -l)" 0
machine eother cm_memo eother "$s2" "$CM_BIN/manyprog" 200 2
cm_same plain eother
cm_expect_eq "another secret: no remote hits" "$(cm_fn eother lg_sq .hits.remote)" 0
cm_expect_eq "another secret: plain misses, not errors" "$(remote eother errors)" 0
setmode tamper
machine etamper cm_memo etamper "$sf" "$CM_BIN/manyprog" 200 2
all_missed etamper "tampered ciphertext"

# A clear entry where an encrypted one is expected (or the reverse) is refused too.
setmode store
machine mixed cm_memo mixed "$s" "$CM_BIN/manyprog" 200 2
cm_same plain mixed

# --- a server that accepts connections and never answers ------------------------------------------
cm_fault_start st stall || cm_done
c=$(conf stall "$FURL/t")
t0=$EPOCHREALTIME
machine stall cm_memo stall "$c" "$CM_BIN/manyprog" 200 2
t1=$EPOCHREALTIME
cm_same plain stall
t=$(remote stall timeouts)
o=$(remote stall breaker_opens)
cm_expect_ge "stall: timeouts counted" "$t" 5
cm_expect_ge "stall: breaker opened" "$o" 1
# Each timed-out lookup cost at most remote_timeout; the breaker bounds how many there are: 5
# to open it, then one probe per back-off (1 s, 2 s, 4 s, ...): a run of S seconds sees at most
# as many probes as there are k >= 1 with 2^k - 1 <= S (at least 2 allowed). The run's length
# only loosens the bound on a slow machine; without the breaker all 220 lookups would wait.
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print int(b - a) + 1 }')
probes=0
for ((w = 1, tot = 1; tot <= secs; w *= 2, tot += w)); do probes=$((probes + 1)); done
[ "$probes" -ge 2 ] || probes=2
cm_expect_le "stall: lookups that waited (<= 5 per opening + $probes probes in ${secs}s)" "$t" \
  $((5 * o + probes))
cm_expect_ge "stall: lookups skipped without waiting" "$(remote stall skipped)" $((LOOKUPS - t))
# Stores are handed to the agent; the stalling server acknowledges none of them.
cm_expect_eq "stall: stores handed to the agent" "$(remote stall stored)" $LOOKUPS
cm_expect_eq "stall: none acknowledged by the server" "$(machine stall cm_agent_json "$c" sent)" 0

cm_done
