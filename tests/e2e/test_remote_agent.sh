#!/usr/bin/env bash
# test_remote_agent.sh - the cloudm agent's life (issue 17): 100 one-call processes reuse one
# connection; the agent killed or stopped during a run costs at most remote_timeout per lookup
# and loses no store; two remotes get two agents and no cross-talk; channels of another user or
# open to others are refused; an agent of an older protocol version is replaced; an idle agent
# exits; `cloudm stats` lists agents and `cloudm agent --stop` stops them.
. "$CM_SRC/lib.sh"
. "$CM_SRC/servers.sh"
cm_require "$CM_BIN/manyprog" "$CM_BUILD/lib/libcloudm-remote.so" || cm_done
unset CLOUDM_TIERS CLOUDM_SHARED_PATH

metric() { cm_curl -s "$CM_KC_URL/metrics" | sed -n "s/^cloudm_keycache_$1 \([0-9]*\).*/\1/p"; }
# conf NAME URL [EXTRA]: lg_sq only, memory and remote tiers
mkconf() {
  cm_conf "$1" <<CONF
[cache]
remote = $2
tiers = memory remote
${3:-remote_timeout = 200ms}
[function lg_sq]
signature = i64 lg_sq(i64 x)
${4:-}
CONF
}
agent_pid() { machine "$1" cm_agent_json "$2" pid; }
# agent_start NAME CONF: start the agent by hand and print its pid once it is up (`cloudm agent`
# waits 3 s for it; a loaded machine running ASan builds can take longer, and a program started
# before it is up would start a second one)
agent_start() {
  local p=0
  machine "$1" "$CLOUDM" agent -c "$2" >/dev/null 2>&1
  for _ in $(seq 1 300); do
    p=$(agent_pid "$1" "$2")
    [ "${p:-0}" != 0 ] && break
    sleep 0.1
  done
  echo "${p:-0}"
}

cm_plain plain "$CM_BIN/manyprog" 400 1
N=400 # lookups of manyprog 400 (lg_pack is not configured here)

# --- 100 one-call processes: all remote hits, one connection --------------------------------------
# (connections idle up to 10 minutes: on a loaded machine a gap between two processes must not
# make the server close the agent's connection)
cm_keycache_start kc --idle-timeout 10m || cm_done
# (a generous remote_timeout: this is about connections, and a loaded machine must not turn a
# slow answer into a miss)
c=$(mkconf one "$CM_KC_URL" "remote_timeout = 3s")
cm_plain one.plain "$CM_BIN/manyprog" 1
machine one-a cm_memo one.a "$c" "$CM_BIN/manyprog" 1
machine one-a cm_agent_flush "$c"
machine one-b "$CLOUDM" agent -c "$c" >/dev/null
before=$(metric connections_total)
bad=0
for i in $(seq 1 100); do
  machine one-b cm_memo "one.$i" "$c" "$CM_BIN/manyprog" 1
  [ "$(cm_fn "one.$i" lg_sq .hits.remote)" = 1 ] || bad=$((bad + 1))
  cmp -s "$CM_TMP/one.plain.out" "$CM_TMP/one.$i.out" || bad=$((bad + 1))
done
after=$(metric connections_total)
cm_expect_eq "100 one-call processes: every one a remote hit, output identical" "$bad" 0
# the two /metrics requests are connections of their own. Calls one after another are served
# by the agent's leader on its one connection; a helper (a connection of its own) joins only
# when lookups overlap, which one-call processes in a row never do, however loaded the machine.
conns=$((after - before - 1))
cm_expect_eq "100 one-call processes: one connection for all of them" "$conns" 1

# --- agent SIGKILLed during a run -----------------------------------------------------------------
c=$(mkconf killed "$CM_KC_URL" "" "salt = killed")
pid=$(agent_start killed "$c")
machine killed cm_memo killed "$c" "$CM_BIN/manyprog" 400 1 5 &
run=$!
sleep 0.7
kill -9 "$pid"
wait "$run"
cm_same plain killed
t=$(remote killed timeouts)
# The first lookup after the kill waits remote_timeout and finds the agent gone; lookups posted
# while the new one starts (exec, libcurl: ~0.1 s; seconds on a loaded machine under a
# sanitizer) wait at most that each. The new agent answers long before the run ends.
cm_expect_ge "agent killed: the host noticed" "$t" 1
cm_expect_le "agent killed: lookups that waited remote_timeout" "$t" 100
cm_expect_eq "agent killed: every lookup answered or timed out, no other error" \
  "$(($(remote killed hits) + $(remote killed misses) + $(remote killed skipped) + t))" $N
cm_expect_eq "agent killed: errors are the timeouts" "$(remote killed errors)" "$t"
newpid=$(agent_pid killed "$c")
cm_expect_ne "agent killed: a new agent took over" "$newpid" "$pid"
machine killed cm_agent_flush "$c"
machine killed-b cm_memo killed.b "$c" "$CM_BIN/manyprog" 400 1
cm_same plain killed.b
cm_expect_eq "agent killed: no store lost (another machine hits all)" \
  "$(cm_fn killed.b lg_sq .hits.remote)" $N

# --- agent SIGSTOPped during a run ----------------------------------------------------------------
c=$(mkconf stopped "$CM_KC_URL" "" "salt = stopped")
pid=$(agent_start stopped "$c")
machine stopped cm_memo stopped "$c" "$CM_BIN/manyprog" 400 1 5 &
run=$!
sleep 0.5
kill -STOP "$pid"
sleep 0.6
kill -CONT "$pid"
wait "$run"
cm_same plain stopped
t=$(remote stopped timeouts)
cm_expect_ge "agent stopped: lookups timed out while it was stopped" "$t" 1
# the extra time is at most t x remote_timeout: every other lookup was answered
cm_expect_eq "agent stopped: every lookup answered or timed out" \
  "$(($(remote stopped hits) + $(remote stopped misses) + $(remote stopped skipped) + t))" $N
cm_expect_eq "agent stopped: errors are the timeouts" "$(remote stopped errors)" "$t"
cm_expect_eq "agent stopped: the same agent goes on" "$(agent_pid stopped "$c")" "$pid"

# --- the store ring full (agent stopped, a small ring): stores dropped and counted ---------------
c=$(mkconf full "$CM_KC_URL" "remote_queue_bytes = 64K
remote_max_value = 1K
remote_mode = writeonly" "salt = full")
pid=$(agent_start full "$c")
kill -STOP "$pid"
machine full cm_memo full "$c" "$CM_BIN/manyprog" 400 1
kill -CONT "$pid"
cm_same plain full
cm_expect_ge "ring full: stores dropped and counted" "$(remote full dropped)" 1
cm_expect_eq "ring full: every store queued or dropped" \
  "$(($(remote full stored) + $(remote full dropped)))" $N
cm_expect_eq "ring full: the agent counts the same drops" \
  "$(machine full cm_agent_json "$c" dropped)" "$(remote full dropped)"

# --- two remotes at once: two agents, no cross-talk -----------------------------------------------
cm_keycache_start kca || cm_done
url_a=$CM_KC_URL
cm_keycache_start kcb || cm_done
url_b=$CM_KC_URL
# (a generous remote_timeout: this is about cross-talk, and on a loaded machine one lookup of 400
# answered after 200 ms would count as a miss)
ca=$(mkconf two-a "$url_a" "remote_timeout = 3s" "salt = a")
cb=$(mkconf two-b "$url_b" "remote_timeout = 3s" "salt = b")
machine two cm_memo two.a "$ca" "$CM_BIN/manyprog" 400 1 &
ra=$!
machine two cm_memo two.b "$cb" "$CM_BIN/manyprog" 400 1 &
rb=$!
wait "$ra" "$rb"
cm_same plain two.a
cm_same plain two.b
machine two cm_agent_flush "$ca"
machine two cm_agent_flush "$cb"
pa=$(agent_pid two "$ca")
pb=$(agent_pid two "$cb")
cm_expect_ne "two remotes: two agents" "$pa" "$pb"
CM_KC_URL=$url_a
cm_expect_eq "two remotes: server a has a's entries only" "$(metric entries)" $N
CM_KC_URL=$url_b
cm_expect_eq "two remotes: server b has b's entries only" "$(metric entries)" $N
machine two-c cm_memo two.c "$cb" "$CM_BIN/manyprog" 400 1
cm_expect_eq "two remotes: b's results come back from b" "$(cm_fn two.c lg_sq .hits.remote)" $N

# --- `cloudm stats` lists agents; --stop stops them -----------------------------------------------
# (stats reads the machine's segment: one run with the shared tier creates it)
CLOUDM_TIERS="memory shared remote" machine two cm_memo seg "$ca" "$CM_BIN/manyprog" 1
machine two "$CLOUDM" stats --json -c "$ca" >"$CM_TMP/stats.json" 2>"$CM_TMP/stats.err"
cm_expect_eq "cloudm stats: both agents listed" "$(jq '.agents | map(select(.running)) | length' "$CM_TMP/stats.json")" 2
cm_expect_eq "cloudm stats: the agent's pid" \
  "$(jq -r --arg u "$url_a" '.agents[] | select(.remote == $u) | .pid' "$CM_TMP/stats.json")" "$pa"
machine two "$CLOUDM" agent --stop -c "$ca" >"$CM_TMP/stop.out"
cm_expect_eq "agent --stop: both stopped" "$(grep -c '^cloudm agent: stopped pid' "$CM_TMP/stop.out")" 2
for _ in $(seq 1 30); do kill -0 "$pa" 2>/dev/null || kill -0 "$pb" 2>/dev/null || break; sleep 0.1; done
cm_expect_eq "agent --stop: the processes are gone" \
  "$(kill -0 "$pa" 2>/dev/null || kill -0 "$pb" 2>/dev/null; echo $?)" 1

# --- channels another user owns, or open to others, are refused ----------------------------------
c=$(mkconf perm "$url_a")
machine perm cm_memo perm0 "$c" "$CM_BIN/manyprog" 10 1
chan=$(ls "$CM_TMP"/seg-perm-agent-* | grep -v '\.new' | head -1)
cm_expect_eq "channel file mode" "$(stat -c %a "$chan")" 600
cm_plain plain10 "$CM_BIN/manyprog" 10 1
chmod 666 "$chan"
machine perm cm_memo perm1 "$c" "$CM_BIN/manyprog" 10 1
cm_same plain10 perm1
cm_expect_match "world-writable channel: refused with one line" "$CM_TMP/perm1.err" \
  '^cloudm: remote tier off: agent channel: .*accessible to other users'
cm_expect_eq "world-writable channel: no remote tier" "$(cm_json perm1 .remote)" null
chmod 600 "$chan"
if [ "$(id -u)" = 0 ]; then
  chown 65534 "$chan"
  machine perm cm_memo perm2 "$c" "$CM_BIN/manyprog" 10 1
  cm_same plain10 perm2
  cm_expect_match "another user's channel: refused with one line" "$CM_TMP/perm2.err" \
    '^cloudm: remote tier off: agent channel: .*not a regular file of this user'
  chown 0 "$chan"
fi

# --- an agent of an older protocol version is replaced --------------------------------------------
c=$(mkconf old "$url_a")
oldpid=$(agent_start old "$c")
chan=$(ls "$CM_TMP"/seg-old-agent-* | grep -v '\.new' | head -1)
printf '\0\0\0\0' | env -u LD_PRELOAD dd of="$chan" bs=1 seek=4 conv=notrunc status=none # version 0
machine old cm_memo old "$c" "$CM_BIN/manyprog" 400 1
cm_same plain old
for _ in $(seq 1 50); do kill -0 "$oldpid" 2>/dev/null || break; sleep 0.1; done
cm_expect_eq "older agent: told to stop, it exits" "$(kill -0 "$oldpid" 2>/dev/null; echo $?)" 1
newpid=$(agent_pid old "$c")
cm_expect_ne "older agent: replaced by a new one" "${newpid:-0}" 0
cm_expect_ne "older agent: the new one is another process" "$newpid" "$oldpid"
cm_expect_eq "older agent: every lookup answered by the new one" \
  "$(($(remote old hits) + $(remote old misses)))" $N
cm_expect_eq "older agent: no errors" "$(remote old errors)" 0

# --- https:// with remote_ca: a private CA (a self-signed keycache) -------------------------------
if "$CLOUDM" keycache --help 2>&1 | grep -q -- --tls-cert; then
  env -u LD_PRELOAD openssl req -x509 -newkey rsa:2048 -nodes -keyout "$CM_TMP/tls.key" \
    -out "$CM_TMP/tls.pem" -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    2>/dev/null
  cm_keycache_start kctls --tls-cert "$CM_TMP/tls.pem" --tls-key "$CM_TMP/tls.key" || cm_done
  tls_url=${CM_KC_URL/http:/https:}
  # without remote_ca the system store does not know the certificate: every lookup an error
  c=$(mkconf tlsno "$tls_url" "remote_timeout = 3s" "salt = tls")
  cm_plain tls.plain "$CM_BIN/manyprog" 20 1
  machine tlsno cm_memo tlsno "$c" "$CM_BIN/manyprog" 20 1
  cm_same tls.plain tlsno
  cm_expect_eq "https, no remote_ca: the self-signed server is refused (errors, no hits)" \
    "$(remote tlsno hits) $(($(remote tlsno errors) > 0))" "0 1"
  c=$(mkconf tls "$tls_url" "remote_timeout = 3s
remote_ca = $CM_TMP/tls.pem" "salt = tls")
  machine tls-a cm_memo tls.a "$c" "$CM_BIN/manyprog" 20 1
  machine tls-a cm_agent_flush "$c"
  machine tls-b cm_memo tls.b "$c" "$CM_BIN/manyprog" 20 1
  cm_same tls.plain tls.a
  cm_same tls.plain tls.b
  cm_expect_eq "https with remote_ca: the first machine stored its results" "$(remote tls.a stored)" 20
  cm_expect_eq "https with remote_ca: the second machine gets them all" \
    "$(cm_fn tls.b lg_sq .hits.remote)" 20
fi

# --- an idle agent exits (agent_idle) ----------------------------------------------------------------
c=$(mkconf idle "$url_a" "agent_idle = 1s")
machine idle cm_memo idle "$c" "$CM_BIN/manyprog" 10 1
pid=$(agent_pid idle "$c")
for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
cm_expect_eq "agent_idle = 1s: the agent exits once idle" "$(kill -0 "$pid" 2>/dev/null; echo $?)" 1

cm_done
