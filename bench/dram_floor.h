/*
 * dram_floor.h - the machine's floor for a cold read, measured inside a benchmark's own process:
 * a dependent read of a random line of a 64 MiB buffer (one cycle through all its lines in a
 * random order, Sattolo's shuffle), n times, in ns per read. The buffer is written first, so no
 * read takes a page fault, then flushed from every cache level (clflush), so that every read goes
 * to DRAM: what remains is the cache and TLB misses of random access. Without the flush the floor
 * depends on how much of the buffer the last-level cache kept: on a machine whose L3 is larger
 * than the buffer (the 2-vCPU VM of bench/README: 300 MiB shared L3) unflushed reads measured
 * 75-150 ns from one process to the next, flushed ones 128 ns.
 * cm_flush_file() does the same to the resident pages of a file (the shared segment), so that a
 * benchmark reading it "cold" reads DRAM, as the floor does.
 * The page size is the caller's choice, so that the floor and what it is compared with pay the
 * same TLB misses: cm_dram_floor() uses 4 KiB pages (MADV_NOHUGEPAGE: the segment's pages on a
 * tmpfs without huge pages, such as the usual /dev/shm), cm_dram_floor_huge() asks for 2 MiB
 * pages (MADV_HUGEPAGE; -1 when the kernel gave none: transparent huge pages "never").
 *
 * What it does not do: pick the clock (the caller passes its own, wall or CPU time) or repeat
 * the measurement (the first pass is the row's floor, as issue 11 asks).
 */
#ifndef CM_BENCH_DRAM_FLOOR_H
#define CM_BENCH_DRAM_FLOOR_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <emmintrin.h>
/* Writes back and evicts [p, p + len) from every cache level (SSE2 clflush, 64-byte lines). */
static inline void cm_flush_lines(const void *p, size_t len)
{
    for (size_t o = 0; o < len; o += 64)
        _mm_clflush((const char *)p + o);
    _mm_mfence();
}
/* cm_flush_lines() over the pages of file `path` that are in memory (mincore: holes stay holes,
 * nothing is read from disk). Pages flushed, or -1. */
static inline long cm_flush_file(const char *path)
{
    struct stat st;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || st.st_size < 4096) {
        close(fd);
        return -1;
    }
    size_t len = (size_t)st.st_size & ~(size_t)4095, pages = len / 4096;
    long n = -1;
    unsigned char *vec = malloc(pages);
    void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m != MAP_FAILED && vec && mincore(m, len, vec) == 0) {
        n = 0;
        for (size_t i = 0; i < pages; i++)
            if (vec[i] & 1) {
                cm_flush_lines((char *)m + i * 4096, 4096);
                n++;
            }
    }
    if (m != MAP_FAILED)
        munmap(m, len);
    free(vec);
    return n;
}

/* kB of `field` ("AnonHugePages", "ShmemPmdMapped": memory in 2 MiB pages) summed over this
 * process's mappings that contain address `p`, or (p NULL) whose path contains `path`; -1 when
 * /proc/self/smaps cannot be read. */
static inline long cm_smaps_kb(const void *p, const char *path, const char *field)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    long sum = -1, kb;
    size_t fl = strlen(field);
    int in = 0;
    if (f == NULL)
        return -1;
    sum = 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) { /* a mapping's first line */
            in = p ? (uintptr_t)p >= lo && (uintptr_t)p < hi : strstr(line, path) != NULL;
            continue;
        }
        if (in && !strncmp(line, field, fl) && line[fl] == ':' &&
            sscanf(line + fl + 1, "%ld", &kb) == 1)
            sum += kb;
    }
    fclose(f);
    return sum;
}

static inline double cm_dram_floor_pages(long n, double (*clock_ns)(void), int huge)
{
    const size_t lines = (64u << 20) / 64, len = lines * 64;
    uint64_t x = 0x2545f4914f6cdd1dULL;
    /* 2 MiB-aligned, so that huge pages can cover all of it */
    uint8_t *map =
        mmap(NULL, len + (2u << 20), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint32_t *order = malloc(lines * sizeof(*order));
    if (map == MAP_FAILED || order == NULL) {
        if (map != MAP_FAILED)
            munmap(map, len + (2u << 20));
        free(order);
        return -1;
    }
    uint64_t *buf = (uint64_t *)(((uintptr_t)map + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1));
    madvise(buf, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    for (size_t i = 0; i < lines; i++)
        order[i] = (uint32_t)i;
    for (size_t i = lines - 1; i > 0; i--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t j = (size_t)(x % i), t = order[i];
        order[i] = order[j];
        order[j] = (uint32_t)t;
    }
    for (size_t i = 0; i < lines; i++)
        buf[(size_t)order[i] * 8] = order[(i + 1) % lines];
    free(order);
    cm_flush_lines(buf, len);
    if (huge &&
        cm_smaps_kb(buf, NULL, "AnonHugePages") <= 0) { /* no huge page given: no such floor here */
        munmap(map, len + (2u << 20));
        return -1;
    }
    uint64_t at = 0;
    double t0 = clock_ns();
    for (long i = 0; i < n; i++)
        at = *(volatile uint64_t *)&buf[at * 8];
    t0 = (clock_ns() - t0) / (double)n;
    munmap(map, len + (2u << 20));
    return at == lines ? -1 : t0; /* `at` is used: the loop cannot be dropped */
}

static inline double cm_dram_floor(long n, double (*clock_ns)(void))
{
    return cm_dram_floor_pages(n, clock_ns, 0);
}

static inline double cm_dram_floor_huge(long n, double (*clock_ns)(void))
{
    return cm_dram_floor_pages(n, clock_ns, 1);
}

#endif
