/*
 * proto_dpkg.c - which Debian -dev package's headers describe a library (proto.h).
 *
 * What it does: reads the dpkg database's file lists (the *-dev*.list files in /var/lib/dpkg/info)
 * looking for a `.so` development link whose target is the same file as the library that defines
 * the function (libz.so -> libz.so.1.2.13 for zlib1g's libz.so.1); the headers that package
 * installs under /usr/include are the ones to parse.
 *
 * What it does not do: it never runs dpkg or apt, and it does not install anything: a library
 * whose -dev package is not installed has no header prototype.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proto.h"

#define DPKG_INFO "/var/lib/dpkg/info"

static bool ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Whether the small text file `path` is a linker script naming the file (dev, ino), as
 * libc6-dev's libm.so does ("GROUP ( /lib/x86_64-linux-gnu/libm.so.6 ... )"). */
static bool script_names(const char *path, dev_t dev, ino_t ino)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (!strstr(buf, "GROUP") && !strstr(buf, "INPUT"))
        return false;
    for (char *p = buf; (p = strchr(p, '/'));) {
        size_t k = strcspn(p, " \t\n()");
        char c = p[k];
        p[k] = '\0';
        struct stat st;
        bool yes = stat(p, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
        p[k] = c;
        if (yes)
            return true;
        p += k;
    }
    return false;
}

/* Whether list file `path` has a `*.so` entry resolving to (dev, ino), directly or through a
 * linker script. */
static bool owns_link(const char *path, dev_t dev, ino_t ino)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    char line[PATH_MAX];
    bool yes = false;
    while (!yes && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!ends_with(line, ".so"))
            continue;
        struct stat st;
        if (stat(line, &st) == 0 && st.st_dev == dev && st.st_ino == ino)
            yes = true;
        else if (lstat(line, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < 4096 &&
                 script_names(line, dev, ino))
            yes = true;
    }
    fclose(f);
    return yes;
}

int cm_proto_dpkg_headers(const char *object, char **out, int max, char *pkg, size_t pkgsz)
{
    struct stat want;
    if (stat(object, &want) != 0)
        return 0;
    DIR *d = opendir(DPKG_INFO);
    if (!d)
        return 0;
    struct dirent *e;
    char path[PATH_MAX];
    int n = 0;
    while ((e = readdir(d)) && n == 0) {
        if (!ends_with(e->d_name, ".list"))
            continue;
        /* only packages whose name says they carry headers and links */
        if (!strstr(e->d_name, "-dev"))
            continue;
        snprintf(path, sizeof(path), "%s/%s", DPKG_INFO, e->d_name);
        if (!owns_link(path, want.st_dev, want.st_ino))
            continue;
        snprintf(pkg, pkgsz, "%.*s", (int)(strlen(e->d_name) - 5), e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            break;
        char line[PATH_MAX];
        while (n < max && fgets(line, sizeof(line), f)) {
            line[strcspn(line, "\n")] = '\0';
            struct stat st;
            if (strncmp(line, "/usr/include/", 13) == 0 && ends_with(line, ".h") &&
                stat(line, &st) == 0 && S_ISREG(st.st_mode))
                out[n++] = strdup(line);
        }
        fclose(f);
    }
    closedir(d);
    return n;
}
