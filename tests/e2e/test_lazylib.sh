#!/bin/bash
# test_lazylib.sh - libcloudm.so opens Zydis, libelf (+ zlib) and libinih only when a process
# needs them (shim/base/lazy*.c), and runs the program unchanged when one cannot be loaded.
#
# Proves: libcloudm.so names no library but libc in DT_NEEDED; `cloudm discover` (observation
# mode, GOT hooks only) loads none of the four, with the program's output unchanged and its
# library call observed (lgamma is near the 250 ns sampling line: its distinct count may be
# estimated, ~10); a config of GOT hooks with `identity = name` loads libinih alone and memoizes
# (lgamma: 200 calls, 190 hits); with the default keys the first process also loads Zydis and
# libelf, the next (identity cache warm) libinih alone; `--internal` (inline hooks) loads Zydis
# and libelf on demand and ranks the static function; with a libinih.so.1 that lacks
# ini_parse_stream first in LD_LIBRARY_PATH, the program's output is unchanged and stderr says
# once, naming the library, that nothing is memoized.
. "$CM_SRC/lib.sh"

PROG=$CM_BIN/mapsprog
LIB=$CM_BUILD/lib/libcloudm.so
cm_require "$CLOUDM" "$PROG" || cm_done

# 1. Linked against libc alone.
readelf -d "$LIB" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' >"$CM_TMP/needed"
cm_expect_match "libcloudm.so needs libc" "$CM_TMP/needed" '^libc\.so'
cm_expect_nomatch "libcloudm.so needs nothing else" "$CM_TMP/needed" '^(libZydis|libelf|libinih|libz)'

cm_plain plain "$PROG"
cm_expect_eq "plain exit status" "$(cat "$CM_TMP/plain.rc")" 0
cm_expect_nomatch "plain: none of them mapped" "$CM_TMP/plain.err" '^mapped'

# 2. Observation mode: none of them.
cm_plain disc "$CLOUDM" discover -o "$CM_TMP/disc.conf" -- "$PROG"
cm_expect_eq "discover exit status" "$(cat "$CM_TMP/disc.rc")" 0
cm_expect_match "discover: the program ran" "$CM_TMP/disc.out" '^lgamma sum [0-9.]+ work sum [0-9]+$'
# (under a sanitizer, lgamma is the sanitizer runtime's interceptor: not a candidate, and its
# code identity is not cached)
san=${CLOUDM_TEST_PRELOAD:-}
[ -n "$san" ] ||
  cm_expect_match "discover: lgamma observed" "$CM_TMP/disc.err" '^1 +lgamma +libm\.so\.6 +200 +~?10 '
cm_expect_nomatch "discover: none of them mapped" "$CM_TMP/disc.err" '^mapped'

# 3. A config of GOT hooks named by name: libinih only (the config is parsed), memoizing as
# before. With the defaults (hook = auto scans the executable's symbol table, identity = code
# decodes the function), the first process loads Zydis and libelf, the next one finds both
# answers in the identity cache and loads libinih alone.
conf=$(cm_conf lg <<'CONF'
[function lgamma]
signature = f64 lgamma(f64 x)
hook = got
identity = name
CONF
)
cm_memo memo "$conf" "$PROG"
cm_same plain memo
cm_expect_eq "memo: lgamma hits" "$(cm_hits memo lgamma)" 190
cm_expect_match "memo: libinih mapped" "$CM_TMP/memo.err" '^mapped libinih$'
cm_expect_nomatch "memo: neither Zydis nor libelf mapped" "$CM_TMP/memo.err" '^mapped (libZydis|libelf)'
dconf=$(cm_conf lgdef <<'CONF'
[function lgamma]
signature = f64 lgamma(f64 x)
CONF
)
for run in 1 2; do
  cm_memo def$run "$dconf" "$PROG"
  cm_same plain def$run
  cm_expect_eq "defaults, run $run: lgamma hits" "$(cm_hits def$run lgamma)" 190
done
cm_expect_match "defaults, first run: Zydis mapped" "$CM_TMP/def1.err" '^mapped libZydis$'
cm_expect_match "defaults, next run: libinih mapped" "$CM_TMP/def2.err" '^mapped libinih$'
[ -n "$san" ] ||
  cm_expect_nomatch "defaults, next run: neither Zydis nor libelf" "$CM_TMP/def2.err" \
    '^mapped (libZydis|libelf)'

# 4. Inline hooks (--internal): Zydis and libelf opened on demand; their own functions are
# never candidates.
cm_plain internal "$CLOUDM" discover --internal -- "$PROG"
cm_expect_eq "--internal exit status" "$(cat "$CM_TMP/internal.rc")" 0
cm_expect_match "--internal: work ranked" "$CM_TMP/internal.err" '^[12] +work +mapsprog +200 +5 '
cm_expect_match "--internal: Zydis mapped" "$CM_TMP/internal.err" '^mapped libZydis$'
cm_expect_match "--internal: libelf mapped" "$CM_TMP/internal.err" '^mapped libelf$'
cm_expect_nomatch "--internal: no candidate from them" "$CM_TMP/internal.err" ' (libZydis|libelf|libz)[^ ]* '

# 5. A libinih that cannot serve: the real lgamma runs, one line says why.
mkdir -p "$CM_TMP/fake"
printf 'int cm_not_inih;\n' | ${CC:-cc} -shared -fPIC -x c - -o "$CM_TMP/fake/libinih.so.1" \
  -Wl,-soname,libinih.so.1
cm_plain broken env LD_LIBRARY_PATH="$CM_TMP/fake" CLOUDM_CONFIG="$conf" \
  LD_PRELOAD="${LD_PRELOAD:+$LD_PRELOAD:}$LIB" "$PROG"
cm_same plain broken
cm_expect_eq "broken inih: one line naming it" \
  "$(grep -c 'cloudm: cannot load libinih.so.1 (.*ini_parse_stream.*): no config can be read' "$CM_TMP/broken.err")" 1
cm_expect_match "broken inih: the config is not used" "$CM_TMP/broken.err" 'nothing is memoized'
cm_done
