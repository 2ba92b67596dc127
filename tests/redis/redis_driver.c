/*
 * redis_driver.c - drives the remote client (cm_rclient, as the agent runs it) against a Redis
 * server or cluster that test_redis_plugin.sh / test_redis_cluster.sh started, and checks what
 * comes back.
 *
 * What it does: one command per run, on keys "key-<i>" with deterministic values of varying
 * sizes (value(i)), through the cm_remote_api only (open, put, close = flush, get, counters):
 *   put FIRST COUNT            store, close (flush), expect COUNT acknowledged writes
 *   get FIRST COUNT hit|miss|error   every key a hit with exactly value(i), or every key a
 *                              miss, or every lookup an error (-2, no value); --threads N runs
 *                              the lookups on N threads at once
 *   limit                      values of exactly --max-value bytes round-trip, one byte more is
 *                              never sent (dropped, then a miss)
 *   down PID FIRST COUNT       read stored keys, SIGKILL the server (PID), keep reading and
 *                              writing for 3 s: never a wrong value, errors counted, the breaker
 *                              opens and later lookups are skipped
 *   hammer FIRST COUNT SECS    read and write for SECS seconds whatever happens (a failover
 *                              test runs beside it): never a wrong value
 *   fork FIRST COUNT           read stored keys, fork; child and parent both read them again
 *                              and the child writes COUNT new keys (FIRST+COUNT...): every
 *                              value right in both (a connection shared across the fork would
 *                              mix their replies), the child's writes all acknowledged
 *   bench COUNT THREADS SECS   (bench/bench_redis.sh) store COUNT values of --size bytes, then
 *                              time each get of one thread (p50, p99) and count the gets of
 *                              THREADS threads in SECS seconds; prints "bench P50_US P99_US
 *                              GETS_PER_S PUTS_PER_S" (puts: queued, written by the plugin's
 *                              writer and flushed), every get checked
 * Each run prints its final counters as one line "counters hits=.. misses=.. ...".
 *
 * What it does not do: start or inspect servers (the scripts do: redis-cli for TTLs and keys).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cm_remote.h"

static int fails;

#define CHECK_EQ(what, a, b)                                                                       \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            fprintf(stderr, "FAIL %s:%d: %s: %s = %lld, expected %s = %lld\n", __FILE__, __LINE__, \
                    what, #a, a_, #b, b_);                                                         \
            fails++;                                                                               \
        }                                                                                          \
    } while (0)

#define CHECK_GE(what, a, b)                                                                       \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ < b_) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: %s: %s = %lld, expected >= %s = %lld\n", __FILE__,        \
                    __LINE__, what, #a, a_, #b, b_);                                               \
            fails++;                                                                               \
        }                                                                                          \
    } while (0)

extern const struct cm_remote_api cm_remote_plugin;
static const struct cm_remote_api *api;
static struct cm_remote_opts opts;
static const uint8_t sig[16] = "redis-test-sig!";
static uint32_t fixed_size; /* --size: every value this long (bench) */

static void hlog(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("cloudm: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void henter(void)
{
}

static const struct cm_remote_host host = {.log = hlog, .thread_enter = henter};

static struct cm_remote *r_open(void)
{
    char err[512] = "";
    struct cm_remote *r = api->open(&opts, &host, err, sizeof(err));

    if (r == NULL) {
        fprintf(stderr, "FAIL: open %s: %s\n", opts.url, err);
        exit(1);
    }
    return r;
}

static uint32_t key_of(long i, uint8_t *k)
{
    return (uint32_t)snprintf((char *)k, 32, "key-%ld", i);
}

/* value(i): 1 to ~20 KB, bytes depending on i and position; written into v (cap 32 KiB). */
static uint32_t value_of(long i, uint8_t *v)
{
    uint32_t n = fixed_size ? fixed_size : 1 + (uint32_t)((i * 7919) % 20000);

    for (uint32_t j = 0; j < n; j++)
        v[j] = (uint8_t)(i * 131 + j * 31 + (j >> 8));
    return n;
}

static void print_counters(struct cm_remote *r, struct cm_remote_counters *c)
{
    api->counters(r, c);
    printf("counters hits=%llu misses=%llu errors=%llu timeouts=%llu skipped=%llu puts=%llu "
           "put_errors=%llu dropped=%llu auth_errors=%llu breaker_opens=%llu\n",
           (unsigned long long)c->hits, (unsigned long long)c->misses,
           (unsigned long long)c->errors, (unsigned long long)c->timeouts,
           (unsigned long long)c->skipped, (unsigned long long)c->puts,
           (unsigned long long)c->put_errors, (unsigned long long)c->dropped,
           (unsigned long long)c->auth_errors, (unsigned long long)c->breaker_opens);
    fflush(stdout);
}

static int cmd_put(long first, long count)
{
    struct cm_remote *r = r_open();
    struct cm_remote_counters c;
    static uint8_t v[32768];
    uint8_t k[32];

    for (long i = first; i < first + count; i++) {
        uint32_t kl = key_of(i, k), vl = value_of(i, v);

        CHECK_EQ("put queued", api->put(r, k, kl, sig, v, vl), 0);
    }
    api->close(r);
    print_counters(r, &c);
    CHECK_EQ("writes acknowledged", c.puts, count);
    CHECK_EQ("write errors", c.put_errors, 0);
    free(r); /* close() keeps the handle for counters(); the driver owns it now */
    return 0;
}

struct getjob {
    struct cm_remote *r;
    long first, count;
    int want; /* 1 hit, -1 miss, -2 error */
    int bad;  /* lookups with a wrong answer */
};

static void *get_thread(void *arg)
{
    struct getjob *j = arg;
    uint8_t *v = malloc(32768);
    uint8_t k[32];

    for (long i = j->first; i < j->first + j->count && v != NULL; i++) {
        const uint8_t *got = NULL;
        uint32_t kl = key_of(i, k), vl = value_of(i, v);
        long n = api->get(j->r, k, kl, sig, &got);

        if (j->want == 1 ? (n != (long)vl || memcmp(got, v, vl) != 0) : n != j->want) {
            if (j->bad++ < 3)
                fprintf(stderr, "key-%ld: get returned %ld (expected %ld)\n", i, n,
                        j->want == 1 ? (long)vl : (long)j->want);
        }
    }
    free(v);
    return NULL;
}

static int cmd_get(long first, long count, const char *want, int threads)
{
    struct cm_remote *r = r_open();
    struct cm_remote_counters c;
    struct getjob jobs[16];
    pthread_t tids[16];
    int bad = 0, w = strcmp(want, "hit") == 0 ? 1 : strcmp(want, "miss") == 0 ? -1 : -2;

    if (threads < 1 || threads > 16)
        threads = 1;
    for (int t = 0; t < threads; t++) {
        jobs[t] = (struct getjob){r, first, count, w, 0};
        pthread_create(&tids[t], NULL, get_thread, &jobs[t]);
    }
    for (int t = 0; t < threads; t++) {
        pthread_join(tids[t], NULL);
        bad += jobs[t].bad;
    }
    api->close(r);
    print_counters(r, &c);
    CHECK_EQ("wrong answers", bad, 0);
    CHECK_EQ(want, w == 1 ? c.hits : w == -1 ? c.misses : c.errors + c.skipped, count * threads);
    if (w != -2)
        CHECK_EQ("errors", c.errors, 0);
    free(r);
    return 0;
}

static int cmd_limit(void)
{
    uint32_t max = (uint32_t)opts.max_value;
    uint8_t *v = malloc((size_t)max + 1);
    struct cm_remote_counters c;
    const uint8_t *got = NULL;
    struct cm_remote *r;
    long n;

    for (uint32_t j = 0; j <= max; j++)
        v[j] = (uint8_t)(j * 13 + (j >> 12));
    r = r_open();
    CHECK_EQ("put at the limit queued", api->put(r, (const uint8_t *)"limit-eq", 8, sig, v, max),
             0);
    CHECK_EQ("put above the limit refused",
             api->put(r, (const uint8_t *)"limit-gt", 8, sig, v, max + 1), -1);
    api->close(r);
    print_counters(r, &c);
    CHECK_EQ("written", c.puts, 1);
    CHECK_EQ("dropped", c.dropped, 1);
    free(r);
    r = r_open();
    n = api->get(r, (const uint8_t *)"limit-eq", 8, sig, &got);
    CHECK_EQ("value at the limit: length", n, max);
    CHECK_EQ("value at the limit: bytes", n == (long)max && memcmp(got, v, max) == 0, 1);
    n = api->get(r, (const uint8_t *)"limit-gt", 8, sig, &got);
    CHECK_EQ("value above the limit: a miss", n, -1);
    api->close(r);
    print_counters(r, &c);
    free(r);
    free(v);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Reads and writes keys [first, first+count) round-robin for secs seconds; returns wrong
 * answers. Counts hits in *hits. */
static int churn(struct cm_remote *r, long first, long count, double secs, long *hits)
{
    static uint8_t v[32768];
    double end = now_s() + secs;
    uint8_t k[32];
    int bad = 0;

    for (long i = 0; now_s() < end; i++) {
        long key = first + i % count;
        uint32_t kl = key_of(key, k), vl = value_of(key, v);
        const uint8_t *got = NULL;
        long n = api->get(r, k, kl, sig, &got);

        if (n >= 0) {
            (*hits)++;
            if (n != (long)vl || memcmp(got, v, vl) != 0) {
                if (bad++ < 3)
                    fprintf(stderr, "key-%ld: WRONG value (%ld bytes)\n", key, n);
            }
        } else {
            api->put(r, k, kl, sig, v, vl);
        }
        usleep(2000);
    }
    return bad;
}

static int cmd_down(pid_t pid, long first, long count)
{
    struct cm_remote *r = r_open();
    struct cm_remote_counters c;
    long hits = 0;
    int bad;

    bad = churn(r, first, count, 0.3, &hits);
    CHECK_GE("hits before the server goes", hits, 1);
    CHECK_EQ("kill", kill(pid, SIGKILL), 0);
    bad += churn(r, first, count, 3.0, &hits);
    api->close(r);
    print_counters(r, &c);
    CHECK_EQ("wrong values", bad, 0);
    CHECK_GE("errors after the kill", c.errors, 1);
    CHECK_GE("breaker opened", c.breaker_opens, 1);
    CHECK_GE("lookups skipped while open", c.skipped, 1);
    free(r);
    return 0;
}

/* Reads keys [first, first+count) once; wrong answers. */
static int read_all(struct cm_remote *r, long first, long count)
{
    static uint8_t v[32768];
    uint8_t k[32];
    int bad = 0;

    for (long i = first; i < first + count; i++) {
        const uint8_t *got = NULL;
        uint32_t kl = key_of(i, k), vl = value_of(i, v);

        if (api->get(r, k, kl, sig, &got) != (long)vl || memcmp(got, v, vl) != 0)
            bad++;
    }
    return bad;
}

static int cmd_fork(long first, long count)
{
    struct cm_remote *r = r_open();
    struct cm_remote_counters c;
    int status = 0;
    pid_t pid;

    CHECK_EQ("before fork", read_all(r, first, count), 0);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        static uint8_t v[32768];
        uint8_t k[32];
        int bad = 0;

        for (int round = 0; round < 3; round++)
            bad += read_all(r, first, count);
        for (long i = first + count; i < first + 2 * count; i++) {
            uint32_t kl = key_of(i, k), vl = value_of(i, v);

            api->put(r, k, kl, sig, v, vl);
        }
        api->close(r);
        api->counters(r, &c);
        if (bad != 0 || c.puts != (uint64_t)count || c.errors != 0) {
            fprintf(stderr, "FAIL child: %d wrong values, %llu puts, %llu errors\n", bad,
                    (unsigned long long)c.puts, (unsigned long long)c.errors);
            _exit(1);
        }
        _exit(0);
    }
    CHECK_GE("fork", pid, 1);
    for (int round = 0; round < 3; round++)
        CHECK_EQ("parent after fork", read_all(r, first, count), 0);
    CHECK_EQ("child",
             waitpid(pid, &status, 0) == pid && WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
    CHECK_EQ("parent reads the child's writes", read_all(r, first + count, count), 0);
    api->close(r);
    print_counters(r, &c);
    CHECK_EQ("parent errors", c.errors, 0);
    free(r);
    return 0;
}

static int cmd_hammer(long first, long count, double secs)
{
    struct cm_remote *r = r_open();
    struct cm_remote_counters c;
    long hits = 0;
    int bad = churn(r, first, count, secs, &hits);

    api->close(r);
    print_counters(r, &c);
    CHECK_EQ("wrong values", bad, 0);
    free(r);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

struct benchjob {
    struct cm_remote *r;
    long count;
    double end;
    long gets, bad;
};

static void *bench_thread(void *arg)
{
    struct benchjob *j = arg;
    uint8_t *v = malloc(32768);
    uint8_t k[32];

    for (long i = 0; v != NULL && now_s() < j->end; i++) {
        long key = i % j->count;
        uint32_t kl = key_of(key, k), vl = value_of(key, v);
        const uint8_t *got = NULL;

        for (int b = 0; b < 64; b++, j->gets++) {
            if (api->get(j->r, k, kl, sig, &got) != (long)vl || memcmp(got, v, vl) != 0)
                j->bad++;
        }
    }
    free(v);
    return NULL;
}

static int cmd_bench(long count, int threads, double secs)
{
    struct cm_remote *r;
    struct cm_remote_counters c;
    struct benchjob jobs[16];
    pthread_t tids[16];
    uint64_t *lat = calloc((size_t)count, sizeof(*lat));
    static uint8_t v[32768];
    uint8_t k[32];
    long gets = 0, bad = 0;
    double put_s;

    if (lat == NULL || threads < 1 || threads > 16 || fixed_size > sizeof(v))
        return 2;
    put_s = now_s();
    cmd_put(0, count);
    put_s = now_s() - put_s;
    r = r_open();
    for (long i = 0; i < count; i++) { /* warm: one connection per thread */
        const uint8_t *got;
        uint32_t kl = key_of(i, k);

        api->get(r, k, kl, sig, &got);
    }
    for (long i = 0; i < count; i++) {
        const uint8_t *got = NULL;
        uint32_t kl = key_of(i, k), vl = value_of(i, v);
        double t0 = now_s();
        long n = api->get(r, k, kl, sig, &got);

        lat[i] = (uint64_t)((now_s() - t0) * 1e9);
        if (n != (long)vl || memcmp(got, v, vl) != 0)
            bad++;
    }
    qsort(lat, (size_t)count, sizeof(*lat), cmp_u64);
    for (int t = 0; t < threads; t++) {
        jobs[t] = (struct benchjob){r, count, now_s() + secs, 0, 0};
        pthread_create(&tids[t], NULL, bench_thread, &jobs[t]);
    }
    for (int t = 0; t < threads; t++) {
        pthread_join(tids[t], NULL);
        gets += jobs[t].gets;
        bad += jobs[t].bad;
    }
    api->close(r);
    print_counters(r, &c);
    CHECK_EQ("bench: wrong or missing values", bad, 0);
    printf("bench %.1f %.1f %.0f %.0f\n", lat[count / 2] / 1e3, lat[count * 99 / 100] / 1e3,
           gets / secs, count / put_s);
    free(lat);
    free(r);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: redis_driver LIB URL [--ns NS] [--expire S] [--max-value N] "
                    "[--timeout-ms N] [--flush-ms N] [--token FILE] [--secret FILE] [--threads N] "
                    "[--size N] CMD ARGS...\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *cmd;
    const char *lib;
    int threads = 1, i = 3, rc = 2;

    if (argc < 4)
        usage();
    lib = argv[1]; /* the client is linked in (cm_rclient); the argument is kept for scripts */
    (void)lib;
    api = &cm_remote_plugin;
    CHECK_EQ("abi", api->abi, CM_REMOTE_ABI);
    opts = (struct cm_remote_opts){.url = argv[2],
                                   .ns = "default",
                                   .token_file = "",
                                   .secret_file = "",
                                   .timeout_ns = 250000000u,
                                   .flush_timeout_ns = 5000000000u,
                                   .queue_entries = 1u << 20,
                                   .queue_bytes = 1ull << 30,
                                   .max_value = 64u << 20,
                                   .access = CM_REMOTE_READWRITE,
                                   .expire_ns = 0};
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--ns") == 0)
            opts.ns = argv[i + 1];
        else if (strcmp(argv[i], "--expire") == 0)
            opts.expire_ns = strtoull(argv[i + 1], NULL, 10) * 1000000000ull;
        else if (strcmp(argv[i], "--max-value") == 0)
            opts.max_value = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--timeout-ms") == 0)
            opts.timeout_ns = strtoull(argv[i + 1], NULL, 10) * 1000000ull;
        else if (strcmp(argv[i], "--token") == 0)
            opts.token_file = argv[i + 1];
        else if (strcmp(argv[i], "--secret") == 0)
            opts.secret_file = argv[i + 1];
        else if (strcmp(argv[i], "--size") == 0)
            fixed_size = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--flush-ms") == 0)
            opts.flush_timeout_ns = strtoull(argv[i + 1], NULL, 10) * 1000000ull;
        else if (strcmp(argv[i], "--threads") == 0)
            threads = atoi(argv[i + 1]);
        else
            usage();
    }
    if (i >= argc)
        usage();
    cmd = argv[i++];
    if (strcmp(cmd, "put") == 0 && argc - i == 2)
        rc = cmd_put(atol(argv[i]), atol(argv[i + 1]));
    else if (strcmp(cmd, "get") == 0 && argc - i == 3)
        rc = cmd_get(atol(argv[i]), atol(argv[i + 1]), argv[i + 2], threads);
    else if (strcmp(cmd, "limit") == 0 && argc - i == 0)
        rc = cmd_limit();
    else if (strcmp(cmd, "down") == 0 && argc - i == 3)
        rc = cmd_down((pid_t)atol(argv[i]), atol(argv[i + 1]), atol(argv[i + 2]));
    else if (strcmp(cmd, "fork") == 0 && argc - i == 2)
        rc = cmd_fork(atol(argv[i]), atol(argv[i + 1]));
    else if (strcmp(cmd, "bench") == 0 && argc - i == 3)
        rc = cmd_bench(atol(argv[i]), atoi(argv[i + 1]), atof(argv[i + 2]));
    else if (strcmp(cmd, "hammer") == 0 && argc - i == 3)
        rc = cmd_hammer(atol(argv[i]), atol(argv[i + 1]), atof(argv[i + 2]));
    else
        usage();
    if (fails != 0)
        fprintf(stderr, "%s: %d checks failed\n", cmd, fails);
    return rc != 0 || fails != 0;
}
