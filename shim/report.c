/*
 * report.c - the report written when a memoized process exits (docs/report.md).
 *
 * What it does: sums every variant's per-thread counters by configured function and writes
 * either one human line per function to stderr or a JSON document to a file (the JSON is a
 * documented contract). `%p` in the file name becomes the pid, so forked and exec'ed processes
 * each keep their own report. Output is assembled in memory and written with write(2): the
 * host's stdio buffers are never touched.
 *
 * What it does not do: live statistics (the shared tier's `cloudm stats`), any counting.
 */
#include "report.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bind.h"
#include "cloudm_version.h"
#include "base/base.h"
#include "tier/tier.h"

static const struct cm_config *rep_cfg;
static char rep_dest[CM_PATH_MAX];
static enum cm_mode rep_mode;

void cm_report_setup(const struct cm_config *cfg, const char *dest, enum cm_mode global_mode)
{
    rep_cfg = cfg;
    rep_mode = global_mode;
    snprintf(rep_dest, sizeof(rep_dest), "%s", dest ? dest : "");
}

/* A growable output buffer (report time only, so malloc is fine). */
struct out {
    char *p;
    size_t len, cap;
    int failed;
};

__attribute__((format(printf, 2, 3))) static void outf(struct out *o, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(o->p ? o->p + o->len : NULL, o->p ? o->cap - o->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = 1;
            return;
        }
        if (o->p && o->len + (size_t)n < o->cap) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap ? o->cap * 2 : 4096;
        while (cap < o->len + (size_t)n + 1)
            cap *= 2;
        char *q = realloc(o->p, cap);
        if (!q) {
            o->failed = 1;
            return;
        }
        o->p = q;
        o->cap = cap;
    }
}

static void json_str(struct out *o, const char *s)
{
    outf(o, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            outf(o, "\\%c", c);
        else if (c < 0x20)
            outf(o, "\\u%04x", c);
        else
            outf(o, "%c", c);
    }
    outf(o, "\"");
}

struct agg {
    struct cm_stat s;
    uint64_t miss_ns;      /* s.miss_ticks converted */
    uint64_t mean_miss_ns; /* this process's mean miss, else the segment's (all processes) */
    uint64_t distinct;
    uint64_t verified, mismatches; /* verify = RATE: hits re-checked, and those that differed */
    int quarantined;
    int profile;
};

static void aggregate(int func, struct agg *a)
{
    memset(a, 0, sizeof(*a));
    uint32_t n = __atomic_load_n(&cm_nfns, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < n; i++) {
        struct cm_fn *fn = &cm_fns[i].fn;
        if (fn->func != (uint32_t)func)
            continue;
        struct cm_stat s;
        cm_stats_sum(i, &s);
        a->s.calls += s.calls;
        a->s.hit_mem += s.hit_mem;
        a->s.hit_shared += s.hit_shared;
        a->s.hit_remote += s.hit_remote;
        a->s.misses += s.misses;
        a->s.errors += s.errors;
        a->s.bypassed += s.bypassed;
        a->s.miss_ticks += s.miss_ticks;
        a->distinct += __atomic_load_n(&fn->distinct, __ATOMIC_RELAXED);
        a->verified += __atomic_load_n(&fn->verified, __ATOMIC_RELAXED);
        a->mismatches += __atomic_load_n(&fn->mismatches, __ATOMIC_RELAXED);
        a->quarantined |= __atomic_load_n(&fn->quarantined, __ATOMIC_RELAXED);
        if (fn->mode == CM_MODE_PROFILE)
            a->profile = 1;
    }
    a->miss_ns = cm_ticks_to_ns(a->s.miss_ticks);
    if (a->s.misses)
        a->mean_miss_ns = a->miss_ns / a->s.misses;
    for (uint32_t i = 0; i < n && !a->mean_miss_ns; i++)
        if (cm_fns[i].fn.func == (uint32_t)func)
            a->mean_miss_ns = cm_shared_mean_miss_ns(&cm_fns[i].fn);
}

static uint64_t saved_ns(const struct agg *a)
{
    if (a->profile) {
        if (!a->s.misses || a->distinct > a->s.calls)
            return 0;
        return (uint64_t)((double)(a->s.calls - a->distinct) * (double)a->miss_ns /
                          (double)a->s.misses);
    }
    uint64_t hits = a->s.hit_mem + a->s.hit_shared + a->s.hit_remote;
    return hits * a->mean_miss_ns;
}

static void human_time(char *buf, size_t n, uint64_t ns)
{
    if (ns < 1000)
        snprintf(buf, n, "%llu ns", (unsigned long long)ns);
    else if (ns < 1000000)
        snprintf(buf, n, "%.1f us", ns / 1e3);
    else if (ns < 1000000000)
        snprintf(buf, n, "%.1f ms", ns / 1e6);
    else
        snprintf(buf, n, "%.1f s", ns / 1e9);
}

static void human(struct out *o)
{
    for (int i = 0; i < rep_cfg->nfunctions; i++) {
        const char *name = rep_cfg->functions[i].name;
        if (!cm_bind_hooked(i)) {
            outf(o, "cloudm: %s  not hooked\n", name);
            continue;
        }
        struct agg a;
        aggregate(i, &a);
        char t[32];
        human_time(t, sizeof(t), saved_ns(&a));
        uint64_t hits = a.s.hit_mem + a.s.hit_shared + a.s.hit_remote;
        if (a.profile) {
            char m[32];
            human_time(m, sizeof(m), a.miss_ns);
            outf(o, "cloudm: %s  calls %llu  distinct ", name, (unsigned long long)a.s.calls);
            if (cm_stats_distinct_overflow())
                outf(o, "unknown");
            else
                outf(o, "%llu", (unsigned long long)a.distinct);
            outf(o, "  time %s  a cache would save ~%s (profile)\n", m, t);
            continue;
        }
        outf(o, "cloudm: %s  calls %llu  hits %llu (memory %llu", name,
             (unsigned long long)a.s.calls, (unsigned long long)hits,
             (unsigned long long)a.s.hit_mem);
        if (a.s.hit_shared)
            outf(o, ", shared %llu", (unsigned long long)a.s.hit_shared);
        if (a.s.hit_remote)
            outf(o, ", remote %llu", (unsigned long long)a.s.hit_remote);
        outf(o, ")  misses %llu", (unsigned long long)a.s.misses);
        if (a.s.errors)
            outf(o, "  errors %llu", (unsigned long long)a.s.errors);
        if (a.s.bypassed)
            outf(o, "  bypassed %llu", (unsigned long long)a.s.bypassed);
        if (a.verified)
            outf(o, "  verified %llu (mismatches %llu)", (unsigned long long)a.verified,
                 (unsigned long long)a.mismatches);
        outf(o, "  saved ~%s%s\n", t, a.quarantined ? "  QUARANTINED" : "");
    }
    struct cm_remote_counters c;
    const char *url;
    if (cm_remote_counters(&c, &url))
        outf(o,
             "cloudm: remote %s  hits %llu  misses %llu  errors %llu (timeouts %llu, auth %llu)  "
             "skipped %llu  stored %llu  store errors %llu  dropped %llu\n",
             url, (unsigned long long)c.hits, (unsigned long long)c.misses,
             (unsigned long long)c.errors, (unsigned long long)c.timeouts,
             (unsigned long long)c.auth_errors, (unsigned long long)c.skipped,
             (unsigned long long)c.puts, (unsigned long long)c.put_errors,
             (unsigned long long)c.dropped);
}

/* The remote tier's counters: null when there is no remote tier. */
static void json_remote(struct out *o)
{
    struct cm_remote_counters c;
    const char *url;
    if (!cm_remote_counters(&c, &url)) {
        outf(o, "null");
        return;
    }
    outf(o, "{\"url\": ");
    json_str(o, url);
    outf(o,
         ", \"hits\": %llu, \"misses\": %llu, \"errors\": %llu, \"timeouts\": %llu, "
         "\"auth_errors\": %llu, \"skipped\": %llu, \"breaker_opens\": %llu, \"stored\": %llu, "
         "\"store_errors\": %llu, \"dropped\": %llu}",
         (unsigned long long)c.hits, (unsigned long long)c.misses, (unsigned long long)c.errors,
         (unsigned long long)c.timeouts, (unsigned long long)c.auth_errors,
         (unsigned long long)c.skipped, (unsigned long long)c.breaker_opens,
         (unsigned long long)c.puts, (unsigned long long)c.put_errors,
         (unsigned long long)c.dropped);
}

static void json(struct out *o)
{
    char exe[CM_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = 0;
    outf(o, "{\"cloudm\": \"%s\", \"pid\": %d, \"program\": ", CLOUDM_VERSION, (int)getpid());
    json_str(o, exe);
    outf(o, ", \"mode\": \"%s\", \"functions\": [", cm_mode_name(rep_mode));
    for (int i = 0; i < rep_cfg->nfunctions; i++) {
        struct agg a;
        aggregate(i, &a);
        outf(o, "%s\n  {\"name\": ", i ? "," : "");
        json_str(o, rep_cfg->functions[i].name);
        outf(o,
             ", \"hooked\": %s, \"calls\": %llu, \"hits\": {\"memory\": %llu, \"shared\": %llu, "
             "\"remote\": %llu}, \"misses\": %llu, \"errors\": %llu, \"bypassed\": %llu, "
             "\"distinct\": ",
             cm_bind_hooked(i) ? "true" : "false", (unsigned long long)a.s.calls,
             (unsigned long long)a.s.hit_mem, (unsigned long long)a.s.hit_shared,
             (unsigned long long)a.s.hit_remote, (unsigned long long)a.s.misses,
             (unsigned long long)a.s.errors, (unsigned long long)a.s.bypassed);
        if (a.profile && !cm_stats_distinct_overflow())
            outf(o, "%llu", (unsigned long long)a.distinct);
        else
            outf(o, "null");
        outf(o,
             ", \"miss_ns\": %llu, \"saved_ns\": %llu, \"verified\": %llu, \"mismatches\": %llu, "
             "\"quarantined\": %s}",
             (unsigned long long)a.miss_ns, (unsigned long long)saved_ns(&a),
             (unsigned long long)a.verified, (unsigned long long)a.mismatches,
             a.quarantined ? "true" : "false");
    }
    outf(o, "\n], \"remote\": ");
    json_remote(o);
    outf(o, "}\n");
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

void cm_report_write(void)
{
    if (!rep_cfg || !rep_dest[0])
        return;
    struct out o = {0};
    int to_stderr = strcmp(rep_dest, "stderr") == 0 || strcmp(rep_dest, "-") == 0;
    if (to_stderr)
        human(&o);
    else
        json(&o);
    if (o.failed || !o.p)
        goto out;
    if (to_stderr) {
        write_all(2, o.p, o.len);
    } else {
        char path[CM_PATH_MAX];
        if (cm_path_expand(rep_dest, path, sizeof(path)) < 0) {
            cm_log("report path too long: %s", rep_dest);
            goto out;
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write_all(fd, o.p, o.len) < 0)
            cm_log("cannot write report %s", path);
        if (fd >= 0)
            close(fd);
    }
out:
    free(o.p);
}
