/*
 * memo_prog.c - the program the install tests memoize: 1000 calls of libm's lgamma() on 20
 * distinct arguments, printing every result (and signgam, which lgamma sets) so that a wrong
 * answer from the cache shows as a different output.
 *
 * What it does not do: time anything. Compiled by the test scripts themselves (cc -O0), so the
 * installed package can be tested with no build tree.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 50;
    double sum = 0;

    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < 20; i++) {
            double x = -9.75 + 0.5 * i + 0.125 * (i % 3);
            double y = lgamma(x);

            sum += y;
            if (r == 0)
                printf("lgamma(%.17g) = %.17g signgam %d\n", x, y, signgam);
        }
    printf("sum %.17g\n", sum);
    return 0;
}
