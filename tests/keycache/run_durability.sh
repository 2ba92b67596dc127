#!/bin/bash
# run_durability.sh CLOUDM - acknowledged PUTs survive SIGKILL. Four clients PUT distinct keys
# (values of varied sizes) in a loop and log every key that got 201; meanwhile the server is
# killed with SIGKILL and restarted on the same store 5 times (each start must open the store
# cleanly). Afterwards every logged key must read back with exactly its bytes, and the store's
# entry count must be at least the number of acknowledged keys. The server runs 8 threads so
# that concurrent PUTs share group commits (cloudm_keycache_write_batches_total < PUTs).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

value() { # KEY-NUMBER -> the value's bytes
    local i=$1
    printf 'value-%s|' "$i"
    head -c $(( (i * 37) % 3000 )) /dev/zero | tr '\0' "$(printf '\\%03o' $((65 + i % 26)))"
}

client() { # ID
    local id=$1 n=0 addr code k
    while [ ! -e "$TMP/stop" ]; do
        n=$((n + 1))
        k="$id$(printf '%05d' "$n")"
        value "$k" >"$TMP/c$id.val"
        addr=$(cat "$TMP/ready" 2>/dev/null)
        [ -n "$addr" ] || { sleep 0.02; continue; }
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X PUT \
            --data-binary "@$TMP/c$id.val" "http://$addr/dur/$(kc_key "$k")")
        if [ "$code" = 201 ] || [ "$code" = 204 ]; then
            echo "$k" >>"$TMP/acked.$id"
        elif [ "$code" != 000 ]; then
            echo "$k $code" >>"$TMP/errors"
        fi
    done
}

kc_start --data "$TMP/data" --threads 8
for id in 1 2 3 4; do
    client "$id" &
    PIDS_TO_KILL+=($!)
done
for round in 1 2 3 4 5; do
    sleep "0.$((3 + RANDOM % 7))"
    kc_kill9
    kc_start --data "$TMP/data" --threads 8
    echo "restart $round: store opened"
done
sleep 0.5
touch "$TMP/stop"
wait "${PIDS_TO_KILL[@]}" 2>/dev/null
PIDS_TO_KILL=()
kc_kill9
kc_start --data "$TMP/data" --threads 8

cat "$TMP"/acked.* >"$TMP/acked" 2>/dev/null
total=$(wc -l <"$TMP/acked")
[ "$total" -gt 20 ] || fail "only $total PUTs acknowledged: the load did not run"
[ ! -s "$TMP/errors" ] || fail "PUTs answered with an error: $(head -3 "$TMP/errors")"
missing=0
while read -r k; do
    value "$k" >"$TMP/want"
    code=$(curl -s -o "$TMP/got" -w '%{http_code}' --max-time 5 "http://$KC_ADDR/dur/$(kc_key "$k")")
    if [ "$code" != 200 ] || ! cmp -s "$TMP/got" "$TMP/want"; then
        missing=$((missing + 1))
        [ "$missing" -le 5 ] && echo "lost: $k ($code)" >&2
    fi
done <"$TMP/acked"
check_eq "acknowledged PUTs lost after 5 SIGKILLs ($total acknowledged)" "$missing" 0
entries=$(curl -s "http://$KC_ADDR/metrics" | awk '$1 == "cloudm_keycache_entries" { print $2 }')
check "entries ($entries) >= acknowledged ($total)" test "${entries:-0}" -ge "$total"
# a large value (default --max-value 64M) round-trips intact
head -c $((8 * 1024 * 1024 + 7)) /dev/urandom >"$TMP/big"
check_eq "PUT 8 MiB" "$(kc_code -X PUT --data-binary @"$TMP/big" "http://$KC_ADDR/big/$(kc_key big)")" 201
curl -s --max-time 20 -o "$TMP/big.got" "http://$KC_ADDR/big/$(kc_key big)"
check "GET 8 MiB: same bytes" cmp -s "$TMP/big" "$TMP/big.got"
kc_stop
check_eq "SIGTERM exit status" "$KC_RC" 0
kc_done
