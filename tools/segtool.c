/*
 * segtool.c - what `cloudm stats` and `cloudm clear` share: which segment file they look at and
 * opening it through the module that writes it (shim/seg.c, library cm_seg).
 *
 * What it does: resolves the segment path exactly as the shim does in a program started from the
 * same environment: $CLOUDM_SHARED_PATH when set and not empty, else `shared_path` of the config
 * (-c FILE, else the lookup order of cm_config_find), else the default "/dev/shm/cloudm-%u"; then
 * replaces every "%u" with the real uid and opens the segment without creating it.
 *
 * What it does not do: it never creates, resizes or replaces a segment (cm_seg_open with
 * create = 0), and prints only one-line messages about why a segment could not be opened.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cloudm_env.h"
#include "seg/seg.h"

#define DEFAULT_SHARED_PATH "/dev/shm/cloudm-%u"

static void print_diag(void *ctx, enum cm_severity sev, const char *msg)
{
    (void)ctx;
    (void)sev;
    fprintf(stderr, "%s\n", msg);
}

int cm_seg_path(const char *cmd, const char *config, char *path, size_t size)
{
    char file[PATH_MAX], err[PATH_MAX + 256];
    const char *env = getenv(CLOUDM_ENV_SHARED_PATH), *src = DEFAULT_SHARED_PATH;
    struct cm_config cfg;
    int rc;

    memset(&cfg, 0, sizeof(cfg));
    if (env != NULL && env[0] != '\0') {
        src = env;
    } else {
        rc = cm_resolve_config(config, file, sizeof(file), err, sizeof(err));
        if (rc < 0 && rc != -ENOENT) {
            fprintf(stderr, "cloudm %s: %s\n", cmd, err);
            return CM_EXIT_FAIL;
        }
        if (rc == 0) {
            rc = cm_config_load(file, &cfg, print_diag, NULL);
            if (rc < 0) {
                fprintf(stderr, "cloudm %s: cannot read config %s: %s\n", cmd, file, strerror(-rc));
                cm_config_free(&cfg);
                return CM_EXIT_FAIL;
            }
            if (cfg.nerrors > 0) {
                fprintf(stderr, "cloudm %s: %s has errors; not guessing its shared_path\n", cmd,
                        file);
                cm_config_free(&cfg);
                return CM_EXIT_FAIL;
            }
            src = cfg.shared_path;
        }
    }
    rc = cm_path_expand(src, path, size);
    cm_config_free(&cfg);
    if (rc < 0) {
        fprintf(stderr, "cloudm %s: segment path too long\n", cmd);
        return CM_EXIT_FAIL;
    }
    return 0;
}

int cm_seg_tool_open(const char *cmd, const char *path, struct cm_seg **out)
{
    struct cm_seg_opts o = {.path = path, .size = 0, .max_entry = 0, .create = 0};
    char err[PATH_MAX + 256] = "";
    int rc;

    *out = NULL;
    rc = cm_seg_open(&o, out, err, sizeof(err));
    if (rc == -ENOENT)
        return rc;
    if (rc < 0) {
        fprintf(stderr, "cloudm %s: %s\n", cmd, err[0] != '\0' ? err : strerror(-rc));
        return CM_EXIT_FAIL;
    }
    return 0;
}
