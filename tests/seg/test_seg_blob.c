/*
 * test_seg_blob.c - a process's kept mappings of blob files (shim/seg/seg_bmap.c): a repeated
 * hit on a large value is answered from the mapping an earlier hit made (shown by removing the
 * files: the kept ones still answer, with the right bytes), at most 8 are kept and the least
 * recently used goes first, closing the segment forgets them, a kept file whose bytes were
 * changed on disk is a miss, and many threads hitting, storing and evicting at once never see
 * a wrong byte (label "threads": ThreadSanitizer checks the reference counting).
 *
 * What it does not do: the blob format and budget (test_seg.c basic, tests/e2e/test_bigdata.sh),
 * timing (bench/bench_big.sh). `test_seg_blob NAME` runs one test.
 */
#include "seg_util.h"

#include <dirent.h>

#define BIG (300u << 10) /* over the ring's 256 KiB: a blob file */

struct big {
    uint8_t h[16];
    uint8_t k[16];
    uint8_t *v;
};

static void make_big(uint64_t id, uint64_t gen, struct big *b)
{
    memset(b->k, 0, sizeof(b->k));
    memcpy(b->k, &id, 8);
    XXH128_hash_t hh = XXH3_128bits(b->k, sizeof(b->k));
    memcpy(b->h, &hh.low64, 8);
    memcpy(b->h + 8, &hh.high64, 8);
    b->v = malloc(BIG);
    for (uint32_t i = 0; i < BIG; i++)
        b->v[i] = (uint8_t)(i * 7 + id * 13 + gen * 101 + (i >> 9));
}

/* 1: hit with the bytes of generation gen (or of any generation when gen < 0), 0: miss, -1:
 * wrong bytes. */
static int look(struct cm_seg *s, uint64_t id, int64_t gen)
{
    struct big b;
    make_big(id, gen < 0 ? 0 : (uint64_t)gen, &b);
    uint8_t ref[64];
    uint32_t need = 0;
    struct cm_seg_view view = {0};
    long n = cm_seg_lookup(s, b.h, b.k, sizeof(b.k), ref, sizeof(ref), &need, &view);
    int r = 0;
    if (n >= 0) {
        r = n == (long)BIG ? 1 : -1;
        if (r == 1 && gen >= 0 && memcmp(view.v, b.v, BIG) != 0)
            r = -1;
        if (r == 1 && gen < 0) { /* any generation: all of the bytes of one of them */
            uint8_t v0 = view.v[0];
            int known = 0;
            for (uint64_t g = 0; g < 3; g++)
                known |= v0 == (uint8_t)(id * 13 + g * 101);
            if (!known)
                r = -1;
            for (uint32_t i = 1; i < BIG && r == 1; i++) /* a mix of two shows a jump of 101 */
                if ((uint8_t)(view.v[i] - view.v[i - 1]) != (uint8_t)(7 + (i % 512 == 0)))
                    r = -1;
        }
        cm_seg_view_done(&view);
    }
    free(b.v);
    return r;
}

static int store(struct cm_seg *s, uint64_t id, uint64_t gen)
{
    struct big b;
    make_big(id, gen, &b);
    int r = cm_seg_put(s, b.h, 7, b.k, sizeof(b.k), b.v, BIG);
    free(b.v);
    return r;
}

/* Remove every blob file of segment path p; returns how many. */
static int remove_blobs(const char *p)
{
    char d[400], f[700];
    snprintf(d, sizeof(d), "%s.blobs", p);
    DIR *dir = opendir(d);
    int n = 0;
    struct dirent *e;
    while (dir && (e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(f, sizeof(f), "%s/%s", d, e->d_name);
        n += unlink(f) == 0;
    }
    if (dir)
        closedir(dir);
    return n;
}

/* A hit keeps its mapping: with the file gone, the next hit is still right; closing the segment
 * forgets it. */
static void t_keep(void)
{
    char p[300];
    seg_path(p, sizeof(p), "keep");
    struct cm_seg *s = open_seg(p, 8 << 20, NULL);
    REQUIRE(s != NULL);
    ASSERT_EQ_INT(store(s, 1, 0), 0);
    ASSERT_EQ_INT(store(s, 2, 0), 0);
    ASSERT_EQ_INT(look(s, 1, 0), 1); /* maps the file and keeps the mapping */
    ASSERT_EQ_INT(remove_blobs(p), 2);
    ASSERT_EQ_INT(look(s, 1, 0), 1); /* kept: no file needed */
    ASSERT_EQ_INT(look(s, 1, 0), 1);
    ASSERT_EQ_INT(look(s, 2, 0), 0); /* never looked up: its file is gone, a miss */
    cm_seg_close(s);
    s = open_seg(p, 8 << 20, NULL);
    REQUIRE(s != NULL);
    ASSERT_EQ_INT(look(s, 1, 0), 0); /* forgotten with the segment that kept it */
    cm_seg_close(s);
}

/* At most 8 mappings are kept, the least recently used dropped first. */
static void t_lru(void)
{
    char p[300];
    seg_path(p, sizeof(p), "lru");
    struct cm_seg *s = open_seg(p, 16 << 20, NULL);
    REQUIRE(s != NULL);
    for (uint64_t id = 1; id <= 12; id++)
        ASSERT_EQ_INT(store(s, id, 0), 0);
    for (uint64_t id = 1; id <= 12; id++)
        ASSERT_EQ_INT(look(s, id, 0), 1);
    ASSERT_EQ_INT(look(s, 12, 0), 1); /* most recent */
    ASSERT_EQ_INT(remove_blobs(p), 12);
    int kept = 0;
    for (uint64_t id = 12; id >= 1; id--) { /* newest first: a miss never changes the table */
        int r = look(s, id, 0);
        ASSERT_TRUE(r >= 0);
        kept += r;
        if (id > 4)
            ASSERT_EQ_INT(r, 1); /* the 8 most recently used */
        else
            ASSERT_EQ_INT(r, 0);
    }
    ASSERT_EQ_INT(kept, 8);
    cm_seg_close(s);
}

/* A kept file whose bytes change on disk (only its owner can do that) is a miss, and so is every
 * later hit on it: never a wrong byte. */
static void t_changed(void)
{
    char p[300], d[400], f[700];
    seg_path(p, sizeof(p), "changed");
    struct cm_seg *s = open_seg(p, 8 << 20, NULL);
    REQUIRE(s != NULL);
    ASSERT_EQ_INT(store(s, 3, 0), 0);
    ASSERT_EQ_INT(look(s, 3, 0), 1);
    snprintf(d, sizeof(d), "%s.blobs", p);
    DIR *dir = opendir(d);
    REQUIRE(dir != NULL);
    struct dirent *e;
    int fd = -1;
    while ((e = readdir(dir)) != NULL)
        if (e->d_name[0] != '.') {
            snprintf(f, sizeof(f), "%s/%s", d, e->d_name);
            fd = open(f, O_WRONLY);
        }
    closedir(dir);
    REQUIRE(fd >= 0);
    ASSERT_EQ_INT(pwrite(fd, "XY", 2, 64 + 1000), 2); /* a value byte */
    close(fd);
    ASSERT_EQ_INT(look(s, 3, 0), 0); /* the lookup checks the kept mapping's checksum */
    ASSERT_EQ_INT(look(s, 3, 0), 0);
    cm_seg_close(s);
}

struct worker {
    struct cm_seg *s;
    int id, wrong, hits;
};

static void *hammer(void *arg)
{
    struct worker *w = arg;
    uint64_t st = 0x9E3779B97F4A7C15ull * (uint64_t)(w->id + 1);
    for (int i = 0; i < 600 / SLOW; i++) {
        uint64_t id = 1 + rnd(&st) % 14;
        if (w->id == 0 && i % 8 == 0) { /* one writer replaces values: new files, new ids */
            store(w->s, id, rnd(&st) % 3);
            continue;
        }
        int r = look(w->s, id, -1);
        w->wrong += r < 0;
        w->hits += r > 0;
    }
    return NULL;
}

/* Threads hitting 14 blobs through 8 kept mappings while one of them stores new versions: every
 * hit has the bytes of one version, never a mix, and nothing crashes (TSan: no race). */
static void t_threads(void)
{
    char p[300];
    seg_path(p, sizeof(p), "threads");
    struct cm_seg *s = open_seg(p, 32 << 20, NULL);
    REQUIRE(s != NULL);
    for (uint64_t id = 1; id <= 14; id++)
        ASSERT_EQ_INT(store(s, id, 0), 0);
    pthread_t t[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.s = s, .id = i};
        pthread_create(&t[i], NULL, hammer, &w[i]);
    }
    int wrong = 0, hits = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        wrong += w[i].wrong;
        hits += w[i].hits;
    }
    ASSERT_EQ_INT(wrong, 0);
    ASSERT_TRUE(hits > 100 / SLOW);
    cm_seg_close(s);
}

int main(int argc, char **argv)
{
    static const struct seg_test tests[] = {
        {"keep", t_keep}, {"lru", t_lru}, {"changed", t_changed}, {"threads", t_threads}};
    return seg_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
