#!/bin/bash
# test_stripped.sh - a stripped program whose static functions are found in its separate debug
# file, located through the build-id under $CLOUDM_DEBUG_DIR/.build-id/xx/yyyy.debug.
#
# Proves: stripped and without a debug file, the static functions are not found (one message
# each, with the hint that the executable is stripped; output right); with the debug file, they are hooked exactly as in the unstripped build, and
# `cloudm check` names the debug file the symbols came from.
. "$CM_E2E/lib.sh"

SRC=$CM_BIN/statics_O2
CONF=$CM_SRC/conf/statics.conf
cm_require "$CLOUDM" "$SRC" || cm_done
PROG=$CM_TMP/stripped
id=$(readelf -n "$SRC" | sed -n 's/^ *Build ID: *\([0-9a-f]*\)$/\1/p')
cm_expect_match "the program has a build-id" <(echo "$id") '^[0-9a-f]{40}$'
mkdir -p "$CM_TMP/dbg/.build-id/${id:0:2}"
DBG=$CM_TMP/dbg/.build-id/${id:0:2}/${id:2}.debug
objcopy --only-keep-debug "$SRC" "$DBG"
strip --strip-all -o "$PROG" "$SRC"
cm_expect_eq "stripped: no .symtab" "$(readelf -S "$PROG" | grep -c '\.symtab')" 0

cm_plain plain "$PROG"
CLOUDM_DEBUG_DIR=$CM_TMP/nowhere cm_run nodbg -c "$CONF" --report="$CM_TMP/nodbg.json" -- "$PROG"
cm_same plain nodbg
cm_expect_match "without debug file: not found" "$CM_TMP/nodbg.err" "function 'weigh' not found in any loaded object"
cm_expect_eq "without debug file: the hint says why, once" "$(grep -cxF "cloudm:   the executable $PROG is stripped (no .symtab) and has no debug file: a function compiled into it cannot be found (install its debug file under /usr/lib/debug/.build-id or set CLOUDM_DEBUG_DIR)" "$CM_TMP/nodbg.err")" 9
cm_expect_eq "without debug file: weigh ran every time" "$(cm_execs nodbg weigh)" 1001

CLOUDM_DEBUG_DIR=$CM_TMP/nowhere:$CM_TMP/dbg cm_run dbg -c "$CONF" --report="$CM_TMP/dbg.json" -- "$PROG"
cm_same plain dbg
cm_counts dbg weigh 1001 951 50
cm_counts dbg poly 1000 980 20
cm_expect_eq "with debug file: weigh execs" "$(cm_execs dbg weigh)" 50
CLOUDM_ID_CACHE=off CLOUDM_DEBUG_DIR=$CM_TMP/dbg timeout 60 "$CLOUDM" check -c "$CONF" "$PROG" >"$CM_TMP/check.out" 2>&1
cm_expect_match "check names the debug file" "$CM_TMP/check.out" "symbols from .*/\\.build-id/${id:0:2}/${id:2}\\.debug\\): inline hook"
cm_done
