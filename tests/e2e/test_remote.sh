#!/usr/bin/env bash
# test_remote.sh - the remote tier end to end (issue 4): two "machines" (separate shared
# segments and HOMEs) share results through `cloudm keycache` and through a plain nginx with
# WebDAV PUT; the second machine's run is all remote hits with byte-identical output. Tokens
# (wrong, read-only), a server killed mid-run, and 1000 results written by a program that exits
# at once (all of them reach the server).
#
# Fault servers (stalls, garbage, tampering) are in test_remote_faults.sh.
. "$CM_SRC/lib.sh"
. "$CM_SRC/servers.sh"
cm_require "$CM_BIN/manyprog" "$CM_BUILD/lib/libcloudm-remote.so" || cm_done
unset CLOUDM_TIERS CLOUDM_SHARED_PATH


cm_plain plain "$CM_BIN/manyprog" 200 2
N_SQ=200
N_PACK=20

# share SERVERNAME URL [EXTRA CONFIG LINES]: machine a computes and uploads, machine b reads
share() {
  local s=$1 url=$2 extra=${3:-}
  local conf
  conf=$(cm_conf "$s" <<CONF
[cache]
remote = $url
# machine b must hit every call: a loaded CI machine can take longer than the default 250 ms
remote_timeout = 5s
$extra
[function lg_sq]
signature = i64 lg_sq(i64 x)
[function lg_pack]
signature = i32 lg_pack(out[*outlen] out, inout[8] outlen, in[n] src, u64 n, i32 level)
CONF
)
  machine "$s-a" cm_memo "$s.a" "$conf" "$CM_BIN/manyprog" 200 2
  machine "$s-a" cm_agent_flush "$conf"
  cm_same plain "$s.a"
  cm_expect_eq "$s: machine a computes lg_sq" "$(cm_fn "$s.a" lg_sq .misses)" $N_SQ
  cm_expect_eq "$s: machine a remote misses" "$(remote "$s.a" misses)" $((N_SQ + N_PACK))
  cm_expect_eq "$s: machine a stored everything" "$(remote "$s.a" stored)" $((N_SQ + N_PACK))
  cm_expect_eq "$s: machine a remote errors" "$(remote "$s.a" errors)" 0
  cm_expect_eq "$s: machine a dropped writes" "$(remote "$s.a" dropped)" 0

  machine "$s-b" cm_memo "$s.b" "$conf" "$CM_BIN/manyprog" 200 2
  cm_same plain "$s.b"
  cm_expect_eq "$s: machine b lg_sq remote hits" "$(cm_fn "$s.b" lg_sq .hits.remote)" $N_SQ
  cm_expect_eq "$s: machine b lg_sq memory hits (second round)" \
    "$(cm_fn "$s.b" lg_sq .hits.memory)" $N_SQ
  cm_expect_eq "$s: machine b lg_pack remote hits" "$(cm_fn "$s.b" lg_pack .hits.remote)" $N_PACK
  cm_expect_eq "$s: machine b misses" "$(cm_fn "$s.b" lg_sq .misses)" 0
  cm_expect_eq "$s: machine b never ran lg_sq" "$(cm_execs "$s.b" lg_sq)" 0
  cm_expect_eq "$s: machine b never ran lg_pack" "$(cm_execs "$s.b" lg_pack)" 0
  cm_expect_eq "$s: machine b stored nothing remotely" "$(remote "$s.b" stored)" 0
  cm_invariant "$s.b" lg_sq

  # A remote hit filled machine b's shared tier: its next run needs no remote at all.
  machine "$s-b" cm_memo "$s.b2" "$conf" "$CM_BIN/manyprog" 200 2
  cm_same plain "$s.b2"
  # 2 per argument: a key's first shared hit does not fill the memory tier, its second does
  cm_expect_eq "$s: machine b, second run: shared hits" "$(cm_fn "$s.b2" lg_sq .hits.shared)" \
    $((2 * N_SQ))
  cm_expect_eq "$s: machine b, second run: remote lookups" \
    "$(($(remote "$s.b2" hits) + $(remote "$s.b2" misses)))" 0

  # cloudm stats on machine b's segment: remote hits per function, and the remote line.
  machine "$s-b" "$CLOUDM" stats --json >"$CM_TMP/$s.stats.json" 2>&1
  cm_expect_eq "$s: cloudm stats: lg_sq remote hits" \
    "$(jq -r '.functions[] | select(.name == "lg_sq") | .hits.remote' "$CM_TMP/$s.stats.json")" $N_SQ
  cm_expect_eq "$s: cloudm stats: remote hits" "$(jq -r .remote.hits "$CM_TMP/$s.stats.json")" \
    $((N_SQ + N_PACK))
  machine "$s-b" "$CLOUDM" stats >"$CM_TMP/$s.stats.txt" 2>&1
  cm_expect_match "$s: cloudm stats table has a remote column" "$CM_TMP/$s.stats.txt" \
    '^function +calls +hit% +memory +shared +remote +misses +saved$'
  cm_expect_match "$s: cloudm stats remote line" "$CM_TMP/$s.stats.txt" \
    "^remote +hits $((N_SQ + N_PACK)) +misses 0 +errors 0 "
}

# --- through cloudm keycache -------------------------------------------------------------------
printf 'rw team-token-1\nro reader-token-2\n' >"$CM_TMP/tokens"
echo team-token-1 >"$CM_TMP/rw.token"
echo reader-token-2 >"$CM_TMP/ro.token"
echo not-a-token >"$CM_TMP/bad.token"
if cm_keycache_start kc --token-file "$CM_TMP/tokens"; then
  share kc "$CM_KC_URL" "token_file = $CM_TMP/rw.token"
  metrics=$(cm_curl -s -H "Authorization: Bearer team-token-1" "$CM_KC_URL/metrics")
  cm_expect_eq "keycache: entries after machine a" \
    "$(echo "$metrics" | sed -n 's/^cloudm_keycache_entries \([0-9]*\).*/\1/p')" $((N_SQ + N_PACK))

  # A wrong token: refused and counted; the program computes everything, output correct.
  conf=$(cm_conf badtok <<CONF
[cache]
remote = $CM_KC_URL
token_file = $CM_TMP/bad.token
[function lg_sq]
signature = i64 lg_sq(i64 x)
CONF
)
  machine bad cm_memo badtok "$conf" "$CM_BIN/manyprog" 200 2
  cm_same plain badtok
  cm_expect_ge "wrong token: auth errors counted" "$(remote badtok auth_errors)" 1
  cm_expect_eq "wrong token: no remote hits" "$(cm_fn badtok lg_sq .hits.remote)" 0
  cm_expect_eq "wrong token: computed" "$(cm_fn badtok lg_sq .misses)" $N_SQ
  cm_expect_eq "wrong token: one line says so" \
    "$(grep -c 'refuses to be read with this token' "$CM_TMP/badtok.err")" 1
  # Refused stores are no evidence that reads work: the failed reads still open the breaker.
  # The breaker runs in the agent: its counters say so.
  cm_expect_ge "wrong token: the agent's breaker opened" \
    "$(machine bad cm_agent_json "$conf" breaker_opens)" 1
  cm_expect_ge "wrong token: lookups skipped" "$(remote badtok skipped)" 1

  # The environment: CLOUDM_REMOTE=off takes the tier away, CLOUDM_REMOTE=URL adds one to a
  # config that has none, and CLOUDM_TIERS can name it.
  CLOUDM_REMOTE=off machine envoff cm_memo envoff "$CM_TMP/kc.conf" "$CM_BIN/manyprog" 200 2
  cm_same plain envoff
  cm_expect_eq "CLOUDM_REMOTE=off: no remote tier" "$(cm_json envoff .remote)" null
  cm_expect_eq "CLOUDM_REMOTE=off: computed" "$(cm_fn envoff lg_sq .misses)" $N_SQ
  noremote=$(cm_conf noremote <<CONF
[cache]
token_file = $CM_TMP/rw.token
[function lg_sq]
signature = i64 lg_sq(i64 x)
CONF
)
  CLOUDM_REMOTE=$CM_KC_URL machine envurl cm_memo envurl "$noremote" "$CM_BIN/manyprog" 200 2
  cm_same plain envurl
  cm_expect_eq "CLOUDM_REMOTE=URL: remote hits" "$(cm_fn envurl lg_sq .hits.remote)" $N_SQ
  CLOUDM_REMOTE=$CM_KC_URL CLOUDM_TIERS="memory remote" machine envtiers cm_memo envtiers \
    "$noremote" "$CM_BIN/manyprog" 200 2
  cm_same plain envtiers
  cm_expect_eq "CLOUDM_TIERS=memory remote: remote hits" "$(cm_fn envtiers lg_sq .hits.remote)" $N_SQ
  cm_expect_eq "CLOUDM_TIERS=memory remote: no shared tier" "$(cm_fn envtiers lg_sq .hits.shared)" 0
  CLOUDM_REMOTE=$CM_KC_URL CLOUDM_TIERS=memory machine envmem cm_memo envmem "$noremote" \
    "$CM_BIN/manyprog" 200 2
  cm_expect_eq "CLOUDM_TIERS without remote wins over CLOUDM_REMOTE" "$(cm_json envmem .remote)" null

  # cloudm check shows the remote settings.
  "$CLOUDM" check -c "$CM_TMP/kc.conf" >"$CM_TMP/check.out" 2>&1
  cm_expect_match "cloudm check: remote line" "$CM_TMP/check.out" \
    "^\\[cache\\] remote http://127\\.0\\.0\\.1:[0-9]+, namespace default, remote_mode readwrite, remote_timeout 5000 ms"
  cm_expect_match "cloudm check: tiers" "$CM_TMP/check.out" "^\\[cache\\] tiers memory shared remote"

  # A read-only token reads (all remote hits) and its writes are refused (new arguments).
  conf=$(cm_conf rotok <<CONF
[cache]
remote = $CM_KC_URL
token_file = $CM_TMP/ro.token
[function lg_sq]
signature = i64 lg_sq(i64 x)
CONF
)
  machine ro cm_memo rotok "$conf" "$CM_BIN/manyprog" 300 1
  cm_plain plain300 "$CM_BIN/manyprog" 300 1
  cm_same plain300 rotok
  cm_expect_eq "read-only token: remote hits" "$(cm_fn rotok lg_sq .hits.remote)" $N_SQ
  cm_expect_eq "read-only token: new arguments computed" "$(cm_fn rotok lg_sq .misses)" 100
  cm_expect_eq "read-only token: its stores handed to the agent" "$(remote rotok stored)" 100
  machine ro cm_agent_flush "$conf"
  cm_expect_eq "read-only token: the agent's stores refused" \
    "$(machine ro cm_agent_json "$conf" store_errors)" 100

  # remote_mode = readonly: never writes, whatever the token allows.
  conf=$(cm_conf romode <<CONF
[cache]
remote = $CM_KC_URL
token_file = $CM_TMP/rw.token
remote_mode = readonly
[function lg_sq]
signature = i64 lg_sq(i64 x)
CONF
)
  machine romode cm_memo romode "$conf" "$CM_BIN/manyprog" 300 1
  cm_same plain300 romode
  cm_expect_eq "remote_mode = readonly: hits" "$(cm_fn romode lg_sq .hits.remote)" $N_SQ
  cm_expect_eq "remote_mode = readonly: nothing stored" "$(remote romode stored)" 0
  cm_expect_eq "remote_mode = readonly: no store errors" "$(remote romode store_errors)" 0

  # mode = writeonly (here from the environment): never reads any tier, recomputes and
  # refreshes the remote entries.
  CLOUDM_MODE=writeonly machine wo cm_memo wo "$CM_TMP/kc.conf" "$CM_BIN/manyprog" 200 2
  cm_same plain wo
  cm_expect_eq "mode = writeonly: no remote lookups" "$(($(remote wo hits) + $(remote wo misses)))" 0
  cm_expect_eq "mode = writeonly: every call computed" "$(cm_execs wo lg_sq)" 400
  cm_expect_eq "mode = writeonly: results stored again" "$(remote wo stored)" $((2 * N_SQ + N_PACK))

  # The server is killed while a program runs: the program finishes, output correct.
  conf=$(cm_conf killed <<CONF
[cache]
remote = $CM_KC_URL
token_file = $CM_TMP/rw.token
remote_timeout = 200ms
flush_timeout = 1s
[function lg_sq]
signature = i64 lg_sq(i64 x)
CONF
)
  cm_plain plainslow "$CM_BIN/manyprog" 400 1
  machine killed cm_memo killed "$conf" "$CM_BIN/manyprog" 400 1 5 &
  runpid=$!
  sleep 0.6
  kill -9 "$CM_KC_PID"
  wait "$runpid"
  cm_same plainslow killed
  cm_expect_ge "server killed: errors or skipped lookups" \
    "$(($(remote killed errors) + $(remote killed skipped)))" 1
  cm_expect_eq "server killed: every call answered" \
    "$(cm_fn killed lg_sq '.hits.remote + .misses')" 400

  # Restarted on the same data: what was acknowledged before the kill is still there.
  if cm_keycache_start kc --token-file "$CM_TMP/tokens"; then
    machine after cm_memo after "$(cm_conf after <<CONF
[cache]
remote = $CM_KC_URL
token_file = $CM_TMP/rw.token
[function lg_sq]
signature = i64 lg_sq(i64 x)
CONF
)" "$CM_BIN/manyprog" 200 2
    cm_same plain after
    cm_expect_eq "after a kill -9 and restart: remote hits" "$(cm_fn after lg_sq .hits.remote)" $N_SQ
  fi
fi

# --- 1000 results, program exits at once: all on the server --------------------------------------
if cm_keycache_start kc1000; then
  conf=$(cm_conf k1000 <<CONF
[cache]
remote = $CM_KC_URL
[function lg_sq]
signature = i64 lg_sq(i64 x)
CONF
)
  cm_plain plain1000 "$CM_BIN/manyprog" 1000 1
  machine k1000 cm_memo k1000 "$conf" "$CM_BIN/manyprog" 1000 1
  cm_same plain1000 k1000
  cm_expect_eq "1000 results: stored" "$(remote k1000 stored)" 1000
  machine k1000 cm_agent_flush "$conf"
  cm_expect_eq "1000 results: entries on the server" \
    "$(cm_curl -s "$CM_KC_URL/metrics" | sed -n 's/^cloudm_keycache_entries \([0-9]*\).*/\1/p')" 1000
fi

# --- configuration problems turn the tier off with one line; the program runs on ------------
conf=$(cm_conf notok <<CONF
[cache]
remote = http://127.0.0.1:9
token_file = $CM_TMP/no-such-token
[function lg_sq]
signature = i64 lg_sq(i64 x)
CONF
)
machine notok cm_memo notok "$conf" "$CM_BIN/manyprog" 200 2
cm_same plain notok
cm_expect_match "missing token file: one message" "$CM_TMP/notok.err" "^cloudm: remote tier off: .*no-such-token"
cm_expect_eq "missing token file: the message is printed once" \
  "$(grep -c 'remote tier off' "$CM_TMP/notok.err")" 1
cm_expect_eq "missing token file: shared and memory tiers still work" \
  "$(cm_fn notok lg_sq .hits.memory)" $N_SQ
cm_expect_eq "missing token file: no remote object in the report" "$(cm_json notok .remote)" null
CLOUDM_REMOTE_LIB=$CM_TMP/nothing.so machine nolib cm_memo nolib "$conf" "$CM_BIN/manyprog" 200 2
cm_same plain nolib
cm_expect_match "plugin missing: one message" "$CM_TMP/nolib.err" "^cloudm: remote tier off: "

# --- fork: a child's results reach the server before it exits; the parent goes on -------------
if cm_keycache_start kcfork; then
  conf=$(cm_remote_conf fork "$CM_KC_URL")
  cm_plain forkplain "$CM_BIN/forker" fork
  machine fork cm_run fork -c "$conf" --report="$CM_TMP/fork-%p.json" -- "$CM_BIN/forker" fork
  cm_same forkplain fork
  cm_fork_reports fork forkp forkc
  cm_expect_eq "fork: the child stored its 10 results" "$(remote forkc stored)" 10
  cm_expect_eq "fork: the parent reads them from the server" "$(cm_fn forkp lg_sq .hits.remote)" 10
  cm_expect_eq "fork: the parent computes the other 5" "$(cm_fn forkp lg_sq .misses)" 5
  cm_expect_eq "fork: the parent stored those 5" "$(remote forkp stored)" 5
  machine fork cm_agent_flush "$conf"
  cm_expect_eq "fork: entries on the server" \
    "$(cm_curl -s "$CM_KC_URL/metrics" | sed -n 's/^cloudm_keycache_entries \([0-9]*\).*/\1/p')" 15
fi

# --- through nginx with WebDAV PUT ----------------------------------------------------------------
if command -v nginx >/dev/null && cm_nginx_start ng; then
  share ng "$CM_NGINX_URL/cache"
  cm_expect_eq "nginx: files under the namespace" \
    "$(find "$CM_NGINX_ROOT/cache/default" -type f | wc -l)" $((N_SQ + N_PACK))
  cm_expect_eq "nginx: file names are 128 hex digits" \
    "$(find "$CM_NGINX_ROOT/cache/default" -type f -printf '%f\n' | grep -cvE '^[0-9a-f]{128}$')" 0
else
  cm_fail "nginx missing or not starting (install the nginx package)"
fi

cm_done
