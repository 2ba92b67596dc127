/*
 * signature.c - the signature language: `RET NAME(TYPE [NAME], ...)` to struct cm_signature.
 *
 * What it does: tokenizes and parses one signature, maps C type spellings to canonical scalars,
 * checks parameter names, compiles the size expressions (through expr.c), places every parameter
 * in its x86-64 System V register or stack slot, computes the order in which outputs are
 * restored, and writes the normalized text that identifies the signature in cache keys.
 * (Placement, restore order and normalized text are computed by sig_layout.c.)
 * Functions that cannot be memoized (variadic, struct/union by value, long double, vectors,
 * __float128) are parsed to the end and then reported with one warning.
 *
 * What it does not do: know about the config file (config.c maps positions for it), evaluate
 * expressions, or touch the process. Only the first error of a signature is reported. No
 * allocation: everything lives in the caller's struct cm_signature and on a bounded stack.
 */
#include <stdio.h>
#include <string.h>

#include "cm_config_int.h"

enum stok {
    S_END,
    S_IDENT,
    S_NUM,
    S_LPAREN,
    S_RPAREN,
    S_LBRACK,
    S_RBRACK,
    S_COMMA,
    S_COLON,
    S_ELLIPSIS,
    S_STAR,
    S_BAD,
};

struct sparser {
    const char *text;
    size_t len, pos;
    enum stok tok;
    size_t ts, tl; /* current token: offset and length */
    struct cm_signature *sig;
    const struct cm_srcmap *m;
    struct cm_diag_sink *d;
    size_t expr_off[CM_MAX_PARAMS]; /* SIZE text of in/out/inout parameters */
    size_t expr_len[CM_MAX_PARAMS];
    size_t name_off[CM_MAX_PARAMS]; /* where each parameter's name (or type, unnamed) starts */
    char ret_ref_name[CM_NAME_MAX]; /* NAME of a ptr(NAME) return ... */
    size_t ret_ref_off;             /* ... and its offset */
    const char *skip_why;           /* first reason the function cannot be memoized */
    char skip_detail[CM_NAME_MAX];
};

static int is_ident_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident(int c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static void next(struct sparser *p)
{
    const char *s = p->text;
    char c;

    while (p->pos < p->len &&
           (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' || s[p->pos] == '\r'))
        p->pos++;
    p->ts = p->pos;
    if (p->pos >= p->len) {
        p->tok = S_END;
        p->tl = 0;
        return;
    }
    c = s[p->pos];
    if (is_ident(c)) {
        while (p->pos < p->len && is_ident(s[p->pos]))
            p->pos++;
        p->tok = is_ident_start(c) ? S_IDENT : S_NUM;
    } else if (c == '.' && p->pos + 2 < p->len && s[p->pos + 1] == '.' && s[p->pos + 2] == '.') {
        p->pos += 3;
        p->tok = S_ELLIPSIS;
    } else {
        p->pos++;
        switch (c) {
        case '(':
            p->tok = S_LPAREN;
            break;
        case ')':
            p->tok = S_RPAREN;
            break;
        case '[':
            p->tok = S_LBRACK;
            break;
        case ']':
            p->tok = S_RBRACK;
            break;
        case ',':
            p->tok = S_COMMA;
            break;
        case ':':
            p->tok = S_COLON;
            break;
        case '*':
            p->tok = S_STAR;
            break;
        default:
            p->tok = S_BAD;
            break;
        }
    }
    p->tl = p->pos - p->ts;
}

static int is_word(const struct sparser *p, const char *w)
{
    return p->tok == S_IDENT && strlen(w) == p->tl && memcmp(p->text + p->ts, w, p->tl) == 0;
}

static int err_at(struct sparser *p, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int err_at(struct sparser *p, size_t off, const char *fmt, ...)
{
    char msg[CM_MSG_MAX / 2];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cm_diag_map(p->d, CM_DIAG_ERROR, p->m, off, "%s", msg);
    return -1;
}

/* "expected X, found 'tok'" at the current token. */
static int expected(struct sparser *p, const char *what)
{
    if (p->tok == S_END)
        return err_at(p, p->ts, "expected %s, found the end of the signature", what);
    return err_at(p, p->ts, "expected %s, found '%.*s'", what, (int)(p->tl > 40 ? 40 : p->tl),
                  p->text + p->ts);
}

static void skip(struct sparser *p, const char *why, const char *detail, size_t dlen)
{
    if (p->skip_why != NULL)
        return;
    p->skip_why = why;
    if (dlen >= sizeof(p->skip_detail))
        dlen = sizeof(p->skip_detail) - 1;
    memcpy(p->skip_detail, detail, dlen);
    p->skip_detail[dlen] = '\0';
}

/* Copies the current identifier into dst (CM_NAME_MAX); error if it is too long. */
static int take_name(struct sparser *p, char *dst, const char *what)
{
    if (p->tl >= CM_NAME_MAX)
        return err_at(p, p->ts, "%s too long (at most %d characters)", what, CM_NAME_MAX - 1);
    memcpy(dst, p->text + p->ts, p->tl);
    dst[p->tl] = '\0';
    return 0;
}

/* ---- types -------------------------------------------------------------------------------- */

struct scalar {
    const char *name;
    uint8_t kind, size;
    bool is_signed;
};

static const struct scalar scalars[] = {
    {"i8", CM_K_INT, 1, true},        {"i16", CM_K_INT, 2, true},
    {"i32", CM_K_INT, 4, true},       {"i64", CM_K_INT, 8, true},
    {"u8", CM_K_INT, 1, false},       {"u16", CM_K_INT, 2, false},
    {"u32", CM_K_INT, 4, false},      {"u64", CM_K_INT, 8, false},
    {"f32", CM_K_FLOAT, 4, true},     {"f64", CM_K_FLOAT, 8, true},
    {"size_t", CM_K_INT, 8, false},   {"ssize_t", CM_K_INT, 8, true},
    {"bool", CM_K_INT, 1, false},     {"_Bool", CM_K_INT, 1, false},
    {"int8_t", CM_K_INT, 1, true},    {"int16_t", CM_K_INT, 2, true},
    {"int32_t", CM_K_INT, 4, true},   {"int64_t", CM_K_INT, 8, true},
    {"uint8_t", CM_K_INT, 1, false},  {"uint16_t", CM_K_INT, 2, false},
    {"uint32_t", CM_K_INT, 4, false}, {"uint64_t", CM_K_INT, 8, false},
    {"intptr_t", CM_K_INT, 8, true},  {"uintptr_t", CM_K_INT, 8, false},
    {"ptrdiff_t", CM_K_INT, 8, true}, {"off_t", CM_K_INT, 8, true},
    {"i128", CM_K_INT128, 16, true},  {"u128", CM_K_INT128, 16, false},
    {"__int128_t", CM_K_INT128, 16, true}, {"__uint128_t", CM_K_INT128, 16, false},
    {"c32", CM_K_COMPLEX, 8, true},   {"c64", CM_K_COMPLEX, 16, true},
};
#define NSCALARS (sizeof(scalars) / sizeof(scalars[0]))

/* Words of C's multi-word type specifiers ("unsigned long long", "long double", ...). */
enum cword {
    CW_SIGNED,
    CW_UNSIGNED,
    CW_CHAR,
    CW_SHORT,
    CW_INT,
    CW_LONG,
    CW_FLOAT,
    CW_DOUBLE,
    CW_COMPLEX,
    CW_INT128,
    CW_N
};
static const char *const cwords[CW_N] = {"signed", "unsigned", "char",   "short",    "int",
                                         "long",   "float",    "double", "_Complex", "__int128"};

static const char *const other_types[] = {"void", "str", "mstr",  "ptr",    "handle", "ignore",
                                          "in",   "out", "inout", "struct", "union",  "enum"};

static int cword_of(const struct sparser *p)
{
    int i;

    if (p->tok != S_IDENT)
        return -1;
    for (i = 0; i < CW_N; i++) {
        if (is_word(p, cwords[i]))
            return i;
    }
    if (is_word(p, "complex"))
        return CW_COMPLEX;
    return -1;
}

static void set_scalar(struct cm_param *prm, uint8_t kind, uint8_t size, bool is_signed)
{
    prm->kind = kind;
    prm->size = size;
    prm->is_signed = is_signed;
}

/* A run of C specifier words starting at the current token. */
static int parse_cwords(struct sparser *p, struct cm_param *prm)
{
    int n[CW_N] = {0};
    size_t start = p->ts, end = p->ts;
    int w, total = 0, len;

    while ((w = cword_of(p)) >= 0) {
        n[w]++;
        total++;
        end = p->pos;
        next(p);
    }
    len = (int)(end - start);
    if (n[CW_SIGNED] + n[CW_UNSIGNED] > 1 || n[CW_SHORT] + n[CW_LONG] + n[CW_CHAR] > 2 ||
        n[CW_INT] > 1 || n[CW_FLOAT] + n[CW_DOUBLE] > 1 || n[CW_COMPLEX] > 1 || n[CW_LONG] > 2)
        goto invalid;
    if (n[CW_COMPLEX]) {
        /* float _Complex = c32, double _Complex = c64, in any word order */
        if (n[CW_FLOAT] && total == 2) {
            set_scalar(prm, CM_K_COMPLEX, 8, true);
            return 0;
        }
        if (n[CW_DOUBLE] && total == 2) {
            set_scalar(prm, CM_K_COMPLEX, 16, true);
            return 0;
        }
        if (n[CW_DOUBLE] && n[CW_LONG] == 1 && total == 3) {
            skip(p, "'long double _Complex' cannot be memoized", "", 0);
            set_scalar(prm, CM_K_IGNORE, 8, false);
            return 0;
        }
        if (n[CW_SIGNED] + n[CW_UNSIGNED] + n[CW_CHAR] + n[CW_SHORT] + n[CW_INT] + n[CW_LONG] +
                n[CW_INT128] ==
            0)
            return err_at(p, start, "invalid type '%.*s' (write 'float _Complex' or 'double "
                          "_Complex', or c32 / c64)", len, p->text + start);
        skip(p, "integer _Complex types cannot be memoized", "", 0);
        set_scalar(prm, CM_K_IGNORE, 8, false);
        return 0;
    }
    if (n[CW_INT128]) {
        if (total - n[CW_SIGNED] - n[CW_UNSIGNED] != 1)
            goto invalid;
        set_scalar(prm, CM_K_INT128, 16, !n[CW_UNSIGNED]);
        return 0;
    }
    if (n[CW_FLOAT] || n[CW_DOUBLE]) {
        if (n[CW_FLOAT] && total == 1) {
            set_scalar(prm, CM_K_FLOAT, 4, true);
            return 0;
        }
        if (n[CW_DOUBLE] && total == 1) {
            set_scalar(prm, CM_K_FLOAT, 8, true);
            return 0;
        }
        if (n[CW_DOUBLE] && n[CW_LONG] == 1 && total == 2) {
            skip(p, "'long double' cannot be memoized", "", 0);
            set_scalar(prm, CM_K_IGNORE, 8, false);
            return 0;
        }
        goto invalid;
    }
    if (n[CW_CHAR]) {
        if (n[CW_SHORT] || n[CW_LONG] || n[CW_INT] || n[CW_CHAR] > 1)
            goto invalid;
        set_scalar(prm, CM_K_INT, 1, !n[CW_UNSIGNED]);
        return 0;
    }
    if (n[CW_SHORT]) {
        if (n[CW_LONG] || n[CW_SHORT] > 1)
            goto invalid;
        set_scalar(prm, CM_K_INT, 2, !n[CW_UNSIGNED]);
        return 0;
    }
    set_scalar(prm, CM_K_INT, n[CW_LONG] ? 8 : 4, !n[CW_UNSIGNED]);
    return 0;
invalid:
    return err_at(p, start, "invalid type '%.*s'", len, p->text + start);
}

static int unknown_type(struct sparser *p)
{
    const char *cands[NSCALARS + CW_N + sizeof(other_types) / sizeof(other_types[0])];
    const char *best;
    size_t n = 0, i;

    for (i = 0; i < NSCALARS; i++)
        cands[n++] = scalars[i].name;
    for (i = 0; i < CW_N; i++)
        cands[n++] = cwords[i];
    for (i = 0; i < sizeof(other_types) / sizeof(other_types[0]); i++)
        cands[n++] = other_types[i];
    best = cm_did_you_mean(p->text + p->ts, p->tl, cands, n);
    if (best != NULL)
        return err_at(p, p->ts, "unknown type '%.*s' (did you mean '%s'?)", (int)p->tl,
                      p->text + p->ts, best);
    return err_at(p, p->ts, "unknown type '%.*s'", (int)p->tl, p->text + p->ts);
}

static int is_vector_type(const struct sparser *p)
{
    static const char *const prefixes[] = {"__m64", "__m128", "__m256", "__m512"};
    size_t i, l;

    for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        l = strlen(prefixes[i]);
        if (p->tl >= l && memcmp(p->text + p->ts, prefixes[i], l) == 0)
            return 1;
    }
    return 0;
}

/* `(NAME)` or `(NAME:str)` after handle / ptr. */
static int parse_paren_name(struct sparser *p, char *dst, bool *is_str, const char *what,
                            size_t *name_off)
{
    next(p);
    if (p->tok != S_LPAREN)
        return expected(p, "'('");
    next(p);
    if (p->tok != S_IDENT)
        return expected(p, what);
    if (take_name(p, dst, what) < 0)
        return -1;
    if (name_off != NULL)
        *name_off = p->ts;
    next(p);
    if (is_str != NULL && p->tok == S_COLON) {
        next(p);
        if (!is_word(p, "str"))
            return expected(p, "'str' after ':'");
        *is_str = true;
        next(p);
    }
    if (p->tok != S_RPAREN)
        return expected(p, "')'");
    next(p);
    return 0;
}

/* Parses one type at the current token into prm; `idx` is the parameter index or -1 for the
 * return type. Leaves the token after the type. */
static int parse_type(struct sparser *p, struct cm_param *prm, int idx)
{
    const bool ret = idx < 0;
    size_t i, at = p->ts;

    prm->col = (uint16_t)(p->ts + 1);
    while (is_word(p, "const") || is_word(p, "volatile"))
        next(p);
    if (p->tok == S_ELLIPSIS) {
        if (ret)
            return expected(p, "a return type");
        skip(p, "variadic functions cannot be memoized", "", 0);
        set_scalar(prm, CM_K_IGNORE, 8, false);
        next(p);
        return 0;
    }
    if (p->tok != S_IDENT)
        return expected(p, ret ? "a return type" : "a parameter type");
    if (cword_of(p) >= 0)
        return parse_cwords(p, prm);
    for (i = 0; i < NSCALARS; i++) {
        if (is_word(p, scalars[i].name)) {
            set_scalar(prm, scalars[i].kind, scalars[i].size, scalars[i].is_signed);
            next(p);
            return 0;
        }
    }
    if (is_word(p, "void")) {
        if (!ret)
            return err_at(p, p->ts,
                          "'void' is not a parameter type (write '(void)' for no "
                          "parameters)");
        prm->kind = CM_K_VOID;
        next(p);
        return 0;
    }
    if (is_word(p, "str") || is_word(p, "ptr") || is_word(p, "ignore")) {
        prm->kind = is_word(p, "str") ? CM_K_STR : is_word(p, "ptr") ? CM_K_PTR : CM_K_IGNORE;
        prm->size = 8;
        if (ret && prm->kind == CM_K_PTR) {
            prm->kind = CM_K_RETPTR;
            return parse_paren_name(p, p->ret_ref_name, NULL, "a parameter name", &p->ret_ref_off);
        }
        if (ret && prm->kind == CM_K_IGNORE)
            return err_at(p, at, "'ignore' is not a return type");
        next(p);
        return 0;
    }
    if (is_word(p, "mstr")) {
        if (!ret)
            return err_at(p, p->ts,
                          "'mstr' is only a return type (use 'str' for a string "
                          "parameter)");
        prm->kind = CM_K_MSTR;
        prm->size = 8;
        next(p);
        return 0;
    }
    if (is_word(p, "handle")) {
        if (ret)
            return err_at(p, at, "'handle' is not a return type");
        prm->kind = CM_K_HANDLE;
        prm->size = 8;
        return parse_paren_name(p, prm->handle_fn, &prm->handle_str, "a function name", NULL);
    }
    if (is_word(p, "in") || is_word(p, "out") || is_word(p, "inout")) {
        const char *rb;

        if (ret)
            return err_at(p, at,
                          "'%.*s' is not a return type (use 'ptr(NAME)' for a pointer "
                          "into a parameter's buffer)",
                          (int)p->tl, p->text + p->ts);
        prm->kind = is_word(p, "in") ? CM_K_IN : is_word(p, "out") ? CM_K_OUT : CM_K_INOUT;
        prm->size = 8;
        next(p);
        if (p->tok != S_LBRACK)
            return expected(p, "'[' and a size");
        rb = memchr(p->text + p->pos, ']', p->len - p->pos);
        if (rb == NULL)
            return err_at(p, p->ts, "missing ']' after the size expression");
        p->expr_off[idx] = p->pos;
        p->expr_len[idx] = (size_t)(rb - (p->text + p->pos));
        p->pos = (size_t)(rb - p->text) + 1;
        next(p);
        return 0;
    }
    if (is_word(p, "struct") || is_word(p, "union")) {
        next(p);
        if (p->tok != S_IDENT)
            return expected(p, "a struct or union name");
        next(p);
        if (p->tok == S_STAR)
            return 0; /* the caller reports the pointer */
        skip(p, "structs and unions passed by value cannot be memoized", "", 0);
        set_scalar(prm, CM_K_IGNORE, 8, false);
        return 0;
    }
    if (is_word(p, "enum")) {
        next(p);
        if (p->tok != S_IDENT)
            return expected(p, "an enum name");
        set_scalar(prm, CM_K_INT, 4, true);
        next(p);
        return 0;
    }
    if (is_vector_type(p)) {
        skip(p, "vector types cannot be memoized", p->text + p->ts, p->tl);
        set_scalar(prm, CM_K_IGNORE, 8, false);
        next(p);
        return 0;
    }
    if (is_word(p, "__float128") || is_word(p, "_Float128")) {
        skip(p, "128-bit floating point cannot be memoized", "", 0);
        set_scalar(prm, CM_K_IGNORE, 8, false);
        next(p);
        return 0;
    }
    return unknown_type(p);
}

/* ---- parameters and checks ---------------------------------------------------------------- */

static int parse_param(struct sparser *p, int idx)
{
    struct cm_param *prm = &p->sig->params[idx];

    if (parse_type(p, prm, idx) < 0)
        return -1;
    if (p->tok == S_STAR)
        return err_at(p, p->ts,
                      "C pointer syntax '*' is not part of the signature language "
                      "(write str, in[SIZE], out[SIZE], inout[SIZE], ptr or "
                      "handle(FUNC))");
    p->name_off[idx] = prm->col - 1u;
    if (p->tok == S_IDENT) {
        p->name_off[idx] = p->ts;
        if (take_name(p, prm->name, "parameter name") < 0)
            return -1;
        next(p);
    } else {
        snprintf(prm->name, sizeof(prm->name), "arg%d", idx + 1);
    }
    return 0;
}

/* Names: unique, not `retval`, `argN` only as the N-th parameter's own name. */
static int check_names(struct sparser *p)
{
    struct cm_signature *s = p->sig;
    char own[16];
    int i, j;

    for (i = 0; i < s->nparams; i++) {
        const char *nm = s->params[i].name;
        size_t off = p->name_off[i];

        snprintf(own, sizeof(own), "arg%d", i + 1);
        if (strcmp(nm, "retval") == 0)
            return err_at(p, off, "parameter name 'retval' is reserved");
        if (strncmp(nm, "arg", 3) == 0 && nm[3] >= '0' && nm[3] <= '9' && strcmp(nm, own) != 0)
            return err_at(p, off, "parameter name '%s' is reserved (argN names parameter N)", nm);
        for (j = 0; j < i; j++) {
            if (strcmp(s->params[j].name, nm) == 0)
                return err_at(p, off, "duplicate parameter name '%s'", nm);
        }
    }
    return 0;
}

static int is_buffer(uint8_t kind)
{
    return kind == CM_K_IN || kind == CM_K_OUT || kind == CM_K_INOUT;
}

static int resolve_ret_ref(struct sparser *p)
{
    struct cm_signature *s = p->sig;
    const char *name = p->ret_ref_name;
    const char *cands[CM_MAX_PARAMS];
    const char *best;
    char argn[16];
    int i;

    for (i = 0; i < s->nparams; i++) {
        snprintf(argn, sizeof(argn), "arg%d", i + 1);
        if (strcmp(s->params[i].name, name) == 0 || strcmp(argn, name) == 0)
            break;
    }
    if (i == s->nparams) {
        for (i = 0; i < s->nparams; i++)
            cands[i] = s->params[i].name;
        best = cm_did_you_mean(name, strlen(name), cands, (size_t)s->nparams);
        if (best != NULL)
            return err_at(p, p->ret_ref_off, "ptr(%s) names no parameter (did you mean '%s'?)",
                          name, best);
        return err_at(p, p->ret_ref_off, "ptr(%s) names no parameter", name);
    }
    if (!is_buffer(s->params[i].kind))
        return err_at(p, p->ret_ref_off,
                      "ptr(%s): '%s' must be an in[...], out[...] or inout[...] parameter", name,
                      s->params[i].name);
    s->ret.ret_ref = (uint8_t)i;
    return 0;
}

static int compile_sizes(struct sparser *p)
{
    struct cm_signature *s = p->sig;
    int pass, i;

    /* Pass 0 compiles the sizes without '*': that includes every constant size, so that pass 1
     * can check that the target of a `*NAME` has a constant size of 1, 2, 4 or 8. */
    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < s->nparams; i++) {
            const char *t = p->text + p->expr_off[i];
            int has_star;

            if (!is_buffer(s->params[i].kind))
                continue;
            has_star = memchr(t, '*', p->expr_len[i]) != NULL;
            if (has_star != pass)
                continue;
            if (cm_expr_compile(t, p->expr_len[i], p->expr_off[i], s, i, &s->params[i].size_expr,
                                p->m, p->d) < 0)
                return -1;
        }
    }
    return 0;
}

/* ---- entry points ------------------------------------------------------------------------- */

static int parse_all(struct sparser *p)
{
    struct cm_signature *s = p->sig;
    int ellipsis_at = -1;

    next(p);
    if (parse_type(p, &s->ret, -1) < 0)
        return -1;
    if (p->tok == S_STAR)
        return err_at(p, p->ts,
                      "C pointer syntax '*' is not part of the signature language "
                      "(a pointer return is str, mstr or ptr(NAME))");
    if (p->tok != S_IDENT)
        return expected(p, "the function name");
    if (take_name(p, s->name, "function name") < 0)
        return -1;
    s->name_col = (uint16_t)(p->ts + 1);
    next(p);
    if (p->tok != S_LPAREN)
        return expected(p, "'('");
    next(p);
    if (is_word(p, "void")) {
        size_t save_pos = p->pos, save_ts = p->ts, save_tl = p->tl;

        next(p);
        if (p->tok != S_RPAREN) {
            p->pos = save_pos;
            p->ts = save_ts;
            p->tl = save_tl;
            p->tok = S_IDENT;
        }
    }
    if (p->tok != S_RPAREN) {
        for (;;) {
            if (s->nparams == CM_MAX_PARAMS)
                return err_at(p, p->ts, "too many parameters (at most %d)", CM_MAX_PARAMS);
            if (ellipsis_at >= 0)
                return err_at(p, s->params[ellipsis_at].col - 1u,
                              "'...' must be the last parameter");
            if (p->tok == S_ELLIPSIS)
                ellipsis_at = s->nparams;
            if (parse_param(p, s->nparams) < 0)
                return -1;
            s->nparams++;
            if (p->tok == S_RPAREN)
                break;
            if (p->tok != S_COMMA)
                return expected(p, "',' or ')'");
            next(p);
        }
    }
    next(p);
    if (p->tok != S_END)
        return expected(p, "the end of the signature");
    if (check_names(p) < 0)
        return -1;
    if (s->ret.kind == CM_K_RETPTR && resolve_ret_ref(p) < 0)
        return -1;
    if (compile_sizes(p) < 0)
        return -1;
    cm_sig_place(s);
    cm_sig_restore_order(s);
    if (cm_sig_normalize(s) < 0)
        return err_at(p, 0, "signature too long (its normalized form exceeds %d characters)",
                      CM_SIG_TEXT_MAX - 1);
    return 0;
}

int cm_signature_parse_map(const char *text, size_t len, struct cm_signature *sig,
                           const struct cm_srcmap *m, struct cm_diag_sink *d)
{
    struct sparser p;
    size_t i;

    memset(sig, 0, sizeof(*sig));
    memset(&p, 0, sizeof(p));
    p.text = text;
    p.len = len;
    p.sig = sig;
    p.m = m;
    p.d = d;
    if (len > CM_SIG_SRC_MAX) {
        cm_diag_map(d, CM_DIAG_ERROR, m, 0, "signature too long (at most %d characters)",
                    CM_SIG_SRC_MAX);
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (text[i] == '\0') {
            cm_diag_map(d, CM_DIAG_ERROR, m, i, "NUL byte in signature");
            return -1;
        }
    }
    if (parse_all(&p) < 0)
        return -1;
    if (p.skip_why != NULL) {
        snprintf(sig->skip_why, sizeof(sig->skip_why), "%s", p.skip_why);
        if (p.skip_detail[0] != '\0')
            cm_diag_map(d, CM_DIAG_WARNING, m, 0, "function '%s' skipped: %s ('%s')", sig->name,
                        p.skip_why, p.skip_detail);
        else
            cm_diag_map(d, CM_DIAG_WARNING, m, 0, "function '%s' skipped: %s", sig->name,
                        p.skip_why);
        return 1;
    }
    return 0;
}

int cm_signature_parse(const char *text, struct cm_signature *sig, const char *where, int col0,
                       cm_diag_fn diag, void *ctx)
{
    struct cm_diag_sink d = {diag, ctx, 0, 0};
    struct cm_srcmap m;

    memset(&m, 0, sizeof(m));
    if (where != NULL) {
        m.file = where;
        m.seg[0].line = 0;
    } else {
        m.file = "<signature>";
        m.seg[0].line = 1;
    }
    m.nseg = 1;
    m.seg[0].col = col0 < 1 ? 1 : col0;
    if (text == NULL) {
        memset(sig, 0, sizeof(*sig));
        cm_diag_map(&d, CM_DIAG_ERROR, &m, 0, "no signature");
        return -1;
    }
    return cm_signature_parse_map(text, strlen(text), sig, &m, &d);
}
