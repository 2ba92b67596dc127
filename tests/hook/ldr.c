/* ldr.c - libldr.so, built with DT_RPATH=$ORIGIN/rpdir2: dlopens librp2.so by bare name. */
#include <dlfcn.h>
#include <stdio.h>

int ldr_open(void)
{
    void *h = dlopen("librp2.so", RTLD_NOW);
    if (!h) {
        printf("ldr dlopen failed: %s\n", dlerror());
        return -1;
    }
    int (*f)(int) = (int (*)(int))dlsym(h, "rp_val");
    return f ? f(2) : -1;
}
