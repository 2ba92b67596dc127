/*
 * proto_dwarf.c - prototypes from DWARF with libdw (proto.h).
 *
 * What it does: opens the object and reads its .debug_info; when it has none, the separate
 * debug file named by its GNU build-id under each directory of CLOUDM_DEBUG_DIR (default
 * /usr/lib/debug, `DIR/.build-id/xx/rest.debug`) or by its .gnu_debuglink (next to it, in
 * `.debug/`, or under DIR + its directory). Walks every compile unit once for all wanted names:
 * a DW_TAG_subprogram definition (not a declaration; external unless `internal`) gives the
 * return and parameter types, typedefs and qualifiers resolved to their base.
 *
 * What it does not do: no C++ name matching (DW_AT_linkage_name is compared too, nothing more),
 * no inlined instances (their out-of-line definition is what callers reach).
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cloudm_env.h"
#include "proto.h"

static Dwarf_Die *type_of(Dwarf_Die *die, Dwarf_Die *out)
{
    Dwarf_Attribute a;
    if (!dwarf_attr_integrate(die, DW_AT_type, &a))
        return NULL;
    return dwarf_formref_die(&a, out);
}

static int die_size(Dwarf_Die *d)
{
    Dwarf_Word w;
    return dwarf_aggregate_size(d, &w) == 0 ? (int)w : 0;
}

/* Strip typedefs and qualifiers; note const and the first typedef name. */
static Dwarf_Die *strip(Dwarf_Die *d, Dwarf_Die *buf, bool *is_const, const char **tdname)
{
    for (int i = 0; d && i < 16; i++) {
        int tag = dwarf_tag(d);
        if (tag == DW_TAG_const_type && is_const)
            *is_const = true;
        if (tag == DW_TAG_typedef && tdname && !*tdname)
            *tdname = dwarf_diename(d);
        if (tag != DW_TAG_typedef && tag != DW_TAG_const_type && tag != DW_TAG_volatile_type &&
            tag != DW_TAG_restrict_type && tag != DW_TAG_atomic_type)
            return d;
        d = type_of(d, buf);
    }
    return d;
}

static void scalar(Dwarf_Die *d, struct cm_ptype *t)
{
    int tag = dwarf_tag(d);
    t->size = die_size(d);
    if (tag == DW_TAG_enumeration_type) {
        t->kind = CM_PT_INT;
        t->is_signed = true;
        return;
    }
    if (tag == DW_TAG_pointer_type) {
        t->kind = CM_PT_PTR;
        t->size = 8;
        return;
    }
    if (tag == DW_TAG_structure_type || tag == DW_TAG_union_type || tag == DW_TAG_array_type) {
        t->kind = CM_PT_AGGREGATE;
        return;
    }
    if (tag != DW_TAG_base_type) {
        t->kind = CM_PT_OTHER;
        return;
    }
    Dwarf_Attribute a;
    Dwarf_Word enc = 0;
    if (dwarf_attr(d, DW_AT_encoding, &a))
        dwarf_formudata(&a, &enc);
    switch (enc) {
    case DW_ATE_float:
        t->kind = t->size == 4 || t->size == 8 ? CM_PT_FLOAT : CM_PT_OTHER;
        break;
    case DW_ATE_signed:
    case DW_ATE_signed_char:
        t->kind = CM_PT_INT;
        t->is_signed = true;
        break;
    case DW_ATE_unsigned:
    case DW_ATE_unsigned_char:
    case DW_ATE_boolean:
        t->kind = CM_PT_INT;
        break;
    default:
        t->kind = CM_PT_OTHER;
    }
    if (t->kind == CM_PT_INT && t->size != 1 && t->size != 2 && t->size != 4 && t->size != 8)
        t->kind = CM_PT_OTHER;
}

static const char *spell(Dwarf_Die *d)
{
    const char *n = dwarf_diename(d);
    return n ? n : "?";
}

/* Fill t from the DW_AT_type of `die` (none: void). */
static void ptype(Dwarf_Die *die, struct cm_ptype *t)
{
    Dwarf_Die b1, b2, b3;
    memset(t, 0, sizeof(*t));
    Dwarf_Die *d = type_of(die, &b1);
    if (!d) {
        t->kind = CM_PT_VOID;
        snprintf(t->c, sizeof(t->c), "void");
        return;
    }
    bool c0 = false;
    const char *td = NULL;
    d = strip(d, &b2, &c0, &td);
    if (!d) {
        t->kind = CM_PT_OTHER;
        return;
    }
    scalar(d, t);
    if (t->kind != CM_PT_PTR) {
        const char *tagw = dwarf_tag(d) == DW_TAG_structure_type     ? "struct "
                           : dwarf_tag(d) == DW_TAG_union_type       ? "union "
                           : dwarf_tag(d) == DW_TAG_enumeration_type ? "enum "
                                                                     : "";
        snprintf(t->c, sizeof(t->c), "%s%s%s", c0 ? "const " : "", td ? "" : tagw,
                 td ? td : spell(d));
        return;
    }
    Dwarf_Die *p = type_of(d, &b3);
    if (!p) {
        t->pointee = CM_PT_VOID;
        snprintf(t->c, sizeof(t->c), "void *");
        return;
    }
    bool pc = false;
    const char *ptd = NULL;
    Dwarf_Die b4;
    p = strip(p, &b4, &pc, &ptd);
    t->pointee_const = pc;
    if (!p) {
        t->pointee = CM_PT_OTHER;
        return;
    }
    struct cm_ptype inner = {0};
    scalar(p, &inner);
    t->pointee = inner.kind;
    t->pointee_size = inner.kind == CM_PT_PTR ? 8 : inner.size;
    Dwarf_Attribute a;
    Dwarf_Word enc = 0;
    if (dwarf_tag(p) == DW_TAG_base_type && dwarf_attr(p, DW_AT_encoding, &a) &&
        dwarf_formudata(&a, &enc) == 0 && inner.size == 1 &&
        (enc == DW_ATE_signed_char || enc == DW_ATE_unsigned_char) && !ptd &&
        strcmp(spell(p), "char") == 0)
        t->pointee_char = true; /* plain char only: unsigned char * is bytes, not a string */
    const char *tagw = dwarf_tag(p) == DW_TAG_structure_type ? "struct "
                       : dwarf_tag(p) == DW_TAG_union_type   ? "union "
                                                             : "";
    snprintf(t->c, sizeof(t->c), "%s%s%s *", pc ? "const " : "", ptd ? "" : tagw,
             ptd                                   ? ptd
             : dwarf_tag(p) == DW_TAG_pointer_type ? "void *"
                                                   : spell(p));
}

static void fill(Dwarf_Die *fn, struct cm_proto *p, const char *from)
{
    memset(p, 0, sizeof(*p));
    p->source = CM_PROTO_DWARF;
    snprintf(p->from, sizeof(p->from), "%s", from);
    ptype(fn, &p->ret);
    Dwarf_Die c;
    if (dwarf_child(fn, &c) != 0)
        return;
    do {
        int tag = dwarf_tag(&c);
        if (tag == DW_TAG_unspecified_parameters)
            p->variadic = true;
        if (tag != DW_TAG_formal_parameter)
            continue;
        if (p->nparams == CM_PROTO_MAX_PARAMS) {
            p->source = CM_PROTO_NONE;
            return;
        }
        ptype(&c, &p->params[p->nparams]);
        const char *n = dwarf_diename(&c);
        snprintf(p->pnames[p->nparams], sizeof(p->pnames[0]), "%s", n ? n : "");
        p->nparams++;
    } while (dwarf_siblingof(&c, &c) == 0);
}

static int scan(Dwarf *dw, const char *from, const char *const *names, int n, struct cm_proto *out,
                bool internal)
{
    int found = 0;
    Dwarf_Off off = 0, next;
    size_t hsize;
    while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
        Dwarf_Die cu, d;
        if (dwarf_offdie(dw, off + hsize, &cu) && dwarf_child(&cu, &d) == 0) {
            do {
                if (dwarf_tag(&d) != DW_TAG_subprogram || dwarf_hasattr(&d, DW_AT_declaration))
                    continue;
                if (!internal && !dwarf_hasattr_integrate(&d, DW_AT_external))
                    continue;
                if (!dwarf_hasattr(&d, DW_AT_low_pc) && !dwarf_hasattr(&d, DW_AT_ranges))
                    continue; /* abstract instance only */
                const char *nm = dwarf_diename(&d);
                if (!nm)
                    continue;
                for (int i = 0; i < n; i++)
                    if (out[i].source == CM_PROTO_NONE && strcmp(names[i], nm) == 0) {
                        fill(&d, &out[i], from);
                        found += out[i].source != CM_PROTO_NONE;
                    }
            } while (dwarf_siblingof(&d, &d) == 0);
        }
        off = next;
    }
    return found;
}

/* Try `path` as a DWARF file: scan it when it has debug info. */
static int try_file(const char *path, const char *const *names, int n, struct cm_proto *out,
                    bool internal, int *found)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    Dwarf *dw = dwarf_begin(fd, DWARF_C_READ);
    if (!dw) {
        close(fd);
        return -ENODATA;
    }
    *found += scan(dw, path, names, n, out, internal);
    dwarf_end(dw);
    close(fd);
    return 0;
}

int cm_proto_dwarf(const char *object, const char *const *names, int n, struct cm_proto *out,
                   bool internal)
{
    int found = 0;
    int rc = try_file(object, names, n, out, internal, &found);
    if (rc == 0)
        return found;
    if (rc != -ENODATA)
        return rc;
    /* separate debug file */
    int fd = open(object, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    elf_version(EV_CURRENT);
    Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    const void *id = NULL;
    ssize_t idlen = e ? dwelf_elf_gnu_build_id(e, &id) : -1;
    GElf_Word crc;
    const char *link = e ? dwelf_elf_gnu_debuglink(e, &crc) : NULL;
    const char *env = getenv(CLOUDM_ENV_DEBUG_DIR);
    char dirs[4096];
    snprintf(dirs, sizeof(dirs), "%s", env && env[0] ? env : "/usr/lib/debug");
    char path[4096];
    char *save = NULL;
    for (char *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        if (idlen > 1) {
            const unsigned char *b = id;
            int k = snprintf(path, sizeof(path), "%s/.build-id/%02x/", dir, b[0]);
            for (ssize_t i = 1; i < idlen && k < (int)sizeof(path) - 8; i++)
                k += snprintf(path + k, sizeof(path) - (size_t)k, "%02x", b[i]);
            snprintf(path + k, sizeof(path) - (size_t)k, ".debug");
            if (try_file(path, names, n, out, internal, &found) == 0)
                goto out;
        }
        if (link) {
            char odir[2048];
            snprintf(odir, sizeof(odir), "%s", object);
            char *slash = strrchr(odir, '/');
            if (slash)
                *slash = '\0';
            snprintf(path, sizeof(path), "%s%s/%s", dir, odir, link);
            if (try_file(path, names, n, out, internal, &found) == 0)
                goto out;
        }
    }
    if (link) {
        char odir[2048];
        snprintf(odir, sizeof(odir), "%s", object);
        char *slash = strrchr(odir, '/');
        if (slash)
            *slash = '\0';
        snprintf(path, sizeof(path), "%s/%s", odir, link);
        if (try_file(path, names, n, out, internal, &found) != 0) {
            snprintf(path, sizeof(path), "%s/.debug/%s", odir, link);
            try_file(path, names, n, out, internal, &found);
        }
    }
out:
    if (e)
        elf_end(e);
    close(fd);
    return found;
}
