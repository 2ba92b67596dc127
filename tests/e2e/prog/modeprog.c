/*
 * modeprog.c - a plain workload for the mode tests (test_modes.sh).
 *
 * What it does: lg_poly over 20 distinct arguments x 5 rounds (100 calls) and lg_sq over 10
 * distinct arguments x 4 rounds (40 calls), printing every result; liblegacy's execution
 * counts go to stderr, so the test can tell whether the functions really ran.
 *
 * What it does not do: vary its behaviour with arguments or the environment.
 */
#include "../legacy/legacy.h"

#include <stdio.h>

int main(void)
{
    for (int r = 0; r < 5; r++)
        for (int32_t x = 0; x < 20; x++)
            printf("poly %d %lld\n", x, (long long)lg_poly(x * 17 - 100));
    for (int r = 0; r < 4; r++)
        for (int64_t x = 0; x < 10; x++)
            printf("sq %lld %lld\n", (long long)x, (long long)lg_sq(x - 4));
    fflush(stdout);
    legacy_report();
    return 0;
}
