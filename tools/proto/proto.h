/*
 * proto.h - function prototypes for `cloudm discover` and `cloudm inspect` (static library
 * cm_proto): where they come from, and what cloudm writes for them.
 *
 * What it does: finds a function's prototype in the DWARF of the object defining it or of its
 * separate debug file (libdw; build-id under CLOUDM_DEBUG_DIR, default /usr/lib/debug, or the
 * .gnu_debuglink), else in C headers parsed with libclang (named by the user, or those of the
 * Debian -dev package that ships the library's .so link, found in the dpkg database); turns a
 * prototype into a key plan line (include/cloudm_discover.h) and into a cloudm signature with
 * pointer parameters mapped by rules (const char * -> str; const T * next to a size parameter
 * -> in[...]; anything else writable -> a TODO, to be settled with `cloudm probe`).
 *
 * What it does not do: no C++ (names are matched as written in the symbol table), no struct
 * parameters by value, no variadic arguments beyond the fixed ones.
 */
#ifndef CM_PROTO_H
#define CM_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#define CM_PROTO_MAX_PARAMS 24

enum cm_ptkind { CM_PT_VOID, CM_PT_INT, CM_PT_FLOAT, CM_PT_PTR, CM_PT_AGGREGATE, CM_PT_OTHER };

struct cm_ptype {
    enum cm_ptkind kind;
    int size;               /* bytes (pointers: 8) */
    bool is_signed;         /* integers */
    bool pointee_const;     /* pointers: the pointee is const */
    enum cm_ptkind pointee; /* pointers: kind of the pointee (CM_PT_VOID for void *) */
    int pointee_size;       /* pointers: size of the pointee, 0 when unknown or void */
    bool pointee_char;      /* pointers: the pointee is plain `char` (a string) */
    char c[96];             /* C spelling, for comments */
};

enum cm_proto_source { CM_PROTO_NONE = 0, CM_PROTO_DWARF, CM_PROTO_HEADER };

struct cm_proto {
    enum cm_proto_source source;
    char from[512]; /* the file it came from (debug file, header) */
    struct cm_ptype ret;
    int nparams;
    bool variadic;
    struct cm_ptype params[CM_PROTO_MAX_PARAMS];
    char pnames[CM_PROTO_MAX_PARAMS][48]; /* "" when unnamed */
};

/* Where headers are looked for: --header files and -I directories. */
struct cm_proto_headers {
    const char **files;
    int nfiles;
    const char **dirs;
    int ndirs;
};

/* DWARF: fill out[i] for each names[i] defined in `object` (its own .debug_info, else its debug
 * file). Returns how many were found, or a negative errno when the object cannot be read. With
 * `internal`, static functions count too. */
int cm_proto_dwarf(const char *object, const char *const *names, int n, struct cm_proto *out,
                   bool internal);

/* libclang: fill out[i] for each names[i] declared in `headers` (include paths `dirs`). Returns
 * how many were found, or a negative errno (libclang could not parse anything). */
int cm_proto_clang(const char *const *headers, int nheaders, const char *const *dirs, int ndirs,
                   const char *const *names, int n, struct cm_proto *out);

/* dpkg: the headers (/usr/include/...) of the Debian package that ships a development link
 * (`*.so`) to the same file as `object`. Returns how many paths were stored in `out` (each
 * malloc'd), 0 when no package was found; `pkg` receives the package name. */
int cm_proto_dpkg_headers(const char *object, char **out, int max, char *pkg, size_t pkgsz);

/* All sources in order for one object: DWARF, then the user's headers, then the dpkg package's.
 * out[i].source says where each came from (CM_PROTO_NONE: unknown). */
void cm_proto_lookup(const char *object, const char *const *names, int n, struct cm_proto *out,
                     const struct cm_proto_headers *h, bool internal);

/* The key plan line for `name` (without the newline); false when the prototype cannot be planned
 * (aggregates, long double...): then calls are keyed by registers. */
bool cm_proto_plan(const struct cm_proto *p, const char *name, char *buf, size_t size);

/* Whether the plan keys parameter i by its value or content (else by its address). */
bool cm_proto_param_exact(const struct cm_proto *p, int i);

/* What cm_proto_signature could write. */
enum cm_sig_status {
    CM_SIG_OK,   /* works as it is */
    CM_SIG_TODO, /* written, but something needs a human (the section gets mode = off) */
    CM_SIG_NONE, /* cannot be written (no prototype, struct by value, bare pointer return) */
};

/* The signature line for `name` ("RET NAME(PARAM, ...)") and, for TODO/NONE, why (one line
 * per problem, "\n"-separated, in `why`). */
enum cm_sig_status cm_proto_signature(const struct cm_proto *p, const char *name, char *buf,
                                      size_t size, char *why, size_t whysz);

/* "DWARF (FILE)", "header FILE", "unknown". */
const char *cm_proto_source_text(const struct cm_proto *p, char *buf, size_t size);

#endif
