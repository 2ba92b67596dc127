/*
 * bench_seg.c - the shared segment's hit cost against an LMDB read of the same data, and its
 * hit throughput with several processes. Prints "NAME value" lines for bench/run.sh.
 *
 * Usage:
 *   cmbench_seg [--size MIB] [N [M]]
 *                                  in a segment of MIB MiB (default 256, the default
 *                                  shared_size; its index grows with it, and so do TLB misses),
 *                                  fill N entries (default 10000), then time M lookups
 *                                  (default 1000000) of random existing keys, best of 5:
 *                                    seg_hit NS         cm_seg_get
 *                                    seg_hit_first NS   the first of those passes, which also
 *                                                       pays the page faults of the mapping
 *                                    lmdb_get NS        mdb_get, read txn reset+renewed per lookup
 *                                    lmdb_get_txn NS    mdb_get, one read txn for all lookups
 *   cmbench_seg --cold [--size MIB] [N]
 *                                  fill N entries (default 100000), then, 5 rounds, a fresh
 *                                  process per store reads every key once, in a random order
 *                                  (nothing of the store in its page tables or caches before):
 *                                    seg_cold NS        cm_seg_get, best round
 *                                    seg_cold_first NS  the first round
 *                                    lmdb_cold NS       mdb_get (snapshot renewed per lookup)
 *                                    mem_random NS      the machine's floor: a dependent read of
 *                                                       a random 64-byte line of a 64 MiB buffer
 *                                                       the process wrote earlier
 *   --dir DIR                      create both stores under DIR instead of /dev/shm (e.g. a
 *                                  tmpfs mounted with huge=within_size)
 *   cmbench_seg --procs P [N [M]]  fill, then P processes each do M cm_seg_get hits at once
 *                                  (best of 5 rounds), and the same with 1 process:
 *                                    procs1 LOOKUPS_PER_S
 *                                    procsP LOOKUPS_PER_S
 *                                    scaling X          procsP / procs1
 *                                  then the same for LMDB readers (lmdb_procs1, lmdb_procsP,
 *                                  lmdb_scaling): the control for what the machine allows
 *
 * What is measured: one entry is what the shim stores for a scalar function: the key is a
 * 16-byte identity prefix plus the 8-byte argument (24 bytes), its 128-bit XXH3 hash, and an
 * 8-byte value. LMDB gets exactly the same records: key = hash (16 bytes) + key bytes, value =
 * the 8 bytes. Both live in one tmpfs directory, are filled by a child process and read by
 * processes that only open them (no page of either was touched by the reader before: "a fresh
 * process"). Every lookup's value is checked; any miss or wrong value fails the run (exit 1).
 * The key sequence is precomputed, identical for both, so its cost is the same on both sides.
 *
 * What it does not do: it does not go through the shim (run.sh times that with cmbench_calls),
 * and it is not a test: it asserts no speed. Built without LMDB (no liblmdb-dev), the lmdb lines
 * print "n/a".
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "dram_floor.h"

#ifdef CM_HAVE_LMDB
#include <lmdb.h>
#endif

#include "seg/seg.h"

#define KEY_LEN 24 /* identity prefix (16) + one f64 argument (8) */

struct rec {
    uint8_t h[16];
    uint8_t key[KEY_LEN];
    uint64_t val;
};

static char dir[4000];
static char seg_path[sizeof(dir) + 16], lmdb_dir[sizeof(dir) + 16];
static struct rec *recs;
static uint32_t *seq;
static long nrec, nlook;
static uint64_t seg_size = 256ULL << 20; /* --size MiB; default: the default shared_size */

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "cmbench_seg: %s: %s\n", what, why);
    exit(1);
}

static void make_records(void)
{
    static const uint8_t prefix[16] = "cmbench bench_f";
    uint64_t x = 0x9e3779b97f4a7c15ULL;

    recs = calloc((size_t)nrec, sizeof(*recs));
    seq = malloc((size_t)nlook * sizeof(*seq));
    if (recs == NULL || seq == NULL)
        die("malloc", strerror(ENOMEM));
    for (long i = 0; i < nrec; i++) {
        double arg = (double)i * 0.5 + 1.0;
        XXH128_canonical_t c;

        memcpy(recs[i].key, prefix, 16);
        memcpy(recs[i].key + 16, &arg, 8);
        XXH128_canonicalFromHash(&c, XXH3_128bits(recs[i].key, KEY_LEN));
        memcpy(recs[i].h, c.digest, 16);
        recs[i].val = (uint64_t)i * 0x9e3779b97f4a7c15ULL + 1;
    }
    for (long i = 0; i < nlook; i++) { /* xorshift64: the same sequence for every reader */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        seq[i] = (uint32_t)(x % (uint64_t)nrec);
    }
}

static struct cm_seg *seg_open(int create)
{
    struct cm_seg_opts o = {
        .path = seg_path, .size = seg_size, .max_entry = 1 << 20, .create = create};
    struct cm_seg *s;
    char err[512] = "";

    if (cm_seg_open(&o, &s, err, sizeof(err)) < 0)
        die(seg_path, err);
    return s;
}

#ifdef CM_HAVE_LMDB
static void lmdb_check(int rc, const char *what)
{
    if (rc != 0)
        die(what, mdb_strerror(rc));
}

static MDB_env *lmdb_open(unsigned flags)
{
    MDB_env *env;

    lmdb_check(mdb_env_create(&env), "mdb_env_create");
    lmdb_check(mdb_env_set_mapsize(env, seg_size), "mdb_env_set_mapsize");
    lmdb_check(mdb_env_open(env, lmdb_dir, flags, 0600), "mdb_env_open");
    return env;
}
#endif

/* In a child, so that the measuring process starts with nothing mapped. */
static void fill(void)
{
    pid_t pid = fork();
    int status;

    if (pid < 0)
        die("fork", strerror(errno));
    if (pid == 0) {
        struct cm_seg *s = seg_open(1);

        for (long i = 0; i < nrec; i++) {
            if (cm_seg_put(s, recs[i].h, 1, recs[i].key, KEY_LEN, (const uint8_t *)&recs[i].val,
                           8) != 0)
                die("cm_seg_put", "entry not stored");
        }
        cm_seg_close(s);
#ifdef CM_HAVE_LMDB
        {
            MDB_env *env = lmdb_open(MDB_NOSYNC);
            MDB_txn *txn;
            MDB_dbi dbi;
            uint8_t kb[16 + KEY_LEN];

            lmdb_check(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
            lmdb_check(mdb_dbi_open(txn, NULL, 0, &dbi), "mdb_dbi_open");
            for (long i = 0; i < nrec; i++) {
                MDB_val k = {sizeof(kb), kb}, v = {8, &recs[i].val};

                memcpy(kb, recs[i].h, 16);
                memcpy(kb + 16, recs[i].key, KEY_LEN);
                lmdb_check(mdb_put(txn, dbi, &k, &v, 0), "mdb_put");
            }
            lmdb_check(mdb_txn_commit(txn), "mdb_txn_commit");
            mdb_env_close(env);
        }
#endif
        _exit(0);
    }
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("fill", "the filling process failed");
}

/* M hits; returns ns per lookup, exits on a miss or a wrong value. */
static double time_seg(struct cm_seg *s)
{
    uint8_t v[16];
    uint32_t need;
    double t0 = now_ns();
    long bad = 0;

    for (long i = 0; i < nlook; i++) {
        const struct rec *r = &recs[seq[i]];
        uint64_t got;

        if (cm_seg_get(s, r->h, r->key, KEY_LEN, v, sizeof(v), &need) != 8) {
            bad++;
            continue;
        }
        memcpy(&got, v, 8);
        bad += got != r->val;
    }
    t0 = (now_ns() - t0) / (double)nlook;
    if (bad != 0) {
        fprintf(stderr, "cmbench_seg: %ld of %ld segment lookups missed or were wrong\n", bad,
                nlook);
        exit(1);
    }
    return t0;
}

#ifdef CM_HAVE_LMDB
/* renew: a fresh snapshot per lookup (what a live cache needs to see new entries). */
static double time_lmdb(MDB_env *env, MDB_dbi dbi, int renew)
{
    MDB_txn *txn;
    uint8_t kb[16 + KEY_LEN];
    long bad = 0;
    double t0;

    lmdb_check(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "mdb_txn_begin");
    t0 = now_ns();
    for (long i = 0; i < nlook; i++) {
        const struct rec *r = &recs[seq[i]];
        MDB_val k = {sizeof(kb), kb}, v;
        uint64_t got;

        if (renew) {
            mdb_txn_reset(txn);
            if (mdb_txn_renew(txn) != 0) {
                bad++;
                continue;
            }
        }
        memcpy(kb, r->h, 16);
        memcpy(kb + 16, r->key, KEY_LEN);
        if (mdb_get(txn, dbi, &k, &v) != 0 || v.mv_size != 8) {
            bad++;
            continue;
        }
        memcpy(&got, v.mv_data, 8);
        bad += got != r->val;
    }
    t0 = (now_ns() - t0) / (double)nlook;
    mdb_txn_abort(txn);
    if (bad != 0) {
        fprintf(stderr, "cmbench_seg: %ld of %ld LMDB lookups missed or were wrong\n", bad, nlook);
        exit(1);
    }
    return t0;
}
#endif

static void latency(void)
{
    double best_seg = 1e30, best_l = 1e30, best_lt = 1e30, first = 0, t;
    struct cm_seg *s = seg_open(0);

    for (int rep = 0; rep < 5; rep++) {
        t = time_seg(s);
        if (rep == 0)
            first = t;
        best_seg = t < best_seg ? t : best_seg;
    }
    cm_seg_close(s);
    printf("seg_hit %.2f\nseg_hit_first %.2f\n", best_seg, first);
#ifdef CM_HAVE_LMDB
    {
        MDB_env *env = lmdb_open(MDB_RDONLY);
        MDB_txn *txn;
        MDB_dbi dbi;

        lmdb_check(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "mdb_txn_begin");
        lmdb_check(mdb_dbi_open(txn, NULL, 0, &dbi), "mdb_dbi_open");
        mdb_txn_abort(txn);
        for (int rep = 0; rep < 5; rep++) {
            t = time_lmdb(env, dbi, 1);
            best_l = t < best_l ? t : best_l;
            t = time_lmdb(env, dbi, 0);
            best_lt = t < best_lt ? t : best_lt;
        }
        mdb_env_close(env);
        printf("lmdb_get %.2f\nlmdb_get_txn %.2f\n", best_l, best_lt);
    }
#else
    (void)best_l;
    (void)best_lt;
    printf("lmdb_get n/a\nlmdb_get_txn n/a\n");
#endif
}

/* The machine's floor for a cold read (dram_floor.h): nlook dependent random reads. */
static double mem_random(void)
{
    double t = cm_dram_floor(nlook, now_ns);
    if (t < 0)
        die("malloc", strerror(ENOMEM));
    return t;
}

/* --cold: a fresh process (forked from one that never opened either store) opens the store and
 * reads every key once. what: 0 segment, 1 LMDB, 2 mem_random(). Returns ns per lookup. */
static double cold_once(int what)
{
    int res[2];
    double t = 0;
    pid_t pid;

    if (pipe(res) < 0)
        die("pipe", strerror(errno));
    pid = fork();
    if (pid < 0)
        die("fork", strerror(errno));
    if (pid == 0) {
        close(res[0]);
        if (what == 0) {
            t = time_seg(seg_open(0));
        } else if (what == 2) {
            t = mem_random();
        } else {
#ifdef CM_HAVE_LMDB
            MDB_env *env = lmdb_open(MDB_RDONLY);
            MDB_txn *txn;
            MDB_dbi dbi;

            lmdb_check(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "mdb_txn_begin");
            lmdb_check(mdb_dbi_open(txn, NULL, 0, &dbi), "mdb_dbi_open");
            mdb_txn_abort(txn);
            t = time_lmdb(env, dbi, 1);
#endif
        }
        if (write(res[1], &t, sizeof(t)) != sizeof(t))
            _exit(1);
        _exit(0);
    }
    close(res[1]);
    if (read(res[0], &t, sizeof(t)) != sizeof(t))
        die("--cold", "a reader failed");
    close(res[0]);
    waitpid(pid, NULL, 0);
    return t;
}

static void cold(void)
{
    double seg = 1e30, first = 0, lm = 1e30, mem = 1e30, t;

    for (int round = 0; round < 5; round++) {
        t = cold_once(0);
        first = round == 0 ? t : first;
        seg = t < seg ? t : seg;
#ifdef CM_HAVE_LMDB
        t = cold_once(1);
        lm = t < lm ? t : lm;
#endif
        t = cold_once(2);
        mem = t < mem ? t : mem;
    }
    printf("seg_cold %.2f\nseg_cold_first %.2f\n", seg, first);
#ifdef CM_HAVE_LMDB
    printf("lmdb_cold %.2f\n", lm);
#else
    (void)lm;
    printf("lmdb_cold n/a\n");
#endif
    printf("mem_random %.2f\n", mem);
}

/* P fresh processes, each opening the segment, then all starting together on M hits. Returns
 * aggregate lookups per second: all lookups / (last end - first start). */
static double throughput(int procs, int lmdb)
{
    int go[2], res[2];
    double t0 = 1e300, t1 = 0, span[2];
    pid_t pids[64];

    if (pipe(go) < 0 || pipe(res) < 0)
        die("pipe", strerror(errno));
    for (int p = 0; p < procs; p++) {
        pids[p] = fork();
        if (pids[p] < 0)
            die("fork", strerror(errno));
        if (pids[p] == 0) {
            struct cm_seg *s = lmdb ? NULL : seg_open(0);
            char c;
#ifdef CM_HAVE_LMDB
            MDB_env *env = lmdb ? lmdb_open(MDB_RDONLY) : NULL;
            MDB_txn *txn;
            MDB_dbi dbi = 0;

            if (env != NULL) {
                lmdb_check(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "mdb_txn_begin");
                lmdb_check(mdb_dbi_open(txn, NULL, 0, &dbi), "mdb_dbi_open");
                mdb_txn_abort(txn);
            }
#endif
            close(go[1]);
            if (read(go[0], &c, 1) < 0) /* EOF when the parent closes: everybody starts */
                _exit(1);
            span[0] = now_ns();
#ifdef CM_HAVE_LMDB
            if (env != NULL)
                time_lmdb(env, dbi, 1);
            else
#endif
                time_seg(s);
            span[1] = now_ns();
            if (write(res[1], span, sizeof(span)) != sizeof(span))
                _exit(1);
            _exit(0);
        }
    }
    close(go[0]);
    usleep(100000); /* let every child open and map the segment */
    close(go[1]);
    close(res[1]);
    for (int p = 0; p < procs; p++) {
        if (read(res[0], span, sizeof(span)) != sizeof(span))
            die("throughput", "a reader failed");
        t0 = span[0] < t0 ? span[0] : t0;
        t1 = span[1] > t1 ? span[1] : t1;
    }
    close(res[0]);
    for (int p = 0; p < procs; p++)
        waitpid(pids[p], NULL, 0);
    return (double)procs * (double)nlook / ((t1 - t0) / 1e9);
}

static void cleanup(void)
{
    char lock[sizeof(lmdb_dir) + 16];

    unlink(seg_path);
    snprintf(lock, sizeof(lock), "%s/data.mdb", lmdb_dir);
    unlink(lock);
    snprintf(lock, sizeof(lock), "%s/lock.mdb", lmdb_dir);
    unlink(lock);
    rmdir(lmdb_dir);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    int procs = 0, a = 1, cold_mode = 0;
    const char *base = NULL;
    double one = 0, many = 0, t;

    while (a < argc && strcmp(argv[a], "--cold") == 0) {
        cold_mode = 1;
        a++;
    }
    while (a + 1 < argc && argv[a][0] == '-') {
        if (strcmp(argv[a], "--procs") == 0) {
            procs = atoi(argv[a + 1]);
            if (procs < 1 || procs > 64)
                die("--procs", "expected 1 to 64");
        } else if (strcmp(argv[a], "--dir") == 0) {
            base = argv[a + 1];
        } else if (strcmp(argv[a], "--size") == 0) {
            seg_size = (uint64_t)atol(argv[a + 1]) << 20;
            if (seg_size < (1ULL << 20) || seg_size > (64ULL << 30))
                die("--size", "expected 1 to 65536 (MiB)");
        } else {
            die(argv[a], "unknown option (--procs P, --size MIB, --dir DIR)");
        }
        a += 2;
    }
    nrec = a < argc ? atol(argv[a++]) : cold_mode ? 100000 : 10000;
    nlook = a < argc ? atol(argv[a++]) : 1000000;
    if (cold_mode)
        nlook = nrec; /* every key once */
    if (nrec < 1 || nlook < 1 || (cold_mode && procs != 0))
        die("usage", "cmbench_seg [--procs P | --cold] [--size MIB] [--dir DIR] [N [M]]");
    snprintf(dir, sizeof(dir), "%s/cmbench-seg-XXXXXX", base ? base : "/dev/shm");
    if (mkdtemp(dir) == NULL) {
        if (base != NULL)
            die(base, strerror(errno));
        /* no /dev/shm: /tmp */
        snprintf(dir, sizeof(dir), "/tmp/cmbench-seg-XXXXXX");
        if (mkdtemp(dir) == NULL)
            die("mkdtemp", strerror(errno));
    }
    snprintf(seg_path, sizeof(seg_path), "%s/seg", dir);
    snprintf(lmdb_dir, sizeof(lmdb_dir), "%s/lmdb", dir);
    if (mkdir(lmdb_dir, 0700) < 0)
        die(lmdb_dir, strerror(errno));
    atexit(cleanup);
    make_records();
    if (cold_mode) { /* a random order of every key, each once (Fisher-Yates) */
        uint64_t x = 0x9e3779b97f4a7c15ULL;
        for (long i = 0; i < nrec; i++)
            seq[i] = (uint32_t)i;
        for (long i = nrec - 1; i > 0; i--) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            long j = (long)(x % (uint64_t)(i + 1));
            uint32_t tmp = seq[i];
            seq[i] = seq[j];
            seq[j] = tmp;
        }
    }
    fill();
    if (cold_mode) {
        cold();
        return 0;
    }
    if (procs == 0) {
        latency();
        return 0;
    }
    for (int round = 0; round < 5; round++) {
        t = throughput(1, 0);
        one = t > one ? t : one;
        t = throughput(procs, 0);
        many = t > many ? t : many;
    }
    printf("procs1 %.0f\nprocs%d %.0f\nscaling %.2f\n", one, procs, many, many / one);
#ifdef CM_HAVE_LMDB
    /* The same with LMDB readers (a snapshot per lookup): how far the machine itself scales. */
    one = many = 0;
    for (int round = 0; round < 5; round++) {
        t = throughput(1, 1);
        one = t > one ? t : one;
        t = throughput(procs, 1);
        many = t > many ? t : many;
    }
    printf("lmdb_procs1 %.0f\nlmdb_procs%d %.0f\nlmdb_scaling %.2f\n", one, procs, many,
           many / one);
#else
    printf("lmdb_scaling n/a\n");
#endif
    return 0;
}
