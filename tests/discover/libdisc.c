/*
 * libdisc.c - the library of the discover tests: one slow function called with repeated
 * arguments (disc_slow_repeat), one slow function whose arguments never repeat
 * (disc_slow_unique), a slow one keyed by a string (disc_slow_name), and several cheap ones.
 * Built with -g (libdisc.so) and without (libdisc_nodebug.so).
 *
 * What it does not do: nothing but arithmetic; every result is a pure function of the arguments.
 */
#include "disc.h"

static double spin(double x, int rounds)
{
    volatile double acc = x;
    for (int i = 0; i < rounds; i++)
        acc = acc * 1.0000001 + 0.5 / (1.0 + (double)i);
    return acc;
}

double disc_slow_repeat(int n, double x)
{
    return spin(x + n, 200000);
}

double disc_slow_unique(int i)
{
    return spin((double)i, 60000);
}

long disc_slow_name(const char *name, int k)
{
    long h = k;
    for (const char *p = name; *p; p++)
        h = h * 31 + *p;
    return h + (long)spin((double)(h % 7),
                          40000); /* 5x less than disc_slow_repeat: ranks apart under load */
}

int disc_cheap_add(int a, int b)
{
    return a + b;
}

int disc_cheap_mul(int a, int b)
{
    return a * b;
}

unsigned disc_cheap_hash(const char *s)
{
    unsigned h = 5381;
    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h;
}
