/*
 * test_seg_hash.c - the vector variants of XXH3 that seg_hash.c chooses among at run time (SSE2,
 * AVX2, AVX-512) give, for every input, the bits of the reference: xxHash's inline functions as
 * a plain x86-64 build compiles them (this file). One-shot 64-bit (seeded) and 128-bit hashes on
 * every length from 0 to 2100 and on large buffers at odd alignments; the streaming form split at
 * random points; cm_xxh3_copy (copy and hash in one pass) after a prefix of every length up to
 * 300, with source and destination misaligned. Variants this CPU cannot run are reported as
 * skipped, never as passed; the automatic choice must be the widest the CPU runs.
 *
 * What it does not do: timing (bench/bench_big.sh), or the shim's use of the functions (the e2e
 * tests of large values). `test_seg_hash NAME` runs one test.
 */
#include "seg_util.h"

static const char *const variants[] = {"sse2", "avx2", "avx512"};

static uint64_t xrnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static unsigned char *fill(size_t n, uint64_t seed)
{
    unsigned char *p = malloc(n + 64);
    if (!p)
        return NULL;
    for (size_t i = 0; i < n + 64; i++)
        p[i] = (unsigned char)(xrnd(&seed) >> 24);
    return p;
}

/* One variant against the reference; returns the number of cases compared (0: skipped). */
static long check_variant(const char *name)
{
    int r = cm_xxh3_force(name);
    if (r == -ENOTSUP) {
        fprintf(stderr, "skip %s: this CPU (or its kernel) does not run it\n", name);
        return 0;
    }
    ASSERT_EQ_INT(r, 0);
    ASSERT_EQ_STR(cm_xxh3_impl(), name);
    long cases = 0;
    size_t big = (9u << 20) + 77;
    unsigned char *buf = fill(big, 42), *dst = malloc(big + 64);
    if (!buf || !dst) {
        ASSERT_TRUE(0);
        return 0;
    }
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    /* every short and medium length, at two alignments, seeded and not */
    for (size_t n = 0; n <= 2100; n++)
        for (int off = 0; off < 2; off++) {
            const unsigned char *p = buf + off * 13;
            uint64_t s = n * 0x100000001b3ull;
            ASSERT_EQ_UINT(cm_xxh3_64(p, n, s), XXH3_64bits_withSeed(p, n, s));
            ASSERT_EQ_UINT(cm_xxh3_64(p, n, 0), XXH3_64bits_withSeed(p, n, 0));
            XXH128_hash_t ref = XXH3_128bits(p, n);
            struct cm_h128 h = cm_xxh3_128(p, n);
            ASSERT_TRUE(h.lo == ref.low64 && h.hi == ref.high64);
            cases += 3;
        }
    /* large buffers (many blocks: the vector loops and the scramble) at odd alignments */
    size_t lens[] = {1u << 20, (1u << 20) + 1, 1000000, big - 13};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        const unsigned char *p = buf + (i * 7) % 13;
        ASSERT_EQ_UINT(cm_xxh3_64(p, lens[i], seed + i),
                       XXH3_64bits_withSeed(p, lens[i], seed + i));
        XXH128_hash_t ref = XXH3_128bits(p, lens[i]);
        struct cm_h128 h = cm_xxh3_128(p, lens[i]);
        ASSERT_TRUE(h.lo == ref.low64 && h.hi == ref.high64);
        cases += 2;
    }
    /* streaming, split at random points, against the one-shot digest */
    for (int t = 0; t < 40; t++) {
        size_t n = xrnd(&seed) % (t < 20 ? 5000 : big - 64);
        uint64_t s = xrnd(&seed);
        struct cm_xxh3_state st;
        cm_xxh3_reset(&st, s);
        size_t at = 0;
        while (at < n) {
            size_t k = xrnd(&seed) % (t & 1 ? 300 : 70000) + 1;
            if (k > n - at)
                k = n - at;
            cm_xxh3_update(&st, buf + at, k);
            at += k;
        }
        ASSERT_EQ_UINT(cm_xxh3_digest(&st), XXH3_64bits_withSeed(buf, n, s));
        cases++;
    }
    /* copy + hash: a prefix of every length up to 300 hashed first (as the bytes before an
     * output in a value), then the output copied and hashed, misaligned both sides */
    for (size_t pre = 0; pre <= 300; pre++) {
        size_t n = pre % 3 == 0 ? 70000 + pre : 9000 + pre * 3;
        const unsigned char *src = buf + 64 + pre % 11;
        unsigned char *d = dst + pre % 7;
        memset(d, 0, n);
        struct cm_xxh3_state st;
        cm_xxh3_reset(&st, pre);
        cm_xxh3_update(&st, src - pre % 64, pre % 64);
        cm_xxh3_copy(&st, d, src, n);
        ASSERT_EQ_MEM(d, src, n);
        ASSERT_EQ_UINT(cm_xxh3_digest(&st),
                       XXH3_64bits_withSeed(src - pre % 64, pre % 64 + n, pre));
        cases++;
    }
    { /* one large copy, as a 9 MB output */
        struct cm_xxh3_state st;
        cm_xxh3_reset(&st, 5);
        cm_xxh3_update(&st, buf, 12);
        cm_xxh3_copy(&st, dst + 3, buf + 12, big - 12);
        ASSERT_EQ_MEM(dst + 3, buf + 12, big - 12);
        ASSERT_EQ_UINT(cm_xxh3_digest(&st), XXH3_64bits_withSeed(buf, big, 5));
        cases++;
    }
    free(buf);
    free(dst);
    fprintf(stderr, "%s: %ld cases identical to the reference\n", name, cases);
    return cases;
}

static void t_variants(void)
{
    long ran = 0;
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
        if (check_variant(variants[i]) > 0)
            ran++;
    ASSERT_TRUE(ran >= 1); /* SSE2 runs on every x86-64 */
    ASSERT_EQ_INT(cm_xxh3_force("neon"), -EINVAL);
}

/* The automatic choice (first call, no force) is the widest variant the CPU runs. */
static void t_auto(void)
{
    __builtin_cpu_init();
    const char *want = __builtin_cpu_supports("avx512f") ? "avx512"
                       : __builtin_cpu_supports("avx2")  ? "avx2"
                                                         : "sse2";
    ASSERT_EQ_STR(cm_xxh3_impl(), want);
    fprintf(stderr, "this CPU: %s\n", cm_xxh3_impl());
    ASSERT_EQ_INT(cm_xxh3_force("sse2"), 0);
    ASSERT_EQ_INT(cm_xxh3_force("auto"), 0);
    ASSERT_EQ_STR(cm_xxh3_impl(), want);
}

int main(int argc, char **argv)
{
    static const struct seg_test tests[] = {{"variants", t_variants}, {"auto", t_auto}};
    return seg_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
