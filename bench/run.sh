#!/usr/bin/env bash
# run.sh - cloudm's benchmark table: ns per call of each path, as a ratio against the plain
# call measured in the same run, next to the target from the issue.
#
# Usage: bash bench/run.sh [BUILD_DIR]   (default ./build; built here if needed)
# Prints a Markdown table, then the remote tier's tables (bench_remote.sh, bench_keycache.sh,
# bench_keycache_touch.sh, bench_redis.sh). Numbers vary by machine; ratios are what to compare. The memory-tier
# rows run with `tiers = memory`; the shared-tier rows (issue 3) use segments in a private
# directory under /dev/shm, never the user's own, and cmbench_seg compares the segment with LMDB
# (liblmdb-dev; "n/a" without it). Scaling rows need an otherwise idle machine: each is the best
# of several rounds, next to the same measurement for LMDB readers as a control.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
build=${1:-$top/build}
bench_build "$build" cloudm cloudm_cli cmbench_calls cmbench_start cmbench_spawn cmbench_seg
bin=$build/bin
tmp=$(mktemp -d)
# Never the user's own segment: every shared tier here lives in a directory of its own, on tmpfs
# like the default /dev/shm/cloudm-%u.
# CM_BENCH_SHM=DIR puts them (and cmbench_seg's stores) elsewhere, e.g. on a tmpfs mounted with
# huge=within_size. CM_BENCH_FRESH=N sets how many fresh processes the fresh-process shared-hit
# rows take the median of (default 9).
shm=$(mktemp -d -p "${CM_BENCH_SHM:-/dev/shm}" 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp" "$shm"' EXIT
unset CLOUDM_CONFIG CLOUDM_MODE CLOUDM_REPORT CLOUDM_DISABLE CLOUDM_TIERS
export CLOUDM_SHARED_PATH="$shm/seg-%u"
export CLOUDM_ID_CACHE="$tmp/ids" # never the user's code identity cache

# The memory-tier rows keep measuring the memory tier alone (tiers = memory); the shared tier
# has its own rows below (both.conf: the default tiers).
cat >"$tmp/both.conf" <<'CONF'
[function bench_fn]
signature = f64 bench_fn(f64 x)
[function lgamma]
signature = f64 lgamma(f64 x)
writes = signgam:4
CONF
printf '[cache]\ntiers = memory\n' | cat - "$tmp/both.conf" >"$tmp/memo.conf"
printf '[cache]\nmode = off\ntiers = memory\n' | cat - "$tmp/both.conf" >"$tmp/off.conf"
{
  for i in 0 1 2 3 4 5 6 7 8 9; do
    printf '[function start_fn%d]\nsignature = i32 start_fn%d(i32 x)\n' "$i" "$i"
  done
} >"$tmp/start.conf"

N=${CM_BENCH_N:-20000000}
NU=${CM_BENCH_NU:-300000}
plain=$(best3 "$bin/cmbench_calls" plain "$N")
off=$(best3 "$bin/cloudm" run -c "$tmp/off.conf" -- "$bin/cmbench_calls" plain "$N")
hit=$(best3 "$bin/cloudm" run -c "$tmp/memo.conf" -- "$bin/cmbench_calls" repeat "$N")
plain_u=$(best3 "$bin/cmbench_calls" unique "$NU")
miss=$(best3 "$bin/cloudm" run -c "$tmp/memo.conf" -- "$bin/cmbench_calls" unique "$NU")
lg_plain=$(best3 "$bin/cmbench_calls" lgamma 2000000)
lg_memo=$(best3 "$bin/cloudm" run -c "$tmp/memo.conf" -- "$bin/cmbench_calls" lgamma 2000000)
lw_plain=$(best3 "$bin/cmbench_calls" lgamma_wide 2000000)
lw_memo=$(best3 "$bin/cloudm" run -c "$tmp/memo.conf" -- "$bin/cmbench_calls" lgamma_wide 2000000)
# Shared tier through the shim (default tiers and segment size): a first process calls bench_fn
# on NSH unique arguments (5 rounds, every argument new), then fresh processes make the same
# calls: each one misses the process's empty memory tier and is answered from the segment (a
# key read once does not fill the memory tier). Reported (issue 11): the first pass against the
# DRAM floor measured in the same process, in the page size the segment got (median of
# CM_BENCH_FRESH processes, default 9: fresh_runs), and the best of the passes. The same with NSH10 (a working set 10x
# smaller). bench/fresh_hit.sh runs this row alone, many times, or two builds side by side.
NSH=${CM_BENCH_NSH:-20000}
NSH10=${CM_BENCH_NSH10:-2000}
shared_hit() {
  local n=$1
  shift
  CLOUDM_SHARED_PATH="$shm/hit$n-%u" "$bin/cloudm" run -c "$tmp/both.conf" "$@" -- \
    "$bin/cmbench_calls" unique "$n"
}
# fresh_runs CMD...: CM_BENCH_FRESH fresh processes printing "NAME BEST FIRST FLOOR FLOOR_2M SEG_2M" lines
# (bench_calls.c). Each process's first pass is divided by the floor it measured with the page
# size its segment mapping got (2 MiB pages only where the segment has some); prints the lowest
# BEST, the median FIRST, its floor, the median, lowest and highest ratio, and the page size.
fresh_runs() {
  for _ in $(seq "${CM_BENCH_FRESH:-9}"); do "$@" 2>/dev/null; done |
    awk '{ if (b == "" || $2 < b) b = $2
           fl = ($6 > 0 && $5 > 0) ? $5 : $4; pg = ($6 > 0 && $5 > 0) ? "2 MiB" : "4 KiB"
           n++; first[n] = $3; flo[n] = fl; ratio[n] = $3 / fl }
         END { # medians by sorting
           for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) {
             if (first[j] < first[i]) { t = first[i]; first[i] = first[j]; first[j] = t
                                        t = flo[i]; flo[i] = flo[j]; flo[j] = t }
             if (ratio[j] < ratio[i]) { t = ratio[i]; ratio[i] = ratio[j]; ratio[j] = t } }
           m = int((n + 1) / 2)
           printf "%s %s %s %.2f %.2f %.2f %s\n", b, first[m], flo[m], ratio[m], ratio[1],
                  ratio[n], pg }'
}
shared_hit "$NSH" >/dev/null 2>&1
shared_hit "$NSH10" >/dev/null 2>&1
sh_plain=$(best3 "$bin/cmbench_calls" unique "$NSH")
read -r sh_hit sh_first sh_floor sh_ratio sh_rlo sh_rhi sh_pg <<<"$(fresh_runs shared_hit "$NSH")"
read -r sh10_hit sh10_first sh10_floor sh10_ratio sh10_rlo sh10_rhi sh10_pg \
  <<<"$(fresh_runs shared_hit "$NSH10")"
# Steady state: no memory tier (tiers = shared), 64 repeating arguments already in the segment,
# so every call is a shared hit on warm cache lines: the tier's own cost through the shim.
CLOUDM_SHARED_PATH="$shm/warm-%u" "$bin/cloudm" run -c "$tmp/both.conf" -- \
  "$bin/cmbench_calls" repeat 1000 >/dev/null 2>&1
sh_warm=$(best3 env CLOUDM_SHARED_PATH="$shm/warm-%u" CLOUDM_TIERS=shared \
          "$bin/cloudm" run -c "$tmp/both.conf" -- "$bin/cmbench_calls" repeat "$N")
# Check that those were shared hits indeed (a report of one more such process).
sh_check=$(shared_hit "$NSH" --report="$tmp/sh.json" 2>/dev/null >/dev/null
           jq -r '.functions[] | select(.name == "bench_fn") | "\(.hits.shared)/\(.calls)"' "$tmp/sh.json")
# Every process starts on an empty segment: the unique arguments repeat from one process to
# the next, and a segment filled by the previous one would turn these misses into shared hits.
fresh_miss() {
  rm -f "$shm"/miss-*
  CLOUDM_SHARED_PATH="$shm/miss-%u" "$bin/cloudm" run -c "$tmp/both.conf" -- \
    "$bin/cmbench_calls" unique "$NU"
}
both_miss=$(best3 fresh_miss)
# The segment on its own against LMDB (same records, same key sequence), and across processes.
segout=$("$bin/cmbench_seg" --dir "$shm")
seg64=$("$bin/cmbench_seg" --size 64 --dir "$shm" | awk '$1 == "seg_hit" { print $2 }')
scaleout=$("$bin/cmbench_seg" --procs 2 --dir "$shm")
# Fresh processes reading every key once (cm_seg_get and LMDB alike), and the machine's floor.
coldout=$("$bin/cmbench_seg" --cold --dir "$shm" "$((NSH * 5))")
cold10=$("$bin/cmbench_seg" --cold --dir "$shm" "$((NSH10 * 5))")
field() { awk -v k="$1" '$1 == k { print $2 }'; }
seg_hit=$(field seg_hit <<<"$segout")
lmdb_get=$(field lmdb_get <<<"$segout")
lmdb_txn=$(field lmdb_get_txn <<<"$segout")
seg_first=$(field seg_hit_first <<<"$segout")
p1=$(field procs1 <<<"$scaleout")
p2=$(field procs2 <<<"$scaleout")
scaling=$(field scaling <<<"$scaleout")
lmdb_scaling=$(field lmdb_scaling <<<"$scaleout")
seg_cold=$(field seg_cold <<<"$coldout")
lmdb_cold=$(field lmdb_cold <<<"$coldout")
mem_random=$(field mem_random <<<"$coldout")
seg_cold10=$(field seg_cold <<<"$cold10")
lmdb_cold10=$(field lmdb_cold <<<"$cold10")
# Both through env(1), so only the child gets the preload and both pay the same exec.
st_plain=$("$bin/cmbench_spawn" 200 env "$bin/cmbench_start" | val)
st_memo=$("$bin/cmbench_spawn" 200 env CLOUDM_CONFIG="$tmp/start.conf" \
          LD_PRELOAD="$build/lib/libcloudm.so" "$bin/cmbench_start" | val)

d() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }
echo "| path | ns per call | vs baseline | target |"
echo "|---|---:|---:|---|"
echo "| plain call of f64 f(f64) through the PLT (baseline) | $plain | 1.00 | |"
echo "| hooked, mode = off (pass-through) | $off | $(r "$off" "$plain")x | <= 1.5x |"
echo "| memory-tier hit | $hit | $(r "$hit" "$plain")x | <= 3x |"
echo "| miss on unique arguments | $miss | +$(d "$miss" "$plain_u") ns over plain ($plain_u) | <= +150 ns |"
echo "| lgamma loop, 1000 arguments in [1.5, 1000.5], plain | $lg_plain | 1.00 | |"
echo "| lgamma loop, same, memoized | $lg_memo | $(r "$lg_memo" "$lg_plain")x | <= 0.5x |"
echo "| lgamma loop, 1000 arguments in [-49.95, 49.95], plain | $lw_plain | 1.00 | |"
echo "| lgamma loop, same, memoized | $lw_memo | $(r "$lw_memo" "$lw_plain")x | <= 0.5x |"
echo "| shared-tier hit through the shim, steady state (tiers = shared, 64 repeating arguments in the segment) | $sh_warm | $(r "$sh_warm" "$plain")x | <= 60 ns |"
echo "| shared-tier hit through the shim: fresh process, $((NSH * 5)) arguments stored by an earlier process, each called once ($sh_check calls were shared hits); first pass of $NSH, median of ${CM_BENCH_FRESH:-9} processes (best pass of all: $sh_hit) | $sh_first | first pass / DRAM floor in the same process ($sh_pg pages, as the segment): median ${sh_ratio}x (${sh_rlo} to ${sh_rhi}), floor $sh_floor; +$(d "$sh_first" "$sh_plain") ns over plain ($sh_plain) | <= 1.3x DRAM floor |"
echo "| same, $((NSH10 * 5)) arguments (first pass of $NSH10; best $sh10_hit) | $sh10_first | first pass / floor: median ${sh10_ratio}x (${sh10_rlo} to ${sh10_rhi}), floor $sh10_floor ($sh10_pg) | |"
if [ "$lmdb_cold" = n/a ]; then
  echo "| cm_seg_get alone, fresh process, $((NSH * 5)) keys each read once in a random order, best of 5 processes | $seg_cold | LMDB n/a | |"
else
  echo "| cm_seg_get alone, fresh process, $((NSH * 5)) keys each read once in a random order, best of 5 processes | $seg_cold | LMDB mdb_get, same: $lmdb_cold ($(r "$lmdb_cold" "$seg_cold")x faster); DRAM floor $mem_random ($(r "$seg_cold" "$mem_random")x) | >= 1.5x faster than LMDB |"
  echo "| same, $((NSH10 * 5)) keys | $seg_cold10 | LMDB: $lmdb_cold10 ($(r "$lmdb_cold10" "$seg_cold10")x faster) | >= 1.5x faster than LMDB |"
fi
echo "| the machine's floor: one dependent read of a random 64-byte line of a 64 MiB buffer | $mem_random | | |"
echo "| miss on unique arguments, tiers = memory shared (default) | $both_miss | +$(d "$both_miss" "$plain_u") ns over plain ($plain_u) | |"
echo "| shared-segment hit alone (cm_seg_get), 8-byte value, 10k entries, random keys, 256 MiB segment (default), best of 5 passes in a fresh process | $seg_hit | first pass (page faults of the mapping): $seg_first | <= 60 ns |"
echo "| same, 64 MiB segment (a smaller index: fewer TLB misses) | $seg64 | | <= 60 ns |"
if [ "$lmdb_get" = n/a ]; then
  echo "| LMDB mdb_get, same keys and values | n/a (no liblmdb-dev) | | |"
else
  echo "| LMDB mdb_get, same keys and values, read txn reset+renewed per lookup | $lmdb_get | shared hit $(r "$lmdb_get" "$seg_hit")x faster | >= 2x faster |"
  echo "| LMDB mdb_get, same, one read txn for all lookups (stale snapshot) | $lmdb_txn | shared hit $(r "$lmdb_txn" "$seg_hit")x faster | |"
fi
echo "| shared-segment hits per second, 2 processes vs 1 | $p2 vs $p1 | ${scaling}x (LMDB: ${lmdb_scaling}x) | >= 1.8x |"
echo "| start-up, 30 libraries, 10 functions (us per process) | $st_memo | +$(d "$st_memo" "$st_plain") us over plain ($st_plain) | <= +5000 us |"
bash "$here/run_inline.sh" "$build" # inline hooks (issue 5): rows of their own
bash "$here/run_probe.sh" "$build" # probe and verify (issue 13): rows of their own
echo
bash "$here/bench_big.sh" "$build" # large values and sensitive functions (issue 11)

# --- the remote tier (issues 4 and 6): each script prints its own table, with its baseline
# measured in the same run (libcurl GET from nginx; nginx serving files; Redis vs keycache).
# They need nginx, wrk and redis-server (bash .ci/install-deps installs them); a missing tool
# skips its table with a line saying so.
for b in remote keycache keycache_touch redis; do
  echo
  if bash "$here/bench_$b.sh" "$build" 2>"$tmp/bench_$b.err"; then :; else
    echo "(bench_$b.sh did not run: $(tail -1 "$tmp/bench_$b.err"))"
  fi
done
# The remote tier through the cloudm agent (issue 17); CM_BENCH_BEFORE=BUILD_DIR of a cloudm
# from before the agent adds the in-process client's rows.
echo
if bash "$here/bench_agent.sh" "$build" "${CM_BENCH_BEFORE:-}" 2>"$tmp/bench_agent.err"; then :; else
  echo "(bench_agent.sh did not run: $(tail -1 "$tmp/bench_agent.err"))"
fi
