/*
 * cm_config.h - the configuration model and its parser (config file + signature language).
 *
 * What it does: parses a cloudm INI file (inih) into a `struct cm_config`: `[cache]` defaults and
 * one `struct cm_function` per `[function NAME]` section, each with a fully analysed signature
 * (types, x86-64 SysV placement of every parameter, compiled size expressions). Reports every
 * problem as "FILE:LINE:COL: error|warning: message" through a caller-supplied callback.
 *
 * What it does not do: it never touches the process it runs in (no hooking, no symbol lookup, no
 * environment reads except where a function below says so); the shim and the tools both link it.
 * It allocates only while parsing; evaluating a size expression allocates nothing.
 */
#ifndef CM_CONFIG_H
#define CM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CM_MAX_PARAMS 24     /* parameters per signature */
#define CM_MAX_GLOBALS 8     /* entries in `reads =` and in `writes =` */
#define CM_EXPR_MAX 32       /* operations in one compiled size expression */
#define CM_NAME_MAX 128      /* symbol, parameter, handle-function and global names (with NUL) */
#define CM_SIG_TEXT_MAX 1024 /* normalized signature text (with NUL) */
#define CM_PATH_MAX 1024
#define CM_MAX_FUNCTIONS 1024         /* [function] sections per config */
#define CM_CONFIG_MAX_BYTES (1 << 20) /* config file size */

enum cm_mode {
    CM_MODE_UNSET = 0, /* per function: inherit [cache] mode */
    CM_MODE_READWRITE,
    CM_MODE_READONLY,
    CM_MODE_WRITEONLY,
    CM_MODE_OFF,
    CM_MODE_PROFILE,
};

/* What a parameter or a return value is. */
enum cm_kind {
    CM_K_VOID = 0, /* return only */
    CM_K_INT,      /* integer scalar, `size` bytes, `is_signed` */
    CM_K_FLOAT,    /* f32 (size 4) or f64 (size 8) */
    CM_K_STR,      /* param: const char * keyed by content; return: callee-owned string */
    CM_K_MSTR,     /* return only: malloc'd string the caller frees */
    CM_K_IN,       /* pointer to `size_expr` bytes read by the function */
    CM_K_OUT,      /* pointer to `size_expr` bytes written by the function */
    CM_K_INOUT,    /* both */
    CM_K_PTR,      /* opaque pointer keyed by identity */
    CM_K_HANDLE,   /* opaque pointer keyed by handle_fn(pointer) */
    CM_K_IGNORE,   /* passed through, not keyed (always an INTEGER-class register/slot) */
    CM_K_RETPTR,   /* return only: pointer into the buffer of parameter `ret_ref`, or NULL */
    CM_K_INT128,   /* i128/u128 (`is_signed`): two INTEGER eightbytes, returned in rax:rdx */
    CM_K_COMPLEX,  /* c32 (size 8: one SSE eightbyte) or c64 (size 16: two SSE eightbytes) */
};

enum cm_abi_class { CM_ABI_INT = 0, CM_ABI_SSE = 1 };

/* Size-expression byte code (postfix). */
enum cm_op {
    CM_OP_CONST = 1, /* push value */
    CM_OP_PARAM,     /* push integer value of parameter `arg` (0-based) */
    CM_OP_DEREF,     /* push the unsigned integer of `width` bytes that parameter `arg` points to */
    CM_OP_RETVAL,    /* push the integer return value (output sizes only) */
    CM_OP_ADD,
    CM_OP_SUB,
    CM_OP_MUL,
    CM_OP_DIV,
};

struct cm_expr_op {
    uint8_t op;    /* enum cm_op */
    uint8_t width; /* CM_OP_DEREF: 1, 2, 4 or 8 */
    uint16_t arg;  /* CM_OP_PARAM / CM_OP_DEREF: 0-based parameter index */
    int64_t value; /* CM_OP_CONST */
};

struct cm_expr {
    uint8_t n;        /* number of ops; 0 = no expression */
    bool uses_retval; /* contains CM_OP_RETVAL */
    bool uses_deref;  /* contains CM_OP_DEREF */
    struct cm_expr_op ops[CM_EXPR_MAX];
};

struct cm_param {
    char name[CM_NAME_MAX];  /* as written, or "argN" (1-based) when unnamed; "" for returns */
    uint8_t kind;            /* enum cm_kind */
    uint8_t size;            /* CM_K_INT: 1,2,4,8; CM_K_FLOAT: 4,8; CM_K_INT128: 16;
                                CM_K_COMPLEX: 8 (c32), 16 (c64); pointers: 8; else 0 */
    bool is_signed;          /* CM_K_INT */
    struct cm_expr size_expr;   /* CM_K_IN/OUT/INOUT */
    char handle_fn[CM_NAME_MAX]; /* CM_K_HANDLE: function keying the handle */
    bool handle_str;             /* CM_K_HANDLE: handle_fn returns const char * (handle(F:str)) */
    uint8_t ret_ref;             /* CM_K_RETPTR: 0-based index of the parameter it points into */
    /* x86-64 SysV placement, filled by the parser (parameters only) */
    uint8_t abi_class;       /* enum cm_abi_class */
    int8_t abi_reg;          /* index within the class (rdi..r9 = 0..5, xmm0..7 = 0..7), -1 = stack;
                                a two-eightbyte value (i128, u128, c64) also takes abi_reg + 1 */
    uint8_t abi_stack;       /* when abi_reg == -1: 8-byte slot index above the return address
                                (two-eightbyte values: two slots; i128/u128 start at an even one) */
    uint16_t col;            /* 1-based column of this parameter inside the signature text */
};

struct cm_signature {
    char name[CM_NAME_MAX]; /* function name written in the signature */
    struct cm_param ret;    /* return value */
    uint8_t nparams;
    uint8_t nstack; /* 8-byte stack slots the caller passes */
    struct cm_param params[CM_MAX_PARAMS];
    /* Order in which out/inout buffers are restored on a hit: indices of parameters of kind
     * OUT/INOUT, those referenced by another output's `*NAME` first. */
    uint8_t nrestore;
    uint8_t restore_order[CM_MAX_PARAMS];
    char normalized[CM_SIG_TEXT_MAX]; /* canonical text (no names, single spaces), part of keys */
    char skip_why[96];               /* cm_signature_parse returned 1: why ("variadic ...") */
    uint16_t name_col;               /* 1-based column of `name` inside the signature text */
};

struct cm_global {
    char name[CM_NAME_MAX];
    uint32_t size; /* bytes, 1 .. 1 MiB */
};

/* Per-function single-flight policy (shared tier). */
enum cm_singleflight {
    CM_SF_AUTO = 0, /* default: only for functions whose calls have taken >= 1 ms */
    CM_SF_YES,
    CM_SF_NO,
};

/* `hook =` per function: how calls are redirected. */
enum cm_hook_kind {
    CM_HOOK_AUTO = 0, /* default: GOT slots, and inline patching for the executable's functions */
    CM_HOOK_GOT,      /* GOT slots only */
    CM_HOOK_INLINE,   /* inline patching of every definition (and GOT slots) */
};

/* `identity =` per function: what of the function's code its keys depend on. */
enum cm_identity {
    CM_IDENT_CODE = 0, /* default: hash of its normalized machine code and its callees' */
    CM_IDENT_OBJECT,   /* the build-id of the object defining it */
    CM_IDENT_NAME,     /* only name, version and signature (and salt) */
};

/* `sensitive =` per function: no argument or result byte is stored readable in any tier. */
enum cm_sensitive { CM_SENS_UNSET = 0, CM_SENS_NO, CM_SENS_YES };

/* Cache tiers, `[cache] tiers = memory shared remote` (a bit set; the order of lookups is always
 * memory, shared, remote). */
#define CM_TIER_MEMORY 1u
#define CM_TIER_SHARED 2u
#define CM_TIER_REMOTE 4u

/* `[cache] remote_mode`: what the remote tier may do (the function's own mode still applies). */
enum cm_remote_mode {
    CM_RMODE_READWRITE = 0,
    CM_RMODE_READONLY,  /* read the remote, never write it (a team cache written by CI only) */
    CM_RMODE_WRITEONLY, /* write the remote, never read it */
};

struct cm_function {
    char name[CM_NAME_MAX];       /* section name: the symbol to hook, or for a quoted C++
                                     section the demangled signature as written (`cxx`) */
    bool cxx;                     /* [function "ns::f(long, int)"]: found by demangling */
    char short_name[CM_NAME_MAX]; /* the name its signature uses: `name`, or for `cxx` the
                                     unqualified function name ("f") */
    char object[CM_PATH_MAX];     /* `object =` glob over the provider's path; "" = any */
    struct cm_signature sig;
    enum cm_mode mode; /* CM_MODE_UNSET = [cache] mode */
    char salt[CM_NAME_MAX];
    uint8_t nreads, nwrites;
    struct cm_global reads[CM_MAX_GLOBALS];
    struct cm_global writes[CM_MAX_GLOBALS];
    bool save_errno;      /* `errno = yes` */
    uint64_t min_time_ns; /* store a result only if its call took at least this */
    uint8_t singleflight; /* enum cm_singleflight, `singleflight =` */
    uint8_t hook;         /* enum cm_hook_kind, `hook =` */
    uint8_t identity;     /* enum cm_identity, `identity =` */
    double verify;        /* `verify =`: fraction of hits re-checked, 0..1; -1 = the
                             [cache] value */
    uint8_t sensitive;    /* enum cm_sensitive, `sensitive =` (unset: [cache] sensitive) */
    int line;             /* line of the section header */
};

struct cm_config {
    char path[CM_PATH_MAX];        /* file it came from ("" for a buffer) */
    enum cm_mode mode;             /* [cache] mode, default CM_MODE_READWRITE */
    char ns[65];                   /* [cache] namespace, [A-Za-z0-9._-]{1,64}, default "default" */
    uint64_t memory_size;          /* [cache] memory_size bytes, default 64 MiB */
    char report[CM_PATH_MAX];      /* [cache] report: "" none, "stderr", or a path (may hold %p) */
    bool strict;                   /* [cache] strict */
    unsigned tiers;                /* [cache] tiers: CM_TIER_* bits, default memory | shared, and
                                      remote too when `remote` is set */
    char shared_path[CM_PATH_MAX]; /* [cache] shared_path, default "/dev/shm/cloudm-%u" (%u = uid,
                                     expanded by the user of the value, not the parser) */
    uint64_t shared_size;          /* [cache] shared_size, default 256 MiB */
    uint64_t shared_max_entry;     /* [cache] shared_max_entry: largest entry of the shared tier,
                                      default 1 GiB (large values live in blob files) */
    uint64_t shared_blob_size;     /* [cache] shared_blob_size: blob files in all, default 2 GiB */
    bool sensitive;                /* [cache] sensitive: default of every function's `sensitive` */
    char remote[CM_PATH_MAX];      /* [cache] remote: "" none, else http(s)://host[:port][/prefix],
                                      redis://, rediss:// or redis+cluster:// */
    char token_file[CM_PATH_MAX];  /* [cache] token_file: "" none; relative = to the config's dir */
    char secret_file[CM_PATH_MAX]; /* [cache] secret_file: "" none (values stored in the clear) */
    char remote_ca[CM_PATH_MAX];   /* [cache] remote_ca: "" the system CA store, else a PEM file
                                      of the CAs an https:// remote's certificate must chain to */
    uint64_t remote_timeout_ns;    /* [cache] remote_timeout, default 250 ms */
    uint64_t flush_timeout_ns;     /* [cache] flush_timeout, default 10 s */
    uint64_t remote_queue;         /* [cache] remote_queue: queued writes at most, default 4096 */
    uint64_t remote_queue_bytes;   /* [cache] remote_queue_bytes, default 64 MiB */
    uint64_t remote_max_value;     /* [cache] remote_max_value, default 64 MiB */
    uint64_t remote_expire_ns;     /* [cache] remote_expire: Redis TTL refreshed on read, 30 d */
    uint64_t agent_idle_ns;        /* [cache] agent_idle: the agent exits after this long idle, 10 min */
    enum cm_remote_mode remote_mode; /* [cache] remote_mode, default readwrite */
    double verify;  /* [cache] verify: fraction of hits re-checked, 0..1, default 0 */
    int nfunctions; /* functions that parsed cleanly (skipped ones are not here) */
    struct cm_function *functions;
    int nskipped;                 /* functions skipped with a warning (they are never hooked) */
    struct cm_skipped {
        char name[CM_NAME_MAX];   /* the section's name */
        char why[96];             /* e.g. "variadic functions cannot be memoized" */
    } *skipped;
    int nerrors;                  /* errors reported: the config must not be used when > 0 */
    int nwarnings;                /* warnings reported (skipped functions, ...) */
};

enum cm_severity { CM_DIAG_ERROR = 0, CM_DIAG_WARNING = 1 };

/* Receives one fully formatted message "FILE:LINE:COL: error: text" (no trailing newline). */
typedef void (*cm_diag_fn)(void *ctx, enum cm_severity sev, const char *msg);

/*
 * Parse the file at `path`. Fills `cfg` (zeroed first, defaults applied). Every problem goes to
 * `diag` (may be NULL). Returns 0 when the file was read (check cfg->nerrors), -errno when it
 * could not be opened/read. Always release with cm_config_free(), whatever the return.
 */
int cm_config_load(const char *path, struct cm_config *cfg, cm_diag_fn diag, void *ctx);

/* The same over a buffer of `len` bytes (need not be NUL-terminated); `name` is used in messages.
 */
int cm_config_parse(const char *name, const char *text, size_t len, struct cm_config *cfg,
                    cm_diag_fn diag, void *ctx);

void cm_config_free(struct cm_config *cfg);

/*
 * Which config file to use: $CLOUDM_CONFIG if set and non-empty, else ./cloudm.conf if it
 * exists, else $XDG_CONFIG_HOME/cloudm/cloudm.conf (XDG_CONFIG_HOME defaulting to ~/.config) if
 * it exists, else SYSCONFDIR/cloudm/cloudm.conf (/etc/cloudm/cloudm.conf in the package) if it
 * exists. Writes the path into buf and returns 0, or returns -ENOENT when there is none.
 * (Reads the environment and stats files; nothing else.)
 */
int cm_config_find(char *buf, size_t bufsz);

/* The same with the system config directory given (`sysconfdir`, absolute; NULL or relative =
 * no system config). cm_config_find() passes the install's sysconfdir (CM_SYSCONFDIR). */
int cm_config_find_in(char *buf, size_t bufsz, const char *sysconfdir);

/* The system config file cm_config_find() looks at last (for messages). */
const char *cm_config_system_path(void);

/*
 * Parse one signature on its own (used by the config parser and the fuzzer). `col0` is the
 * column of the signature's first character in its line, for messages; `where` is "FILE:LINE".
 * Returns 0, or -1 after reporting an error, or 1 after reporting a warning that means "this
 * function cannot be memoized" (variadic, struct by value, long double, vector).
 */
int cm_signature_parse(const char *text, struct cm_signature *sig, const char *where, int col0,
                       cm_diag_fn diag, void *ctx);

/*
 * Evaluate a size expression. `args[i]` is parameter i's raw 64-bit value (integers already
 * sign/zero-extended from their declared width, pointers as addresses); `retval` is the integer
 * return value (ignored unless the expression uses it). CM_OP_DEREF reads memory through the
 * pointer in args[arg]. Returns 0 and the value in *out, or -1 when the result is undefined or
 * unusable: NULL dereference, division by zero, overflow, negative result, or > `cap`.
 */
int cm_expr_eval(const struct cm_expr *e, const uint64_t *args, int64_t retval, uint64_t cap,
                 uint64_t *out);

/*
 * The candidate closest to word[0..len) by optimal-string-alignment distance (a transposition
 * counts as one edit, case is ignored), or NULL when none is close enough to be a plausible
 * typo. Words longer than 64 characters never match. (values.c; the shim's "not found" hints
 * use it too.)
 */
const char *cm_did_you_mean(const char *word, size_t len, const char *const *cands, size_t n);

/*
 * Whether two C++ demangled signatures are the same text, ignoring whitespace ("pi(long,int)"
 * and "pi(long, int)"). 1 when equal.
 */
int cm_cxx_name_eq(const char *a, const char *b);

/* "1K" "64M" "2G" "4096" -> bytes (K/M/G/T are powers of 1024; optional trailing B/iB). */
int cm_parse_size(const char *s, uint64_t *out);
/* "250ms" "10s" "5m" "2h" "30d" "1500us" "0" -> nanoseconds; a bare number means seconds. */
int cm_parse_time(const char *s, uint64_t *out_ns);
/* "readwrite" ... -> enum cm_mode; returns -1 for unknown words. */
int cm_parse_mode(const char *s, enum cm_mode *out);
const char *cm_mode_name(enum cm_mode m);
/* A rate "0" "0.01" "1" "1e-3" "5%": a fraction from 0 to 1. Returns 0, or -1. */
int cm_parse_rate(const char *s, double *out);
/* yes/no/true/false/on/off/1/0 */
int cm_parse_bool(const char *s, bool *out);

/*
 * The environment's overrides of [cache] (envover.c), as the shim applies them at start-up:
 * CLOUDM_TIERS replaces cfg->tiers; CLOUDM_REMOTE=URL replaces cfg->remote and adds the remote
 * tier unless CLOUDM_TIERS is set, CLOUDM_REMOTE=off removes the remote tier;
 * CLOUDM_SHARED_PATH replaces cfg->shared_path. Empty values count as unset. Returns 0, or
 * -EINVAL when CLOUDM_TIERS is not a list of tiers (it is ignored; the others still apply).
 */
int cm_config_env(struct cm_config *cfg);

/* Expand a path template: %u = the real uid, %p = the pid, %% = %. Returns 0, or -ENAMETOOLONG
 * when the result does not fit in size bytes. (Reads the uid and pid; nothing else.) */
int cm_path_expand(const char *src, char *dst, size_t size);

/* Shell-style glob match (`*`, `?`, `[...]`) used for `object =`; 1 on match. */
int cm_glob_match(const char *pattern, const char *text);

/* The built-in list of C-library function families that can never be memoized (I/O, memory,
 * threads, time, random, locale, signals, process control, ...; nomemo.c): true when `name`
 * defined in `provider` (a path; NULL = unknown, then only the "__" and dl* names) is one. */
bool cm_never_memoizable(const char *name, const char *provider);

/* Command-line words (options.c), shared by every cloudm command. An option's value from
 * "--opt=V", "-oV" or the next argument (`namelen`: length of the option name, dashes
 * included); NULL after a message when it is missing. */
const char *cm_option_value(int argc, char **argv, int *i, const char *cmd, size_t namelen);
/* `a` is option `name`, alone or as "name=VALUE". */
bool cm_is_option(const char *a, const char *name);

#endif
