/*
 * dl.c - memoized functions reached through dlopen and dlsym (test_dlopen.sh).
 *
 * Usage: dl PLUGIN_PATH [global|local]
 *
 * What it does, in order:
 *  1. dlsym(RTLD_DEFAULT, "lg_poly"): a configured function of an already loaded library,
 *     called only through the returned pointer (the program never calls lg_poly directly);
 *  2. dlopen(PLUGIN_PATH) after start-up, then dlsym(handle, "plugin_cube"): a configured
 *     function of a library that did not exist when the shim started;
 *  3. plugin_sum_sq, which calls liblegacy's lg_sq through the plugin's own GOT: that slot
 *     only exists after dlopen and must have been patched before dlopen returned. Right after
 *     dlopen (before any dlsym) the program reads the slot and prints on stderr which object
 *     the address in it belongs to: liblegacy.so when nothing patched it.
 * Prints every result; execution counts (liblegacy's and the plugin's) go to stderr.
 *
 * What it does not do: dlclose (unloading is not part of this test).
 */
#define _GNU_SOURCE /* dlinfo, dladdr */
#include "../legacy/legacy.h"

#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <string.h>

/* The file name of the object that the address in h's JUMP_SLOT for `sym` points into,
 * "(anonymous)" for memory no object maps, "(no slot)" when h imports no such symbol. */
static const char *slot_owner(void *h, const char *sym)
{
    struct link_map *lm;
    if (dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0)
        return "(no link map)";
    ElfW(Addr) base = lm->l_addr;
    const ElfW(Rela) *rel = NULL;
    size_t relsz = 0;
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    for (const ElfW(Dyn) *d = lm->l_ld; d->d_tag != DT_NULL; d++) {
        ElfW(Addr) p = d->d_un.d_ptr < base ? d->d_un.d_ptr + base : d->d_un.d_ptr;
        switch (d->d_tag) {
        case DT_JMPREL:
            rel = (const ElfW(Rela) *)p;
            break;
        case DT_PLTRELSZ:
            relsz = d->d_un.d_val;
            break;
        case DT_SYMTAB:
            symtab = (const ElfW(Sym) *)p;
            break;
        case DT_STRTAB:
            strtab = (const char *)p;
            break;
        }
    }
    for (size_t i = 0; rel && symtab && strtab && i < relsz / sizeof *rel; i++) {
        if (strcmp(strtab + symtab[ELF64_R_SYM(rel[i].r_info)].st_name, sym) != 0)
            continue;
        void *target = *(void **)(base + rel[i].r_offset);
        Dl_info di;
        if (!dladdr(target, &di) || !di.dli_fname)
            return "(anonymous)";
        const char *slash = strrchr(di.dli_fname, '/');
        return slash ? slash + 1 : di.dli_fname;
    }
    return "(no slot)";
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: dl PLUGIN [global|local]\n");
        return 2;
    }
    int flags = RTLD_NOW | ((argc > 2 && !strcmp(argv[2], "local")) ? RTLD_LOCAL : RTLD_GLOBAL);

    int64_t (*poly)(int32_t) = (int64_t(*)(int32_t))dlsym(RTLD_DEFAULT, "lg_poly");
    if (!poly) {
        fprintf(stderr, "dl: dlsym lg_poly: %s\n", dlerror());
        return 2;
    }
    for (int r = 0; r < 4; r++)
        for (int32_t x = 0; x < 10; x++)
            printf("poly %d %lld\n", x, (long long)poly(x - 3));

    void *h = dlopen(argv[1], flags);
    if (!h) {
        fprintf(stderr, "dl: dlopen: %s\n", dlerror());
        return 2;
    }
    fprintf(stderr, "dl: after dlopen, libplugin's lg_sq slot -> %s\n", slot_owner(h, "lg_sq"));
    int64_t (*cube)(int64_t) = (int64_t(*)(int64_t))dlsym(h, "plugin_cube");
    int64_t (*sum_sq)(int32_t) = (int64_t(*)(int32_t))dlsym(h, "plugin_sum_sq");
    unsigned long *plugin_execs = (unsigned long *)dlsym(h, "plugin_execs");
    if (!cube || !sum_sq || !plugin_execs) {
        fprintf(stderr, "dl: dlsym plugin: %s\n", dlerror());
        return 2;
    }
    for (int r = 0; r < 3; r++)
        for (int64_t x = 0; x < 12; x++)
            printf("cube %lld %lld\n", (long long)x, (long long)cube(x * 1000 - 5));
    for (int r = 0; r < 2; r++)
        printf("sum_sq %lld\n", (long long)sum_sq(15));

    fflush(stdout);
    fprintf(stderr, "plugin: execs plugin_cube %lu\n", *plugin_execs);
    legacy_report();
    return 0;
}
