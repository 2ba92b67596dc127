#!/bin/bash
# bench_keycache.sh BUILD_DIR [SECONDS] [ROUNDS] - GET throughput of `cloudm keycache` against nginx
# serving the same values as static files.
#
# What it does: starts the keycache server (BUILD_DIR/bin/cloudm, 2 threads, a fresh store, with
# a token file so the auth path is measured) and a non-root nginx (temporary prefix, own config,
# 2 workers, 127.0.0.1, access log off) on free ports; stores the same N (default 1000) 1 KiB
# random values in both, at /ns/<key>; checks one value from each; runs
# `wrk -c64 -t2 -d${SECONDS}s` (default 5) with bench_keycache.lua (rotating over the keys)
# against each, alternating, ROUNDS times (default 3), and prints a Markdown table with the best
# requests/s of each and their ratio keycache/nginx (best of rounds: other load on the machine
# only slows a run down; each round is logged on stderr). Everything is removed on exit.
#
# What it does not do: no PUT benchmark, no warm-up beyond a 1 s wrk run each; wrk shares the
# machine's cores with both servers, equally for both.
set -eu
build=${1:?usage: bench_keycache.sh BUILD_DIR [SECONDS]}
secs=${2:-5}
rounds=${3:-3}
n=${KC_BENCH_KEYS:-1000}
here=$(cd "$(dirname "$0")" && pwd)
cloudm=$(cd "$build" && pwd)/bin/cloudm
for t in wrk nginx curl; do
    command -v "$t" >/dev/null || { echo "bench_keycache: $t not found" >&2; exit 1; }
done
[ -x "$cloudm" ] || { echo "bench_keycache: $cloudm not built" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cm_kcbench.XXXXXX")
chmod 755 "$tmp" # nginx workers may run as another user when started by root
kc_pid="" ng_pid=""
cleanup() {
    [ -n "$kc_pid" ] && kill "$kc_pid" 2>/dev/null && wait "$kc_pid" 2>/dev/null
    [ -n "$ng_pid" ] && kill "$ng_pid" 2>/dev/null && wait "$ng_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# A port nothing listens on (bash's /dev/tcp: no python on a minimal Debian).
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 30000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}

# --- values: N keys, 1 KiB each, as files and as a curl upload list
mkdir -p "$tmp/www/ns"
: >"$tmp/keys"
: >"$tmp/upload.cfg"
token=bench-$$-$RANDOM
printf 'rw %s\n' "$token" >"$tmp/tokens"
for i in $(seq 1 "$n"); do
    k=$(printf 'bench-%d' "$i" | sha512sum | cut -c1-128)
    head -c 1024 /dev/urandom >"$tmp/www/ns/$k"
    echo "$k" >>"$tmp/keys"
done
chmod -R a+rX "$tmp/www"

# --- keycache
"$cloudm" keycache --listen 127.0.0.1:0 --ready-file "$tmp/kc.ready" --data "$tmp/kcdata" \
    --threads 2 --token-file "$tmp/tokens" 2>"$tmp/kc.log" &
kc_pid=$!
for _ in $(seq 1 200); do [ -s "$tmp/kc.ready" ] && break; sleep 0.05; done
[ -s "$tmp/kc.ready" ] || { echo "keycache did not start:" >&2; cat "$tmp/kc.log" >&2; exit 1; }
kc=$(cat "$tmp/kc.ready")
while read -r k; do
    printf 'url = "http://%s/ns/%s"\nupload-file = "%s"\n' "$kc" "$k" "$tmp/www/ns/$k"
done <"$tmp/keys" >"$tmp/upload.cfg"
curl -s -f -H "Authorization: Bearer $token" -K "$tmp/upload.cfg" -o /dev/null ||
    { echo "bench_keycache: filling keycache failed" >&2; exit 1; }

# --- nginx
port=$(free_port)
mkdir -p "$tmp/nginx/logs" "$tmp/nginx/tmp"
cat >"$tmp/nginx/nginx.conf" <<NGINX
worker_processes 2;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $tmp/nginx/tmp/body;
    proxy_temp_path $tmp/nginx/tmp/proxy;
    fastcgi_temp_path $tmp/nginx/tmp/fastcgi;
    uwsgi_temp_path $tmp/nginx/tmp/uwsgi;
    scgi_temp_path $tmp/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        root $tmp/www;
        default_type application/octet-stream;
    }
}
NGINX
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log" &
ng_pid=$!
ng=127.0.0.1:$port
for _ in $(seq 1 100); do curl -s -o /dev/null "http://$ng/" && break; sleep 0.05; done

# --- both serve the same bytes
k=$(head -n 1 "$tmp/keys")
curl -s -f -H "Authorization: Bearer $token" "http://$kc/ns/$k" -o "$tmp/got.kc"
curl -s -f "http://$ng/ns/$k" -o "$tmp/got.ng"
cmp -s "$tmp/got.kc" "$tmp/www/ns/$k" && cmp -s "$tmp/got.ng" "$tmp/www/ns/$k" ||
    { echo "bench_keycache: the servers do not return the stored value" >&2; exit 1; }

rps() { # URL [AUTH]
    wrk -c64 -t2 -d1s -s "$here/bench_keycache.lua" "$1" -- "$tmp/keys" ${2:+"$2"} >/dev/null
    wrk -c64 -t2 -d"${secs}s" -s "$here/bench_keycache.lua" "$1" -- "$tmp/keys" ${2:+"$2"} |
        awk '/^Requests\/sec:/ { print $2 } /Non-2xx/ { print "non-2xx" > "/dev/stderr" }'
}
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (b > a ? b : a) }'; }
ng_rps=0
kc_rps=0
for r in $(seq 1 "$rounds"); do
    ng_r=$(rps "http://$ng")
    kc_r=$(rps "http://$kc" "Bearer $token")
    echo "round $r: nginx $ng_r, keycache $kc_r requests/s" >&2
    ng_rps=$(best "$ng_rps" "$ng_r")
    kc_rps=$(best "$kc_rps" "$kc_r")
done
ratio=$(awk -v a="$kc_rps" -v b="$ng_rps" 'BEGIN { printf "%.2f", a / b }')
echo "| GET 1 KiB, $n keys, wrk -c64 -t2 -d${secs}s (best of $rounds) | requests/s |"
echo "|---|---|"
printf '| nginx, static files (2 workers) | %.0f |\n' "$ng_rps"
printf '| cloudm keycache (2 threads) | %.0f |\n' "$kc_rps"
echo "| ratio keycache / nginx (target >= 0.8) | $ratio |"
