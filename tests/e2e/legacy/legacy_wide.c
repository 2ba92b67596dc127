/*
 * legacy_wide.c - liblegacy's functions with 128-bit integer and complex parameters and returns
 * (in registers and spilled to the stack), and the out-only length of lzo's compressors.
 *
 * What it does: deterministic results that depend on every bit of every keyed argument (both
 * halves of a 128-bit integer, the sign of a zero real or imaginary part), so a key or a placement
 * that drops, swaps or misreads an eightbyte prints a wrong value; lg_lzo writes its output
 * length through a pointer it never reads, leaving the bytes past that length untouched.
 *
 * What it does not do: print on stdout; it counts its own executions (lg_count).
 */
#include "legacy.h"

#include <complex.h>
#include <string.h>

void lg_count(enum lg_fn f);

typedef unsigned __int128 u128;

static u128 mix128(u128 v)
{
    v ^= v >> 61;
    v *= ((u128)0x9e3779b97f4a7c15ull << 64) | 0xbf58476d1ce4e5b9ull;
    v ^= v >> 67;
    return v;
}

__int128 lg_i128(__int128 a, unsigned __int128 b)
{
    lg_count(LG_I128);
    return (__int128)mix128((u128)a * 3 + 1) - (__int128)(b ^ (b >> 64)) * 5;
}

unsigned __int128 lg_u128_spill(int64_t a, int64_t b, int64_t c, int64_t d, int64_t e,
                                unsigned __int128 x, int64_t f, int64_t g, unsigned __int128 y)
{
    lg_count(LG_U128_SPILL);
    u128 r = mix128(x) ^ (mix128(y) << 1);
    r += (u128)(uint64_t)a * 3 + (u128)(uint64_t)b * 5 + (u128)(uint64_t)c * 7;
    r += ((u128)(uint64_t)d << 70) + ((u128)(uint64_t)e << 90) + ((u128)(uint64_t)f << 33);
    return r ^ ((u128)(uint64_t)g << 100);
}

/* The sign of a zero part changes the result: the key must hold the bit pattern. */
static double sgn(double v)
{
    return __builtin_signbit(v) ? -1.5 : 2.5;
}

double _Complex lg_cmul(double _Complex a, double _Complex b)
{
    lg_count(LG_CMUL);
    double ar = creal(a), ai = cimag(a), br = creal(b), bi = cimag(b);
    return CMPLX(ar * br - ai * bi + sgn(ar) + 0.25 * sgn(bi),
                 ar * bi + ai * br + sgn(ai) + 0.125 * sgn(br));
}

float _Complex lg_c32(float _Complex a, float b, float _Complex c)
{
    lg_count(LG_C32);
    float ar = crealf(a), ai = cimagf(a), cr = crealf(c), ci = cimagf(c);
    return CMPLXF(ar * b + cr + (float)sgn(ai), ai - ci * b + (float)sgn(cr) * 0.5f);
}

double _Complex lg_cspill(double a, double b, double c, double d, double e, double f, double g,
                          double _Complex z, float _Complex w, int32_t n)
{
    lg_count(LG_CSPILL);
    double s = a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g;
    return CMPLX(s * creal(z) + crealf(w) + n + sgn(cimag(z)),
                 s - cimag(z) * 3 + cimagf(w) * n + sgn(creal(z)));
}

int32_t lg_lzo(const void *src, uint64_t src_len, void *dst, uint64_t *dst_len, void *wrkmem,
               const void *dict, uint64_t dict_len, void *cb, int32_t level)
{
    lg_count(LG_LZO);
    (void)wrkmem;
    (void)dict;
    (void)dict_len;
    (void)cb;
    if (!src || !dst || !dst_len)
        return -1;
    /* run-length pairs (count, byte); *dst_len is written, never read */
    const unsigned char *s = src;
    unsigned char *o = dst;
    uint64_t n = 0;
    for (uint64_t i = 0; i < src_len;) {
        uint64_t j = i;
        while (j < src_len && j - i < 255 && s[j] == s[i])
            j++;
        o[n++] = (unsigned char)(j - i);
        o[n++] = (unsigned char)(s[i] + level);
        i = j;
    }
    *dst_len = n;
    return 0;
}
