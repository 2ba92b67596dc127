/* tv_old.c - linked against tv_get@V1: must keep reaching x + 100. */
#include <stdio.h>

int tv_get_old(int x);
__asm__(".symver tv_get_old, tv_get@V1");

int main(void)
{
    printf("old %d %d\n", tv_get_old(1), tv_get_old(2));
    return 0;
}
