/*
 * killme.c - a process that test_killed.sh kills with SIGKILL: its statistics must already be in
 * the shared segment.
 *
 * What it does: for ~1.2 s, one new lg_sq argument every 50 ms (24 misses, each stored: too few
 * events for any "every 64 events" rule), each followed by 20 repeats (memory hits); then it
 * writes its call count so far to the file named by argv[1] and keeps answering repeats from the
 * memory tier (200 hits every 10 ms) until it is killed.
 *
 * What it does not do: exit on its own (after 60 s at most, as a safety net).
 */
#include "../legacy/legacy.h"

#include <stdio.h>
#include <time.h>

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
    unsigned long calls = 0;
    int64_t sum = 0;
    for (int i = 0; i < 24; i++) {
        for (int r = 0; r < 21; r++, calls++)
            sum += lg_sq(i);
        sleep_ms(50);
    }
    FILE *f = argc > 1 ? fopen(argv[1], "w") : NULL;
    if (f) {
        fprintf(f, "%lu\n", calls);
        fclose(f);
    }
    for (int round = 0; round < 6000; round++) {
        for (int r = 0; r < 200; r++)
            sum += lg_sq(r % 24);
        sleep_ms(10);
    }
    printf("%lld\n", (long long)sum);
    return 0;
}
