/*
 * base.h - the interface of shim/base/: what every part of the shim may use. The shim's
 * messages (log.c), the clock that times misses (clock.c), the per-thread recursion guard, the
 * variant descriptor struct cm_fn and its table, per-thread counters (stats.c) and per-thread
 * scratch buffers (tls.c). Its first part (offsets and sizes the entry code reads) is also
 * included by assembly, through arch/x86_64/frame.h.
 *
 * What it does not do: base/ includes nothing from the rest of the shim (only config/'s
 * cm_config.h): it is the bottom of the dependency order (docs/design.md).
 */
#ifndef CM_BASE_H
#define CM_BASE_H

#define CM_FN_ORIG 0      /* struct cm_fn: void *orig */
#define CM_FN_FLAGS 8     /* struct cm_fn: uint32_t flags (CM_FN_BYPASS) */
#define CM_FN_NSTACK 12   /* struct cm_fn: uint32_t nstack (stack words to copy) */
#define CM_FN_BYPASS 1    /* flag: jump straight to the original */
#define CM_FN_DEAD 2      /* flag: its library was unloaded (never bound again) */
#define CM_FN_SIZE 1024   /* sizeof(union cm_fn_slot), power of two */
#define CM_MAX_VARIANTS 256 /* hooked implementations per process (stubs in the entry table) */
#define CM_STUB_SIZE 16

#ifndef __ASSEMBLER__

#include <stdint.h>
#include <time.h>
#include <stddef.h>

#include "cm_config.h"

/* ---- log: the shim's messages on stderr.
 *
 * What it does: formats one line "cloudm: ...\n" and writes it to fd 2 with a single write(2)
 * (no stdio, so it is safe from any context that is not the hot path and never touches the
 * host's FILE buffers). cm_log_once() prints a given message key only once per process.
 *
 * What it does not do: no log levels, no files; it must not be called on the hit path.
 */
__attribute__((format(printf, 1, 2))) void cm_log(const char *fmt, ...);

/* Print at most once per process for each distinct `key` (a short static string). */
__attribute__((format(printf, 2, 3))) void cm_log_once(const char *key, const char *fmt, ...);

/* Print only when CLOUDM_DEBUG=1. */
__attribute__((format(printf, 1, 2))) void cm_debug(const char *fmt, ...);

extern int cm_debug_enabled __attribute__((visibility("hidden")));

/* ---- clock: cheap timestamps for timing misses.
 *
 * What it does: cm_ticks() reads the invariant TSC (rdtsc, a few ns, no system call and no vDSO
 * call) when the CPU advertises one, else CLOCK_MONOTONIC nanoseconds. cm_clock_init() decides
 * which, once; cm_ticks_to_ns() converts with a rate measured between start-up and the moment of
 * the conversion (the report, at exit), so no start-up time is spent calibrating;
 * cm_clock_calibrate() measures the rate up front (about 2 ms), done only when some function
 * has a `min_time`, which must be compared against ticks while the program runs.
 *
 * Sandboxes (issue 16): once the program disables rdtsc for itself (PR_SET_TSC, or seccomp
 * strict mode, which also makes the vDSO clock fault because it reads the TSC),
 * cm_clock_sandbox() switches to the clock_gettime system call, or, under strict mode where that
 * is fatal too, to no clock at all: every duration then reads 0 (misses are not timed, and a
 * `min_time` is never met).
 *
 * What it does not do: wall-clock time, anything on the hit path.
 */
enum { CM_CLOCK_VDSO = 0, CM_CLOCK_TSC, CM_CLOCK_SYSCALL, CM_CLOCK_NONE };
extern int cm_clock_mode __attribute__((visibility("hidden")));

uint64_t cm_clock_ns_slow(void); /* CM_CLOCK_SYSCALL / CM_CLOCK_NONE */
uint64_t cm_ticks_slow(void);    /* CM_CLOCK_SYSCALL / CM_CLOCK_NONE */

static inline uint64_t cm_clock_ns(void)
{
    if (__builtin_expect(cm_clock_mode >= CM_CLOCK_SYSCALL, 0))
        return cm_clock_ns_slow();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t cm_ticks(void)
{
    if (cm_clock_mode == CM_CLOCK_TSC) {
        uint32_t lo, hi;
        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
        return ((uint64_t)hi << 32) | lo;
    }
    if (__builtin_expect(cm_clock_mode >= CM_CLOCK_SYSCALL, 0))
        return cm_ticks_slow();
    return cm_clock_ns();
}

/* The program is about to disable the TSC (strict = 0: PR_SET_TSC, clock_gettime still works
 * as a system call) or to enter seccomp strict mode (strict = 1: no clock at all). */
void cm_clock_sandbox(int strict);

/* ---- sandbox: what the program has forbidden itself (set through the hook layer's
 * prctl/seccomp wrappers before the real call; never cleared). CM_SANDBOX_FILTER: a seccomp filter of unknown
 * content: start no thread, make no optional system call (remote tier and single-flight waits
 * off). CM_SANDBOX_STRICT: seccomp strict mode (read, write, exit, sigreturn only): the shared
 * tier too, and no buffer growth (mmap); the memory tier goes on. */
enum { CM_SANDBOX_NONE = 0, CM_SANDBOX_FILTER, CM_SANDBOX_STRICT, CM_SANDBOX_NOTSC = -1 };
extern int cm_sandbox;

void cm_clock_init(void);
void cm_clock_calibrate(void);
uint64_t cm_ticks_to_ns(uint64_t ticks);
uint64_t cm_ns_to_ticks(uint64_t ns);

/* ---- guard: the per-thread recursion guard.
 *
 * While a thread is inside cloudm's own code, cm_guard is non-zero and every hooked entry sends
 * the call straight to the original. It is cleared while the original function itself runs, so
 * a memoized function calling another memoized function (or itself) is memoized at every level.
 * Initial-exec TLS: one %fs-relative load, no __tls_get_addr call.
 */
extern __thread int cm_guard __attribute__((tls_model("initial-exec"), visibility("hidden")));

/* ---- stack guard (tls.c): where this thread's stack runs low. The entry code (entry.S) sends a
 * call straight to the original when lo <= rsp < limit: memoizing needs a few hundred bytes of
 * stack per level that a deep recursion may not have. Both 0 until known (then never). */
struct cm_stack_guard {
    uintptr_t limit; /* read by entry.S at offset 0 */
    uintptr_t lo;    /* offset 8: the lowest address of the thread's stack */
    uintptr_t hi;    /* just above its highest address */
};
extern __thread struct cm_stack_guard cm_stack_guard __attribute__((tls_model("initial-exec")));
#define CM_STACK_RESERVE_MIN (64 * 1024) /* the guard zone: half the stack, at least this */
/* Record this thread's stack (slow path: its first hooked call; start-up for the main thread). */
void cm_stack_guard_init(void);
/* 1 when both addresses lie in this thread's own stack (known): only then does comparing them
 * say which frame is nested in which (a signal handler's alternate stack or a coroutine's
 * stack tells nothing). */
static inline int cm_stack_same(uintptr_t a, uintptr_t b)
{
    uintptr_t lo = cm_stack_guard.lo, hi = cm_stack_guard.hi;
    return lo && a >= lo && a < hi && b >= lo && b < hi;
}

/* ---- fn: the per-variant descriptor the entry code and the dispatcher share.
 *
 * A "variant" is one implementation of one configured function: (config function, original
 * address). A function with two symbol versions reached by different callers has two variants,
 * each with its own stub, descriptor, key identity and statistics slot.
 *
 * DESIGN: descriptors live in a fixed static array (cm_fns) so stub i can reach descriptor i
 * with one RIP-relative lea and no relocation. A descriptor is written once, by bind() under the
 * hook lock, before its stub address is published into any GOT slot (release fence); after that
 * only `flags` may change (atomically) and `distinct` is counted with atomics. The first cache
 * line holds everything the hit path reads.
 */
struct cm_object;

/* Why a call was bypassed (passed to the original, nothing cached): docs/report.md. */
enum cm_why {
    CM_WHY_INPUT_SIZE = 0, /* a str/in/inout argument over 1 GiB: never keyed */
    CM_WHY_VALUE_SIZE,     /* the result is larger than every configured tier holds */
    CM_WHY_SENSITIVE,      /* sensitive = yes, but no per-user key or crypto library */
    CM_WHY_DEPTH,          /* nested deeper than the thread's nesting store holds (tls.c) */
    CM_WHY_N
};
extern const char *const cm_why_names[CM_WHY_N];

struct cm_fn {
    void *orig;                     /* CM_FN_ORIG: original implementation */
    uint32_t flags;                 /* CM_FN_FLAGS: CM_FN_BYPASS */
    uint32_t nstack;                /* CM_FN_NSTACK: stack words to copy when calling orig */
    const struct cm_function *cfg;  /* its config entry */
    const struct cm_signature *sig; /* &cfg->sig */
    uint64_t seed;                  /* XXH3 seed: hash of the identity prefix */
    uint32_t id;                    /* index in cm_fns */
    uint32_t func;                  /* index of cfg in the config's function array */
    uint8_t mode;                   /* effective enum cm_mode */
    uint8_t fast;                   /* scalar-only function: key and value fit one inline slot */
    uint8_t fast_n;                 /* keyed scalar parameters: one key word each (<= 4) */
    uint8_t fast_klen;              /* key bytes: 8 * fast_n */
    uint8_t fast_vlen;              /* value bytes (8 + writes + errno) */
    uint8_t fast_ret_sse;           /* the return value lives in xmm0 */
    uint8_t fast_ret_void;          /* no return value (value starts with the globals) */
    uint8_t fast_side;              /* writes or errno follow the return value */
    int16_t fast_src[5];            /* per key word: >= 0 byte offset in the frame, < 0 -1 - stack
                                       slot; the key of n words sits in words 5-n .. 4 */
    uint8_t fast_sw;                /* the dispatcher's case: fast_n, + 5 when verify_every */
    uint8_t fast_sh;                /* fast_* planned: the shared tier is read by word key (also
                                       without a memory tier: then fast = 0) */
    uint8_t fast_kb[5];             /* per key word: its bytes in the canonical key (declared
                                       width: 1, 2, 4 or 8), 0 = not key */
    uint32_t verify_every; /* verify = RATE: re-check one hit in this many (0 = never) */
    uint64_t fast_mask[5]; /* per key word: the bits of the declared width; 0 = not key */
    uint64_t min_ticks;    /* min_time in cm_ticks() units */
    const uint8_t *prefix; /* canonical identity prefix of every key (malloc'd) */
    uint32_t prefix_len;
    const struct cm_object *provider;
    char version[64];               /* version of the definition, "" when unversioned */
    void *handle_fn[CM_MAX_PARAMS]; /* resolved handle(FUNC) per parameter */
    void *reads_addr[CM_MAX_GLOBALS];
    void *writes_addr[CM_MAX_GLOBALS];
    uint64_t distinct;      /* profile mode: distinct argument sets (atomic) */
    uint64_t prof_seen;     /* profile mode: of those, made by an earlier run (atomic) */
    int seg_slot;           /* statistics slot in the shared segment, -1 = none */
    uint8_t ident[16];      /* XXH3-128 of the identity prefix: leads shared-tier keys */
    uint64_t max_miss_ns;   /* longest miss seen (atomic): singleflight = auto */
    uint64_t seg_mean_ns;   /* mean miss over all processes, from the segment (cached) */
    uint32_t seg_mean_age;  /* misses since seg_mean_ns was read */
    uint64_t flushed[8];    /* counters already added to the segment (struct cm_stat) */
    uint8_t codeid[17];     /* identity = code: 'C' + 16-byte code identity (codeid.h) */
    uint8_t codeid_len;     /* 0: the key uses the object's identity (or none) */
    uint8_t quarantined;    /* a verified hit differed: no longer served (atomic) */
    uint64_t verified;      /* hits re-checked against a fresh call (atomic) */
    uint64_t mismatches;    /* ... that differed (atomic) */
    uint8_t sensitive;      /* sensitive = yes: keyed digests, sealed values, no memory
                               tier, remote only under secret_file */
    uint8_t key_crypto;     /* large inputs enter the key as SHA-256 (remote tier on) */
    uint8_t has_inout;      /* some inout parameter: hits restore from private copies */
    uint8_t remote_ok;      /* the remote tier may hold this function's entries */
    uint32_t why_logged;    /* bypass reasons already explained on stderr (atomic bits) */
    uint64_t why[CM_WHY_N]; /* bypassed calls by reason (atomic; slow path only) */
};

union cm_fn_slot {
    struct cm_fn fn;
    char pad[CM_FN_SIZE];
};

/* Defined in fn.c. Hidden, so the dispatcher reaches them PC-relative, not through the GOT
 * (-fvisibility=hidden covers definitions only, not these declarations). */
extern union cm_fn_slot cm_fns[CM_MAX_VARIANTS] __attribute__((visibility("hidden")));
extern uint32_t cm_nfns __attribute__((visibility("hidden")));   /* variants bound (atomic) */
extern int cm_tier_memory __attribute__((visibility("hidden"))); /* [cache] tiers has memory */

/* ---- stats: per-variant call counters, kept per thread so the hit path never executes a locked
 * instruction.
 *
 * DESIGN: each thread owns one block (one struct cm_stat per variant), obtained on its first
 * hooked call (mmap, async-signal-safe) and registered in a global list. Only the owner writes
 * its block, with relaxed atomic load+store pairs (plain mov/add, no lock prefix); readers
 * (the report) sum all blocks with relaxed loads. When a thread exits its block is released, not
 * freed, and the next new thread adopts it and keeps adding: sums stay right and memory stays
 * bounded by the peak number of threads. In a fork child all counts are reset to zero.
 */
/* Every counted call increments exactly one outcome; `calls` is only ever computed as their sum
 * (one store per call instead of two). */
struct cm_stat {
    uint64_t calls, hit_mem, hit_shared, hit_remote, misses, errors, bypassed, miss_ticks;
};

struct cm_tstats {
    struct cm_tstats *next; /* global list, append-only */
    int in_use;             /* atomic: 1 while a thread owns it */
    struct cm_stat s[CM_MAX_VARIANTS];
};

extern __thread struct cm_tstats *cm_stats_mine
    __attribute__((tls_model("initial-exec"), visibility("hidden")));
struct cm_tstats *cm_stats_create(void);

/* This thread's block, creating it on first use; NULL if that failed (then nothing is counted). */
static inline struct cm_tstats *cm_stats_self(void)
{
    struct cm_tstats *ts = cm_stats_mine;
    return ts ? ts : cm_stats_create();
}

#define CM_STAT_ADD(ts, id, field, n)                                                              \
    __atomic_store_n(&(ts)->s[(id)].field,                                                         \
                     __atomic_load_n(&(ts)->s[(id)].field, __ATOMIC_RELAXED) + (n),                \
                     __ATOMIC_RELAXED)

/* Sum of every block for variant `id`. */
void cm_stats_sum(uint32_t id, struct cm_stat *out);

/* fork child: zero every block, keep only the calling thread's. */
void cm_stats_after_fork(void);

/* profile mode: record key hash `h` for variant `id`; returns 1 if it was new. The set is
 * bounded; once full, cm_stats_distinct_overflow() is true and distinct counts are unknown. */
int cm_stats_distinct_add(uint32_t id, uint64_t h);
int cm_stats_distinct_overflow(void);

/* ---- tls: per-thread buffers of the dispatcher.
 *
 * What it does: hands out this thread's scratch buffers (for keys, values and raw entries larger
 * than the dispatcher's on-stack buffers) and the per-variant buffers that `str` return values
 * live in on a hit ("valid until the next call of that function on this thread"). Buffers grow
 * with mmap/mremap (async-signal-safe, never the host's malloc) and are reused, so steady-state
 * hits allocate nothing; they are released when the thread exits.
 *
 * What it does not do: statistics (stats.c).
 */
enum cm_scratch {
    CM_SCRATCH_KEY = 0, /* argument bytes too large for the stack */
    CM_SCRATCH_VAL,     /* value bytes */
    CM_SCRATCH_RAW,     /* a raw memory-tier entry */
    CM_SCRATCH_FULL,    /* a full (prefix + arguments) shared-tier key */
    CM_SCRATCH_SHV,     /* a value read from the shared tier */
    CM_SCRATCH_SEAL,    /* a sensitive function's sealed value */
    CM_SCRATCH_VFY,     /* verify: the cached value being compared; probe: the first run's value */
    CM_SCRATCH_RMT,     /* an envelope copied from the agent's reply */
    CM_SCRATCH_SEEN,    /* the keys of recent shared-tier hits (cm_shared_fill_wanted) */
    CM_SCRATCH_N
};

/* This thread's scratch buffers (tls.c owns them: grown there, unmapped and zeroed when the
 * thread exits). Read inline by cm_tls_scratch, so that a buffer already large enough costs a
 * load and a compare on the hit paths. */
struct cm_scratch_buf {
    uint8_t *p;
    size_t cap;
};
extern __thread struct cm_scratch_buf cm_scratch_bufs[CM_SCRATCH_N]
    __attribute__((tls_model("initial-exec")));
uint8_t *cm_tls_scratch_grow(enum cm_scratch which, size_t size);

/* A buffer of at least `size` bytes (8-byte aligned), or NULL. Contents are not preserved
 * across growth. */
static inline uint8_t *cm_tls_scratch(enum cm_scratch which, size_t size)
{
    struct cm_scratch_buf *b = &cm_scratch_bufs[which];
    return __builtin_expect(b->cap >= size, 1) ? b->p : cm_tls_scratch_grow(which, size);
}

/* The `str` return buffer of variant `id` on this thread, at least `size` bytes, or NULL. */
char *cm_tls_strbuf(uint32_t id, size_t size);

/* The nesting store: per-thread memory that nests like a stack, for the state of calls whose
 * original is running (dispatch.c keeps it there, off the host's stack). cm_tls_push() returns
 * `size` bytes (64-byte aligned) above everything pushed before, or NULL when the thread's share
 * (CM_NEST_MAX) is used up or memory cannot be mapped; cm_tls_pop(p) frees p and everything
 * pushed after it. Grown in chunks with mmap (async-signal-safe), never released before the
 * thread exits. */
#define CM_NEST_CHUNK (1u << 20)
#define CM_NEST_MAX (16u << 20)
void *cm_tls_push(size_t size);
void cm_tls_pop(void *p);

/* ---- lazy: the shim's optional libraries, loaded when first needed (lazy.c).
 *
 * libcloudm.so is linked against libc alone: Zydis (inline hooks, code identities), libelf and
 * the zlib it needs (symbol tables, compressed sections) and libinih (the config parser) are
 * opened with dlopen(RTLD_LOCAL) the first time one of their functions is called, and their
 * functions found with dlsym/dlvsym into a per-library table (lazy_zydis.c, lazy_elf.c,
 * lazy_inih.c define those functions under the libraries' own names, so their callers are
 * unchanged). Observation mode and a config of GOT hooks alone load none of them. A library
 * that cannot be loaded gives one line on stderr and the calling function's error value (the
 * hook that needed it is not installed: the real function runs).
 *
 * What it does not do: no unloading (the libraries stay for the life of the process), nothing
 * for the `cloudm` command, which links them normally.
 */
struct cm_lazy_sym {
    const char *name;
    const char *version; /* the symbol version to bind (dlvsym), or NULL (dlsym) */
};

struct cm_lazy {
    const char *soname;               /* what dlopen is given */
    const char *needed_for;           /* for the message: what does not work without it */
    const struct cm_lazy_sym *syms;   /* nsyms names */
    void **ptrs;                      /* nsyms addresses, filled at load */
    int nsyms;
    int state;                        /* 0 not tried, 1 loaded, -1 failed (atomic) */
    uintptr_t base;                   /* its load bias once loaded (link_map l_addr) */
};

/* The address of function i of `l`, loading the library the first time; NULL when it cannot
 * be loaded (one message on stderr, once). Thread-safe, no lock (every thread that races
 * stores the same addresses); errno is kept. */
void *cm_lazy_get(struct cm_lazy *l, int i);

/* 1 when the object loaded at bias `base` is one of the libraries loaded this way (the
 * observation mode leaves them, and what only they need, alone). */
int cm_lazy_owns(uintptr_t base);

#endif /* __ASSEMBLER__ */

#endif
