/*
 * bigmalloc.c - test_item4_address_space: a few memoized calls, then a 150 MiB allocation that the
 * program touches. Prints whether it got the memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long hd_sq(long x);

int main(void)
{
    long s = 0;
    for (int i = 0; i < 100; i++)
        s += hd_sq(i % 10);
    char *p = malloc(150u << 20);
    if (p)
        memset(p, 1, 150u << 20);
    printf("sum %ld, malloc(150 MiB) %s\n", s, p ? "ok" : "failed");
    return p ? 0 : 1;
}
