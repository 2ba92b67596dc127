#!/bin/bash
# run_abuse.sh CLOUDM - the server under hostile or careless clients (--idle-timeout 2s):
# a slow client sending its headers byte by byte then stalling is dropped after the timeout
# while other requests are served; oversized headers get 431 and an oversized request line
# 414 (libmicrohttpd's answers); 200 idle connections do not stop service; a per-IP limit
# refuses the connection over it; SIGTERM with idle connections open exits 0 within 3 s;
# PUT bodies over --max-buffered in flight get 503.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

kc_start --data "$TMP/data" --idle-timeout 2s --max-per-ip 300
host=${KC_ADDR%:*}
port=${KC_ADDR##*:}

# --- slow client
exec {slow}<>"/dev/tcp/$host/$port"
req=$'GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: slow'
for ((i = 0; i < ${#req}; i++)); do
    printf '%s' "${req:i:1}" >&"$slow"
    sleep 0.01
done
t0=$EPOCHREALTIME
check_eq "served while a slow client stalls" "$(kc_code "http://$KC_ADDR/healthz")" 200
# The server must close the stalled connection: cat sees EOF well before 8 s.
timeout 8 cat <&"$slow" >"$TMP/slow.out"
rc=$?
secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
exec {slow}>&-
check_eq "stalled client dropped (cat exit status; 124 = still open after 8 s)" "$rc" 0
check "dropped after about the 2 s timeout (${secs} s)" awk -v s="$secs" 'BEGIN { exit !(s >= 1.0 && s < 6) }'
check_eq "no response sent to the stalled request" "$(head -c 12 "$TMP/slow.out")" ""

# --- oversized headers: 431 (or the connection closed: 000)
big=$(head -c 60000 /dev/zero | tr '\0' a)
code=$(kc_code -H "X-Big: $big" "http://$KC_ADDR/healthz")
check_eq "60 KB of headers refused with 431" "$code" 431
code=$(kc_code "http://$KC_ADDR/healthz?$(head -c 40000 /dev/zero | tr '\0' b)")
check_eq "40 KB request line refused with 414" "$code" 414
check_eq "still serving after oversized headers" "$(kc_code "http://$KC_ADDR/healthz")" 200

# --- 200 idle connections
fds=()
for i in $(seq 1 200); do
    exec {fd}<>"/dev/tcp/$host/$port" || { fail "connection $i refused"; break; }
    fds+=("$fd")
done
check_eq "200 idle connections open" "${#fds[@]}" 200
t0=$EPOCHREALTIME
check_eq "served with 200 idle connections open" "$(kc_code "http://$KC_ADDR/healthz")" 200
K=$(kc_key 1)
check_eq "PUT with 200 idle connections open" \
    "$(kc_code -X PUT --data-binary x "http://$KC_ADDR/ns/$K")" 201
check_eq "GET with 200 idle connections open" "$(kc_code "http://$KC_ADDR/ns/$K")" 200
secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
check "three requests took ${secs} s (< 2)" awk -v s="$secs" 'BEGIN { exit !(s < 2) }'

# --- SIGTERM with idle connections open
kc_stop
check_eq "SIGTERM exit status" "$KC_RC" 0
check "SIGTERM shutdown took ${KC_SECS} s (< 3)" awk -v s="$KC_SECS" 'BEGIN { exit !(s < 3) }'
for fd in "${fds[@]}"; do exec {fd}>&-; done

# --- per-IP limit
kc_start --data "$TMP/data" --max-per-ip 3
host=${KC_ADDR%:*}
port=${KC_ADDR##*:}
fds=()
for i in 1 2 3; do
    exec {fd}<>"/dev/tcp/$host/$port"
    fds+=("$fd")
done
sleep 0.2
code=$(kc_code "http://$KC_ADDR/healthz")
check_eq "fourth connection from one address refused" "$code" 000
for fd in "${fds[@]}"; do exec {fd}>&-; done
sleep 0.3
check_eq "served again once connections closed" "$(kc_code "http://$KC_ADDR/healthz")" 200
kc_stop
check_eq "SIGTERM exit status" "$KC_RC" 0

# --- upload budget: a stalled 64K upload holds its reservation; the next PUT over the rest of
# --max-buffered gets 503 before its body is read, a smaller one passes
kc_start --data "$TMP/data" --max-value 64K --max-buffered 100K
host=${KC_ADDR%:*}
port=${KC_ADDR##*:}
exec {up}<>"/dev/tcp/$host/$port"
printf 'PUT /ns/%s HTTP/1.1\r\nHost: x\r\nContent-Length: 65536\r\n\r\n' "$(kc_key 5)" >&"$up"
head -c 1000 /dev/zero >&"$up"
sleep 0.3
head -c 40000 /dev/zero >"$TMP/40k"
head -c 30000 /dev/zero >"$TMP/30k"
check_eq "PUT over the upload budget" "$(kc_code -X PUT --data-binary @"$TMP/40k" "http://$KC_ADDR/ns/$(kc_key 6)")" 503
check_eq "PUT within the upload budget" "$(kc_code -X PUT --data-binary @"$TMP/30k" "http://$KC_ADDR/ns/$(kc_key 7)")" 201
exec {up}>&-
sleep 0.3
check_eq "budget released when the stalled upload goes away" \
    "$(kc_code -X PUT --data-binary @"$TMP/40k" "http://$KC_ADDR/ns/$(kc_key 6)")" 201
check_eq "the stalled upload stored nothing" "$(kc_code "http://$KC_ADDR/ns/$(kc_key 5)")" 404
kc_stop
check_eq "SIGTERM exit status" "$KC_RC" 0
kc_done
