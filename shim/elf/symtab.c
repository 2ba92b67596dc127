/*
 * symtab.c - function definitions from an object's .symtab/.dynsym on disk (see symtab.h).
 *
 * What it does: reads the object's file with libelf (mmap'ed, read-only), walks SHT_SYMTAB
 * and SHT_DYNSYM, and keeps defined STT_FUNC symbols whose name is asked for. A stripped file
 * (no SHT_SYMTAB) is complemented by its separate debug file, found through the build-id.
 *
 * What it does not do: no .gnu_debuglink lookup (build-id only), no DWARF, no patching.
 * Bounds: at most MAX_DEFS definitions are returned per call; symbols beyond a table's
 * sh_size / sh_entsize are never read.
 */
#include "elf.h"

#include "cloudm_env.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_DEFS 256 /* definitions returned per scan: enough to list every duplicate */

struct scan {
    const struct cm_object *o;
    const char *const *names;
    int n;
    struct cm_symdef *defs;
    int ndefs;
};

static int name_index(const struct scan *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (s->names[i][0] == name[0] && strcmp(s->names[i], name) == 0)
            return i;
    return -1;
}

static void add_def(struct scan *s, int target, const GElf_Sym *sym, const char *file)
{
    uintptr_t addr = s->o->base + (uintptr_t)sym->st_value;
    if (addr < s->o->lo || addr >= s->o->hi)
        return; /* not in this object's mapping: not something we can patch */
    for (int i = 0; i < s->ndefs; i++)
        if (s->defs[i].target == target && s->defs[i].addr == addr) {
            if (!s->defs[i].size)
                s->defs[i].size = (size_t)sym->st_size;
            return;
        }
    if (s->ndefs == MAX_DEFS)
        return;
    struct cm_symdef *d = &s->defs[s->ndefs++];
    d->target = target;
    d->addr = addr;
    d->size = (size_t)sym->st_size;
    if (d->size > s->o->hi - addr) /* never read past the object's mapping */
        d->size = s->o->hi - addr;
    d->local = GELF_ST_BIND(sym->st_info) == STB_LOCAL;
    snprintf(d->file, sizeof(d->file), "%s", d->local && file ? file : "");
}

/* Walk one symbol table section. */
static void scan_table(struct scan *s, Elf *e, Elf_Scn *scn, const GElf_Shdr *sh)
{
    Elf_Data *data = elf_getdata(scn, NULL);
    if (!data || sh->sh_entsize == 0)
        return;
    size_t count = sh->sh_size / sh->sh_entsize;
    const char *file = NULL;
    for (size_t i = 0; i < count; i++) {
        GElf_Sym sym;
        if (!gelf_getsym(data, (int)i, &sym))
            break;
        int type = GELF_ST_TYPE(sym.st_info);
        if (type == STT_FILE) {
            file = elf_strptr(e, sh->sh_link, sym.st_name);
            continue;
        }
        if (type != STT_FUNC || sym.st_shndx == SHN_UNDEF || sym.st_value == 0)
            continue;
        const char *name = elf_strptr(e, sh->sh_link, sym.st_name);
        if (!name || !name[0])
            continue;
        int t = name_index(s, name);
        if (t >= 0)
            add_def(s, t, &sym, file);
    }
}

/* Scan one file's tables of type `want` (SHT_SYMTAB or SHT_DYNSYM). Returns whether the file
 * has such a table, or -errno when it cannot be opened as ELF. */
static int scan_file(struct scan *s, const char *path, unsigned want)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int found = 0;
    Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (!e || elf_kind(e) != ELF_K_ELF) {
        found = -ENOEXEC;
        goto out;
    }
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(e, scn)) != NULL) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != want)
            continue;
        found = 1;
        scan_table(s, e, scn, &sh);
    }
out:
    if (e)
        elf_end(e);
    close(fd);
    return found;
}

int cm_symtab_debug_path(const uint8_t *id, size_t idlen, char *buf, size_t buflen)
{
    if (idlen < 2)
        return -ENOENT;
    static const char *env; /* read once (callers hold the hook lock) */
    if (!env) {
        env = getenv(CLOUDM_ENV_DEBUG_DIR);
        if (!env || !*env)
            env = "/usr/lib/debug";
    }
    const char *dirs = env;
    char hex[2 * 32 + 1];
    for (size_t i = 0; i < idlen && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", id[i]);
    while (*dirs) {
        size_t len = strcspn(dirs, ":");
        if (len) {
            snprintf(buf, buflen, "%.*s/.build-id/%.2s/%s.debug", (int)len, dirs, hex, hex + 2);
            if (access(buf, R_OK) == 0)
                return 0;
        }
        dirs += len;
        dirs += *dirs == ':';
    }
    return -ENOENT;
}

int cm_symtab_scan(const struct cm_object *o, const char *const *names, int n,
                   struct cm_symdef **out, int *nout, char *from, size_t fromlen)
{
    *out = NULL;
    *nout = 0;
    if (from && fromlen)
        from[0] = '\0';
    if (elf_version(EV_CURRENT) == EV_NONE)
        return -ENOSYS;
    struct scan s = {.o = o, .names = names, .n = n};
    s.defs = calloc(MAX_DEFS, sizeof(*s.defs));
    if (!s.defs)
        return -ENOMEM;
    int rc = scan_file(&s, o->path, SHT_SYMTAB);
    if (rc < 0) {
        free(s.defs);
        return rc;
    }
    if (rc > 0 && from)
        snprintf(from, fromlen, "%s", o->path);
    char dbg[4096];
    if (rc == 0 && o->id_is_build_id &&
        cm_symtab_debug_path(o->id, o->idlen, dbg, sizeof(dbg)) == 0 &&
        scan_file(&s, dbg, SHT_SYMTAB) > 0 && from)
        snprintf(from, fromlen, "%s", dbg);
    scan_file(&s, o->path, SHT_DYNSYM);
    *out = s.defs;
    *nout = s.ndefs;
    return 0;
}

/* ---- whole tables (code identity) ---------------------------------------------------------- */

struct loader {
    const struct cm_object *o;
    struct cm_objsyms *s;
    size_t cap, namelen, namecap;
    int err;
};

static void load_sym(struct loader *l, const char *name, const GElf_Sym *sym)
{
    uintptr_t addr = l->o->base + (uintptr_t)sym->st_value;
    if (addr < l->o->lo || addr >= l->o->hi || !name[0])
        return;
    struct cm_objsyms *s = l->s;
    if (s->nsyms == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 1024;
        struct cm_sym *v = realloc(s->syms, cap * sizeof(*v));
        if (!v) {
            l->err = -ENOMEM;
            return;
        }
        s->syms = v;
        l->cap = cap;
    }
    size_t n = strlen(name) + 1;
    if (l->namelen + n > l->namecap) {
        size_t cap = l->namecap ? 2 * l->namecap : 65536;
        while (cap < l->namelen + n)
            cap *= 2;
        char *v = realloc(s->names, cap);
        if (!v) {
            l->err = -ENOMEM;
            return;
        }
        s->names = v;
        l->namecap = cap;
    }
    memcpy(s->names + l->namelen, name, n);
    size_t size = (size_t)sym->st_size;
    if (size > l->o->hi - addr)
        size = l->o->hi - addr;
    s->syms[s->nsyms++] = (struct cm_sym){.addr = addr,
                                          .size = size,
                                          .name = (uint32_t)l->namelen,
                                          .is_func = GELF_ST_TYPE(sym->st_info) == STT_FUNC};
    l->namelen += n;
}

/* Symbols of type FUNC/OBJECT from tables of type `want`; sections too when `sects`. */
static int load_file(struct loader *l, const char *path, unsigned want, bool sects)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int found = 0;
    Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    size_t shstrndx;
    if (!e || elf_kind(e) != ELF_K_ELF || elf_getshdrstrndx(e, &shstrndx) != 0) {
        found = -ENOEXEC;
        goto out;
    }
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(e, scn)) != NULL && !l->err) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh))
            continue;
        if (sects && (sh.sh_flags & SHF_ALLOC) && sh.sh_addr && l->s->nsects < 256) {
            struct cm_sect *c = &l->s->sects[l->s->nsects++];
            c->lo = l->o->base + (uintptr_t)sh.sh_addr;
            c->hi = c->lo + (uintptr_t)sh.sh_size;
            c->write = (sh.sh_flags & SHF_WRITE) != 0;
            c->exec = (sh.sh_flags & SHF_EXECINSTR) != 0;
            const char *nm = elf_strptr(e, shstrndx, sh.sh_name);
            snprintf(c->name, sizeof(c->name), "%s", nm ? nm : "");
        }
        if (sh.sh_type != want || sh.sh_entsize == 0)
            continue;
        found = 1;
        Elf_Data *data = elf_getdata(scn, NULL);
        size_t count = data ? sh.sh_size / sh.sh_entsize : 0;
        for (size_t i = 0; i < count && !l->err; i++) {
            GElf_Sym sym;
            if (!gelf_getsym(data, (int)i, &sym))
                break;
            int t = GELF_ST_TYPE(sym.st_info);
            if ((t != STT_FUNC && t != STT_OBJECT) || sym.st_shndx == SHN_UNDEF)
                continue;
            const char *nm = elf_strptr(e, sh.sh_link, sym.st_name);
            if (nm)
                load_sym(l, nm, &sym);
        }
    }
out:
    if (e)
        elf_end(e);
    close(fd);
    return l->err ? l->err : found;
}

static int sym_cmp(const void *a, const void *b)
{
    const struct cm_sym *x = a, *y = b;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    return (x->size < y->size) - (x->size > y->size); /* the largest first at one address */
}

int cm_symtab_load(const struct cm_object *o, struct cm_objsyms *out)
{
    memset(out, 0, sizeof(*out));
    if (elf_version(EV_CURRENT) == EV_NONE)
        return -ENOSYS;
    out->sects = calloc(256, sizeof(*out->sects));
    if (!out->sects)
        return -ENOMEM;
    struct loader l = {.o = o, .s = out};
    int rc = load_file(&l, o->path, SHT_SYMTAB, true);
    char dbg[4096];
    if (rc == 0 && o->id_is_build_id &&
        cm_symtab_debug_path(o->id, o->idlen, dbg, sizeof(dbg)) == 0)
        rc = load_file(&l, dbg, SHT_SYMTAB, false);
    if (rc >= 0)
        rc = load_file(&l, o->path, SHT_DYNSYM, false);
    if (rc < 0) {
        cm_symtab_free(out);
        return rc;
    }
    qsort(out->syms, out->nsyms, sizeof(*out->syms), sym_cmp);
    return 0;
}

void cm_symtab_free(struct cm_objsyms *s)
{
    free(s->syms);
    free(s->names);
    free(s->sects);
    memset(s, 0, sizeof(*s));
}

const struct cm_sym *cm_symtab_at(const struct cm_objsyms *s, uintptr_t a, bool func)
{
    size_t lo = 0, hi = s->nsyms; /* first symbol with addr > a */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->syms[mid].addr <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i-- > 0 && lo - i <= 64;) { /* nearby symbols at or below a */
        const struct cm_sym *y = &s->syms[i];
        if (y->is_func != func)
            continue;
        if (a == y->addr || a < y->addr + y->size)
            return y;
    }
    return NULL;
}

const struct cm_sect *cm_symtab_sect(const struct cm_objsyms *s, uintptr_t a)
{
    for (int i = 0; i < s->nsects; i++)
        if (a >= s->sects[i].lo && a < s->sects[i].hi && s->sects[i].name[0])
            return &s->sects[i];
    return NULL;
}
