# servers.sh - start and stop the HTTP servers the remote-tier tests talk to (sourced after
# lib.sh, never run).
#
# What it does: starts `cloudm keycache`, a non-root nginx with WebDAV PUT, and the fault server
# of tests/remote, each on 127.0.0.1 only, on a port it chose free, with its files under $CM_TMP;
# remembers their pids and kills them all when the test script exits (replacing lib.sh's EXIT
# trap with one that also removes $CM_TMP).
#
# What it does not do: install anything (.ci/install-deps does), or decide what a test expects.
CM_SERVER_PIDS=()
# SIGTERM first (nginx's master then stops its workers, which a SIGKILL would orphan), SIGKILL
# what is left after 3 s.
cm_servers_stop() {
  local p i
  for p in "${CM_SERVER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for ((i = 0; i < 30; i++)); do
    for p in "${CM_SERVER_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && break; done
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  for p in "${CM_SERVER_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  for p in "${CM_SERVER_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  CM_SERVER_PIDS=()
}
# cm_agents_stop: SIGKILL the cloudm agents serving channels under $CM_TMP (the pid is the word
# at byte 16 of a channel file, docs/agent.md); each is checked to be an agent of that channel.
cm_agents_stop() {
  local f pid
  for f in "$CM_TMP"/*-agent-* "$CM_TMP"/*/*-agent-*; do
    [ -f "$f" ] || continue
    case $f in *.new*) continue ;; esac
    pid=$(env -u LD_PRELOAD od -An -tu4 -j16 -N4 "$f" 2>/dev/null | tr -d ' ')
    [ -n "$pid" ] && [ "$pid" != 0 ] || continue
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--channel $f" && kill -9 "$pid"
  done
  return 0
}
# cm_agent_flush CONF: wait until the agent of CONF (in the current machine's environment) has
# sent every queued store.
cm_agent_flush() { env -u LD_PRELOAD "$CLOUDM" agent --flush -c "$1"; }
# cm_agent_json CONF FIELD: a field of CONF's agent (`cloudm agent --status`, current machine)
cm_agent_json() { env -u LD_PRELOAD "$CLOUDM" agent --status -c "$1" 2>/dev/null | jq -r ".$2"; }
trap 'cm_agents_stop; cm_servers_stop; rm -rf "$CM_TMP"' EXIT

# Tools the tests run themselves must not get the sanitizer runtime lib.sh puts in LD_PRELOAD
# for sanitizer builds (an uninstrumented curl with libasan preloaded can hang in its resolver).
cm_curl() { env -u LD_PRELOAD curl "$@"; }

# machine NAME CMD...: run CMD as "machine" NAME, with its own shared segment and HOME (the
# remote-tier tests share results between such machines).
machine() {
  local m=$1; shift
  mkdir -p "$CM_TMP/home-$m"
  HOME="$CM_TMP/home-$m" CLOUDM_SHARED_PATH="$CM_TMP/seg-$m" "$@"
}
# remote RUN FIELD: a field of run RUN's report "remote" object
remote() { cm_json "$1" ".remote.$2"; }

# cm_wait_file FILE [TENTHS]: wait until FILE exists and is not empty (default 10 s)
cm_wait_file() {
  local i
  for ((i = 0; i < ${2:-100}; i++)); do
    [ -s "$1" ] && return 0
    sleep 0.1
  done
  return 1
}

# cm_port_free PORT: nothing accepts connections on 127.0.0.1:PORT
cm_port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# cm_keycache_start NAME [OPTIONS...]: start `cloudm keycache` with its data in $CM_TMP/NAME.data;
# sets CM_KC_URL (http://127.0.0.1:PORT) and CM_KC_PID. The data directory survives a restart
# with the same NAME.
cm_keycache_start() {
  local name=$1; shift
  local ready="$CM_TMP/$name.ready"
  rm -f "$ready"
  "$CLOUDM" keycache --listen 127.0.0.1:0 --ready-file "$ready" --data "$CM_TMP/$name.data" "$@" \
    >>"$CM_TMP/$name.log" 2>&1 &
  CM_KC_PID=$!
  CM_SERVER_PIDS+=("$CM_KC_PID")
  if ! cm_wait_file "$ready"; then
    cm_fail "keycache $name did not start:"; tail -5 "$CM_TMP/$name.log" >&2; return 1
  fi
  CM_KC_URL="http://$(head -1 "$ready")"
}

# cm_remote_conf NAME URL [CACHE_LINES]: writes $CM_TMP/NAME.conf, the remote tests' usual
# config (lg_sq memoized in the memory and remote tiers, URL the remote, CACHE_LINES more
# [cache] keys) and prints its path.
cm_remote_conf() {
  cm_conf "$1" <<CONF
[cache]
remote = $2
tiers = memory remote
${3:-}
[function lg_sq]
signature = i64 lg_sq(i64 x)
CONF
}

# cm_fault_start NAME MODE: start tests/remote's fault server ($CM_FAULT) in MODE, its log in
# $CM_TMP/NAME.log; sets FURL (http://127.0.0.1:PORT).
CM_FAULT=${CM_BUILD:-}/bin/fault_server
cm_fault_start() {
  local ready="$CM_TMP/$1.ready"
  "$CM_FAULT" --mode "$2" --ready-file "$ready" >"$CM_TMP/$1.log" 2>&1 &
  CM_SERVER_PIDS+=($!)
  cm_wait_file "$ready" || { cm_fail "fault server $1 did not start"; return 1; }
  FURL="http://$(head -1 "$ready")"
}

# cm_nginx_start NAME: nginx serving $CM_TMP/NAME.root with WebDAV PUT and DELETE; sets
# CM_NGINX_URL and CM_NGINX_ROOT. Needs the nginx binary (Debian package nginx).
cm_nginx_start() {
  local name=$1 d="$CM_TMP/$1.nginx" port tries user=""
  CM_NGINX_ROOT="$CM_TMP/$name.root"
  mkdir -p "$d/tmp" "$CM_NGINX_ROOT"
  [ "$(id -u)" = 0 ] && user="user root;"
  for tries in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 30000))
    cm_port_free "$port" || continue
    cat >"$d/nginx.conf" <<NGINX
$user
daemon off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  server {
    listen 127.0.0.1:$port;
    root $CM_NGINX_ROOT;
    client_max_body_size 64m;
    location / {
      dav_methods PUT DELETE;
      create_full_put_path on;
      dav_access user:rw;
    }
  }
}
NGINX
    env -u LD_PRELOAD nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" &
    CM_NGINX_PID=$!
    CM_SERVER_PIDS+=("$CM_NGINX_PID")
    local i
    for ((i = 0; i < 50; i++)); do
      if ! kill -0 "$CM_NGINX_PID" 2>/dev/null; then break; fi
      if ! cm_port_free "$port"; then
        CM_NGINX_URL="http://127.0.0.1:$port"
        return 0
      fi
      sleep 0.1
    done
  done
  cm_fail "nginx did not start:"; tail -5 "$d/error.log" >&2
  return 1
}
