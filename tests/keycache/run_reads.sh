#!/bin/bash
# run_reads.sh CLOUDM - many distinct keys read fast: wrk reads 8000 stored keys in rotation for
# 3 s (far more than the 6144 distinct keys the pending access-time table holds between two
# flushes at the 1 s tick); the table's pressure hint must trigger early flushes so that almost
# no access time is dropped. Skipped (77) without wrk.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
command -v wrk >/dev/null || { echo "SKIP: no wrk"; exit 77; }

kc_start --data "$TMP/data" --threads 4
: >"$TMP/keys"
for i in $(seq 1 8000); do
    k=$(printf '%0128x' "$i")
    echo "$k" >>"$TMP/keys"
    printf 'url = "http://%s/ns/%s"\nupload-file = "%s"\n' "$KC_ADDR" "$k" "$TMP/keys"
done >"$TMP/upload.cfg"
printf 'v' >"$TMP/v"
sed -i "s|upload-file = \".*\"|upload-file = \"$TMP/v\"|" "$TMP/upload.cfg"
curl -s -f -K "$TMP/upload.cfg" -o /dev/null || fail "filling 8000 keys"
check_eq "8000 entries stored" "$(kc_metric cloudm_keycache_entries x)" 8000
wrk -c32 -t2 -d3s -s "$here/../../bench/bench_keycache.lua" "http://$KC_ADDR" -- "$TMP/keys" \
    >"$TMP/wrk.out" 2>&1
reads=$(kc_metric cloudm_keycache_hits_total x)
dropped=$(kc_metric cloudm_keycache_access_times_dropped_total x)
echo "reads $reads, access times dropped $dropped"
check "wrk read many keys ($reads reads)" test "$reads" -gt 16000
check "few access times dropped ($dropped of $reads)" test "$dropped" -lt $((reads / 20))
kc_stop
check_eq "SIGTERM exit status" "$KC_RC" 0
kc_done
