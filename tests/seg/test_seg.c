/*
 * test_seg.c - tests of the shared-memory segment (shim/seg/): the API, many processes and
 * threads at once, SIGKILL at random moments, random bytes written into a live segment, file
 * permissions, single-flight, and the scalar fast path's lookup (cm_seg_lookup_small).
 *
 * What it does not do: takeover, eviction of small segments, persistence, format replacement
 * and the hit timing (test_seg_life.c); the shim's use of the tier (tests/e2e). `test_seg NAME`
 * runs one test (one ctest entry each), `test_seg` all.
 */
#include "seg_util.h"

/* ---- tests ---- */

static void cb(void *ctx, const char *name, uint64_t id, const struct cm_seg_fnstat *fs)
{
    struct {
        int n;
        uint64_t calls;
    } *acc = ctx;
    (void)id;
    acc->n++;
    if (strcmp(name, "solve") == 0)
        acc->calls += fs->calls;
}

static void t_basic(void)
{
    char p[300];
    struct cm_seg_info in;
    seg_path(p, sizeof(p), "basic");
    struct cm_seg *s = open_seg(p, 4 << 20, NULL);
    REQUIRE(s != NULL);
    struct stat st;
    ASSERT_EQ_INT(stat(p, &st), 0);
    ASSERT_EQ_UINT(st.st_mode & 0777, 0600);
    ASSERT_EQ_INT(check_kv(s, 1, 300), 0);
    ASSERT_EQ_INT(put_kv(s, 1, 300, 7), 0);
    ASSERT_EQ_INT(check_kv(s, 1, 300), 1);
    /* vcap too small */
    struct kv x;
    uint8_t small[1];
    uint32_t need = 0;
    make_kv(1, &x, 300);
    if (x.vlen > 1) {
        ASSERT_EQ_INT(cm_seg_get(s, x.h, x.k, x.klen, small, 1, &need), -2);
        ASSERT_EQ_UINT(need, x.vlen);
    }
    /* same hash, different key bytes: a miss */
    uint8_t k2[64];
    memcpy(k2, x.k, x.klen);
    k2[x.klen - 1] ^= 1;
    ASSERT_EQ_INT(cm_seg_get(s, x.h, k2, x.klen, small, 1, &need), -1);
    /* overwrite with the same key keeps one entry */
    ASSERT_EQ_INT(put_kv(s, 1, 300, 7), 0);
    cm_seg_get_info(s, &in);
    ASSERT_EQ_UINT(in.entries, 1);
    /* larger than the ring keeps (256 KiB): a blob file beside the segment, read through a view
     * (cm_seg_get, which cannot map blobs, misses) */
    static uint8_t big[1 << 20];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 13 + 1);
    ASSERT_EQ_INT(cm_seg_put(s, x.h, 7, x.k, x.klen, big, sizeof(big)), 0);
    ASSERT_EQ_INT(cm_seg_get(s, x.h, x.k, x.klen, small, 1, &need), -1);
    {
        uint8_t ref[64];
        struct cm_seg_view view = {0};
        ASSERT_EQ_INT(cm_seg_lookup(s, x.h, x.k, x.klen, ref, sizeof(ref), &need, &view),
                      (long)sizeof(big));
        ASSERT_TRUE(view.map != NULL);
        ASSERT_EQ_MEM(view.v, big, sizeof(big));
        cm_seg_view_done(&view);
        cm_seg_get_info(s, &in);
        ASSERT_EQ_UINT(in.blob_files, 1);
        ASSERT_TRUE(in.blob_bytes > sizeof(big));
    }
    /* too big: over max_entry (1 GiB by default) */
    ASSERT_EQ_INT(cm_seg_put(s, x.h, 7, x.k, x.klen, big, (1u << 30) + 65536), -E2BIG);
    /* function stats and clear by name */
    int a = cm_seg_fn_slot(s, 7, "solve"), b = cm_seg_fn_slot(s, 9, "other");
    ASSERT_TRUE(a >= 0 && b >= 0 && a != b);
    ASSERT_EQ_INT(cm_seg_fn_slot(s, 7, "solve"), a);
    struct cm_seg_fnstat d = {.calls = 3, .hit_shared = 2, .misses = 1, .saved_ns = 100};
    cm_seg_fn_add(s, a, &d);
    cm_seg_fn_add(s, a, &d);
    for (uint64_t i = 2; i < 100; i++)
        ASSERT_EQ_INT(put_kv(s, i, 300, i % 2 ? 7 : 9), 0);
    cm_seg_get_info(s, &in);
    ASSERT_EQ_UINT(in.entries, 99);
    ASSERT_TRUE(in.used > 0 && in.used <= in.data_size);
    errno = 1234;
    long n = cm_seg_clear(s, "other");
    ASSERT_EQ_INT(errno, 1234);
    ASSERT_EQ_INT(n, 49);
    ASSERT_EQ_INT(check_kv(s, 2, 300), 0);
    ASSERT_EQ_INT(check_kv(s, 3, 300), 1);
    ASSERT_EQ_INT(cm_seg_clear(s, "nosuch"), 0);
    ASSERT_EQ_INT(cm_seg_clear(s, NULL), 50);
    ASSERT_EQ_INT(check_kv(s, 3, 300), 0);
    cm_seg_get_info(s, &in);
    ASSERT_EQ_UINT(in.entries, 0);
    /* a process with a smaller max_entry still reads another's larger entries */
    {
        struct cm_seg_opts so = {.path = p, .size = 4 << 20, .max_entry = 1000, .create = 1};
        struct cm_seg *s2 = NULL;
        char e2[200];
        static uint8_t bv[100000], got[100000];
        for (size_t i = 0; i < sizeof(bv); i++)
            bv[i] = (uint8_t)(i * 7);
        ASSERT_EQ_INT(cm_seg_open(&so, &s2, e2, sizeof(e2)), 0);
        ASSERT_EQ_INT(cm_seg_put(s2, x.h, 7, x.k, x.klen, bv, sizeof(bv)), -E2BIG);
        ASSERT_EQ_INT(cm_seg_put(s, x.h, 7, x.k, x.klen, bv, sizeof(bv)), 0);
        ASSERT_EQ_INT(cm_seg_get(s2, x.h, x.k, x.klen, got, sizeof(got), &need), (long)sizeof(bv));
        ASSERT_EQ_MEM(got, bv, sizeof(bv));
        cm_seg_close(s2);
    }
    cm_seg_close(s);
    /* the tools' way in: open only, no create */
    struct cm_seg_opts o = {.path = p, .create = 0};
    char err[200];
    ASSERT_EQ_INT(cm_seg_open(&o, &s, err, sizeof(err)), 0);
    struct {
        int n;
        uint64_t calls;
    } acc = {0, 0};
    cm_seg_fn_foreach(s, cb, &acc);
    ASSERT_EQ_INT(acc.n, 2);
    ASSERT_EQ_UINT(acc.calls, 6);
    cm_seg_close(s);
    seg_path(p, sizeof(p), "none");
    o.path = p;
    ASSERT_EQ_INT(cm_seg_open(&o, &s, err, sizeof(err)), -ENOENT);
}

/* 8 processes x 100k mixed lookups and stores (2 threads each) over 10k keys */
#define ST_KEYS 10000
struct st_arg {
    struct cm_seg *s;
    uint64_t seed, ops, hits, wrong;
};

static void *stress_thread(void *p)
{
    struct st_arg *a = p;
    for (uint64_t i = 0; i < a->ops; i++) {
        uint64_t id = rnd(&a->seed) % ST_KEYS;
        int r = check_kv(a->s, id, 400);
        if (r < 0)
            a->wrong++;
        else if (r > 0)
            a->hits++;
        else
            put_kv(a->s, id, 400, 1);
    }
    return NULL;
}

static void t_stress(void)
{
    char p[300];
    enum { NPROC = 8, NTHR = 2 };
    seg_path(p, sizeof(p), "stress");
    struct cm_seg *s0 = open_seg(p, 2 << 20, NULL); /* smaller than the working set: evicts */
    REQUIRE(s0 != NULL);
    uint64_t *res = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t pids[NPROC];
    for (int i = 0; i < NPROC; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            struct cm_seg *s = open_seg(p, 2 << 20, NULL);
            if (s == NULL)
                _exit(3);
            struct st_arg a[NTHR];
            pthread_t t[NTHR];
            for (int j = 0; j < NTHR; j++) {
                a[j] = (struct st_arg){s, 0x9e3779b97f4a7c15ull * (i * NTHR + j + 1),
                                       100000 / NTHR / SLOW, 0, 0};
                pthread_create(&t[j], NULL, stress_thread, &a[j]);
            }
            for (int j = 0; j < NTHR; j++) {
                pthread_join(t[j], NULL);
                __atomic_fetch_add(&res[0], a[j].hits, __ATOMIC_RELAXED);
                __atomic_fetch_add(&res[1], a[j].wrong, __ATOMIC_RELAXED);
            }
            cm_seg_close(s);
            _exit(0);
        }
    }
    ASSERT_EQ_INT(wait_all(pids, NPROC), 0);
    struct cm_seg_info in;
    cm_seg_get_info(s0, &in);
    fprintf(stderr,
            "stress: %llu hits of %d lookups, %llu wrong, %llu entries, %llu evictions, "
            "%llu csum failures\n",
            (unsigned long long)res[0], NPROC * 100000 / SLOW, (unsigned long long)res[1],
            (unsigned long long)in.entries, (unsigned long long)in.evictions,
            (unsigned long long)in.csum_failures);
    fprintf(stderr, "stress: %llu writers lapped before publishing, %llu puts dropped\n",
            (unsigned long long)s0->hdr->sh_lapped, (unsigned long long)s0->hdr->sh_put_drops);
    ASSERT_EQ_UINT(res[1], 0);
    ASSERT_TRUE(res[0] > 0);
    /* a 2 MiB ring lapped while a writer is preempted mid-entry: the victim entry's checksum
     * catches it (see seg.c); rare, never a wrong value */
    ASSERT_TRUE(in.csum_failures < 1000);
    cm_seg_close(s0);
}

/* writers SIGKILLed at random moments; then every readable entry must be right */
static void crash_writer(const char *p, uint64_t seed)
{
    struct cm_seg *s = open_seg(p, 2 << 20, NULL);
    if (s == NULL)
        _exit(3);
    uint8_t h[16] = {1, 2, 3};
    uint32_t t;
    if (seed % 3 == 0) /* sometimes die holding a claim */
        (void)cm_seg_flight_claim(s, h, &t);
    for (;;) {
        uint64_t id = rnd(&seed) % 20000;
        if (check_kv(s, id, 500) < 0)
            _exit(9);
        put_kv(s, id, 500, 1);
        if (id % 97 == 0)
            cm_seg_fn_add(s, cm_seg_fn_slot(s, id % 5 + 1, "crashfn"),
                          &(struct cm_seg_fnstat){.calls = 1});
    }
}

static void t_crash(void)
{
    char p[300];
    uint64_t seed = (uint64_t)time(NULL) | 1;
    seg_path(p, sizeof(p), "crash");
    int rounds = 50;
    for (int r = 0; r < rounds; r++) {
        pid_t w[3];
        for (int i = 0; i < 3; i++) {
            uint64_t sd = rnd(&seed);
            w[i] = fork();
            if (w[i] == 0)
                crash_writer(p, sd);
        }
        struct timespec d = {0, (long)(rnd(&seed) % 20000000)};
        nanosleep(&d, NULL);
        for (int i = 0; i < 3; i++) {
            int st;
            kill(w[i], SIGKILL);
            waitpid(w[i], &st, 0);
            ASSERT_MSG(WIFSIGNALED(st), "writer exited early with %d (9 = wrong value)",
                       WEXITSTATUS(st));
        }
    }
    /* checker, in a new process */
    pid_t c = fork();
    if (c == 0) {
        struct cm_seg *s = open_seg(p, 2 << 20, NULL);
        if (s == NULL)
            _exit(3);
        int hits = 0, wrong = 0;
        for (uint64_t id = 0; id < 20000; id++) {
            int r = check_kv(s, id, 500);
            hits += r > 0;
            wrong += r < 0;
        }
        struct cm_seg_info in;
        cm_seg_get_info(s, &in);
        fprintf(stderr, "crash: %d readable entries, %d wrong, %llu csum failures\n", hits, wrong,
                (unsigned long long)in.csum_failures);
        if (wrong != 0 || hits == 0)
            _exit(1);
        /* progress: store and read new keys; single-flight claims of dead writers are broken */
        for (uint64_t id = 30000; id < 30100; id++)
            if (put_kv(s, id, 500, 1) != 0 || check_kv(s, id, 500) != 1)
                _exit(2);
        uint8_t h[16] = {1, 2, 3};
        uint32_t t;
        if (cm_seg_flight_claim(s, h, &t) != 1)
            _exit(4);
        cm_seg_flight_done(s, t);
        cm_seg_close(s);
        _exit(0);
    }
    ASSERT_EQ_INT(wait_all(&c, 1), 0);
}

/* random bytes written into a live segment: misses or right values, failures counted */
static void t_corrupt(void)
{
    char p[300];
    seg_path(p, sizeof(p), "corrupt");
    struct cm_seg *s = open_seg(p, 2 << 20, NULL);
    REQUIRE(s != NULL);
    for (uint64_t id = 0; id < 12000; id++)
        put_kv(s, id, 300, 1);
    uint64_t ioff, ilen, roff, rlen, seed = 12345;
    cm_seg_regions(s, &ioff, &ilen, &roff, &rlen);
    int fd = open(p, O_RDWR);
    REQUIRE(fd >= 0);
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 300; i++) {
            uint8_t junk[8];
            uint64_t x = rnd(&seed);
            memcpy(junk, &x, 8);
            uint64_t off =
                i % 5 == 0 ? ioff + rnd(&seed) % (ilen - 8) : roff + rnd(&seed) % (rlen - 8);
            ASSERT_EQ_INT(pwrite(fd, junk, 1 + x % 8, (off_t)off), (long)(1 + x % 8));
        }
        int wrong = 0, hits = 0;
        for (uint64_t id = 0; id < 12000; id++) {
            int r = check_kv(s, id, 300);
            wrong += r < 0;
            hits += r > 0;
        }
        ASSERT_EQ_INT(wrong, 0);
        ASSERT_TRUE(hits > 0);
    }
    close(fd);
    struct cm_seg_info in;
    cm_seg_get_info(s, &in);
    fprintf(stderr, "corrupt: %llu checksum failures detected\n",
            (unsigned long long)in.csum_failures);
    ASSERT_TRUE(in.csum_failures > 0);
    /* still usable */
    for (uint64_t id = 50000; id < 50100; id++) {
        ASSERT_EQ_INT(put_kv(s, id, 300, 1), 0);
        ASSERT_EQ_INT(check_kv(s, id, 300), 1);
    }
    cm_seg_close(s);
}

static void t_perms(void)
{
    char p[300], err[300];
    int rc;
    seg_path(p, sizeof(p), "perms");
    struct cm_seg *s = open_seg(p, 1 << 20, NULL);
    REQUIRE(s != NULL);
    put_kv(s, 1, 100, 1);
    cm_seg_close(s);
    ASSERT_EQ_INT(chmod(p, 0666), 0);
    errno = 4321;
    s = open_seg(p, 1 << 20, &rc);
    ASSERT_EQ_INT(errno, 4321);
    ASSERT_EQ_INT(rc, -EPERM);
    ASSERT_TRUE(s == NULL);
    ASSERT_EQ_INT(chmod(p, 0620), 0);
    s = open_seg(p, 1 << 20, &rc);
    ASSERT_EQ_INT(rc, -EPERM);
    struct cm_seg_opts o = {.path = p, .create = 0};
    ASSERT_EQ_INT(cm_seg_open(&o, &s, err, sizeof(err)), -EPERM);
    ASSERT_TRUE(strstr(err, "refused") != NULL);
    ASSERT_EQ_INT(chmod(p, 0600), 0);
    s = open_seg(p, 1 << 20, &rc);
    ASSERT_EQ_INT(rc, 0);
    ASSERT_EQ_INT(check_kv(s, 1, 100), 1);
    cm_seg_close(s);
    if (geteuid() != 0) {
        fprintf(stderr, "perms: not root, foreign-owner case skipped\n");
        return;
    }
    ASSERT_EQ_INT(chown(p, 65534, 65534), 0);
    s = open_seg(p, 1 << 20, &rc);
    ASSERT_EQ_INT(rc, -EPERM);
    ASSERT_TRUE(s == NULL);
}

/* N processes miss the same slow key at once: one computation */
static void t_flight(void)
{
    char p[300];
    enum { N = 6 };
    seg_path(p, sizeof(p), "flight");
    struct cm_seg *s0 = open_seg(p, 1 << 20, NULL);
    REQUIRE(s0 != NULL);
    uint64_t *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            struct cm_seg *s = open_seg(p, 1 << 20, NULL);
            if (s == NULL)
                _exit(3);
            __atomic_fetch_add(&sh[0], 1, __ATOMIC_SEQ_CST);
            while (__atomic_load_n(&sh[0], __ATOMIC_SEQ_CST) < N)
                ;
            for (int tries = 0; tries < 10; tries++) {
                if (check_kv(s, 77, 100) == 1)
                    _exit(0);
                uint32_t t;
                struct kv x;
                make_kv(77, &x, 100);
                int c = cm_seg_flight_claim(s, x.h, &t);
                if (c == 1) {
                    if (check_kv(s, 77, 100) != 1) { /* look again after winning */
                        __atomic_fetch_add(&sh[1], 1, __ATOMIC_SEQ_CST);
                        struct timespec d = {0, 300000000};
                        nanosleep(&d, NULL);
                        put_kv(s, 77, 100, 1);
                    }
                    cm_seg_flight_done(s, t);
                    continue;
                }
                if (c == 0)
                    cm_seg_flight_wait(s, x.h, 5000000000ull);
            }
            _exit(1);
        }
    }
    ASSERT_EQ_INT(wait_all(pids, N), 0);
    ASSERT_EQ_UINT(sh[1], 1);
    struct cm_seg_info in;
    cm_seg_get_info(s0, &in);
    ASSERT_TRUE(in.flight_waits >= 1);
    fprintf(stderr, "flight: %llu computations, %llu waits\n", (unsigned long long)sh[1],
            (unsigned long long)in.flight_waits);
    cm_seg_close(s0);
}

/* cm_seg_lookup_small, the scalar fast path's lookup: the same answers as cm_seg_get for inline
 * and ring entries (20,000 keys: some live past the first two slots of their window), a miss for
 * a key never stored, and hits refused with CM_SEG_QUARANTINED once their function is
 * quarantined, in this mapping and in a second one (another process's view), while another
 * function's entries are still served. */
static int small_get(struct cm_seg *s, uint64_t id, uint64_t fn)
{
    struct kv x;
    uint64_t h0, h1, v[5];
    make_kv(id, &x, 40);
    memcpy(&h0, x.h, 8);
    memcpy(&h1, x.h + 8, 8);
    long r = cm_seg_lookup_small(s, h0, h1, fn, x.k, x.klen, v);
    if (r < 0)
        return (int)r;
    return r == (long)x.vlen && memcmp(v, x.v, x.vlen) == 0 ? 1 : -100;
}

static void t_fastlookup(void)
{
    char p[300];
    seg_path(p, sizeof(p), "small");
    struct cm_seg *s = open_seg(p, 64ull << 20, NULL);
    REQUIRE(s != NULL);
    struct cm_seg *s2 = open_seg(p, 64ull << 20, NULL);
    REQUIRE(s2 != NULL);
    const uint64_t n = 20000;
    for (uint64_t id = 0; id < n; id++)
        ASSERT_EQ_INT(put_kv(s, id, 40, 7 + id % 2), 0);
    int hits = 0, other = 0;
    for (uint64_t id = 0; id < n; id++) {
        int r = small_get(id % 3 ? s : s2, id, 7 + id % 2);
        hits += r == 1;
        other += r != 1;
    }
    ASSERT_EQ_INT(hits, (int)n);
    ASSERT_EQ_INT(other, 0);
    ASSERT_EQ_INT(small_get(s, n + 5, 7), -1); /* never stored */
    ASSERT_EQ_INT(cm_seg_quarantine(s, 7), 0);
    int refused = 0, served = 0;
    for (uint64_t id = 0; id < n; id++) {
        int r = small_get(id % 3 ? s : s2, id, 7 + id % 2);
        refused += id % 2 == 0 && r == CM_SEG_QUARANTINED;
        served += id % 2 == 1 && r == 1;
    }
    ASSERT_EQ_INT(refused, (int)(n / 2));
    ASSERT_EQ_INT(served, (int)(n / 2));
    cm_seg_close(s2);
    cm_seg_close(s);
}

int main(int argc, char **argv)
{
    static const struct seg_test tests[] = {
        {"basic", t_basic},           {"stress", t_stress}, {"crash", t_crash},
        {"corrupt", t_corrupt},       {"perms", t_perms},   {"flight", t_flight},
        {"fastlookup", t_fastlookup},
    };
    return seg_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
