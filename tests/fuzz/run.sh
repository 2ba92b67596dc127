#!/bin/sh
# run.sh SECONDS - build the config-parser fuzzer with clang (libFuzzer, ASan, UBSan) in a
# temporary directory and run it for SECONDS on a copy of the seed corpus. Exit status is the
# fuzzer's: non-zero when it found a crash, a leak or a broken invariant (the reproducer is kept
# and its path printed). Needs clang and libclang-rt-14-dev (Debian).
set -eu
secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cc=${CLANG:-clang}
work=$(mktemp -d "${TMPDIR:-/tmp}/cm_fuzz.XXXXXX")
keep=0
cleanup() { [ "$keep" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT

"$cc" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -D_GNU_SOURCE -I"$top/config" -I"$top/include" \
  "$here/fuzz_config.c" "$top"/config/*.c -linih -o "$work/fuzz_config"
mkdir -p "$work/corpus" "$work/artifacts"
cp "$here"/corpus/* "$work/corpus/"
cd "$work"
set +e
./fuzz_config -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  -dict="$here/config.dict" \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" 2>fuzz.log
rc=$?
set -e
tail -n 25 fuzz.log
if [ "$rc" -ne 0 ]; then
  keep=1
  echo "fuzz_config: failure (exit $rc); reproducers and log kept in $work" >&2
fi
exit "$rc"
