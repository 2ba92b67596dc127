#!/usr/bin/env bash
# run_inline.sh - the inline-hook rows of the benchmark table (issue 5); bench/run.sh calls it
# after its own rows, and it also runs alone: bash bench/run_inline.sh [BUILD_DIR] [--header].
#
# Rows: a `static` function of ~50 ns reachable only through an inline hook, plain vs hooked with
# mode = off (target <= 1.2x) and vs memory-tier hits; start-up of a program with a 20 MB text
# section (20000 symbols) and 10 configured static functions: plain, code identities computed
# (identity cache off), and answered by the on-disk identity cache. Start-up rows are medians
# of 20 processes, best of 3 rounds (the machine may be shared).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
build=${1:-$top/build}
bench_build "$build" cloudm cloudm_cli cmbench_inline cmbench_bigtext cmbench_spawn
bin=$build/bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset CLOUDM_CONFIG CLOUDM_MODE CLOUDM_REPORT CLOUDM_DISABLE CLOUDM_TIERS CLOUDM_ID_CACHE
export CLOUDM_SHARED_PATH="$tmp/seg-%u"

printf '[cache]\ntiers = memory\n[function work50]\nsignature = f64 work50(f64 x)\n' >"$tmp/memo.conf"
printf '[cache]\nmode = off\ntiers = memory\n[function work50]\nsignature = f64 work50(f64 x)\n' \
  >"$tmp/off.conf"
{
  printf '[cache]\ntiers = memory\n'
  for i in 0 1 2 3 4 5 6 7 8 9; do
    printf '[function start%d]\nsignature = i64 start%d(i64 x)\n' "$i" "$i"
  done
} >"$tmp/start.conf"

N=${CM_BENCH_N:-5000000}
plain=$(best3 "$bin/cmbench_inline" plain "$N")
off=$(best3 "$bin/cloudm" run -c "$tmp/off.conf" -- "$bin/cmbench_inline" plain "$N")
hit=$(best3 "$bin/cloudm" run -c "$tmp/memo.conf" -- "$bin/cmbench_inline" plain "$N")

pre=(env CLOUDM_CONFIG="$tmp/start.conf" LD_PRELOAD="$build/lib/libcloudm.so")
st_plain=$(best3 "$bin/cmbench_spawn" 20 env "$bin/cmbench_bigtext" start)
st_cold=$(best3 "$bin/cmbench_spawn" 20 "${pre[@]}" CLOUDM_ID_CACHE=off "$bin/cmbench_bigtext" start)
"${pre[@]}" CLOUDM_ID_CACHE="$tmp/ids" "$bin/cmbench_bigtext" start >/dev/null
st_warm=$(best3 "$bin/cmbench_spawn" 20 "${pre[@]}" CLOUDM_ID_CACHE="$tmp/ids" "$bin/cmbench_bigtext" start)

d() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", a - b }'; }
if [ "${2:-}" = --header ]; then
  echo "| path | ns per call | vs baseline | target |"
  echo "|---|---:|---:|---|"
fi
echo "| static function of ~50 ns, called directly, plain (inline-hook baseline) | $plain | 1.00 | |"
echo "| same, inline-hooked, mode = off | $off | $(r "$off" "$plain")x | <= 1.2x |"
echo "| same, inline-hooked, memory-tier hit | $hit | $(r "$hit" "$plain")x | |"
echo "| start-up, 20 MB text (20000 symbols), 10 static functions inline-hooked, code identities computed (us per process) | $st_cold | +$(d "$st_cold" "$st_plain") us over plain ($st_plain) | |"
echo "| same, symbol look-ups and code identities from the on-disk identity cache | $st_warm | +$(d "$st_warm" "$st_plain") us over plain ($st_plain) | |"
