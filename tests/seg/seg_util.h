/*
 * seg_util.h - what the segment's test programs share (test_seg.c, test_seg_life.c): a scratch
 * directory, opening a segment there, self-verifying keys and values (both derived from a key
 * number, with variable lengths, so any wrong byte is detected), and the runner of `PROG NAME`.
 *
 * What it does not do: tests. Everything here is static: each program gets its own copy (and
 * its own cm_test.h state, which is why the two programs are separate executables).
 */
#ifndef CM_SEG_UTIL_H
#define CM_SEG_UTIL_H

#define CM_TEST_TIMEOUT 110
#include "cm_test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include <xxhash.h>

#include "seg/seg.h"
#include "seg/seg_int.h" /* white-box: internal counters */

#ifdef __SANITIZE_THREAD__
#define SLOW 10 /* ThreadSanitizer: fewer operations */
#else
#define SLOW 1
#endif

static char dir[256]; /* this process's scratch directory (make_dir) */

static __attribute__((unused)) void make_dir(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/cmseg.XXXXXX", t && t[0] ? t : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
}

static __attribute__((unused)) void rm_dir(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

static __attribute__((unused)) void seg_path(char *p, size_t n, const char *name)
{
    snprintf(p, n, "%s/%s", dir, name);
}

static __attribute__((unused)) struct cm_seg *open_seg(const char *path, uint64_t size, int *rc)
{
    struct cm_seg_opts o = {.path = path, .size = size, .max_entry = 0, .create = 1};
    struct cm_seg *s = NULL;
    char err[256];
    int r = cm_seg_open(&o, &s, err, sizeof(err));
    if (rc != NULL)
        *rc = r;
    else if (r != 0)
        fprintf(stderr, "cm_seg_open(%s): %d %s\n", path, r, err);
    return s;
}

/* ---- self-verifying keys and values ---- */

struct kv {
    uint8_t h[16];
    uint8_t k[64];
    uint32_t klen;
    uint8_t v[512];
    uint32_t vlen;
};

static __attribute__((unused)) void make_kv(uint64_t id, struct kv *x, uint32_t vmax)
{
    uint64_t r = XXH64(&id, sizeof(id), 42);
    x->klen = 8 + (uint32_t)(id % 41);
    memset(x->k, 0, sizeof(x->k));
    memcpy(x->k, &id, 8);
    for (uint32_t i = 8; i < x->klen; i++)
        x->k[i] = (uint8_t)(r >> (i % 8 * 8)) ^ (uint8_t)i;
    XXH128_hash_t hh = XXH3_128bits(x->k, x->klen);
    memcpy(x->h, &hh.low64, 8);
    memcpy(x->h + 8, &hh.high64, 8);
    x->vlen = 1 + (uint32_t)((id * 7919) % vmax);
    for (uint32_t i = 0; i < x->vlen; i++)
        x->v[i] = (uint8_t)(r >> (i % 8 * 8)) ^ (uint8_t)(i * 31) ^ (uint8_t)(id >> 8);
}

/* 1 hit and right, 0 miss, -1 wrong value */
static __attribute__((unused)) int check_kv(struct cm_seg *s, uint64_t id, uint32_t vmax)
{
    struct kv x;
    uint8_t got[512];
    uint32_t need = 0;
    make_kv(id, &x, vmax);
    long r = cm_seg_get(s, x.h, x.k, x.klen, got, sizeof(got), &need);
    if (r == -2) {
        /* a caller retries with the length asked for (a corrupt length fails the checksum) */
        uint8_t *big = malloc(need);
        if (big == NULL)
            return -1;
        r = cm_seg_get(s, x.h, x.k, x.klen, big, need, &need);
        int ok = r == -1 ? 0 : r == (long)x.vlen && memcmp(big, x.v, x.vlen) == 0 ? 1 : -1;
        free(big);
        return ok;
    }
    if (r == -1)
        return 0;
    if (r != (long)x.vlen || memcmp(got, x.v, x.vlen) != 0)
        return -1;
    return 1;
}

static __attribute__((unused)) int put_kv(struct cm_seg *s, uint64_t id, uint32_t vmax, uint64_t fn)
{
    struct kv x;
    make_kv(id, &x, vmax);
    return cm_seg_put(s, x.h, fn, x.k, x.klen, x.v, x.vlen);
}

static __attribute__((unused)) uint64_t rnd(uint64_t *st)
{
    uint64_t x = *st;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *st = x;
    return x;
}

static __attribute__((unused)) int wait_all(pid_t *pids, int n)
{
    int bad = 0, st;
    for (int i = 0; i < n; i++) {
        if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bad++;
    }
    return bad;
}

struct seg_test {
    const char *name;
    void (*fn)(void);
};

/* `PROG NAME` runs test NAME, `PROG` all of them, each in a child process (cm_test.h). */
static __attribute__((unused)) int seg_main(int argc, char **argv, const struct seg_test *t,
                                            size_t n)
{
    int ran = 0;
    make_dir();
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 && strcmp(argv[1], t[i].name) != 0)
            continue;
        cm_test_run(t[i].name, t[i].fn);
        ran++;
    }
    rm_dir();
    if (ran == 0) {
        fprintf(stderr, "no test named %s\n", argv[1]);
        return 2;
    }
    return cm_test_summary();
}

#endif
