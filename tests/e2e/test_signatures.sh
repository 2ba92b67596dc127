#!/bin/bash
# test_signatures.sh - every shape of the signature language, one case of prog/sigs.c at a time,
# with prog/sigs.c built at -O0 and -O2, against conf/sigs.conf.
#
# Proves, per case: the memoized output and status are byte-identical to the plain run; the
# report's calls, hits, misses and errors for each function are exactly what the case's
# argument sets imply; the function really ran (liblegacy's own count) exactly misses + errors
# times, against `calls` times in the plain run. What each case covers:
#   zero        0 parameters                       sq        one i64
#   g           f32 return, f32 f64 i8 u16          six       six integer widths/signedness
#   eight       8 f64 (all SSE registers)           fstack    f64 and an f32 on the stack
#   fourteen    14 parameters, integers on the stack; round 2 through a pointer that puts
#               garbage above every i8/u8/i16/u16/i32/u32 and above both f32 (register, stack)
#   many        18 parameters, both classes on the stack (with garbage as above)
#   str_ret     `str` return (callee-owned buffer)  mstr      `mstr` return; NULL in and out
#   strnull     `str` param: NULL differs from "", keyed by content not address
#   out         out[n], n = 0, NULL buffer; bytes past n untouched
#   pack        out[*outlen] + inout[8] (compress2 shape), NULL out; NULL outlen -> errors
#   outlen      out[*dst_len] + out[8] (lzo1x_999_compress_level shape): the stale *dst_len
#               the caller leaves is not keyed, every repeated block is a hit
#   scale       inout[n*4]                           in        in[len]: content, NULL vs empty
#   digits      out[retval]
#   reads       `reads =` of a global the executable owns (copy relocation) and of one the
#               library owns
#   writes      `writes =` restored on hits          errno     `errno = yes`
#   ptr         `ptr` into static data (object + offset), a heap pointer, NULL
#   handle      handle(FUNC) and handle(FUNC:str): a static and a heap context share entries
#   retptr      ptr(NAME) return rebuilt into the current call's buffer
#   ignore      `ignore` parameter not keyed        floatkeys -0.0 and 0.0 differ
#   garbage     i32 / i8 / u16 called with garbage in the upper bits of their registers
#   recursive   a memoized recursive function memoized at every level; one memoized
#               function calling another
# sq also checks that the caller's errno survives misses and hits of a function that does not
# set it. With a 1 MiB memory tier (conf/small.conf written below):
#   big         a 2 MiB `in` input enters the key as length + digest: cached like a small one
#   evict       20000 distinct entries twice: eviction never returns a wrong answer
. "$CM_SRC/lib.sh"

CONF=$CM_SRC/conf/sigs.conf

# case function calls hits misses errors plain-execs
EXPECT='
zero      lg_zero          5   4  1 0     5
sq        lg_sq           30  20 10 0    30
g         lg_g            24  16  8 0    24
six       lg_six          21  14  7 0    21
eight     lg_eight        27  18  9 0    27
fstack    lg_fstack       39  26 13 0    39
fourteen  lg_fourteen     45  30 15 0    45
many      lg_many         57  38 19 0    57
str_ret   lg_name         18  12  6 0    18
mstr      lg_upper        12   8  4 0    12
strnull   lg_strkey       15  10  5 0    15
out       lg_fill         18  12  6 0    18
pack      lg_pack         21  12  6 3    21
outlen    lg_lzo          12   9  3 0    12
scale     lg_scale        15  10  5 0    15
in        lg_crc          18  13  5 0    18
digits    lg_digits       15  10  5 0    15
reads     lg_factor_apply 15   5 10 0    15
reads     lg_bias_apply   15   5 10 0    15
writes    lg_gam          18  12  6 0    18
errno     lg_root         15  10  5 0    15
ptr       lg_table_get    24  16  8 0    24
handle    lg_ctx_apply    36  28  8 0    36
handle    lg_ctx_apply_s  36  28  8 0    36
retptr    lg_format_r     15  10  5 0    15
ignore    lg_ignore       30  25  5 0    30
garbage   lg_low32        15  10  5 0    15
garbage   lg_narrow        9   6  3 0     9
floatkeys lg_recip        12   8  4 0    12
recursive lg_fib          40  19 21 0 43782
recursive lg_outer         8   4  4 0     8
recursive lg_sq            8   3  5 0    16
'

for opt in O0 O2; do
  prog=$CM_BIN/sigs_$opt
  cm_require "$CLOUDM" "$prog" || continue
  done_cases=" "
  while read -r c fn calls hits misses errors plain; do
    [ -n "$c" ] || continue
    p=$opt.$c.plain m=$opt.$c.memo
    case "$done_cases" in
      *" $c "*) ;;
      *)
        cm_plain "$p" "$prog" "$c"
        cm_memo "$m" "$CONF" "$prog" "$c"
        cm_expect_eq "$p exit status" "$(cat "$CM_TMP/$p.rc")" 0
        cm_same "$p" "$m"
        cm_expect_nomatch "$m: no cloudm message for a clean config" "$CM_TMP/$m.err" '^cloudm'
        done_cases="$done_cases$c "
        ;;
    esac
    cm_counts "$m" "$fn" "$calls" "$hits" "$misses" "$errors"
    cm_invariant "$m" "$fn"
    cm_expect_eq "$p execs $fn" "$(cm_execs "$p" "$fn")" "$plain"
    cm_expect_eq "$m execs $fn (misses + errors)" "$(cm_execs "$m" "$fn")" $((misses + errors))
  done <<<"$EXPECT"
done

# --- the shared tier: what one process stored, the next one reads ------------------------------
# Scalar functions read the segment by their word key (dispatch.c fast_shared, tier/shared.c
# cm_shared_get_words) while every entry is stored by the general path (key.c's bytes): a second
# process answered entirely from the segment proves both build the same key for every width,
# with garbage above narrow arguments, stack arguments, an ignored parameter, writes and errno.
prog=$CM_BIN/sigs_O2
if cm_require "$CLOUDM" "$prog"; then
  export CLOUDM_SHARED_PATH="$CM_TMP/sigs-segment"
  while read -r c fn calls; do
    [ -n "$c" ] || continue
    CLOUDM_TIERS=shared cm_memo "sh1.$c.$fn" "$CONF" "$prog" "$c"
    CLOUDM_TIERS=shared cm_memo "sh2.$c.$fn" "$CONF" "$prog" "$c"
    cm_same "O2.$c.plain" "sh2.$c.$fn"
    cm_expect_eq "shared, second process: $fn shared hits" \
      "$(cm_fn "sh2.$c.$fn" "$fn" '"\(.hits.shared) \(.misses) \(.errors)"')" "$calls 0 0"
    cm_expect_eq "shared, second process: $fn never ran" "$(cm_execs "sh2.$c.$fn" "$fn")" 0
  done <<'CASES'
zero      lg_zero      5
sq        lg_sq       30
g         lg_g        24
six       lg_six      21
eight     lg_eight    27
fstack    lg_fstack   39
fourteen  lg_fourteen 45
many      lg_many     57
writes    lg_gam      18
errno     lg_root     15
ignore    lg_ignore   30
garbage   lg_low32    15
garbage   lg_narrow    9
floatkeys lg_recip    12
CASES
  export CLOUDM_SHARED_PATH="$CM_TMP/shm-segment"
fi

# --- a small memory tier ------------------------------------------------------------------------
SMALL=$(cm_conf small <<'CONF'
[cache]
memory_size = 1M

[function lg_crc]
signature = u32 lg_crc(in[len] data, u64 len)

[function lg_sq]
signature = i64 lg_sq(i64 x)
CONF
)
for opt in O0 O2; do
  prog=$CM_BIN/sigs_$opt
  cm_require "$prog" || continue
  for c in big evict; do
    cm_plain "$opt.$c.plain" "$prog" "$c"
    cm_memo "$opt.$c.memo" "$SMALL" "$prog" "$c"
    cm_same "$opt.$c.plain" "$opt.$c.memo"
  done
  m=$opt.big.memo
  cm_expect_eq "$m lg_crc calls hits misses errors bypassed" \
    "$(cm_fn "$m" lg_crc '"\(.calls) \(.hits.memory) \(.misses) \(.errors) \(.bypassed)"')" "6 4 2 0 0"
  cm_expect_eq "$m execs lg_crc (misses + bypassed)" "$(cm_execs "$m" lg_crc)" 2
  m=$opt.evict.memo
  cm_expect_eq "$m lg_sq calls" "$(cm_fn "$m" lg_sq .calls)" 40000
  cm_invariant "$m" lg_sq
  misses=$(cm_fn "$m" lg_sq .misses)
  cm_expect_ge "$m lg_sq misses (20000 distinct)" "$misses" 20000
  cm_expect_eq "$m execs lg_sq = misses" "$(cm_execs "$m" lg_sq)" "$misses"
done

cm_done
