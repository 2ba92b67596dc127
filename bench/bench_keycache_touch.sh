#!/bin/bash
# bench_keycache_touch.sh BUILD_DIR [SECONDS] - how many access times `cloudm keycache` drops
# when many distinct keys are read fast (the speed side of tests/keycache/run_reads.sh).
#
# What it does: starts the keycache server (BUILD_DIR/bin/cloudm, 4 threads, a fresh store on
# 127.0.0.1, a free port), stores 20000 one-byte values, runs `wrk -c32 -t2 -d${SECONDS}s`
# (default 3) with bench_keycache.lua rotating over the 20000 keys (more distinct keys than the
# 12288 the pending access-time table holds between two writes, so without the early flush at
# 4096 pending keys about a third would be dropped), and prints a Markdown table: reads/s,
# reads, access times dropped (from /metrics) and their share. Everything is removed on exit.
#
# What it does not do: no assertion (a loaded machine drops more, since the maintenance thread
# then runs late); no comparison with another server.
set -eu
build=${1:?usage: bench_keycache_touch.sh BUILD_DIR [SECONDS]}
secs=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
cloudm=$(cd "$build" && pwd)/bin/cloudm
for t in wrk curl; do
    command -v "$t" >/dev/null || { echo "bench_keycache_touch: $t not found" >&2; exit 1; }
done
[ -x "$cloudm" ] || { echo "bench_keycache_touch: $cloudm not built" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cm_kctouch.XXXXXX")
kc_pid=""
cleanup() {
    [ -n "$kc_pid" ] && kill "$kc_pid" 2>/dev/null && wait "$kc_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

"$cloudm" keycache --listen 127.0.0.1:0 --ready-file "$tmp/kc.ready" --data "$tmp/kcdata" \
    --threads 4 2>"$tmp/kc.log" &
kc_pid=$!
for _ in $(seq 1 200); do [ -s "$tmp/kc.ready" ] && break; sleep 0.05; done
[ -s "$tmp/kc.ready" ] || { echo "keycache did not start:" >&2; cat "$tmp/kc.log" >&2; exit 1; }
kc=$(cat "$tmp/kc.ready")
printf 'v' >"$tmp/v"
awk 'BEGIN { for (i = 1; i <= 20000; i++) printf "%0128x\n", i }' >"$tmp/keys"
awk -v a="$kc" -v v="$tmp/v" '{ printf "url = \"http://%s/ns/%s\"\nupload-file = \"%s\"\n", a, $1, v }' \
    "$tmp/keys" >"$tmp/upload.cfg"
curl -s -f -Z --parallel-max 16 -K "$tmp/upload.cfg" -o /dev/null ||
    { echo "bench_keycache_touch: filling keycache failed" >&2; exit 1; }

metric() { curl -s "http://$kc/metrics" | awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }'; }
hits0=$(metric cloudm_keycache_hits_total)
drop0=$(metric cloudm_keycache_access_times_dropped_total)
rps=$(wrk -c32 -t2 -d"${secs}s" -s "$here/bench_keycache.lua" "http://$kc" -- "$tmp/keys" |
    awk '/^Requests\/sec:/ { print $2 }')
reads=$(($(metric cloudm_keycache_hits_total) - hits0))
dropped=$(($(metric cloudm_keycache_access_times_dropped_total) - drop0))
echo "| keycache reads of 20000 distinct keys, wrk -c32 -t2 -d${secs}s | value |"
echo "|---|---|"
printf '| reads/s | %.0f |\n' "$rps"
echo "| reads | $reads |"
echo "| access times dropped | $dropped |"
awk -v d="$dropped" -v r="$reads" 'BEGIN { printf "| dropped share | %.2f %% |\n", r ? 100 * d / r : 0 }'
