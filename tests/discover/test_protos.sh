#!/bin/bash
# test_protos.sh - where prototypes come from:
#  - libdisc.so without -g: no prototype (keys by registers, "≈"), the config section is left
#    commented out; with --header disc.h (libclang): the header's prototype, keyed by it, and the
#    config works as it is (identical output, hits);
#  - zlib's compress: no DWARF on a stock Debian system, the prototype comes from zlib.h, found
#    through the dpkg database (the zlib1g-dev package ships the libz.so link);
#  - cloudm inspect: the signature line and where it came from.
. "$(dirname "$0")/../e2e/lib.sh"

P=$CM_BIN/disc_prog
ND=$CM_BIN/nodebug
cm_plain plain env LD_LIBRARY_PATH="$ND" "$P"
LD_LIBRARY_PATH="$ND" "$CLOUDM" discover -o "$CM_TMP/nd.conf" --json "$CM_TMP/nd.json" -- "$P" \
  >"$CM_TMP/nd.out" 2>"$CM_TMP/nd.err"
echo $? >"$CM_TMP/nd.rc"
cm_same plain nd
J=$CM_TMP/nd.json
# (keyed by whatever the registers held: the ranking among the slow ones may vary)
F='.functions[] | select(.name=="disc_slow_repeat")'
cm_expect_eq "no -g: object" "$(jq -r "$F | .object" "$J")" "$ND/libdisc.so"
cm_expect_eq "no -g: calls" "$(jq -r "$F | .calls" "$J")" 60
cm_expect_eq "no -g: prototype unknown" "$(jq -r "$F | .prototype_source" "$J")" unknown
cm_expect_eq "no -g: keys by registers" "$(jq -r "$F | .approximate_keys" "$J")" true
cm_expect_match "no -g: marked ≈ in the table" "$CM_TMP/nd.err" '^[0-9]+ +disc_slow_repeat .* ≈[0-9]+ '
# (whether it is worth a section depends on what the registers held; never a live one)
cm_expect_nomatch "no -g: no live section without a prototype" "$CM_TMP/nd.conf" '^\[function disc_slow_repeat\]'
"$CLOUDM" check -c "$CM_TMP/nd.conf" >"$CM_TMP/ndcheck.out" 2>&1
cm_expect_eq "no -g: config still passes cloudm check" "$?" 0

LD_LIBRARY_PATH="$ND" "$CLOUDM" discover -o "$CM_TMP/h.conf" --json "$CM_TMP/h.json" \
  --header "$CM_SRC/disc.h" -- "$P" >"$CM_TMP/h.out" 2>"$CM_TMP/h.err"
echo $? >"$CM_TMP/h.rc"
cm_same plain h
J=$CM_TMP/h.json
cm_expect_eq "--header: prototype from the header" \
  "$(jq -r "$F | .prototype_source" "$J")" "header $CM_SRC/disc.h"
cm_expect_eq "--header: keyed by the prototype" "$(jq -r "$F | .approximate_keys" "$J")" false
cm_expect_eq "--header: distinct" "$(jq -r "$F | .distinct" "$J")" 4
cm_expect_match "--header: signature" "$CM_TMP/h.conf" '^signature = f64 disc_slow_repeat\(i32 n, f64 x\)$'
cm_memo hmemo "$CM_TMP/h.conf" env LD_LIBRARY_PATH="$ND" "$P"
cm_same plain hmemo
cm_expect_eq "--header: config memoizes" "$(cm_fn hmemo disc_slow_repeat .hits.memory)" 56

# a separate debug file found by build-id under CLOUDM_DEBUG_DIR
mkdir -p "$CM_TMP/strip" "$CM_TMP/dbg"
cp "$CM_BIN/libdisc.so" "$CM_TMP/strip/libdisc.so"
id=$(readelf -n "$CM_TMP/strip/libdisc.so" | sed -n 's/.*Build ID: *\([0-9a-f]*\).*/\1/p')
mkdir -p "$CM_TMP/dbg/.build-id/${id:0:2}"
objcopy --only-keep-debug "$CM_TMP/strip/libdisc.so" "$CM_TMP/dbg/.build-id/${id:0:2}/${id:2}.debug"
objcopy --strip-debug "$CM_TMP/strip/libdisc.so"
CLOUDM_DEBUG_DIR="$CM_TMP/dbg" "$CLOUDM" inspect disc_slow_repeat --object "$CM_TMP/strip/libdisc.so" >"$CM_TMP/dbg.out" 2>&1
cm_expect_match "debug file by build-id" "$CM_TMP/dbg.out" "^# prototype: DWARF \\($CM_TMP/dbg/.build-id/${id:0:2}/${id:2}.debug\\)"
cm_expect_match "debug file: signature" "$CM_TMP/dbg.out" '^signature = f64 disc_slow_repeat\(i32 n, f64 x\)$'

# zlib through dpkg
Z=$CM_BIN/disc_zprog
cm_plain zplain "$Z"
"$CLOUDM" discover -o "$CM_TMP/z.conf" --json "$CM_TMP/z.json" -- "$Z" >"$CM_TMP/z.out" 2>"$CM_TMP/z.err"
echo $? >"$CM_TMP/z.rc"
cm_same zplain z
cm_expect_match "compress: prototype from zlib1g-dev's zlib.h" "$CM_TMP/z.json" \
  '"name": "compress".*"prototype_source": "header /usr/include/zlib.h \(Debian package zlib1g-dev(:amd64)?\)"'
cm_expect_eq "compress: distinct inputs" \
  "$(jq -r '.functions[] | select(.name=="compress") | .distinct' "$CM_TMP/z.json")" 3

"$CLOUDM" inspect compress --object 'libz.so*' >"$CM_TMP/i.out" 2>&1
cm_expect_eq "inspect compress exit" "$?" 0
cm_expect_match "inspect: signature" "$CM_TMP/i.out" \
  '^signature = i32 compress\(ptr dest, ptr destLen, in\[sourceLen\] source, u64 sourceLen\)$'
cm_expect_match "inspect: source" "$CM_TMP/i.out" '^# prototype: header /usr/include/zlib.h \(Debian package zlib1g-dev'
cm_expect_match "inspect: writable pointer TODO" "$CM_TMP/i.out" "TODO: parameter 'dest'.*cloudm probe"
"$CLOUDM" inspect disc_slow_name --object "$CM_BIN/libdisc.so" >"$CM_TMP/i2.out" 2>&1
cm_expect_match "inspect: DWARF" "$CM_TMP/i2.out" '^signature = i64 disc_slow_name\(str name, i32 k\)$'
cm_expect_match "inspect: DWARF source" "$CM_TMP/i2.out" "^# prototype: DWARF \\($CM_BIN/libdisc.so\\)"
"$CLOUDM" inspect disc_slow_repeat -- "$P" >"$CM_TMP/i3.out" 2>&1
cm_expect_match "inspect with PROGRAM" "$CM_TMP/i3.out" '^# object: .*/libdisc.so$'
cm_done
