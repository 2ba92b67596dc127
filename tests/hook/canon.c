/* canon.c - a non-PIE executable taking a library function's address: the executable defines
 * tl_add as its own PLT stub (canonical PLT). Expected hooked calls of tl_add: 4. */
#include "tl.h"

#include <stdio.h>

int (*volatile fp)(int, int) = tl_add;

int main(void)
{
    int (*volatile g)(int, int) = tl_add;
    printf("fp %d\n", fp(2, 3));
    printf("g %d\n", g(4, 5));
    printf("direct %d\n", tl_add(1, 1));
    printf("twice %d\n", tl_twice(5));
    printf("equal %d\n", fp == tl_add);
    return 0;
}
