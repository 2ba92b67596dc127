#!/usr/bin/env bash
# bench_agent.sh [BUILD_DIR [BEFORE_BUILD_DIR]] - the remote tier through the cloudm agent
# (issue 17), against `cloudm keycache` on 127.0.0.1, in one run:
#   1. remote hit through the agent (program -> shared-memory channel -> agent -> keycache ->
#      back, envelope checked in the program), p50/p99, against a plain libcurl keep-alive GET
#      of an object of the same size from the same server;
#   2. 100 short processes, one remote hit each: total time, against BEFORE_BUILD_DIR's
#      in-process client (a build of a cloudm from before the agent, e.g. main's);
#   3. the exit of a process that just queued ~64 MiB of stores (280000 results), against the
#      in-process client, whose exit drains its queue;
#   4. memory-tier and shared-tier hits (ns per call), against BEFORE_BUILD_DIR: unchanged.
# Rows needing BEFORE_BUILD_DIR are skipped without it. Prints a Markdown table; never asserts.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
build=${1:-$top/build}
before=${2:-}
N=${CM_BENCH_N:-5000}
[ -f "$build/CMakeCache.txt" ] || cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
build=$(cd "$build" && pwd)
[ -z "$before" ] || before=$(cd "$before" && pwd)
cmake --build "$build" -j2 --target cloudm cloudm_cli cloudm-remote cmbench_agent cmbench_calls \
  cm_rclient >/dev/null
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cm_bench_agent.XXXXXX")
pids=()
cleanup() {
  for seg in "$tmp"/seg-*-agent-*; do
    [ -f "$seg" ] || continue
    p=$(od -An -tu4 -j16 -N4 "$seg" | tr -d ' ')
    [ -n "$p" ] && [ "$p" != 0 ] && kill "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
unset CLOUDM_CONFIG CLOUDM_MODE CLOUDM_REPORT CLOUDM_DISABLE CLOUDM_TIERS CLOUDM_REMOTE

"$build/bin/cloudm" keycache --listen 127.0.0.1:0 --ready-file "$tmp/ready" --data "$tmp/kc" \
  --max-size 1G >"$tmp/kc.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/ready" ] && break; sleep 0.05; done
url="http://$(cat "$tmp/ready")"
cat >"$tmp/c.conf" <<CONF
[cache]
remote = $url
flush_timeout = 30s
[function bench_fn]
signature = f64 bench_fn(f64 x)
CONF
bin=$build/bin
# run BUILD SEG CMD...: CMD with BUILD's libcloudm.so preloaded (no `cloudm run`: process start
# as lean as it gets), its own segment, memory and remote tiers
run() {
  local b=$1 seg=$2
  shift 2
  env CLOUDM_CONFIG="${CONF:-$tmp/c.conf}" CLOUDM_SHARED_PATH="$tmp/seg-$seg" CLOUDM_BIN="$b/bin/cloudm" \
    CLOUDM_TIERS="${TIERS:-memory remote}" LD_PRELOAD="$b/lib/libcloudm.so" "$@"
}
rows=()
# CM_BENCH_ROWS: which rows to run (default all: 1 2 2b 3 4)
want() { [[ " ${CM_BENCH_ROWS:-1 2 2b 3 4} " == *" $1 "* ]]; }

# hundred BUILD SEG: 100 processes in a row, total ms
hundred() {
  local b=$1 seg=$2
  local t0 t1
  t0=$(date +%s%N)
  for _ in $(seq 100); do run "$b" "$seg" "$bin/cmbench_agent" one >/dev/null; done
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}
hundred_row() { # LABEL: the row from $new and $old
  if [ -n "$before" ]; then
    rows+=("| 100 short processes, one remote hit each ($1), total ms | $new | in-process client ($before): $old | $(awk -v n="$new" -v o="$old" 'BEGIN { printf "%.1fx faster", o / n }') |")
  else
    rows+=("| 100 short processes, one remote hit each ($1), total ms | $new | (no BEFORE_BUILD_DIR) | |")
  fi
}

if want 1; then
# 1. hit latency
run "$build" prime "$bin/cmbench_agent" one >/dev/null
CLOUDM_SHARED_PATH="$tmp/seg-prime" "$bin/cloudm" agent -c "$tmp/c.conf" --flush
read -r _ a50 _ a99 _ <<<"$(TIERS=remote run "$build" hit "$bin/cmbench_agent" hits "$N")"
# the baseline: a plain keep-alive GET of an object of the same size (an 8-byte value's envelope)
cc -O2 -D_GNU_SOURCE -I"$top/shim/remote" "$here/bench_remote.c" -o "$tmp/bench_remote" \
  "$build/lib/libcm_rclient.a" "$build/lib/libcm_envelope.a" \
  $(pkg-config --cflags --libs libcurl libcrypto nettle hiredis) -lpthread
read -r _ _ path <<<"$("$tmp/bench_remote" plugin - "$url" 100 8)"
read -r c50 c99 _ <<<"$("$tmp/bench_remote" curl "$url/$path" "$N")"
rows+=("| remote hit through the agent, p50 / p99 us | $a50 / $a99 | plain libcurl keep-alive GET: $c50 / $c99 | +$(awk -v a="$a50" -v c="$c50" 'BEGIN { printf "%.1f us", a - c }') |")
fi

if want 2; then
# 2. 100 short processes, one remote hit each
run "$build" hundred "$bin/cmbench_agent" one >/dev/null # the agent is up, as in steady state
new=$(hundred "$build" hundred)
[ -z "$before" ] || old=$(hundred "$before" hundred-before)
hundred_row HTTP
fi

if want 2b; then
# 2b. the same over HTTPS: `cloudm keycache` serving TLS with a self-signed certificate. The
# agent trusts it through remote_ca; BEFORE_BUILD_DIR's in-process client has no such key, so
# its 100 processes run in one private mount namespace (unshare -m, root only) where the
# certificate is bind-mounted over the system CA bundle.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/tls.key" -out "$tmp/tls.pem" -days 1 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
"$bin/cloudm" keycache --listen 127.0.0.1:0 --ready-file "$tmp/tready" --data "$tmp/tkc" \
  --max-size 1G --tls-cert "$tmp/tls.pem" --tls-key "$tmp/tls.key" >"$tmp/tkc.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/tready" ] && break; sleep 0.05; done
sed "s|^remote = .*|remote = https://$(cat "$tmp/tready")\nremote_ca = $tmp/tls.pem|" "$tmp/c.conf" \
  >"$tmp/t.conf"
CONF=$tmp/t.conf run "$build" tprime "$bin/cmbench_agent" one >/dev/null
CLOUDM_SHARED_PATH="$tmp/seg-tprime" "$bin/cloudm" agent -c "$tmp/t.conf" --flush
CONF=$tmp/t.conf run "$build" thundred "$bin/cmbench_agent" one >/dev/null
new=$(CONF=$tmp/t.conf hundred "$build" thundred)
if [ -n "$before" ] && [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
  grep -v '^remote_ca' "$tmp/t.conf" >"$tmp/tb.conf" # (no such key before the agent)
  export -f run hundred
  export tmp bin
  old=$(CONF=$tmp/tb.conf unshare -m bash -c 'mount --bind "$1" "$2" &&
    run "$3" thundred-before "$bin/cmbench_agent" one >/dev/null && hundred "$3" thundred-before' \
    _ "$tmp/tls.pem" /etc/ssl/certs/ca-certificates.crt "$before")
  hundred_row HTTPS
else
  rows+=("| 100 short processes, one remote hit each (HTTPS), total ms | $new | (needs BEFORE_BUILD_DIR and root) | |")
fi
fi

if want 3; then
# 3. exit after queuing ~64 MiB of stores (280000 records of 240 bytes in the ring); with
# remote_mode = writeonly, so the program only stores (no lookup before each miss)
NS=${CM_BENCH_STORES:-280000}
sed 's/^flush_timeout = 30s$/flush_timeout = 30s\nremote_mode = writeonly\nremote_queue = 1000000/' \
  "$tmp/c.conf" >"$tmp/w.conf"
e_new=$(CONF=$tmp/w.conf run "$build" stores "$bin/cmbench_agent" exit "$bin/cmbench_agent" stores "$NS" |
        sed -n 's/^exit_ms //p')
if [ -n "$before" ]; then
  e_old=$(CONF=$tmp/w.conf run "$before" stores-before "$bin/cmbench_agent" exit "$bin/cmbench_agent" stores "$NS" |
          sed -n 's/^exit_ms //p')
  rows+=("| exit of a process that queued $NS stores (~64 MiB), ms | $e_new | in-process client: $e_old | |")
else
  rows+=("| exit of a process that queued $NS stores (~64 MiB), ms | $e_new | | |")
fi
fi

if want 4; then
# 4. memory and shared hits, ns per call
printf '[cache]\ntiers = memory\n[function bench_fn]\nsignature = f64 bench_fn(f64 x)\n' >"$tmp/m.conf"
memhit() {
  env CLOUDM_CONFIG="$tmp/m.conf" LD_PRELOAD="$1/lib/libcloudm.so" CLOUDM_SHARED_PATH="$tmp/seg-m" \
    "$bin/cmbench_calls" repeat 20000000 2>/dev/null | awk '{print $2}'
}
best() { for _ in 1 2 3; do "$@"; done | sort -g | head -1; }
m_new=$(best memhit "$build")
printf '[cache]\ntiers = shared\n[function bench_fn]\nsignature = f64 bench_fn(f64 x)\n' >"$tmp/s.conf"
shhit() {
  env CLOUDM_CONFIG="$tmp/s.conf" LD_PRELOAD="$1/lib/libcloudm.so" CLOUDM_SHARED_PATH="$tmp/seg-s$2" \
    "$bin/cmbench_calls" repeat 20000000 2>/dev/null | awk '{print $2}'
}
shhit "$build" n >/dev/null
sh_new=$(best shhit "$build" n)
if [ -n "$before" ]; then
  m_old=$(best memhit "$before")
  shhit "$before" o >/dev/null
  sh_old=$(best shhit "$before" o)
  rows+=("| memory-tier hit, ns/call | $m_new | before: $m_old | |")
  rows+=("| shared-tier hit (warm), ns/call | $sh_new | before: $sh_old | |")
else
  rows+=("| memory-tier hit, ns/call | $m_new | | |")
  rows+=("| shared-tier hit (warm), ns/call | $sh_new | | |")
fi
fi

echo "| row | through the agent | baseline | difference |"
echo "|---|---:|---:|---|"
printf '%s\n' "${rows[@]}"
echo
echo "Targets: agent hit p50 <= plain GET + 15 us; 100 processes >= 2x faster over HTTP, >= 5x"
echo "over HTTPS; exit after 64 MiB of stores <= 5 ms; memory and shared hits unchanged."
