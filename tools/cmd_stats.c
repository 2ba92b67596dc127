/*
 * cmd_stats.c - `cloudm stats [-c FILE] [--json] [--watch SECONDS]`.
 *
 * What it does: opens the user's shared segment (segtool.c; never creates one) and prints the
 * live per-function statistics every process keeps in it (calls, hits per tier, misses, time
 * saved) and the segment's own state (size, fill, entries, evictions, checksum failures), as a
 * table or as one JSON object on one line (documented in docs/cli.md; fields are only ever
 * added). With --watch it redraws every SECONDS (JSON: one more line each time) until SIGINT or
 * SIGTERM, then exits 0.
 *
 * What it does not do: it never writes to the segment, and reads the counters without any lock:
 * they are relaxed atomics, so a snapshot taken while programs run may be a few calls apart
 * between columns (calls are pushed a moment before or after the hits that make them up).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "cli.h"
#include "cloudm_version.h"
#include "seg/seg.h"

#define MAX_ROWS 65536          /* function slots shown (a segment holds far fewer) */
#define WATCH_MAX_SECONDS 86400 /* --watch upper bound */

void cm_usage_stats(FILE *f)
{
    fprintf(f, "Usage: cloudm stats [-c FILE] [--json] [--watch SECONDS]\n"
               "\n"
               "Show the shared segment's live statistics: per function the calls, the hit\n"
               "rate, hits per tier, misses and the time saved; for the segment its size,\n"
               "fill, entries, evictions and checksum failures. Every process of the user\n"
               "adds to the same counters.\n"
               "\n"
               "Options:\n"
               "  -c, --config FILE  config whose shared_path to read (default: $CLOUDM_CONFIG,\n"
               "                     ./cloudm.conf, $XDG_CONFIG_HOME/cloudm/cloudm.conf,\n"
               "                     " CM_SYSCONFDIR_SHOWN "/cloudm/cloudm.conf; then\n"
               "                     /dev/shm/cloudm-%%u). $CLOUDM_SHARED_PATH overrides it.\n"
               "  --json             one JSON object (docs/cli.md) instead of the table\n"
               "  --watch SECONDS    redraw every SECONDS (e.g. 1 or 0.5) until interrupted\n"
               "  -h, --help         show this help\n"
               "\n"
               "Exit status: 0, or 1 when there is no segment or it cannot be opened,\n"
               "2 on a usage error.\n");
}

struct row {
    char name[CM_NAME_MAX];
    uint64_t ident;
    struct cm_seg_fnstat st;
    bool quarantined; /* verify found a wrong cached value: not served (seg_quar.c) */
};

struct rows {
    struct row *v;
    size_t n, cap;
    bool full;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void add_row(void *ctx, const char *name, uint64_t ident, const struct cm_seg_fnstat *st)
{
    struct rows *r = ctx;
    struct row *nv;
    size_t cap;

    if (r->full)
        return;
    if (r->n == r->cap) {
        cap = r->cap == 0 ? 64 : r->cap * 2;
        nv = cap > MAX_ROWS ? NULL : realloc(r->v, cap * sizeof(*nv));
        if (nv == NULL) {
            r->full = true;
            return;
        }
        r->v = nv;
        r->cap = cap;
    }
    snprintf(r->v[r->n].name, sizeof(r->v[r->n].name), "%s", name != NULL ? name : "");
    r->v[r->n].ident = ident;
    r->v[r->n].st = *st;
    r->n++;
}

static int by_name(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    if (c != 0)
        return c;
    return x->ident < y->ident ? -1 : x->ident > y->ident;
}

static uint64_t hits(const struct cm_seg_fnstat *st)
{
    return st->hit_mem + st->hit_shared + st->hit_remote;
}

/* Time saved: what the processes pushed, or when they pushed none, the report's estimate over
 * the totals: hits x mean miss time (docs/report.md). */
static uint64_t saved(const struct cm_seg_fnstat *st)
{
    if (st->saved_ns != 0 || st->misses == 0)
        return st->saved_ns;
    return (uint64_t)((double)hits(st) * ((double)st->miss_ns / (double)st->misses));
}

/* 39.1 s, 12.0 ms, 850 ns, 2.5 h */
static void fmt_duration(uint64_t ns, char *buf, size_t size)
{
    double s = (double)ns / 1e9;

    if (ns == 0)
        snprintf(buf, size, "0 s");
    else if (s >= 3600)
        snprintf(buf, size, "%.1f h", s / 3600);
    else if (s >= 1)
        snprintf(buf, size, "%.1f s", s);
    else if (ns >= 1000000)
        snprintf(buf, size, "%.1f ms", (double)ns / 1e6);
    else if (ns >= 1000)
        snprintf(buf, size, "%.1f us", (double)ns / 1e3);
    else
        snprintf(buf, size, "%" PRIu64 " ns", ns);
}

/* 256 MiB, 1.5 GiB, 4096 B */
static void fmt_bytes(uint64_t v, char *buf, size_t size)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    double d = (double)v;
    int u = -1;

    while (u < 3 && d >= 1024) {
        d /= 1024;
        u++;
    }
    if (u < 0)
        snprintf(buf, size, "%" PRIu64 " B", v);
    else if (d == floor(d))
        snprintf(buf, size, "%.0f %s", d, units[u]);
    else
        snprintf(buf, size, "%.1f %s", d, units[u]);
}

/* 18,204 */
static void fmt_count(uint64_t v, char *buf, size_t size)
{
    char digits[32];
    size_t n, j = 0;

    n = (size_t)snprintf(digits, sizeof(digits), "%" PRIu64, v);
    for (size_t i = 0; i < n && j + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[j++] = ',';
        buf[j++] = digits[i];
    }
    buf[j] = '\0';
}

static unsigned fill_percent(const struct cm_seg_info *in)
{
    if (in->data_size == 0)
        return 0;
    if (in->used >= in->data_size)
        return 100;
    return (unsigned)((in->used * 100 + in->data_size / 2) / in->data_size);
}

/* Any remote activity recorded in the segment: then the table gets a remote column and line. */
static bool remote_used(const struct rows *r, const struct cm_remote_counters *rc)
{
    if (rc->hits || rc->misses || rc->errors || rc->puts || rc->dropped || rc->skipped)
        return true;
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].st.hit_remote)
            return true;
    return false;
}

static void print_table(const char *path, const struct rows *r, const struct cm_seg_info *in,
                        const struct cm_remote_counters *rc)
{
    bool remote = remote_used(r, rc);
    char sv[32], size[32], entries[32], evictions[32], csum[32], hitp[16];
    int w = (int)strlen("function");

    for (size_t i = 0; i < r->n; i++) {
        if ((int)strlen(r->v[i].name) > w)
            w = (int)strlen(r->v[i].name);
    }
    if (r->n == 0) {
        printf("no function statistics yet\n");
    } else {
        printf("%-*s  %-10s %-6s %-10s %-10s ", w, "function", "calls", "hit%", "memory", "shared");
        if (remote)
            printf("%-10s ", "remote");
        printf("%-10s %s\n", "misses", "saved");
        for (size_t i = 0; i < r->n; i++) {
            const struct cm_seg_fnstat *st = &r->v[i].st;

            if (st->calls == 0)
                snprintf(hitp, sizeof(hitp), "-");
            else
                snprintf(hitp, sizeof(hitp), "%.1f", 100.0 * (double)hits(st) / (double)st->calls);
            fmt_duration(saved(st), sv, sizeof(sv));
            printf("%-*s  %-10" PRIu64 " %-6s %-10" PRIu64 " %-10" PRIu64 " ", w, r->v[i].name,
                   st->calls, hitp, st->hit_mem, st->hit_shared);
            if (remote)
                printf("%-10" PRIu64 " ", st->hit_remote);
            printf("%-10" PRIu64 " %s%s\n", st->misses, sv,
                   r->v[i].quarantined ? "  QUARANTINED" : "");
        }
    }
    if (r->full)
        printf("(more functions than shown)\n");
    fmt_bytes(in->size, size, sizeof(size));
    fmt_count(in->entries, entries, sizeof(entries));
    fmt_count(in->evictions, evictions, sizeof(evictions));
    fmt_count(in->csum_failures, csum, sizeof(csum));
    printf("segment %s  %s  %u%% full  %s entr%s  %s eviction%s  %s checksum failure%s\n", path,
           size, fill_percent(in), entries, in->entries == 1 ? "y" : "ies", evictions,
           in->evictions == 1 ? "" : "s", csum, in->csum_failures == 1 ? "" : "s");
    char alloc[32], bb[32], bs[32];
    fmt_bytes(in->allocated, alloc, sizeof(alloc));
    fmt_bytes(in->blob_bytes, bb, sizeof(bb));
    fmt_bytes(in->blob_size, bs, sizeof(bs));
    printf("memory  segment file %s allocated of %s (index %" PRIu64 " of %" PRIu64
           " slots; stores dropped for lack of space: %" PRIu64 "); blob files %" PRIu64
           " (%s of %s)  blob stores %" PRIu64 "  failed %" PRIu64 "  evicted %" PRIu64
           "  bad %" PRIu64 "\n",
           alloc, size, in->ix_slots, in->ix_max, in->ring_nospace + in->ix_nospace, in->blob_files,
           bb, bs, in->blob_puts, in->blob_errors, in->blob_evictions, in->blob_bad);
    if (remote)
        printf("remote   hits %" PRIu64 "  misses %" PRIu64 "  errors %" PRIu64
               " (timeouts %" PRIu64 ", auth %" PRIu64 ")  skipped %" PRIu64 "  stored %" PRIu64
               "  store errors %" PRIu64 "  dropped writes %" PRIu64 "\n",
               rc->hits, rc->misses, rc->errors, rc->timeouts, rc->auth_errors, rc->skipped,
               rc->puts, rc->put_errors, rc->dropped);
}

static void print_json(const char *path, const struct rows *r, const struct cm_seg_info *in,
                       const struct cm_remote_counters *rc)
{
    printf("{\"cloudm\": \"%s\", \"time\": %lld, \"segment\": {\"path\": ", CLOUDM_VERSION,
           (long long)time(NULL));
    cm_json_string(stdout, path);
    printf(", \"size\": %" PRIu64 ", \"data_size\": %" PRIu64 ", \"used\": %" PRIu64
           ", \"fill\": %.6g, \"entries\": %" PRIu64 ", \"evictions\": %" PRIu64
           ", \"checksum_failures\": %" PRIu64 ", \"flight_waits\": %" PRIu64
           ", \"flight_takeovers\": %" PRIu64 ", \"allocated\": %" PRIu64
           ", \"ring_max_entry\": %" PRIu64 ", \"max_entry\": %" PRIu64 ", \"blob_files\": %" PRIu64
           ", \"blob_bytes\": %" PRIu64 ", \"blob_size\": %" PRIu64 ", \"blob_stores\": %" PRIu64
           ", \"blob_errors\": %" PRIu64 ", \"blob_evictions\": %" PRIu64 ", \"blob_bad\": %" PRIu64
           ", \"ring_allocated\": %" PRIu64 ", \"ring_nospace\": %" PRIu64
           ", \"index_slots\": %" PRIu64 ", \"index_max_slots\": %" PRIu64
           ", \"index_nospace\": %" PRIu64 "}, \"functions\": [",
           in->size, in->data_size, in->used,
           in->data_size ? (double)in->used / (double)in->data_size : 0.0, in->entries,
           in->evictions, in->csum_failures, in->flight_waits, in->flight_takeovers, in->allocated,
           in->ring_max, in->max_entry, in->blob_files, in->blob_bytes, in->blob_size,
           in->blob_puts, in->blob_errors, in->blob_evictions, in->blob_bad, in->ring_alloc,
           in->ring_nospace, in->ix_slots, in->ix_max, in->ix_nospace);
    for (size_t i = 0; i < r->n; i++) {
        const struct cm_seg_fnstat *st = &r->v[i].st;

        printf("%s{\"name\": ", i ? ", " : "");
        cm_json_string(stdout, r->v[i].name);
        printf(", \"ident\": \"%016" PRIx64 "\", \"calls\": %" PRIu64
               ", \"hits\": {\"memory\": %" PRIu64 ", \"shared\": %" PRIu64 ", \"remote\": %" PRIu64
               "}, \"misses\": %" PRIu64 ", \"errors\": %" PRIu64 ", \"hit_rate\": ",
               r->v[i].ident, st->calls, st->hit_mem, st->hit_shared, st->hit_remote, st->misses,
               st->errors);
        if (st->calls == 0)
            printf("null");
        else
            printf("%.4f", (double)hits(st) / (double)st->calls);
        printf(", \"miss_ns\": %" PRIu64 ", \"saved_ns\": %" PRIu64 ", \"quarantined\": %s}",
               st->miss_ns, saved(st), r->v[i].quarantined ? "true" : "false");
    }
    printf("], \"remote\": {\"hits\": %" PRIu64 ", \"misses\": %" PRIu64 ", \"errors\": %" PRIu64
           ", \"timeouts\": %" PRIu64 ", \"auth_errors\": %" PRIu64 ", \"skipped\": %" PRIu64
           ", \"breaker_opens\": %" PRIu64 ", \"stored\": %" PRIu64 ", \"store_errors\": %" PRIu64
           ", \"dropped\": %" PRIu64 "}, \"agents\": [",
           rc->hits, rc->misses, rc->errors, rc->timeouts, rc->auth_errors, rc->skipped,
           rc->breaker_opens, rc->puts, rc->put_errors, rc->dropped);
    fflush(stdout);
    cm_agent_list(path, 1, stdout);
    printf("]}\n");
}

static void show(struct cm_seg *s, const char *path, bool json)
{
    struct rows r = {NULL, 0, 0, false};
    struct cm_seg_info in;

    memset(&in, 0, sizeof(in));
    cm_seg_get_info(s, &in);
    cm_seg_fn_foreach(s, add_row, &r);
    for (size_t i = 0; i < r.n; i++)
        r.v[i].quarantined = cm_seg_quarantined(s, r.v[i].ident) != 0;
    if (r.n > 1)
        qsort(r.v, r.n, sizeof(r.v[0]), by_name);
    struct cm_remote_counters rc;
    cm_seg_remote_get(s, &rc);
    if (json)
        print_json(path, &r, &in, &rc);
    else
        print_table(path, &r, &in, &rc);
    if (!json) {
        fflush(stdout);
        cm_agent_list(path, 0, stdout);
    }
    fflush(stdout);
    free(r.v);
}

/* "1", "0.5", "2.5s": seconds in (0, WATCH_MAX_SECONDS]. */
static int parse_seconds(const char *s, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (end == s || errno != 0)
        return -1;
    if (*end == 's')
        end++;
    if (*end != '\0' || !(v > 0) || v > WATCH_MAX_SECONDS)
        return -1;
    *out = v;
    return 0;
}

/* Sleeps `sec` seconds or until a signal asked to stop. */
static void pause_for(double sec)
{
    struct timespec ts;

    ts.tv_sec = (time_t)sec;
    ts.tv_nsec = (long)((sec - (double)ts.tv_sec) * 1e9);
    while (!stop && nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int cm_cmd_stats(int argc, char **argv)
{
    const char *config = NULL, *v;
    char path[CM_PATH_MAX];
    struct cm_seg *s;
    struct sigaction sa;
    bool json = false, watch = false, tty;
    double every = 0;
    int rc;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int taken;

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cm_usage_stats(stdout);
            return 0;
        }
        taken = cm_config_option(argc, argv, &i, "stats", &config);
        if (taken < 0)
            goto usage;
        if (taken > 0)
            continue;
        if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (cm_is_option(a, "--watch")) {
            v = cm_option_value(argc, argv, &i, "stats", 7);
            if (v == NULL)
                goto usage;
            if (parse_seconds(v, &every) < 0) {
                fprintf(stderr,
                        "cloudm stats: invalid --watch interval '%s' (seconds, more "
                        "than 0, at most 86400)\n",
                        v);
                goto usage;
            }
            watch = true;
        } else {
            fprintf(stderr, "cloudm stats: unknown %s '%s'\n", a[0] == '-' ? "option" : "argument",
                    a);
            goto usage;
        }
    }
    rc = cm_seg_path("stats", config, path, sizeof(path));
    if (rc != 0)
        return rc;
    rc = cm_seg_tool_open("stats", path, &s);
    if (rc == -ENOENT) {
        fprintf(stderr, "cloudm: no shared segment at %s\n", path);
        return CM_EXIT_FAIL;
    }
    if (rc != 0)
        return rc;
    if (!watch) {
        show(s, path, json);
        cm_seg_close(s);
        return 0;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: the sleep ends at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    tty = !json && isatty(STDOUT_FILENO);
    while (!stop) {
        if (tty)
            printf("\033[H\033[J"); /* home, clear to the end: redraw in place */
        show(s, path, json);
        if (!tty && !json)
            printf("\n");
        pause_for(every);
    }
    cm_seg_close(s);
    return 0;

usage:
    fputc('\n', stderr);
    cm_usage_stats(stderr);
    return CM_EXIT_USAGE;
}
