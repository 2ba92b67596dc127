/*
 * cxxlib.cpp - the C++ test library (see cxxlib.h): deterministic results that depend on every
 * keyed argument, counted executions.
 *
 * What it does not do: print on stdout.
 */
#include "cxxlib.h"

#include <cstdio>

enum { C_PI_LONG, C_PI_DOUBLE, C_PI_I128, C_SQR, C_ADD, C_N };
static const char *const names[C_N] = {"pi_long", "pi_double", "pi_i128", "sqr", "add"};
static unsigned long execs[C_N];

static void count(int f)
{
    __atomic_fetch_add(&execs[f], 1, __ATOMIC_RELAXED);
}

extern "C" void cx_report(void)
{
    for (int i = 0; i < C_N; i++)
        if (execs[i])
            std::fprintf(stderr, "cxx: execs %s %lu\n", names[i], execs[i]);
}

namespace cx
{
long pi(long x, int threads)
{
    count(C_PI_LONG);
    (void)threads;
    long n = 0;
    for (long k = 2; k <= x; k++) { /* primes up to x, the slow way */
        bool prime = true;
        for (long d = 2; d * d <= k; d++)
            if (k % d == 0) {
                prime = false;
                break;
            }
        n += prime;
    }
    return n;
}

double pi(double x)
{
    count(C_PI_DOUBLE);
    return x * 3.14159265358979;
}

__int128 pi(__int128 x, int threads)
{
    count(C_PI_I128);
    (void)threads;
    return x * 7 + ((__int128)1 << 100) - (x >> 64);
}

long sqr(long x)
{
    count(C_SQR);
    return x * x + 3;
}

long Acc::add(long v) const
{
    count(C_ADD);
    return base * 1000 + v;
}
} // namespace cx
