/*
 * plugin_driver.c - drives libcloudm-remote.so through its one exported table, as the shim does,
 * for the fault tests (test_plugin.sh) and by hand.
 *
 * What it does: uses the remote client (cm_rclient, linked in; the agent runs the same code), opens it on URL with the options given, and runs one
 * command: `put N` (queue N writes, close = flush), `get N --expect hit|miss|error` (check every
 * answer: hits return exactly the value put, faults return -1/-2 and never a value), `breaker`
 * (against a stalling server: each get within the timeout, the breaker opens after 5, then gets
 * are skipped instantly), `fork N` (writes from parent and child both arrive). Per-call checks
 * fail the run (exit 1) with a message; the counters are printed as one JSON line on stdout for
 * the script to assert with jq.
 *
 * What it does not do: start servers or look at the server's side (test_plugin.sh does).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cm_remote.h"

extern const struct cm_remote_api cm_remote_plugin;
static const struct cm_remote_api *api;
static struct cm_remote_opts opts;
static _Atomic int n_enter, n_log;
static int failures;
static double max_ms;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "plugin_driver: " __VA_ARGS__);                                            \
        fputc('\n', stderr);                                                                       \
        failures++;                                                                                \
    } while (0)

static void host_log(const char *fmt, ...)
{
    va_list ap;

    atomic_fetch_add(&n_log, 1);
    fputs("cloudm: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void host_enter(void)
{
    atomic_fetch_add(&n_enter, 1);
}

static const struct cm_remote_host host = {host_log, host_enter};

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const uint8_t SIG[16] = "driver-sig-0001";

static uint32_t key_of(long i, uint8_t *key)
{
    return (uint32_t)snprintf((char *)key, 64, "canonical-key-%ld", i);
}

static uint32_t value_of(long i, uint8_t *val)
{
    uint32_t n = 1 + (uint32_t)((i * 37) % 2000);

    for (uint32_t j = 0; j < n; j++)
        val[j] = (uint8_t)(i + j * 13);
    return n;
}

static struct cm_remote *r_open(void)
{
    char err[256] = "";
    struct cm_remote *r = api->open(&opts, &host, err, sizeof(err));

    if (r == NULL) {
        fprintf(stderr, "plugin_driver: open failed: %s\n", err);
        exit(2);
    }
    return r;
}

static void print_counters(struct cm_remote *r)
{
    struct cm_remote_counters c;

    api->counters(r, &c);
    printf("{\"hits\":%llu,\"misses\":%llu,\"errors\":%llu,\"timeouts\":%llu,\"skipped\":%llu,"
           "\"puts\":%llu,\"put_errors\":%llu,\"dropped\":%llu,\"auth_errors\":%llu,"
           "\"breaker_opens\":%llu,\"thread_enter\":%d,\"log_lines\":%d,\"max_ms\":%.3f,"
           "\"failures\":%d}\n",
           (unsigned long long)c.hits, (unsigned long long)c.misses, (unsigned long long)c.errors,
           (unsigned long long)c.timeouts, (unsigned long long)c.skipped,
           (unsigned long long)c.puts, (unsigned long long)c.put_errors,
           (unsigned long long)c.dropped, (unsigned long long)c.auth_errors,
           (unsigned long long)c.breaker_opens, atomic_load(&n_enter), atomic_load(&n_log), max_ms,
           failures);
    fflush(stdout);
}

static void do_puts(struct cm_remote *r, long from, long n)
{
    uint8_t key[64], val[2048];

    for (long i = from; i < from + n; i++) {
        uint32_t kl = key_of(i, key), vl = value_of(i, val);

        if (api->put(r, key, kl, SIG, val, vl) != 0)
            FAIL("put %ld dropped", i);
    }
}

/* expect: 'h' hit, 'm' miss, 'e' error. */
static void do_gets(struct cm_remote *r, long from, long n, char expect, double limit_ms)
{
    static const uint8_t poison[1];
    uint8_t key[64], want[2048];

    for (long i = from; i < from + n; i++) {
        const uint8_t *val = poison;
        uint32_t kl = key_of(i, key), wl = value_of(i, want);
        double t0 = now_ms(), dt;
        long got = api->get(r, key, kl, SIG, &val);

        dt = now_ms() - t0;
        if (dt > max_ms)
            max_ms = dt;
        if (limit_ms > 0 && dt > limit_ms)
            FAIL("get %ld took %.1f ms (limit %.1f)", i, dt, limit_ms);
        if (expect == 'h') {
            if (got != (long)wl || memcmp(val, want, wl) != 0)
                FAIL("get %ld: %ld, expected a hit of %u bytes with the value put", i, got, wl);
        } else if (got != (expect == 'm' ? -1 : -2)) {
            FAIL("get %ld returned %ld, expected %d", i, got, expect == 'm' ? -1 : -2);
        }
        if (got < 0 && val != poison)
            FAIL("get %ld: failed but set *val", i);
    }
}

struct thr {
    pthread_t th;
    struct cm_remote *r;
    long from, n;
    int failures;
};

/* One reader thread: its own connection and buffer; checks every value. */
static void *reader(void *arg)
{
    struct thr *t = arg;
    uint8_t key[64], want[2048];

    for (int round = 0; round < 3; round++) {
        for (long i = t->from; i < t->from + t->n; i++) {
            const uint8_t *val = NULL;
            uint32_t kl = key_of(i, key), wl = value_of(i, want);
            long got = api->get(t->r, key, kl, SIG, &val);

            if (got != (long)wl || memcmp(val, want, wl) != 0)
                t->failures++;
        }
    }
    return NULL;
}

/* One thread of `flap`: gets for `n` milliseconds, results unchecked (the server is flaky). */
static void *flapper(void *arg)
{
    struct thr *t = arg;
    uint8_t key[64];
    double end = now_ms() + (double)t->n;

    for (long i = t->from; now_ms() < end; i++) {
        const uint8_t *val = NULL;
        uint32_t kl = key_of(i % 1000, key);

        api->get(t->r, key, kl, SIG, &val);
    }
    return NULL;
}

static void usage(void)
{
    fprintf(
        stderr,
        "usage: plugin_driver PLUGIN.so URL COMMAND [N] [options]\n"
        "commands: put N | get N --expect hit|miss|error | breaker | fork N | recover | threads N\n"
        "          | flap MS (16 threads get for MS ms, unchecked) | forkcount (a fork child's\n"
        "          counters start from zero)\n"
        "(recover runs $CM_DRIVER_HOOK after opening the breaker)\n"
        "options: --from I  --ns NS  --secret FILE  --token FILE  --timeout-ms T\n"
        "         --flush-ms T  --queue N  --max-value B  --access rw|ro|wo  --limit-ms T (per "
        "get)\n"
        "         --wait-ms T (put: wait for the writer before printing counters)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *cmd, *expect = "hit";
    long n = 0, from = 0;
    double limit_ms = 0, wait_ms = 0;
    static struct cm_remote *r; /* like the shim, keeps the handle after close() */
    const char *so;

    if (argc < 4)
        usage();
    so = argv[1]; /* the client is linked in (cm_rclient); the argument is kept for scripts */
    (void)so;
    api = &cm_remote_plugin;
    if (api->abi != CM_REMOTE_ABI) {
        fprintf(stderr, "plugin_driver: ABI %d, expected %d\n", api->abi, CM_REMOTE_ABI);
        return 2;
    }
    opts.url = argv[2];
    opts.ns = "test";
    opts.token_file = "";
    opts.secret_file = "";
    opts.timeout_ns = 2000000000; /* generous: tests that want timeouts pass --timeout-ms */
    opts.flush_timeout_ns = 5000000000ull;
    opts.queue_entries = 4096;
    opts.queue_bytes = 64u << 20;
    opts.max_value = 64u << 20;
    cmd = argv[3];
    for (int i = 4; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (a[0] != '-') {
            n = atol(a);
            continue;
        }
        if (v == NULL)
            usage();
        i++;
        if (strcmp(a, "--from") == 0)
            from = atol(v);
        else if (strcmp(a, "--ns") == 0)
            opts.ns = v;
        else if (strcmp(a, "--secret") == 0)
            opts.secret_file = v;
        else if (strcmp(a, "--token") == 0)
            opts.token_file = v;
        else if (strcmp(a, "--timeout-ms") == 0)
            opts.timeout_ns = (uint64_t)(atof(v) * 1e6);
        else if (strcmp(a, "--flush-ms") == 0)
            opts.flush_timeout_ns = (uint64_t)(atof(v) * 1e6);
        else if (strcmp(a, "--queue") == 0)
            opts.queue_entries = (uint64_t)atol(v);
        else if (strcmp(a, "--max-value") == 0)
            opts.max_value = (uint64_t)atol(v);
        else if (strcmp(a, "--limit-ms") == 0)
            limit_ms = atof(v);
        else if (strcmp(a, "--wait-ms") == 0)
            wait_ms = atof(v);
        else if (strcmp(a, "--expect") == 0)
            expect = v;
        else if (strcmp(a, "--access") == 0)
            opts.access = strcmp(v, "ro") == 0   ? CM_REMOTE_READONLY
                          : strcmp(v, "wo") == 0 ? CM_REMOTE_WRITEONLY
                                                 : CM_REMOTE_READWRITE;
        else
            usage();
    }
    r = r_open();
    if (strcmp(cmd, "put") == 0) {
        struct cm_remote_counters c;
        double t0 = now_ms();

        do_puts(r, from, n);
        /* --wait-ms: let the writer finish before close() (without it, close() alone must
         * deliver everything). */
        for (;;) {
            api->counters(r, &c);
            if (c.puts + c.put_errors + c.dropped >= (uint64_t)n || now_ms() - t0 >= wait_ms)
                break;
            usleep(2000);
        }
        /* close() flushes; the handle outlives it, so these are the final counters, as the
         * shim reports them. */
        api->close(r);
        print_counters(r);
        return failures == 0 ? 0 : 1;
    } else if (strcmp(cmd, "get") == 0) {
        do_gets(r, from, n, expect[0], limit_ms);
    } else if (strcmp(cmd, "breaker") == 0) {
        double slack = opts.timeout_ns / 1e6 + 900, t0; /* room for a loaded machine */
        struct cm_remote_counters c;

        /* Five failures, each bounded by the timeout; the fifth opens the breaker. */
        do_gets(r, 0, 5, 'e', slack);
        api->counters(r, &c);
        if (c.breaker_opens != 1)
            FAIL("breaker_opens %llu after 5 failures", (unsigned long long)c.breaker_opens);
        t0 = now_ms();
        max_ms = 0;
        /* "Instantly": no I/O at all; the bounds only leave room for a loaded test machine. */
        do_gets(r, 5, 100, 'e', 50.0);
        if (now_ms() - t0 > 1000)
            FAIL("100 skipped gets took %.1f ms", now_ms() - t0);
    } else if (strcmp(cmd, "recover") == 0) {
        const char *hook = getenv("CM_DRIVER_HOOK");

        /* Against a failing server: open the breaker, let the hook repair the server, check
         * that gets are skipped until the back-off ends and that the probe closes it. */
        do_gets(r, 0, 5, 'e', 0);
        /* Writes while the breaker is open wait in the queue instead of being dropped. */
        do_puts(r, 1000, 5);
        usleep(100000);
        {
            struct cm_remote_counters c;

            api->counters(r, &c);
            if (c.puts + c.put_errors + c.dropped != 0)
                FAIL("writes went out or were dropped while the breaker was open");
        }
        if (hook != NULL && system(hook) != 0)
            FAIL("hook '%s' failed", hook);
        do_gets(r, 0, 1, 'e', 50.0);
        usleep(1100000);
        do_gets(r, 0, 5, 'h', 0);
        usleep(300000);
        do_gets(r, 1000, 5, 'h', 0); /* the held writes went out after the probe */
    } else if (strcmp(cmd, "threads") == 0) {
        struct thr t[8];

        /* 8 threads read N keys each, 3 times, concurrently, then exit (their buffers and
         * connections go with them). */
        for (int i = 0; i < 8; i++) {
            t[i] = (struct thr){.r = r, .from = from + (i % 2) * n / 2, .n = n / 2};
            if (pthread_create(&t[i].th, NULL, reader, &t[i]) != 0)
                FAIL("pthread_create");
        }
        for (int i = 0; i < 8; i++) {
            pthread_join(t[i].th, NULL);
            if (t[i].failures != 0)
                FAIL("thread %d: %d wrong answers", i, t[i].failures);
        }
    } else if (strcmp(cmd, "flap") == 0) {
        struct thr t[16];

        for (int i = 0; i < 16; i++) {
            t[i] = (struct thr){.r = r, .from = from + i * 1000, .n = n};
            if (pthread_create(&t[i].th, NULL, flapper, &t[i]) != 0)
                FAIL("pthread_create");
        }
        for (int i = 0; i < 16; i++)
            pthread_join(t[i].th, NULL);
    } else if (strcmp(cmd, "forkcount") == 0) {
        pid_t pid;
        int st;

        /* The parent has counted 3 misses when it forks; the child counts its own only. */
        do_gets(r, from + 900000, 3, 'm', 0);
        pid = fork();
        if (pid < 0) {
            FAIL("fork failed");
        } else if (pid == 0) {
            struct cm_remote_counters c;

            api->counters(r, &c);
            if (c.hits + c.misses + c.errors + c.skipped + c.puts + c.put_errors + c.dropped != 0)
                FAIL("child: counters not zero after fork (misses %llu)",
                     (unsigned long long)c.misses);
            do_gets(r, from + 900100, 2, 'm', 0);
            api->counters(r, &c);
            if (c.misses != 2)
                FAIL("child: %llu misses after 2, expected 2", (unsigned long long)c.misses);
            api->close(r);
            _exit(failures == 0 ? 0 : 1);
        } else {
            waitpid(pid, &st, 0);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                FAIL("child failed (status 0x%x)", st);
        }
    } else if (strcmp(cmd, "fork") == 0) {
        pid_t pid;
        int st;

        do_puts(r, from, n);
        pid = fork();
        if (pid < 0) {
            FAIL("fork failed");
        } else if (pid == 0) {
            struct cm_remote_counters c;

            do_puts(r, from + 100000, n);
            api->counters(r, &c);
            /* close() flushes the child's own queue with the child's own thread. */
            api->close(r);
            _exit(failures == 0 ? 0 : 1);
        } else {
            waitpid(pid, &st, 0);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                FAIL("child failed (status 0x%x)", st);
            do_puts(r, from + 200000, n);
            do_gets(r, from + 100000, n, 'h', 0); /* the child's writes are on the server */
        }
    } else {
        usage();
    }
    print_counters(r);
    api->close(r);
    return failures == 0 ? 0 : 1;
}
