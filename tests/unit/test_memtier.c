/*
 * test_memtier.c - the memory tier on its own: hits return exactly what was stored, keys are
 * compared in full (a forced hash collision is a miss), large entries survive ring wrap-around
 * or miss (never return torn bytes), and 4 threads hammering 10k keys with self-verifying
 * values never see a wrong value.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_test.h"

#define XXH_INLINE_ALL
#include "../../shim/tier/memtier.c"

#define CHECK ASSERT_MSG

static uint8_t scratch[1 << 20] __attribute__((aligned(8)));

static long get(uint32_t fn, uint64_t h, const void *k, uint32_t klen, void *v, uint32_t vcap)
{
    static uint8_t raw[1 << 20] __attribute__((aligned(8)));
    uint32_t need = 0;
    return cm_mem_get(fn, h, k, klen, v, vcap, raw, sizeof(raw), &need);
}

static void test_basic(void)
{
    uint64_t k = 42, v = 4242, out = 0;
    CHECK(get(1, 7, &k, 8, &out, 8) == -1, "empty tier hits");
    CHECK(cm_mem_put(1, 7, (uint8_t *)&k, 8, (uint8_t *)&v, 8, scratch, sizeof(scratch)) == 0,
          "inline put");
    CHECK(get(1, 7, &k, 8, &out, 8) == 8 && out == 4242, "inline hit got %llu",
          (unsigned long long)out);
    CHECK(get(2, 7, &k, 8, &out, 8) == -1, "another variant must miss");
    uint64_t k2 = 43;
    CHECK(get(1, 7, &k2, 8, &out, 8) == -1, "same hash, other key must miss");

    uint8_t bigk[300], bigv[5000], got[5000];
    for (int i = 0; i < 300; i++)
        bigk[i] = (uint8_t)i;
    for (int i = 0; i < 5000; i++)
        bigv[i] = (uint8_t)(i * 7);
    CHECK(cm_mem_put(3, 99, bigk, 300, bigv, 5000, scratch, sizeof(scratch)) == 0, "ring put");
    CHECK(get(3, 99, bigk, 300, got, 5000) == 5000 && memcmp(got, bigv, 5000) == 0, "ring hit");
    bigk[299] ^= 1;
    CHECK(get(3, 99, bigk, 300, got, 5000) == -1, "ring: other key must miss");
    bigk[299] ^= 1;
    uint32_t need = 0;
    static uint8_t raw[1 << 20] __attribute__((aligned(8)));
    CHECK(cm_mem_get(3, 99, bigk, 300, got, 100, raw, sizeof(raw), &need) == -2 && need == 5000,
          "too-small buffer asks for %u", need);
}

/* Fill the ring many times over: every hit must be exact. */
static void test_wrap(void)
{
    uint8_t k[64], v[3000], got[3000];
    int hits = 0;
    for (int round = 0; round < 2000; round++) {
        memset(k, round & 0xff, sizeof(k));
        k[0] = (uint8_t)(round >> 8);
        memset(v, (round * 13) & 0xff, sizeof(v));
        cm_mem_put(5, (uint64_t)round, k, 64, v, 3000, scratch, sizeof(scratch));
    }
    int wrong = 0;
    for (int round = 0; round < 2000; round++) {
        memset(k, round & 0xff, sizeof(k));
        k[0] = (uint8_t)(round >> 8);
        long n = get(5, (uint64_t)round, k, 64, got, sizeof(got));
        if (n >= 0) {
            hits++;
            for (int i = 0; i < 3000; i++)
                if (got[i] != (uint8_t)((round * 13) & 0xff))
                    wrong++;
        }
    }
    CHECK(wrong == 0, "%d wrong bytes after wrap-around", wrong);
    CHECK(hits > 0 && hits < 2000, "recent entries hit, old ones evicted (hits %d)", hits);
}

/* Value = f(key): any torn or misattributed read is detected. */
static void *hammer(void *arg)
{
    uint32_t seed = (uint32_t)(uintptr_t)arg * 2654435761u + 1;
    static __thread uint8_t raw[65536] __attribute__((aligned(8)));
    static __thread uint8_t sc[65536] __attribute__((aligned(8)));
    long wrong = 0;
    for (int i = 0; i < 200000; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        uint64_t key = seed % 10000;
        uint32_t vlen = key % 3 == 0 ? 8 : 100 + (uint32_t)(key % 900);
        uint8_t v[1000], got[1000];
        for (uint32_t j = 0; j < vlen; j++)
            v[j] = (uint8_t)(key * 31 + j);
        uint64_t h = key * 0x9E3779B97F4A7C15ull;
        if (seed & 1) {
            cm_mem_put(9, h, (uint8_t *)&key, 8, v, vlen, sc, sizeof(sc));
        } else {
            uint32_t need;
            long n = cm_mem_get(9, h, (uint8_t *)&key, 8, got, sizeof(got), raw, sizeof(raw), &need);
            if (n >= 0 && ((uint32_t)n != vlen || memcmp(got, v, vlen) != 0))
                wrong++;
        }
    }
    return (void *)wrong;
}

static void test_threads(void)
{
    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, (void *)i);
    long wrong = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        wrong += (long)r;
    }
    CHECK(wrong == 0, "%ld wrong values under concurrency", wrong);
}

int main(void)
{
    if (cm_mem_init(1 << 20) < 0) {
        fprintf(stderr, "cm_mem_init failed\n");
        return 1;
    }
    RUN_TEST(test_basic);
    RUN_TEST(test_wrap);
    RUN_TEST(test_threads);
    return cm_test_summary();
}
