/*
 * test_memtier_prefault.c - cm_mem_prefault(): it commits every page of the memory tier's index
 * (mincore says resident afterwards, and did not before), walks the index in budget-sized steps
 * ending with 0, never changes a stored entry, and runs safely while 4 threads store and read
 * self-verifying values (no wrong value, every entry stored before it still hits).
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

static void test_commits_and_keeps(void)
{
    uint64_t pages, at = 0, out;
    int stored = 0;
    for (uint64_t k = 0; k < 100; k++)
        stored += put_word(k, k * 3 + 1) == 0;
    CHECK(stored == 100, "stored %d of 100", stored);
    pages = mem_index_len() / 4096; /* the real index: lookups use it since the first store */
    uint64_t before = resident_pages();
    CHECK(before <= 100, "before prefault, only the pages written are resident (%llu of %llu)",
          (unsigned long long)before, (unsigned long long)pages);
    int steps = 0, r;
    while ((r = cm_mem_prefault(&at, 64 * 1024)) == 1)
        steps++;
    CHECK(r == 0, "prefault ends with 0, got %d", r);
    CHECK(at == mem_index_len(), "cursor %llu at the end of the index (%llu)",
          (unsigned long long)at, (unsigned long long)mem_index_len());
    CHECK(steps + 1 == (int)(mem_index_len() / (64 * 1024)), "%d steps of 64 KiB", steps + 1);
    CHECK(cm_mem_prefault(&at, 64 * 1024) == 0, "nothing left after the end");
    CHECK(resident_pages() == pages, "every page resident after prefault (%llu of %llu)",
          (unsigned long long)resident_pages(), (unsigned long long)pages);
    int ok = 0;
    for (uint64_t k = 0; k < 100; k++)
        ok += get_word(k, &out) == 8 && out == k * 3 + 1;
    CHECK(ok == 100, "%d of 100 entries unchanged by prefault", ok);
}

static int stop;

static void *hammer(void *arg)
{
    long t = (long)arg, wrong = 0;
    uint64_t out;
    for (int round = 0; !__atomic_load_n(&stop, __ATOMIC_RELAXED) && round < 200; round++) {
        for (uint64_t i = 0; i < 2000; i++) {
            uint64_t k = (uint64_t)t << 32 | i;
            put_word(k, k ^ 0x5555);
            if (get_word(k, &out) == 8 && out != (k ^ 0x5555))
                wrong++;
        }
    }
    return (void *)wrong;
}

static void *prefault_all(void *arg)
{
    uint64_t at = 0;
    (void)arg;
    while (cm_mem_prefault(&at, 4096) == 1)
        ;
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    return NULL;
}

static void test_concurrent(void)
{
    pthread_t t[5];
    if (cm_mem_init(8 << 20) < 0) { /* a second, untouched tier (the first one leaks) */
        CHECK(0, "cm_mem_init");
        return;
    }
    for (long i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, (void *)i);
    pthread_create(&t[4], NULL, prefault_all, NULL);
    long wrong = 0;
    for (int i = 0; i < 5; i++) {
        void *r;
        pthread_join(t[i], &r);
        if (i < 4)
            wrong += (long)r;
    }
    CHECK(wrong == 0, "%ld wrong values while prefaulting", wrong);
    CHECK(resident_pages() == mem_index_len() / 4096, "every page resident");
}

int main(void)
{
    if (cm_mem_init(16 << 20) < 0) { /* a 4 MiB index: 1024 pages */
        fprintf(stderr, "cm_mem_init failed\n");
        return 1;
    }
    RUN_TEST(test_commits_and_keeps);
    RUN_TEST(test_concurrent);
    return cm_test_summary();
}
