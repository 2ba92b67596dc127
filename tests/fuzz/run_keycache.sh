#!/bin/sh
# run_keycache.sh SECONDS - build the keycache request-classifier fuzzer (fuzz_keycache.c over
# tools/kc_proto.c) with clang (libFuzzer, ASan, UBSan) in a temporary directory and run it for
# SECONDS on a copy of corpus-keycache/. Exit status is the fuzzer's: non-zero when it found a
# crash or a broken invariant (the reproducer is kept and its path printed). Same shape as
# run.sh (the config fuzzer); needs clang and libclang-rt-14-dev (Debian).
set -eu
secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cc=${CLANG:-clang}
work=$(mktemp -d "${TMPDIR:-/tmp}/cm_fuzz_kc.XXXXXX")
keep=0
cleanup() { [ "$keep" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT

"$cc" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -D_GNU_SOURCE -I"$top/tools" "$here/fuzz_keycache.c" "$top/tools/kc_proto.c" \
  -o "$work/fuzz_keycache"
mkdir -p "$work/corpus" "$work/artifacts"
cp "$here"/corpus-keycache/* "$work/corpus/"
cd "$work"
set +e
./fuzz_keycache -max_total_time="$secs" -max_len=1024 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" 2>fuzz.log
rc=$?
set -e
tail -n 15 fuzz.log
if [ "$rc" -ne 0 ]; then
  keep=1
  echo "fuzz_keycache: failure (exit $rc); reproducers and log kept in $work" >&2
fi
exit "$rc"
