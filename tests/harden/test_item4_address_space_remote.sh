#!/bin/bash
# test_item4_address_space_remote.sh - issue 16 item 4 with a remote configured: the agent channel
# (shim/chan/, mapped whole by every host: 32 x remote_max_value + remote_queue_bytes) counts
# in cloudm's quarter of RLIMIT_AS like the caches do.
#
# Proves, under `ulimit -v 400000` (a quarter: ~97 MiB; the memory tier takes 64 MiB of it):
#  - a channel that does not fit (remote_max_value = 4M: ~200 MiB; the default 64M: ~2.1 GiB)
#    switches the remote tier off with one line, and the program's own malloc(150 MiB) still
#    succeeds with the same output as plain (on the old main the 200 MiB channel was mapped and
#    the malloc failed);
#  - a channel that fits (remote_max_value = 64K, remote_queue_bytes = 64K: ~2.3 MiB) keeps the
#    remote tier on under the limit: a second run gets its values from the keycache.
. "$CM_SRC/lib.sh"
. "$CM_SRC/servers.sh"
if [ -n "${CLOUDM_TEST_PRELOAD:-}" ]; then echo "skipped: sanitizers reserve terabytes"; exit 77; fi
cm_require "$CLOUDM" "$CM_BIN/bigmalloc" "$CM_BUILD/lib/libcloudm-remote.so" || cm_done
unset CLOUDM_TIERS
cm_keycache_start kc || cm_done

mkconf() { # NAME EXTRA-CACHE-LINES
  cm_conf "$1" <<CONF
[cache]
remote = $CM_KC_URL
tiers = memory remote
remote_timeout = 2s
flush_timeout = 5s
$2
[function hd_sq]
signature = i64 hd_sq(i64 x)
CONF
}
limited() { (ulimit -v 400000 && "$@"); }

limited cm_plain plain "$CM_BIN/bigmalloc"
cm_expect_eq "plain under ulimit -v 400000" "$(cat "$CM_TMP/plain.out")" "sum 2850, malloc(150 MiB) ok"

# --- channels that do not fit: the remote tier is off, the program gets its memory ------------
for mv in 4M 64M; do
  c=$(mkconf "big$mv" "remote_max_value = $mv")
  limited cm_run "big$mv" -c "$c" --report="$CM_TMP/big$mv.json" -- "$CM_BIN/bigmalloc"
  cm_same plain "big$mv"
  cm_expect_eq "max_value $mv: hd_sq hits (memory tier)" "$(cm_hits "big$mv" hd_sq)" 90
  cm_expect_eq "max_value $mv: one line about the limit" "$(grep -c RLIMIT_AS "$CM_TMP/big$mv.err")" 1
  cm_expect_match "max_value $mv: it says the remote tier is off and why" "$CM_TMP/big$mv.err" \
    "RLIMIT_AS .*remote tier off \(its agent channel maps [0-9]+ MiB"
  cm_expect_eq "max_value $mv: no other line from cloudm" "$(grep -c '^cloudm' "$CM_TMP/big$mv.err")" 1
done

# --- a channel that fits: the remote tier works under the limit --------------------------------
c=$(mkconf small "remote_max_value = 64K
remote_queue_bytes = 64K")
limited cm_run small1 -c "$c" --report="$CM_TMP/small1.json" -- "$CM_BIN/bigmalloc"
cm_same plain small1
cm_expect_nomatch "small channel: nothing said" "$CM_TMP/small1.err" "RLIMIT_AS|remote tier"
cm_expect_eq "small channel: first run asked the remote (hits + misses)" \
  "$(($(remote small1 hits) + $(remote small1 misses)))" 10
cm_agent_flush "$c"
limited cm_run small2 -c "$c" --report="$CM_TMP/small2.json" -- "$CM_BIN/bigmalloc"
cm_same plain small2
cm_expect_eq "small channel: second run's remote hits" "$(cm_fn small2 hd_sq .hits.remote)" 10
cm_done
