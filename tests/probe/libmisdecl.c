/*
 * libmisdecl.c - a library of functions whose configs are easy to get wrong, for the probe
 * and verify tests (tests/probe/test_probe.sh, test_verify.sh).
 *
 * What it does: one function per mistake `cloudm probe` must find: md_lg also sets the global
 * md_sign (a config without `writes =` forgets it), md_fill writes n bytes into a buffer (a
 * config declaring it `ptr` forgets it), md_name writes n characters and a NUL into an
 * out[n] buffer (one byte past), md_scaled reads the global md_factor that the program
 * changes (a config without `reads =` memoizes stale results), md_roll uses rand(), md_pi
 * prints its progress on stderr. md_pure is a correctly declared control. md_label and md_sgn
 * also read md_factor, into an output buffer and into md_sign (verify names the part).
 *
 * What it does not do: anything useful; -O2, default visibility.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int md_sign = 0;
int md_factor = 2;

double md_lg(double x)
{
    md_sign = x < 0 ? -1 : 1;
    return x < 0 ? -x * 2 : x * 2;
}

void md_fill(unsigned char *buf, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(i * 7 + 1);
}

void md_name(char *out, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        out[i] = (char)('a' + i % 26);
    out[n] = '\0';
}

long md_scaled(long x)
{
    return x * md_factor;
}

int md_roll(int sides)
{
    return rand() % sides + 1;
}

double md_pi(int steps)
{
    double s = 0;
    for (int i = 0; i < steps; i++) {
        s += (i % 2 ? -4.0 : 4.0) / (2 * i + 1);
        fprintf(stderr, "pi step %d\n", i);
    }
    return s;
}

long md_pure(long a, long b)
{
    return a * 31 + b;
}

void md_label(char *out, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        out[i] = (char)('A' + (i * (uint64_t)md_factor) % 26);
}

double md_sgn(double x)
{
    md_sign = md_factor;
    return x;
}
