/*
 * proto_sig.c - what cloudm writes for a prototype: the key plan line for the observation run
 * and the signature line of a generated config, plus the lookup order of the sources.
 *
 * What it does: classifies parameters by the x86-64 System V rules (integers and pointers in
 * rdi..r9, floats in xmm0-7, then 8-byte stack words in order) for the plan; maps C types to
 * the signature language: integers by width and sign, float/double, `const char *` -> str,
 * `const T *` with a size parameter next to it -> in[SIZE * sizeof T], a pointer the function may
 * write -> a TODO (mode = off until someone settles it, e.g. with `cloudm probe`), an opaque
 * `const` pointer without a size -> ptr (keyed by address: valid while that object lives).
 *
 * What it does not do: no aggregates by value, no long double, no variadic parts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

const char *cm_proto_source_text(const struct cm_proto *p, char *buf, size_t size)
{
    if (p->source == CM_PROTO_DWARF)
        snprintf(buf, size, "DWARF (%s)", p->from);
    else if (p->source == CM_PROTO_HEADER)
        snprintf(buf, size, "header %s", p->from);
    else
        snprintf(buf, size, "unknown");
    return buf;
}

static bool sizeish(const struct cm_proto *p, int i)
{
    if (i < 0 || i >= p->nparams || p->params[i].kind != CM_PT_INT || p->params[i].size < 4)
        return false;
    const char *n = p->pnames[i];
    return strstr(p->params[i].c, "size_t") || strcasestr(n, "len") || strcasestr(n, "size") ||
           strcmp(n, "n") == 0 || strcasestr(n, "count") || strcasestr(n, "nbytes") ||
           strcasestr(n, "num");
}

bool cm_proto_param_exact(const struct cm_proto *p, int i)
{
    const struct cm_ptype *t = &p->params[i];
    if (t->kind != CM_PT_PTR)
        return t->kind == CM_PT_INT || t->kind == CM_PT_FLOAT;
    if (!t->pointee_const)
        return false;
    if (t->pointee_char)
        return true;
    int gi = 0, gs = 0, sz = sizeish(p, i + 1) ? i + 1 : sizeish(p, i - 1) ? i - 1 : -1;
    if (sz < 0)
        return false;
    for (int j = 0; j < p->nparams; j++) { /* both in registers? */
        bool intc = p->params[j].kind == CM_PT_INT || p->params[j].kind == CM_PT_PTR;
        if (j < i && intc)
            gi++;
        if (j < sz && intc)
            gs++;
    }
    return gi < 6 && gs < 6;
}

bool cm_proto_plan(const struct cm_proto *p, const char *name, char *buf, size_t size)
{
    if (p->source == CM_PROTO_NONE || p->variadic)
        return false;
    int gpr = 0, xmm = 0, stack = 0;
    char items[1024] = "";
    size_t k = 0;
    int reg[CM_PROTO_MAX_PARAMS]; /* integer register of each parameter, -1: none */
    for (int i = 0, g = 0; i < p->nparams; i++)
        reg[i] =
            (p->params[i].kind == CM_PT_INT || p->params[i].kind == CM_PT_PTR) && g < 6 ? g++ : -1;
    for (int i = 0; i < p->nparams; i++) {
        const struct cm_ptype *t = &p->params[i];
        char it[32];
        int sz = sizeish(p, i + 1) ? i + 1 : sizeish(p, i - 1) ? i - 1 : -1;
        if (t->kind == CM_PT_PTR && t->pointee_const && !t->pointee_char && sz >= 0 &&
            reg[i] >= 0 && reg[sz] >= 0) { /* in[SIZE]: keyed by content, like the config */
            snprintf(it, sizeof(it), "m%d.%d.%d", gpr++, reg[sz],
                     t->pointee_size > 0 && t->pointee_size <= 64 ? t->pointee_size : 1);
        } else if (t->kind == CM_PT_INT || t->kind == CM_PT_PTR) {
            bool str = t->kind == CM_PT_PTR && t->pointee_char && t->pointee_const;
            int w = t->kind == CM_PT_PTR ? 8 : t->size;
            if (gpr < 6)
                snprintf(it, sizeof(it), str ? "s%d" : "g%d.%d", gpr++, w);
            else
                snprintf(it, sizeof(it), str ? "t%d" : "k%d.%d", stack++, w);
        } else if (t->kind == CM_PT_FLOAT) {
            if (xmm < 8)
                snprintf(it, sizeof(it), "x%d.%d", xmm++, t->size);
            else
                snprintf(it, sizeof(it), "k%d.%d", stack++, t->size);
        } else {
            return false;
        }
        k += (size_t)snprintf(items + k, sizeof(items) - k, "%s%s", k ? "," : "", it);
        if (k >= sizeof(items))
            return false;
    }
    snprintf(buf, size, "%s %d %s", name, stack, k ? items : "-");
    return true;
}

static const char *int_name(const struct cm_ptype *t)
{
    static const char *s[] = {"i8", "i16", "?", "i32", "?", "?", "?", "i64"};
    static const char *u[] = {"u8", "u16", "?", "u32", "?", "?", "?", "u64"};
    return t->is_signed ? s[t->size - 1] : u[t->size - 1];
}

static void add(char *why, size_t whysz, const char *fmt, const char *a, const char *b)
{
    size_t k = strlen(why);
    if (k < whysz)
        snprintf(why + k, whysz - k, fmt, a, b);
}

enum cm_sig_status cm_proto_signature(const struct cm_proto *p, const char *name, char *buf,
                                      size_t size, char *why, size_t whysz)
{
    enum cm_sig_status st = CM_SIG_OK;
    why[0] = '\0';
    buf[0] = '\0';
    if (p->source == CM_PROTO_NONE) {
        add(why, whysz, "no prototype (no DWARF, no header): write the signature by hand%s%s\n", "",
            "");
        return CM_SIG_NONE;
    }
    char ret[64];
    const struct cm_ptype *r = &p->ret;
    if (r->kind == CM_PT_VOID) {
        snprintf(ret, sizeof(ret), "void");
    } else if (r->kind == CM_PT_INT) {
        snprintf(ret, sizeof(ret), "%s", int_name(r));
    } else if (r->kind == CM_PT_FLOAT) {
        snprintf(ret, sizeof(ret), "f%d", 8 * r->size);
    } else if (r->kind == CM_PT_PTR && r->pointee_char) {
        snprintf(ret, sizeof(ret), "str");
        if (!r->pointee_const) {
            add(why, whysz,
                "returns '%s': `str` if the string is the callee's, `mstr` if the "
                "caller frees it%s\n",
                r->c, "");
            st = CM_SIG_TODO;
        }
    } else {
        add(why, whysz, "returns '%s': cloudm cannot replay an arbitrary pointer%s\n", r->c, "");
        return CM_SIG_NONE;
    }
    size_t k = (size_t)snprintf(buf, size, "%s %s(", ret, name);
    if (p->nparams == 0)
        k += (size_t)snprintf(buf + k, size - k, "void");
    for (int i = 0; i < p->nparams && k < size; i++) {
        const struct cm_ptype *t = &p->params[i];
        char ty[96], pn[48];
        snprintf(pn, sizeof(pn), "%s", p->pnames[i][0] ? p->pnames[i] : "");
        if (t->kind == CM_PT_INT) {
            snprintf(ty, sizeof(ty), "%s", int_name(t));
        } else if (t->kind == CM_PT_FLOAT) {
            snprintf(ty, sizeof(ty), "f%d", 8 * t->size);
        } else if (t->kind == CM_PT_PTR && t->pointee_char && t->pointee_const) {
            snprintf(ty, sizeof(ty), "str");
        } else if (t->kind == CM_PT_PTR && t->pointee_const) {
            int sz = sizeish(p, i + 1) ? i + 1 : sizeish(p, i - 1) ? i - 1 : -1;
            int el = t->pointee_size > 0 ? t->pointee_size : 1;
            char sname[48];
            if (sz >= 0)
                snprintf(sname, sizeof(sname), "%s", p->pnames[sz][0] ? p->pnames[sz] : "");
            if (sz >= 0 && !sname[0])
                snprintf(sname, sizeof(sname), "arg%d", sz + 1);
            if (sz >= 0 && el == 1)
                snprintf(ty, sizeof(ty), "in[%s]", sname);
            else if (sz >= 0)
                snprintf(ty, sizeof(ty), "in[%s * %d]", sname, el);
            else if (t->pointee != CM_PT_VOID && t->pointee != CM_PT_OTHER && el > 0 &&
                     t->pointee != CM_PT_PTR)
                snprintf(ty, sizeof(ty), "in[%d]", el);
            else {
                snprintf(ty, sizeof(ty), "ptr");
                add(why, whysz,
                    "parameter '%s' (%s) is keyed by its address: right only if the "
                    "pointee never changes while the program runs\n",
                    p->pnames[i][0] ? p->pnames[i] : "?", t->c);
            }
        } else if (t->kind == CM_PT_PTR) {
            snprintf(ty, sizeof(ty), "ptr");
            add(why, whysz,
                "TODO: parameter '%s' (%s) may be written by the function: say "
                "out[...]/inout[...] (run `cloudm probe` to see what it writes)\n",
                p->pnames[i][0] ? p->pnames[i] : "?", t->c);
            st = CM_SIG_TODO;
        } else {
            add(why, whysz,
                "parameter '%s' (%s) is passed by value as an aggregate or an "
                "unsupported type\n",
                p->pnames[i][0] ? p->pnames[i] : "?", t->c);
            return CM_SIG_NONE;
        }
        k += (size_t)snprintf(buf + k, size - k, "%s%s%s%s", i ? ", " : "", ty, pn[0] ? " " : "",
                              pn);
    }
    if (p->variadic) {
        add(why, whysz, "variadic: only the fixed parameters are known%s%s\n", "", "");
        return CM_SIG_NONE;
    }
    if (k < size)
        snprintf(buf + k, size - k, ")");
    return st;
}

/* Whether `text` has `name` as a whole word. */
static bool has_word(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; (p = strstr(p, name)); p += n) {
        char b = p == text ? ' ' : p[-1], a = p[n];
        bool wb = !(b == '_' || (b >= '0' && b <= '9') || ((b | 32) >= 'a' && (b | 32) <= 'z'));
        bool wa = !(a == '_' || (a >= '0' && a <= '9') || ((a | 32) >= 'a' && (a | 32) <= 'z'));
        if (wb && wa)
            return true;
    }
    return false;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

/*
 * Of a package's headers, the ones worth parsing for `names`: those that mention one of them;
 * a header under bits/ (never parsed alone, e.g. glibc's bits/mathcalls.h) is replaced by the
 * package's headers that include it. At most `max`; returns how many (pointers into hdrs).
 */
static int pick_headers(char **hdrs, int nh, const char *const *names, int n, const char **out,
                        int max)
{
    int k = 0;
    bool *take = calloc((size_t)(nh > 0 ? nh : 1), sizeof(*take));
    char **text = calloc((size_t)(nh > 0 ? nh : 1), sizeof(*text));
    for (int i = 0; take && text && i < nh; i++)
        text[i] = read_text(hdrs[i]);
    for (int i = 0; take && text && i < nh; i++) {
        bool hit = false;
        for (int j = 0; text[i] && j < n && !hit; j++)
            hit = has_word(text[i], names[j]);
        if (!hit)
            continue;
        const char *bits = strstr(hdrs[i], "/bits/");
        if (!bits) {
            take[i] = true;
            continue;
        }
        for (int m = 0; m < nh; m++) /* who includes it */
            if (text[m] && !strstr(hdrs[m], "/bits/") && strstr(text[m], bits + 1))
                take[m] = true;
    }
    for (int i = 0; take && i < nh && k < max; i++)
        if (take[i])
            out[k++] = hdrs[i];
    for (int i = 0; text && i < nh; i++)
        free(text[i]);
    free(text);
    free(take);
    return k;
}

void cm_proto_lookup(const char *object, const char *const *names, int n, struct cm_proto *out,
                     const struct cm_proto_headers *h, bool internal)
{
    memset(out, 0, (size_t)n * sizeof(*out));
    int found = cm_proto_dwarf(object, names, n, out, internal);
    if (found == n)
        return;
    /* the rest from headers: the user's first, then the -dev package's */
    const char *rest[n > 0 ? n : 1];
    int idx[n > 0 ? n : 1];
    int m = 0;
    for (int i = 0; i < n; i++)
        if (out[i].source == CM_PROTO_NONE) {
            idx[m] = i;
            rest[m++] = names[i];
        }
    struct cm_proto *tmp = calloc((size_t)(m > 0 ? m : 1), sizeof(*tmp));
    if (!tmp)
        return;
    if (h && h->nfiles > 0)
        cm_proto_clang(h->files, h->nfiles, h->dirs, h->ndirs, rest, m, tmp);
    bool missing = false;
    for (int j = 0; j < m; j++)
        missing |= tmp[j].source == CM_PROTO_NONE;
    if (missing) {
        char *hdrs[256];
        char pkg[128];
        int nh = cm_proto_dpkg_headers(object, hdrs, 256, pkg, sizeof(pkg));
        if (nh > 0) {
            const char *rest2[m > 0 ? m : 1];
            int idx2[m > 0 ? m : 1], m2 = 0;
            for (int j = 0; j < m; j++)
                if (tmp[j].source == CM_PROTO_NONE) {
                    idx2[m2] = j;
                    rest2[m2++] = rest[j];
                }
            struct cm_proto *tmp2 = calloc((size_t)(m2 > 0 ? m2 : 1), sizeof(*tmp2));
            const char *use[16];
            int nuse = pick_headers(hdrs, nh, rest2, m2, use, 16);
            if (tmp2 && nuse > 0)
                cm_proto_clang(use, nuse, h ? h->dirs : NULL, h ? h->ndirs : 0, rest2, m2, tmp2);
            for (int j = 0; tmp2 && j < m2; j++)
                if (tmp2[j].source != CM_PROTO_NONE) {
                    char f[sizeof(tmp2[j].from)];
                    snprintf(f, sizeof(f), "%s", tmp2[j].from);
                    snprintf(tmp2[j].from, sizeof(tmp2[j].from), "%.300s (Debian package %s)", f,
                             pkg);
                    tmp[idx2[j]] = tmp2[j];
                }
            free(tmp2);
            for (int i = 0; i < nh; i++)
                free(hdrs[i]);
        }
    }
    for (int j = 0; j < m; j++)
        out[idx[j]] = tmp[j];
    free(tmp);
}
