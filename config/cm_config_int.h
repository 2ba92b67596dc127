/*
 * cm_config_int.h - declarations shared by the files of config/ and nobody else.
 *
 * What it does: the message sink (formatting "FILE:LINE:COL: error: text" and counting), the map
 * from an offset inside a (possibly multi-line) value back to its line and column, the
 * did-you-mean helper, and the entry points signature.c needs from expr.c.
 *
 * What it does not do: nothing here is part of the interface other modules code against; that is
 * cm_config.h. No allocation anywhere in this header's functions.
 */
#ifndef CM_CONFIG_INT_H
#define CM_CONFIG_INT_H

#include <stdarg.h>

#include "cm_config.h"

#define CM_SRC_SEGS 16      /* lines one value may span (first line + continuation lines) */
#define CM_MSG_MAX 1536     /* one formatted message, truncated beyond */
#define CM_SIG_SRC_MAX 4096 /* characters of signature text accepted before normalization */

/* Where messages go, and how many of each kind went there. */
struct cm_diag_sink {
    cm_diag_fn fn; /* may be NULL: messages are only counted */
    void *ctx;
    int nerrors;
    int nwarnings;
};

/* One line's piece of a value: the value's byte `off` is at (`line`, `col`). */
struct cm_srcseg {
    uint32_t off;
    int line; /* 1-based; 0: the line is already part of `file` (cm_signature_parse's `where`) */
    int col;  /* 1-based */
};

/* Maps offsets inside a value (continuation lines joined with one space) to file positions. */
struct cm_srcmap {
    const char *file;
    int nseg; /* 1 .. CM_SRC_SEGS, segments in increasing `off` */
    struct cm_srcseg seg[CM_SRC_SEGS];
};

#define CM_INI_VALUE_MAX 8192 /* bytes of one value, continuation lines included */

/* A section header line: the text between '[' and ']', untrimmed. */
struct cm_ini_section {
    const char *inner;
    size_t len;
    int line;
    int col; /* 1-based column of inner[0] */
};

/* One complete `KEY = VALUE`, its continuation lines joined with single spaces. */
struct cm_ini_key {
    const char *name;  /* NUL-terminated */
    int line, col;     /* position of the name */
    const char *value; /* NUL-terminated, `vlen` bytes */
    size_t vlen;
    const struct cm_srcmap *map; /* positions of the value's bytes */
    bool broken; /* the value had an error, already reported: only note that the key was there */
};

struct cm_ini_ops {
    void (*section)(void *u, const struct cm_ini_section *s);
    void (*key)(void *u, const struct cm_ini_key *k);
};

/*
 * Runs inih over text[0..len) and calls `ops` in file order with exact positions. Syntax errors
 * (lines that are neither blank, comment, section, key nor continuation; NUL bytes; over-long
 * values) are reported to `d` here. Returns 0, or -ENOMEM.
 */
int cm_ini_run(const char *file, const char *text, size_t len, const struct cm_ini_ops *ops,
               void *u, struct cm_diag_sink *d);

/* Format and deliver one message at an explicit position (line <= 0: no line printed). */
void cm_diag_at(struct cm_diag_sink *d, enum cm_severity sev, const char *file, int line, int col,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Format and deliver one message at byte `off` of the value described by `m`. */
void cm_diag_map(struct cm_diag_sink *d, enum cm_severity sev, const struct cm_srcmap *m,
                 size_t off, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Case-insensitive comparison of s[0..len) with the NUL-terminated word. */
int cm_word_eq(const char *s, size_t len, const char *word);

/*
 * Compile the size expression text[0..len) of parameter `self` of `sig` (whose parameters,
 * names and kinds are all known). Offsets in messages are `base + offset in text`, mapped by `m`.
 * Returns 0, or -1 after reporting an error.
 */
int cm_expr_compile(const char *text, size_t len, size_t base, const struct cm_signature *sig,
                    int self, struct cm_expr *out, const struct cm_srcmap *m,
                    struct cm_diag_sink *d);

/*
 * Write the canonical text of `e` (parameters as argN, single spaces around binary operators,
 * only the parentheses the evaluation order needs). Returns the length, or -1 if it does not fit.
 */
int cm_expr_render(const struct cm_expr *e, char *buf, size_t bufsz);

/* sig_layout.c: fill abi_class/abi_reg/abi_stack and nstack of a parsed signature. */
void cm_sig_place(struct cm_signature *s);
/* sig_layout.c: fill nrestore/restore_order (sizes must be compiled). */
void cm_sig_restore_order(struct cm_signature *s);
/* sig_layout.c: write s->normalized; -1 if it does not fit in CM_SIG_TEXT_MAX. */
int cm_sig_normalize(struct cm_signature *s);

/* cm_signature_parse over text[0..len) with positions mapped by `m`. */
int cm_signature_parse_map(const char *text, size_t len, struct cm_signature *sig,
                           const struct cm_srcmap *m, struct cm_diag_sink *d);

#endif
