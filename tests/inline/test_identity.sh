#!/bin/bash
# test_identity.sh - what invalidates the shared cache: identity = code | object | name.
#
# Proves, with the shared tier only and one segment per scenario:
#   code (default): a build differing only in an unrelated function answers every call from the
#     first build's entries (all hits, nothing executed, output right); a build whose callee
#     changed, or whose constant changed, misses every distinct argument again;
#   object: the unrelated rebuild misses (its build-id changed);
#   name: even the changed callee hits (the user's responsibility, with `salt`).
# Also: `cloudm check` prints the identity and what it was derived from; it is equal for base
# and unrel, different for callee.
. "$CM_E2E/lib.sh"

for b in base unrel callee const; do cm_require "$CLOUDM" "$CM_BIN/ident_$b" || cm_done; done
export CLOUDM_TIERS=shared
for b in base unrel callee const; do cm_plain "p_$b" "$CM_BIN/ident_$b"; done
cm_expect_eq "the callee change changes the output" "$(cmp -s "$CM_TMP/p_base.out" "$CM_TMP/p_callee.out"; echo $?)" 1

conf() { # conf NAME IDENTITY
  cm_conf "$1" <<C
[function target]
signature = i64 target(i64 n)
identity = $2
C
}

# run SCENARIO BUILD CONF: under the scenario's own segment
run() {
  CLOUDM_SHARED_PATH=$CM_TMP/seg-$1 cm_run "$1_$2" -c "$3" --report="$CM_TMP/$1_$2.json" -- "$CM_BIN/ident_$2"
  cm_same "p_$2" "$1_$2"
}

CODE=$(conf code code)
for other in unrel callee const; do
  run "c$other" base "$CODE"
  cm_counts "c${other}_base" target 200 180 20
  run "c$other" "$other" "$CODE"
done
cm_counts cunrel_unrel target 200 200 0
cm_expect_eq "unrelated change: target never ran" "$(cm_execs cunrel_unrel target)" 0
cm_counts ccallee_callee target 200 180 20
cm_counts cconst_const target 200 180 20

OBJ=$(conf obj object)
run obj base "$OBJ"
run obj unrel "$OBJ"
cm_counts obj_unrel target 200 180 20

NAME=$(conf name name)
CLOUDM_SHARED_PATH=$CM_TMP/seg-name cm_run name_base -c "$NAME" --report="$CM_TMP/name_base.json" -- "$CM_BIN/ident_base"
CLOUDM_SHARED_PATH=$CM_TMP/seg-name cm_run name_callee -c "$NAME" --report="$CM_TMP/name_callee.json" -- "$CM_BIN/ident_callee"
cm_counts name_callee target 200 200 0

for b in base unrel callee; do
  timeout 60 "$CLOUDM" check -c "$CODE" "$CM_BIN/ident_$b" >"$CM_TMP/check_$b.out" 2>&1
  sed -n 's/^target identity \([0-9a-f]*\) .*/\1/p' "$CM_TMP/check_$b.out" >"$CM_TMP/id_$b"
done
cm_expect_match "check: identity from code" "$CM_TMP/check_base.out" '^target identity [0-9a-f]{16}  from code \(normalized code at 0x[0-9a-f]+ in .*ident_base(, from the identity cache)?\)$'
cm_expect_eq "check: base and unrel share the identity" "$(cat "$CM_TMP/id_unrel")" "$(cat "$CM_TMP/id_base")"
CM_CHECKS=$((CM_CHECKS + 1))
if [ -s "$CM_TMP/id_callee" ] && ! cmp -s "$CM_TMP/id_callee" "$CM_TMP/id_base"; then cm_ok "check: callee change changes the identity"; else cm_fail "callee identity unchanged"; fi
cm_done
