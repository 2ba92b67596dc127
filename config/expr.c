/*
 * expr.c - size expressions: compile to postfix, render canonically, evaluate.
 *
 * What it does: compiles the SIZE of `in[SIZE]`, `out[SIZE]`, `inout[SIZE]` (decimal literals,
 * integer parameters by name or argN, `*NAME`, `retval`, + - * /, parentheses) into the postfix
 * ops of struct cm_expr, checking every rule of the signature language that concerns one
 * expression; renders an expression back to canonical argN text (for the normalized signature);
 * evaluates it at call time with 64-bit overflow checks.
 *
 * What it does not do: parse the rest of a signature (signature.c) or decide when an expression
 * is evaluated (the shim). Evaluation allocates nothing, takes no lock and is bounded by
 * CM_EXPR_MAX operations; dereferences read exactly `width` bytes through the pointer given.
 */
#include <stdio.h>
#include <string.h>

#include "cm_config_int.h"

#define EXPR_DEPTH_MAX 16 /* nested parentheses */

enum tok { T_END, T_NUM, T_IDENT, T_PLUS, T_MINUS, T_STAR, T_SLASH, T_LPAREN, T_RPAREN, T_BAD };

struct lexer {
    const char *text;
    size_t len, pos;
    size_t base; /* offset of text[0] in the mapped value */
    enum tok tok;
    size_t tstart, tlen;
    const struct cm_signature *sig;
    int self;
    struct cm_expr *out;
    const struct cm_srcmap *m;
    struct cm_diag_sink *d;
    int depth;
};

static int is_ident_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident(int c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static void next(struct lexer *lx)
{
    const char *s = lx->text;
    char c;

    while (lx->pos < lx->len && (s[lx->pos] == ' ' || s[lx->pos] == '\t'))
        lx->pos++;
    lx->tstart = lx->pos;
    if (lx->pos >= lx->len) {
        lx->tok = T_END;
        lx->tlen = 0;
        return;
    }
    c = s[lx->pos];
    if (c >= '0' && c <= '9') {
        while (lx->pos < lx->len && is_ident(s[lx->pos]))
            lx->pos++;
        lx->tok = T_NUM;
    } else if (is_ident_start(c)) {
        while (lx->pos < lx->len && is_ident(s[lx->pos]))
            lx->pos++;
        lx->tok = T_IDENT;
    } else {
        lx->pos++;
        switch (c) {
        case '+':
            lx->tok = T_PLUS;
            break;
        case '-':
            lx->tok = T_MINUS;
            break;
        case '*':
            lx->tok = T_STAR;
            break;
        case '/':
            lx->tok = T_SLASH;
            break;
        case '(':
            lx->tok = T_LPAREN;
            break;
        case ')':
            lx->tok = T_RPAREN;
            break;
        default:
            lx->tok = T_BAD;
            break;
        }
    }
    lx->tlen = lx->pos - lx->tstart;
}

static int fail_here(struct lexer *lx, const char *what)
{
    if (lx->tok == T_END)
        cm_diag_map(lx->d, CM_DIAG_ERROR, lx->m, lx->base + lx->tstart,
                    "%s in size expression, found its end", what);
    else
        cm_diag_map(lx->d, CM_DIAG_ERROR, lx->m, lx->base + lx->tstart,
                    "%s in size expression, found '%.*s'", what, (int)lx->tlen,
                    lx->text + lx->tstart);
    return -1;
}

static int push(struct lexer *lx, uint8_t op, uint16_t arg, int64_t value, size_t at)
{
    struct cm_expr_op *o;

    if (lx->out->n >= CM_EXPR_MAX) {
        cm_diag_map(lx->d, CM_DIAG_ERROR, lx->m, lx->base + at,
                    "size expression too long (more than %d operations)", CM_EXPR_MAX);
        return -1;
    }
    o = &lx->out->ops[lx->out->n++];
    o->op = op;
    o->width = 0;
    o->arg = arg;
    o->value = value;
    return 0;
}

/* Index of the parameter named by the current identifier token, or -1. */
static int lookup_param(const struct lexer *lx)
{
    const char *s = lx->text + lx->tstart;
    size_t len = lx->tlen;
    uint64_t n = 0;
    size_t i;
    int p;

    for (p = 0; p < lx->sig->nparams; p++) {
        if (strlen(lx->sig->params[p].name) == len && memcmp(lx->sig->params[p].name, s, len) == 0)
            return p;
    }
    if (len > 3 && memcmp(s, "arg", 3) == 0 && s[3] != '0') {
        for (i = 3; i < len && i < 8; i++) {
            if (s[i] < '0' || s[i] > '9')
                return -1;
            n = n * 10 + (uint64_t)(s[i] - '0');
        }
        if (i == len && n >= 1 && n <= lx->sig->nparams)
            return (int)n - 1;
    }
    return -1;
}

static int unknown_param(struct lexer *lx)
{
    const char *cands[CM_MAX_PARAMS + 1];
    const char *best;
    size_t n = 0;
    int p;

    for (p = 0; p < lx->sig->nparams; p++)
        cands[n++] = lx->sig->params[p].name;
    cands[n++] = "retval";
    best = cm_did_you_mean(lx->text + lx->tstart, lx->tlen, cands, n);
    if (best != NULL)
        cm_diag_map(lx->d, CM_DIAG_ERROR, lx->m, lx->base + lx->tstart,
                    "unknown parameter '%.*s' in size expression (did you mean '%s'?)",
                    (int)lx->tlen, lx->text + lx->tstart, best);
    else
        cm_diag_map(lx->d, CM_DIAG_ERROR, lx->m, lx->base + lx->tstart,
                    "unknown parameter '%.*s' in size expression", (int)lx->tlen,
                    lx->text + lx->tstart);
    return -1;
}

static int parse_sum(struct lexer *lx);

static int parse_deref(struct lexer *lx)
{
    size_t at = lx->tstart;
    const struct cm_param *t;
    const struct cm_expr *te;
    int p;

    next(lx);
    if (lx->tok != T_IDENT)
        return fail_here(lx, "expected a parameter name after '*'");
    p = lookup_param(lx);
    if (p < 0)
        return unknown_param(lx);
    t = &lx->sig->params[p];
    /* An out[...] size is evaluated after the call, so it may also read a length the function
     * wrote through an out[1|2|4|8] parameter (lzo's `*dst_len`); an input size may not. */
    if (t->kind == CM_K_OUT && lx->sig->params[lx->self].kind != CM_K_OUT) {
        cm_diag_map(lx->d, CM_DIAG_ERROR, lx->m, lx->base + at,
                    "'*%.*s' reads through '%s', an out[...] parameter: only out[...] sizes may "
                    "(they are evaluated after the call); declare '%s' inout[...] to use it here",
                    (int)lx->tlen, lx->text + lx->tstart, t->name, t->name);
        return -1;
    }
    if (t->kind != CM_K_IN && t->kind != CM_K_INOUT && t->kind != CM_K_OUT) {
        cm_diag_map(lx->d, CM_DIAG_ERROR, lx->m, lx->base + at,
                    "'*%.*s' reads through '%s', which is not an in[...], out[...] or inout[...] "
                    "parameter",
                    (int)lx->tlen, lx->text + lx->tstart, t->name);
        return -1;
    }
    te = &t->size_expr;
    if (te->n != 1 || te->ops[0].op != CM_OP_CONST ||
        (te->ops[0].value != 1 && te->ops[0].value != 2 && te->ops[0].value != 4 &&
         te->ops[0].value != 8)) {
        cm_diag_map(lx->d, CM_DIAG_ERROR, lx->m, lx->base + at,
                    "'*%.*s' needs '%s' to have a constant size of 1, 2, 4 or 8 bytes",
                    (int)lx->tlen, lx->text + lx->tstart, t->name);
        return -1;
    }
    if (push(lx, CM_OP_DEREF, (uint16_t)p, 0, at) < 0)
        return -1;
    lx->out->ops[lx->out->n - 1].width = (uint8_t)te->ops[0].value;
    lx->out->uses_deref = true;
    next(lx);
    return 0;
}

static int parse_factor(struct lexer *lx)
{
    const struct cm_param *self = &lx->sig->params[lx->self];
    uint64_t v = 0;
    size_t i;
    int p;

    switch (lx->tok) {
    case T_NUM:
        for (i = lx->tstart; i < lx->pos; i++) {
            char c = lx->text[i];

            if (c < '0' || c > '9') {
                cm_diag_map(lx->d, CM_DIAG_ERROR, lx->m, lx->base + lx->tstart,
                            "invalid number '%.*s' in size expression (decimal digits only)",
                            (int)lx->tlen, lx->text + lx->tstart);
                return -1;
            }
            if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, c - '0', &v) ||
                v > INT64_MAX) {
                cm_diag_map(lx->d, CM_DIAG_ERROR, lx->m, lx->base + lx->tstart,
                            "number '%.*s' too large in size expression", (int)lx->tlen,
                            lx->text + lx->tstart);
                return -1;
            }
        }
        if (push(lx, CM_OP_CONST, 0, (int64_t)v, lx->tstart) < 0)
            return -1;
        next(lx);
        return 0;
    case T_IDENT:
        if (lx->tlen == 6 && memcmp(lx->text + lx->tstart, "retval", 6) == 0) {
            if (self->kind != CM_K_OUT) {
                cm_diag_map(lx->d, CM_DIAG_ERROR, lx->m, lx->base + lx->tstart,
                            "'retval' can only be used in out[...] sizes");
                return -1;
            }
            if (lx->sig->ret.kind != CM_K_INT) {
                cm_diag_map(lx->d, CM_DIAG_ERROR, lx->m, lx->base + lx->tstart,
                            "'retval' needs an integer return type");
                return -1;
            }
            if (push(lx, CM_OP_RETVAL, 0, 0, lx->tstart) < 0)
                return -1;
            lx->out->uses_retval = true;
            next(lx);
            return 0;
        }
        p = lookup_param(lx);
        if (p < 0)
            return unknown_param(lx);
        if (lx->sig->params[p].kind != CM_K_INT) {
            cm_diag_map(lx->d, CM_DIAG_ERROR, lx->m, lx->base + lx->tstart,
                        "size expression uses '%.*s', which is not an integer parameter",
                        (int)lx->tlen, lx->text + lx->tstart);
            return -1;
        }
        if (push(lx, CM_OP_PARAM, (uint16_t)p, 0, lx->tstart) < 0)
            return -1;
        next(lx);
        return 0;
    case T_STAR:
        return parse_deref(lx);
    case T_LPAREN:
        if (++lx->depth > EXPR_DEPTH_MAX) {
            cm_diag_map(lx->d, CM_DIAG_ERROR, lx->m, lx->base + lx->tstart,
                        "size expression nested too deeply (more than %d parentheses)",
                        EXPR_DEPTH_MAX);
            return -1;
        }
        next(lx);
        if (parse_sum(lx) < 0)
            return -1;
        if (lx->tok != T_RPAREN)
            return fail_here(lx, "expected ')'");
        lx->depth--;
        next(lx);
        return 0;
    default:
        return fail_here(lx, "expected a number, a parameter, '*NAME', 'retval' or '('");
    }
}

static int parse_product(struct lexer *lx)
{
    enum tok op;
    size_t at;

    if (parse_factor(lx) < 0)
        return -1;
    while (lx->tok == T_STAR || lx->tok == T_SLASH) {
        op = lx->tok;
        at = lx->tstart;
        next(lx);
        if (parse_factor(lx) < 0)
            return -1;
        if (push(lx, op == T_STAR ? CM_OP_MUL : CM_OP_DIV, 0, 0, at) < 0)
            return -1;
    }
    return 0;
}

static int parse_sum(struct lexer *lx)
{
    enum tok op;
    size_t at;

    if (parse_product(lx) < 0)
        return -1;
    while (lx->tok == T_PLUS || lx->tok == T_MINUS) {
        op = lx->tok;
        at = lx->tstart;
        next(lx);
        if (parse_product(lx) < 0)
            return -1;
        if (push(lx, op == T_PLUS ? CM_OP_ADD : CM_OP_SUB, 0, 0, at) < 0)
            return -1;
    }
    return 0;
}

int cm_expr_compile(const char *text, size_t len, size_t base, const struct cm_signature *sig,
                    int self, struct cm_expr *out, const struct cm_srcmap *m,
                    struct cm_diag_sink *d)
{
    struct lexer lx;

    memset(out, 0, sizeof(*out));
    memset(&lx, 0, sizeof(lx));
    lx.text = text;
    lx.len = len;
    lx.base = base;
    lx.sig = sig;
    lx.self = self;
    lx.out = out;
    lx.m = m;
    lx.d = d;
    next(&lx);
    if (lx.tok == T_END) {
        cm_diag_map(d, CM_DIAG_ERROR, m, base + lx.tstart, "empty size expression");
        goto fail;
    }
    if (parse_sum(&lx) < 0)
        goto fail;
    if (lx.tok != T_END) {
        fail_here(&lx, "expected an operator or ']'");
        goto fail;
    }
    return 0;
fail:
    memset(out, 0, sizeof(*out));
    return -1;
}

/* ---- rendering ---------------------------------------------------------------------------- */

static int prec(uint8_t op)
{
    switch (op) {
    case CM_OP_ADD:
    case CM_OP_SUB:
        return 1;
    case CM_OP_MUL:
    case CM_OP_DIV:
        return 2;
    default:
        return 3;
    }
}

struct out_buf {
    char *buf;
    size_t size, len;
    int overflow;
};

static void put(struct out_buf *o, const char *s)
{
    size_t n = strlen(s);

    if (o->len + n >= o->size) {
        o->overflow = 1;
        return;
    }
    memcpy(o->buf + o->len, s, n + 1);
    o->len += n;
}

/* start[i]: index of the first op of the subtree whose root is op i. */
static void render_node(const struct cm_expr *e, const int *start, int i, struct out_buf *o)
{
    const struct cm_expr_op *op = &e->ops[i];
    static const char *const names[] = {
        [CM_OP_ADD] = " + ", [CM_OP_SUB] = " - ", [CM_OP_MUL] = " * ", [CM_OP_DIV] = " / "};
    char tmp[32];
    int l, r;

    switch (op->op) {
    case CM_OP_CONST:
        snprintf(tmp, sizeof(tmp), "%lld", (long long)op->value);
        put(o, tmp);
        return;
    case CM_OP_PARAM:
        snprintf(tmp, sizeof(tmp), "arg%u", op->arg + 1u);
        put(o, tmp);
        return;
    case CM_OP_DEREF:
        snprintf(tmp, sizeof(tmp), "*arg%u", op->arg + 1u);
        put(o, tmp);
        return;
    case CM_OP_RETVAL:
        put(o, "retval");
        return;
    default:
        break;
    }
    r = i - 1;
    l = start[r] - 1;
    /* Left operand keeps its parentheses when it binds more loosely; the right one also when it
     * binds equally, so the text preserves the exact evaluation order (a + (b + c) stays). */
    if (prec(e->ops[l].op) < prec(op->op)) {
        put(o, "(");
        render_node(e, start, l, o);
        put(o, ")");
    } else {
        render_node(e, start, l, o);
    }
    put(o, names[op->op]);
    if (prec(e->ops[r].op) <= prec(op->op)) {
        put(o, "(");
        render_node(e, start, r, o);
        put(o, ")");
    } else {
        render_node(e, start, r, o);
    }
}

int cm_expr_render(const struct cm_expr *e, char *buf, size_t bufsz)
{
    int start[CM_EXPR_MAX];
    int stack[CM_EXPR_MAX];
    int sp = 0, i;
    struct out_buf o = {buf, bufsz, 0, 0};

    if (bufsz == 0 || e->n == 0 || e->n > CM_EXPR_MAX)
        return -1;
    buf[0] = '\0';
    for (i = 0; i < e->n; i++) {
        uint8_t op = e->ops[i].op;

        if (op >= CM_OP_ADD && op <= CM_OP_DIV) {
            if (sp < 2)
                return -1;
            sp--;
            start[i] = start[stack[sp - 1]];
            stack[sp - 1] = i;
        } else if (op >= CM_OP_CONST && op <= CM_OP_RETVAL) {
            start[i] = i;
            stack[sp++] = i;
        } else {
            return -1;
        }
    }
    if (sp != 1)
        return -1;
    render_node(e, start, e->n - 1, &o);
    return o.overflow ? -1 : (int)o.len;
}

/* ---- evaluation --------------------------------------------------------------------------- */

int cm_expr_eval(const struct cm_expr *e, const uint64_t *args, int64_t retval, uint64_t cap,
                 uint64_t *out)
{
    int64_t st[CM_EXPR_MAX];
    int sp = 0, i;

    if (e == NULL || e->n == 0 || e->n > CM_EXPR_MAX)
        return -1;
    for (i = 0; i < e->n; i++) {
        const struct cm_expr_op *op = &e->ops[i];
        int64_t a, b, r;

        switch (op->op) {
        case CM_OP_CONST:
            st[sp++] = op->value;
            continue;
        case CM_OP_PARAM:
            if (args == NULL || op->arg >= CM_MAX_PARAMS)
                return -1;
            st[sp++] = (int64_t)args[op->arg];
            continue;
        case CM_OP_DEREF: {
            const void *p;
            uint64_t v = 0;

            if (args == NULL || op->arg >= CM_MAX_PARAMS)
                return -1;
            p = (const void *)(uintptr_t)args[op->arg];
            if (p == NULL)
                return -1;
            switch (op->width) {
            case 1: {
                uint8_t x;
                memcpy(&x, p, 1);
                v = x;
                break;
            }
            case 2: {
                uint16_t x;
                memcpy(&x, p, 2);
                v = x;
                break;
            }
            case 4: {
                uint32_t x;
                memcpy(&x, p, 4);
                v = x;
                break;
            }
            case 8:
                memcpy(&v, p, 8);
                break;
            default:
                return -1;
            }
            if (v > INT64_MAX)
                return -1;
            st[sp++] = (int64_t)v;
            continue;
        }
        case CM_OP_RETVAL:
            st[sp++] = retval;
            continue;
        case CM_OP_ADD:
        case CM_OP_SUB:
        case CM_OP_MUL:
        case CM_OP_DIV:
            break;
        default:
            return -1;
        }
        if (sp < 2)
            return -1;
        b = st[--sp];
        a = st[--sp];
        switch (op->op) {
        case CM_OP_ADD:
            if (__builtin_add_overflow(a, b, &r))
                return -1;
            break;
        case CM_OP_SUB:
            if (__builtin_sub_overflow(a, b, &r))
                return -1;
            break;
        case CM_OP_MUL:
            if (__builtin_mul_overflow(a, b, &r))
                return -1;
            break;
        default:
            if (b == 0 || (a == INT64_MIN && b == -1))
                return -1;
            r = a / b;
            break;
        }
        st[sp++] = r;
    }
    if (sp != 1 || st[0] < 0 || (uint64_t)st[0] > cap)
        return -1;
    *out = (uint64_t)st[0];
    return 0;
}
