/*
 * objects.c - the table of loaded ELF objects (see objects.h and objtab.h).
 *
 * What it does: enumerates loaded objects with dl_iterate_phdr, creates one record per object
 * (real path, load bias, PT_LOAD span, identity, dlopen handle, parsed dynamic section), and
 * publishes an immutable snapshot sorted by address for cm_object_at().
 *
 * What it does not do: no patching and no symbol resolution across objects (got.c, resolve.c),
 * no decision about dlopen groups (dlwrap.c fills or_root).
 *
 * Identity: the GNU build-id note (NT_GNU_BUILD_ID, read from the PT_NOTE segments in memory);
 * without one, XXH3-128 of the file's bytes; if the file cannot be read either (deleted,
 * replaced), XXH3-128 of the object's read-only PT_LOAD bytes in memory, with a warning.
 *
 * DESIGN: cm_objects_refresh() runs under `tab_lock` (callers in the hook layer already hold the
 * hook lock; order: hook lock, then tab_lock). It builds a new snapshot and publishes it with a
 * release store into `cur`; readers (cm_object_at, on the hot path) do one acquire load and a
 * binary search: no lock, no allocation, no system call. A replaced snapshot is pushed on the
 * `ot_retired` chain and never freed, so a reader still searching it is safe; records are never
 * freed either. Handles: initial objects (present at the first refresh) keep the dlopen
 * reference we take (they can never be unloaded anyway); for later objects the reference is
 * dropped at once, so the program's dlclose still unloads them, and `handle` stays usable while
 * the object is loaded. Code that resolves through such an object takes a temporary reference
 * (cm_objrec_ref) first, so a concurrent dlclose cannot pull it away mid-use.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "elf.h"

#include "base/base.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>
#include <xxhash.h>

#define MAX_LMIDS 16     /* dlmopen namespaces we can give handles to */
#define HASH_CHUNK 65536 /* read size when hashing a file */

static pthread_mutex_t tab_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cm_objtab *cur;         /* published snapshot (atomic pointer) */
static struct cm_objrec *all_records; /* every record ever made (tab_lock) */
static unsigned refreshes;            /* completed refreshes (tab_lock) */
static long lmids[MAX_LMIDS];         /* known non-base namespaces (tab_lock) */
static int nlmids;
static char exe_path[PATH_MAX];

/* One object as seen by dl_iterate_phdr, before it is matched to a record. */
struct seen {
    char *name;
    uintptr_t base, lo, hi, dynamic;
    uint8_t id[32];
    uint8_t idlen;
    const ElfW(Phdr) * phdr;
    ElfW(Half) phnum;
};

struct seen_list {
    struct seen *v;
    size_t n, cap;
    bool oom;
};

/* ---- identity ---------------------------------------------------------------------------- */

static size_t align_up(size_t v, size_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* Copy the GNU build-id of an object (notes in memory); returns its length or 0. */
static uint8_t build_id(const struct seen *s)
{
    for (ElfW(Half) i = 0; i < s->phnum; i++) {
        const ElfW(Phdr) *ph = s->phdr + i;
        if (ph->p_type != PT_NOTE)
            continue;
        size_t al = ph->p_align == 8 ? 8 : 4;
        const uint8_t *p = (const uint8_t *)(s->base + ph->p_vaddr);
        const uint8_t *end = p + ph->p_memsz;
        if ((uintptr_t)p < s->lo || (uintptr_t)end > s->hi || end < p)
            continue;
        while ((size_t)(end - p) >= sizeof(ElfW(Nhdr))) {
            const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
            size_t off = sizeof(*n);
            size_t name_end = off + align_up(n->n_namesz, al);
            size_t desc_end = name_end + align_up(n->n_descsz, al);
            if (n->n_namesz > (size_t)(end - p) || n->n_descsz > (size_t)(end - p) ||
                desc_end > (size_t)(end - p))
                break;
            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
                memcmp(p + off, "GNU", 4) == 0 && n->n_descsz > 0) {
                size_t len = n->n_descsz > 32 ? 32 : n->n_descsz;
                memcpy((void *)s->id, p + name_end, len);
                return (uint8_t)len;
            }
            p += desc_end;
        }
    }
    return 0;
}

static int hash_file(const char *path, uint8_t out[16])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = -ENOMEM;
    XXH3_state_t *st = XXH3_createState();
    unsigned char *buf = malloc(HASH_CHUNK);
    if (!st || !buf)
        goto out;
    XXH3_128bits_reset(st);
    for (;;) {
        ssize_t n = read(fd, buf, HASH_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            goto out;
        }
        if (n == 0)
            break;
        XXH3_128bits_update(st, buf, (size_t)n);
    }
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
    memcpy(out, c.digest, 16);
    rc = 0;
out:
    free(buf);
    XXH3_freeState(st);
    close(fd);
    return rc;
}

/* Fallback identity: the read-only loaded bytes (file contents, not relocated). */
static void hash_memory(const struct seen *s, uint8_t out[16])
{
    XXH3_state_t *st = XXH3_createState();
    if (!st) {
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits(s->name, strlen(s->name)));
        memcpy(out, c.digest, 16);
        return;
    }
    XXH3_128bits_reset(st);
    for (ElfW(Half) i = 0; i < s->phnum; i++) {
        const ElfW(Phdr) *ph = s->phdr + i;
        if (ph->p_type == PT_LOAD && !(ph->p_flags & PF_W))
            XXH3_128bits_update(st, (const void *)(s->base + ph->p_vaddr), ph->p_filesz);
    }
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
    memcpy(out, c.digest, 16);
    XXH3_freeState(st);
}

/* ---- enumeration --------------------------------------------------------------------------- */

static int collect(struct dl_phdr_info *info, size_t size, void *p)
{
    (void)size;
    struct seen_list *l = p;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct seen *v = realloc(l->v, cap * sizeof(*v));
        if (!v) {
            l->oom = true;
            return 1;
        }
        l->v = v;
        l->cap = cap;
    }
    struct seen *s = &l->v[l->n];
    memset(s, 0, sizeof(*s));
    s->base = info->dlpi_addr;
    s->phdr = info->dlpi_phdr;
    s->phnum = info->dlpi_phnum;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = info->dlpi_phdr + i;
        if (ph->p_type == PT_LOAD) {
            uintptr_t a = info->dlpi_addr + ph->p_vaddr;
            if (a < lo)
                lo = a;
            if (a + ph->p_memsz > hi)
                hi = a + ph->p_memsz;
        } else if (ph->p_type == PT_DYNAMIC) {
            s->dynamic = info->dlpi_addr + ph->p_vaddr;
        }
    }
    if (lo >= hi)
        return 0; /* nothing mapped: ignore */
    s->lo = lo;
    s->hi = hi;
    s->name = strdup(info->dlpi_name ? info->dlpi_name : "");
    if (!s->name) {
        l->oom = true;
        return 1;
    }
    s->idlen = build_id(s);
    l->n++;
    return 0;
}

/* ---- handles ------------------------------------------------------------------------------- */

static bool handle_is(void *h, uintptr_t base, uintptr_t dynamic)
{
    struct link_map *lm = NULL;
    if (dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || !lm)
        return false;
    return lm->l_addr == base && (uintptr_t)lm->l_ld == dynamic;
}

/* A new reference to the object loaded at (base, dynamic) under `name`, or NULL. */
static void *open_ref(const char *name, uintptr_t base, uintptr_t dynamic, long *lmid)
{
    void *h = dlopen(name, RTLD_NOLOAD | RTLD_LAZY);
    if (h && handle_is(h, base, dynamic)) {
        *lmid = 0;
        return h;
    }
    if (h)
        dlclose(h);
    for (int i = 0; i < nlmids; i++) {
        h = dlmopen(lmids[i], name, RTLD_NOLOAD | RTLD_LAZY);
        if (h && handle_is(h, base, dynamic)) {
            *lmid = lmids[i];
            return h;
        }
        if (h)
            dlclose(h);
    }
    (void)dlerror(); /* do not leave our failures for the host's dlerror() */
    return NULL;
}

void *cm_objrec_ref(struct cm_objrec *r)
{
    if (r->or_kind == CM_OBJ_MAIN)
        return r->or_pub.handle;
    if (r->or_kind == CM_OBJ_VDSO || !r->or_lname[0])
        return NULL;
    if (r->or_pinned && r->or_pub.handle) /* held for good: no second reference needed */
        return r->or_pub.handle;
    long lmid = 0;
    return open_ref(r->or_lname, r->or_pub.base, r->or_dynamic, &lmid);
}

void cm_objrec_unref(void *h)
{
    if (h) {
        const struct cm_objtab *t = cm_objects_current();
        for (size_t i = 0; t && i < t->ot_n; i++) {
            const struct cm_objrec *r = t->ot_order[i];
            if ((r->or_kind == CM_OBJ_MAIN || r->or_pinned) && r->or_pub.handle == h)
                return; /* the executable's handle, or one held for good: ours to keep */
        }
        dlclose(h);
    }
}

void cm_objrec_pin(struct cm_objrec *r)
{
    if (r->or_pinned)
        return;
    void *h = cm_objrec_ref(r); /* deliberately never released */
    if (h)
        r->or_pinned = true;
}

void cm_objects_atfork(int after)
{
    if (after)
        pthread_mutex_unlock(&tab_lock);
    else
        pthread_mutex_lock(&tab_lock);
}

void cm_objects_note_lmid(long lmid)
{
    if (lmid == 0)
        return;
    pthread_mutex_lock(&tab_lock);
    bool known = false;
    for (int i = 0; i < nlmids; i++)
        known |= lmids[i] == lmid;
    if (!known && nlmids < MAX_LMIDS)
        lmids[nlmids++] = lmid;
    else if (!known)
        cm_log_once("lmids",
                    "more than %d dlmopen namespaces: objects in the others are not "
                    "hooked",
                    MAX_LMIDS);
    pthread_mutex_unlock(&tab_lock);
}

struct cm_objrec *cm_objrec_of_handle(void *handle)
{
    struct link_map *lm = NULL;
    if (!handle || dlinfo(handle, RTLD_DI_LINKMAP, &lm) != 0 || !lm) {
        (void)dlerror();
        return NULL;
    }
    const struct cm_objtab *t = cm_objects_current();
    for (size_t i = 0; t && i < t->ot_n; i++) {
        struct cm_objrec *r = t->ot_order[i];
        if (r->or_pub.base == lm->l_addr && r->or_dynamic == (uintptr_t)lm->l_ld)
            return r;
    }
    return NULL;
}

/* ---- records ------------------------------------------------------------------------------- */

static int classify(const struct seen *s, bool first)
{
    uintptr_t self = (uintptr_t)&cm_objects_refresh;
    Dl_info di;
    if (dladdr((void *)&cm_objects_refresh, &di) && di.dli_fbase)
        self = (uintptr_t)di.dli_fbase;
    if (self >= s->lo && self < s->hi)
        return CM_OBJ_SELF;
    uintptr_t vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
    if (vdso && vdso >= s->lo && vdso < s->hi)
        return CM_OBJ_VDSO;
    uintptr_t ldso = (uintptr_t)getauxval(AT_BASE);
    if (ldso && s->base == ldso)
        return CM_OBJ_LDSO;
    if (first && s->name[0] == '\0')
        return CM_OBJ_MAIN;
    return CM_OBJ_NORMAL;
}

/* realpath() with the directories resolved once (tab_lock held): most objects share a few
 * directories, and realpath reads every component's link (a system call each, ~50 at start-up
 * for a small program). Only the last component is then checked for a link. The cache keeps
 * directories of up to DIR_CACHED bytes (one page for all: every page touched at start-up is a
 * fault, microseconds in a virtual machine); a longer one is resolved by realpath each time. */
#define DIR_CACHED 256
static bool real_path(const char *p, char *out)
{
    static struct {
        char dir[DIR_CACHED], real[DIR_CACHED];
    } dirs[8];
    static int ndirs;
    const char *slash = strrchr(p, '/');
    if (!slash || slash == p || (size_t)(slash - p) >= DIR_CACHED || !strcmp(slash, "/.") ||
        !strcmp(slash, "/..") || !slash[1])
        return realpath(p, out) != NULL;
    size_t dl = (size_t)(slash - p);
    int i;
    for (i = 0; i < ndirs; i++)
        if (strlen(dirs[i].dir) == dl && memcmp(dirs[i].dir, p, dl) == 0)
            break;
    if (i == ndirs) {
        char dir[PATH_MAX];
        memcpy(dir, p, dl);
        dir[dl] = '\0';
        if (!realpath(dir, out) || strlen(out) >= DIR_CACHED)
            return realpath(p, out) != NULL;
        i = ndirs < 8 ? ndirs++ : 7; /* the last slot is reused */
        memcpy(dirs[i].dir, dir, dl + 1);
        snprintf(dirs[i].real, sizeof(dirs[i].real), "%s", out);
    }
    char cand[PATH_MAX], link[NAME_MAX + 1];
    const char *base = slash + 1, *rd = strcmp(dirs[i].real, "/") ? dirs[i].real : "";
    for (int hop = 0; hop < 8; hop++) { /* a link to a name in the same directory: followed */
        if ((size_t)snprintf(cand, sizeof(cand), "%s/%s", rd, base) >= sizeof(cand))
            break;
        ssize_t n = readlink(cand, link, sizeof(link) - 1);
        if (n < 0 && errno == EINVAL) { /* not a link: done */
            memcpy(out, cand, strlen(cand) + 1);
            return true;
        }
        if (n <= 0)
            break;
        link[n] = '\0';
        if (strchr(link, '/') || !strcmp(link, ".") || !strcmp(link, ".."))
            break;
        base = link;
    }
    return realpath(p, out) != NULL;
}

static struct cm_objrec *make_record(struct seen *s, bool first, bool initial)
{
    struct cm_objrec *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->or_kind = classify(s, first);
    r->or_lname = s->name;
    s->name = NULL; /* owned by the record now */
    r->or_dynamic = s->dynamic;
    r->or_pub.base = s->base;
    r->or_pub.lo = s->lo;
    r->or_pub.hi = s->hi;

    char real[PATH_MAX];
    const char *path = r->or_lname;
    if (r->or_kind == CM_OBJ_MAIN)
        path = exe_path;
    else if (r->or_kind == CM_OBJ_VDSO)
        path = "[vdso]";
    else if (real_path(r->or_lname, real))
        path = real;
    r->or_pub.path = strdup(path);
    if (!r->or_pub.path)
        r->or_pub.path = r->or_lname;

    if (s->idlen) {
        memcpy(r->or_pub.id, s->id, s->idlen);
        r->or_pub.idlen = s->idlen;
        r->or_pub.id_is_build_id = true;
    } else {
        if (r->or_kind == CM_OBJ_VDSO || hash_file(r->or_pub.path, r->or_pub.id) != 0) {
            cm_log_once(r->or_pub.path,
                        "%s: no build-id and the file cannot be read; "
                        "identifying it by its loaded bytes",
                        r->or_pub.path);
            hash_memory(s, r->or_pub.id);
        }
        r->or_pub.idlen = 16;
    }

    if (r->or_kind == CM_OBJ_MAIN) {
        r->or_pub.handle = dlopen(NULL, RTLD_LAZY);
        r->or_pinned = true;
    } else if (r->or_kind != CM_OBJ_VDSO && r->or_lname[0]) {
        void *h = open_ref(r->or_lname, s->base, s->dynamic, &r->or_lmid);
        r->or_pub.handle = h;
        if (h && (initial || r->or_kind != CM_OBJ_NORMAL))
            r->or_pinned = true; /* initial objects are never unloaded: keep the reference */
        else if (h)
            dlclose(h);
        if (!h)
            cm_debug("%s: no dlopen handle (another namespace?): not hooked", r->or_pub.path);
    }

    if (r->or_kind == CM_OBJ_NORMAL || r->or_kind == CM_OBJ_MAIN) {
        const char *why = NULL;
        if (!s->dynamic)
            why = "no PT_DYNAMIC";
        else if (cm_dyn_parse(&r->or_dyn, s->base, (const ElfW(Dyn) *)s->dynamic, s->lo, s->hi,
                              &why) == 0)
            r->or_dyn_ok = true;
        if (!r->or_dyn_ok && s->dynamic)
            cm_log_once(r->or_pub.path, "%s: skipped, malformed dynamic section (%s)",
                        r->or_pub.path, why);
        if (!r->or_pub.handle && r->or_kind == CM_OBJ_NORMAL)
            r->or_dyn_ok = false; /* cannot resolve through it: leave it alone */
    }
    cm_debug("object %s: kind %d, base %#lx, span %#lx-%#lx, handle %p, %s", r->or_pub.path,
             r->or_kind, (unsigned long)s->base, (unsigned long)s->lo, (unsigned long)s->hi,
             r->or_pub.handle, r->or_dyn_ok ? "parsed" : "not parsed");
    if (initial)
        r->or_grouped = true; /* present at start-up: the global scope */
    r->or_next = all_records;
    all_records = r;
    return r;
}

static int cmp_lo(const void *a, const void *b)
{
    const struct cm_objrec *x = *(struct cm_objrec *const *)a, *y = *(struct cm_objrec *const *)b;
    return x->or_pub.lo < y->or_pub.lo ? -1 : x->or_pub.lo > y->or_pub.lo;
}

int cm_objects_refresh(void)
{
    int saved = errno;
    int rc = 0;
    struct seen_list l = {0};
    struct cm_objtab *t = NULL;
    pthread_mutex_lock(&tab_lock);
    if (!exe_path[0]) {
        ssize_t n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);
        exe_path[n > 0 ? n : 0] = '\0';
    }
    dl_iterate_phdr(collect, &l);
    if (l.oom) {
        rc = -ENOMEM;
        goto out;
    }
    t = calloc(1, sizeof(*t));
    if (t) {
        t->ot_order = calloc(l.n ? l.n : 1, sizeof(*t->ot_order));
        t->ot_bylo = calloc(l.n ? l.n : 1, sizeof(*t->ot_bylo));
    }
    if (!t || !t->ot_order || !t->ot_bylo) {
        rc = -ENOMEM;
        goto out;
    }
    for (struct cm_objrec *r = all_records; r; r = r->or_next)
        r->or_live = false;
    bool initial = refreshes == 0;
    for (size_t i = 0; i < l.n; i++) {
        struct seen *s = &l.v[i];
        struct cm_objrec *r = NULL;
        /* same object as in the previous snapshot? (a reload at one address is a new record) */
        for (size_t k = 0; cur && k < cur->ot_n && !r; k++) {
            struct cm_objrec *q = cur->ot_order[k];
            if (!q->or_live && q->or_pub.base == s->base && q->or_dynamic == s->dynamic &&
                q->or_pub.lo == s->lo && strcmp(q->or_lname, s->name) == 0)
                r = q;
        }
        if (!r)
            r = make_record(s, i == 0, initial);
        if (!r) {
            rc = -ENOMEM;
            continue;
        }
        r->or_live = true;
        r->or_order = (unsigned)t->ot_n;
        t->ot_order[t->ot_n] = r;
        t->ot_bylo[t->ot_n] = r;
        t->ot_n++;
    }
    if (cur && cur->ot_n == t->ot_n &&
        memcmp(cur->ot_order, t->ot_order, t->ot_n * sizeof(*t->ot_order)) == 0) {
        refreshes++;
        goto out; /* nothing changed: keep the published snapshot (retired ones are never freed) */
    }
    qsort(t->ot_bylo, t->ot_n, sizeof(*t->ot_bylo), cmp_lo);
    t->ot_retired = cur;
    __atomic_store_n(&cur, t, __ATOMIC_RELEASE);
    t = NULL;
    refreshes++;
out:
    if (t) {
        free(t->ot_order);
        free(t->ot_bylo);
        free(t);
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.v[i].name);
    free(l.v);
    pthread_mutex_unlock(&tab_lock);
    errno = saved;
    return rc;
}

const struct cm_objtab *cm_objects_current(void)
{
    return __atomic_load_n(&cur, __ATOMIC_ACQUIRE);
}

const struct cm_object *cm_object_at(const void *addr)
{
    const struct cm_objtab *t = __atomic_load_n(&cur, __ATOMIC_ACQUIRE);
    if (!t)
        return NULL;
    uintptr_t a = (uintptr_t)addr;
    size_t lo = 0, hi = t->ot_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct cm_objrec *r = t->ot_bylo[mid];
        if (a < r->or_pub.lo)
            hi = mid;
        else if (a >= r->or_pub.hi)
            lo = mid + 1;
        else
            return &r->or_pub;
    }
    return NULL;
}

const struct cm_object *cm_object_by_path(const char *path)
{
    const struct cm_objtab *t = cm_objects_current();
    for (size_t i = 0; t && i < t->ot_n; i++)
        if (strcmp(t->ot_order[i]->or_pub.path, path) == 0)
            return &t->ot_order[i]->or_pub;
    return NULL;
}

void *cm_object_symbol(const struct cm_object *o, const char *name)
{
    if (!o || !o->handle)
        return NULL;
    void *p = dlsym(o->handle, name);
    if (!p)
        (void)dlerror();
    return p;
}
