/*
 * lazy.c - loads the shim's optional libraries (Zydis, libelf, libinih) when first needed
 * (base.h, "lazy").
 *
 * What it does: cm_lazy_get() opens a library with dlopen(RTLD_NOW | RTLD_LOCAL) the first time
 * one of its functions is wanted, finds every function of its table (dlvsym when a version is
 * named, so the same implementation is bound as a link-time reference would bind), publishes
 * the table with a release store of `state`, and remembers the library's load bias
 * (cm_lazy_owns). A library or a function that cannot be found gives one line on stderr naming
 * the library, the loader's reason and what does not work without it; every later call returns
 * NULL at once.
 *
 * DESIGN: no lock. Threads that race on the first use each open the library (dlopen counts the
 * references: one object, the same addresses) and store the same addresses; the first to
 * finish publishes. So a fork child never inherits a held lock here, and a signal handler can
 * never block on one. dlopen from a constructor (the config is parsed in one) is allowed: the
 * loader's lock is recursive.
 *
 * What it does not do: no dlclose (the libraries stay), no knowledge of any one library (the
 * tables live in lazy_zydis.c, lazy_elf.c, lazy_inih.c).
 */
#include "base.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>

#define MAX_LOADED 8

static uintptr_t loaded[MAX_LOADED]; /* load biases of the libraries opened here, 0 = free */

static void remember(uintptr_t base)
{
    for (int i = 0; i < MAX_LOADED; i++) {
        uintptr_t v = __atomic_load_n(&loaded[i], __ATOMIC_ACQUIRE);
        if (v == base)
            return;
        if (v == 0 && __atomic_compare_exchange_n(&loaded[i], &v, base, 0, __ATOMIC_RELEASE,
                                                  __ATOMIC_ACQUIRE))
            return;
        if (v == base) /* another thread took the slot for the same library */
            return;
    }
}

int cm_lazy_owns(uintptr_t base)
{
    for (int i = 0; i < MAX_LOADED; i++)
        if (base && __atomic_load_n(&loaded[i], __ATOMIC_ACQUIRE) == base)
            return 1;
    return 0;
}

static void fail(struct cm_lazy *l, const char *why)
{
    cm_log_once(l->soname, "cannot load %s (%s): %s", l->soname, why ? why : "unknown error",
                l->needed_for);
    int expected = 0; /* a thread that loaded it meanwhile wins */
    __atomic_compare_exchange_n(&l->state, &expected, -1, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

static void load(struct cm_lazy *l)
{
    void *h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fail(l, dlerror());
        return;
    }
    for (int i = 0; i < l->nsyms; i++) {
        const struct cm_lazy_sym *s = &l->syms[i];
        void *p = s->version ? dlvsym(h, s->name, s->version) : dlsym(h, s->name);
        if (!p) {
            const char *e = dlerror();
            fail(l, e ? e : s->name);
            dlclose(h); /* not the library we need: let it go */
            return;
        }
        __atomic_store_n(&l->ptrs[i], p, __ATOMIC_RELAXED);
    }
    struct link_map *lm = NULL;
    if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm) {
        __atomic_store_n(&l->base, (uintptr_t)lm->l_addr, __ATOMIC_RELAXED);
        remember((uintptr_t)lm->l_addr);
    }
    int expected = 0;
    __atomic_compare_exchange_n(&l->state, &expected, 1, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

void *cm_lazy_get(struct cm_lazy *l, int i)
{
    int st = __atomic_load_n(&l->state, __ATOMIC_ACQUIRE);
    if (__builtin_expect(st == 0, 0)) {
        int saved = errno;
        load(l);
        errno = saved;
        st = __atomic_load_n(&l->state, __ATOMIC_ACQUIRE);
    }
    return st == 1 ? __atomic_load_n(&l->ptrs[i], __ATOMIC_RELAXED) : NULL;
}
