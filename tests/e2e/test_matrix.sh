#!/bin/bash
# test_matrix.sh - the build matrix: prog/matrix.c built 16 ways (-O0/-O2 x PIE/non-PIE x
# lazy/BIND_NOW x PLT/-fno-plt), each run plain once and memoized twice.
#
# Proves, for every variant: the memoized output and exit status are byte-identical to the plain
# run; every configured function (four in liblegacy, lgamma in libm) was hooked and answered
# 950 of its 1000 calls from the memory tier with exactly 50 misses; liblegacy's functions
# really ran only 50 times; signgam is restored on lgamma hits (the program prints it after
# resetting it to a sentinel). The 128-bit and complex functions (i128/u128 in rdi..r9 and in
# 16-byte aligned stack slots, c32 in one xmm, c64 in two or on the stack) print every bit of
# their results, so a wrong placement or a key missing an eightbyte changes the output. A second memoized run (a new process: the memory tier is per
# process) gives the same counts. First it checks that the variants really differ the way their
# names say (ELF type, BIND_NOW, JUMP_SLOT vs GLOB_DAT), so the matrix cannot silently collapse.
. "$CM_SRC/lib.sh"

CONF=$CM_SRC/conf/matrix.conf
LEGACY_FNS="lg_poly lg_wave lg_strhash lg_pack lg_i128 lg_u128_spill lg_cmul lg_c32 lg_cspill"

for opt in O0 O2; do for pie in pie nopie; do for bind in lazy now; do for plt in plt noplt; do
  v=${opt}_${pie}_${bind}_${plt}
  prog=$CM_BIN/matrix_$v
  cm_require "$CLOUDM" "$prog" || continue

  # The binary is what its name says.
  type=$(readelf -h "$prog" | awk '/Type:/ {print $2}')
  cm_expect_eq "$v ELF type" "$type" "$([ $pie = pie ] && echo DYN || echo EXEC)"
  now=$(readelf -d "$prog" | grep -c 'BIND_NOW\|FLAGS.*NOW')
  cm_expect_eq "$v BIND_NOW" "$([ "$now" -gt 0 ] && echo now || echo lazy)" "$bind"
  slot=$(readelf -rW "$prog" | awk '$5 == "lg_poly" || $5 ~ /^lg_poly@/ {print $3}')
  cm_expect_eq "$v lg_poly relocation" "$slot" \
    "$([ $plt = plt ] && echo R_X86_64_JUMP_SLOT || echo R_X86_64_GLOB_DAT)"

  cm_plain "$v.plain" "$prog"
  cm_expect_eq "$v plain exit status" "$(cat "$CM_TMP/$v.plain.rc")" 3
  for f in $LEGACY_FNS; do
    cm_expect_eq "$v plain execs $f" "$(cm_execs "$v.plain" "$f")" 1000
  done

  for run in 1 2; do
    r=$v.memo$run
    cm_memo "$r" "$CONF" "$prog"
    cm_same "$v.plain" "$r"
    cm_expect_nomatch "$r: no cloudm message for a clean config" "$CM_TMP/$r.err" '^cloudm'
    # name calls memory shared remote misses errors bypassed distinct: one jq run per report
    table=$(cm_table "$r")
    for f in $LEGACY_FNS lgamma; do
      cm_expect_eq "$r $f counts" "$(awk -v f="$f" '$1 == f' <<<"$table")" \
        "$f 1000 950 0 0 50 0 0 null"
    done
    for f in $LEGACY_FNS; do
      cm_expect_eq "$r execs $f" "$(cm_execs "$r" "$f")" 50
    done
  done
done; done; done; done

cm_done
