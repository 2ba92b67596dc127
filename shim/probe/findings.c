/*
 * findings.c - turning what probing observed into one line per finding, each with the config
 * change that fixes it (the lines `cloudm probe` prints, docs/cli.md).
 *
 * What it does: for each configured function, in config order: undeclared globals (with the
 * `writes =` line that declares them, the existing ones kept), writes through parameters (with
 * the parameter's declaration: the size expression is inferred when one integer parameter, a
 * `*NAME`, NAME * 2/4/8 or NAME + c matches the size written in every probed call, else the
 * sizes seen), calls with the same key and different values, the immediate rerun that
 * differed, and output made while it ran. Writes them as tab-separated records:
 * "F\tFUNC\tKIND\tTEXT\tCONFIG" per finding and "C\tFUNC\tCALLS\tPROBED" per function, into the
 * CLOUDM_PROBE file at exit (cm_probe_fini).
 *
 * What it does not do: observe anything (probe.c, snap.c, pio.c); the command formats the
 * final output (tools/cmd_probe.c). Called at exit with probe_lock held.
 */
#include "probe_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#define DASH "\xe2\x80\x94" /* U+2014, between a finding and its fix */

/* Render a compiled size expression (postfix) as the signature language writes it. */
static void expr_text(const struct cm_signature *s, const struct cm_expr *e, char *out, size_t n)
{
    char st[8][96];
    int sp = 0;
    for (int i = 0; i < e->n && sp <= 8; i++) {
        const struct cm_expr_op *o = &e->ops[i];
        static const char ops[] = "+-*/";
        if (o->op == CM_OP_CONST && sp < 8)
            snprintf(st[sp++], sizeof(st[0]), "%" PRId64, o->value);
        else if (o->op == CM_OP_PARAM && sp < 8)
            snprintf(st[sp++], sizeof(st[0]), "%s", s->params[o->arg].name);
        else if (o->op == CM_OP_DEREF && sp < 8)
            snprintf(st[sp++], sizeof(st[0]), "*%s", s->params[o->arg].name);
        else if (o->op == CM_OP_RETVAL && sp < 8)
            snprintf(st[sp++], sizeof(st[0]), "retval");
        else if (o->op >= CM_OP_ADD && o->op <= CM_OP_DIV && sp >= 2) {
            char t[96];
            snprintf(t, sizeof(t), "%s%s %c %s%s", i + 1 < e->n ? "(" : "", st[sp - 2],
                     ops[o->op - CM_OP_ADD], st[sp - 1], i + 1 < e->n ? ")" : "");
            memcpy(st[sp - 2], t, sizeof(t));
            sp--;
        }
    }
    snprintf(out, n, "%s", sp == 1 ? st[0] : "?");
}

/* Does extent == f(obs) for every observation? */
enum { M_PARAM, M_DEREF8, M_DEREF4, M_MUL, M_ADD };
static int matches(const struct probe_param *p, int mode, int j, int64_t k)
{
    for (uint32_t i = 0; i < p->nobs; i++) {
        const struct probe_obs *o = &p->obs[i];
        uint64_t v = mode == M_DEREF8   ? o->deref[j]
                     : mode == M_DEREF4 ? (uint32_t)o->deref[j]
                                        : o->args[j];
        if (mode == M_MUL)
            v *= (uint64_t)k;
        else if (mode == M_ADD)
            v += (uint64_t)k;
        if (v != o->extent)
            return 0;
    }
    return 1;
}

/* The size expression matching every observation, or 0. */
static int infer(const struct cm_signature *s, const struct probe_param *p, char *out, size_t n)
{
    for (int j = 0; j < s->nparams; j++)
        if (s->params[j].kind == CM_K_INT && matches(p, M_PARAM, j, 0))
            return snprintf(out, n, "%s", s->params[j].name), 1;
    for (int j = 0; j < s->nparams; j++) {
        const struct cm_param *q = &s->params[j];
        if (q->kind != CM_K_IN && q->kind != CM_K_INOUT)
            continue;
        if (matches(p, M_DEREF8, j, 0) || matches(p, M_DEREF4, j, 0))
            return snprintf(out, n, "*%s", q->name), 1;
    }
    for (int j = 0; j < s->nparams; j++) {
        if (s->params[j].kind != CM_K_INT)
            continue;
        for (int k = 2; k <= 8; k *= 2)
            if (matches(p, M_MUL, j, k))
                return snprintf(out, n, "%s * %d", s->params[j].name, k), 1;
        int64_t c = (int64_t)(p->obs[0].extent - p->obs[0].args[j]);
        if (c >= 1 && c <= 64 && matches(p, M_ADD, j, c))
            return snprintf(out, n, "%s + %" PRId64, s->params[j].name, c), 1;
    }
    return 0;
}

static void writes_line(const struct cm_function *c, const struct probe_global *g, char *out,
                        size_t n)
{
    size_t len = (size_t)snprintf(out, n, "writes = ");
    for (int i = 0; i < c->nwrites && len < n; i++)
        len +=
            (size_t)snprintf(out + len, n - len, "%s:%u, ", c->writes[i].name, c->writes[i].size);
    if (len < n)
        snprintf(out + len, n - len, "%s:%u", g->sym, g->size);
}

static void param_finding(FILE *out, const struct cm_function *c, int i,
                          const struct probe_param *p)
{
    const struct cm_signature *s = &c->sig;
    const struct cm_param *q = &s->params[i];
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint32_t k = 0; k < p->nobs; k++) {
        lo = p->obs[k].extent < lo ? p->obs[k].extent : lo;
        hi = p->obs[k].extent > hi ? p->obs[k].extent : hi;
    }
    char sizes[64], expr[128], why[512], decl[160], was[160] = "";
    if (lo == hi)
        snprintf(sizes, sizeof(sizes), "%" PRIu64, lo);
    else
        snprintf(sizes, sizeof(sizes), "%" PRIu64 " to %" PRIu64, lo, hi);
    const char *word = q->kind == CM_K_IN || q->kind == CM_K_INOUT ? "inout" : "out";
    if (infer(s, p, expr, sizeof(expr))) {
        snprintf(why, sizeof(why), "%s%s = %s in every probed call", sizes,
                 lo == hi ? "" : " bytes", expr);
    } else if (lo == hi) {
        snprintf(expr, sizeof(expr), "%" PRIu64, lo);
        snprintf(why, sizeof(why), "%" PRIu64 " in every probed call", lo);
    } else {
        snprintf(expr, sizeof(expr), "SIZE");
        size_t len = (size_t)snprintf(why, sizeof(why), "sizes seen:");
        uint64_t seen[PROBE_MAX_OBS];
        int nseen = 0;
        for (uint32_t k = 0; k < p->nobs && len < sizeof(why) - 24; k++) {
            int dup = 0;
            for (int m = 0; m < nseen; m++)
                dup |= seen[m] == p->obs[k].extent;
            if (dup)
                continue;
            seen[nseen++] = p->obs[k].extent;
            len += (size_t)snprintf(why + len, sizeof(why) - len, "%s %" PRIu64,
                                    nseen > 1 ? "," : "", p->obs[k].extent);
        }
    }
    snprintf(decl, sizeof(decl), "%s[%s] %s", word, expr, q->name);
    if (p->past) {
        char d[128];
        expr_text(s, &q->size_expr, d, sizeof(d));
        snprintf(was, sizeof(was), ", past its declared %s[%s]",
                 q->kind == CM_K_INOUT ? "inout" : "out", d);
    }
    fprintf(out,
            "F\t%s\tparam\t%s writes %s bytes through parameter %d (%s)%s " DASH
            " declare it %s[%s] (%s)\t%s\n",
            c->name, c->name, sizes, i + 1, q->name, was, word, expr, why, decl);
}

static void function_findings(FILE *out, const struct cm_function *c, const struct probe_fn *f)
{
    fprintf(out, "C\t%s\t%u\t%u\n", c->name, f->calls, f->probed);
    for (int i = 0; i < f->nglobals; i++) {
        const struct probe_global *g = &f->globals[i];
        char fix[1024];
        if (g->sym[0] && g->exported) {
            writes_line(c, g, fix, sizeof(fix));
            fprintf(out, "F\t%s\tglobal\t%s writes %s (%u bytes, %s) " DASH " add: %s\t%s\n",
                    c->name, c->name, g->sym, g->size, g->obj, fix, fix);
        } else if (g->sym[0]) {
            fprintf(out,
                    "F\t%s\tglobal\t%s writes %s (%u bytes, %s, not exported) " DASH
                    " writes = cannot name it: do not memoize %s\tmode = off\n",
                    c->name, c->name, g->sym, g->size, g->obj, c->name);
        } else {
            fprintf(out,
                    "F\t%s\tglobal\t%s writes %u bytes at %s+0x%" PRIx64 " " DASH
                    " no symbol names them: do not memoize %s\tmode = off\n",
                    c->name, c->name, g->size, g->obj, g->off, c->name);
        }
    }
    for (int i = 0; i < c->sig.nparams; i++)
        if (f->params[i] && f->params[i]->found)
            param_finding(out, c, i, f->params[i]);
    if (f->diff_a)
        fprintf(out,
                "F\t%s\tresult\t%s: same arguments, different results in calls %u and %u " DASH
                " it depends on state the config does not name (a global it reads, time, "
                "randomness); declare it with reads = or do not memoize it\tmode = off\n",
                c->name, c->name, f->diff_a, f->diff_b);
    if (f->rerun_call)
        fprintf(out,
                "F\t%s\trerun\t%s: same arguments, different results when call %u ran again at "
                "once " DASH " it depends on time, randomness or state it changes itself; do not "
                "memoize it\tmode = off\n",
                c->name, c->name, f->rerun_call);
    for (int k = 0; k < PROBE_MAX_FDS; k++) {
        int fd = __atomic_load_n(&f->io_fd[k], __ATOMIC_ACQUIRE);
        uint64_t n = __atomic_load_n(&f->io_calls[k], __ATOMIC_RELAXED);
        if (fd == -1 || !n)
            continue;
        if (fd == 1 || fd == 2)
            fprintf(out,
                    "F\t%s\toutput\t%s prints to %s (%" PRIu64 " call%s): a hit will not "
                    "repeat that output\tmode = off\n",
                    c->name, c->name, fd == 1 ? "stdout" : "stderr", n, n == 1 ? "" : "s");
        else
            fprintf(out,
                    "F\t%s\toutput\t%s writes to descriptor %d (%" PRIu64 " call%s): a hit "
                    "will not repeat that output\tmode = off\n",
                    c->name, c->name, fd, n, n == 1 ? "" : "s");
    }
}

void cm_probe_findings_write(FILE *out, const struct cm_config *cfg)
{
    for (int i = 0; i < cfg->nfunctions && i < probe_nfns; i++)
        function_findings(out, &cfg->functions[i], &probe_fns[i]);
}

void cm_probe_fini(void)
{
    if (!cm_probe_on)
        return;
    char path[CM_PATH_MAX];
    if (cm_path_expand(probe_path, path, sizeof(path)) < 0)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        cm_log("probe: cannot write %s: %s", path, strerror(errno));
        return;
    }
    FILE *out = fdopen(fd, "w");
    if (!out) {
        close(fd);
        return;
    }
    pthread_mutex_lock(&probe_lock);
    cm_probe_findings_write(out, probe_cfg);
    pthread_mutex_unlock(&probe_lock);
    fclose(out);
}
