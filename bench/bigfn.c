/*
 * bigfn.c - libcmbench_big.so: the functions bench_big.c memoizes. bb_xform reads an n-byte
 * input and writes an n-byte output (so a miss costs at least a pass over both); bb_sq is a
 * scalar function for the sensitive-vs-plain shared-hit rows.
 */
#include <stddef.h>
#include <stdint.h>

int bb_xform(const unsigned char *src, uint64_t n, unsigned char *dst)
{
    for (uint64_t i = 0; i < n; i++)
        dst[i] = (unsigned char)(src[i] + 1);
    return (int)(n & 0x7fffffff);
}

int64_t bb_sq(int64_t x)
{
    return x * x + 1;
}
