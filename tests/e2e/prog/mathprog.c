/*
 * mathprog.c - libm functions with side channels (test_libm.sh).
 *
 * What it does: lgamma over 30 distinct arguments x 20 rounds (signgam set to a sentinel
 * before each call and printed after it: `writes = signgam:4` must restore it on a hit), and
 * log over 5 arguments x 20 rounds, three of which set errno (EDOM for negatives, ERANGE for
 * 0): errno is cleared before each call and printed after it (`errno = yes`).
 *
 * What it does not do: let the compiler fold the calls (arguments come through a volatile).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>

static volatile double base = -7.3;

int main(void)
{
    for (int r = 0; r < 20; r++)
        for (int k = 0; k < 30; k++) {
            double x = base + k * 0.5; /* never a pole */
            signgam = -99;
            double g = lgamma(x);
            printf("lgamma %a %a signgam %d\n", x, g, signgam);
        }
    static const double lx[5] = {-1.0, 0.0, 1.0, 2.5, -3.0};
    for (int r = 0; r < 20; r++)
        for (int k = 0; k < 5; k++) {
            double x = lx[k] + (base + 7.3);
            errno = 0;
            double v = log(x);
            int e = errno;
            printf("log %a %a errno %d\n", x, v, e);
        }
    return 0;
}
