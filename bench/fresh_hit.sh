#!/usr/bin/env bash
# fresh_hit.sh - the fresh-process row of run.sh on its own, many times, for one build or two
# side by side: a first process stores bench_fn's results for 100,000 distinct arguments, then
# fresh processes make the same calls (every one a shared hit) and print their first pass of
# 20,000 calls, their best pass and the DRAM floor measured in the same process (bench_calls.c,
# dram_floor.h; the floor in the page size the segment got). With two builds the processes run
# in turn, A B A B ..., so that both see the same machine; each build has its own segment.
#
# Usage: bash bench/fresh_hit.sh BUILD_A [BUILD_B] [RUNS]   (Release builds; RUNS default 20)
#   CM_BENCH_CPUTIME=1 (the default here) times with the thread's CPU clock, 0 with the wall
#   clock; CM_BENCH_SHM=DIR puts the segments there (default /dev/shm), e.g. a huge-page tmpfs.
# Prints, per build: the median, lowest and highest first pass / floor, the median best pass /
# floor, and the median first pass and floor in ns.
#
# What it does not do: build anything (bench/run.sh does), or judge the numbers.
set -euo pipefail
a=$1
b=${2:-}
runs=${3:-20}
if [ -n "$b" ] && [ "$b" -eq "$b" ] 2>/dev/null; then # fresh_hit.sh BUILD RUNS
  runs=$b
  b=
fi
d=$(mktemp -d -p "${CM_BENCH_SHM:-/dev/shm}")
trap 'rm -rf "$d"' EXIT
printf '[function bench_fn]\nsignature = f64 bench_fn(f64 x)\n' >"$d/both.conf"
unset CLOUDM_CONFIG CLOUDM_MODE CLOUDM_REPORT CLOUDM_DISABLE CLOUDM_TIERS
export CLOUDM_ID_CACHE="$d/ids" CM_BENCH_CPUTIME=${CM_BENCH_CPUTIME:-1}
builds=(A)
[ -n "$b" ] && builds+=(B)
one() { # one A|B: one process of that build
  local dir=$a
  [ "$1" = B ] && dir=$b
  CLOUDM_SHARED_PATH="$d/seg$1-%u" "$dir/bin/cloudm" run -c "$d/both.conf" -- \
    "$dir/bin/cmbench_calls" unique 20000 2>/dev/null
}
for x in "${builds[@]}"; do one "$x" >/dev/null; done # the process that stores
for i in $(seq "$runs"); do
  for x in "${builds[@]}"; do
    one "$x" | awk -v x="$x" '{ fl = ($6 > 0 && $5 > 0) ? $5 : $4
                               print x, $3 / fl, $2 / fl, $3, fl }'
  done
done >"$d/out"
med() { sort -g | awk '{ v[NR] = $1 } END { printf "%.3f %.3f %.3f", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
for x in "${builds[@]}"; do
  dir=$a
  [ "$x" = B ] && dir=$b
  read -r fm flo fhi <<<"$(awk -v x="$x" '$1 == x { print $2 }' "$d/out" | med)"
  read -r bm _ _ <<<"$(awk -v x="$x" '$1 == x { print $3 }' "$d/out" | med)"
  read -r ns _ _ <<<"$(awk -v x="$x" '$1 == x { print $4 }' "$d/out" | med)"
  read -r fl _ _ <<<"$(awk -v x="$x" '$1 == x { print $5 }' "$d/out" | med)"
  echo "$dir: first pass / floor median ${fm}x ($flo to $fhi, $runs processes); best pass / floor median ${bm}x; first pass $ns ns, floor $fl ns (medians)"
done
