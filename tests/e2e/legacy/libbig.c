/*
 * libbig.c - functions with large inputs and outputs for the big-data tests (issue 11): a
 * 9 MB-in / 9 MB-out transform, a generator of outputs of any size from a scalar seed, a
 * function reading an input without copying it, and a "password hash" for the sensitive tests.
 * Each counts its executions; the program prints them as "big: execs NAME N" on stderr.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

unsigned long big_execs[4];

int big_xform(const unsigned char *src, size_t n, unsigned char *dst)
{
    big_execs[0]++;
    for (size_t i = 0; i < n; i++)
        dst[i] = (unsigned char)(src[i] * 3u ^ (unsigned)(i >> 8));
    return (int)(n & 0x7fffffff);
}

uint64_t big_gen(uint32_t seed, uint64_t n, unsigned char *dst)
{
    big_execs[1]++;
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (uint64_t i = 0; i < n; i += 8) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(dst + i, &x, n - i < 8 ? n - i : 8);
    }
    return n;
}

unsigned big_first(const unsigned char *src, uint64_t n)
{
    big_execs[2]++;
    return n ? (unsigned)src[0] + src[n - 1] : 0;
}

/* out: n bytes repeating "RESULT:" and the password reversed: bytes a test can grep for. */
int big_pw(const char *pw, uint64_t n, char *out)
{
    big_execs[3]++;
    char rev[256] = "RESULT:";
    size_t len = strlen(pw), r = 7;
    for (size_t i = len; i-- > 0 && r < sizeof(rev) - 1;)
        rev[r++] = pw[i];
    for (uint64_t i = 0; i < n; i++)
        out[i] = rev[i % r];
    return (int)len;
}
