# redis_lib.sh - start redis-server instances and a Redis Cluster for the tests in tests/redis
# (sourced after tests/e2e/lib.sh and servers.sh, never run).
#
# What it does: starts redis-server on 127.0.0.1 only, on a port it found free (bus port too for
# a cluster node), with its files under $CM_TMP, no persistence; registers every pid with
# servers.sh so the EXIT trap kills them all; builds a 3-master / 3-replica cluster with
# `redis-cli --cluster create` and waits until every node agrees that it is up.
#
# What it does not do: install Redis (.ci/install-deps: redis-server), or check results.

# rcli PORT ARGS...: redis-cli against a local node (no sanitizer runtime in its environment)
rcli() { local p=$1; shift; env -u LD_PRELOAD redis-cli -h 127.0.0.1 -p "$p" "$@"; }

# cm_redis_start NAME [redis-server options...]: sets CM_REDIS_PORT and CM_REDIS_PID
cm_redis_start() {
  local name=$1 d port i tries; shift
  d="$CM_TMP/redis-$name"
  mkdir -p "$d"
  for tries in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 30000))
    cm_port_free "$port" && cm_port_free $((port + 10000)) || continue
    env -u LD_PRELOAD redis-server --bind 127.0.0.1 --port "$port" --dir "$d" --save '' \
      --appendonly no --logfile "$d/redis.log" "$@" &
    CM_REDIS_PID=$!
    CM_SERVER_PIDS+=("$CM_REDIS_PID")
    for ((i = 0; i < 50; i++)); do
      kill -0 "$CM_REDIS_PID" 2>/dev/null || break
      if rcli "$port" ping 2>/dev/null | grep -Eq 'PONG|NOAUTH'; then
        CM_REDIS_PORT=$port
        return 0
      fi
      sleep 0.1
    done
    kill -9 "$CM_REDIS_PID" 2>/dev/null
  done
  cm_fail "redis-server $name did not start:"; tail -5 "$d/redis.log" >&2
  return 1
}

# cm_cluster_start: six nodes, `--cluster create --cluster-replicas 1`; sets CM_CL_PORTS (array,
# in creation order), CM_CL_PIDS (same order) and CM_CL_URL (redis+cluster:// with two seeds).
cm_cluster_start() {
  local i hosts=()
  CM_CL_PORTS=() CM_CL_PIDS=()
  for i in 1 2 3 4 5 6; do
    cm_redis_start "node$i" --cluster-enabled yes --cluster-config-file "$CM_TMP/redis-node$i/nodes.conf" \
      --cluster-node-timeout 1000 --cluster-replica-validity-factor 0 --appendonly no || return 1
    CM_CL_PORTS+=("$CM_REDIS_PORT")
    CM_CL_PIDS+=("$CM_REDIS_PID")
    hosts+=("127.0.0.1:$CM_REDIS_PORT")
  done
  if ! env -u LD_PRELOAD redis-cli --cluster create "${hosts[@]}" --cluster-replicas 1 \
    --cluster-yes >"$CM_TMP/cluster-create.log" 2>&1; then
    cm_fail "redis-cli --cluster create failed:"; tail -5 "$CM_TMP/cluster-create.log" >&2
    return 1
  fi
  cm_cluster_wait_ok "${CM_CL_PORTS[@]}" || return 1
  CM_CL_URL="redis+cluster://127.0.0.1:${CM_CL_PORTS[0]},127.0.0.1:${CM_CL_PORTS[1]}"
}

# cm_cluster_wait_ok PORT...: every listed node says cluster_state:ok and sees 3 masters with
# slots (at most 15 s)
cm_cluster_wait_ok() {
  local i p ok
  for ((i = 0; i < 150; i++)); do
    ok=1
    for p in "$@"; do
      rcli "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || ok=0
      [ "$(rcli "$p" cluster nodes 2>/dev/null | awk '$3 ~ /master/ && $3 !~ /fail/ && NF >= 9' |
        wc -l)" = 3 ] || ok=0
    done
    [ "$ok" = 1 ] && return 0
    sleep 0.1
  done
  cm_fail "cluster not ok after 15 s"; rcli "$1" cluster nodes >&2
  return 1
}

# cm_cluster_role PORT: master or slave
cm_cluster_role() { rcli "$1" role 2>/dev/null | head -1; }
