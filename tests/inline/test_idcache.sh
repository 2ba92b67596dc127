#!/bin/bash
# test_idcache.sh - the on-disk code identity cache ($CLOUDM_ID_CACHE/<build-id>.ids).
#
# Proves: the first process computes the identity and writes one line for the function (with
# the imports its code reaches, e.g. sqrt) and one for the symbol look-up of its name; the
# second takes both from the cache (no symbol table read) and gets the same
# identity and the same shared-tier hits; garbage and a truncated last line in the file are
# ignored; CLOUDM_ID_CACHE=off computes every time and writes nothing.
. "$CM_E2E/lib.sh"

PROG=$CM_BIN/ident_base
cm_require "$CLOUDM" "$PROG" || cm_done
CONF=$(cm_conf c <<'C'
[function target]
signature = i64 target(i64 n)
C
)
export CLOUDM_ID_CACHE=$CM_TMP/ids CLOUDM_TIERS=shared
id=$(readelf -n "$PROG" | sed -n 's/^ *Build ID: *\([0-9a-f]*\)$/\1/p')
FILE=$CLOUDM_ID_CACHE/$id.ids
cm_plain plain "$PROG"

identity() { # identity NAME: run cloudm check, print target's identity
  timeout 60 "$CLOUDM" check -c "$CONF" "$PROG" >"$CM_TMP/$1.check" 2>&1
  sed -n 's/^target identity \([0-9a-f]*\) .*/\1/p' "$CM_TMP/$1.check"
}

CLOUDM_DEBUG=1 cm_run r1 -c "$CONF" --report="$CM_TMP/r1.json" -- "$PROG"
cm_same plain r1
cm_expect_match "first run computes" "$CM_TMP/r1.err" "target: code identity computed"
cm_expect_eq "one identity line in the cache file" "$(grep -vc '^S ' "$FILE" 2>/dev/null)" 1
cm_expect_match "the line lists sqrt among the imports" "$FILE" '^[0-9a-f]+ [0-9a-f]{32} [0-9]+ .*sqrt'
cm_expect_match "and the symbol look-up: one static definition, from .symtab" "$FILE" '^S target 1 1 [0-9a-f]+ [0-9]+ 1 ident\.c$'
cm_counts r1 target 200 180 20

CLOUDM_DEBUG=1 cm_run r2 -c "$CONF" --report="$CM_TMP/r2.json" -- "$PROG"
cm_same plain r2
cm_expect_match "second run reads the cache" "$CM_TMP/r2.err" "target: code identity from the cache"
cm_expect_match "second run skips the symbol tables" "$CM_TMP/r2.err" "ident_base: inline candidates from the identity cache"
cm_counts r2 target 200 200 0
id1=$(identity c1)
cm_expect_match "check says it came from the cache" "$CM_TMP/c1.check" 'from the identity cache\)$'

printf 'zz not a line\n12 34 1\nffff 00112233445566778899aabbccddeeff 1 half' >>"$FILE"
CLOUDM_DEBUG=1 cm_run r3 -c "$CONF" --report="$CM_TMP/r3.json" -- "$PROG"
cm_same plain r3
cm_expect_match "garbage ignored, record still used" "$CM_TMP/r3.err" "target: code identity from the cache"
cm_counts r3 target 200 200 0

rm -rf "$CLOUDM_ID_CACHE"
CLOUDM_ID_CACHE=off CLOUDM_DEBUG=1 cm_run r4 -c "$CONF" --report="$CM_TMP/r4.json" -- "$PROG"
cm_expect_match "off: computed" "$CM_TMP/r4.err" "target: code identity computed"
cm_expect_eq "off: no cache directory" "$(test -e "$CM_TMP/ids" && echo yes || echo no)" no
cm_counts r4 target 200 200 0
id2=$(CLOUDM_ID_CACHE=off identity c2)
cm_expect_eq "computed and cached identities agree" "$id2" "$id1"
cm_done
