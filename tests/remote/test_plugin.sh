#!/usr/bin/env bash
# test_plugin.sh BUILD_DIR CASE - one fault test of libcloudm-remote.so: starts
# tests/remote/fault_server (127.0.0.1, port 0, ready file) in the mode the case needs, drives the
# plugin with plugin_driver (which checks every get: right value on hits, -1/-2 and no value on
# faults, time bounds) and asserts the plugin's counters and the server's state with jq/curl.
# The server is killed by the trap on exit. Cases: see the `case` below.
set -euo pipefail
build=$1
what=$2
bin=$build/bin
so=$build/lib/libcloudm-remote.so
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cm_remote.XXXXXX")
srv=
cleanup() {
  if [ -n "$srv" ]; then kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL ($what): $*" >&2; exit 1; }

# start MODE [server args...]: starts the fault server, sets $url and $addr.
start() {
  local mode=$1; shift
  rm -f "$tmp/ready"
  "$bin/fault_server" --mode "$mode" --ready-file "$tmp/ready" "$@" &
  srv=$!
  for _ in $(seq 100); do [ -s "$tmp/ready" ] && break; sleep 0.05; done
  [ -s "$tmp/ready" ] || fail "fault_server did not start"
  addr=$(cat "$tmp/ready")
  url="http://$addr/cache/"
}
setmode() { curl -sf "http://$addr/_mode/$1" >/dev/null || fail "cannot switch to $1"; }
entries() { curl -sf "http://$addr/_stats" | awk '$1 == "entries" {print $2}'; }
# drive ARGS...: runs the driver, keeps its JSON in $out; the driver's own checks must pass.
drive() {
  out=$("$bin/plugin_driver" "$so" "$url" "$@") || fail "driver failed: $* -> $out"
  echo "$out"
}
# expect JQ-EXPR: the last driver output satisfies it.
expect() { jq -e "$1" <<<"$out" >/dev/null || fail "expected $1, got $out"; }

printf 'a secret for the tests\n' >"$tmp/secret"
printf 'other secret\n' >"$tmp/secret2"

case $what in
roundtrip)
  start store
  drive put 50 --wait-ms 3000
  expect '.puts == 50 and .put_errors == 0 and .dropped == 0 and .thread_enter == 1'
  [ "$(entries)" = 50 ] || fail "server has $(entries) entries, expected 50"
  # The URL is {remote}/{namespace}/{128 hex}.
  curl -sf "http://$addr/_keys" | grep -Eqv '^/cache/test/[0-9a-f]{128}$' &&
    fail "unexpected stored path: $(curl -s "http://$addr/_keys" | head -3)"
  drive get 50 --expect hit
  expect '.hits == 50 and .errors == 0 and .misses == 0'
  drive get 10 --from 1000 --expect miss
  expect '.misses == 10 and .errors == 0 and .breaker_opens == 0'
  # Another namespace is another key space.
  drive get 5 --ns other --expect miss
  expect '.misses == 5'
  ;;
secret)
  start store
  drive put 20 --secret "$tmp/secret" --wait-ms 3000
  expect '.puts == 20'
  drive get 20 --secret "$tmp/secret" --expect miss --from 100
  drive get 20 --secret "$tmp/secret" --expect hit
  expect '.hits == 20'
  # HMAC keys: without the secret (or with another) the keys are not even found.
  drive get 4 --expect miss
  drive get 4 --secret "$tmp/secret2" --expect miss
  # The same key path but the wrong secret: swap in place of store answers with another
  # entry; a clear reader of an encrypted entry must refuse it.
  setmode swap
  drive get 4 --secret "$tmp/secret" --expect error
  expect '.errors == 4 and .hits == 0'
  drive get 4 --expect error
  expect '.errors == 4'
  ;;
truncated | wronglen | garbage | othersig | swap)
  start store
  drive put 10 --wait-ms 3000
  setmode "$what"
  drive get 4 --expect error
  expect '.errors == 4 and .hits == 0 and .timeouts == 0 and .breaker_opens == 0'
  drive get 8 --expect error
  expect '.errors == 5 and .skipped == 3 and .breaker_opens == 1 and .log_lines == 1'
  ;;
tamper)
  start store
  drive put 10 --secret "$tmp/secret" --wait-ms 3000
  setmode tamper
  drive get 4 --secret "$tmp/secret" --expect error
  expect '.errors == 4 and .hits == 0'
  ;;
e500)
  start e500
  drive get 4 --expect error
  expect '.errors == 4 and .auth_errors == 0 and .timeouts == 0'
  drive put 3 --wait-ms 1000 --flush-ms 300
  expect '.puts == 0 and .put_errors >= 1'
  ;;
e401)
  start e401
  drive get 3 --expect error
  expect '.errors == 3 and .auth_errors == 3'
  drive put 3 --wait-ms 3000
  expect '.puts == 0 and .put_errors == 3 and .auth_errors == 3'
  ;;
auth)
  start store --token good-token
  printf 'good-token\n' >"$tmp/tok"
  printf 'bad-token\n' >"$tmp/badtok"
  drive put 5 --token "$tmp/badtok" --wait-ms 3000
  expect '.puts == 0 and .put_errors == 5 and .auth_errors == 5'
  [ "$(entries)" = 0 ] || fail "refused puts were stored"
  drive get 3 --token "$tmp/badtok" --expect error
  expect '.errors == 3 and .auth_errors == 3'
  drive get 3 --expect error
  expect '.auth_errors == 3'
  drive put 5 --token "$tmp/tok" --wait-ms 3000
  expect '.puts == 5 and .auth_errors == 0'
  drive get 5 --token "$tmp/tok" --expect hit
  ;;
stall)
  start stall
  # Each get ends within the timeout (100 ms) + slack, the 5th opens the breaker, the next
  # 100 are skipped instantly (the driver checks the times).
  drive breaker --timeout-ms 100
  expect '.timeouts == 5 and .errors == 5 and .skipped == 100 and .breaker_opens == 1'
  expect '.log_lines == 1'
  ;;
recover)
  start store
  drive put 5 --wait-ms 3000
  setmode e500
  # 5 failures open the breaker; the hook repairs the server; a get right away is skipped;
  # after 1 s one probe goes out, succeeds and closes it: two log lines in all.
  export CM_DRIVER_HOOK="curl -sf http://$addr/_mode/store >/dev/null"
  drive recover
  expect '.errors == 5 and .skipped == 1 and .hits == 10 and .breaker_opens == 1 and .puts == 5'
  expect '.log_lines == 2'
  ;;
bulk)
  start store
  # No waiting: close() alone must deliver every queued write.
  drive put 1000
  [ "$(entries)" = 1000 ] || fail "server has $(entries) entries after close, expected 1000"
  drive get 1000 --expect hit
  expect '.hits == 1000'
  ;;
queue)
  start stall
  # The writer is stuck on the stalled server: a queue of 10 takes 10 (one in flight may have
  # left it), drops the rest, and close() gives up after the flush timeout.
  start_ms=$(date +%s%3N)
  out=$("$bin/plugin_driver" "$so" "$url" put 50 --queue 10 --flush-ms 300 2>&1 | tail -1) || true
  end_ms=$(date +%s%3N)
  # 40 (or 39, with one already taken off by the writer) dropped at put, the rest at the flush
  # deadline: all 50 counted, none sent.
  expect '.dropped == 50 and .puts == 0 and .put_errors == 0'
  # The PUT in flight when close() starts is bounded by the flush budget too.
  [ $((end_ms - start_ms)) -lt 2000 ] || fail "close took $((end_ms - start_ms)) ms"
  ;;
https)
  # A self-signed certificate: the plugin verifies certificates (system CA store) and must
  # refuse it, for reads and writes; nothing is sent in the clear instead.
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
    -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
  start store --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem"
  url="https://$addr/cache/"
  curl -sfk "https://$addr/_stats" >/dev/null || fail "the TLS server does not answer"
  drive get 3 --expect error
  expect '.errors == 3 and .hits == 0 and .misses == 0'
  drive put 2 --flush-ms 2000
  expect '.puts == 0 and .put_errors + .dropped == 2'
  [ "$(curl -sfk "https://$addr/_stats" | awk '$1 == "entries" {print $2}')" = 0 ] ||
    fail "a write reached the untrusted server"
  ;;
keycache)
  # The project's own server, when built: rw and ro tokens, values over its --max-value.
  if ! [ -x "$bin/cloudm" ] || ! "$bin/cloudm" keycache --help >/dev/null 2>&1; then
    echo "skip: cloudm keycache not built"; exit 77
  fi
  printf 'rw writer-token\nro reader-token\n' >"$tmp/tokens"
  printf 'writer-token\n' >"$tmp/rw"
  printf 'reader-token\n' >"$tmp/ro"
  "$bin/cloudm" keycache --listen 127.0.0.1:0 --ready-file "$tmp/ready" --data "$tmp/kc" \
    --token-file "$tmp/tokens" --max-value 1500 >"$tmp/kc.log" 2>&1 &
  srv=$!
  for _ in $(seq 100); do [ -s "$tmp/ready" ] && break; sleep 0.05; done
  [ -s "$tmp/ready" ] || fail "keycache did not start: $(cat "$tmp/kc.log")"
  addr=$(cat "$tmp/ready")
  url="http://$addr/"
  # Values of key i are 1 + (i * 37 % 2000) bytes: of keys 0..59, those over 1500 - 88 bytes
  # of envelope are refused (413) and counted as put errors, the others stored.
  big=0
  for i in $(seq 0 59); do [ $((1 + i * 37 % 2000 + 88)) -gt 1500 ] && big=$((big + 1)); done
  drive put 60 --token "$tmp/rw" --secret "$tmp/secret"
  expect ".puts == $((60 - big)) and .put_errors == $big and .auth_errors == 0"
  drive get 30 --token "$tmp/ro" --secret "$tmp/secret" --expect hit
  expect '.hits == 30'
  drive put 3 --from 500 --token "$tmp/ro"
  expect '.puts == 0 and .put_errors == 3 and .auth_errors == 3'
  drive get 3 --from 500 --token "$tmp/ro" --expect miss
  drive get 2 --expect error
  expect '.auth_errors == 2'
  ;;
item9_trust)
  # Issue 16 item 9: the safe setup in one step. `cloudm keycache --init` makes a team secret and
  # rw/ro tokens (0600, never overwritten) and prints the server's and clients' lines; those
  # lines work against the real server; with the secret a writer that rewrites a stored
  # envelope and recomputes its checksum plants nothing; `cloudm check` warns on a remote
  # without secret_file.
  cloudm=$bin/cloudm
  "$cloudm" keycache --init "$tmp/team" --listen 127.0.0.1:7878 >"$tmp/init.out" 2>&1 ||
    fail "keycache --init failed: $(cat "$tmp/init.out")"
  for f in team.secret tokens rw.token ro.token; do
    [ "$(stat -c %a "$tmp/team/$f")" = 600 ] || fail "$f is not mode 600"
  done
  [ "$(stat -c %a "$tmp/team")" = 700 ] || fail "the directory is not mode 700"
  [ "$(wc -c <"$tmp/team/team.secret")" -ge 33 ] || fail "secret shorter than 32 bytes"
  rwt=$(head -n 1 "$tmp/team/rw.token")
  rot=$(head -n 1 "$tmp/team/ro.token")
  grep -qx "rw $rwt" "$tmp/team/tokens" || fail "tokens lacks the rw token"
  grep -qx "ro $rot" "$tmp/team/tokens" || fail "tokens lacks the ro token"
  [ "$rwt" != "$rot" ] || fail "rw and ro tokens are equal"
  for line in "cloudm keycache --listen 127.0.0.1:7878 --token-file $tmp/team/tokens" \
      "remote      = http://127.0.0.1:7878" "token_file  = $tmp/team/rw.token" \
      "token_file  = $tmp/team/ro.token" "secret_file = $tmp/team/team.secret" \
      "remote_mode = readonly"; do
    grep -qF -- "$line" "$tmp/init.out" || fail "--init does not print '$line'"
  done
  cp "$tmp/team/team.secret" "$tmp/secret.before"
  "$cloudm" keycache --init "$tmp/team" >/dev/null 2>"$tmp/init2.err" &&
    fail "a second --init succeeded"
  cmp -s "$tmp/team/team.secret" "$tmp/secret.before" || fail "a second --init changed the secret"
  grep -q "exists" "$tmp/init2.err" || fail "second --init: $(cat "$tmp/init2.err")"

  # The generated files with the real server: rw writes, ro reads, ro cannot write.
  "$cloudm" keycache --listen 127.0.0.1:0 --ready-file "$tmp/ready" --data "$tmp/kc" \
    --token-file "$tmp/team/tokens" >"$tmp/kc.log" 2>&1 &
  srv=$!
  for _ in $(seq 100); do [ -s "$tmp/ready" ] && break; sleep 0.05; done
  [ -s "$tmp/ready" ] || fail "keycache did not start: $(cat "$tmp/kc.log")"
  url="http://$(cat "$tmp/ready")/"
  drive put 20 --token "$tmp/team/rw.token" --secret "$tmp/team/team.secret"
  expect '.puts == 20 and .put_errors == 0'
  drive get 20 --token "$tmp/team/ro.token" --secret "$tmp/team/team.secret" --expect hit
  expect '.hits == 20'
  drive put 2 --from 100 --token "$tmp/team/ro.token" --secret "$tmp/team/team.secret"
  expect '.puts == 0 and .auth_errors == 2'
  kill "$srv"; wait "$srv" 2>/dev/null || true; srv=

  # A planting writer (payload changed, checksum recomputed) against the generated secret.
  start store
  drive put 10 --secret "$tmp/team/team.secret" --wait-ms 3000
  setmode tamper
  drive get 4 --secret "$tmp/team/team.secret" --expect error
  expect '.errors == 4 and .hits == 0'

  # cloudm check: a remote without secret_file is warned about, with the way out.
  printf '[cache]\nremote = http://127.0.0.1:7878\n[function sq]\nsignature = i32 sq(i32)\n' \
    >"$tmp/nosecret.conf"
  printf '[cache]\nremote = http://127.0.0.1:7878\nsecret_file = %s\n[function sq]\nsignature = i32 sq(i32)\n' \
    "$tmp/team/team.secret" >"$tmp/secret.conf"
  "$cloudm" check -c "$tmp/nosecret.conf" >"$tmp/check1.out" 2>&1 || fail "check failed"
  grep -q "warning: remote http://127.0.0.1:7878 without secret_file: .*plant.*keycache --init" \
    "$tmp/check1.out" || fail "no warning: $(cat "$tmp/check1.out")"
  grep -q "0 errors, 1 warning$" "$tmp/check1.out" || fail "warning not counted"
  "$cloudm" check -c "$tmp/secret.conf" >"$tmp/check2.out" 2>&1 || fail "check failed"
  grep -q "without secret_file" "$tmp/check2.out" && fail "warned with a secret_file"
  grep -q "0 errors, 0 warnings$" "$tmp/check2.out" || fail "$(cat "$tmp/check2.out")"
  ;;
item14_breaker_log_rate)
  # Issue 16 item 14: 16 threads against a server that fails 3 GETs in 4 make the breaker flap
  # (requests sent before it opened close it again); it logs one change per second at most.
  start flaky
  drive flap 2500 2>"$tmp/flap.err"
  expect '.breaker_opens >= 1'
  lines=$(jq .log_lines <<<"$out")
  [ "$lines" -ge 1 ] && [ "$lines" -le 4 ] ||
    fail "$lines breaker lines in 2.5 s (want 1 to 4): $(head -5 "$tmp/flap.err")"
  ;;
item14_fork_counters)
  # Issue 16 item 14: a fork child's counters (its report) start from zero.
  start store
  drive forkcount
  expect '.misses == 3'
  ;;
maxvalue)
  start store
  # Values are 1 + (i * 37 % 2000) bytes: keys 0..2 are 1, 38, 75 bytes; a 50-byte limit
  # keeps 0 and 1 and drops 2 without sending it.
  # (the driver reports the dropped put as a failure: expected here)
  out=$("$bin/plugin_driver" "$so" "$url" put 3 --max-value 50 2>/dev/null) || true
  expect '.puts == 2 and .dropped == 1'
  [ "$(entries)" = 2 ] || fail "server has $(entries) entries, expected 2"
  ;;
access)
  start store
  drive put 5 --access ro --wait-ms 500
  expect '.puts == 0 and .dropped == 0 and .thread_enter == 0'
  [ "$(entries)" = 0 ] || fail "readonly put reached the server"
  drive put 5 --access wo --wait-ms 3000
  expect '.puts == 5'
  drive get 5 --access wo --expect miss
  expect '.misses == 0 and .hits == 0'
  [ "$(curl -sf "http://$addr/_stats" | awk '$1 == "gets" {print $2}')" = 0 ] ||
    fail "writeonly get reached the server"
  drive get 5 --access ro --expect hit
  ;;
threads)
  start store
  drive put 200 --secret "$tmp/secret"
  expect '.puts == 200'
  drive threads 200 --secret "$tmp/secret"
  expect '.hits == 2400 and .errors == 0'
  ;;
fork)
  start store
  drive fork 20
  expect '.hits == 20 and .failures == 0'
  [ "$(entries)" = 60 ] || fail "server has $(entries) entries, expected 60 (parent 40 + child 20)"
  # Nothing sent twice: the child did not inherit the parent's queue.
  [ "$(curl -sf "http://$addr/_stats" | awk '$1 == "puts" {print $2}')" = 60 ] || fail "duplicate puts"
  ;;
*)
  fail "unknown case"
  ;;
esac
echo "ok $what"
