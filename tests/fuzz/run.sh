#!/bin/sh
# run.sh [TARGET] SECONDS - build one libFuzzer target with clang (libFuzzer, ASan, UBSan) in a
# temporary directory and run it for SECONDS on a copy of its seed corpus. TARGET is
#   config     the config and signature parser (fuzz_config.c over config/*.c; the default)
#   keycache   the keycache's request classifier (fuzz_keycache.c over tools/keycache/kc_proto.c)
#   envelope   the remote tier's envelope decoder (fuzz_envelope.c over shim/remote/envelope.c
#              and rcrypto.c; it writes its own seeds)
# Exit status is the fuzzer's: non-zero when it found a crash, a leak or a broken invariant (the
# reproducers and the log are kept and their path printed). Needs clang and libclang-rt-14-dev
# (and libinih-dev, libssl-dev, libxxhash-dev for the targets that link them).
set -eu
case "${1:-}" in
[0-9]*|"") target=config ;;
*) target=$1; shift ;;
esac
secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cc=${CLANG:-clang}
work=$(mktemp -d "${TMPDIR:-/tmp}/cm_fuzz_$target.XXXXXX")
keep=0
cleanup() { [ "$keep" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT

flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE"
bin=$work/fuzz_$target
mkdir -p "$work/corpus" "$work/artifacts"
case "$target" in
config)
  # shellcheck disable=SC2086
  "$cc" $flags -I"$top/config" -I"$top/include" "$here/fuzz_config.c" "$top"/config/*.c \
    -linih -o "$bin"
  cp "$here"/corpus/* "$work/corpus/"
  opts="-max_len=8192 -dict=$here/config.dict"
  ;;
keycache)
  # shellcheck disable=SC2086
  "$cc" $flags -I"$top/tools/keycache" "$here/fuzz_keycache.c" "$top/tools/keycache/kc_proto.c" -o "$bin"
  cp "$here"/corpus-keycache/* "$work/corpus/"
  opts="-max_len=1024"
  ;;
envelope)
  # shellcheck disable=SC2086
  "$cc" $flags -DXXH_INLINE_ALL -I"$top/shim/remote" "$here/fuzz_envelope.c" \
    "$top/shim/remote/envelope.c" "$top/shim/remote/rcrypto.c" -lnettle -o "$bin"
  CM_FUZZ_WRITE_SEEDS="$work/corpus" "$bin" -runs=0 "$work/corpus" >/dev/null 2>&1
  opts="-max_len=1024"
  ;;
*)
  echo "run.sh: unknown target '$target' (config, keycache or envelope)" >&2
  exit 2
  ;;
esac
cd "$work"
set +e
# shellcheck disable=SC2086
"$bin" -max_total_time="$secs" $opts -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus" 2>fuzz.log
rc=$?
set -e
tail -n 25 fuzz.log
if [ "$rc" -ne 0 ]; then
  keep=1
  echo "fuzz_$target: failure (exit $rc); reproducers and log kept in $work" >&2
fi
exit "$rc"
