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
#include "symtab.h"

#include "cloudm_env.h"
#include "objects.h"

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
    const char *dirs = getenv(CLOUDM_ENV_DEBUG_DIR);
    if (!dirs || !*dirs)
        dirs = "/usr/lib/debug";
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
    if (rc == 0 && o->id_is_build_id && cm_symtab_debug_path(o->id, o->idlen, dbg, sizeof(dbg)) == 0 &&
        scan_file(&s, dbg, SHT_SYMTAB) > 0 && from)
        snprintf(from, fromlen, "%s", dbg);
    scan_file(&s, o->path, SHT_DYNSYM);
    *out = s.defs;
    *nout = s.ndefs;
    return 0;
}
