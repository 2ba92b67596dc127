#!/bin/bash
# run_reads.sh CLOUDM - many distinct keys read concurrently: wrk (2 threads, 32 connections,
# reads.lua) reads 20000 stored keys in rotation, each thread every key at least once (a fixed
# amount of work, not a duration), far more distinct keys than the pending access-time table
# holds (12288 between two flushes). Asserted, independent of the machine's speed: every answer
# is 200 with the stored body, no socket error or timeout, every thread finished its rotation,
# and the server's counters match the reads made (hits = wrk's reads, up to the requests still
# in flight when wrk stopped; no miss; one value byte out per hit; access times dropped <= hits).
# What it does not do: assert how few access times are dropped. That depends on how fast the
# maintenance thread runs compared with the readers (a loaded machine drops more): it is
# measured by bench/bench_keycache_touch.sh; the pressure hint itself (at 1/4 full, once per
# drain) is checked by keycache_touch_unit. Skipped (77) without wrk.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
command -v wrk >/dev/null || { echo "SKIP: no wrk"; exit 77; }

kc_start --data "$TMP/data" --threads 4
printf 'v' >"$TMP/v"
awk 'BEGIN { for (i = 1; i <= 20000; i++) printf "%0128x\n", i }' >"$TMP/keys"
awk -v a="$KC_ADDR" -v v="$TMP/v" \
    '{ printf "url = \"http://%s/ns/%s\"\nupload-file = \"%s\"\n", a, $1, v }' \
    "$TMP/keys" >"$TMP/upload.cfg"
curl -s -f -Z --parallel-max 16 -K "$TMP/upload.cfg" -o /dev/null || fail "filling 20000 keys"
check_eq "20000 entries stored" "$(kc_metric cloudm_keycache_entries x)" 20000

# snap FILE: one /metrics read (each read is itself a GET 200, counted before it is rendered)
snap() { curl -s --max-time 10 -H "Authorization: Bearer x" "http://$KC_ADDR/metrics" >"$1"; }
m() { awk -v n="$2" '$1 == n { v = $2 } END { print v + 0 }' "$1"; }
d() { echo $(($(m "$TMP/after" "$1") - $(m "$TMP/before" "$1"))); }
snap "$TMP/before"
# -d is only a bound (a stuck server): each thread creates $TMP/done.<n> after its rotation,
# then wrk is stopped with SIGINT (it prints its results then); waited for at most 240 s.
wrk -c32 -t2 -d240s --timeout 30s -s "$here/reads.lua" "http://$KC_ADDR" -- "$TMP/keys" v \
    "$TMP/done" >"$TMP/wrk.out" 2>&1 &
wrk_pid=$!
for _ in $(seq 1 2400); do
    [ "$(find "$TMP" -maxdepth 1 -name 'done.*' | wc -l)" -ge 2 ] && break
    kill -0 "$wrk_pid" 2>/dev/null || break
    sleep 0.1
done
kill -INT "$wrk_pid" 2>/dev/null
wait "$wrk_pid"
snap "$TMP/after"
cat "$TMP/wrk.out"
read -r reads bad unfinished errors < <(awk '$1 == "reads" { print $2, $4, $6, $8 }' "$TMP/wrk.out")
hits=$(d cloudm_keycache_hits_total)
misses=$(d cloudm_keycache_misses_total)
out=$(d cloudm_keycache_bytes_out_total)
ok200=$(d 'cloudm_keycache_requests_total{method="GET",code="200"}')
dropped=$(d cloudm_keycache_access_times_dropped_total)
echo "wrk reads $reads; server hits $hits, misses $misses, 200s $ok200, bytes out $out," \
    "access times dropped $dropped"
check_eq "every wrk thread read every key" "${unfinished:-x}" 0
check "wrk read 2 x 20000 keys at least" [ "${reads:-0}" -ge 40000 ]
check_eq "every answer 200 with the stored body" "${bad:-x}" 0
check_eq "no socket error nor timeout" "${errors:-x}" 0
check "server hits >= wrk reads" [ "$hits" -ge "${reads:-0}" ]
check "server hits <= wrk reads + 32 in flight" [ "$hits" -le $((${reads:-0} + 32)) ]
check_eq "no miss" "$misses" 0
check_eq "one GET 200 per hit (+ the metrics read)" "$ok200" $((hits + 1))
check_eq "one value byte out per hit" "$out" "$hits"
check "access times dropped <= hits" [ "$dropped" -le "$hits" ]
kc_stop
check_eq "SIGTERM exit status" "$KC_RC" 0
kc_done
