/* threads.c - 4 threads call tl_add through the PLT for as long as the main thread dlopens,
 * calls and dlcloses libplug.so (RTLD_LOCAL) 40 times, so objects are patched while calls run.
 * Prints the checked results on stdout and "calls N" (the number of tl_add calls, which varies
 * from run to run) on stderr. Expected hooked calls: tl_add N, dep_mul 40. */
#include "tl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define ROUNDS 40
#define NTHREADS 4

static int done;
static long started;

struct work {
    long id, calls, wrong;
};

static void *worker(void *p)
{
    struct work *w = p;
    for (int i = 0; !__atomic_load_n(&done, __ATOMIC_ACQUIRE); i++) {
        if (tl_add(i & 7, (int)w->id) != (i & 7) + (int)w->id)
            w->wrong++;
        if (w->calls++ == 1000)
            __atomic_add_fetch(&started, 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    (void)argc;
    char path[4096];
    snprintf(path, sizeof(path), "%s/libplug.so", argv[1]);
    pthread_t t[NTHREADS];
    struct work w[NTHREADS] = {{0}};
    for (long i = 0; i < NTHREADS; i++) {
        w[i].id = i;
        pthread_create(&t[i], NULL, worker, &w[i]);
    }
    while (__atomic_load_n(&started, __ATOMIC_ACQUIRE) < NTHREADS)
        ;
    long runs = 0;
    for (int r = 0; r < ROUNDS; r++) {
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        int (*run)(int) = h ? (int (*)(int))dlsym(h, "plug_run") : NULL;
        if (run)
            runs += run(r);
        if (h)
            dlclose(h);
    }
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    long calls = 0, wrong = 0;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(t[i], NULL);
        calls += w[i].calls;
        wrong += w[i].wrong;
    }
    printf("wrong %ld\n", wrong);
    printf("runs %ld\n", runs);
    fprintf(stderr, "calls %ld\n", calls);
    return 0;
}
