# lib.sh - shared helpers for the keycache shell tests (sourced, bash).
#
# What it does: a temporary directory removed on exit, starting `cloudm keycache` on 127.0.0.1
# port 0 with a ready file (kc_start), stopping it (kc_stop, kc_kill9), keys (kc_key N), and
# check helpers that count failures (check_eq, check). Every server started is killed by the
# EXIT trap.
#
# What it does not do: no assertions about the protocol itself (each test does that).
set -u
CLOUDM=${1:?usage: $0 PATH/TO/cloudm}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cm_kc.XXXXXX")
KC_PID=""
KC_ADDR=""
FAILS=0
PIDS_TO_KILL=()

kc_cleanup() {
    local p
    for p in $KC_PID "${PIDS_TO_KILL[@]}"; do
        kill -9 "$p" 2>/dev/null
    done
    wait 2>/dev/null
    if [ "$FAILS" -eq 0 ]; then rm -rf "$TMP"; else echo "kept $TMP" >&2; fi
}
trap kc_cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    FAILS=$((FAILS + 1))
}

check_eq() { # NAME GOT WANT
    if [ "$2" != "$3" ]; then fail "$1: got '$2', want '$3'"; else echo "ok: $1"; fi
}

check() { # NAME COMMAND...
    local n=$1
    shift
    if "$@"; then echo "ok: $n"; else fail "$n"; fi
}

# kc_key N: a deterministic 128-hex-digit key
kc_key() {
    printf 'key-%s' "$1" | sha512sum | cut -c1-128
}

# kc_start ARGS...: start the server (plus --listen 127.0.0.1:0 --ready-file), wait until it
# listens; sets KC_PID and KC_ADDR. Its stderr goes to $TMP/server.log.
kc_start() {
    rm -f "$TMP/ready"
    "$CLOUDM" keycache --listen 127.0.0.1:0 --ready-file "$TMP/ready" "$@" \
        2>>"$TMP/server.log" &
    KC_PID=$!
    for _ in $(seq 1 200); do
        if [ -s "$TMP/ready" ]; then
            KC_ADDR=$(cat "$TMP/ready")
            return 0
        fi
        if ! kill -0 "$KC_PID" 2>/dev/null; then
            fail "server exited at start"
            cat "$TMP/server.log" >&2
            exit 1
        fi
        sleep 0.05
    done
    fail "server did not start"
    exit 1
}

# kc_stop: SIGTERM, wait; the exit status in KC_RC, the seconds it took in KC_SECS
kc_stop() {
    local t0=$EPOCHREALTIME
    kill -TERM "$KC_PID"
    wait "$KC_PID"
    KC_RC=$?
    KC_SECS=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    KC_PID=""
}

kc_kill9() {
    kill -9 "$KC_PID" 2>/dev/null
    wait "$KC_PID" 2>/dev/null
    KC_PID=""
}

# kc_curl ARGS...: curl against the server, prints the status code only
kc_code() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$@"
}

kc_metric() { # NAME-WITH-LABELS TOKEN -> value (0 when absent)
    local v
    v=$(curl -s --max-time 10 -H "Authorization: Bearer $2" "http://$KC_ADDR/metrics" |
        awk -v n="$1" '$1 == n { print $2 }')
    echo "${v:-0}"
}

kc_done() {
    if grep -qE "runtime error|Sanitizer" "$TMP/server.log" 2>/dev/null; then
        fail "sanitizer report in the server's log:"
        grep -E -m5 "runtime error|Sanitizer" "$TMP/server.log" >&2
    fi
    if [ "$FAILS" -ne 0 ]; then
        echo "$FAILS failure(s)" >&2
        exit 1
    fi
    echo "all passed"
    exit 0
}
