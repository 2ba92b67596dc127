/*
 * dl.c - memoized functions reached through dlopen and dlsym (test_dlopen.sh).
 *
 * Usage: dl PLUGIN_PATH [global|local]
 *
 * What it does, in order:
 *  1. dlsym(RTLD_DEFAULT, "lg_poly"): a configured function of an already loaded library,
 *     called only through the returned pointer (the program never calls lg_poly directly);
 *  2. dlopen(PLUGIN_PATH) after start-up, then dlsym(handle, "plugin_cube"): a configured
 *     function of a library that did not exist when the shim started;
 *  3. plugin_sum_sq, which calls liblegacy's lg_sq through the plugin's own GOT: that slot
 *     only exists after dlopen and must have been patched before dlopen returned.
 * Prints every result; execution counts (liblegacy's and the plugin's) go to stderr.
 *
 * What it does not do: dlclose (unloading is not part of this test).
 */
#include "../legacy/legacy.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: dl PLUGIN [global|local]\n");
        return 2;
    }
    int flags = RTLD_NOW | ((argc > 2 && !strcmp(argv[2], "local")) ? RTLD_LOCAL : RTLD_GLOBAL);

    int64_t (*poly)(int32_t) = (int64_t(*)(int32_t))dlsym(RTLD_DEFAULT, "lg_poly");
    if (!poly) {
        fprintf(stderr, "dl: dlsym lg_poly: %s\n", dlerror());
        return 2;
    }
    for (int r = 0; r < 4; r++)
        for (int32_t x = 0; x < 10; x++)
            printf("poly %d %lld\n", x, (long long)poly(x - 3));

    void *h = dlopen(argv[1], flags);
    if (!h) {
        fprintf(stderr, "dl: dlopen: %s\n", dlerror());
        return 2;
    }
    int64_t (*cube)(int64_t) = (int64_t(*)(int64_t))dlsym(h, "plugin_cube");
    int64_t (*sum_sq)(int32_t) = (int64_t(*)(int32_t))dlsym(h, "plugin_sum_sq");
    unsigned long *plugin_execs = (unsigned long *)dlsym(h, "plugin_execs");
    if (!cube || !sum_sq || !plugin_execs) {
        fprintf(stderr, "dl: dlsym plugin: %s\n", dlerror());
        return 2;
    }
    for (int r = 0; r < 3; r++)
        for (int64_t x = 0; x < 12; x++)
            printf("cube %lld %lld\n", (long long)x, (long long)cube(x * 1000 - 5));
    for (int r = 0; r < 2; r++)
        printf("sum_sq %lld\n", (long long)sum_sq(15));

    fflush(stdout);
    fprintf(stderr, "plugin: execs plugin_cube %lu\n", *plugin_execs);
    legacy_report();
    return 0;
}
