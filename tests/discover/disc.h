/*
 * disc.h - the header of the discover tests' library (libdisc.c), for `--header`.
 */
#ifndef DISC_TEST_H
#define DISC_TEST_H

double disc_slow_repeat(int n, double x);
double disc_slow_unique(int i);
long disc_slow_name(const char *name, int k);
int disc_cheap_add(int a, int b);
int disc_cheap_mul(int a, int b);
unsigned disc_cheap_hash(const char *s);

#endif
