/*
 * ini.c - driving inih over a buffer and giving every section and key its exact position.
 *
 * What it does: feeds inih (ini_parse_stream) one line at a time through a custom reader. The
 * reader knows the raw text of the line inih is about to parse, and classifies it with inih's
 * own rules (comment, section, KEY = VALUE, continuation line; inline `;` comments after
 * whitespace), so every section, key and value gets its 1-based line and column. inih's handler
 * calls confirm each key and continuation; values are taken from the raw line, which lifts inih's
 * 200-byte line limit and its 50-byte section names. Continuation lines (indented, after a key)
 * are joined to the key's value with one space, with a source map kept for every piece.
 *
 * DESIGN: inih only ever sees lines the reader has already accepted as a key or a continuation
 * (section headers reach it as "[s]" so that it resets its continuation state exactly as for the
 * real header; blank, comment and erroneous lines reach it as empty lines). The reader mirrors
 * inih's one piece of state (whether a key was seen since the last section) from what inih is
 * actually given, so the two cannot disagree; a disagreement is still detected and reported.
 *
 * What it does not do: know what sections or keys mean (config.c does), or read files. It never
 * changes inih's global settings. One allocation (the value buffer) per run.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "cm_config_int.h"

enum line_kind { L_BLANK, L_SECTION, L_KEY, L_CONT, L_BAD };

struct ini_run {
    const char *file;
    const char *text;
    size_t len, pos;
    const struct cm_ini_ops *ops;
    void *u;
    struct cm_diag_sink *d;

    int lineno;
    const char *raw; /* current line, without its '\n' */
    size_t rawlen;
    int bom; /* bytes of UTF-8 BOM before column 1 (line 1 only) */
    enum line_kind kind;
    size_t name_at, name_len, value_at, value_len; /* L_KEY / L_CONT, offsets in raw */
    bool prev_name;      /* mirror of inih: a key was given to inih since the last section */
    bool expect_handler; /* the current line must produce exactly one handler call */

    bool pending; /* a key whose value may still continue */
    bool broken;  /* its value had an error already reported */
    char pname[CM_NAME_MAX];
    int pline, pcol;
    char *val; /* CM_INI_VALUE_MAX bytes */
    size_t vlen;
    struct cm_srcmap map;
};

static int is_space(int c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* inih's find_chars_or_comment over raw[from, to): the first of `chars`, or a ';' that follows
 * whitespace; `to` when neither. */
static size_t find_chars_or_comment(const char *s, size_t from, size_t to, const char *chars)
{
    int was_space = 0;

    while (from < to && (chars == NULL || strchr(chars, s[from]) == NULL) &&
           !(was_space && s[from] == ';')) {
        was_space = is_space((unsigned char)s[from]);
        from++;
    }
    return from;
}

static int col_of(const struct ini_run *r, size_t off)
{
    return (int)off + 1 - r->bom;
}

static void deliver(struct ini_run *r)
{
    struct cm_ini_key k;

    if (!r->pending)
        return;
    r->pending = false;
    r->val[r->vlen] = '\0';
    k.name = r->pname;
    k.line = r->pline;
    k.col = r->pcol;
    k.value = r->val;
    k.vlen = r->vlen;
    k.map = &r->map;
    k.broken = r->broken;
    r->ops->key(r->u, &k);
}

static void append_value(struct ini_run *r, size_t at, size_t len)
{
    if (r->broken)
        return;
    if (r->map.nseg == CM_SRC_SEGS) {
        cm_diag_at(r->d, CM_DIAG_ERROR, r->file, r->lineno, col_of(r, at),
                   "value of '%s' spans too many lines (at most %d)", r->pname, CM_SRC_SEGS);
        r->broken = true;
        return;
    }
    if (r->vlen + (r->vlen > 0) + len >= CM_INI_VALUE_MAX) {
        cm_diag_at(r->d, CM_DIAG_ERROR, r->file, r->lineno, col_of(r, at),
                   "value of '%s' too long (at most %d bytes)", r->pname, CM_INI_VALUE_MAX - 1);
        r->broken = true;
        return;
    }
    if (r->vlen > 0 && len > 0)
        r->val[r->vlen++] = ' ';
    r->map.seg[r->map.nseg].off = (uint32_t)r->vlen;
    r->map.seg[r->map.nseg].line = r->lineno;
    r->map.seg[r->map.nseg].col = col_of(r, at);
    r->map.nseg++;
    memcpy(r->val + r->vlen, r->raw + at, len);
    r->vlen += len;
}

static void bad_line(struct ini_run *r, size_t at, const char *msg)
{
    deliver(r);
    r->kind = L_BAD;
    cm_diag_at(r->d, CM_DIAG_ERROR, r->file, r->lineno, col_of(r, at), "%s", msg);
}

static void section_line(struct ini_run *r, size_t i, size_t end)
{
    const char *s = r->raw;
    struct cm_ini_section sec;
    size_t rb = find_chars_or_comment(s, i + 1, r->rawlen, "]"), j;

    if (rb >= r->rawlen || s[rb] != ']') {
        bad_line(r, i, "missing ']' in section header");
        return;
    }
    for (j = rb + 1; j < end && is_space((unsigned char)s[j]); j++)
        ;
    if (j < end && s[j] != ';' && s[j] != '#') {
        bad_line(r, j, "unexpected text after ']'");
        return;
    }
    deliver(r);
    r->kind = L_SECTION;
    r->prev_name = false;
    sec.inner = s + i + 1;
    sec.len = rb - i - 1;
    sec.line = r->lineno;
    sec.col = col_of(r, i + 1);
    r->ops->section(r->u, &sec);
}

/* Classifies the current raw line as inih will (see DESIGN) and records where things are. */
static void classify(struct ini_run *r)
{
    const char *s = r->raw, *nul;
    size_t n = r->rawlen, i = 0, end, e, v, ve;

    r->bom = 0;
    if (r->lineno == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        i = (size_t)(r->bom = 3);
    nul = memchr(s, '\0', n);
    if (nul != NULL) {
        bad_line(r, (size_t)(nul - s), "NUL byte in the config file");
        return;
    }
    while (i < n && is_space((unsigned char)s[i]))
        i++;
    end = n;
    while (end > i && is_space((unsigned char)s[end - 1]))
        end--;
    if (i == end || s[i] == ';' || s[i] == '#') {
        r->kind = L_BLANK;
        return;
    }
    if (r->prev_name && i > (size_t)r->bom) {
        /* inih does not strip inline comments on continuation lines; cloudm does, so that ';'
         * after whitespace means the same everywhere. */
        ve = find_chars_or_comment(s, i, end, NULL);
        while (ve > i && is_space((unsigned char)s[ve - 1]))
            ve--;
        r->kind = L_CONT;
        r->value_at = i;
        r->value_len = ve - i;
        return;
    }
    if (s[i] == '[') {
        section_line(r, i, end);
        return;
    }
    e = find_chars_or_comment(s, i, n, "=:");
    if (e >= n || (s[e] != '=' && s[e] != ':')) {
        bad_line(r, i, "syntax error: expected 'KEY = VALUE', '[SECTION]' or a comment");
        return;
    }
    ve = e;
    while (ve > i && is_space((unsigned char)s[ve - 1]))
        ve--;
    if (ve == i) {
        bad_line(r, e, "missing key name before '='");
        return;
    }
    deliver(r);
    r->kind = L_KEY;
    r->prev_name = true;
    r->name_at = i;
    r->name_len = ve - i;
    /* Value: up to an inline comment, then trimmed on both sides (inih's order). */
    ve = find_chars_or_comment(s, e + 1, n, NULL);
    v = e + 1;
    while (v < ve && is_space((unsigned char)s[v]))
        v++;
    while (ve > v && is_space((unsigned char)s[ve - 1]))
        ve--;
    r->value_at = v;
    r->value_len = ve - v;
}

static void mismatch(struct ini_run *r)
{
    cm_diag_at(r->d, CM_DIAG_ERROR, r->file, r->lineno, 1,
               "cannot parse this line (inih and cloudm disagree about it)");
}

static char *reader(char *str, int num, void *stream)
{
    struct ini_run *r = stream;
    const char *nl;
    size_t give = 0;
    bool prev_name;

    if (r->expect_handler) {
        r->expect_handler = false;
        mismatch(r);
    }
    if (r->pos >= r->len || num < 8)
        return NULL;
    r->raw = r->text + r->pos;
    nl = memchr(r->raw, '\n', r->len - r->pos);
    r->rawlen = nl != NULL ? (size_t)(nl - r->raw) : r->len - r->pos;
    r->pos += r->rawlen + (nl != NULL);
    r->lineno++;
    prev_name = r->prev_name;
    classify(r);
    switch (r->kind) {
    case L_SECTION:
        memcpy(str, "[s]", 3);
        give = 3;
        break;
    case L_KEY:
        /* inih needs the name and the separator; the value it sees may be cut at its line
         * limit, the reader keeps the whole one. */
        give = r->name_at + r->name_len + 1;
        if (give > (size_t)num - 2) {
            bad_line(r, r->name_at, "key name too long");
            r->prev_name = prev_name; /* inih gets an empty line: its state does not change */
            give = 0;
            break;
        }
        memcpy(str, r->raw, give);
        str[give - 1] = '=';
        r->expect_handler = true;
        break;
    case L_CONT:
        memcpy(str, " c", 2);
        give = 2;
        r->expect_handler = true;
        break;
    default:
        break;
    }
    str[give] = '\n';
    str[give + 1] = '\0';
    return str;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct ini_run *r = user;
    size_t nl;

    (void)section;
    (void)name;
    (void)value;
    if (!r->expect_handler) {
        mismatch(r);
        return 1;
    }
    r->expect_handler = false;
    if (r->kind == L_KEY) {
        r->pending = true;
        r->broken = false;
        nl = r->name_len < CM_NAME_MAX ? r->name_len : CM_NAME_MAX - 1;
        memcpy(r->pname, r->raw + r->name_at, nl);
        r->pname[nl] = '\0';
        r->pline = r->lineno;
        r->pcol = col_of(r, r->name_at);
        r->vlen = 0;
        r->map.file = r->file;
        r->map.nseg = 0;
        append_value(r, r->value_at, r->value_len);
    } else if (r->kind == L_CONT && r->pending) {
        append_value(r, r->value_at, r->value_len);
    }
    /* A continuation with nothing pending follows a line that already had an error. */
    return 1;
}

int cm_ini_run(const char *file, const char *text, size_t len, const struct cm_ini_ops *ops,
               void *u, struct cm_diag_sink *d)
{
    struct ini_run r;
    int rc;

    memset(&r, 0, sizeof(r));
    r.file = file;
    r.text = text;
    r.len = len;
    r.ops = ops;
    r.u = u;
    r.d = d;
    r.val = malloc(CM_INI_VALUE_MAX);
    if (r.val == NULL)
        return -ENOMEM;
    rc = ini_parse_stream(reader, &r, handler, &r);
    if (r.expect_handler)
        mismatch(&r);
    deliver(&r);
    free(r.val);
    if (rc > 0)
        cm_diag_at(d, CM_DIAG_ERROR, file, rc, 1, "syntax error");
    else if (rc < 0) /* -ELIBACC: libcloudm.so could not load libinih (shim/base/lazy_inih.c) */
        return rc == -ELIBACC ? rc : -ENOMEM;
    return 0;
}
