#!/usr/bin/env bash
# instructions.sh - instructions per call of the hit paths, counted by valgrind's callgrind (the
# same number on a busy or an idle machine): plain call, mode = off, memory-tier hit, shared-tier
# steady-state hit. Each row is (count at 2N calls - count at N calls) / N, so start-up cancels.
#
# Usage: bash bench/instructions.sh BUILD [OTHER_BUILD]   (Release builds with bin/cloudm and
#        bin/cmbench_calls; with two builds, a column each: "did this change cost anything?")
set -euo pipefail
command -v valgrind >/dev/null || { echo "instructions.sh: needs valgrind" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export CLOUDM_SHARED_PATH="$tmp/seg-%u" CLOUDM_ID_CACHE="$tmp/ids"
unset CLOUDM_CONFIG CLOUDM_MODE CLOUDM_REPORT CLOUDM_DISABLE CLOUDM_TIERS
fn='[function bench_fn]
signature = f64 bench_fn(f64 x)'
printf '[cache]\ntiers = memory\n%s\n' "$fn" >"$tmp/memo.conf"
printf '[cache]\ntiers = shared\n%s\n' "$fn" >"$tmp/shared.conf"
printf '[cache]\nmode = off\ntiers = memory\n%s\n' "$fn" >"$tmp/off.conf"
N=${CM_BENCH_IR_N:-100000}

count() { # count BUILD CONF|- WHAT CALLS -> instructions of the whole process
  local b=$1 conf=$2 cmd
  if [ "$conf" = - ]; then cmd=("$b/bin/cmbench_calls" "$3" "$4")
  else cmd=("$b/bin/cloudm" run -c "$tmp/$conf.conf" -- "$b/bin/cmbench_calls" "$3" "$4"); fi
  valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$tmp/cg.%p" "${cmd[@]}" \
    2>&1 >/dev/null | awk '/Collected/ { v = $4 } END { print v }'
  rm -f "$tmp"/cg.*
}
per_call() { echo $(( ($(count "$@" $((2 * N))) - $(count "$@" "$N")) / N )); }

builds=("$@")
for b in "${builds[@]}"; do # the shared rows read entries a first process stored
  "$b/bin/cloudm" run -c "$tmp/shared.conf" -- "$b/bin/cmbench_calls" repeat 1000 >/dev/null 2>&1
done
printf '| path (instructions per call) |'; printf ' %s |' "${builds[@]}"; echo
printf '|---|'; printf -- '---:|%.0s' "${builds[@]}"; echo
row() {
  local name=$1; shift
  printf '| %s |' "$name"
  for b in "${builds[@]}"; do printf ' %s |' "$(per_call "$b" "$@")"; done
  echo
}
row "plain call through the PLT (baseline)" - plain
row "hooked, mode = off" off plain
row "memory-tier hit" memo repeat
row "shared-tier hit, steady state (tiers = shared)" shared repeat
