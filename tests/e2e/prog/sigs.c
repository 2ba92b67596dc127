/*
 * sigs.c - one program per signature shape: `sigs CASE` runs one case of test_signatures.sh.
 *
 * What it does: each case calls one or two liblegacy functions with a fixed list of distinct
 * argument sets, several rounds, printing every result (floats with %a, buffers in hex, in full,
 * including bytes the function must not touch). test_signatures.sh knows how many calls, hits
 * and misses each case must produce; liblegacy's execution counts go to stderr.
 *
 * Argument sets are built so that dropping or mis-reading any keyed argument makes two sets
 * collide and prints a wrong value: each set differs from a base set in one argument. Several
 * cases call through function pointers cast to wider parameter types to put garbage in the
 * bits the ABI leaves undefined (upper halves of narrow integers and of f32 registers/slots).
 *
 * What it does not do: check results itself (the plain run is the reference).
 */
#include "../legacy/legacy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define G1 0xdeadbeef00000000ull
#define G2 0x1234567800000000ull

static void hex(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        printf("%02x", b[i]);
    printf("\n");
}

/* A double whose low 32 bits hold the float f and whose upper bits are garbage: passed where
 * the callee expects an f32, it must be keyed and read as f only. */
static double fgarb(float f, uint64_t garbage)
{
    union {
        double d;
        uint64_t u;
    } x;
    uint32_t fb;
    memcpy(&fb, &f, 4);
    x.u = garbage | fb;
    return x.d;
}

static void c_zero(void)
{
    for (int i = 0; i < 5; i++)
        printf("zero %d\n", lg_zero());
}

static void c_sq(void)
{
    /* lg_sq never touches errno: whatever the shim does on a miss or a hit, the caller's errno
     * must come back unchanged. */
    for (int r = 0; r < 3; r++)
        for (int64_t x = 0; x < 10; x++) {
            errno = 40 + (int)x;
            int64_t v = lg_sq(x * 1000003 - 7);
            int e = errno;
            printf("sq %lld %lld errno %d\n", (long long)x, (long long)v, e);
        }
}

static void c_g(void)
{
    static const struct {
        float a;
        double b;
        int8_t c;
        uint16_t d;
    } s[8] = {
        {1.5f, 2.25, -3, 40000},   {1.75f, 2.25, -3, 40000}, {1.5f, 2.5, -3, 40000},
        {1.5f, 2.25, 3, 40000},    {1.5f, 2.25, -3, 40001},  {1.75f, 2.25, 3, 40000},
        {1.5f, 2.25, -128, 40000}, {1.5f, 2.25, -3, 65535},
    };
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 8; i++)
            printf("g %d %a\n", i, (double)lg_g(s[i].a, s[i].b, s[i].c, s[i].d));
}

static void c_six(void)
{
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 7; i++) {
            uint8_t a = 200;
            int16_t b = -300;
            uint32_t c = 4000000000u;
            int64_t d = -5000000000ll;
            uint16_t e = 60000;
            int8_t f = -100;
            switch (i) {
            case 1:
                a = 201;
                break;
            case 2:
                b = -301;
                break;
            case 3:
                c = 4000000001u;
                break;
            case 4:
                d = -5000000001ll;
                break;
            case 5:
                e = 60001;
                break;
            case 6:
                f = -99;
                break;
            }
            printf("six %d %llu\n", i, (unsigned long long)lg_six(a, b, c, d, e, f));
        }
}

static void c_eight(void)
{
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 9; i++) {
            double v[8] = {0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5};
            if (i)
                v[i - 1] += 0.0625;
            printf("eight %d %a\n", i, lg_eight(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]));
        }
}

static void c_fstack(void)
{
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 13; i++) {
            int32_t n = 7;
            double v[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9.25, 10.5};
            float k = 0.375f;
            if (i == 1)
                n = 8;
            else if (i >= 2 && i <= 11)
                v[i - 2] += 0.5;
            else if (i == 12)
                k = 0.4375f;
            printf("fstack %d %a\n", i,
                   lg_fstack(n, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], k));
        }
}

/* lg_fourteen seen with every narrow parameter widened: the caller leaves garbage above them. */
typedef double (*fourteen_wide)(int64_t a, double b, int64_t c, double d, int64_t e, double f,
                                int64_t g, int64_t h, double i, int64_t j, int64_t k, double l,
                                int64_t m, uint64_t n);

static void c_fourteen(void)
{
    fourteen_wide wide = (fourteen_wide)(void (*)(void))lg_fourteen;
    for (int r = 0; r < 3; r++)
        for (int s = 0; s < 15; s++) {
            int32_t a = -11;
            double b = 2.5;
            int64_t c = 1ll << 20;
            float d = 0.25f;
            uint8_t e = 250;
            double f = -6.5;
            int16_t g = -32000;
            uint32_t h = 3000000000u;
            double i = 9.125;
            int64_t j = -(1ll << 25);
            uint16_t k = 65000;
            float l = -12.5f;
            int8_t m = -128;
            uint64_t n = 1ull << 22;
            switch (s) {
            case 1:
                a++;
                break;
            case 2:
                b += 1;
                break;
            case 3:
                c++;
                break;
            case 4:
                d += 1;
                break;
            case 5:
                e++;
                break;
            case 6:
                f += 1;
                break;
            case 7:
                g++;
                break;
            case 8:
                h++;
                break;
            case 9:
                i += 1;
                break;
            case 10:
                j++;
                break;
            case 11:
                k++;
                break;
            case 12:
                l += 1;
                break;
            case 13:
                m++;
                break;
            case 14:
                n += 1024;
                break;
            }
            double v;
            if (r == 1) /* same arguments, garbage in every undefined bit */
                v = wide(G1 | (uint32_t)a, b, c, fgarb(d, G2), G1 | e, f, G2 | (uint16_t)g, G1 | h,
                         i, j, G2 | k, fgarb(l, G1), G1 | (uint8_t)m, n);
            else
                v = lg_fourteen(a, b, c, d, e, f, g, h, i, j, k, l, m, n);
            printf("fourteen %d %a\n", s, v);
        }
}

typedef double (*many_wide)(int64_t a1, double b1, int64_t a2, double b2, int64_t a3, double b3,
                            int64_t a4, double b4, int64_t a5, double b5, int64_t a6, double b6,
                            int64_t a7, double b7, double b8, double b9, int64_t a8, double b10);

static void c_many(void)
{
    many_wide wide = (many_wide)(void (*)(void))lg_many;
    for (int r = 0; r < 3; r++)
        for (int s = 0; s < 19; s++) {
            int64_t a1 = 1, a3 = 3, a4 = -4, a6 = 6000000000ll;
            int32_t a2 = -2, a7 = -7;
            int16_t a5 = 5;
            uint8_t a8 = 8;
            double b1 = 0.5, b2 = 1.5, b4 = 3.5, b5 = 4.5, b6 = 5.5, b7 = 6.5, b8 = 7.5, b10 = 9.5;
            float b3 = 2.5f, b9 = 8.5f;
            switch (s) {
            case 1:
                a1++;
                break;
            case 2:
                a2++;
                break;
            case 3:
                a3++;
                break;
            case 4:
                a4++;
                break;
            case 5:
                a5++;
                break;
            case 6:
                a6++;
                break;
            case 7:
                a7++;
                break;
            case 8:
                a8++;
                break;
            case 9:
                b1 += 1;
                break;
            case 10:
                b2 += 1;
                break;
            case 11:
                b3 += 1;
                break;
            case 12:
                b4 += 1;
                break;
            case 13:
                b5 += 1;
                break;
            case 14:
                b6 += 1;
                break;
            case 15:
                b7 += 1;
                break;
            case 16:
                b8 += 1;
                break;
            case 17:
                b9 += 1;
                break;
            case 18:
                b10 += 1;
                break;
            }
            double v;
            if (r == 1)
                v = wide(a1, b1, G1 | (uint32_t)a2, b2, a3, fgarb(b3, G2), a4, b4,
                         G2 | (uint16_t)a5, b5, a6, b6, G1 | (uint32_t)a7, b7, b8, fgarb(b9, G1),
                         G2 | a8, b10);
            else
                v = lg_many(a1, b1, a2, b2, a3, b3, a4, b4, a5, b5, a6, b6, a7, b7, b8, b9, a8,
                            b10);
            printf("many %d %a\n", s, v);
        }
}

static void c_str_ret(void)
{
    for (int r = 0; r < 3; r++)
        for (int n = 0; n < 6; n++) {
            const char *s = lg_name(n * 37 - 50);
            printf("name %d %s %zu\n", n, s, strlen(s));
        }
}

static void c_mstr(void)
{
    static const char *const in[4] = {"abc", "", "Hello World", NULL};
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 4; i++) {
            char *u = lg_upper(in[i]);
            printf("upper %d %s\n", i, u ? u : "(null)");
            if (u) {
                u[0] = '#'; /* the caller owns it: writing must not change a later hit */
                free(u);
            }
        }
}

static void c_strnull(void)
{
    static const char *const in[5] = {"", NULL, "a", "ab", "b"};
    for (int r = 0; r < 3; r++) {
        char copy[5][8]; /* fresh addresses each round: keyed by content, not address */
        for (int i = 0; i < 5; i++) {
            const char *s = in[i];
            if (s) {
                snprintf(copy[i], sizeof copy[i], "%s", s);
                s = r ? copy[i] : s;
            }
            printf("strkey %d %lld\n", i, (long long)lg_strkey(s));
        }
    }
}

static void c_out(void)
{
    static const struct {
        uint64_t n;
        uint8_t seed;
        int null;
    } s[6] = {
        {16, 1, 0}, {16, 2, 0}, {5, 1, 0}, {0, 1, 0}, {40, 3, 0}, {8, 1, 1},
    };
    unsigned char buf[64];
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 6; i++) {
            memset(buf, 0xc0 + r, sizeof buf); /* bytes past n differ per round in both runs */
            int32_t rc = lg_fill(s[i].null ? NULL : buf, s[i].n, s[i].seed);
            printf("fill %d %d ", i, rc);
            hex(buf, sizeof buf);
        }
}

static void c_pack(void)
{
    static const struct {
        uint64_t cap;
        int len;
        int level;
        int pattern;
        int nullout;
    } s[6] = {
        {64, 40, 1, 0, 0}, {64, 40, 2, 0, 0}, {64, 30, 1, 1, 0},
        {12, 40, 1, 1, 0}, {65, 40, 1, 0, 0}, {64, 40, 1, 0, 1},
    };
    unsigned char src[64], out[80];
    for (int r = 0; r < 3; r++) {
        for (int i = 0; i < 6; i++) {
            for (int j = 0; j < 64; j++)
                src[j] = (unsigned char)(s[i].pattern ? j % 3 : j / 5);
            memset(out, 0x70 + r, sizeof out);
            uint64_t outlen = s[i].cap;
            int32_t rc =
                lg_pack(s[i].nullout ? NULL : out, &outlen, src, (uint64_t)s[i].len, s[i].level);
            printf("pack %d rc %d outlen %llu ", i, rc, (unsigned long long)outlen);
            hex(out, sizeof out);
        }
        /* NULL outlen: out[*outlen] is undefined, so cloudm must run it uncached (errors) */
        printf("pack null-outlen rc %d\n", lg_pack(out, NULL, src, 10, 1));
    }
}

static void c_scale(void)
{
    static const struct {
        int base;
        int32_t n;
        float k;
        int null;
    } s[5] = {
        {1, 8, 2.0f, 0}, {1, 8, -0.5f, 0}, {1, 4, 2.0f, 0}, {50, 8, 2.0f, 0}, {1, 0, 2.0f, 1},
    };
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 5; i++) {
            int32_t v[8];
            for (int j = 0; j < 8; j++)
                v[j] = s[i].base + j * 3;
            lg_scale(s[i].null ? NULL : v, s[i].n, s[i].k);
            printf("scale %d", i);
            for (int j = 0; j < 8; j++)
                printf(" %d", v[j]);
            printf("\n");
        }
}

static void c_in(void)
{
    char a[8], b[8];
    for (int r = 0; r < 3; r++) {
        memcpy(a, "hello", 6);
        memcpy(b, "hello", 6);
        printf("crc A %08x\n", lg_crc(a, 5));
        printf("crc B %08x\n", lg_crc(b, 5)); /* same bytes elsewhere: a hit */
        a[0] = 'j';
        printf("crc A' %08x\n", lg_crc(a, 5)); /* same address, new bytes: a miss */
        printf("crc A3 %08x\n", lg_crc(a, 3));
        printf("crc NULL %08x\n", lg_crc(NULL, 0));
        printf("crc A0 %08x\n", lg_crc(a, 0)); /* empty but not NULL */
    }
}

static void c_digits(void)
{
    static const int64_t v[5] = {0, -5, 123456789, INT64_MIN, 42};
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 5; i++) {
            char buf[32];
            memset(buf, 'a' + r, sizeof buf);
            int32_t n = lg_digits(v[i], buf);
            printf("digits %d %d ", i, n);
            hex(buf, sizeof buf);
        }
}

static void c_reads(void)
{
    static const int32_t factors[3] = {2, 3, 2};
    for (int r = 0; r < 3; r++) {
        legacy_factor = factors[r]; /* assigned directly: the executable's copy (copy reloc) */
        lg_set_bias(r == 1 ? 7 : 100);
        for (int32_t x = 0; x < 5; x++)
            printf("reads f=%d x=%d %d %d\n", factors[r], x, lg_factor_apply(x), lg_bias_apply(x));
    }
}

static void c_writes(void)
{
    static const double x[6] = {0.0, 1.0, 3.0, 2.0, -1.0, 0.5};
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 6; i++) {
            legacy_sign = 77; /* a hit that does not restore the global prints 77 */
            double g = lg_gam(x[i]);
            printf("gam %a %a sign %d\n", x[i], g, legacy_sign);
        }
}

static void c_errno(void)
{
    static const double x[5] = {4.0, -1.0, 2.0, -2.0, 0.0};
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 5; i++) {
            errno = 0;
            double v = lg_root(x[i]);
            int e = errno;
            printf("root %a %a errno %d\n", x[i], v, e);
        }
}

static const int64_t table_a[8] = {10, 11, 12, 13, 14, 15, 16, 17};
static const int64_t table_b[8] = {20, 21, 22, 23, 24, 25, 26, 27};

static void c_ptr(void)
{
    int64_t *heap = malloc(sizeof table_a);
    if (!heap)
        exit(2);
    for (int i = 0; i < 8; i++)
        heap[i] = 30 + i;
    const struct {
        const int64_t *t;
        int32_t i;
    } s[8] = {
        {table_a, 1},     {table_a, 3}, {table_b, 1}, {table_b, 3},
        {table_a + 2, 1}, {heap, 1},    {heap, 3},    {NULL, 0},
    };
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 8; i++)
            printf("table %d %lld\n", i, (long long)lg_table_get(s[i].t, s[i].i));
    free(heap);
}

static void c_handle(void)
{
    static struct lg_ctx one_static = LG_CTX_INIT(1);
    struct lg_ctx *one_heap = lg_ctx_new(1), *two = lg_ctx_new(2);
    if (!one_heap || !two)
        exit(2);
    const struct lg_ctx *ctx[3] = {one_heap, &one_static, two};
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            for (int64_t x = 0; x < 4; x++)
                printf("ctx %d %lld %lld %lld\n", c, (long long)x,
                       (long long)lg_ctx_apply(ctx[c], x), (long long)lg_ctx_apply_s(ctx[c], x));
    free(one_heap);
    free(two);
}

static void c_retptr(void)
{
    static const int32_t x[5] = {0, 1, 7, 13, -1};
    struct lg_fmt_data data[2];
    int call = 0;
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 5; i++) {
            struct lg_fmt_data *d = &data[call++ % 2]; /* a hit must point into *this* buffer */
            memset(d, 'z', sizeof *d);
            char *p = lg_format_r(x[i], d);
            if (p)
                printf("fmt %d off %td %s ", x[i], p - d->buf, p);
            else
                printf("fmt %d NULL ", x[i]);
            hex(d->buf, sizeof d->buf);
        }
}

static void c_ignore(void)
{
    static const int64_t verbose[3] = {0, 1, 99};
    for (int r = 0; r < 2; r++)
        for (int64_t x = 0; x < 5; x++)
            for (int v = 0; v < 3; v++)
                printf("ignore %lld %lld\n", (long long)x,
                       (long long)lg_ignore(x + 1000, verbose[v]));
}

typedef int64_t (*wide1)(int64_t);
typedef int64_t (*wide3)(int64_t, int64_t, int64_t);

static void c_garbage(void)
{
    static const int32_t x[5] = {0, 1, -1, 1000, INT32_MIN};
    static const struct {
        int8_t a;
        uint16_t b;
        int32_t c;
    } n[3] = {
        {1, 2, 3},
        {-1, 65535, -7},
        {127, 0, 0},
    };
    wide1 low32 = (wide1)(void (*)(void))lg_low32;
    wide3 narrow = (wide3)(void (*)(void))lg_narrow;
    static const uint64_t garbage[3] = {0, G1, G2};
    for (int r = 0; r < 3; r++) {
        for (int i = 0; i < 5; i++) {
            int32_t v = r ? (int32_t)low32((int64_t)(garbage[r] | (uint32_t)x[i])) : lg_low32(x[i]);
            printf("low32 %d %d\n", x[i], v);
        }
        for (int i = 0; i < 3; i++) {
            int32_t v = r ? (int32_t)narrow((int64_t)(garbage[r] | (uint8_t)n[i].a),
                                            (int64_t)(garbage[3 - r] | n[i].b),
                                            (int64_t)(garbage[r] | (uint32_t)n[i].c))
                          : lg_narrow(n[i].a, n[i].b, n[i].c);
            printf("narrow %d %d\n", i, v);
        }
    }
}

static void c_floatkeys(void)
{
    static const double x[4] = {0.0, -0.0, 2.0, -2.0};
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 4; i++)
            printf("recip %a %a\n", x[i], lg_recip(x[i]));
}

static void c_recursive(void)
{
    printf("fib %lld\n", (long long)lg_fib(20));
    printf("fib %lld\n", (long long)lg_fib(20));
    for (int r = 0; r < 2; r++)
        for (int32_t x = 0; x < 4; x++)
            printf("outer %d %lld\n", x, (long long)lg_outer(x));
}

/* A key (2 MiB of `in` data) over the size cap: passed through (bypassed), still right. */
static void c_big(void)
{
    size_t n = 2u << 20;
    unsigned char *big = malloc(n), small[64];
    if (!big)
        exit(2);
    for (size_t i = 0; i < n; i++)
        big[i] = (unsigned char)(i * 7 + (i >> 12));
    memset(small, 3, sizeof small);
    for (int r = 0; r < 3; r++) {
        printf("big %08x\n", lg_crc(big, n));
        printf("small %08x\n", lg_crc(small, sizeof small));
    }
    free(big);
}

/* Far more distinct entries than a small memory tier holds: eviction must never return a
 * wrong answer. */
static void c_evict(void)
{
    uint64_t sum = 0;
    for (int r = 0; r < 2; r++)
        for (int64_t x = 0; x < 20000; x++) {
            int64_t v = lg_sq(x * 7919);
            if (x % 1000 == 0)
                printf("evict %d %lld %lld\n", r, (long long)x, (long long)v);
            sum += (uint64_t)v;
        }
    printf("evict sum %llu\n", (unsigned long long)sum);
}

/* lzop's pattern: identical blocks compressed with a stale *dst_len (the previous block's
 * size, or garbage) that the function never reads. With `out[*dst_len] dst, out[8] dst_len`
 * the stale value is not part of the key: every identical block after the first is a hit. */
static void c_outlen(void)
{
    unsigned char blocks[3][64], dst[160];
    for (int b = 0; b < 3; b++)
        for (int j = 0; j < 64; j++)
            blocks[b][j] = (unsigned char)(j / (b + 2) + b);
    uint64_t dst_len = 0xdeadbeef; /* stale from the start */
    for (int r = 0; r < 4; r++)
        for (int b = 0; b < 3; b++) {
            memset(dst, 0xee, sizeof dst);
            int rc = lg_lzo(blocks[b], 64 - b, dst, &dst_len, NULL, NULL, 0, NULL, 1);
            printf("outlen %d %d rc %d len %llu :", r, b, rc, (unsigned long long)dst_len);
            hex(dst, sizeof dst);
            dst_len += (uint64_t)r * 1000 + 17; /* the caller scribbles on it between calls */
        }
}

static const struct {
    const char *name;
    void (*fn)(void);
} cases[] = {
    {"outlen", c_outlen},
    {"zero", c_zero},
    {"sq", c_sq},
    {"g", c_g},
    {"six", c_six},
    {"eight", c_eight},
    {"fstack", c_fstack},
    {"fourteen", c_fourteen},
    {"many", c_many},
    {"str_ret", c_str_ret},
    {"mstr", c_mstr},
    {"strnull", c_strnull},
    {"out", c_out},
    {"pack", c_pack},
    {"scale", c_scale},
    {"in", c_in},
    {"digits", c_digits},
    {"reads", c_reads},
    {"writes", c_writes},
    {"errno", c_errno},
    {"ptr", c_ptr},
    {"handle", c_handle},
    {"retptr", c_retptr},
    {"ignore", c_ignore},
    {"garbage", c_garbage},
    {"floatkeys", c_floatkeys},
    {"recursive", c_recursive},
    {"big", c_big},
    {"evict", c_evict},
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: sigs CASE\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (!strcmp(argv[1], cases[i].name)) {
            cases[i].fn();
            fflush(stdout);
            legacy_report();
            return 0;
        }
    fprintf(stderr, "sigs: unknown case '%s'\n", argv[1]);
    return 2;
}
