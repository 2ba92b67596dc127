#!/bin/sh
# fuzz_envelope.sh SECONDS - build the envelope-decoder fuzzer (tests/fuzz/fuzz_envelope.c) with
# clang (libFuzzer, ASan, UBSan) in a temporary directory, let it write its seed corpus, and run
# it for SECONDS. Exit status is the fuzzer's; on failure the reproducers are kept and printed.
# Needs clang, libclang-rt-14-dev, libssl-dev and libxxhash-dev.
set -eu
secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cc=${CLANG:-clang}
work=$(mktemp -d "${TMPDIR:-/tmp}/cm_fuzz_env.XXXXXX")
keep=0
cleanup() { [ "$keep" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT

"$cc" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -D_GNU_SOURCE -DXXH_INLINE_ALL -I"$top/shim/remote" \
  "$top/tests/fuzz/fuzz_envelope.c" "$top/shim/remote/envelope.c" "$top/shim/remote/rcrypto.c" \
  -lcrypto -o "$work/fuzz_envelope"
mkdir -p "$work/corpus" "$work/artifacts"
cd "$work"
CM_FUZZ_WRITE_SEEDS="$work/corpus" ./fuzz_envelope -runs=0 "$work/corpus" >/dev/null 2>&1
set +e
./fuzz_envelope -max_total_time="$secs" -max_len=1024 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" 2>fuzz.log
rc=$?
set -e
tail -n 12 fuzz.log
if [ "$rc" -ne 0 ]; then
  keep=1
  echo "fuzz_envelope: failure (exit $rc); reproducers and log kept in $work" >&2
fi
exit "$rc"
