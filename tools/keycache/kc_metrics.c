/*
 * kc_metrics.c - counters and the Prometheus text page (kc_metrics.h).
 *
 * What it does: keeps process-lifetime counters in relaxed atomics (a few adds per request) and
 * renders them in the Prometheus text exposition format, version 0.0.4.
 *
 * What it does not do: counters restart from zero with the process (Prometheus handles resets);
 * the store's gauges and counters (evictions, expiries, batches) are kc_store's, passed in.
 */
#include "kc_metrics.h"

#include "kc_store.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define ST_INDEX(s) ST_##s,
enum { KC_STATUS_LIST(ST_INDEX) ST_OTHER, ST_COUNT };

static const int status_codes[] = {
#define ST_CODE(s) s,
    KC_STATUS_LIST(ST_CODE)};

static const char *const method_names[KC_M_COUNT] = {"GET", "HEAD", "PUT", "DELETE", "OTHER"};

static uint64_t requests[KC_M_COUNT][ST_COUNT];
static uint64_t hits, misses, bytes_in, bytes_out, header_timeouts, connections;

static void add(uint64_t *c, uint64_t n)
{
    __atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *c)
{
    return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static int status_index(int status)
{
    for (int i = 0; i < ST_OTHER; i++)
        if (status_codes[i] == status)
            return i;
    return ST_OTHER;
}

void kc_metrics_request(enum kc_method m, int status)
{
    if ((unsigned)m >= KC_M_COUNT)
        m = KC_M_OTHER;
    add(&requests[m][status_index(status)], 1);
}

void kc_metrics_hit(uint64_t n)
{
    add(&hits, 1);
    add(&bytes_out, n);
}

void kc_metrics_miss(void)
{
    add(&misses, 1);
}

void kc_metrics_bytes_in(uint64_t n)
{
    add(&bytes_in, n);
}

void kc_metrics_bytes_out(uint64_t n)
{
    add(&bytes_out, n);
}

void kc_metrics_connection(void)
{
    add(&connections, 1);
}

void kc_metrics_header_timeouts(uint64_t n)
{
    add(&header_timeouts, n);
}

struct buf {
    char *p;
    size_t len, cap;
    int failed;
};

static void put(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        char *np = realloc(b->p, b->cap * 2);
        if (np == NULL) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap *= 2;
    }
}

static void counter(struct buf *b, const char *name, const char *help, uint64_t v)
{
    put(b, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n", name, help, name, name, v);
}

static void gauge(struct buf *b, const char *name, const char *help, uint64_t v)
{
    put(b, "# HELP %s %s\n# TYPE %s gauge\n%s %" PRIu64 "\n", name, help, name, name, v);
}

char *kc_metrics_render(const struct kc_store_stats *st, size_t *len)
{
    struct buf b = {malloc(4096), 0, 4096, 0};

    if (b.p == NULL)
        return NULL;
    put(&b, "# HELP cloudm_keycache_requests_total Requests answered, by method and status.\n"
            "# TYPE cloudm_keycache_requests_total counter\n");
    for (int m = 0; m < KC_M_COUNT; m++) {
        for (int s = 0; s < ST_COUNT; s++) {
            uint64_t v = get(&requests[m][s]);

            if (v == 0)
                continue;
            if (s == ST_OTHER)
                put(&b,
                    "cloudm_keycache_requests_total{method=\"%s\",code=\"other\"} %" PRIu64 "\n",
                    method_names[m], v);
            else
                put(&b, "cloudm_keycache_requests_total{method=\"%s\",code=\"%d\"} %" PRIu64 "\n",
                    method_names[m], status_codes[s], v);
        }
    }
    counter(&b, "cloudm_keycache_connections_total", "TCP connections accepted.",
            get(&connections));
    counter(&b, "cloudm_keycache_hits_total", "GET and HEAD requests that found their entry.",
            get(&hits));
    counter(&b, "cloudm_keycache_misses_total", "GET and HEAD requests for an absent entry.",
            get(&misses));
    counter(&b, "cloudm_keycache_bytes_in_total", "Value bytes received in PUT bodies.",
            get(&bytes_in));
    counter(&b, "cloudm_keycache_bytes_out_total", "Value bytes sent in GET bodies.",
            get(&bytes_out));
    counter(&b, "cloudm_keycache_header_timeouts_total",
            "Connections closed because a request's headers were not complete within "
            "--header-timeout.",
            get(&header_timeouts));
    counter(&b, "cloudm_keycache_evictions_total",
            "Entries removed because the store was over --max-size (least recently used first).",
            st->evictions);
    counter(&b, "cloudm_keycache_expiries_total",
            "Entries removed because they were not read nor written for --expire.", st->expiries);
    counter(&b, "cloudm_keycache_write_batches_total",
            "Synced LMDB commits of PUTs and DELETEs (group commit: one or more writes each).",
            st->write_batches);
    counter(&b, "cloudm_keycache_access_times_dropped_total",
            "Reads whose access time was not recorded (more distinct keys read in one second "
            "than the pending table holds).",
            st->touches_dropped);
    gauge(&b, "cloudm_keycache_entries", "Entries in the store.", st->entries);
    gauge(&b, "cloudm_keycache_store_bytes", "Store size: sum of key and value bytes.", st->bytes);
    gauge(&b, "cloudm_keycache_store_max_bytes", "The --max-size limit.", st->max_bytes);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
