/*
 * objects.h - the table of loaded ELF objects, queried on the hot path.
 *
 * What it does: records, for every loaded object, its path, load bias, mapped address range,
 * identity (GNU build-id, or XXH3-128 of the file when it has none) and a dlopen handle, and
 * answers "which object contains this address" without locks, allocation or system calls.
 * Refreshed by the hooker after dlopen/dlclose.
 *
 * What it does not do: no patching, no symbol resolution beyond cm_object_symbol().
 */
#ifndef CM_OBJECTS_H
#define CM_OBJECTS_H

#include <stdbool.h>
#include <stdint.h>

struct cm_object {
    const char *path;      /* absolute path; the main program's real path for the executable */
    uintptr_t base;        /* load bias (link_map l_addr) */
    uintptr_t lo, hi;      /* [lo, hi): span of its PT_LOAD segments */
    uint8_t id[32];        /* identity bytes */
    uint8_t idlen;         /* 1..32 */
    bool id_is_build_id;   /* true: GNU build-id; false: XXH3-128 of the file's bytes */
    void *handle;          /* dlopen(path, RTLD_NOLOAD|RTLD_LAZY) handle (NULL for the vDSO) */
};

/* Rebuild the table from dl_iterate_phdr (called at start-up and after dlopen/dlclose; takes a
 * lock; never call from the hot path). Returns 0 or -errno. */
int cm_objects_refresh(void);

/* The object whose PT_LOAD span contains addr, or NULL. Lock-free, no allocation, no syscalls. */
const struct cm_object *cm_object_at(const void *addr);

/* The object whose path is `path` (exact), or NULL. */
const struct cm_object *cm_object_by_path(const char *path);

/* dlsym(o->handle, name): functions (IFUNC resolved) and data. NULL if absent. */
void *cm_object_symbol(const struct cm_object *o, const char *name);

#endif
