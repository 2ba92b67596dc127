/*
 * dup_main.c - calls two different `static` functions both named solve (dup_a.c, dup_b.c):
 * a name defined twice, which `object = dupsolve:dup_a.c` disambiguates (test_dup.sh).
 */
#include <stdio.h>

long solve_a(long n);
long solve_b(long n);
extern unsigned long execs_a, execs_b;

int main(void)
{
    long s = 0;
    for (int i = 0; i < 500; i++)
        s += solve_a(i % 10) - solve_b(i % 25);
    printf("sum %ld\n", s);
    fprintf(stderr, "dup: execs solve_a %lu\ndup: execs solve_b %lu\n", execs_a, execs_b);
    return 0;
}
