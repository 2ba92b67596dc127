/*
 * proto_dpkg.c - which Debian -dev package's headers describe a library (proto.h).
 *
 * What it does: reads the dpkg database's file lists (the *-dev*.list files in /var/lib/dpkg/info)
 * looking for a `.so` development link whose target is the same file as the library that defines
 * the function (libz.so -> libz.so.1.2.13 for zlib1g's libz.so.1); the headers that package
 * installs under /usr/include are the ones to parse.
 *
 * The file lists are read once per command and their `.so` links remembered.
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

/* Every `*.so` development link of every -dev package, read once per command. */
struct solink {
    dev_t dev;
    ino_t ino;
    char *script; /* a linker script's path (dev, ino unused), else NULL */
    int pkg;      /* index into lists */
};
static struct solink *links;
static size_t nlinks, caplinks;
static char **lists; /* the -dev packages' list files */
static int nlists;
static bool scanned;

static void add_link(const struct solink *l)
{
    if (nlinks == caplinks) {
        size_t cap = caplinks ? 2 * caplinks : 256;
        struct solink *v = realloc(links, cap * sizeof(*v));
        if (!v)
            return;
        links = v;
        caplinks = cap;
    }
    links[nlinks++] = *l;
}

static void scan_lists(void)
{
    scanned = true;
    DIR *d = opendir(DPKG_INFO);
    if (!d)
        return;
    struct dirent *e;
    char path[PATH_MAX], line[PATH_MAX];
    while ((e = readdir(d))) {
        /* only packages whose name says they carry headers and links */
        if (!ends_with(e->d_name, ".list") || !strstr(e->d_name, "-dev"))
            continue;
        snprintf(path, sizeof(path), "%s/%s", DPKG_INFO, e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        char **v = realloc(lists, (size_t)(nlists + 1) * sizeof(*v));
        if (!v) {
            fclose(f);
            break;
        }
        lists = v;
        lists[nlists] = strdup(path);
        while (lists[nlists] && fgets(line, sizeof(line), f)) {
            line[strcspn(line, "\n")] = '\0';
            if (!ends_with(line, ".so"))
                continue;
            struct stat st;
            struct solink l = {.pkg = nlists};
            if (lstat(line, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < 4096)
                l.script = strdup(line);
            else if (stat(line, &st) == 0) {
                l.dev = st.st_dev;
                l.ino = st.st_ino;
            } else
                continue;
            add_link(&l);
        }
        fclose(f);
        if (lists[nlists])
            nlists++;
    }
    closedir(d);
}

int cm_proto_dpkg_headers(const char *object, char **out, int max, char *pkg, size_t pkgsz)
{
    struct stat want;
    if (stat(object, &want) != 0)
        return 0;
    if (!scanned)
        scan_lists();
    int owner = -1;
    for (size_t i = 0; i < nlinks && owner < 0; i++)
        if (links[i].script ? script_names(links[i].script, want.st_dev, want.st_ino)
                            : links[i].dev == want.st_dev && links[i].ino == want.st_ino)
            owner = links[i].pkg;
    if (owner < 0)
        return 0;
    const char *name = strrchr(lists[owner], '/') + 1;
    snprintf(pkg, pkgsz, "%.*s", (int)(strlen(name) - 5), name);
    FILE *f = fopen(lists[owner], "re");
    if (!f)
        return 0;
    char line[PATH_MAX];
    int n = 0;
    while (n < max && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        struct stat st;
        if (strncmp(line, "/usr/include/", 13) == 0 && ends_with(line, ".h") &&
            stat(line, &st) == 0 && S_ISREG(st.st_mode))
            out[n++] = strdup(line);
    }
    fclose(f);
    return n;
}
