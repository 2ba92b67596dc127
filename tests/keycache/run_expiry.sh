#!/bin/bash
# run_expiry.sh CLOUDM - expiry and LRU eviction, counted in the metrics.
# 1. --expire 2s, sweep every 200ms: an entry read every 0.4 s stays, an unread one expires.
# 2. --max-size 8K (7 entries of 1131 bytes fit): after reading the oldest entry, new PUTs evict
#    the least recently used ones, not the one read; restarting with --max-size 4K makes the
#    sweep evict down to the new limit.
# 3. --map-size 2M: the LMDB map fills before --max-size; the oldest entries are evicted to keep
#    room and every PUT succeeds.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

put() { # KEY-N BYTES
    head -c "$2" /dev/zero | tr '\0' v >"$TMP/val"
    kc_code -X PUT --data-binary "@$TMP/val" "http://$KC_ADDR/ns/$(kc_key "$1")"
}
get() { kc_code "http://$KC_ADDR/ns/$(kc_key "$1")"; }

# --- expiry
kc_start --data "$TMP/exp" --expire 2s --sweep-interval 200ms
check_eq "put read-often" "$(put 1 100)" 201
check_eq "put never-read" "$(put 2 100)" 201
for _ in $(seq 1 10); do
    get 1 >/dev/null
    sleep 0.4
done
check_eq "entry read every 0.4 s is still there after 4 s" "$(get 1)" 200
check_eq "entry not read for 4 s expired" "$(get 2)" 404
check_eq "expiries counted" "$(kc_metric cloudm_keycache_expiries_total x)" 1
check_eq "entries after expiry" "$(kc_metric cloudm_keycache_entries x)" 1
kc_stop
check_eq "stop (exit status)" "$KC_RC" 0

# --- eviction (entries: 131-byte key + 1000-byte value = 1131 bytes)
kc_start --data "$TMP/lru" --max-size 8K --expire 0 --sweep-interval 200ms
for i in 1 2 3 4 5 6; do put "$i" 1000 >/dev/null; done
check_eq "store bytes" "$(kc_metric cloudm_keycache_store_bytes x)" 6786
sleep 0.1
check_eq "read the oldest entry" "$(get 1)" 200
sleep 1.5 # the access time is flushed within a second
check_eq "put 7 fits" "$(put 7 1000)" 201
check_eq "put 8 evicts" "$(put 8 1000)" 201
check_eq "put 9 evicts" "$(put 9 1000)" 201
check_eq "evictions counted" "$(kc_metric cloudm_keycache_evictions_total x)" 2
check_eq "recently read entry 1 kept" "$(get 1)" 200
check_eq "least recently used entry 2 evicted" "$(get 2)" 404
check_eq "next least recently used entry 3 evicted" "$(get 3)" 404
for i in 4 5 6 7 8 9; do check_eq "entry $i kept" "$(get "$i")" 200; done
check_eq "store bytes at most 8K" "$(kc_metric cloudm_keycache_store_bytes x)" 7917
kc_stop
check_eq "stop (exit status)" "$KC_RC" 0

# --- the sweep evicts down to a smaller --max-size after a restart
kc_start --data "$TMP/lru" --max-size 4K --expire 0 --sweep-interval 200ms
sleep 1
check_eq "entries after shrinking to 4K" "$(kc_metric cloudm_keycache_entries x)" 3
check_eq "sweep evictions counted" "$(kc_metric cloudm_keycache_evictions_total x)" 4
kc_stop
check_eq "stop (exit status)" "$KC_RC" 0

# --- a tiny LMDB map (--map-size 2M) fills long before --max-size: the oldest entries are
# evicted to keep room, every PUT still succeeds
kc_start --data "$TMP/map" --max-size 100M --map-size 2M --expire 0
head -c 1000 /dev/urandom >"$TMP/v1k"
for i in $(seq 1 3000); do
    printf 'url = "http://%s/ns/%s"\nupload-file = "%s"\n' "$KC_ADDR" "$(printf '%0128x' "$i")" "$TMP/v1k"
done >"$TMP/up.cfg"
codes=$(curl -s -K "$TMP/up.cfg" -o /dev/null -w '%{http_code}\n' | sort | uniq -c | awk '{ print $2 "x" $1 }' | tr '\n' ' ')
check_eq "3000 PUTs into a 2M map" "$codes" "201x3000 "
ev=$(kc_metric cloudm_keycache_evictions_total x)
check "evictions counted ($ev)" test "$ev" -gt 1000
check_eq "the newest entry is there" "$(kc_code "http://$KC_ADDR/ns/$(printf '%0128x' 3000)")" 200
check_eq "the oldest entry was evicted" "$(kc_code "http://$KC_ADDR/ns/$(printf '%0128x' 1)")" 404
kc_stop
check_eq "stop (exit status)" "$KC_RC" 0
kc_done
