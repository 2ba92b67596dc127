/* tv_both.c - imports both tv_get@V1 and tv_get@@V2: two bindings, each its own behaviour. */
#include <stdio.h>

int tv_get(int x);
int tv_get_old(int x);
__asm__(".symver tv_get_old, tv_get@V1");

int main(void)
{
    printf("both %d %d %d\n", tv_get_old(1), tv_get(1), tv_get(2));
    return 0;
}
