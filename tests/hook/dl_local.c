/* dl_local.c - dlopen(RTLD_LOCAL) of libplug.so, whose dependency provides dep_mul (invisible to
 * RTLD_DEFAULT and RTLD_NEXT), and calls through dlsym pointers.
 * Expected hooked calls of dep_mul: 3 (two through plug_run, one through the dlsym pointer). */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    (void)argc;
    char path[4096];
    snprintf(path, sizeof(path), "%s/libplug.so", argv[1]);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        printf("dlopen failed: %s\n", dlerror());
        return 1;
    }
    int (*run)(int) = (int (*)(int))dlsym(h, "plug_run");
    int (*mul)(int, int) = (int (*)(int, int))dlsym(h, "dep_mul");
    if (!run || !mul) {
        printf("dlsym failed\n");
        return 1;
    }
    printf("run %d %d\n", run(2), run(5));
    printf("mul %d\n", mul(6, 7));
    printf("global %s\n", dlsym(RTLD_DEFAULT, "dep_mul") ? "visible" : "invisible");
    return 0;
}
