#!/bin/bash
# run_options.sh CLOUDM - command-line handling of `cloudm keycache`: help, option errors (one
# line naming the option, exit 2), refusing a non-loopback address without --token-file (exit 2),
# bad token files (exit 2, FILE:LINE), a second server on the same store (exit 1), the store
# directory created 0700, the ready file's content.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

expect_usage() { # NAME PATTERN ARGS...
    local name=$1 pat=$2 rc
    shift 2
    timeout 10 "$CLOUDM" keycache --data "$TMP/data" "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    check_eq "$name: exit status" "$rc" 2
    check_eq "$name: one line on stderr" "$(wc -l <"$TMP/err")" 1
    check "$name: message names '$pat'" grep -qF -- "$pat" "$TMP/err"
}

"$CLOUDM" keycache --help >"$TMP/out" 2>&1
check_eq "--help exit status" "$?" 0
check "--help lists --max-size" grep -q -- "--max-size SIZE" "$TMP/out"
"$CLOUDM" help keycache >"$TMP/out" 2>&1
check_eq "cloudm help keycache" "$?" 0
"$CLOUDM" --help | grep -q "keycache"
check_eq "the main help lists keycache" "$?" 0

expect_usage "non-loopback without tokens" "non-loopback" --listen 0.0.0.0:0
expect_usage "IPv6 any without tokens" "non-loopback" --listen "[::]:0"
expect_usage "unknown option" "--bogus" --bogus
expect_usage "bad --max-size" "--max-size" --max-size 12Q
expect_usage "bad --expire" "--expire" --expire soon
expect_usage "bad --max-value" "--max-value" --max-value -1
expect_usage "bad --threads" "--threads" --threads 0
expect_usage "bad --sweep-interval" "--sweep-interval" --sweep-interval 0
expect_usage "missing value" "--listen" --listen
expect_usage "bad --listen" "--listen" --listen nocolon
expect_usage "--tls-cert alone" "--tls-key" --tls-cert /nonexistent
printf 'rw good\nadmin bad\n' >"$TMP/tok.bad"
expect_usage "bad token file" "tok.bad:2: unknown access 'admin'" --token-file "$TMP/tok.bad"
expect_usage "missing token file" "No such file" --token-file "$TMP/none"
check "no store created by failed starts" test ! -e "$TMP/data"

kc_start --data "$TMP/data/sub/dir"
check "ready file is 127.0.0.1:PORT" grep -qxE '127\.0\.0\.1:[0-9]{2,5}' "$TMP/ready"
check_eq "store directory mode" "$(stat -c %a "$TMP/data/sub/dir")" 700
check_eq "no temporary ready file left" "$(ls "$TMP" | grep -c 'ready.tmp')" 0
"$CLOUDM" keycache --listen 127.0.0.1:0 --data "$TMP/data/sub/dir" >"$TMP/out" 2>"$TMP/err"
check_eq "second server on the same store: exit status" "$?" 1
check "second server: says why" grep -q "another keycache server" "$TMP/err"
kc_stop
check_eq "SIGTERM exit status" "$KC_RC" 0
kc_start --data "$TMP/data/sub/dir"
kill -INT "$KC_PID"
wait "$KC_PID"
check_eq "SIGINT exit status" "$?" 0
KC_PID=""
kc_done
