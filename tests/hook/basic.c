/* basic.c - calls every libtl function; built PIE/non-PIE, lazy/now, with and without -fno-plt.
 * Expected hooked calls: tl_add 11 (10 here + 1 inside tl_twice), tl_twice 1, tl_scale 1,
 * tl_ifunc 1. */
#include "tl.h"

#include <stdio.h>

int main(void)
{
    long s = 0;
    for (int i = 0; i < 10; i++)
        s += tl_add(i, 1);
    printf("add %ld\n", s);
    printf("twice %d\n", tl_twice(21));
    printf("scale %.2f\n", tl_scale(4.0));
    printf("ifunc %d\n", tl_ifunc(7));
    return 0;
}
