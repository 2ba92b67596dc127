/*
 * matrix.c - the build-matrix program: compiled 16 ways (-O0/-O2, PIE/non-PIE, lazy/BIND_NOW,
 * PLT/-fno-plt) by tests/e2e/CMakeLists.txt and run by test_matrix.sh.
 *
 * What it does: 1000 rounds over 50 distinct argument sets of ten functions of different
 * shapes (liblegacy's lg_poly, lg_wave, lg_strhash, lg_pack, libm's lgamma with signgam, and the
 * 128-bit and complex ones of legacy_wide.c, in registers and on the stack),
 * printing every result, so each memoized run must show misses = 50 and hits = 950 per
 * function and print exactly what the plain run prints. signgam is reset to a sentinel before
 * every lgamma call: a hit that does not restore it prints the sentinel.
 *
 * What it does not do: print anything that depends on cloudm on stdout; liblegacy's execution
 * counts go to stderr (legacy_report).
 */
#include "../legacy/legacy.h"

#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define ROUNDS 1000
#define DISTINCT 50

/* volatile: keep -O2 from folding lgamma of known constants */
static volatile double lgamma_base = -12.25;

static const char *const words[10] = {
    "alpha", "", "gamma", "delta and more", "e", "zeta zeta", "eta", "theta!", "iota", "kappa",
};

static void print128(int i, const char *what, unsigned __int128 v)
{
    printf("%d %s %016llx%016llx\n", i, what, (unsigned long long)(v >> 64),
           (unsigned long long)v);
}

/* 128-bit integers and complex numbers, in registers and on the stack. Every k differs in one
 * eightbyte only from its neighbour (the high half of a 128-bit value, or the sign of a zero
 * part), so a key that misses an eightbyte answers with a neighbour's result. */
static void wide(int i, int k)
{
    unsigned __int128 hi = (unsigned __int128)(uint64_t)(k / 2) << 64;
    __int128 a = (__int128)(hi | (uint64_t)(k % 2 ? -7 : 7));
    print128(i, "i128", (unsigned __int128)lg_i128(a, hi | 0xffffffffffffffffull));
    unsigned __int128 x = ~hi ^ (uint64_t)k, y = hi + 3;
    print128(i, "u128spill", lg_u128_spill(k, 2, 3, 4, 5, x, k * 11, -k, y));
    double zr = k % 2 ? -0.0 : 0.0, zi = k / 2 * 0.5;
    double _Complex m = lg_cmul(zr + zi * I, zi - (k % 3) * I);
    printf("%d cmul %a %a\n", i, creal(m), cimag(m));
    float _Complex c = lg_c32((float)zi + (k % 2 ? -0.0f : 0.0f) * I, 1.5f, (float)zr + 2.0f * I);
    printf("%d c32 %a %a\n", i, (double)crealf(c), (double)cimagf(c));
    double _Complex sp = lg_cspill(1, 2, 3, 4, 5, 6, 7, zi + zr * I, 0.5f + (float)k * I, k % 3);
    printf("%d cspill %a %a\n", i, creal(sp), cimag(sp));
}

int main(void)
{
    unsigned char src[64], out[160];
    for (int i = 0; i < ROUNDS; i++) {
        int k = (i * 7) % DISTINCT; /* visits every k, interleaved */

        printf("%d poly %lld\n", i, (long long)lg_poly(k - 20));
        printf("%d wave %.17g\n", i, lg_wave(k * 0.375 - 4.0, k));

        char s[48];
        snprintf(s, sizeof s, "%s#%d", words[k % 10], k / 10);
        printf("%d hash %u\n", i, lg_strhash(s));

        for (int j = 0; j < (int)sizeof src; j++)
            src[j] = (unsigned char)((j / (1 + k % 5)) + k);
        memset(out, 0xee, sizeof out);
        uint64_t outlen = 8 + (uint64_t)k * 3;
        int rc = lg_pack(out, &outlen, src, 16 + k % 48, k % 4);
        printf("%d pack rc %d len %llu :", i, rc, (unsigned long long)outlen);
        for (unsigned j = 0; j < sizeof out && j < 8 + (unsigned)k * 3 + 2; j++)
            printf("%02x", out[j]);
        printf("\n");

        signgam = 12345;
        double g = lgamma(lgamma_base + k * 0.5);
        printf("%d lgamma %.17g signgam %d\n", i, g, signgam);

        wide(i, k);
    }
    fflush(stdout);
    legacy_report();
    return 3; /* a distinctive exit status: it must pass through `cloudm run` */
}
