/*
 * ident.c - one program, four builds, for code identity (test_identity.sh):
 *   ident_base    as written
 *   ident_unrel   -DUNRELATED_V2: only `unrelated` (placed before `target`) changes
 *   ident_callee  -DCALLEE_V2: `callee`, called by `target`, changes
 *   ident_const   -DFACTOR=3.5: the constant `target` reads changes
 * target calls callee, reads factor and calls libm's sqrt; stdout gets the sum, stderr
 * "ident: execs target N".
 */
#include <math.h>
#include <stdio.h>

#ifndef FACTOR
#define FACTOR 3.0
#endif

static const double factor[2] = {FACTOR, 0.5};
static unsigned long execs;

__attribute__((noinline, noclone)) static long unrelated(long x)
{
#ifdef UNRELATED_V2
    long r = x;
    for (int i = 0; i < 10; i++)
        r = (r ^ 0x1234) * 33 + (r >> 3) + i;
    return r & 0xffff;
#else
    return x ^ 0x55;
#endif
}

__attribute__((noinline, noclone)) static long callee(long x)
{
#ifdef CALLEE_V2
    return x * 5 + 1;
#else
    return x * 3 + 1;
#endif
}

__attribute__((noinline, noclone)) static long target(long n)
{
    execs++;
    double acc = 0;
    for (long i = 0; i < 50; i++)
        acc += (double)callee(i + n) * factor[i & 1] + sqrt((double)(i + n));
    return (long)acc;
}

int main(void)
{
    long s = 0;
    for (int i = 0; i < 200; i++)
        s += target(i % 20) + unrelated(i);
    printf("sum %ld\n", s);
    fprintf(stderr, "ident: execs target %lu\n", execs);
    return 0;
}
