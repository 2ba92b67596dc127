/*
 * threads.c - 8 threads calling memoized functions concurrently (test_threads.sh).
 *
 * What it does: every thread walks the same 200 argument sets of lg_mix64 (u64), lg_wave
 * (f64, i32), lg_crc (an `in` buffer) and lg_name (a `str` return, thread-local in liblegacy)
 * in a thread-specific order, so threads hit entries others stored and race on the same
 * misses. Each result is checked inside the program against a table built before the threads
 * start from the never-memoized _ref functions and local copies; any mismatch is printed and
 * makes the exit status 1. stdout gets only per-thread "ok" lines and a summary, identical in
 * every correct run.
 *
 * What it does not do: time anything, or depend on scheduling for its output.
 */
#include "../legacy/legacy.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 8
#define DISTINCT 200
#define ITERS 4000 /* per thread and function */

static uint64_t want_mix[DISTINCT];
static double want_wave[DISTINCT];
static uint32_t want_crc[DISTINCT];
static char want_name[DISTINCT][32];
static unsigned char bufs[DISTINCT][24];
static long bad[NTHREADS];

static uint32_t crc_ref(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int b = 0; b < 8; b++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

static void *worker(void *arg)
{
    long t = (long)arg;
    unsigned char local[24];
    for (int i = 0; i < ITERS; i++) {
        int k = (int)((i * 13 + t * 29) % DISTINCT);
        if (lg_mix64((uint64_t)k * 0x9e3779b97f4a7c15ull) != want_mix[k])
            bad[t]++;
        if (lg_wave(k * 0.125 - 3.0, k) != want_wave[k])
            bad[t]++;
        memcpy(local, bufs[k], sizeof local); /* a thread-private copy: keyed by content */
        if (lg_crc(local, sizeof local) != want_crc[k])
            bad[t]++;
        const char *s = lg_name(k);
        if (strcmp(s, want_name[k]) != 0)
            bad[t]++;
    }
    return NULL;
}

int main(void)
{
    for (int k = 0; k < DISTINCT; k++) {
        want_mix[k] = lg_mix64_ref((uint64_t)k * 0x9e3779b97f4a7c15ull);
        want_wave[k] = lg_wave_ref(k * 0.125 - 3.0, k);
        for (int j = 0; j < 24; j++)
            bufs[k][j] = (unsigned char)(k * 7 + j * j);
        want_crc[k] = crc_ref(bufs[k], 24);
        snprintf(want_name[k], sizeof want_name[k], "name-%d-%x", k,
                 (unsigned)(k * 2654435761u) >> 20);
    }
    pthread_t th[NTHREADS];
    for (long t = 0; t < NTHREADS; t++)
        if (pthread_create(&th[t], NULL, worker, (void *)t) != 0) {
            perror("pthread_create");
            return 2;
        }
    long total = 0;
    for (long t = 0; t < NTHREADS; t++) {
        pthread_join(th[t], NULL);
        printf("thread %ld %s\n", t, bad[t] ? "WRONG" : "ok");
        total += bad[t];
    }
    printf("wrong results: %ld\n", total);
    fflush(stdout);
    legacy_report();
    return total ? 1 : 0;
}
