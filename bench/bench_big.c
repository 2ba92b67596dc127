/*
 * bench_big.c - large values and sensitive hits, for bench/bench_big.sh.
 *
 * Usage:
 *   cmbench_big xform N REPEAT
 *     bb_xform on one N-byte input once (a miss, or a shared hit in a later process: it writes
 *     the real output), then three rounds of REPEAT of each of: one memcpy of a copy of that
 *     output into the output buffer (the baseline); the floor of a hit (XXH3-128 of the input,
 *     which the key needs, plus the same copy checksummed as it is copied, with the shim's own
 *     XXH3 code: cm_xxh3_*, the CPU's widest vector variant); a hit. Prints "xform N memcpy_ns
 *     floor_ns first_ns hit_ns hash_input_ns copy_check_ns variant" (best of each, all rounds).
 *   cmbench_big sq KEYS CALLS
 *     bb_sq over KEYS repeating arguments, CALLS calls: prints "sq ns_per_call".
 * Everything is measured in this process: the ratio of hit to memcpy is the row's number.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "seg/seg.h"

int bb_xform(const unsigned char *src, uint64_t n, unsigned char *dst);
int64_t bb_sq(int64_t x);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID,
                  &ts); /* CPU time: a loaded machine preempts a 10 ms hit, not a 1 ms memcpy */
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    if (strcmp(argv[1], "xform") == 0) {
        size_t n = strtoull(argv[2], NULL, 0);
        int rep = atoi(argv[3]);
        unsigned char *src = malloc(n), *dst = malloc(n), *val = malloc(n);
        if (!src || !dst || !val)
            return 3;
        for (size_t i = 0; i < n; i++)
            src[i] = (unsigned char)(i * 7 + (i >> 12));
        memset(dst, 0, n);
        volatile unsigned sink = 0;
        /* The first call: a miss (or a shared hit in a later process). It writes the real output
         * into dst; val gets a copy: the value every baseline below copies into dst, as a hit
         * copies the cached value there. Data, not zeros: a copy of zeros onto zeros (the buffers
         * as malloc and memset leave them) runs ~2x faster than a copy of data on this CPU
         * (stores of zero lines onto zero lines are elided), which made an earlier version of
         * this baseline, and the floor, too fast by that much. */
        double t0 = now();
        sink += (unsigned)bb_xform(src, n, dst);
        double first = now() - t0;
        memcpy(val, dst, n);
        /* Three rounds of REPEAT of each (one memcpy, the floor, the hit), best of all: drift of
         * a loaded machine hits all three alike. */
        double best_cp = 1e30, best_hit = 1e30, best_floor = 1e30, best_hin = 1e30, best_cc = 1e30;
        for (int round = 0; round < 3; round++) {
            for (int r = 0; r < rep; r++) {
                t0 = now();
                memcpy(dst, val, n);
                double t = now() - t0;
                sink += dst[r % n];
                if (t < best_cp)
                    best_cp = t;
            }
            /* The floor of a hit, with the XXH3 code the shim uses (seg_hash.c: the CPU's
             * widest): the input's digest (the key needs it), then the output copied and checked
             * in one pass (cm_xxh3_copy), each also timed alone. */
            for (int r = 0; r < rep; r++) {
                t0 = now();
                struct cm_h128 kh = cm_xxh3_128(src, n);
                double t1 = now();
                struct cm_xxh3_state st;
                cm_xxh3_reset(&st, kh.lo);
                cm_xxh3_copy(&st, dst, val, n);
                sink += (unsigned)cm_xxh3_digest(&st);
                double t2 = now();
                if (t2 - t0 < best_floor)
                    best_floor = t2 - t0;
                if (t1 - t0 < best_hin)
                    best_hin = t1 - t0;
                if (t2 - t1 < best_cc)
                    best_cc = t2 - t1;
            }
            for (int r = 0; r < rep; r++) {
                t0 = now();
                sink += (unsigned)bb_xform(src, n, dst);
                double t = now() - t0;
                if (t < best_hit)
                    best_hit = t;
            }
        }
        printf("xform %zu %.0f %.0f %.0f %.0f %.0f %.0f %s\n", n, best_cp, best_floor, first,
               best_hit, best_hin, best_cc, cm_xxh3_impl());
        return sink == 12345 ? 1 : 0;
    }
    if (strcmp(argv[1], "sq") == 0) {
        long keys = atol(argv[2]), calls = atol(argv[3]);
        volatile int64_t sink = 0;
        for (long i = 0; i < keys; i++)
            sink += bb_sq(i);
        double t0 = now();
        for (long i = 0; i < calls; i++)
            sink += bb_sq(i % keys);
        printf("sq %.1f\n", (now() - t0) / (double)calls);
        return 0;
    }
    return 2;
}
