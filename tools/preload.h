/*
 * preload.h - locating libcloudm.so and composing LD_PRELOAD (see preload.c).
 *
 * What it does: declares the path helpers `cloudm run`, `check` and `profile` share.
 * What it does not do: nothing here touches the environment except cm_find_library() reading
 * CLOUDM_LIB.
 */
#ifndef CM_PRELOAD_H
#define CM_PRELOAD_H

#include <stdbool.h>
#include <stddef.h>

#define CM_SHIM_NAME "libcloudm.so"

/*
 * New LD_PRELOAD value: `lib` inserted after the leading run of sanitizer runtimes in `old`
 * (NULL or "" = empty), everything else after it in its original order. Entries may be separated
 * by ':' or ' ' in `old`; the result uses ':'. Empty entries are dropped, and so is any other
 * entry naming `lib` or a file called libcloudm.so, so nesting `cloudm run` never preloads two
 * shims. Returns 0 and a malloc'd string in *out (caller frees), -EINVAL for an empty `lib`,
 * -ENOMEM.
 */
int cm_preload_compose(const char *lib, const char *old, char **out);

/* Whether one LD_PRELOAD entry (`len` bytes, not NUL-terminated) is a sanitizer runtime: its
 * base name contains libasan, libtsan, libubsan, liblsan, libhwasan or libclang_rt. */
bool cm_preload_is_sanitizer(const char *entry, size_t len);

/*
 * `path` made absolute against `cwd` without touching the file system (the file need not
 * exist; "%p" and symlinks are kept as written). Returns 0, -EINVAL (empty path, or a relative
 * path with no absolute cwd), -ENAMETOOLONG when it does not fit in `outsz`.
 */
int cm_path_absolute(const char *cwd, const char *path, char *out, size_t outsz);

/* The same against the current directory. Returns 0 or a negative errno. */
int cm_make_absolute(const char *path, char *out, size_t outsz);

/*
 * Absolute, symlink-free path of libcloudm.so: $CLOUDM_LIB when set and non-empty (an error if
 * it is not readable: no fallback), else the first readable one of <exe dir>/CM_INSTALL_LIBREL/
 * (the install layout, e.g. ../lib/x86_64-linux-gnu/cloudm), <exe dir>/../lib/, <exe dir>/,
 * <exe dir>/../lib/cloudm/ where <exe dir> is the directory of /proc/self/exe.
 * Returns 0, or a negative errno with a human message in `err`.
 */
int cm_find_library(char *out, size_t outsz, char *err, size_t errsz);

#endif
