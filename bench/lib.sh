# lib.sh - what the bench scripts share (sourced after `here` is set, never run): the tree's
# top, a Release build of the targets a script needs, and the best-of-three measurement.
#
# What it does not do: choose what to measure or print rows; each script does.

top=$(dirname "$here")

# bench_build BUILD TARGET...: configure BUILD as a Release build when it has no CMakeCache.txt
# yet, then build the TARGETs (quietly, -j2: the machine may be shared).
bench_build() {
  local build=$1
  shift
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  cmake --build "$build" -j2 --target "$@" >/dev/null
}

# The second word of a benchmark program's output line (ns per call).
val() { awk '{print $2}'; }
# best3 CMD...: run a measuring command three times (three processes, so three address-space
# layouts) and keep the lowest ns per call; every row, baseline included, is treated alike.
best3() {
  local a b c
  a=$("$@" 2>/dev/null | val); b=$("$@" 2>/dev/null | val); c=$("$@" 2>/dev/null | val)
  printf '%s\n%s\n%s\n' "$a" "$b" "$c" | sort -g | head -1
}
# r A B: the ratio A / B, two decimals.
r() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
