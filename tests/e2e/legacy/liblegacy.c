/*
 * liblegacy.c - execution counters and the functions used by the build matrix, the threaded,
 * mode and fork/exec tests (see legacy.h).
 *
 * What it does: deterministic computations that count their own executions. Counters are
 * updated with relaxed atomics so the threaded test (and TSan) sees no data race.
 *
 * What it does not do: print on stdout, or depend on any library but libc. Functions call each
 * other only where a test wants a call through the PLT (lg_outer, lg_fib in legacy_sig.c);
 * shared computations are static helpers so that a _ref function never runs its namesake.
 */
#include "legacy.h"

#include <stdio.h>
#include <string.h>

unsigned long legacy_exec_count;
unsigned long legacy_execs[LG_NFN];

static const char *const fn_names[LG_NFN] = {
    "lg_poly",         "lg_wave",        "lg_strhash",  "lg_pack",     "lg_mix64",
    "lg_name",         "lg_zero",        "lg_sq",       "lg_g",        "lg_six",
    "lg_eight",        "lg_fstack",      "lg_fourteen", "lg_many",     "lg_upper",
    "lg_strkey",       "lg_fill",        "lg_scale",    "lg_crc",      "lg_digits",
    "lg_factor_apply", "lg_bias_apply",  "lg_gam",      "lg_root",     "lg_table_get",
    "lg_ctx_apply",    "lg_ctx_apply_s", "lg_ctx_id",   "lg_ctx_name", "lg_format_r",
    "lg_ignore",       "lg_low32",       "lg_narrow",   "lg_recip",    "lg_fib",
    "lg_outer",        "lg_i128",        "lg_u128_spill", "lg_cmul",   "lg_c32",
    "lg_cspill",       "lg_lzo",
};

/* Not static: legacy_sig.c counts through it too (hidden, so it is not a PLT call). */
__attribute__((visibility("hidden"))) void lg_count(enum lg_fn f)
{
    __atomic_fetch_add(&legacy_execs[f], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&legacy_exec_count, 1, __ATOMIC_RELAXED);
}

void legacy_report(void)
{
    for (int i = 0; i < LG_NFN; i++) {
        unsigned long n = __atomic_load_n(&legacy_execs[i], __ATOMIC_RELAXED);
        if (n)
            fprintf(stderr, "legacy: execs %s %lu\n", fn_names[i], n);
    }
    fprintf(stderr, "legacy: execs total %lu\n",
            __atomic_load_n(&legacy_exec_count, __ATOMIC_RELAXED));
}

int64_t lg_poly(int32_t x)
{
    lg_count(LG_POLY);
    int64_t v = x;
    return 3 * v * v * v - 7 * v * v + 11 * v - 5;
}

static double wave(double x, int32_t n)
{
    /* A few Horner steps: cheap, exact enough to print with %.17g, sensitive to every bit. */
    double r = 0.25;
    for (int32_t i = 0; i < (n & 7) + 2; i++)
        r = r * x + 1.0 / (i + 1);
    return r;
}

double lg_wave(double x, int32_t n)
{
    lg_count(LG_WAVE);
    return wave(x, n);
}

double lg_wave_ref(double x, int32_t n)
{
    return wave(x, n);
}

uint32_t lg_strhash(const char *s)
{
    lg_count(LG_STRHASH);
    if (!s)
        return 0xffffffffu;
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

int32_t lg_pack(void *out, uint64_t *outlen, const void *src, uint64_t n, int32_t level)
{
    lg_count(LG_PACK);
    if (!outlen || (!src && n))
        return -2;
    const unsigned char *s = src;
    unsigned char *o = out;
    unsigned run_max = level <= 0 ? 1 : (unsigned)(level > 15 ? 255 : level * 16 + 15);
    /* Two passes: measure, then write only when it fits, so that `out` holds exactly *outlen
     * bytes of output (what the signature out[*outlen] promises) even on failure. */
    uint64_t need = 1;
    for (int pass = 0; pass < 2; pass++) {
        uint64_t w = 0;
        if (pass == 1) {
            if (!o || need > *outlen) {
                *outlen = 0;
                return -5;
            }
            o[w] = (unsigned char)(level <= 0 ? 0 : level);
        }
        w++;
        for (uint64_t i = 0; i < n;) {
            unsigned run = 1;
            while (i + run < n && run < run_max && s[i + run] == s[i])
                run++;
            if (pass == 1) {
                o[w] = (unsigned char)run;
                o[w + 1] = s[i];
            }
            w += 2;
            i += run;
        }
        need = w;
    }
    *outlen = need;
    return 0;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

uint64_t lg_mix64(uint64_t x)
{
    lg_count(LG_MIX64);
    return mix64(x);
}

uint64_t lg_mix64_ref(uint64_t x)
{
    return mix64(x);
}

const char *lg_name(int32_t n)
{
    static __thread char buf[32];
    lg_count(LG_NAME);
    snprintf(buf, sizeof buf, "name-%d-%x", n, (unsigned)(n * 2654435761u) >> 20);
    return buf;
}
