/*
 * legacy_sig.c - the functions test_signatures.sh memoizes: one per signature shape (see
 * legacy.h for each contract).
 *
 * What it does: deterministic results that depend on every keyed argument bit (so a key that
 * drops or conflates an argument shows up as a wrong printed value) and on nothing that the key
 * leaves out (so a correct cache never changes the output).
 *
 * What it does not do: print on stdout. lg_ctx_id and lg_ctx_name are the handle functions
 * cloudm calls itself; they count into their own slots so a test can tell.
 */
#include "legacy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void lg_count(enum lg_fn f);

int32_t legacy_factor = 2;
int32_t legacy_sign = 1;
/* Exported but absent from legacy.h: programs change it only through lg_set_bias(), so it has
 * no copy relocation and lives in liblegacy itself (legacy_factor, assigned by programs, lives
 * in the executable). `reads =` must find the copy the library actually uses in both cases. */
int32_t legacy_bias = 100;

void lg_set_bias(int32_t b)
{
    legacy_bias = b;
}

int32_t lg_zero(void)
{
    lg_count(LG_ZERO);
    return 0x2a;
}

int64_t lg_sq(int64_t x)
{
    lg_count(LG_SQ);
    return x * x + 1;
}

float lg_g(float a, double b, int8_t c, uint16_t d)
{
    lg_count(LG_G);
    return (float)(a * 1.5 + b / 3.0 + c * 0.25 + d * 0.125);
}

uint64_t lg_six(uint8_t a, int16_t b, uint32_t c, int64_t d, uint16_t e, int8_t f)
{
    lg_count(LG_SIX);
    return (uint64_t)a * 1000003u ^ (uint64_t)(int64_t)b * 7919u ^ (uint64_t)c << 20 ^
           (uint64_t)d * 31u ^ (uint64_t)e << 44 ^ (uint64_t)(int64_t)f;
}

double lg_eight(double a, double b, double c, double d, double e, double f, double g, double h)
{
    lg_count(LG_EIGHT);
    return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h;
}

double lg_fstack(int32_t n, double a, double b, double c, double d, double e, double f, double g,
                 double h, double i, double j, float k)
{
    lg_count(LG_FSTACK);
    return n * 0.25 + a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h + 10 * i + 100 * j +
           1000.0 * k;
}

double lg_fourteen(int32_t a, double b, int64_t c, float d, uint8_t e, double f, int16_t g,
                   uint32_t h, double i, int64_t j, uint16_t k, float l, int8_t m, uint64_t n)
{
    lg_count(LG_FOURTEEN);
    return a + b * 2 + (double)c * 3 + d * 4 + e * 5 + f * 6 + g * 7 + h * 8.0 + i * 9 +
           (double)j * 10 + k * 11 + l * 12 + m * 13 + (double)n * 14;
}

double lg_many(int64_t a1, double b1, int32_t a2, double b2, int64_t a3, float b3, int64_t a4,
               double b4, int16_t a5, double b5, int64_t a6, double b6, int32_t a7, double b7,
               double b8, float b9, uint8_t a8, double b10)
{
    lg_count(LG_MANY);
    double ints =
        (double)a1 + 2.0 * a2 + 3.0 * a3 + 4.0 * a4 + 5.0 * a5 + 6.0 * a6 + 7.0 * a7 + 8.0 * a8;
    double flts =
        b1 / 2 + b2 / 3 + b3 / 4 + b4 / 5 + b5 / 6 + b6 / 7 + b7 / 8 + b8 / 9 + b9 / 10 + b10 / 11;
    return ints * 1000.0 + flts;
}

char *lg_upper(const char *s)
{
    lg_count(LG_UPPER);
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *r = malloc(n + 3);
    if (!r)
        return NULL;
    r[0] = '<';
    for (size_t i = 0; i < n; i++)
        r[i + 1] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 32) : s[i];
    r[n + 1] = '>';
    r[n + 2] = 0;
    return r;
}

int64_t lg_strkey(const char *s)
{
    lg_count(LG_STRKEY);
    if (!s)
        return -1;
    int64_t k = 7;
    for (; *s; s++)
        k = k * 131 + (unsigned char)*s;
    return k;
}

int32_t lg_fill(void *buf, uint64_t n, uint8_t seed)
{
    lg_count(LG_FILL);
    if (!buf)
        return -1;
    unsigned char *b = buf;
    int32_t sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        b[i] = (unsigned char)(seed * 31 + i * 7 + (i >> 3));
        sum += b[i];
    }
    return sum;
}

void lg_scale(int32_t *v, int32_t n, float k)
{
    lg_count(LG_SCALE);
    for (int32_t i = 0; v && i < n; i++)
        v[i] = (int32_t)(v[i] * k) + i;
}

uint32_t lg_crc(const void *data, uint64_t len)
{
    lg_count(LG_CRC);
    if (!data)
        return 0x5a5a5a5au;
    const unsigned char *p = data;
    uint32_t c = 0xffffffffu;
    for (uint64_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int b = 0; b < 8; b++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

int32_t lg_digits(int64_t v, char *buf)
{
    lg_count(LG_DIGITS);
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    int32_t w = 0;
    if (v < 0)
        buf[w++] = '-';
    while (n)
        buf[w++] = tmp[--n];
    buf[w++] = 0;
    return w;
}

int32_t lg_factor_apply(int32_t x)
{
    lg_count(LG_FACTOR_APPLY);
    return x * legacy_factor + 1;
}

int32_t lg_bias_apply(int32_t x)
{
    lg_count(LG_BIAS_APPLY);
    return x * 3 + legacy_bias;
}

double lg_gam(double x)
{
    lg_count(LG_GAM);
    double r = x * x - 3 * x + 0.5;
    legacy_sign = r < 0 ? -1 : 1;
    return r < 0 ? -r : r;
}

double lg_root(double x)
{
    lg_count(LG_ROOT);
    if (x < 0) {
        errno = EDOM;
        return -(x - x) / (x - x); /* a NaN computed at run time */
    }
    if (x == 0)
        return x;
    double r = x > 1 ? x : 1;
    for (int i = 0; i < 60; i++)
        r = 0.5 * (r + x / r);
    return r;
}

int64_t lg_table_get(const int64_t *tab, int32_t i)
{
    lg_count(LG_TABLE_GET);
    return tab ? tab[i] : -1;
}

struct lg_ctx *lg_ctx_new(int32_t kind)
{
    struct lg_ctx *c = calloc(1, sizeof *c);
    if (c) {
        c->kind = kind;
        c->mul = kind * 10 + 3;
        c->name[0] = 'c', c->name[1] = 't', c->name[2] = 'x', c->name[3] = '-';
        c->name[4] = (char)('0' + kind % 10);
    }
    return c;
}

int64_t lg_ctx_id(const struct lg_ctx *c)
{
    lg_count(LG_CTX_ID);
    return c->kind;
}

const char *lg_ctx_name(const struct lg_ctx *c)
{
    lg_count(LG_CTX_NAME);
    return c->name;
}

int64_t lg_ctx_apply(const struct lg_ctx *c, int64_t x)
{
    lg_count(LG_CTX_APPLY);
    return x * c->mul + c->kind;
}

int64_t lg_ctx_apply_s(const struct lg_ctx *c, int64_t x)
{
    lg_count(LG_CTX_APPLY_S);
    return x * c->mul - c->kind;
}

char *lg_format_r(int32_t x, struct lg_fmt_data *data)
{
    lg_count(LG_FORMAT_R);
    memset(data->buf, '.', sizeof data->buf);
    data->buf[sizeof data->buf - 1] = 0;
    if (x < 0)
        return NULL;
    char *p = data->buf + x % 5;
    int n = 0;
    for (int32_t v = x; n < 6; v /= 7)
        p[n++] = (char)('a' + v % 7);
    p[n] = 0;
    return p;
}

int64_t lg_ignore(int64_t x, int64_t verbose)
{
    lg_count(LG_IGNORE);
    (void)verbose;
    return x * x * x - x;
}

int32_t lg_low32(int32_t x)
{
    lg_count(LG_LOW32);
    return x * 5 - 3;
}

int32_t lg_narrow(int8_t a, uint16_t b, int32_t c)
{
    lg_count(LG_NARROW);
    return a * 100000 + b * 3 + c;
}

double lg_recip(double x)
{
    lg_count(LG_RECIP);
    return 1.0 / x;
}

/* Recursion through the exported symbol's GOT slot (the address is read from the GOT on every
 * call): gcc binds a plain self-call locally, even with semantic interposition, and the inner
 * levels would never reach the slot the shim patches. A library calling its own exported
 * function through its PLT behaves the same way. */
int64_t lg_fib(int32_t n)
{
    int64_t (*volatile self)(int32_t) = lg_fib;
    lg_count(LG_FIB);
    if (n < 2)
        return n;
    int64_t a = self(n - 1);
    int64_t b = self(n - 2);
    return a + b;
}

int64_t lg_outer(int32_t x)
{
    lg_count(LG_OUTER);
    return lg_sq(x) + lg_sq(x + 1);
}
