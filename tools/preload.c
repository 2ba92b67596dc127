/*
 * preload.c - where libcloudm.so is, and what LD_PRELOAD and the paths given to the shim become.
 *
 * What it does: locates libcloudm.so ($CLOUDM_LIB, else next to the running `cloudm` binary in
 * the usual build and install layouts), makes paths absolute, and composes the new LD_PRELOAD
 * value: libcloudm.so first, except that sanitizer runtimes already at the front stay in front
 * (an ASan- or TSan-instrumented library must come after its runtime, or the runtime aborts).
 *
 * What it does not do: it never sets or reads any environment variable other than CLOUDM_LIB
 * (the caller decides what to export), never parses the config, and never loads the library it
 * finds. It depends on libc only, so a unit test can #include it directly; cm_preload_compose()
 * and cm_path_absolute() are pure functions of their arguments.
 */
#include "preload.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cloudm_env.h"

/* Basename fragments of sanitizer runtimes that must precede every instrumented object. */
static const char *const sanitizer_names[] = {"libasan", "libtsan",   "libubsan",
                                              "liblsan", "libhwasan", "libclang_rt"};

static const char *base_name(const char *p, size_t len, size_t *blen)
{
    size_t i = len;

    while (i > 0 && p[i - 1] != '/')
        i--;
    *blen = len - i;
    return p + i;
}

static bool contains(const char *s, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(s + i, needle, n) == 0)
            return true;
    return false;
}

bool cm_preload_is_sanitizer(const char *entry, size_t len)
{
    size_t blen;
    const char *b = base_name(entry, len, &blen);

    for (size_t i = 0; i < sizeof(sanitizer_names) / sizeof(sanitizer_names[0]); i++)
        if (contains(b, blen, sanitizer_names[i]))
            return true;
    return false;
}

/* An entry we replace: the same path as `lib`, or any other libcloudm.so (two shims in one
 * process would patch each other's slots). */
static bool is_shim(const char *entry, size_t len, const char *lib)
{
    size_t blen;
    const char *b = base_name(entry, len, &blen);

    if (strlen(lib) == len && memcmp(entry, lib, len) == 0)
        return true;
    return blen == strlen(CM_SHIM_NAME) && memcmp(b, CM_SHIM_NAME, blen) == 0;
}

static void append(char *out, size_t *pos, const char *s, size_t len)
{
    if (*pos > 0)
        out[(*pos)++] = ':';
    memcpy(out + *pos, s, len);
    *pos += len;
    out[*pos] = '\0';
}

int cm_preload_compose(const char *lib, const char *old, char **out)
{
    size_t oldlen = old ? strlen(old) : 0;
    size_t pos = 0;
    const char *p, *end;
    bool in_front = true; /* still inside the leading run of sanitizer runtimes */
    bool lib_done = false;
    char *buf;

    *out = NULL;
    if (lib == NULL || lib[0] == '\0')
        return -EINVAL;
    /* The result is at most the old entries, the library and one separator each. */
    buf = malloc(oldlen + strlen(lib) + 2);
    if (buf == NULL)
        return -ENOMEM;
    buf[0] = '\0';

    p = old ? old : "";
    end = p + oldlen;
    while (p < end) {
        /* ld.so separates LD_PRELOAD entries with colons or spaces. */
        size_t len = strcspn(p, ": ");

        if (len > 0) {
            if (in_front && !cm_preload_is_sanitizer(p, len))
                in_front = false;
            if (!in_front && !lib_done) {
                append(buf, &pos, lib, strlen(lib));
                lib_done = true;
            }
            if (in_front || !is_shim(p, len, lib))
                append(buf, &pos, p, len);
        }
        p += len;
        if (p < end)
            p++;
    }
    if (!lib_done)
        append(buf, &pos, lib, strlen(lib));
    *out = buf;
    return 0;
}

int cm_path_absolute(const char *cwd, const char *path, char *out, size_t outsz)
{
    int n;

    if (path == NULL || path[0] == '\0')
        return -EINVAL;
    if (path[0] == '/')
        n = snprintf(out, outsz, "%s", path);
    else if (cwd == NULL || cwd[0] != '/')
        return -EINVAL;
    else if (strcmp(cwd, "/") == 0)
        n = snprintf(out, outsz, "/%s", path);
    else
        n = snprintf(out, outsz, "%s/%s", cwd, path);
    if (n < 0 || (size_t)n >= outsz)
        return -ENAMETOOLONG;
    return 0;
}

int cm_make_absolute(const char *path, char *out, size_t outsz)
{
    char cwd[PATH_MAX];

    if (path != NULL && path[0] == '/')
        return cm_path_absolute(NULL, path, out, outsz);
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return -errno;
    return cm_path_absolute(cwd, path, out, outsz);
}

/* realpath() of `path` into out if it names a readable file. */
static int usable(const char *path, char *out, size_t outsz)
{
    char buf[PATH_MAX];

    if (access(path, R_OK) != 0)
        return -errno;
    if (realpath(path, buf) == NULL)
        return -errno;
    if (strlen(buf) >= outsz)
        return -ENAMETOOLONG;
    strcpy(out, buf);
    return 0;
}

/* <libdir>/cloudm relative to <bindir> in the install layout, set by tools/CMakeLists.txt from
 * GNUInstallDirs (e.g. "../lib/x86_64-linux-gnu/cloudm"); the fallback is for the unit test that
 * includes this file on its own. */
#ifndef CM_INSTALL_LIBREL
#define CM_INSTALL_LIBREL "../lib/cloudm"
#endif

int cm_find_library(char *out, size_t outsz, char *err, size_t errsz)
{
    /* Relative to the directory of the running binary, in this order: the install layout
     * (bin + lib/<multiarch>/cloudm, so an installed tree can be moved), the build tree
     * (build/bin + build/lib), a flat directory, and the older install layout lib/cloudm. */
    static const char *const candidates[] = {CM_INSTALL_LIBREL "/" CM_SHIM_NAME,
                                             "../lib/" CM_SHIM_NAME, CM_SHIM_NAME,
                                             "../lib/cloudm/" CM_SHIM_NAME};
    const char *env = getenv(CLOUDM_ENV_LIB);
    char exe[PATH_MAX], path[PATH_MAX + 64];
    ssize_t n;
    char *slash;
    int rc;

    if (env != NULL && env[0] != '\0') {
        rc = usable(env, out, outsz);
        if (rc < 0)
            snprintf(err, errsz, "%s=%s: %s", CLOUDM_ENV_LIB, env, strerror(-rc));
        return rc;
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n < 0) {
        rc = -errno;
        snprintf(err, errsz, "cannot read /proc/self/exe: %s (set %s)", strerror(errno),
                 CLOUDM_ENV_LIB);
        return rc;
    }
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash != NULL)
        *slash = '\0';
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", exe, candidates[i]);
        if (usable(path, out, outsz) == 0)
            return 0;
    }
    snprintf(err, errsz,
             "cannot find %s (looked in %s/%s, %s/../lib, %s, %s/../lib/cloudm); set %s to its "
             "path",
             CM_SHIM_NAME, exe, CM_INSTALL_LIBREL, exe, exe, exe, CLOUDM_ENV_LIB);
    return -ENOENT;
}
