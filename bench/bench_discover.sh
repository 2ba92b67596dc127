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
. "$here/lib.sh"
build=${1:-$top/build}
bench_build "$build" cloudm cloudm_cli cmbench_discover cmbench_empty cmbench_spawn
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
# ratio A B: A / B, or "> A / 0.5" when B is below the noise of these rows (0.5 ns)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (b < 0.5) printf "> %.0f", a / 0.5; else printf "%.2f", a / b}'; }

plain=$(per_call cpu "$P" "$N")
disc=$(per_call cpu "$bin/cloudm" discover -- "$P" "$N")
over=$(calc "$disc - $plain")
# every call through the full path (keyed, traced, 1 in 64 timed): what a slow function's calls
# cost, and what the cheap ones cost before sampling
full=$(CLOUDM_DISCOVER_SAMPLE=off per_call cpu "$bin/cloudm" discover -- "$P" "$N")
fover=$(calc "$full - $plain")
if command -v uftrace >/dev/null; then
  uft=$(per_call cpu uftrace record --force -d "$tmp/uftrace.data" "$P" "$N")
  uover=$(calc "$uft - $plain")
  ufratio=$(calc "($uft - $plain) / ($full - $plain)")
  uratio=$(ratio "$uover" "$over")
else
  uft=n/a uover=n/a uratio=n/a ufratio=n/a
fi
plainw=$(per_call wall "$P" "$NL")
discw=$(per_call wall "$bin/cloudm" discover -- "$P" "$NL")
if command -v ltrace >/dev/null; then
  ltw=$(per_call wall ltrace -c -o "$tmp/ltrace.out" "$P" "$NL")
  lfratio=$(calc "($ltw - $plainw) / $fover") # against discover's per-call costs above
  lratio=$(ratio "$(calc "$ltw - $plainw")" "$over")
else
  ltw=n/a lratio=n/a lfratio=n/a
fi
# The whole-run rows: CPU time (user + system of the process and the children it waited for,
# from wait4: the other processes of a busy machine do not count), the median of K runs per
# round, the least of R rounds, the variants interleaved round by round.
K=${CM_BENCH_DNK:-15}
R=${CM_BENCH_DNR:-5}
E=$build/lib/libcmbench_empty.so
L=$build/lib/libcloudm.so
# whole W: prints "plain floor observed command loaded" (CPU ms) for the program with W work
# steps; loaded = libcloudm.so preloaded but disabled (what loading it costs: it needs libc
# alone, its own libraries are opened when a process needs them, shim/base/lazy.c)
whole() {
  local w=$1 r v
  local -a best=("" "" "" "" "")
  for ((r = 0; r < R; r++)); do
    local -a got=(
      "$("$bin/cmbench_spawn" "$K" env "$P" "$NW" "$w" 2>/dev/null)"
      "$("$bin/cmbench_spawn" "$K" env LD_PRELOAD="$E" "$P" "$NW" "$w" floor 2>/dev/null)"
      "$("$bin/cmbench_spawn" "$K" env LD_PRELOAD="$L" CLOUDM_DISCOVER="$tmp" "$P" "$NW" "$w" 2>/dev/null)"
      "$("$bin/cmbench_spawn" "$K" "$bin/cloudm" discover -- "$P" "$NW" "$w" 2>/dev/null)"
      "$("$bin/cmbench_spawn" "$K" env LD_PRELOAD="$L" CLOUDM_DISABLE=1 "$P" "$NW" "$w" 2>/dev/null)")
    for i in 0 1 2 3 4; do
      v=$(awk '{printf "%.3f", $4 / 1000}' <<<"${got[$i]}")
      if [ -z "${best[$i]}" ] || awk -v a="$v" -v b="${best[$i]}" 'BEGIN{exit !(a < b)}'; then
        best[$i]=$v
      fi
    done
  done
  echo "${best[*]}"
}
W=${CM_BENCH_DNWORK:-100}  # own work per iteration for the last rows (about 1 ns a step)
read -r pw fl obs whole1 ld <<<"$(whole 0)"
read -r pw2 fl2 obs2 whole2 ld2 <<<"$(whole "$W")"

echo "| row | measured | vs baseline | target |"
echo "|---|---:|---:|---|"
echo "| cheap library call, plain (ns per call, thread CPU, $N calls) | $plain | 1.00 | |"
echo "| same under \`cloudm discover\` (every call counted; 1 in ~128 keyed and traced, 1 in ~2048 timed) | $disc | +$over ns per call | <= +30 ns |"
echo "| same, every call keyed, traced and timed 1 in 64 (\`CLOUDM_DISCOVER_SAMPLE=off\`, as for functions >= 250 ns) | $full | +$fover ns per call | <= +30 ns |"
echo "| same under \`uftrace record --force\` | $uft | +$uover ns per call: discover ${ufratio}x cheaper with every call keyed, ${uratio}x counted | discover >= 3x faster |"
echo "| cheap call, plain (ns per call, wall clock, $NL calls) | $plainw | 1.00 | |"
echo "| same under \`cloudm discover\` (wall clock) | $discw | | |"
echo "| same under \`ltrace -c\` (wall clock) | $ltw | overhead ${lfratio}x discover's with every call keyed, ${lratio}x counted | discover >= 1000x faster |"
echo "| whole run, $NW cheap calls, plain (CPU ms) | $pw | 1.00 | |"
echo "| floor: an empty library preloaded, every call through one more \`jmp *slot\` | $fl | $(calc "$fl / $pw")x | |"
echo "| libcloudm.so preloaded but disabled (\`CLOUDM_DISABLE=1\`: loading it) | $ld | $(calc "$ld / $pw")x | |"
echo "| the observed process alone (libcloudm.so in observation mode, file written at exit) | $obs | $(calc "$obs / $pw")x | <= 1.3x |"
echo "| the whole \`cloudm discover\` command (observed run, prototypes, analysis) | $whole1 | $(calc "$whole1 / $pw")x | |"
echo "| whole run, $NW cheap calls with $W steps of the program's own work each, plain (CPU ms) | $pw2 | 1.00 | |"
echo "| floor, as above | $fl2 | $(calc "$fl2 / $pw2")x | |"
echo "| libcloudm.so preloaded but disabled | $ld2 | $(calc "$ld2 / $pw2")x | |"
echo "| the observed process alone | $obs2 | $(calc "$obs2 / $pw2")x | <= 1.3x |"
echo "| the whole \`cloudm discover\` command | $whole2 | $(calc "$whole2 / $pw2")x | |"
