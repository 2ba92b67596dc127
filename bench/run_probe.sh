#!/usr/bin/env bash
# run_probe.sh - the rows of issue 13 (probe and verify); bench/run.sh calls it after its own
# rows, and it also runs alone: bash bench/run_probe.sh [BUILD_DIR].
#
# Rows: `cloudm probe` per probed call of a function with a 64 KiB working set (it sums a 64 KiB
# in[n] buffer) in a program linking 30 libraries, every call checked in full (new arguments
# each time: snapshots of every object's writable data and of the buffer's mapping, and the
# rerun), against the same calls plain (CPU time of the process per call: the machine may be
# shared; wall-clock time swings with its load); a memory-tier hit with verify = 0.001 and 0.01 against
# verify = 0; a verified hit (verify = 1: every hit also runs the function) against a miss of
# the same function. Each row is the best of three processes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
build=${1:-$top/build}
bench_build "$build" cloudm cloudm_cli cmbench_calls cmbench_probe
bin=$build/bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset CLOUDM_CONFIG CLOUDM_MODE CLOUDM_REPORT CLOUDM_DISABLE CLOUDM_TIERS CLOUDM_VERIFY
export CLOUDM_SHARED_PATH="$tmp/seg-%u"
export CLOUDM_ID_CACHE="$tmp/ids"

printf '[cache]\ntiers = memory\n[function bench_fn]\nsignature = f64 bench_fn(f64 x)\n' \
  >"$tmp/memo.conf"
printf '[function bench_work]\nsignature = i64 bench_work(in[n] buf, u64 n)\n' >"$tmp/work.conf"

N=${CM_BENCH_N:-20000000}
NU=${CM_BENCH_NU:-300000}
NP=${CM_BENCH_NP:-200}
work_plain=$(best3 "$bin/cmbench_probe" "$NP")
work_probe=$(best3 "$bin/cloudm" probe -c "$tmp/work.conf" --calls "$NP" -- "$bin/cmbench_probe" "$NP")
"$bin/cloudm" probe -c "$tmp/work.conf" --calls "$NP" --json "$tmp/p.json" -- \
  "$bin/cmbench_probe" "$NP" >/dev/null 2>&1 || true
probed=$(jq -r '.functions[0] | "\(.probed)/\(.calls)"' "$tmp/p.json")
hit0=$(best3 "$bin/cloudm" run -c "$tmp/memo.conf" -- "$bin/cmbench_calls" repeat "$N")
hit001=$(best3 "$bin/cloudm" run -c "$tmp/memo.conf" --verify=0.001 -- "$bin/cmbench_calls" repeat "$N")
hit01=$(best3 "$bin/cloudm" run -c "$tmp/memo.conf" --verify=0.01 -- "$bin/cmbench_calls" repeat "$N")
hit1=$(best3 "$bin/cloudm" run -c "$tmp/memo.conf" --verify=1 -- "$bin/cmbench_calls" repeat "$NU")
miss=$(best3 "$bin/cloudm" run -c "$tmp/memo.conf" -- "$bin/cmbench_calls" unique "$NU")

# The same two hits counted in instructions by callgrind (the same number on a busy or an idle
# machine; (count at 2N calls - count at N calls) / N, so start-up cancels), when valgrind is
# installed.
ir() { # ir RATE CALLS [WHAT] -> instructions of the whole process
  CLOUDM_VERIFY=$1 valgrind --tool=callgrind --trace-children=yes \
    --callgrind-out-file="$tmp/cg.%p" "$bin/cloudm" run -c "$tmp/memo.conf" -- \
    "$bin/cmbench_calls" "${3:-repeat}" "$2" 2>&1 >/dev/null | awk '/Collected/ { v = $4 } END { print v }'
  rm -f "$tmp"/cg.*
}
NI=${CM_BENCH_IR_N:-100000}
# cmbench_calls makes 5 passes of its N calls
ir_per_call() { echo $(( ($(ir "$1" $((2 * NI)) "${2:-}") - $(ir "$1" "$NI" "${2:-}")) / (5 * NI) )); }
if command -v valgrind >/dev/null; then
  ir0=$(ir_per_call 0)
  ir001=$(ir_per_call 0.001)
  ir1=$(ir_per_call 1)
  irmiss=$(ir_per_call 0 unique)
else
  ir0=n/a ir001=n/a ir1=n/a irmiss=n/a
fi

us() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (a - b) / 1000 }'; }
if [ "${2:-}" = --header ]; then
  echo "| path | ns per call | vs baseline | target |"
  echo "|---|---:|---:|---|"
fi
echo "| bench_work (sums a 64 KiB buffer), program with 30 libraries, plain (CPU time per call) | $work_plain | 1.00 | |"
echo "| same under cloudm probe, every call checked in full ($probed calls; snapshots and rerun) | $work_probe | +$(us "$work_probe" "$work_plain") us per probed call, of which the rerun (one more call of the function) ~$(us "$work_plain" 0) us: the probe's own work +$(us "$work_probe" "$(awk -v a="$work_plain" 'BEGIN { print 2 * a }')") us | <= +100 us |"
echo "| memory-tier hit, verify = 0 (baseline) | $hit0 | 1.00 | |"
echo "| memory-tier hit, verify = 0.001 | $hit001 | $(r "$hit001" "$hit0")x | <= 1.05x |"
echo "| memory-tier hit, verify = 0.01 | $hit01 | $(r "$hit01" "$hit0")x | |"
if [ "$ir0" != n/a ]; then
  echo "| memory-tier hit, instructions per call (callgrind), verify = 0 (baseline) | $ir0 | 1.00 | |"
  echo "| same, verify = 0.001 | $ir001 | $(r "$ir001" "$ir0")x | <= 1.05x |"
fi
echo "| miss on unique arguments, same function (baseline) | $miss | 1.00 | |"
echo "| verified hit (verify = 1: every hit also runs the function and compares) | $hit1 | $(r "$hit1" "$miss")x | <= 1.1x |"
if [ "$irmiss" != n/a ]; then
  echo "| miss on unique arguments, instructions per call (callgrind) (baseline) | $irmiss | 1.00 | |"
  echo "| verified hit, instructions per call (callgrind) | $ir1 | $(r "$ir1" "$irmiss")x | <= 1.1x |"
fi
