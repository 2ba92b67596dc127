/*
 * bench_inline.c - times calls of a `static` function of about 50 ns that only an inline hook
 * can reach, and prints "NAME ns_per_call".
 *
 * Usage: cmbench_inline plain N
 *   calls work50 over 64 repeating arguments. Run plain (the baseline), under cloudm with
 *   `mode = off` (patched; the relay jumps straight to the relocated original) or memoized
 *   (every call after the first 64 is a memory-tier hit). Best of 5 runs.
 * With `big` linked in (cmbench_bigtext) the program also carries a 20 MB text section of
 * 20000 padding functions, for the start-up rows; then it makes one call of each of its ten
 * configured functions (start0..start9) and exits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

__attribute__((noinline, noclone)) static double work50(double x)
{
    double r = x;
    for (int i = 0; i < 22; i++) /* a dependent chain: ~50 ns on a 2-3 GHz core */
        r = r * 0.999 + 1.0 / (r + 3.0);
    return r;
}

#define START_FN(i)                                                                                \
    __attribute__((noinline, noclone)) static long start##i(long x)                                \
    {                                                                                              \
        long r = x;                                                                                \
        for (int k = 0; k < 20; k++)                                                               \
            r = r * (31 + i) + k;                                                                  \
        return r + (i > 0 ? start0(x) : 0);                                                        \
    }
START_FN(0)
START_FN(1)
START_FN(2)
START_FN(3)
START_FN(4)
START_FN(5)
START_FN(6)
START_FN(7)
START_FN(8)
START_FN(9)

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    if (!strcmp(argv[1], "start")) {
        long s = start0(1) + start1(2) + start2(3) + start3(4) + start4(5) + start5(6) + start6(7) +
                 start7(8) + start8(9) + start9(10);
        printf("start %ld\n", s);
        return 0;
    }
    long n = argc > 2 ? atol(argv[2]) : 1000000;
    double best = 1e30, sink = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        for (long i = 0; i < n; i++)
            sink += work50((double)(i & 63));
        double dt = (now() - t0) / (double)n;
        if (dt < best)
            best = dt;
    }
    printf("%s %.2f\n", argv[1], best);
    fprintf(stderr, "(sink %g)\n", sink);
    return 0;
}
