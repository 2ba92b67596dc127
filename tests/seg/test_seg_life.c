/*
 * test_seg_life.c - tests of the shared-memory segment's life cycle (shim/seg/): a stalled
 * claim taken over, eviction in a small segment, entries persisting across processes, a segment
 * of another format replaced, and a hit timing.
 *
 * What it does not do: the API under load, crashes and corruption (test_seg.c).
 * `test_seg_life NAME` runs one test (one ctest entry each), `test_seg_life` all.
 */
#include "seg_util.h"

/* a claimer killed mid-computation: a waiter takes over within the timeout */
static void t_takeover(void)
{
    char p[300];
    seg_path(p, sizeof(p), "takeover");
    struct cm_seg *s = open_seg(p, 1 << 20, NULL);
    REQUIRE(s != NULL);
    struct kv x;
    make_kv(5, &x, 100);
    int pfd[2];
    REQUIRE(pipe(pfd) == 0);
    pid_t c = fork();
    if (c == 0) {
        uint32_t t;
        char ok = cm_seg_flight_claim(s, x.h, &t) == 1 ? 'y' : 'n';
        if (write(pfd[1], &ok, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char ok = 0;
    ASSERT_EQ_INT(read(pfd[0], &ok, 1), 1);
    ASSERT_EQ_INT(ok, 'y');
    uint32_t t;
    errno = 4321;
    ASSERT_EQ_INT(cm_seg_flight_claim(s, x.h, &t), 0); /* the child computes */
    ASSERT_EQ_INT(errno, 4321);
    pid_t k = fork();
    if (k == 0) {
        struct timespec d = {0, 100000000};
        nanosleep(&d, NULL);
        kill(c, SIGKILL);
        _exit(0);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    errno = 4321;
    int r = cm_seg_flight_wait(s, x.h, 10000000000ull);
    ASSERT_EQ_INT(errno, 4321);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ASSERT_EQ_INT(r, 0);
    ASSERT_MSG(dt < 2.0, "takeover after %.3f s", dt); /* killed after 0.1 s; the zombie counts */
    ASSERT_EQ_INT(cm_seg_flight_claim(s, x.h, &t), 1);
    cm_seg_flight_done(s, t);
    struct cm_seg_info in;
    cm_seg_get_info(s, &in);
    ASSERT_TRUE(in.flight_takeovers >= 1);
    fprintf(stderr, "takeover: after %.3f s\n", dt);
    waitpid(c, NULL, 0);
    waitpid(k, NULL, 0);
    /* a timeout also ends the wait: a live claimer that never finishes */
    c = fork();
    if (c == 0) {
        if (cm_seg_flight_claim(s, x.h, &t) != 1 || write(pfd[1], "y", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    ASSERT_EQ_INT(read(pfd[0], &ok, 1), 1);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ASSERT_EQ_INT(cm_seg_flight_wait(s, x.h, 200000000ull), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ASSERT_MSG(dt >= 0.19 && dt < 3.0, "timeout wait took %.3f s", dt);
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    cm_seg_close(s);
}

/* far smaller than the working set: evictions counted, recent keys hit */
static void t_small(void)
{
    char p[300];
    seg_path(p, sizeof(p), "small");
    struct cm_seg *s = open_seg(p, 1 << 20, NULL);
    REQUIRE(s != NULL);
    const uint64_t n = 20000; /* ~5 MB of entries into ~0.9 MB */
    for (uint64_t id = 0; id < n; id++)
        ASSERT_EQ_INT(put_kv(s, id, 400, 1), 0);
    int recent = 0, wrong = 0, all = 0;
    for (uint64_t id = n - 500; id < n; id++)
        recent += check_kv(s, id, 400) == 1;
    for (uint64_t id = 0; id < n; id++) {
        int r = check_kv(s, id, 400);
        all += r > 0;
        wrong += r < 0;
    }
    struct cm_seg_info in;
    cm_seg_get_info(s, &in);
    fprintf(stderr,
            "small: %d/500 recent keys hit, %d of %llu overall, %llu entries, %llu evictions, "
            "%.0f%% full\n",
            recent, all, (unsigned long long)n, (unsigned long long)in.entries,
            (unsigned long long)in.evictions, 100.0 * (double)in.used / (double)in.data_size);
    ASSERT_EQ_INT(wrong, 0);
    ASSERT_TRUE(recent >= 450);
    ASSERT_TRUE(in.evictions > 0);
    ASSERT_TRUE(in.entries > 1000 && in.used <= in.data_size);
    /* second chance: a key read while old survives a further lap */
    ASSERT_EQ_INT(put_kv(s, 999999, 400, 1), 0);
    for (uint64_t id = 0; id < 3 * n; id++) {
        put_kv(s, 100000 + id, 400, 1);
        if (id % 200 == 0)
            check_kv(s, 999999, 400);
    }
    ASSERT_EQ_INT(check_kv(s, 999999, 400), 1);
    cm_seg_close(s);
}

/* a file-backed segment still serves hits after every process has exited */
static void t_persist(void)
{
    char p[300];
    seg_path(p, sizeof(p), "cache/cloudm/persist.seg"); /* directories created (0700) */
    pid_t c = fork();
    if (c == 0) {
        struct cm_seg *s = open_seg(p, 2 << 20, NULL);
        for (uint64_t id = 0; id < 1000; id++)
            if (s == NULL || put_kv(s, id, 300, 1) != 0)
                _exit(1);
        _exit(0); /* no close: exit unmaps */
    }
    ASSERT_EQ_INT(wait_all(&c, 1), 0);
    c = fork();
    if (c == 0) {
        struct cm_seg *s = open_seg(p, 2 << 20, NULL);
        for (uint64_t id = 0; id < 1000; id++)
            if (s == NULL || check_kv(s, id, 300) != 1)
                _exit(1);
        _exit(0);
    }
    ASSERT_EQ_INT(wait_all(&c, 1), 0);
    struct stat st;
    seg_path(p, sizeof(p), "cache/cloudm");
    ASSERT_EQ_INT(stat(p, &st), 0);
    ASSERT_EQ_UINT(st.st_mode & 0777, 0700);
}

static void set_format(const char *p, uint64_t f)
{
    int fd = open(p, O_RDWR);
    if (fd < 0 || pwrite(fd, &f, 8, 8) != 8)
        fprintf(stderr, "set_format failed\n");
    close(fd);
}

/* another format: replaced when unused, -EBUSY while mapped by a live process */
static void t_format(void)
{
    char p[300];
    int rc;
    struct stat a, b;
    seg_path(p, sizeof(p), "format");
    struct cm_seg *s = open_seg(p, 1 << 20, NULL);
    REQUIRE(s != NULL);
    put_kv(s, 1, 100, 1);
    cm_seg_close(s);
    ASSERT_EQ_INT(stat(p, &a), 0);
    set_format(p, 0x1234);
    s = open_seg(p, 1 << 20, &rc);
    ASSERT_EQ_INT(rc, 0);
    REQUIRE(s != NULL);
    ASSERT_EQ_INT(stat(p, &b), 0);
    ASSERT_TRUE(a.st_ino != b.st_ino);
    ASSERT_EQ_UINT(b.st_mode & 0777, 0600);
    ASSERT_EQ_INT(check_kv(s, 1, 100), 0); /* a fresh segment */
    put_kv(s, 1, 100, 1);
    cm_seg_close(s);
    /* another size is also another segment: replaced when unused */
    s = open_seg(p, 2 << 20, &rc);
    ASSERT_EQ_INT(rc, 0);
    cm_seg_close(s);
    ASSERT_EQ_INT(stat(p, &b), 0);
    ASSERT_EQ_INT(b.st_size, 2 << 20);
    /* a live user of the old format */
    int pfd[2];
    REQUIRE(pipe(pfd) == 0);
    pid_t c = fork();
    if (c == 0) {
        struct cm_seg *t = open_seg(p, 2 << 20, NULL);
        if (t == NULL || write(pfd[1], "y", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char ok;
    ASSERT_EQ_INT(read(pfd[0], &ok, 1), 1);
    set_format(p, 0x5678);
    s = open_seg(p, 2 << 20, &rc);
    ASSERT_EQ_INT(rc, -EBUSY);
    ASSERT_TRUE(s == NULL);
    ASSERT_EQ_INT(stat(p, &a), 0);
    ASSERT_EQ_INT(a.st_ino, b.st_ino); /* left alone */
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    s = open_seg(p, 2 << 20, &rc); /* the user died: replaced */
    ASSERT_EQ_INT(rc, 0);
    cm_seg_close(s);
    /* a creator's temporary file left by a dead pid is swept by the next creation */
    char tmp[400];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d.abc", p, 999999999);
    int tfd = open(tmp, O_CREAT | O_WRONLY, 0600);
    close(tfd);
    set_format(p, 0x9999);
    s = open_seg(p, 2 << 20, &rc);
    ASSERT_EQ_INT(rc, 0);
    cm_seg_close(s);
    ASSERT_MSG(access(tmp, F_OK) != 0, "%s not swept", tmp);
    /* not a segment at all: never replaced */
    seg_path(p, sizeof(p), "notaseg");
    int fd = open(p, O_CREAT | O_WRONLY, 0600);
    ASSERT_EQ_INT(write(fd,
                        "precious data, not a cache, do not overwrite me please........"
                        "......................................................"
                        "......................................................"
                        "......................................................"
                        "..........................................",
                        256),
                  256);
    close(fd);
    s = open_seg(p, 1 << 20, &rc);
    ASSERT_EQ_INT(rc, -EINVAL);
    ASSERT_EQ_INT(stat(p, &a), 0);
    ASSERT_EQ_INT(a.st_size, 256);
}

static uint64_t ns_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* a hit for an 8-byte value and a 16-byte key, in a process that did not store it */
static void t_bench(void)
{
    char p[300];
    enum { NK = 1000, REP = 2000 / SLOW };
    seg_path(p, sizeof(p), "bench");
    struct cm_seg *s = open_seg(p, 64 << 20, NULL);
    REQUIRE(s != NULL);
    static uint8_t keys[NK][16], hs[NK][16];
    for (uint64_t i = 0; i < NK; i++) {
        uint64_t k[2] = {i, i * 3};
        memcpy(keys[i], k, 16);
        XXH128_hash_t h = XXH3_128bits(k, 16);
        memcpy(hs[i], &h.low64, 8);
        memcpy(hs[i] + 8, &h.high64, 8);
        uint64_t v = i * 7;
        ASSERT_EQ_INT(cm_seg_put(s, hs[i], 1, keys[i], 16, (uint8_t *)&v, 8), 0);
    }
    cm_seg_close(s);
    pid_t c = fork();
    if (c == 0) {
        struct cm_seg *t = open_seg(p, 64 << 20, NULL);
        uint64_t v, sum = 0, t0 = ns_now();
        uint32_t need;
        for (int r = 0; r < REP; r++)
            for (int i = 0; i < NK; i++)
                if (cm_seg_get(t, hs[i], keys[i], 16, (uint8_t *)&v, 8, &need) == 8)
                    sum += v;
        uint64_t dt = ns_now() - t0;
        fprintf(stderr, "bench: %.1f ns per cm_seg_get hit (8-byte value, 16-byte key, %d keys)\n",
                (double)dt / ((double)REP * NK), NK);
        _exit(sum == (uint64_t)REP * 7 * (NK * (NK - 1) / 2) ? 0 : 1);
    }
    ASSERT_EQ_INT(wait_all(&c, 1), 0);
}

int main(int argc, char **argv)
{
    static const struct seg_test tests[] = {
        {"takeover", t_takeover}, {"small", t_small}, {"persist", t_persist},
        {"format", t_format},     {"bench", t_bench},
    };
    return seg_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
