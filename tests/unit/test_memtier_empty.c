/*
 * test_memtier_empty.c - the memory tier's stand-in index (memtier.c, "Empty tier"): until its
 * first store, lookups touch no page of the real index (mincore: none resident after 20,000
 * misses on distinct keys) and cm_mem_map_index() maps nothing; the first store moves lookups
 * to the real index (the entry hits, others still miss, word entries too) and cm_mem_map_index()
 * then maps every page of it; and readers racing with the first stores of other threads only
 * ever see a miss or the right value (label threads: also run under ThreadSanitizer).
 *
 * What it does not do: the fast path through the dispatcher (tests/e2e: shared hits of a fresh
 * process), or prefaulting (test_memtier_prefault.c).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cm_test.h"

#define XXH_INLINE_ALL
#include "../../shim/tier/memtier.c"

#define CHECK ASSERT_MSG

#include "memtier_test.h"

static void test_empty_touches_nothing(void)
{
    uint64_t out, hits = 0;
    CHECK(cm_mem_init(16 << 20) == 0, "cm_mem_init");
    for (uint64_t k = 0; k < 20000; k++)
        hits += get_word(k, &out) >= 0;
    CHECK(hits == 0, "%llu hits in an empty tier", (unsigned long long)hits);
    CHECK(resident_pages() == 0, "no page of the index mapped by lookups (%llu)",
          (unsigned long long)resident_pages());
    CHECK(cm_mem_map_index() == 0, "nothing to map while the tier is empty");
    CHECK(resident_pages() == 0, "still none mapped (%llu)", (unsigned long long)resident_pages());
}

static void test_first_store_publishes(void)
{
    uint64_t out = 0, hits = 0;
    CHECK(cm_mem_init(16 << 20) == 0, "cm_mem_init");
    CHECK(get_word(7, &out) == -1, "a miss before the first store");
    CHECK(put_word(7, 49) == 0, "first store");
    CHECK(get_word(7, &out) == 8 && out == 49, "hit after the first store (got %llu)",
          (unsigned long long)out);
    for (uint64_t k = 100; k < 1100; k++)
        hits += get_word(k, &out) >= 0;
    CHECK(hits == 0, "%llu hits on keys never stored", (unsigned long long)hits);
    /* a word entry (the dispatcher's fast path) stored and read through the real index */
    uint64_t kw[5] = {0, 0, 0, 0, 1234}, mask[5] = {0, 0, 0, 0, ~0ull}, vw[5] = {77, 0, 0, 0, 0};
    uint64_t h = cm_hash_words(&kw[4], 1, 99), got[5] = {0};
    CHECK(cm_mem_put_words(3, h, kw, mask, 8, vw, 8) == 0, "word store");
    struct cm_slot *set = cm_mem_set(h);
    long r = cm_mem_slot_get_n(&set[0], 4, h, kw, 1, got);
    if (r < 0)
        r = cm_mem_slot_get_n(&set[1], 4, h, kw, 1, got);
    CHECK(r == 8 && got[0] == 77, "word entry hits (r %ld, value %llu)", r,
          (unsigned long long)got[0]);
    CHECK(cm_mem_map_index() == 1, "the index is mapped once it is in use");
    CHECK(resident_pages() == mem_index_len() / 4096, "every page mapped (%llu of %llu)",
          (unsigned long long)resident_pages(), (unsigned long long)(mem_index_len() / 4096));
}

static int go;

/* Readers: a key is either missing or has its own value; never anything else. */
static void *reader(void *arg)
{
    long wrong = 0;
    uint64_t out;
    (void)arg;
    while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
        ;
    for (int round = 0; round < 200; round++)
        for (uint64_t k = 0; k < 500; k++)
            if (get_word(k, &out) == 8 && out != k * 7 + 3)
                wrong++;
    return (void *)wrong;
}

static void *writer(void *arg)
{
    uint64_t base = (uint64_t)(long)arg;
    while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
        ;
    for (uint64_t k = base; k < 500; k += 2)
        put_word(k, k * 7 + 3);
    return NULL;
}

static void test_publish_races(void)
{
    pthread_t t[4];
    CHECK(cm_mem_init(8 << 20) == 0, "cm_mem_init");
    pthread_create(&t[0], NULL, reader, NULL);
    pthread_create(&t[1], NULL, reader, NULL);
    pthread_create(&t[2], NULL, writer, (void *)0L);
    pthread_create(&t[3], NULL, writer, (void *)1L);
    __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
    long wrong = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        if (i < 2)
            wrong += (long)r;
    }
    CHECK(wrong == 0, "%ld wrong values while the index was published", wrong);
    uint64_t out, hits = 0;
    for (uint64_t k = 0; k < 500; k++)
        hits += get_word(k, &out) == 8 && out == k * 7 + 3;
    CHECK(hits >= 400, "%llu of 500 stored keys hit afterwards", (unsigned long long)hits);
}

int main(void)
{
    RUN_TEST(test_empty_touches_nothing);
    RUN_TEST(test_first_store_publishes);
    RUN_TEST(test_publish_races);
    return cm_test_summary();
}
