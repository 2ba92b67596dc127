#!/bin/bash
# test_prefix_install.sh - `cmake --install BUILD --prefix TMP` gives a working, relocatable
# install: the layout (bin, lib/<multiarch>/cloudm, etc, share/man, share/bash-completion, the
# unit, the examples), then lib_install.sh's checks on TMP/bin/cloudm (run from another
# directory with no environment variable: hit counts; man -w; completion; doctor), then the
# tree moved elsewhere still runs (cloudm finds libcloudm.so relative to itself).
#
# Usage: test_prefix_install.sh BUILD_DIR
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib_install.sh"
BUILD=$1
P=$CM_TMP/prefix

if ! cmake --install "$BUILD" --prefix "$P" >"$CM_TMP/install.log" 2>&1; then
  cat "$CM_TMP/install.log" >&2
  cm_fail "cmake --install failed"
  cm_done
fi
triplet=$(gcc -print-multiarch)
for f in bin/cloudm "lib/$triplet/cloudm/libcloudm.so" "lib/$triplet/cloudm/libcloudm-remote.so" \
  etc/cloudm/cloudm.conf etc/default/cloudm-keycache share/bash-completion/completions/cloudm \
  share/man/man1/cloudm.1 share/man/man5/cloudm.conf.5 share/man/man8/cloudm-keycache.8 \
  share/doc/cloudm/examples/lgamma.conf lib/systemd/system/cloudm-keycache.service; do
  cm_expect_eq "installed: $f" "$([ -f "$P/$f" ] && echo yes || echo no)" yes
done
# Nothing of the build tree leaks into the install: no RUNPATH pointing at it.
cm_expect_nomatch "no RUNPATH/RPATH into the build tree" \
  <(readelf -d "$P/bin/cloudm" "$P/lib/$triplet/cloudm/"*.so | grep -E 'R(UN)?PATH') "$BUILD"

cm_install_checks "$P/bin/cloudm" "$P/share/man" "$P/share/bash-completion/completions/cloudm"

# Relocatable: the same tree, moved.
mv "$P" "$CM_TMP/moved"
(cd / && env -i PATH=/usr/bin:/bin HOME="$CM_TMP/home" "$CM_TMP/moved/bin/cloudm" run \
  -c "$CM_TMP/memo.conf" --report="$CM_TMP/moved.json" -- "$CM_TMP/memo_prog") \
  >"$CM_TMP/moved.out" 2>"$CM_TMP/moved.err"
echo $? >"$CM_TMP/moved.rc"
cm_same plain moved
cm_expect_eq "moved install: lgamma hits (memory + shared)" "$(cm_hits moved lgamma)" 1000
cm_done
