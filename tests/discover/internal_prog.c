/*
 * internal_prog.c - a program of the discover tests whose slow function is its own `static`
 * function (called directly, never through a PLT): `cloudm discover --internal` must find it
 * through the symbol table and an inline hook, with its prototype from DWARF.
 *
 * What it does not do: nothing nondeterministic.
 */
#include <stdio.h>

__attribute__((noinline)) static double slow_static(int n, double x)
{
    volatile double acc = x + n;
    for (int i = 0; i < 300000; i++)
        acc = acc * 1.0000001 + 0.25 / (1.0 + (double)i);
    return acc;
}

__attribute__((noinline)) static int cheap_static(int a)
{
    return a * 3 + 1;
}

int main(void)
{
    double s = 0;
    long t = 0;
    for (int i = 0; i < 40; i++) {
        s += slow_static(i % 5, 0.25 * (i % 5));
        t += cheap_static(i);
    }
    for (int i = 0; i < 5000; i++) /* past the first 64 calls: the counting stub's fast path */
        t += cheap_static(i % 7);
    printf("%.6f %ld\n", s, t);
    return 0;
}
