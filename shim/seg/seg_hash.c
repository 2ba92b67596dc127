/*
 * seg_hash.c - XXH3 over large buffers with the widest vector code this CPU runs (seg.h,
 * cm_xxh3_*): the key digests of large inputs, the checksums of large values and blob files,
 * and the copy-and-verify of a large hit all hash megabytes per call, where xxHash's AVX2 and
 * AVX-512 loops are 1.5-2x faster than the SSE2 one a plain x86-64 build gets.
 *
 * What it does: holds the SSE2 variant (this file, compiled for the x86-64 baseline) and picks
 * among it, seg_hash_avx2.c and seg_hash_avx512.c once, at the first call, from the features
 * the dynamic loader found at start-up (<sys/platform/x86.h> CPU_FEATURE_ACTIVE: "active" means
 * cpuid and xgetbv agree, so a CPU whose kernel does not save the AVX-512 state is not sent
 * there): no cpuid instruction (it traps to the hypervisor in a virtual machine, ~3 us each
 * measured here; libgcc's __builtin_cpu_supports would also add a constructor running a dozen
 * of them in every process libcloudm.so is loaded into), no system call and no libc function,
 * so it is safe from a constructor, before libc's own initialisation, and on a hit path. Every
 * variant is xxHash's own code, so all return the same bits for every input
 * (tests/seg/test_seg_hash.c checks it).
 *
 * What it does not do: hash anything itself, or hash short inputs faster (XXH3 uses no vector
 * code below 241 bytes: callers keep the inline functions there).
 *
 * DESIGN: the choice is one pointer, written with a relaxed atomic store by the first caller;
 * two threads racing there compute and store the same value.
 */
#define SEG_HASH_SUFFIX sse2
#include "seg_hash_impl.h"

#include <errno.h>
#include <string.h>
#include <sys/platform/x86.h>

static const struct seg_hash_ops *ops; /* NULL until the first call */
static const char *ops_name;

/* Widest first. */
static const struct {
    const char *name;
    const struct seg_hash_ops *ops;
} variants[] = {
    {"avx512", &seg_hash_ops_avx512}, {"avx2", &seg_hash_ops_avx2}, {"sse2", &seg_hash_ops_sse2}};

static int supported(int i)
{
    switch (i) {
    case 0:
        return CPU_FEATURE_ACTIVE(AVX512F);
    case 1:
        return CPU_FEATURE_ACTIVE(AVX2);
    default:
        return 1; /* SSE2 is part of x86-64 */
    }
}

static void use(int i)
{
    __atomic_store_n(&ops_name, variants[i].name, __ATOMIC_RELAXED);
    __atomic_store_n(&ops, variants[i].ops, __ATOMIC_RELEASE);
}

static const struct seg_hash_ops *pick(void)
{
    int i = 0;
    while (!supported(i))
        i++;
    use(i);
    return variants[i].ops;
}

static inline const struct seg_hash_ops *get(void)
{
    const struct seg_hash_ops *o = __atomic_load_n(&ops, __ATOMIC_ACQUIRE);
    return __builtin_expect(o != NULL, 1) ? o : pick();
}

uint64_t cm_xxh3_64(const void *p, size_t n, uint64_t seed)
{
    return get()->h64(p, n, seed);
}

struct cm_h128 cm_xxh3_128(const void *p, size_t n)
{
    return get()->h128(p, n);
}

void cm_xxh3_reset(struct cm_xxh3_state *st, uint64_t seed)
{
    get()->reset(st, seed);
}

void cm_xxh3_update(struct cm_xxh3_state *st, const void *p, size_t n)
{
    get()->update(st, p, n);
}

void cm_xxh3_copy(struct cm_xxh3_state *st, void *dst, const void *src, size_t n)
{
    get()->copy(st, dst, src, n);
}

uint64_t cm_xxh3_digest(const struct cm_xxh3_state *st)
{
    return get()->digest(st);
}

const char *cm_xxh3_impl(void)
{
    get();
    return __atomic_load_n(&ops_name, __ATOMIC_RELAXED);
}

int cm_xxh3_force(const char *name)
{
    if (strcmp(name, "auto") == 0) {
        pick();
        return 0;
    }
    for (int i = 0; i < (int)(sizeof(variants) / sizeof(variants[0])); i++)
        if (strcmp(name, variants[i].name) == 0) {
            if (!supported(i))
                return -ENOTSUP;
            use(i);
            return 0;
        }
    return -EINVAL;
}
