/*
 * snap.c - probe mode's snapshots: the writable segments of the loaded objects and the memory
 * reached through pointer parameters, before and after one call, and what changed.
 *
 * What it does: before a probed call, copies every writable PT_LOAD range (minus its RELRO
 * part) of every loaded object except cloudm's own, the C library, the loader, the vDSO and
 * sanitizer runtimes (their state changes under every call: allocator, stdio, random
 * generator), and for each pointer-sized parameter declared ptr, ignore, handle or in[...] the
 * memory from the pointer to the end of its mapping (at most 1 MiB), and for each out/inout
 * parameter the memory past its declared size (same bound). After the call it compares, drops
 * what the config declares (reads/writes globals) and ranges that keep changing while the
 * function is not running (other threads: a second look after waiting as long as the call
 * took), names each changed global by its symbol (.symtab/.dynsym through elf/, skipping .got)
 * and measures how far writes through each parameter reach. For the rerun it restores the
 * bytes written through parameters, and afterwards puts globals back as the first run left
 * them.
 *
 * What it does not do: decide which calls are probed (probe.c), word findings (findings.c).
 * Memory reached through parameters is read with process_vm_readv on the process itself, so a
 * pointer that is not one (an `ignore` integer) or a mapping that vanished during the call
 * reads short instead of faulting.
 */
#include "probe_int.h"

#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "elf/elf.h"

/* Weak: the dispatcher's unit test links the probe without the object table and libelf (then
 * globals are reported by address only). */
#pragma weak cm_object_at
#pragma weak cm_object_symbol
#pragma weak cm_symtab_load
#pragma weak cm_symtab_sect

#define PARAM_SPAN (1u << 20)    /* bytes snapshot through one parameter, at most */
#define GAP 64                   /* a write this far from the last one is not the same buffer's */
#define MAX_REGIONS 256          /* writable ranges of loaded objects */
#define MAX_CHANGES 64           /* changed global ranges examined per call */
#define MAX_NOISY 64             /* ranges seen changing while no probed function ran */
#define SYMCACHE 32              /* objects whose symbol tables are kept loaded */
#define GLOBALS_MAX (256u << 20) /* writable data copied per probed call, at most */

struct region {
    uintptr_t lo;
    size_t len, off; /* off: position in the buffer */
};

struct pregion {
    uintptr_t lo;
    size_t len, off;
    int param;
    int kind; /* PR_THROUGH, PR_PAST, PR_SAVE (inout bytes: restored only) */
    int64_t declared;
    size_t c0, c1; /* after the diff: the bytes written, [c0, c1) of the region */
};
enum { PR_THROUGH = 0, PR_PAST, PR_SAVE };

/* Buffers, owned by the thread holding the probe (probe.c). */
struct buf {
    uint8_t *p;
    size_t cap;
};
static struct buf gbuf, pbuf, pafter, side;
static struct region gregs[MAX_REGIONS];
static int ngregs;
static unsigned long long gadds, gsubs; /* loader counters when the regions were taken */
static struct pregion pregs[3 * CM_MAX_PARAMS];
static int npregs;
static struct {
    uintptr_t lo;
    size_t len;
} noisy[MAX_NOISY];
static int nnoisy;
static int gvalid; /* gbuf holds the state the probed call left (the rerun may restore it) */

static int buf_need(struct buf *b, size_t n)
{
    if (n <= b->cap)
        return 0;
    size_t cap = (n + 0xffff) & ~(size_t)0xffff;
    void *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    if (b->p)
        munmap(b->p, b->cap);
    b->p = p;
    b->cap = cap;
    return 0;
}

/* ---- the objects' writable ranges ---------------------------------------------------------- */

static int skipped_object(const char *name)
{
    static const char *const skip[] = {"/libc.so",   "/ld-linux", "linux-vdso", "/libcloudm",
                                       "/libasan",   "/libtsan",  "/libubsan",  "/liblsan",
                                       "/libhwasan", "clang_rt"};
    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
        if (strstr(name, skip[i]))
            return 1;
    return 0;
}

struct collect {
    struct region *out; /* NULL: only read the loader's counters */
    int n;
    unsigned long long adds, subs;
};

static int collect_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    struct collect *c = data;
    (void)size;
    c->adds = info->dlpi_adds;
    c->subs = info->dlpi_subs;
    if (!c->out || skipped_object(info->dlpi_name))
        return 0;
    uintptr_t relro_lo = 0, relro_hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_GNU_RELRO) {
            relro_lo = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
            relro_hi = relro_lo + info->dlpi_phdr[i].p_memsz;
        }
    for (int i = 0; i < info->dlpi_phnum && c->n < MAX_REGIONS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W) || ph->p_memsz == 0)
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (relro_hi > lo && relro_lo <= lo)
            lo = relro_hi < hi ? relro_hi : hi;
        if (hi > lo)
            c->out[c->n++] = (struct region){.lo = lo, .len = hi - lo};
    }
    return 0;
}

/* Whether objects were loaded or unloaded since the regions were taken. */
static int objects_changed(void)
{
    struct collect c = {0};
    dl_iterate_phdr(collect_cb, &c);
    return c.adds != gadds || c.subs != gsubs;
}

static int take_globals(void)
{
    struct collect c = {.out = gregs};
    gvalid = 0;
    dl_iterate_phdr(collect_cb, &c);
    ngregs = c.n;
    gadds = c.adds;
    gsubs = c.subs;
    size_t total = 0;
    for (int i = 0; i < ngregs; i++) {
        gregs[i].off = total;
        total += gregs[i].len;
    }
    if (total > GLOBALS_MAX) {
        cm_log_once("probe-globals",
                    "probe: the loaded objects hold %zu MiB of writable data "
                    "(more than %u MiB): writes to globals are not checked",
                    total >> 20, GLOBALS_MAX >> 20);
        ngregs = 0;
        return 0;
    }
    if (buf_need(&gbuf, total + 1) < 0) {
        ngregs = 0;
        return -1;
    }
    for (int i = 0; i < ngregs; i++)
        memcpy(gbuf.p + gregs[i].off, (const void *)gregs[i].lo, gregs[i].len);
    return 0;
}

/* ---- parameters ---------------------------------------------------------------------------- */

static size_t read_self(void *dst, uintptr_t src, size_t len)
{
    struct iovec l = {dst, len}, r = {(void *)src, len};
    ssize_t n = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
    return n > 0 ? (size_t)n : 0;
}

static int is_pointer_kind(const struct cm_param *p)
{
    return p->kind == CM_K_PTR || p->kind == CM_K_HANDLE || p->kind == CM_K_IN ||
           (p->kind == CM_K_IGNORE && p->size == 8);
}

static void add_pregion(uintptr_t lo, size_t want, int param, int kind, int64_t declared)
{
    if (!lo || npregs >= (int)(sizeof(pregs) / sizeof(pregs[0])))
        return;
    size_t off = npregs ? pregs[npregs - 1].off + pregs[npregs - 1].len : 0;
    if (buf_need(&pbuf, off + want + 1) < 0)
        return;
    size_t got = read_self(pbuf.p + off, lo, want);
    if (!got)
        return;
    pregs[npregs++] = (struct pregion){
        .lo = lo, .len = got, .off = off, .param = param, .kind = kind, .declared = declared};
}

int cm_probe_snap_begin(const struct cm_fn *fn, const struct cm_probe_args *a)
{
    const struct cm_signature *s = fn->sig;
    npregs = 0;
    for (int i = 0; i < s->nparams; i++) {
        const struct cm_param *p = &s->params[i];
        if (is_pointer_kind(p)) {
            add_pregion(a->args[i], PARAM_SPAN, i, PR_THROUGH, -1);
        } else if ((p->kind == CM_K_OUT || p->kind == CM_K_INOUT) && a->declared[i] >= 0 &&
                   a->args[i]) {
            if (p->kind == CM_K_INOUT && a->declared[i] > 0)
                add_pregion(a->args[i], (size_t)a->declared[i], i, PR_SAVE, a->declared[i]);
            add_pregion(a->args[i] + (uint64_t)a->declared[i], PARAM_SPAN, i, PR_PAST,
                        a->declared[i]);
        }
    }
    return take_globals();
}

/* ---- comparing ----------------------------------------------------------------------------- */

static int is_noisy(uintptr_t lo, size_t len)
{
    for (int i = 0; i < nnoisy; i++)
        if (lo < noisy[i].lo + noisy[i].len && noisy[i].lo < lo + len)
            return 1;
    return 0;
}

static int declared_global(const struct cm_fn *fn, uintptr_t lo, size_t len)
{
    const struct cm_function *c = fn->cfg;
    for (int g = 0; g < c->nreads; g++) {
        uintptr_t a = (uintptr_t)fn->reads_addr[g];
        if (lo < a + c->reads[g].size && a < lo + len)
            return 1;
    }
    for (int g = 0; g < c->nwrites; g++) {
        uintptr_t a = (uintptr_t)fn->writes_addr[g];
        if (lo < a + c->writes[g].size && a < lo + len)
            return 1;
    }
    return 0;
}

/* Wait about as long as the call took (20 us to 2 ms) without running anything of ours. */
static void wait_like(uint64_t call_ns)
{
    uint64_t ns = call_ns < 20000 ? 20000 : call_ns > 2000000 ? 2000000 : call_ns;
    struct timespec ts = {0, (long)ns};
    nanosleep(&ts, NULL);
}

static struct {
    const struct cm_object *o;
    struct cm_objsyms s;
    int ok;
} symcache[SYMCACHE];

static const struct cm_objsyms *syms_of(const struct cm_object *o)
{
    for (int i = 0; i < SYMCACHE; i++)
        if (symcache[i].o == o)
            return symcache[i].ok ? &symcache[i].s : NULL;
    for (int i = 0; i < SYMCACHE; i++)
        if (!symcache[i].o) {
            symcache[i].o = o;
            symcache[i].ok = cm_symtab_load(o, &symcache[i].s) == 0;
            return symcache[i].ok ? &symcache[i].s : NULL;
        }
    return NULL;
}

/* The sized data symbol holding a, or with first == true the first one starting in (a, end);
 * NULL when none. (cm_symtab_at may answer a zero-size marker such as __TMC_END__ sharing the
 * address of a real variable.) */
static const struct cm_sym *data_sym(const struct cm_objsyms *s, uintptr_t a, uintptr_t end,
                                     bool first)
{
    const struct cm_sym *best = NULL;
    for (size_t i = 0; i < s->nsyms; i++) {
        const struct cm_sym *y = &s->syms[i];
        if (y->is_func || !y->size)
            continue;
        if (!first && y->addr <= a && a < y->addr + y->size)
            return y;
        if (first && y->addr > a && y->addr < end && (!best || y->addr < best->addr))
            best = y;
    }
    return best;
}

/* Name a changed range [lo, lo + len) and record it; symbols split it. */
static void name_change(const struct cm_fn *fn, uintptr_t lo, size_t len)
{
    const struct cm_object *o = cm_object_at ? cm_object_at((const void *)lo) : NULL;
    const struct cm_objsyms *s = o && cm_symtab_load ? syms_of(o) : NULL;
    uintptr_t end = lo + len;
    while (lo < end) {
        const struct cm_sect *sect = s ? cm_symtab_sect(s, lo) : NULL;
        if (sect && (strcmp(sect->name, ".got") == 0 || strcmp(sect->name, ".got.plt") == 0)) {
            lo = sect->hi; /* lazy binding of the function's own calls */
            continue;
        }
        const struct cm_sym *y = s ? data_sym(s, lo, end, false) : NULL;
        if (y) {
            const char *nm = s->names + y->name;
            int exported = cm_object_symbol(o, nm) == (void *)y->addr;
            if (!declared_global(fn, y->addr, y->size))
                cm_probe_note_global((int)fn->func, y->addr, (uint32_t)y->size, nm, o->path,
                                     y->addr - o->base, exported);
            lo = y->addr + y->size;
            continue;
        }
        const struct cm_sym *next = s ? data_sym(s, lo, end, true) : NULL;
        uintptr_t stop = next ? next->addr : end; /* up to the next symbol: one unnamed range */
        cm_probe_note_global((int)fn->func, lo, (uint32_t)(stop - lo), NULL, o ? o->path : "?",
                             o ? lo - o->base : lo, 0);
        lo = stop;
    }
}

static void diff_globals(const struct cm_fn *fn, uint64_t call_ns)
{
    if (objects_changed())
        return; /* objects came or went during the call: the ranges are not comparable */
    struct {
        uintptr_t lo;
        size_t len;
    } ch[MAX_CHANGES];
    int nch = 0;
    for (int r = 0; r < ngregs && nch < MAX_CHANGES; r++) {
        const uint8_t *was = gbuf.p + gregs[r].off, *now = (const uint8_t *)gregs[r].lo;
        size_t len = gregs[r].len;
        for (size_t b = 0; b < len && nch < MAX_CHANGES; b += 4096) {
            size_t bl = len - b < 4096 ? len - b : 4096;
            if (memcmp(was + b, now + b, bl) == 0)
                continue;
            for (size_t i = b; i < b + bl; i++) {
                if (was[i] == now[i])
                    continue;
                uintptr_t a = gregs[r].lo + i;
                if (nch && ch[nch - 1].lo + ch[nch - 1].len + 16 >= a)
                    ch[nch - 1].len = a + 1 - ch[nch - 1].lo;
                else if (nch < MAX_CHANGES)
                    ch[nch++].lo = a, ch[nch - 1].len = 1;
            }
        }
    }
    if (!nch) {
        gvalid = 1;
        return;
    }
    /* The second look: what changes while no probed function runs is not the function's. */
    uint8_t *keep = side.p;
    size_t total = 0;
    for (int i = 0; i < nch; i++)
        total += ch[i].len;
    if (buf_need(&side, total) < 0)
        return;
    keep = side.p;
    for (int i = 0, off = 0; i < nch; off += (int)ch[i].len, i++)
        memcpy(keep + off, (const void *)ch[i].lo, ch[i].len);
    /* Two looks: after as long as the call took, then 2 ms later (a thread that was not
     * scheduled during the first wait on a busy machine gets a second chance to show). None
     * when every changed range is already known to be noisy or declared. */
    int moved[MAX_CHANGES] = {0}, open = 0;
    for (int i = 0; i < nch; i++)
        open |= !is_noisy(ch[i].lo, ch[i].len) && !declared_global(fn, ch[i].lo, ch[i].len);
    for (int look = 0; look < 2 && open; look++) {
        wait_like(look ? 2000000 : call_ns);
        for (int i = 0, off = 0; i < nch; off += (int)ch[i].len, i++)
            moved[i] |= memcmp(keep + off, (const void *)ch[i].lo, ch[i].len) != 0;
    }
    for (int i = 0; i < nch; i++) {
        if (moved[i]) {
            if (nnoisy < MAX_NOISY)
                noisy[nnoisy].lo = ch[i].lo, noisy[nnoisy++].len = ch[i].len;
            cm_probe_forget_global(ch[i].lo, ch[i].len);
            continue;
        }
        if (is_noisy(ch[i].lo, ch[i].len) || declared_global(fn, ch[i].lo, ch[i].len))
            continue;
        name_change(fn, ch[i].lo, ch[i].len);
    }
    /* The buffer now holds the state the call left (for cm_probe_rerun_undo). */
    for (int r = 0; r < ngregs; r++)
        memcpy(gbuf.p + gregs[r].off, (const void *)gregs[r].lo, gregs[r].len);
    gvalid = 1;
}

/* The memory of region r after the call, read on demand in 4 KiB steps into pafter. */
struct after {
    const struct pregion *r;
    size_t have; /* bytes of pafter valid */
    int end;     /* the mapping ended (or the region did) */
};

/* Make byte i of the region available; 0 when it cannot be. */
static int after_need(struct after *a, size_t i)
{
    while (i >= a->have && !a->end) {
        size_t want = a->r->len - a->have < 4096 ? a->r->len - a->have : 4096;
        size_t got = want ? read_self(pafter.p + a->have, a->r->lo + a->have, want) : 0;
        a->have += got;
        a->end = got < want || a->have == a->r->len;
    }
    return i < a->have;
}

/* First index in [i, stop) where the bytes differ, or (size_t)-1. */
static size_t next_diff(struct after *a, size_t i, size_t stop)
{
    const uint8_t *was = pbuf.p + a->r->off;
    for (; i < stop && after_need(a, i); i++)
        if (was[i] != pafter.p[i])
            return i;
    return (size_t)-1;
}

/* Where the writes through region r reach: [c0, c1) of the bytes that differ, starting within
 * GAP of the region's start and continuing with gaps under GAP. Reads only as much of the
 * memory after the call as that needs (pafter holds it). */
static void measure_param(struct pregion *r)
{
    struct after a = {.r = r};
    size_t first = next_diff(&a, 0, GAP < r->len ? GAP : r->len), last;
    r->c0 = r->c1 = 0;
    if (first == (size_t)-1)
        return;
    last = first;
    for (;;) {
        size_t stop = last + GAP + 1 < r->len ? last + GAP + 1 : r->len;
        size_t d = next_diff(&a, last + 1, stop);
        if (d == (size_t)-1)
            break;
        last = d;
    }
    r->c0 = first;
    r->c1 = last + 1;
}

void cm_probe_snap_end(const struct cm_fn *fn, const struct cm_probe_args *a, uint64_t call_ns)
{
    uint64_t deref[CM_MAX_PARAMS] = {0};
    for (int i = 0; i < fn->sig->nparams; i++) {
        uint8_t k = fn->sig->params[i].kind;
        if (a->args[i] && k != CM_K_INT && k != CM_K_FLOAT && k != CM_K_STR)
            read_self(&deref[i], a->args[i], 8);
    }
    for (int i = 0; i < npregs; i++) {
        struct pregion *r = &pregs[i];
        if (r->kind == PR_SAVE)
            continue;
        if (buf_need(&pafter, r->len) < 0)
            continue;
        measure_param(r);
        if (r->c1 && buf_need(&side, r->c1 - r->c0) == 0) { /* the second look */
            wait_like(call_ns);
            size_t n = r->c1 - r->c0;
            if (read_self(side.p, r->lo + r->c0, n) != n || memcmp(side.p, pafter.p + r->c0, n))
                r->c0 = r->c1 = 0; /* still changing without the call: not its writes */
        }
        uint64_t extent = r->c1 ? r->c1 : 0;
        if (r->kind == PR_PAST)
            extent = (uint64_t)r->declared + extent;
        cm_probe_note_param((int)fn->func, r->param, r->kind == PR_PAST, extent, r->declared,
                            a->args, deref);
    }
    if (ngregs)
        diff_globals(fn, call_ns);
}

/* ---- the rerun ----------------------------------------------------------------------------- */

void cm_probe_rerun_prepare(void)
{
    size_t total = 0;
    for (int i = 0; i < npregs; i++) {
        struct pregion *r = &pregs[i];
        if (r->kind == PR_SAVE)
            r->c0 = 0, r->c1 = r->len;
        total += r->c1 - r->c0;
    }
    if (buf_need(&side, total + 1) < 0) {
        npregs = 0;
        return;
    }
    /* keep what the first run wrote, then put the bytes back as they were before it */
    for (int i = 0, off = 0; i < npregs; i++) {
        struct pregion *r = &pregs[i];
        size_t n = r->c1 - r->c0;
        if (!n)
            continue;
        memcpy(side.p + off, (const void *)(r->lo + r->c0), n);
        memcpy((void *)(r->lo + r->c0), pbuf.p + r->off + r->c0, n);
        off += (int)n;
    }
}

void cm_probe_rerun_undo(void)
{
    for (int i = 0, off = 0; i < npregs; i++) {
        struct pregion *r = &pregs[i];
        size_t n = r->c1 - r->c0;
        if (!n)
            continue;
        memcpy((void *)(r->lo + r->c0), side.p + off, n);
        off += (int)n;
    }
    if (!gvalid || objects_changed())
        return;
    for (int r = 0; r < ngregs; r++) {
        uint8_t *now = (uint8_t *)gregs[r].lo;
        const uint8_t *want = gbuf.p + gregs[r].off;
        for (size_t b = 0; b < gregs[r].len; b += 4096) {
            size_t bl = gregs[r].len - b < 4096 ? gregs[r].len - b : 4096;
            if (memcmp(want + b, now + b, bl) != 0)
                for (size_t i = b; i < b + bl; i++)
                    if (now[i] != want[i])
                        now[i] = want[i];
        }
    }
}
