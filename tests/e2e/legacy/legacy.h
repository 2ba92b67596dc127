/*
 * legacy.h - the "legacy" library the end-to-end tests memoize.
 *
 * What it is: deterministic functions with the shapes cloudm must handle (scalars of every
 * width and class, stack arguments, strings, in/out/inout buffers, globals read and written,
 * errno, opaque pointers and handles, pointers returned into an argument's buffer). Every
 * memoizable function counts its own real executions in `legacy_execs[]` (and the total in
 * `legacy_exec_count`), so a program can report how often the code really ran:
 * legacy_report() prints "legacy: execs NAME N" lines on stderr, never on stdout, so that
 * stdout stays byte-identical between plain and memoized runs.
 *
 * What it is not: a model of any real library. Results are chosen to differ for every argument
 * that the cache key must distinguish, so a wrong cached answer changes the program's output.
 * Nothing here is configured by default; the configs under tests/e2e/conf/ name what to memoize.
 * The *_ref functions compute the same results as their namesakes but are never configured:
 * programs use them to build tables of expected answers.
 */
#ifndef LEGACY_H
#define LEGACY_H

#include <stddef.h>
#include <stdint.h>

/* Counter slots, one per function (order matches the name table in liblegacy.c). */
enum lg_fn {
    LG_POLY,
    LG_WAVE,
    LG_STRHASH,
    LG_PACK,
    LG_MIX64,
    LG_NAME,
    LG_ZERO,
    LG_SQ,
    LG_G,
    LG_SIX,
    LG_EIGHT,
    LG_FSTACK,
    LG_FOURTEEN,
    LG_MANY,
    LG_UPPER,
    LG_STRKEY,
    LG_FILL,
    LG_SCALE,
    LG_CRC,
    LG_DIGITS,
    LG_FACTOR_APPLY,
    LG_BIAS_APPLY,
    LG_GAM,
    LG_ROOT,
    LG_TABLE_GET,
    LG_CTX_APPLY,
    LG_CTX_APPLY_S,
    LG_CTX_ID,
    LG_CTX_NAME,
    LG_FORMAT_R,
    LG_IGNORE,
    LG_LOW32,
    LG_NARROW,
    LG_RECIP,
    LG_FIB,
    LG_OUTER,
    LG_I128,
    LG_U128_SPILL,
    LG_CMUL,
    LG_C32,
    LG_CSPILL,
    LG_LZO,
    LG_NFN
};

extern unsigned long legacy_exec_count;    /* real executions of every counted function */
extern unsigned long legacy_execs[LG_NFN]; /* per function */

/* Globals the tests name in `reads =` / `writes =`. */
extern int32_t legacy_factor; /* read by lg_factor_apply; programs assign it directly */
extern int32_t legacy_sign;   /* written by lg_gam, like libm's signgam */
void lg_set_bias(int32_t b);  /* legacy_bias is only reachable through this setter */

/* Print "legacy: execs NAME N" for every function that ran (N > 0), and the total. */
void legacy_report(void);

/* --- used by the build matrix, threads, modes, fork/exec ---------------------------------- */
int64_t lg_poly(int32_t x);
double lg_wave(double x, int32_t n);
uint32_t lg_strhash(const char *s); /* FNV-1a; NULL -> 0xffffffff, "" -> 2166136261 */
/* Run-length "compression", zlib compress2 shape: *outlen is the capacity on entry and the
 * bytes written on return. Returns 0, -5 when out is too small, -2 on NULL outlen/src. */
int32_t lg_pack(void *out, uint64_t *outlen, const void *src, uint64_t n, int32_t level);
uint64_t lg_mix64(uint64_t x);
const char *lg_name(int32_t n); /* thread-local static buffer, overwritten by the next call */

uint64_t lg_mix64_ref(uint64_t x);
double lg_wave_ref(double x, int32_t n);

/* --- signatures ----------------------------------------------------------------------------- */
int32_t lg_zero(void);
int64_t lg_sq(int64_t x);
float lg_g(float a, double b, int8_t c, uint16_t d);
uint64_t lg_six(uint8_t a, int16_t b, uint32_t c, int64_t d, uint16_t e, int8_t f);
double lg_eight(double a, double b, double c, double d, double e, double f, double g, double h);
/* 8 floats in xmm0-7, then i, j and the f32 k on the stack */
double lg_fstack(int32_t n, double a, double b, double c, double d, double e, double f, double g,
                 double h, double i, double j, float k);
/* 9 integers (k, m, n on the stack) and 5 floats */
double lg_fourteen(int32_t a, double b, int64_t c, float d, uint8_t e, double f, int16_t g,
                   uint32_t h, double i, int64_t j, uint16_t k, float l, int8_t m, uint64_t n);
/* 8 integers and 10 floats: both classes on the stack (a7 i32, a8 u8, b9 f32, b10 f64) */
double lg_many(int64_t a1, double b1, int32_t a2, double b2, int64_t a3, float b3, int64_t a4,
               double b4, int16_t a5, double b5, int64_t a6, double b6, int32_t a7, double b7,
               double b8, float b9, uint8_t a8, double b10);
char *lg_upper(const char *s);    /* malloc'd upper-case copy; NULL -> NULL */
int64_t lg_strkey(const char *s); /* NULL -> -1, "" -> 7, else content-dependent */
int32_t lg_fill(void *buf, uint64_t n, uint8_t seed); /* writes n bytes; NULL -> -1 */
void lg_scale(int32_t *v, int32_t n, float k);        /* v[i] = v[i] * k + i */
uint32_t lg_crc(const void *data, uint64_t len);      /* NULL -> 0x5a5a5a5a */
int32_t lg_digits(int64_t v, char *buf); /* writes decimal + NUL, returns bytes written */
int32_t lg_factor_apply(int32_t x);      /* x * legacy_factor + 1 */
int32_t lg_bias_apply(int32_t x);        /* x * 3 + legacy_bias */
double lg_gam(double x);                 /* sets legacy_sign to -1 or 1 */
double lg_root(double x);                /* sqrt by Newton; x < 0: NaN, errno = EDOM */
int64_t lg_table_get(const int64_t *tab, int32_t i); /* tab[i]; NULL -> -1 */

struct lg_ctx {
    int32_t kind;
    int64_t mul;
    char name[16];
};
#define LG_CTX_INIT(k)                                                                             \
    {                                                                                              \
        (k), (k)*10 + 3, "ctx-" #k                                                                 \
    }
struct lg_ctx *lg_ctx_new(int32_t kind);         /* heap context equal to LG_CTX_INIT(kind) */
int64_t lg_ctx_id(const struct lg_ctx *c);       /* kind */
const char *lg_ctx_name(const struct lg_ctx *c); /* name */
int64_t lg_ctx_apply(const struct lg_ctx *c, int64_t x);   /* x * mul + kind */
int64_t lg_ctx_apply_s(const struct lg_ctx *c, int64_t x); /* x * mul - kind */

struct lg_fmt_data {
    char buf[64];
};
/* Like crypt_r: fills all of data->buf and returns a pointer into it (offset x % 5), or NULL
 * when x < 0. */
char *lg_format_r(int32_t x, struct lg_fmt_data *data);
int64_t lg_ignore(int64_t x, int64_t verbose); /* verbose does not change the result */
int32_t lg_low32(int32_t x);
int32_t lg_narrow(int8_t a, uint16_t b, int32_t c);
double lg_recip(double x);   /* 1 / x: -0.0 and 0.0 give -inf and +inf */
int64_t lg_fib(int32_t n);   /* recursive through its own PLT slot */
int64_t lg_outer(int32_t x); /* calls lg_sq through the PLT */

/* --- 128-bit integers and complex numbers (legacy_wide.c), used by the build matrix --------- */
__int128 lg_i128(__int128 a, unsigned __int128 b); /* rdi:rsi, rdx:rcx -> rax:rdx */
/* a..e take rdi..r8; x does not fit the one register left: stack[0..1]; f takes r9; g
 * stack[2]; y stack[4..5] (16-byte aligned, slot 3 is padding) */
unsigned __int128 lg_u128_spill(int64_t a, int64_t b, int64_t c, int64_t d, int64_t e,
                                unsigned __int128 x, int64_t f, int64_t g, unsigned __int128 y);
double _Complex lg_cmul(double _Complex a, double _Complex b); /* xmm0:1, xmm2:3 -> xmm0:1 */
float _Complex lg_c32(float _Complex a, float b, float _Complex c); /* xmm0, xmm1, xmm2 */
/* a..g take xmm0-6; z does not fit the one SSE register left: stack[0..1]; w takes xmm7; n rdi */
double _Complex lg_cspill(double a, double b, double c, double d, double e, double f, double g,
                          double _Complex z, float _Complex w, int32_t n);

/* --- an out-only length (lzo1x_999_compress_level's shape, legacy_wide.c) --------------------
 * Writes *dst_len (the bytes it wrote to dst) and never reads it. Returns 0, -1 on NULL. */
int32_t lg_lzo(const void *src, uint64_t src_len, void *dst, uint64_t *dst_len, void *wrkmem,
               const void *dict, uint64_t dict_len, void *cb, int32_t level);

#endif
