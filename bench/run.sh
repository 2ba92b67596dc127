#!/usr/bin/env bash
# run.sh - cloudm's benchmark table: ns per call of each path, as a ratio against the plain
# call measured in the same run, next to the target from the issue.
#
# Usage: bash bench/run.sh [BUILD_DIR]   (default ./build; built here if needed)
# Prints a Markdown table. Numbers vary by machine; ratios are what to compare.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
build=${1:-$top/build}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j2 --target cloudm cloudm_cli cmbench_calls cmbench_start cmbench_spawn >/dev/null
bin=$build/bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset CLOUDM_CONFIG CLOUDM_MODE CLOUDM_REPORT CLOUDM_DISABLE

cat >"$tmp/memo.conf" <<'CONF'
[function bench_fn]
signature = f64 bench_fn(f64 x)
[function lgamma]
signature = f64 lgamma(f64 x)
writes = signgam:4
CONF
printf '[cache]\nmode = off\n' | cat - "$tmp/memo.conf" >"$tmp/off.conf"
{
  for i in 0 1 2 3 4 5 6 7 8 9; do
    printf '[function start_fn%d]\nsignature = i32 start_fn%d(i32 x)\n' "$i" "$i"
  done
} >"$tmp/start.conf"

N=${CM_BENCH_N:-20000000}
NU=${CM_BENCH_NU:-300000}
val() { awk '{print $2}'; }
# best3 CMD...: run a measuring command three times (three processes, so three address-space
# layouts) and keep the lowest ns per call; every row, baseline included, is treated alike.
best3() {
  local a b c
  a=$("$@" 2>/dev/null | val); b=$("$@" 2>/dev/null | val); c=$("$@" 2>/dev/null | val)
  printf '%s\n%s\n%s\n' "$a" "$b" "$c" | sort -g | head -1
}
plain=$(best3 "$bin/cmbench_calls" plain "$N")
off=$(best3 "$bin/cloudm" run -c "$tmp/off.conf" -- "$bin/cmbench_calls" plain "$N")
hit=$(best3 "$bin/cloudm" run -c "$tmp/memo.conf" -- "$bin/cmbench_calls" repeat "$N")
plain_u=$(best3 "$bin/cmbench_calls" unique "$NU")
miss=$(best3 "$bin/cloudm" run -c "$tmp/memo.conf" -- "$bin/cmbench_calls" unique "$NU")
lg_plain=$(best3 "$bin/cmbench_calls" lgamma 2000000)
lg_memo=$(best3 "$bin/cloudm" run -c "$tmp/memo.conf" -- "$bin/cmbench_calls" lgamma 2000000)
lw_plain=$(best3 "$bin/cmbench_calls" lgamma_wide 2000000)
lw_memo=$(best3 "$bin/cloudm" run -c "$tmp/memo.conf" -- "$bin/cmbench_calls" lgamma_wide 2000000)
# Both through env(1), so only the child gets the preload and both pay the same exec.
st_plain=$("$bin/cmbench_spawn" 200 env "$bin/cmbench_start" | val)
st_memo=$("$bin/cmbench_spawn" 200 env CLOUDM_CONFIG="$tmp/start.conf" \
          LD_PRELOAD="$build/lib/libcloudm.so" "$bin/cmbench_start" | val)

r() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
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
echo "| start-up, 30 libraries, 10 functions (us per process) | $st_memo | +$(d "$st_memo" "$st_plain") us over plain ($st_plain) | <= +5000 us |"
