/*
 * mapsprog.c - which of cloudm's optional libraries a process has loaded (test_lazylib.sh).
 *
 * What it does: calls libm's lgamma over 10 distinct arguments x 20 rounds (a GOT-hooked
 * library function) and a static function of its own (`work`, an inline-hook target under
 * `cloudm discover --internal`) over 5 arguments, prints the sums on stdout, then reads
 * /proc/self/maps and prints on stderr "mapped NAME" for each of libZydis, libelf, libinih and
 * libz found there (at most once each): what the preloaded library opened by then.
 *
 * What it does not do: let the compiler fold the calls (arguments come through a volatile).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

static volatile int salt = 3;

static __attribute__((noinline)) long work(long x)
{
    long s = 0;
    for (long i = 0; i < x * 1000; i++)
        s += i ^ (x + salt);
    return s;
}

int main(void)
{
    double acc = 0;
    long w = 0;
    for (int r = 0; r < 20; r++)
        for (int k = 0; k < 10; k++) {
            acc += lgamma((double)k + 0.5 + salt);
            w += work(k % 5 + 1);
        }
    printf("lgamma sum %.6f work sum %ld\n", acc, w);
    static const char *const names[] = {"libZydis", "libelf", "libinih", "libz.so"};
    int seen[4] = {0};
    char line[4096];
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) {
        perror("/proc/self/maps");
        return 1;
    }
    while (fgets(line, sizeof(line), f))
        for (int i = 0; i < 4; i++)
            if (!seen[i] && strstr(line, names[i])) {
                seen[i] = 1;
                fprintf(stderr, "mapped %s\n", names[i]);
            }
    fclose(f);
    return 0;
}
