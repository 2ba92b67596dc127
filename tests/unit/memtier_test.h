/*
 * memtier_test.h - what the memory tier's unit tests share: included after memtier.c itself (the
 * tests reach its statics). Pages of the real index resident (mincore), a key hash spreading
 * over the whole index, and get/put of one 8-byte word under an 8-byte key.
 *
 * What it does not do: no test of its own.
 */
#ifndef CM_MEMTIER_TEST_H
#define CM_MEMTIER_TEST_H

/* Pages of the real index the kernel has mapped (a page mapped to the zero page counts). */
static uint64_t resident_pages(void)
{
    uint64_t pages = mem_index_len() / 4096, n = 0;
    unsigned char *vec = malloc(pages);
    if (vec == NULL || mincore(mem_index, mem_index_len(), vec) != 0) {
        free(vec);
        return (uint64_t)-1;
    }
    for (uint64_t i = 0; i < pages; i++)
        n += vec[i] & 1;
    free(vec);
    return n;
}

static uint64_t key_hash(uint64_t k)
{
    return (k + 1) * 0x9E3779B97F4A7C15ull; /* spreads over the whole index (high bits) */
}

static long get_word(uint64_t k, uint64_t *out)
{
    static __thread uint8_t raw[256] __attribute__((aligned(8)));
    uint32_t need = 0;
    return cm_mem_get(1, key_hash(k), (const uint8_t *)&k, 8, (uint8_t *)out, 8, raw, sizeof(raw),
                      &need);
}

static int put_word(uint64_t k, uint64_t v)
{
    static __thread uint8_t raw[256] __attribute__((aligned(8)));
    return cm_mem_put(1, key_hash(k), (const uint8_t *)&k, 8, (const uint8_t *)&v, 8, raw,
                      sizeof(raw));
}

#endif
