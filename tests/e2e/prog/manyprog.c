/*
 * manyprog.c - many distinct calls, for the remote-tier tests (test_remote.sh).
 *
 * What it does: `manyprog N [ROUNDS] [SLEEP_MS]` calls lg_sq on N distinct arguments, ROUNDS
 * times (default 1), and lg_pack (an output buffer and an in/out length) on N/10 distinct small
 * buffers, printing every result; with SLEEP_MS it sleeps that long after each lg_sq call of the
 * first round (so a test can kill a server while the program runs). liblegacy's execution counts
 * go to stderr, as in the other test programs.
 *
 * What it does not do: read anything but its arguments.
 */
#include "../legacy/legacy.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100;
    long rounds = argc > 2 ? atol(argv[2]) : 1;
    long sleep_ms = argc > 3 ? atol(argv[3]) : 0;
    struct timespec ts = {sleep_ms / 1000, (sleep_ms % 1000) * 1000000};

    for (long r = 0; r < rounds; r++)
        for (long i = 0; i < n; i++) {
            printf("sq %ld %lld\n", i, (long long)lg_sq(i * 7919 - 123456));
            if (r == 0 && sleep_ms)
                nanosleep(&ts, NULL);
        }
    for (long i = 0; i < n / 10; i++) {
        unsigned char src[64], out[160];
        for (int b = 0; b < 64; b++)
            src[b] = (unsigned char)((i * 31 + b / (1 + i % 7)) & 0xff);
        uint64_t outlen = sizeof(out);
        int32_t rc = lg_pack(out, &outlen, src, sizeof(src), (int32_t)(i % 4));
        printf("pack %ld %d %llu", i, rc, (unsigned long long)outlen);
        for (uint64_t b = 0; b < outlen && rc == 0; b++)
            printf(" %02x", out[b]);
        printf("\n");
    }
    fflush(stdout);
    legacy_report();
    return 0;
}
