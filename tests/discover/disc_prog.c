/*
 * disc_prog.c - the program of the discover tests: calls libdisc's functions (directly, or
 * through dlopen/dlsym with `--dlopen LIB`), and prints every result, so outputs can be compared
 * byte for byte with and without cloudm. Also calls printf, strlen and malloc (never suggested).
 *
 * What it does not do: nothing nondeterministic.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disc.h"

struct api {
    double (*slow_repeat)(int, double);
    double (*slow_unique)(int);
    long (*slow_name)(const char *, int);
    int (*cheap_add)(int, int);
    int (*cheap_mul)(int, int);
    unsigned (*cheap_hash)(const char *);
};

int main(int argc, char **argv)
{
    struct api a = {disc_slow_repeat, disc_slow_unique, disc_slow_name,
                    disc_cheap_add,   disc_cheap_mul,   disc_cheap_hash};
    if (argc > 2 && strcmp(argv[1], "--dlopen") == 0) {
        void *h = dlopen(argv[2], RTLD_NOW);
        if (!h) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            return 1;
        }
        a.slow_repeat = (double (*)(int, double))dlsym(h, "disc_slow_repeat");
        a.slow_unique = (double (*)(int))dlsym(h, "disc_slow_unique");
        a.slow_name = (long (*)(const char *, int))dlsym(h, "disc_slow_name");
        a.cheap_add = (int (*)(int, int))dlsym(h, "disc_cheap_add");
        a.cheap_mul = (int (*)(int, int))dlsym(h, "disc_cheap_mul");
        a.cheap_hash = (unsigned (*)(const char *))dlsym(h, "disc_cheap_hash");
    }
    static const char *names[] = {"alpha", "beta", "gamma"};
    double s = 0;
    long t = 0;
    for (int i = 0; i < 60; i++) {
        s += a.slow_repeat(i % 4, 0.5 * (i % 4)); /* 4 distinct argument sets */
        s += a.slow_unique(i);                    /* never repeats */
        char *buf = malloc(16);
        snprintf(buf, 16, "%s", names[i % 3]);
        t += a.slow_name(buf, 1); /* repeats by content, not by address */
        free(buf);
        for (int k = 0; k < 50; k++)
            t += a.cheap_add(i, k) + a.cheap_mul(i, k) + (long)a.cheap_hash(names[k % 3]) +
                 (long)strlen(names[k % 3]);
    }
    printf("%.6f %ld\n", s, t);
    return 0;
}
