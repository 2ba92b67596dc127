/*
 * hook.h - finding configured functions in loaded objects and redirecting their callers.
 *
 * What it does: walks every loaded ELF object (dl_iterate_phdr), finds the GOT slots
 * (R_X86_64_JUMP_SLOT and R_X86_64_GLOB_DAT) that refer to a target symbol, resolves the
 * implementation each of those callers would reach (symbol versions, IFUNCs, canonical PLT
 * stubs, RTLD_LOCAL groups), asks the dispatcher for an entry address through a callback, and
 * stores it in the slots (restoring page protections afterwards). It keeps doing so for objects
 * loaded later (dlopen/dlmopen wrappers, patched before dlopen returns) and makes dlsym/dlvsym of
 * a target return the entry.
 *
 * Targets whose `hook` asks for it are also patched inline (codehook.c, arch/x86_64/inline.c): their
 * definitions are found in the objects' symbol tables and their first bytes redirected.
 *
 * What it does not do: no memoization, no key or cache logic, and it never patches libcloudm
 * itself, the dynamic loader or the vDSO.
 */
#ifndef CM_HOOK_H
#define CM_HOOK_H

#include <stdio.h>

struct cm_object;

struct cm_target {
    const char *name;        /* symbol name */
    const char *object_glob; /* NULL or "": any provider; else glob over the provider's path,
                                optionally followed by ":GLOB" over a static's source file */
    int hook;                /* CM_TARGET_GOT (0), CM_TARGET_AUTO or CM_TARGET_INLINE */
    const char *cxx;         /* NULL, or the C++ demangled signature configured (then `name` is
                                its mangled name once found, else the signature itself) */
    const char *short_name;  /* the unqualified name (== name for C functions): for hints */
};

#define CM_TARGET_GOT 0    /* GOT slots only */
#define CM_TARGET_AUTO 1   /* GOT slots, and inline patching of definitions in the executable */
#define CM_TARGET_INLINE 2 /* inline patching of every definition, and GOT slots */

/* One implementation that some caller of a target reaches. */
struct cm_binding {
    int target;                       /* index into the targets array */
    const char *version;              /* version of the definition reached (aliases collapsed to
                                         the provider's default version when at one address),
                                         NULL when unversioned */
    void *original;                   /* resolved implementation (never an IFUNC resolver, a lazy
                                         PLT stub or a canonical PLT stub) */
    const struct cm_object *provider; /* object defining it */
    const void *code;                 /* the function's code (== original unless inline) */
    size_t code_size;                 /* its symbol size, 0 when unknown */
    int how;                          /* 0: reached through GOT slots; 1: inline hook */
    const char *name;                 /* the target's name */
    int is_func;                      /* the definition is a function (or IFUNC): 1; data: 0;
                                         unknown: -1 */
};

/*
 * Asked once per distinct (target, original). Returns the entry address to store in every slot
 * that reaches `original`, or NULL to leave those slots alone. Called with the hook lock held and
 * the recursion guard set; the answer for one (target, original) must never change.
 */
typedef void *(*cm_bind_cb)(const struct cm_binding *b);

/*
 * Install: patch all currently loaded objects, and arrange for later dlopen'ed ones.
 * `targets` must stay valid for the life of the process. Returns the number of bindings made
 * (>= 0) or a negative error. Failures on single slots or objects are reported once on stderr
 * and skipped.
 */
int cm_hook_install(const struct cm_target *targets, int n, cm_bind_cb bind);

/*
 * Observation (`cloudm discover`): like cm_hook_install, but the target list grows. Before a
 * pass processes its new objects, `feed(obj, late, ctx)` is called for each of them (hook lock
 * held, `late` true for objects loaded after installation) and may append targets to `targets`
 * (room for `cap`) through cm_hook_add_target(); the names must stay valid for the life of the
 * process. After a pass that had new objects has bound them, `feed(NULL, late, ctx)` is called
 * once more (hook lock held). Returns like cm_hook_install.
 */
typedef void (*cm_feed_cb)(const struct cm_object *obj, int late, void *ctx);
int cm_hook_install_fed(struct cm_target *targets, int cap, cm_bind_cb bind, cm_feed_cb feed,
                        void *ctx);

/* From a feed callback: append a target (no-op when a target of that name exists; the name is
 * copied). Returns its index, -ENOSPC when the array is full, or -ENOMEM. */
int cm_hook_add_target(const char *name, const char *object_glob, int hook);

/* Extra GOT wrappers (probe mode's output counting): every GOT slot importing names[i] gets
 * fns[i] instead of the C library's function. Call before cm_hook_install(); the arrays must
 * stay valid for the life of the process. */
void cm_hook_set_wrappers(const char *const *names, void *const *fns, int n);

/* Record the targets for cm_hook_describe() without patching anything (`cloudm check` before
 * or instead of cm_hook_install). Same lifetime rule for `targets`. Returns 0, -EINVAL, or
 * -EBUSY when hooks are already installed (describe then uses the installed targets). */
int cm_hook_prepare(const struct cm_target *targets, int n);

/* How many definitions of target `target` were considered for inline hooks (hooked or refused);
 * 0 when none. */
int cm_hook_inline_candidates(int target);

/* For `cloudm check PROGRAM`: for each target, which loaded objects provide it (with version and
 * address) and which import it (with relocation types); returns the number of targets found
 * nowhere. */
int cm_hook_describe(FILE *out);

/* Called (hook lock held, recursion guard set) for every entry bind() returned whose provider
 * has been unloaded (dlclose): the entry is never handed out again, and a later load of a
 * library at the same address is bound afresh. */
void cm_hook_on_unbind(void (*fn)(void *entry));

/* Called (recursion guard set, errno saved) after the program changed its credentials through
 * a libc call its GOT reaches: setuid family, setgroups, initgroups, setfsuid/setfsgid, or
 * syscall() with one of those numbers. */
void cm_hook_on_credentials(void (*fn)(void));

/* Called before the program sandboxes itself through prctl() or syscall(SYS_seccomp or
 * SYS_prctl): level CM_SANDBOX_FILTER or CM_SANDBOX_STRICT (seccomp), or CM_SANDBOX_NOTSC
 * (PR_SET_TSC to PR_TSC_SIGSEGV: rdtsc will fault). */
void cm_hook_on_sandbox(void (*fn)(int level));

#endif
