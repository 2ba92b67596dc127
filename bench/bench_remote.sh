#!/usr/bin/env bash
# bench_remote.sh BUILD_DIR - remote-tier hit latency over loopback with keep-alive: the
# plugin's get() (GET + envelope check, + AES-GCM with a secret) against a plain libcurl
# keep-alive GET of the same stored object, in the same run, from nginx (WebDAV PUT, non-root,
# temporary prefix, 127.0.0.1) and, when BUILD_DIR/bin/cloudm has the keycache subcommand, from
# `cloudm keycache`. Prints a Markdown table of p50/p99 in microseconds. Target: plugin p50 hit
# <= 150 us. Needs nginx and curl. Speed is never asserted.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
build=${1:-$top/build}
N=${CM_BENCH_N:-20000}
SIZE=${CM_BENCH_SIZE:-1024}
[ -f "$build/CMakeCache.txt" ] || cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target cm_rclient >/dev/null
cmake --build "$build" -j2 --target cloudm_cli >/dev/null 2>&1 || true
so=$build/lib/libcloudm-remote.so
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cm_bench_remote.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# The remote client the agent runs (static libraries of the build), linked in.
cc -O2 -D_GNU_SOURCE -I"$top/shim/remote" "$here/bench_remote.c" -o "$tmp/bench_remote" \
  "$build/lib/libcm_rclient.a" "$build/lib/libcm_envelope.a" \
  $(pkg-config --cflags --libs libcurl libcrypto nettle hiredis) -lpthread
# A port nothing listens on (bash's /dev/tcp: no python on a minimal Debian).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# nginx: one worker, WebDAV PUT, everything under $tmp.
port=$(free_port)
mkdir -p "$tmp/nginx/logs" "$tmp/nginx/www" "$tmp/nginx/tmp"
cat >"$tmp/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx/tmp/body;
  proxy_temp_path $tmp/nginx/tmp/proxy;
  fastcgi_temp_path $tmp/nginx/tmp/fastcgi;
  uwsgi_temp_path $tmp/nginx/tmp/uwsgi;
  scgi_temp_path $tmp/nginx/tmp/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port;
    root $tmp/nginx/www;
    location / {
      dav_methods PUT;
      create_full_put_path on;
      client_max_body_size 100m;
    }
  }
}
CONF
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g 'daemon off;' 2>"$tmp/nginx/logs/stderr" &
pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done

printf 'bench secret\n' >"$tmp/secret"
rows=()
# row LABEL CMD...: runs a measurement, appends "| LABEL | p50 | p99 |" and keeps the path.
row() {
  local label=$1; shift
  local out
  if out=$("$@"); then
    read -r p50 p99 path <<<"$out"
    rows+=("| $label | $p50 | $p99 |")
  else
    rows+=("| $label | failed | |")
    path=-
  fi
}

url="http://127.0.0.1:$port"
row "client get() in process, nginx, clear" "$tmp/bench_remote" plugin "$so" "$url" "$N" "$SIZE"
obj=$path
row "plain libcurl GET, nginx (same object)" "$tmp/bench_remote" curl "$url/$obj" "$N"
row "client get() in process, nginx, AES-256-GCM" "$tmp/bench_remote" plugin "$so" "$url" "$N" "$SIZE" "$tmp/secret"

if [ -x "$build/bin/cloudm" ] && "$build/bin/cloudm" keycache --help >/dev/null 2>&1; then
  mkdir -p "$tmp/kc"
  "$build/bin/cloudm" keycache --listen 127.0.0.1:0 --ready-file "$tmp/kc/ready" \
    --data "$tmp/kc/data" >"$tmp/kc/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$tmp/kc/ready" ] && break; sleep 0.05; done
  if [ -s "$tmp/kc/ready" ]; then
    kurl="http://$(cat "$tmp/kc/ready")"
    row "client get() in process, cloudm keycache, clear" "$tmp/bench_remote" plugin "$so" "$kurl" "$N" "$SIZE"
    row "plain libcurl GET, cloudm keycache (same object)" "$tmp/bench_remote" curl "$kurl/$path" "$N"
  else
    rows+=("| cloudm keycache | did not start | |")
  fi
else
  rows+=("| cloudm keycache | not built | |")
fi

echo "Remote hit latency, loopback, keep-alive, $SIZE-byte values, $N gets each (microseconds)"
echo
echo "| path | p50 us | p99 us |"
echo "|---|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
echo "Target: client get() p50 <= 150 us."
