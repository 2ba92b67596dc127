#!/usr/bin/env bash
# bench_discover.sh - what `cloudm discover` costs, against uftrace and ltrace, on the same
# program in the same run (issue 14's benchmark table).
#
# Usage: bash bench/bench_discover.sh [BUILD_DIR]   (default ./build; built here if needed)
# The program (cmbench_discover N) makes N calls of a cheap library function (a few ns, through
# the PLT, arguments repeating every 1000 calls) and times its own loop, in thread CPU time
# (preemption on a busy machine does not count) and in wall-clock time. Every row is the best
# of three processes. Prints a Markdown table. uftrace and ltrace are Debian packages
# (bash .ci/install-deps); a missing one gives "n/a".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
build=${1:-$top/build}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j2 --target cloudm cloudm_cli cmbench_discover >/dev/null
bin=$build/bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset CLOUDM_CONFIG CLOUDM_MODE CLOUDM_REPORT CLOUDM_DISABLE
export XDG_CACHE_HOME="$tmp/cache" # never the user's digest file or identity cache
N=${CM_BENCH_DN:-2000000}   # calls for the per-call rows
NL=${CM_BENCH_DNL:-20000}   # calls under ltrace (about 100 us each)
NW=${CM_BENCH_DNW:-240000}  # calls of the whole-run rows
P=$bin/cmbench_discover

# cpu|wall CMD...: the program's own ns per call (it prints "ns_per_call CPU WALL" on stderr),
# best of three
per_call() {
  local col=$1 best="" v
  shift
  for _ in 1 2 3; do
    v=$("$@" 2>&1 >/dev/null | awk -v c="$col" '/^ns_per_call/ {print (c == "cpu" ? $2 : $3)}')
    if [ -z "$best" ] || awk -v a="$v" -v b="$best" 'BEGIN{exit !(a < b)}'; then best=$v; fi
  done
  echo "$best"
}
# wall_ms CMD...: wall-clock milliseconds of the whole command, best of five
wall_ms() {
  local best="" t0 t1 ms
  for _ in 1 2 3 4 5; do
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s%N)
    ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", (b - a) / 1e6}')
    if [ -z "$best" ] || awk -v a="$ms" -v b="$best" 'BEGIN{exit !(a < b)}'; then best=$ms; fi
  done
  echo "$best"
}
calc() { awk "BEGIN{printf \"%.2f\", $1}"; }

plain=$(per_call cpu "$P" "$N")
disc=$(per_call cpu "$bin/cloudm" discover -- "$P" "$N")
over=$(calc "$disc - $plain")
if command -v uftrace >/dev/null; then
  uft=$(per_call cpu uftrace record --force -d "$tmp/uftrace.data" "$P" "$N")
  uover=$(calc "$uft - $plain")
  uratio=$(calc "($uft - $plain) / ($disc - $plain)")
else
  uft=n/a uover=n/a uratio=n/a
fi
plainw=$(per_call wall "$P" "$NL")
discw=$(per_call wall "$bin/cloudm" discover -- "$P" "$NL")
if command -v ltrace >/dev/null; then
  ltw=$(per_call wall ltrace -c -o "$tmp/ltrace.out" "$P" "$NL")
  lratio=$(calc "($ltw - $plainw) / $over") # against discover's per-call cost above
else
  ltw=n/a lratio=n/a
fi
pw=$(wall_ms "$P" "$NW")
obs=$(wall_ms env LD_PRELOAD="$build/lib/libcloudm.so" CLOUDM_DISCOVER="$tmp" "$P" "$NW")
whole=$(wall_ms "$bin/cloudm" discover -- "$P" "$NW")
W=${CM_BENCH_DNWORK:-100}  # own work per iteration for the last rows (about 1 ns a step)
pw2=$(wall_ms "$P" "$NW" "$W")
obs2=$(wall_ms env LD_PRELOAD="$build/lib/libcloudm.so" CLOUDM_DISCOVER="$tmp" "$P" "$NW" "$W")
whole2=$(wall_ms "$bin/cloudm" discover -- "$P" "$NW" "$W")

echo "| row | measured | vs baseline | target |"
echo "|---|---:|---:|---|"
echo "| cheap library call, plain (ns per call, thread CPU, $N calls) | $plain | 1.00 | |"
echo "| same under \`cloudm discover\` (counted, keyed, traced, 1 in 64 timed) | $disc | +$over ns per call | <= +30 ns |"
echo "| same under \`uftrace record --force\` | $uft | +$uover ns per call: discover ${uratio}x cheaper | discover >= 3x faster |"
echo "| cheap call, plain (ns per call, wall clock, $NL calls) | $plainw | 1.00 | |"
echo "| same under \`cloudm discover\` (wall clock) | $discw | | |"
echo "| same under \`ltrace -c\` (wall clock) | $ltw | overhead ${lratio}x discover's | discover >= 1000x faster |"
echo "| whole run, $NW cheap calls, plain (ms) | $pw | 1.00 | |"
echo "| same, the observed process alone (libcloudm.so in observation mode, file written at exit) | $obs | $(calc "$obs / $pw")x | <= 1.3x |"
echo "| same, the whole \`cloudm discover\` command (list run, prototypes, observed run, analysis) | $whole | $(calc "$whole / $pw")x | |"
echo "| whole run, $NW cheap calls with $W steps of the program's own work each, plain (ms) | $pw2 | 1.00 | |"
echo "| same, the observed process alone | $obs2 | $(calc "$obs2 / $pw2")x | <= 1.3x |"
echo "| same, the whole \`cloudm discover\` command | $whole2 | $(calc "$whole2 / $pw2")x | |"
