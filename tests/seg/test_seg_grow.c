/*
 * test_seg_grow.c - tests of the shared segment's growing index (shim/seg/seg_ix.c): the RAM a
 * segment takes with one entry and as it fills, a second process that mapped the segment before
 * the index grew, writers killed while the index grows, a full tmpfs while it grows, and keys the
 * old table held past its end (wrapped) moved by the migration.
 *
 * What it does not do: the ring, blobs, single-flight (test_seg.c, test_seg_life.c).
 * `test_seg_grow NAME` runs one test (one ctest entry each), `test_seg_grow` all.
 */
#include "seg_util.h"

#include <sys/mount.h>
#include <sys/wait.h>

static uint64_t file_blocks(const char *p)
{
    struct stat st;
    if (stat(p, &st) != 0)
        return ~0ull; /* fails every bound below */
    return (uint64_t)st.st_blocks * 512;
}

/* small values (inline) and larger ones (ring), ids from `from` */
static int put_range(struct cm_seg *s, uint64_t from, uint64_t n, uint32_t vmax)
{
    int bad = 0;
    for (uint64_t id = from; id < from + n; id++)
        bad += put_kv(s, id, vmax, 1) != 0;
    return bad;
}

static void count_range(struct cm_seg *s, uint64_t from, uint64_t n, uint32_t vmax, int *hits,
                        int *wrong)
{
    *hits = *wrong = 0;
    for (uint64_t id = from; id < from + n; id++) {
        int r = check_kv(s, id, vmax);
        *hits += r > 0;
        *wrong += r < 0;
    }
}

/* one 100-byte entry in a default-size segment (256 MiB) costs at most 4 MiB; more entries
 * grow the file's allocation (the index doubles) */
static void t_alloc(void)
{
    char m[300], p[400];
    seg_path(m, sizeof(m), "allocmnt");
    /* on a tmpfs of our own when we may mount one (the RAM of /dev/shm); a disk file system may
     * count blocks it preallocates speculatively */
    int mounted = geteuid() == 0 && mkdir(m, 0700) == 0 &&
                  mount("cloudm-test", m, "tmpfs", 0, "size=256m,mode=0700") == 0;
    if (mounted)
        snprintf(p, sizeof(p), "%s/seg", m);
    else
        seg_path(p, sizeof(p), "alloc");
    struct cm_seg *s = open_seg(p, 256ull << 20, NULL);
    REQUIRE(s != NULL);
    uint8_t h[16] = {9, 8, 7}, k[40] = {1}, v[100] = {2};
    ASSERT_EQ_INT(cm_seg_put(s, h, 1, k, sizeof(k), v, sizeof(v)), 0);
    uint64_t one = file_blocks(p);
    struct cm_seg_info in;
    cm_seg_get_info(s, &in);
    fprintf(stderr, "alloc: %llu bytes with one entry (%llu index slots of %llu)\n",
            (unsigned long long)one, (unsigned long long)in.ix_slots,
            (unsigned long long)in.ix_max);
    if (mounted)
        ASSERT_TRUE(one <= 4ull << 20);
    ASSERT_EQ_UINT(in.allocated, one);
    uint64_t slots0 = in.ix_slots;
    ASSERT_EQ_INT(put_range(s, 0, 200000, 20), 0); /* inline values: the index only */
    uint64_t many = file_blocks(p);
    cm_seg_get_info(s, &in);
    fprintf(stderr, "alloc: %llu bytes with 200k small entries (%llu slots, %llu entries)\n",
            (unsigned long long)many, (unsigned long long)in.ix_slots,
            (unsigned long long)in.entries);
    ASSERT_TRUE(in.ix_slots >= 2 * slots0);
    ASSERT_TRUE(many >= one + in.ix_slots * 64 / 2);
    ASSERT_TRUE(in.entries > 190000);
    int hits, wrong;
    count_range(s, 0, 200000, 20, &hits, &wrong);
    ASSERT_EQ_INT(wrong, 0);
    ASSERT_TRUE(hits > 190000);
    cm_seg_close(s);
    if (mounted)
        umount(m);
}

/* A second process mapped the segment before the index grew: it sees the entries stored
 * after the growth, and its own stores reach the first one. */
static void t_second(void)
{
    char p[300];
    seg_path(p, sizeof(p), "second");
    struct cm_seg *s = open_seg(p, 64ull << 20, NULL);
    REQUIRE(s != NULL);
    ASSERT_EQ_INT(put_kv(s, 1, 300, 1), 0);
    struct cm_seg_info in0, in1;
    cm_seg_get_info(s, &in0);
    int go[2], done[2], ready[2];
    REQUIRE(pipe(go) == 0 && pipe(done) == 0 && pipe(ready) == 0);
    pid_t c = fork();
    if (c == 0) { /* mapped (inherited, and one mapping of its own) before the growth */
        struct cm_seg *s2 = open_seg(p, 64ull << 20, NULL);
        char b;
        if (s2 == NULL || write(ready[1], "r", 1) != 1 || read(go[0], &b, 1) != 1)
            _exit(2);
        int hits, wrong;
        count_range(s2, 1000, 100000, 100, &hits, &wrong);
        if (wrong != 0 || hits < 99000)
            _exit(3);
        count_range(s, 1000, 100000, 100, &hits, &wrong);
        if (wrong != 0 || hits < 99000)
            _exit(4);
        if (put_range(s2, 500000, 20000, 20) != 0)
            _exit(5);
        _exit(write(done[1], "d", 1) == 1 ? 0 : 6);
    }
    char b;
    ASSERT_EQ_INT(read(ready[0], &b, 1), 1);
    ASSERT_EQ_INT(put_range(s, 1000, 100000, 100), 0);
    cm_seg_get_info(s, &in1);
    fprintf(stderr, "second: index %llu -> %llu slots\n", (unsigned long long)in0.ix_slots,
            (unsigned long long)in1.ix_slots);
    ASSERT_TRUE(in1.ix_slots > in0.ix_slots);
    ASSERT_EQ_INT(write(go[1], "g", 1), 1);
    ASSERT_EQ_INT(wait_all(&c, 1), 0);
    int hits, wrong;
    count_range(s, 500000, 20000, 20, &hits, &wrong);
    ASSERT_EQ_INT(wrong, 0);
    ASSERT_TRUE(hits >= 19800);
    cm_seg_close(s);
}

/* writers killed at random moments while the index grows and migrates: never a wrong value,
 * and the segment goes on working (growth included) */
static void t_crash(void)
{
    char p[300];
    seg_path(p, sizeof(p), "crashgrow");
    struct cm_seg *s = open_seg(p, 64ull << 20, NULL);
    REQUIRE(s != NULL);
    uint64_t seed = 777;
    for (int round = 0; round < 12; round++) {
        pid_t kids[2];
        for (int i = 0; i < 2; i++) {
            kids[i] = fork();
            if (kids[i] == 0) {
                uint64_t base = (uint64_t)(round * 2 + i) * 40000;
                for (uint64_t id = base; id < base + 40000; id++)
                    put_kv(s, id, 40, 1);
                _exit(0);
            }
        }
        struct timespec d = {0, (long)(1000000 + rnd(&seed) % 20000000)};
        nanosleep(&d, NULL);
        for (int i = 0; i < 2; i++) {
            kill(kids[i], SIGKILL);
            waitpid(kids[i], NULL, 0);
        }
        int hits, wrong;
        count_range(s, 0, (uint64_t)(round * 2 + 2) * 40000, 40, &hits, &wrong);
        ASSERT_EQ_INT(wrong, 0);
    }
    struct cm_seg_info in;
    cm_seg_get_info(s, &in);
    fprintf(stderr, "crashgrow: %llu slots, %llu entries\n", (unsigned long long)in.ix_slots,
            (unsigned long long)in.entries);
    ASSERT_TRUE(in.ix_slots > 4096);
    ASSERT_EQ_INT(put_range(s, 9000000, 60000, 40), 0);
    int hits, wrong;
    count_range(s, 9000000, 60000, 40, &hits, &wrong);
    ASSERT_EQ_INT(wrong, 0);
    ASSERT_TRUE(hits > 57000);
    cm_seg_close(s);
}

/* A tmpfs that fills while the index grows (root only): growth refused and counted, no SIGBUS,
 * the entries stored still answer. */
static void t_full(void)
{
    char m[300], p[400];
    seg_path(m, sizeof(m), "mnt");
    if (geteuid() != 0 || mkdir(m, 0700) != 0 ||
        mount("cloudm-test", m, "tmpfs", 0, "size=3m,mode=0700") != 0) {
        fprintf(stderr, "skip: full (needs root and mount)\n");
        return;
    }
    snprintf(p, sizeof(p), "%s/seg", m);
    struct cm_seg *s = open_seg(p, 64ull << 20, NULL);
    REQUIRE(s != NULL);
    put_range(s, 0, 200000, 20);
    struct cm_seg_info in;
    cm_seg_get_info(s, &in);
    fprintf(stderr, "full: %llu slots, %llu entries, %llu growths refused, %llu bytes\n",
            (unsigned long long)in.ix_slots, (unsigned long long)in.entries,
            (unsigned long long)in.ix_nospace, (unsigned long long)in.allocated);
    ASSERT_TRUE(in.ix_nospace >= 1);
    ASSERT_TRUE(in.allocated <= 3ull << 20);
    int hits, wrong;
    count_range(s, 200000 - 2000, 2000, 20, &hits, &wrong);
    ASSERT_EQ_INT(wrong, 0);
    ASSERT_TRUE(hits > 1000);
    cm_seg_close(s);
    umount(m);
}

/* Keys the old table reached by wrapping around its end (home near the end, slot near 0) whose
 * new home is in the upper half: the migration must move them (a probe from their new home
 * stops at the upper half's never-used slots before wrapping to them). Every stored key is
 * found afterwards, except those evicted (a full window) and counted so. These ids lost one
 * key that way before the fix (4 misses, 3 evictions). */
static void t_wrap(void)
{
    char p[300];
    seg_path(p, sizeof(p), "wrap");
    struct cm_seg *s = open_seg(p, 256ull << 20, NULL);
    REQUIRE(s != NULL);
    const uint64_t from = 3000000, n = 100000;
    ASSERT_EQ_INT(put_range(s, from, n, 8), 0);
    struct cm_seg_info in;
    cm_seg_get_info(s, &in);
    int hits, wrong;
    count_range(s, from, n, 8, &hits, &wrong);
    ASSERT_EQ_INT(wrong, 0);
    ASSERT_EQ_UINT(n - (uint64_t)hits, in.evictions);
    ASSERT_EQ_UINT(in.entries, (uint64_t)hits);
    cm_seg_close(s);
}

int main(int argc, char **argv)
{
    static const struct seg_test tests[] = {
        {"alloc", t_alloc}, {"second", t_second}, {"crashgrow", t_crash},
        {"full", t_full},   {"wrap", t_wrap},
    };
    return seg_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
