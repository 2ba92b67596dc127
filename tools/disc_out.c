/*
 * disc_out.c - what `cloudm discover` prints and writes: the ranked table (stderr), the
 * generated config (-o) and the JSON result (--json).
 *
 * What it does: the table shows, best first, each function's object, calls, distinct argument
 * sets ("≈" when keyed by raw argument registers or by pointer addresses, "~" when the trace
 * was sampled, or only a sample of a cheap function's calls was keyed), total and mean time, what a
 * cache would save within this run and across runs, and where its prototype came from. The config
 * has one section per function worth it, its signature filled from the prototype (proto_sig.c) and
 * checked with the config parser, its evidence in comments; a signature that needs a human gets
 * `mode = off` and a TODO, one that cannot be written is left commented out.
 *
 * What it does not do: no analysis (disc_analyze.c), no HTML (disc_html.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cm_config.h"
#include "disc.h"

static const char *base(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static const char *src_short(const struct disc_fn *f)
{
    switch (f->proto.source) {
    case CM_PROTO_DWARF:
        return "DWARF";
    case CM_PROTO_HEADER:
        return strstr(f->proto.from, "Debian package") ? "header (dpkg)" : "header";
    default:
        return "unknown";
    }
}

/* Whether the keys are approximate: registers, or an address for a pointer. */
static bool approx(const struct disc_fn *f)
{
    if (!f->planned)
        return true;
    for (int i = 0; i < f->proto.nparams; i++)
        if (!cm_proto_param_exact(&f->proto, i))
            return true;
    return false;
}

static void fmt_ns(char *b, size_t n, double ns)
{
    if (ns >= 1e9)
        snprintf(b, n, "%.2f s", ns / 1e9);
    else if (ns >= 1e6)
        snprintf(b, n, "%.1f ms", ns / 1e6);
    else if (ns >= 1e3)
        snprintf(b, n, "%.1f us", ns / 1e3);
    else
        snprintf(b, n, "%.0f ns", ns);
}

void disc_print_table(const struct disc *d, FILE *f, int top, const char *cmd)
{
    char run[32];
    fmt_ns(run, sizeof(run), (double)d->run_ns);
    fprintf(f, "cloudm %s: %d functions observed in %d process%s, run %s%s\n", cmd, d->n, d->nprocs,
            d->nprocs == 1 ? "" : "es", run,
            d->rate < 1 ? " (keys sampled: distinct counts are estimates, marked ~)" : "");
    fprintf(f, "%-4s %-24s %-20s %10s %10s %10s %10s %10s %6s %10s  %s\n", "rank", "function",
            "object", "calls", "distinct", "total", "mean", "saved", "%run", "next run",
            "prototype");
    for (int i = 0; i < d->n && i < top; i++) {
        const struct disc_fn *x = &d->fns[i];
        char tot[32], mean[32], sv[32], sa[32], dist[40];
        fmt_ns(tot, sizeof(tot), (double)x->ns);
        fmt_ns(mean, sizeof(mean), x->calls ? (double)x->ns / (double)x->calls : 0);
        fmt_ns(sv, sizeof(sv), x->saved_within);
        fmt_ns(sa, sizeof(sa), x->saved_across);
        snprintf(dist, sizeof(dist), "%s%s%.0f", approx(x) ? "≈" : "",
                 d->rate < 1 || x->sampled ? "~" : "", x->distinct);
        fprintf(f, "%-4d %-24.24s %-20.20s %10llu %*s %10s %10s %10s %5.1f%% %10s  %s%s\n", i + 1,
                x->name, base(x->object), (unsigned long long)x->calls, 10 + (approx(x) ? 2 : 0),
                dist, tot, mean, sv, d->run_ns ? 100.0 * x->saved_within / (double)d->run_ns : 0.0,
                sa, src_short(x), x->worth ? "  *" : "");
    }
    if (d->n > top)
        fprintf(f, "... %d more (--top N)\n", d->n - top);
    fprintf(f, "* = worth a cache (saves >= 1%% of the run, >= 1 us per call); "
               "≈ = keyed by registers or addresses; ~ = estimated from sampled calls or keys\n");
}

struct sb {
    char *p;
    size_t n, cap;
};

__attribute__((format(printf, 2, 3))) static void sb_add(struct sb *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0)
            return;
        if (b->p && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + (size_t)k + 1)
            cap *= 2;
        char *v = realloc(b->p, cap);
        if (!v)
            return;
        b->p = v;
        b->cap = cap;
    }
}

/* Every line of `text` as a comment. */
static void sb_comment(struct sb *b, const char *prefix, const char *text)
{
    while (*text) {
        size_t k = strcspn(text, "\n");
        sb_add(b, "# %s%.*s\n", prefix, (int)k, text);
        text += k;
        if (*text)
            text++;
    }
}

static void diag_keep(void *ctx, enum cm_severity sev, const char *msg)
{
    char *err = ctx;
    if (sev == CM_DIAG_ERROR && !err[0])
        snprintf(err, 512, "%s", msg);
}

static void section(struct sb *b, const struct disc *d, const struct disc_fn *x)
{
    char tot[32], mean[32], sv[32], sa[32], src[600];
    fmt_ns(tot, sizeof(tot), (double)x->ns);
    fmt_ns(mean, sizeof(mean), x->calls ? (double)x->ns / (double)x->calls : 0);
    fmt_ns(sv, sizeof(sv), x->saved_within);
    fmt_ns(sa, sizeof(sa), x->saved_across);
    sb_add(b,
           "\n# %s in %s: %llu calls, %s%.0f distinct argument sets, %s in total (%.1f %% of "
           "the run), %s per call.\n",
           x->name, x->object, (unsigned long long)x->calls, approx(x) ? "≈" : "", x->distinct, tot,
           d->run_ns ? 100.0 * (double)x->ns / (double)d->run_ns : 0.0, mean);
    sb_add(b, "# A cache would save ~%s in this run, ~%s in a later run with the same inputs.\n",
           sv, sa);
    sb_add(b, "# Prototype: %s\n", cm_proto_source_text(&x->proto, src, sizeof(src)));
    sb_add(b, "# Not known from a prototype: globals it reads or writes (reads =, writes =); "
              "`cloudm probe` finds them.\n");
    if (x->nmrc > 0) {
        sb_add(b, "# Memory tier (LRU) hits by entries held:");
        for (int k = 0; k<x->nmrc; k += x->nmrc> 6 ? x->nmrc / 6 : 1)
            sb_add(b, " %.0f:%.0f", x->mrc_entries[k], x->mrc_hits[k]);
        sb_add(b, " (of %llu calls)\n", (unsigned long long)x->calls);
    }
    /* the parser has the last word */
    struct cm_signature sig;
    char err[512] = "";
    enum cm_sig_status st = x->sig;
    char why[1200];
    snprintf(why, sizeof(why), "%s", x->why);
    if (st != CM_SIG_NONE &&
        (cm_signature_parse(x->sigline, &sig, "discover", 0, diag_keep, err) != 0 || err[0])) {
        size_t k = strlen(why);
        snprintf(why + k, sizeof(why) - k, "the signature '%s' does not parse: %s\n", x->sigline,
                 err);
        st = CM_SIG_NONE;
    }
    if (st == CM_SIG_NONE) {
        sb_comment(b, "", why);
        sb_add(b, "# [function %s]\n# signature = ...\n# object = %s\n", x->name, base(x->object));
        return;
    }
    if (why[0])
        sb_comment(b, "", why);
    sb_add(b, "[function %s]\nsignature = %s\nobject = %s\n", x->name, x->sigline, base(x->object));
    if (st == CM_SIG_TODO)
        sb_add(b, "mode = off  ; TODO: settle the TODO above (e.g. `cloudm probe`), then remove\n");
}

char *disc_config_text(const struct disc *d)
{
    struct sb b = {0};
    sb_add(&b,
           "# Generated by `cloudm discover` from one run of the program.\n"
           "# Check it with `cloudm check -c FILE PROGRAM`; measure it with `cloudm profile`.\n");
    int n = 0;
    for (int i = 0; i < d->n; i++)
        if (d->fns[i].worth) {
            section(&b, d, &d->fns[i]);
            n++;
        }
    if (!n)
        sb_add(&b, "\n# No function was worth a cache in this run (>= 1 %% of the run and >= 1 us "
                   "per call, with repeated arguments).\n");
    return b.p;
}

int disc_write_config(const struct disc *d, const char *path)
{
    char *t = disc_config_text(d);
    FILE *f = fopen(path, "we");
    if (!f || !t) {
        int e = errno;
        free(t);
        if (f)
            fclose(f);
        return -e;
    }
    fputs(t, f);
    free(t);
    return fclose(f) == 0 ? 0 : -errno;
}

int disc_write_json(const struct disc *d, const char *path)
{
    FILE *f = fopen(path, "we");
    if (!f)
        return -errno;
    fprintf(f, "{\"run_ns\": %llu, \"processes\": %d, \"sampling_rate\": %.9g, \"functions\": [",
            (unsigned long long)d->run_ns, d->nprocs, d->rate);
    for (int i = 0; i < d->n; i++) {
        const struct disc_fn *x = &d->fns[i];
        char src[600];
        fprintf(f, "%s\n  {\"rank\": %d, \"name\": ", i ? "," : "", i + 1);
        cm_json_string(f, x->name);
        fprintf(f, ", \"object\": ");
        cm_json_string(f, x->object);
        fprintf(f,
                ", \"calls\": %llu, \"keyed_calls\": %llu, \"distinct\": %.0f, "
                "\"approximate_keys\": %s, \"total_ns\": %llu, \"saved_within_ns\": %.0f, "
                "\"saved_across_ns\": %.0f, "
                "\"worth\": %s, \"prototype_source\": ",
                (unsigned long long)x->calls, (unsigned long long)x->keyed, x->distinct,
                approx(x) ? "true" : "false", (unsigned long long)x->ns, x->saved_within,
                x->saved_across, x->worth ? "true" : "false");
        cm_json_string(f, cm_proto_source_text(&x->proto, src, sizeof(src)));
        fprintf(f, ", \"signature\": ");
        cm_json_string(f, x->sig == CM_SIG_NONE ? "" : x->sigline);
        fprintf(f, ", \"mrc\": [");
        for (int k = 0; k < x->nmrc; k++)
            fprintf(f, "%s[%.0f, %.0f]", k ? ", " : "", x->mrc_entries[k], x->mrc_hits[k]);
        fprintf(f, "]}");
    }
    fprintf(f, "\n]}\n");
    return fclose(f) == 0 ? 0 : -errno;
}
