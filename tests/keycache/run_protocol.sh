#!/bin/bash
# run_protocol.sh CLOUDM [TABLE] - data-driven protocol test: starts a fresh keycache server
# (token file with one rw and one ro token, --max-size 4K) and runs every request block of
# TABLE (default protocol.t next to this script) in order, comparing status, headers and body.
# The table's format is described at its top. Exit 0 when every block passes.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
TABLE=${2:-$here/protocol.t}
RW=rw-token-$$
RO=ro-token-$$
printf '# test tokens\nrw %s\n\nro %s\n' "$RW" "$RO" >"$TMP/tokens"
kc_start --data "$TMP/data" --token-file "$TMP/tokens" --max-size 4K --sweep-interval 1h

subst() {
    local s=$1 n
    s=${s//@RW@/$RW}
    s=${s//@RO@/$RO}
    for n in 1 2 3 4 5 6 7 8 9; do
        s=${s//@K$n@/$(kc_key "$n")}
    done
    printf '%s' "$s"
}

title="" method="" path="" status="" lineno=0 blocks=0
headers=() curlargs=() checks=() sendfile=""

run_block() {
    [ -n "$title" ] || return 0
    local args=(-s --http1.1 --max-time 20 -D "$TMP/h" -o "$TMP/b" -w '%{http_code}')
    local got c kind arg ok want
    blocks=$((blocks + 1))
    case $method in
    HEAD) args+=(-I) ;;
    GET) ;;
    *) args+=(-X "$method") ;;
    esac
    for c in "${headers[@]}"; do args+=(-H "$c"); done
    if [ -n "$sendfile" ]; then args+=(--data-binary "@$sendfile" -H 'Content-Type: application/octet-stream'); fi
    args+=("${curlargs[@]}")
    : >"$TMP/b"
    got=$(curl "${args[@]}" "http://$KC_ADDR$path")
    ok=1
    if [ -n "$status" ] && [ "$got" != "$status" ]; then
        fail "[$title] status $got, want $status"
        ok=0
    fi
    for c in "${checks[@]}"; do
        kind=${c%%:*}
        arg=${c#*: }
        case $kind in
        body)
            printf '%b' "$arg" >"$TMP/want"
            cmp -s "$TMP/b" "$TMP/want" || { fail "[$title] body '$(head -c 200 "$TMP/b")', want '$arg'"; ok=0; } ;;
        body-line)
            [ "$(head -n 1 "$TMP/b")" = "$arg" ] || { fail "[$title] first line '$(head -n 1 "$TMP/b")', want '$arg'"; ok=0; } ;;
        body-has)
            grep -qF -- "$arg" "$TMP/b" || { fail "[$title] body lacks '$arg'"; ok=0; } ;;
        body-bytes)
            want=$(stat -c %s "$TMP/b")
            [ "$want" = "$arg" ] || { fail "[$title] body is $want bytes, want $arg"; ok=0; } ;;
        resp-header)
            tr -d '\r' <"$TMP/h" | grep -qiFx -- "$arg" || { fail "[$title] no header '$arg'"; ok=0; } ;;
        no-header)
            tr -d '\r' <"$TMP/h" | grep -qi -- "^$arg:" && { fail "[$title] unexpected header '$arg'"; ok=0; } ;;
        *)
            fail "[$title] unknown check '$kind'"; ok=0 ;;
        esac
    done
    [ "$ok" = 1 ] && echo "ok: $title"
    title="" method="" path="" status="" sendfile=""
    headers=() curlargs=() checks=()
}

while IFS= read -r line || [ -n "$line" ]; do
    lineno=$((lineno + 1))
    case $line in
    '#'* | '') continue ;;
    '=== '*) run_block; title=${line#=== } ;;
    'request: '*) read -r method path <<<"${line#request: }"; path=$(subst "$path") ;;
    'header: '*) headers+=("$(subst "${line#header: }")") ;;
    'curl: '*) curlargs+=("$(subst "${line#curl: }")") ;;
    'send: '*) sendfile=$TMP/send.$lineno; printf '%b' "${line#send: }" >"$sendfile" ;;
    'send-bytes: '*) sendfile=$TMP/send.$lineno; head -c "${line#send-bytes: }" /dev/zero | tr '\0' x >"$sendfile" ;;
    'status: '*) status=${line#status: } ;;
    body:* | body-line:* | body-has:* | body-bytes:* | resp-header:* | no-header:*)
        checks+=("$(subst "$line")") ;;
    *) fail "$TABLE:$lineno: cannot parse '$line'" ;;
    esac
done <"$TABLE"
run_block
[ "$blocks" -gt 20 ] || fail "only $blocks blocks ran"
echo "$blocks blocks"
kc_stop
check_eq "SIGTERM exit status" "$KC_RC" 0
kc_done
