/*
 * bench_remote.c - remote-tier hit latency: the plugin's get() (HTTP GET + envelope decode,
 * keep-alive) against a plain libcurl keep-alive GET of the same object.
 *
 * What it does: `bench_remote plugin PLUGIN.so URL N [SIZE] [SECRET_FILE]` stores one value of
 * SIZE bytes (default 1024) through the plugin (put, close = flush), opens a fresh instance,
 * warms up, then times N get() calls one by one and prints "p50_us p99_us object_path" (the
 * path, {namespace}/{hexkey}, lets the script fetch the same object with plain curl).
 * `bench_remote curl OBJECT_URL N` times N GETs on one libcurl easy handle and prints
 * "p50_us p99_us -". Every get is checked (a miss or a wrong length aborts the run).
 *
 * What it does not do: start servers (bench_remote.sh does) or assert any speed.
 */
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cm_remote.h"

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void report(double *t, long n, const char *path)
{
    qsort(t, (size_t)n, sizeof(*t), cmp);
    printf("%.1f %.1f %s\n", t[n / 2], t[(n * 99) / 100], path);
}

static void host_log(const char *fmt, ...)
{
    (void)fmt;
}

static void host_enter(void)
{
}

static size_t sink(char *p, size_t s, size_t n, void *arg)
{
    size_t *total = arg;

    (void)p;
    *total += s * n;
    return s * n;
}

static int bench_curl(const char *url, long n, double *t)
{
    CURL *c = curl_easy_init();
    size_t total = 0;
    long status = 0;

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &total);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    for (long i = -100; i < n; i++) {
        double t0 = now_us();

        if (curl_easy_perform(c) != CURLE_OK) {
            fprintf(stderr, "bench_remote: GET %s failed\n", url);
            return 1;
        }
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200) {
            fprintf(stderr, "bench_remote: GET %s answered %ld\n", url, status);
            return 1;
        }
        if (i >= 0)
            t[i] = now_us() - t0;
    }
    curl_easy_cleanup(c);
    report(t, n, "-");
    return 0;
}

int main(int argc, char **argv)
{
    static const struct cm_remote_host host = {host_log, host_enter};
    static const uint8_t key[] = "bench canonical key bytes", sig[16] = "bench-signature";
    extern const struct cm_remote_api cm_remote_plugin;
    const struct cm_remote_api *api;
    struct cm_remote_opts o;
    struct cm_remote_counters c;
    struct cm_remote *r;
    char err[256], path[300];
    uint32_t size;
    uint8_t *val;
    double *t;
    long n;
    const char *so;

    if (argc >= 4 && strcmp(argv[1], "curl") == 0) {
        n = atol(argv[3]);
        t = malloc(sizeof(*t) * (size_t)n);
        return bench_curl(argv[2], n, t);
    }
    if (argc < 5 || strcmp(argv[1], "plugin") != 0) {
        fprintf(stderr, "usage: bench_remote plugin PLUGIN.so URL N [SIZE] [SECRET_FILE]\n"
                        "       bench_remote curl OBJECT_URL N\n");
        return 2;
    }
    n = atol(argv[4]);
    size = argc > 5 ? (uint32_t)atol(argv[5]) : 1024;
    so = argv[2]; /* the client is linked in (cm_rclient, what the agent runs) */
    (void)so;
    api = &cm_remote_plugin;
    memset(&o, 0, sizeof(o));
    o.url = argv[3];
    o.ns = "bench";
    o.token_file = "";
    o.secret_file = argc > 6 ? argv[6] : "";
    o.timeout_ns = 2000000000;
    o.flush_timeout_ns = 10000000000ull;
    val = malloc(size);
    t = malloc(sizeof(*t) * (size_t)n);
    for (uint32_t i = 0; i < size; i++)
        val[i] = (uint8_t)(i * 31 + 7);
    r = api->open(&o, &host, err, sizeof(err));
    if (r == NULL) {
        fprintf(stderr, "bench_remote: open: %s\n", err);
        return 2;
    }
    api->put(r, key, sizeof(key) - 1, sig, val, size);
    api->close(r);
    api->counters(r, &c);
    if (c.puts != 1) {
        fprintf(stderr, "bench_remote: the PUT failed (put_errors %llu)\n",
                (unsigned long long)c.put_errors);
        return 1;
    }
    r = api->open(&o, &host, err, sizeof(err));
    if (r == NULL)
        return 2;
    for (long i = -100; i < n; i++) {
        const uint8_t *got;
        double t0 = now_us();
        long len = api->get(r, key, sizeof(key) - 1, sig, &got);

        if (i >= 0)
            t[i] = now_us() - t0;
        if (len != (long)size || memcmp(got, val, size) != 0) {
            fprintf(stderr, "bench_remote: get returned %ld\n", len);
            return 1;
        }
    }
    /* The object's path, for the plain-curl row: SHA-512 of the key unless a secret is set. */
    {
        FILE *p;
        char cmd[200];

        snprintf(cmd, sizeof(cmd), "printf '%%s' '%s' | sha512sum", (const char *)key);
        p = popen(cmd, "r");
        snprintf(path, sizeof(path), "bench/");
        if (p == NULL || fgets(path + 6, 129, p) == NULL)
            snprintf(path, sizeof(path), "-");
        if (p != NULL)
            pclose(p);
    }
    report(t, n, o.secret_file[0] ? "-" : path);
    api->close(r);
    return 0;
}
