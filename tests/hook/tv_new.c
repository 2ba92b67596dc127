/* tv_new.c - linked against the default tv_get@@V2: must keep reaching x + 200; also a dlvsym
 * pointer of V2 (hooked) and of V1 (not bound here: the plain original). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>

int tv_get(int x);

int main(void)
{
    int (*v2)(int) = (int (*)(int))dlvsym(RTLD_DEFAULT, "tv_get", "V2");
    int (*v1)(int) = (int (*)(int))dlvsym(RTLD_DEFAULT, "tv_get", "V1");
    printf("new %d %d\n", tv_get(1), tv_get(2));
    printf("dlvsym %d %d\n", v2 ? v2(3) : -1, v1 ? v1(3) : -1);
    return 0;
}
