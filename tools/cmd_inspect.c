/*
 * cmd_inspect.c - `cloudm inspect FUNCTION [--object GLOB|PATH] [--header FILE]... [-I DIR]...
 * [--internal] [-- PROGRAM [ARGS...]]`: the signature line cloudm would write for one function,
 * and where its prototype came from.
 *
 * What it does: finds the object defining FUNCTION (--object as a file path; else a library in
 * the system's library directories whose name matches the glob; else, with PROGRAM, the object
 * the program's imports of FUNCTION reach, from a list-mode run that stops before main), looks
 * the prototype up in the same order as `cloudm discover` (DWARF, --header files, the Debian
 * -dev package's headers) and prints `signature = ...` with the source and any TODO.
 *
 * What it does not do: it runs nothing but the program's start-up (with PROGRAM), and it does
 * not observe calls.
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cm_config.h"
#include "disc.h"
#include "proto.h"

#define MAX_OPTS 64

void cm_usage_inspect(FILE *f)
{
    fprintf(f,
            "Usage: cloudm inspect FUNCTION [--object GLOB|PATH] [--header FILE]... [-I DIR]...\n"
            "                      [--internal] [-- PROGRAM [ARGS...]]\n"
            "\n"
            "Print the signature line cloudm would write for FUNCTION and where its prototype\n"
            "came from (DWARF, a header, the Debian -dev package's headers).\n"
            "\n"
            "Options:\n"
            "      --object GLOB  the object defining FUNCTION: a path, or a glob over the\n"
            "                     libraries in the system's library directories\n"
            "      --header FILE  C header to parse with libclang (repeatable)\n"
            "  -I DIR             include directory for --header (repeatable)\n"
            "      --internal     accept static (non-exported) functions in DWARF\n"
            "  -h, --help         show this help\n"
            "\n"
            "With PROGRAM, the object is the one the program's calls of FUNCTION reach.\n");
}

static const char *const libdirs[] = {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
                                      "/usr/local/lib", "/usr/lib", "/lib"};

/* The first regular file in the library directories whose path or basename matches glob. */
static int find_lib(const char *glob, char *out, size_t size)
{
    for (size_t i = 0; i < sizeof(libdirs) / sizeof(libdirs[0]); i++) {
        DIR *d = opendir(libdirs[i]);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            char p[PATH_MAX];
            snprintf(p, sizeof(p), "%s/%s", libdirs[i], e->d_name);
            struct stat st;
            if ((fnmatch(glob, e->d_name, 0) == 0 || fnmatch(glob, p, 0) == 0) &&
                stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
                snprintf(out, size, "%s", p);
                closedir(d);
                return 0;
            }
        }
        closedir(d);
    }
    return -ENOENT;
}

struct pick {
    const char *name, *glob;
    char object[PATH_MAX];
};

static void pick_one(const char *name, const char *object, void *ctx)
{
    struct pick *p = ctx;
    const char *b = strrchr(object, '/');
    if (p->object[0] || strcmp(name, p->name) != 0)
        return;
    if (p->glob && !cm_glob_match(p->glob, object) && !(b && cm_glob_match(p->glob, b + 1)))
        return;
    snprintf(p->object, sizeof(p->object), "%s", object);
}

int cm_cmd_inspect(int argc, char **argv)
{
    const char *fn = NULL, *object = NULL;
    const char *headers[MAX_OPTS], *dirs[MAX_OPTS];
    int nh = 0, nd = 0;
    bool internal = false;
    char **prog = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            prog = i + 1 < argc ? argv + i + 1 : NULL;
            break;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cm_usage_inspect(stdout);
            return 0;
        }
        if (strcmp(a, "--internal") == 0) {
            internal = true;
            continue;
        }
        const char *v = NULL;
        if (strcmp(a, "-I") == 0)
            v = i + 1 < argc ? argv[++i] : NULL;
        else if (strncmp(a, "-I", 2) == 0)
            v = a + 2;
        else if (cm_is_option(a, "--object") || cm_is_option(a, "--header"))
            v = cm_option_value(argc, argv, &i, "inspect", strcspn(a, "="));
        else if (a[0] == '-') {
            fprintf(stderr, "cloudm inspect: unknown option '%s'\n\n", a);
            cm_usage_inspect(stderr);
            return CM_EXIT_USAGE;
        } else if (!fn) {
            fn = a;
            continue;
        } else {
            prog = argv + i; /* PROGRAM without "--" */
            break;
        }
        if (!v || !v[0]) {
            fprintf(stderr, "cloudm inspect: %s needs a value\n\n", a);
            cm_usage_inspect(stderr);
            return CM_EXIT_USAGE;
        }
        if (a[1] == 'I' && nd < MAX_OPTS)
            dirs[nd++] = v;
        else if (cm_is_option(a, "--object"))
            object = v;
        else if (nh < MAX_OPTS)
            headers[nh++] = v;
    }
    if (!fn) {
        fprintf(stderr, "cloudm inspect: missing FUNCTION\n\n");
        cm_usage_inspect(stderr);
        return CM_EXIT_USAGE;
    }
    char path[PATH_MAX] = "";
    struct stat st;
    if (object && stat(object, &st) == 0 && S_ISREG(st.st_mode)) {
        snprintf(path, sizeof(path), "%s", object);
    } else if (prog) {
        char dir[PATH_MAX];
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof(dir), "%s/cloudm-inspect.XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
        if (!mkdtemp(dir)) {
            fprintf(stderr, "cloudm inspect: cannot create a temporary directory: %s\n",
                    strerror(errno));
            return CM_EXIT_FAIL;
        }
        int status = 0;
        struct pick p = {.name = fn, .glob = object};
        if (disc_run(prog, dir, NULL, object, true, &status) == 0)
            disc_read_list(dir, pick_one, &p);
        char lp[PATH_MAX + 8];
        snprintf(lp, sizeof(lp), "%s/list", dir);
        unlink(lp);
        rmdir(dir);
        snprintf(path, sizeof(path), "%s", p.object);
    } else if (object && find_lib(object, path, sizeof(path)) != 0) {
        fprintf(stderr, "cloudm inspect: no library matches '%s'\n", object);
        return CM_EXIT_FAIL;
    }
    if (!path[0] && nh == 0) {
        fprintf(stderr,
                "cloudm inspect: where is %s defined? Name the object (--object), a "
                "header (--header) or the program (-- PROGRAM)\n",
                fn);
        return CM_EXIT_FAIL;
    }
    struct cm_proto *pr = calloc(1, sizeof(*pr));
    if (!pr)
        return CM_EXIT_FAIL;
    const char *names[1] = {fn};
    struct cm_proto_headers h = {.files = headers, .nfiles = nh, .dirs = dirs, .ndirs = nd};
    if (path[0])
        cm_proto_lookup(path, names, 1, pr, &h, internal);
    else
        cm_proto_clang(headers, nh, dirs, nd, names, 1, pr);
    char sig[1024], why[1024], src[700];
    enum cm_sig_status s = cm_proto_signature(pr, fn, sig, sizeof(sig), why, sizeof(why));
    if (s == CM_SIG_NONE)
        printf("# signature = ?  (cloudm cannot write it)\n");
    else
        printf("signature = %s\n", sig);
    printf("# prototype: %s\n", cm_proto_source_text(pr, src, sizeof(src)));
    if (path[0])
        printf("# object: %s\n", path);
    for (char *line = why; *line;) {
        size_t k = strcspn(line, "\n");
        printf("# %.*s\n", (int)k, line);
        line += k + (line[k] != '\0');
    }
    int rc = pr->source == CM_PROTO_NONE ? CM_EXIT_FAIL : 0;
    free(pr);
    return rc;
}
