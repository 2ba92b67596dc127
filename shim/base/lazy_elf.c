/*
 * lazy_elf.c - the libelf functions libcloudm.so uses, loaded on first use (base.h, "lazy").
 *
 * What it does: defines elf_version, elf_begin, elf_end, elf_kind, elf_nextscn, elf_getdata,
 * elf_getshdrstrndx, elf_strptr, gelf_getshdr and gelf_getsym under their own names (the symbol
 * table reader, elf/symtab.c, calls them as it is): each calls libelf's own function (the
 * version a link against libelf binds, dlvsym) through the table, libelf (and the zlib it
 * needs for compressed sections) being opened the first time one is called: only when a symbol
 * table is read (inline hooks, --internal, C++ names, probes). Without libelf, elf_version
 * returns EV_NONE and the rest fail as libelf fails (NULL, -1), so no symbol table is read.
 *
 * What it does not do: anything for the `cloudm` command and the tests, which link libelf
 * itself; no symbol is exported (exports.map).
 */
#include "base.h"

#include <gelf.h>
#include <libelf.h>

enum { VERSION, BEGIN, END, KIND, NEXTSCN, GETDATA, GETSHDRSTRNDX, STRPTR, GETSHDR, GETSYM, NSYMS };

static const struct cm_lazy_sym syms[NSYMS] = {
    [VERSION] = {"elf_version", "ELFUTILS_1.0"},
    [BEGIN] = {"elf_begin", "ELFUTILS_1.0"},
    [END] = {"elf_end", "ELFUTILS_1.0"},
    [KIND] = {"elf_kind", "ELFUTILS_1.0"},
    [NEXTSCN] = {"elf_nextscn", "ELFUTILS_1.0"},
    [GETDATA] = {"elf_getdata", "ELFUTILS_1.0"},
    [GETSHDRSTRNDX] = {"elf_getshdrstrndx", "ELFUTILS_1.5"},
    [STRPTR] = {"elf_strptr", "ELFUTILS_1.0"},
    [GETSHDR] = {"gelf_getshdr", "ELFUTILS_1.0"},
    [GETSYM] = {"gelf_getsym", "ELFUTILS_1.0"},
};
static void *ptrs[NSYMS];
static struct cm_lazy libelf = {
    .soname = "libelf.so.1",
    .needed_for = "no symbol table is read in this process (no inline hook)",
    .syms = syms,
    .ptrs = ptrs,
    .nsyms = NSYMS,
};

#define FN(i, type) ((type)cm_lazy_get(&libelf, (i)))

unsigned int elf_version(unsigned int version)
{
    unsigned int (*f)(unsigned int) = FN(VERSION, unsigned int (*)(unsigned int));
    return f ? f(version) : EV_NONE;
}

Elf *elf_begin(int fildes, Elf_Cmd cmd, Elf *ref)
{
    Elf *(*f)(int, Elf_Cmd, Elf *) = FN(BEGIN, Elf * (*)(int, Elf_Cmd, Elf *));
    return f ? f(fildes, cmd, ref) : NULL;
}

int elf_end(Elf *elf)
{
    int (*f)(Elf *) = FN(END, int (*)(Elf *));
    return f ? f(elf) : 0;
}

Elf_Kind elf_kind(Elf *elf)
{
    Elf_Kind (*f)(Elf *) = FN(KIND, Elf_Kind(*)(Elf *));
    return f ? f(elf) : ELF_K_NONE;
}

Elf_Scn *elf_nextscn(Elf *elf, Elf_Scn *scn)
{
    Elf_Scn *(*f)(Elf *, Elf_Scn *) = FN(NEXTSCN, Elf_Scn * (*)(Elf *, Elf_Scn *));
    return f ? f(elf, scn) : NULL;
}

Elf_Data *elf_getdata(Elf_Scn *scn, Elf_Data *data)
{
    Elf_Data *(*f)(Elf_Scn *, Elf_Data *) = FN(GETDATA, Elf_Data * (*)(Elf_Scn *, Elf_Data *));
    return f ? f(scn, data) : NULL;
}

int elf_getshdrstrndx(Elf *elf, size_t *dst)
{
    int (*f)(Elf *, size_t *) = FN(GETSHDRSTRNDX, int (*)(Elf *, size_t *));
    return f ? f(elf, dst) : -1;
}

char *elf_strptr(Elf *elf, size_t index, size_t offset)
{
    char *(*f)(Elf *, size_t, size_t) = FN(STRPTR, char *(*)(Elf *, size_t, size_t));
    return f ? f(elf, index, offset) : NULL;
}

GElf_Shdr *gelf_getshdr(Elf_Scn *scn, GElf_Shdr *dst)
{
    GElf_Shdr *(*f)(Elf_Scn *, GElf_Shdr *) = FN(GETSHDR, GElf_Shdr * (*)(Elf_Scn *, GElf_Shdr *));
    return f ? f(scn, dst) : NULL;
}

GElf_Sym *gelf_getsym(Elf_Data *data, int ndx, GElf_Sym *dst)
{
    GElf_Sym *(*f)(Elf_Data *, int, GElf_Sym *) =
        FN(GETSYM, GElf_Sym * (*)(Elf_Data *, int, GElf_Sym *));
    return f ? f(data, ndx, dst) : NULL;
}
