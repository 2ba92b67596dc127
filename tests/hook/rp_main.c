/* rp_main.c - DT_RUNPATH=$ORIGIN/rpdir (and $ORIGIN for libtl/libldr): dlopen("librp.so") by bare
 * name must find rpdir/librp.so as it does without cloudm; "$ORIGIN/rpdir/librp.so" too; a
 * library with DT_RPATH dlopens by bare name from its own RPATH; dlsym(RTLD_DEFAULT, "tl_add")
 * returns the hooked entry. Expected hooked calls of tl_add: 4. */
#include "tl.h"

#include <dlfcn.h>
#include <stdio.h>

int ldr_open(void);

int main(void)
{
    void *h = dlopen("librp.so", RTLD_NOW);
    if (!h) {
        printf("dlopen failed: %s\n", dlerror());
        return 1;
    }
    int (*f)(int) = (int (*)(int))dlsym(h, "rp_val");
    printf("rp %d\n", f ? f(1) : -1);
    void *h2 = dlopen("$ORIGIN/rpdir/librp.so", RTLD_NOW);
    printf("origin %s\n", h2 == h ? "same" : "different");
    printf("ldr %d\n", ldr_open());
    int (*add)(int, int) = (int (*)(int, int))dlsym(RTLD_DEFAULT, "tl_add");
    printf("dlsym %d\n", add ? add(20, 22) : -1);
    printf("twice %d\n", tl_twice(1));
    return 0;
}
