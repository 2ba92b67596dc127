/*
 * dlthreads.c - threads already running when a library is dlopen'ed and inline-patched
 * (test_dlopen.sh).
 *
 * What it does: starts 4 threads that keep calling a local function (spin) until told to go on,
 * then dlopens libinl.so (patched inside the dlopen wrapper while they run), then every thread
 * calls inl_hash_many through the dlsym'ed pointer, whose internal direct calls to inl_hash are
 * what an inline hook catches. Each result is checked against a reference computed in this
 * program; stdout gets one line per thread and a summary; stderr the execution counts.
 *
 * What it does not do: depend on scheduling for its output.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define NT 4
#define ROUNDS 50

static long (*many)(long, long);
static volatile int go;
static long bad;
static unsigned long spins[NT];

static long ref_hash(long x)
{
    unsigned long h = (unsigned long)x * 0x9e3779b97f4a7c15ul;
    for (int i = 0; i < 300; i++)
        h = (h ^ (h >> 29)) * 0xbf58476d1ce4e5b9ul + (unsigned long)i;
    return (long)(h >> 1);
}

__attribute__((noinline)) static unsigned long spin(unsigned long x)
{
    return x * 2654435761u + 1;
}

static void *worker(void *arg)
{
    long t = (long)arg;
    unsigned long x = (unsigned long)t;
    while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE)) {
        x = spin(x);
        spins[t]++;
    }
    long errs = 0;
    for (int r = 0; r < ROUNDS; r++) {
        long k = (r + t) % 8;
        long want = 0;
        for (long i = 0; i < 32; i++)
            want += ref_hash((i * 7 + k) % 64);
        if (many(32, k) != want)
            errs++;
    }
    __atomic_fetch_add(&bad, errs, __ATOMIC_RELAXED);
    return (void *)(x & 0);
}

int main(int argc, char **argv)
{
    const char *lib = argc > 1 ? argv[1] : "libinl.so";
    pthread_t th[NT];
    for (long t = 0; t < NT; t++)
        pthread_create(&th[t], NULL, worker, (void *)t);
    for (int t = 0; t < NT; t++) /* every thread is running before the dlopen */
        while (!__atomic_load_n(&spins[t], __ATOMIC_RELAXED))
            ;
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    many = (long (*)(long, long))dlsym(h, "inl_hash_many");
    unsigned long *execs = dlsym(h, "inl_execs");
    __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
    for (int t = 0; t < NT; t++)
        pthread_join(th[t], NULL);
    printf("threads %d rounds %d wrong %ld\n", NT, ROUNDS, bad);
    fprintf(stderr, "dlthreads: execs inl_hash %lu\n", execs ? *execs : 0);
    return bad != 0;
}
