/*
 * got.c - installing hooks by rewriting GOT slots (see hook.h).
 *
 * What it does: for every loaded object other than the vDSO, ld.so and ourselves, walks its
 * JUMP_SLOT and GLOB_DAT relocations; a slot whose symbol is a target gets the entry the
 * dispatcher's bind() returns for the implementation that object reaches (resolve.c); a slot for
 * dlopen, dlmopen, dlclose, dlsym or dlvsym gets our wrapper (dlwrap.c), one for a credential or
 * sandbox call (setuid family, prctl, syscall) gets syswrap.c's. Keeps the binding table
 * (target, original) -> entry through table.c, and prints the imports for `cloudm check`.
 *
 * What it does not do: no code patching (codehook.c, arch/x86_64/inline.c), no pass order
 * (install.c), no binding table (table.c); no R_X86_64_64 data pointers to
 * functions (e.g. a vtable-like table of `&sin` in a data section); never reads a slot's current
 * value as an original (it may be the lazy PLT stub).
 *
 * Page protection: the protections of an object's pages are read from /proc/self/maps once per
 * object and pass; a slot on a page without write permission (full RELRO, or -fno-plt slots in
 * the RELRO .got) is stored between mprotect(RW) and mprotect(back to exactly what it was).
 *
 * DESIGN: every function here runs under the hook lock (table.c). Objects are processed once
 * each (or_hooked, install.c); a slot store is one 8-byte atomic store, so a thread calling through
 * the slot sees either the old target or the entry. Residual race, documented in docs/hooking.md: a
 * lazy (non-BIND_NOW) slot whose first call is being resolved by ld.so in another thread at the
 * very moment we patch it may be overwritten with the original by that resolution.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hook_int.h"

#include "base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_MAPS 128 /* mappings remembered per object when reading /proc/self/maps */

/* ---- page protections ---------------------------------------------------------------------- */

struct protmap {
    uintptr_t lo, hi;
    bool loaded;
    int err; /* -errno when /proc/self/maps could not be read (EMFILE under a descriptor limit) */
    int n;
    struct {
        uintptr_t a, b;
        int prot;
    } e[MAX_MAPS];
};

static uintptr_t parse_hex(const char **p)
{
    uintptr_t v = 0;
    for (;; (*p)++) {
        char c = **p;
        if (c >= '0' && c <= '9')
            v = v * 16 + (uintptr_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v * 16 + (uintptr_t)(c - 'a' + 10);
        else
            return v;
    }
}

static void protmap_line(struct protmap *m, const char *line)
{
    const char *p = line;
    uintptr_t a = parse_hex(&p);
    if (*p++ != '-')
        return;
    uintptr_t b = parse_hex(&p);
    if (*p++ != ' ' || b <= m->lo || a >= m->hi || m->n >= MAX_MAPS)
        return;
    int prot = 0;
    if (p[0] == 'r')
        prot |= PROT_READ;
    if (p[0] && p[1] == 'w')
        prot |= PROT_WRITE;
    if (p[0] && p[1] && p[2] == 'x')
        prot |= PROT_EXEC;
    m->e[m->n].a = a;
    m->e[m->n].b = b;
    m->e[m->n].prot = prot;
    m->n++;
}

/* Lines are parsed where read(2) left them (only each line's start matters: protmap_line stops
 * at the first character that is not part of "lo-hi perms"); a line longer than the buffer
 * keeps its start and the rest is skipped. */
static void protmap_load(struct protmap *m)
{
    m->loaded = true;
    m->n = 0;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        m->err = -errno;
        return;
    }
    char buf[8192 + 1];
    size_t have = 0;
    bool skipping = false; /* inside a line whose start was parsed already */
    for (;;) {
        ssize_t r = read(fd, buf + have, sizeof(buf) - 1 - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        have += (size_t)r;
        char *p = buf, *end = buf + have;
        for (char *nl; (nl = memchr(p, '\n', (size_t)(end - p))) != NULL; p = nl + 1) {
            *nl = '\0';
            if (!skipping)
                protmap_line(m, p);
            skipping = false;
        }
        if (p == buf && have == sizeof(buf) - 1) { /* no end of line in a full buffer */
            buf[have] = '\0';
            if (!skipping)
                protmap_line(m, buf);
            skipping = true;
            p = end;
        }
        have = (size_t)(end - p);
        memmove(buf, p, have);
    }
    if (have && !skipping) { /* a last line without its end of line */
        buf[have] = '\0';
        protmap_line(m, buf);
    }
    close(fd);
}

static int protmap_prot(struct protmap *m, uintptr_t addr)
{
    if (!m->loaded)
        protmap_load(m);
    for (int i = 0; i < m->n; i++)
        if (addr >= m->e[i].a && addr < m->e[i].b)
            return m->e[i].prot;
    return -1;
}

/* Store `val` into the GOT slot at `slot`. Returns 0 or -errno. */
static int slot_store(struct protmap *m, uintptr_t slot, void *val)
{
    int prot = protmap_prot(m, slot);
    if (prot < 0)
        return m->err ? m->err : -EFAULT;
    if (prot & PROT_WRITE) {
        __atomic_store_n((void **)slot, val, __ATOMIC_RELEASE);
        return 0;
    }
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t page = slot & ~((uintptr_t)pg - 1);
    if (mprotect((void *)page, (size_t)pg, prot | PROT_READ | PROT_WRITE) != 0)
        return -errno;
    __atomic_store_n((void **)slot, val, __ATOMIC_RELEASE);
    if (mprotect((void *)page, (size_t)pg, prot) != 0)
        cm_log_once("reprotect", "could not restore the protection of a GOT page at %p: %s",
                    (void *)page, strerror(errno));
    return 0;
}

/* ---- patching ------------------------------------------------------------------------------ */

static struct cm_objrec *main_record(void)
{
    const struct cm_objtab *t = cm_objects_current();
    for (size_t i = 0; t && i < t->ot_n; i++)
        if (t->ot_order[i]->or_kind == CM_OBJ_MAIN)
            return t->ot_order[i];
    return NULL;
}

void cm_got_patch_locked(struct cm_objrec *r)
{
    void *ref = cm_objrec_ref(r); /* keep it loaded while we write into it */
    if (!ref && r->or_kind != CM_OBJ_MAIN)
        return;
    struct protmap *m = calloc(1, sizeof(*m));
    if (!m) {
        cm_objrec_unref(ref);
        return;
    }
    m->lo = r->or_pub.lo;
    m->hi = r->or_pub.hi;
    const struct cm_target *targets;
    cm_hook_targets(&targets);
    struct cm_objrec *exe = main_record();
    const struct cm_dyn *d = &r->or_dyn;
    struct cm_dynreloc rel;
    size_t pos = 0;
    int failures = 0;
    while (cm_dyn_next_gotreloc(d, &pos, &rel)) {
        const char *name = cm_dyn_symname(d, rel.symindex);
        void *val = cm_dlwrap_for(name);
        if (!val)
            val = cm_syswrap_for(name);
        int ti = -1;
        if (!val)
            val = cm_hook_wrapper_for(name);
        if (!val) {
            ti = cm_hook_target_index(name);
            if (ti < 0)
                continue;
            const char *version = cm_dyn_symversion(d, rel.symindex, NULL);
            /* Another object's GLOB_DAT for a symbol the executable has a canonical PLT stub for
             * holds that stub, which jumps through the executable's own (patched) slot: leaving
             * it keeps function-pointer equality with the executable's `&name`. */
            if (rel.type == R_X86_64_GLOB_DAT && exe && exe != r && r->or_lmid == 0 &&
                exe->or_dyn_ok && cm_dyn_canonical_plt(&exe->or_dyn, name))
                continue;
            struct cm_resolved res;
            if (cm_resolve_import(r, name, version, &res) != 0) {
                cm_debug("%s: %s%s%s: no definition in its scope", r->or_pub.path, name,
                         version ? "@" : "", version ? version : "");
                continue;
            }
            if (!cm_hook_provider_matches(&targets[ti], res.provider))
                continue;
            val = cm_hook_entry_for_locked(ti, &res);
            if (!val)
                continue;
            /* The slot now reaches res.provider through our stub: if glibc does not know that r
             * depends on it (a lazy slot it has not resolved, to an object outside r's
             * DT_NEEDED closure), keep the provider loaded for good. Never otherwise: a
             * plugin's lifetime is the program's (issue 16). */
            if (res.provider != r && !cm_resolve_depends_on(r, res.provider))
                cm_objrec_pin(res.provider);
        }
        int rc = slot_store(m, rel.slot, val);
        if (rc != 0 && failures++ == 0 && m->err)
            cm_log("%s: its GOT slots cannot be patched: cannot read /proc/self/maps (needed for "
                   "their page protections): %s",
                   r->or_pub.path, strerror(-m->err));
        else if (rc != 0 && failures == 1)
            cm_log("%s: cannot patch the GOT slot of %s at %p: %s", r->or_pub.path, name,
                   (void *)rel.slot, strerror(-rc));
    }
    free(m);
    cm_objrec_unref(ref);
}

/* ---- describe ------------------------------------------------------------------------------ */

void cm_got_describe_locked(FILE *out, const char *name)
{
    const struct cm_objtab *t = cm_objects_current();
    for (size_t i = 0; t && i < t->ot_n; i++) {
        struct cm_objrec *r = t->ot_order[i];
        if (!cm_objrec_patchable(r))
            continue;
        struct cm_dynreloc rel;
        size_t pos = 0;
        while (cm_dyn_next_gotreloc(&r->or_dyn, &pos, &rel)) {
            if (strcmp(cm_dyn_symname(&r->or_dyn, rel.symindex), name) != 0)
                continue;
            const char *v = cm_dyn_symversion(&r->or_dyn, rel.symindex, NULL);
            fprintf(out, "  imported by %s (%s, version %s)\n", r->or_pub.path,
                    rel.type == R_X86_64_JUMP_SLOT ? "JUMP_SLOT" : "GLOB_DAT", v ? v : "none");
        }
    }
}
