#!/usr/bin/env bash
# bench_discover.sh - what `cloudm discover` costs, against uftrace and ltrace, on the same
# program in the same run (issue 14's benchmark table).
#
# Usage: bash bench/bench_discover.sh [BUILD_DIR]   (default ./build; built here if needed)
# The program (cmbench_discover N) makes N calls of a cheap library function (a few ns, through
# the PLT, arguments repeating every 1000 calls) and times its own loop, in thread CPU time
# (preemption on a busy machine does not count) and in wall-clock time. Every row is the best
# of three processes. The whole-run rows are CPU time of whole processes, beside a floor
# measured in the same rounds: the program with an empty library preloaded and every call
# through one more indirect jump (what any GOT-slot observer adds at the least). Prints a
# Markdown table. uftrace and ltrace are Debian packages
# (bash .ci/install-deps); a missing one gives "n/a".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
build=${1:-$top/build}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j2 --target cloudm cloudm_cli cmbench_discover cmbench_empty cmbench_spawn \
  >/dev/null
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
# The whole-run rows: CPU time (user + system of the process and the children it waited for,
# from wait4: the other processes of a busy machine do not count), the median of K runs per
# round, the least of R rounds, the variants interleaved round by round.
K=${CM_BENCH_DNK:-15}
R=${CM_BENCH_DNR:-5}
E=$build/lib/libcmbench_empty.so
L=$build/lib/libcloudm.so
# whole W: prints "plain floor observed command" (CPU ms) for the program with W work steps
whole() {
  local w=$1 r v
  local -a best=("" "" "" "")
  for ((r = 0; r < R; r++)); do
    local -a got=(
      "$("$bin/cmbench_spawn" "$K" env "$P" "$NW" "$w" 2>/dev/null)"
      "$("$bin/cmbench_spawn" "$K" env LD_PRELOAD="$E" "$P" "$NW" "$w" floor 2>/dev/null)"
      "$("$bin/cmbench_spawn" "$K" env LD_PRELOAD="$L" CLOUDM_DISCOVER="$tmp" "$P" "$NW" "$w" 2>/dev/null)"
      "$("$bin/cmbench_spawn" "$K" "$bin/cloudm" discover -- "$P" "$NW" "$w" 2>/dev/null)")
    for i in 0 1 2 3; do
      v=$(awk '{printf "%.3f", $4 / 1000}' <<<"${got[$i]}")
      if [ -z "${best[$i]}" ] || awk -v a="$v" -v b="${best[$i]}" 'BEGIN{exit !(a < b)}'; then
        best[$i]=$v
      fi
    done
  done
  echo "${best[*]}"
}
W=${CM_BENCH_DNWORK:-100}  # own work per iteration for the last rows (about 1 ns a step)
read -r pw fl obs whole1 <<<"$(whole 0)"
read -r pw2 fl2 obs2 whole2 <<<"$(whole "$W")"

echo "| row | measured | vs baseline | target |"
echo "|---|---:|---:|---|"
echo "| cheap library call, plain (ns per call, thread CPU, $N calls) | $plain | 1.00 | |"
echo "| same under \`cloudm discover\` (counted; 1 in ~128 keyed, traced and timed) | $disc | +$over ns per call | <= +30 ns |"
echo "| same under \`uftrace record --force\` | $uft | +$uover ns per call: discover ${uratio}x cheaper | discover >= 3x faster |"
echo "| cheap call, plain (ns per call, wall clock, $NL calls) | $plainw | 1.00 | |"
echo "| same under \`cloudm discover\` (wall clock) | $discw | | |"
echo "| same under \`ltrace -c\` (wall clock) | $ltw | overhead ${lratio}x discover's | discover >= 1000x faster |"
echo "| whole run, $NW cheap calls, plain (CPU ms) | $pw | 1.00 | |"
echo "| floor: an empty library preloaded, every call through one more \`jmp *slot\` | $fl | $(calc "$fl / $pw")x | |"
echo "| the observed process alone (libcloudm.so in observation mode, file written at exit) | $obs | $(calc "$obs / $pw")x | <= 1.3x |"
echo "| the whole \`cloudm discover\` command (observed run, prototypes, analysis) | $whole1 | $(calc "$whole1 / $pw")x | |"
echo "| whole run, $NW cheap calls with $W steps of the program's own work each, plain (CPU ms) | $pw2 | 1.00 | |"
echo "| floor, as above | $fl2 | $(calc "$fl2 / $pw2")x | |"
echo "| the observed process alone | $obs2 | $(calc "$obs2 / $pw2")x | <= 1.3x |"
echo "| the whole \`cloudm discover\` command | $whole2 | $(calc "$whole2 / $pw2")x | |"
