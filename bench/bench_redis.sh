#!/usr/bin/env bash
# bench_redis.sh BUILD_DIR - remote-tier hits on Redis against the keycache server, same run,
# same values: one redis-server (no persistence) and one `cloudm keycache` (LMDB), both on
# 127.0.0.1 with free ports and their files in a temporary directory, both driven through the
# plugin's get() by tests/redis/redis_driver (`bench`): COUNT values of SIZE bytes are stored,
# then every key is read once by one thread with each get() timed (p50, p99), then 1 and 4
# threads read for SECS seconds (gets per second). Every value read is checked. Rows in the clear
# and with a secret (AES-256-GCM). Prints a Markdown table. Speed is never asserted.
#
# The put rate (the plugin's background writer, one connection, flushed at close) is printed too.
# Knobs: CM_BENCH_N (default 2000), CM_BENCH_SIZE (bytes, default 1024), CM_BENCH_SECS (3).
# Needs redis-server and the build's cloudm (keycache subcommand); never edits bench/run.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
build=${1:-$top/build}
N=${CM_BENCH_N:-2000}
SIZE=${CM_BENCH_SIZE:-1024}
SECS=${CM_BENCH_SECS:-3}
[ -f "$build/CMakeCache.txt" ] || cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target cloudm-remote cm_redis_driver cloudm_cli >/dev/null
so=$build/lib/libcloudm-remote.so
drv=$build/bin/redis_driver
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cm_bench_redis.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# redis-server on a free port
for _ in 1 2 3 4 5 6 7 8; do
  rport=$((20000 + RANDOM % 30000))
  port_free "$rport" || continue
  mkdir -p "$tmp/redis"
  redis-server --bind 127.0.0.1 --port "$rport" --dir "$tmp/redis" --save '' --appendonly no \
    --maxmemory 1gb --maxmemory-policy allkeys-lru --logfile "$tmp/redis/log" &
  rpid=$!
  pids+=("$rpid")
  for _ in $(seq 50); do
    redis-cli -p "$rport" ping 2>/dev/null | grep -q PONG && break 2
    kill -0 "$rpid" 2>/dev/null || break
    sleep 0.1
  done
done
redis-cli -p "$rport" ping 2>/dev/null | grep -q PONG || { echo "redis-server did not start" >&2; exit 1; }

# cloudm keycache, port 0 and a ready file
"$build/bin/cloudm" keycache --listen 127.0.0.1:0 --ready-file "$tmp/kc.ready" \
  --data "$tmp/kc.data" --threads 4 >"$tmp/kc.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/kc.ready" ] && break; sleep 0.05; done
[ -s "$tmp/kc.ready" ] || { echo "cloudm keycache did not start" >&2; cat "$tmp/kc.log" >&2; exit 1; }
kc="http://$(head -1 "$tmp/kc.ready")"

printf 'bench secret\n' >"$tmp/secret"
rows=()
# row LABEL URL [DRIVER OPTIONS]: one latency run (1 thread) and one 4-thread throughput run
row() {
  local label=$1 url=$2 one four
  shift 2
  local o=(--size "$SIZE" --flush-ms 300000)
  if one=$("$drv" "$so" "$url" "${o[@]}" --ns "b1" "$@" bench "$N" 1 "$SECS" 2>"$tmp/err") &&
    four=$("$drv" "$so" "$url" "${o[@]}" --ns "b4" "$@" bench "$N" 4 "$SECS" 2>"$tmp/err"); then
    read -r _ p50 p99 t1 puts <<<"$(grep '^bench ' <<<"$one")"
    read -r _ _ _ t4 _ <<<"$(grep '^bench ' <<<"$four")"
    rows+=("| $label | $p50 | $p99 | $t1 | $t4 | $puts |")
  else
    rows+=("| $label | failed: $(head -1 "$tmp/err") | | | | |")
  fi
}
R="redis://127.0.0.1:$rport"
row "Redis 7 (redis://), clear" "$R"
row "keycache (http://), clear" "$kc"
row "Redis 7 (redis://), secret" "$R" --secret "$tmp/secret"
row "keycache (http://), secret" "$kc" --secret "$tmp/secret"

echo "Remote hits through the plugin's get(), $N values of $SIZE bytes, loopback, $(nproc) CPUs"
echo "(redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), hiredis $(pkg-config --modversion hiredis); keycache --threads 4)"
echo
echo "| store | get p50 us | get p99 us | gets/s, 1 thread | gets/s, 4 threads | puts/s |"
echo "|---|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
