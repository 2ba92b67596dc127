#!/bin/bash
# run_tls.sh CLOUDM - HTTPS: a self-signed certificate made with openssl, the server started with
# --tls-cert/--tls-key, curl -k for healthz, PUT and GET; plain HTTP to it gets no answer.
# Skipped (exit 77) when libmicrohttpd has no TLS or openssl is missing.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

command -v openssl >/dev/null || { echo "SKIP: no openssl"; exit 77; }
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
    -days 1 -subj /CN=127.0.0.1 >/dev/null 2>&1 || { fail "openssl req"; kc_done; }
printf 'rw tls-secret\n' >"$TMP/tokens"
"$CLOUDM" keycache --listen 127.0.0.1:0 --data "$TMP/probe" --tls-cert "$TMP/cert.pem" \
    --tls-key "$TMP/key.pem" --ready-file "$TMP/probe.ready" 2>"$TMP/probe.err" &
probe=$!
for _ in $(seq 1 100); do
    [ -s "$TMP/probe.ready" ] && break
    kill -0 "$probe" 2>/dev/null || break
    sleep 0.05
done
kill "$probe" 2>/dev/null
wait "$probe" 2>/dev/null
if grep -q "no TLS support" "$TMP/probe.err"; then
    echo "SKIP: libmicrohttpd without TLS"
    exit 77
fi

kc_start --data "$TMP/data" --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem" \
    --token-file "$TMP/tokens"
K=$(kc_key 1)
A="Authorization: Bearer tls-secret"
check_eq "healthz over HTTPS" "$(curl -sk --max-time 10 "https://$KC_ADDR/healthz")" ok
check_eq "PUT over HTTPS" "$(kc_code -k -H "$A" -X PUT --data-binary secret-value "https://$KC_ADDR/ns/$K")" 201
check_eq "GET over HTTPS" "$(curl -sk --max-time 10 -H "$A" "https://$KC_ADDR/ns/$K")" secret-value
check_eq "certificate is verified without -k (fails)" "$(kc_code "https://$KC_ADDR/healthz")" 000
check_eq "plain HTTP gets no HTTP answer" "$(kc_code --max-time 3 "http://$KC_ADDR/healthz")" 000
check_eq "missing key file" "$("$CLOUDM" keycache --listen 127.0.0.1:0 --data "$TMP/d2" \
    --tls-cert "$TMP/cert.pem" --tls-key "$TMP/none.pem" 2>/dev/null; echo $?)" 1
kc_stop
check_eq "SIGTERM exit status" "$KC_RC" 0
kc_done
