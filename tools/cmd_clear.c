/*
 * cmd_clear.c - `cloudm clear [-c FILE] [--function NAME]`.
 *
 * What it does: opens the user's shared segment (segtool.c; never creates one) and drops every
 * entry, or only those stored by the functions called NAME, through cm_seg_clear(), which is safe
 * while other processes read and write the segment; prints how many entries were dropped. It
 * also lifts the quarantine `verify` put on those functions (seg_quar.c), so every process
 * serves them again.
 *
 * What it does not do: it leaves the per-function statistics alone (they count what happened,
 * not what is stored), does not touch any process's memory tier (a running program keeps the
 * answers it already holds), and never deletes the segment file.
 */
#include <errno.h>
#include <string.h>

#include "cli.h"
#include "seg/seg.h"

void cm_usage_clear(FILE *f)
{
    fprintf(f,
            "Usage: cloudm clear [-c FILE] [--function NAME]\n"
            "\n"
            "Drop the entries of the shared segment: all of them, or only those of the\n"
            "functions called NAME. Safe while programs are using the segment; their\n"
            "per-process memory tiers keep what they hold. Statistics are kept.\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE    config whose shared_path to use (default: as for run;\n"
            "                       then /dev/shm/cloudm-%%u). $CLOUDM_SHARED_PATH overrides it.\n"
            "  --function NAME      only the entries of this function\n"
            "  -h, --help           show this help\n"
            "\n"
            "Exit status: 0 (also when there is no segment: nothing to clear), 1 when the\n"
            "segment cannot be opened, 2 on a usage error.\n");
}

int cm_cmd_clear(int argc, char **argv)
{
    const char *config = NULL, *name = NULL;
    char path[CM_PATH_MAX];
    struct cm_seg *s;
    long n;
    int rc;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int taken;

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cm_usage_clear(stdout);
            return 0;
        }
        taken = cm_config_option(argc, argv, &i, "clear", &config);
        if (taken < 0)
            goto usage;
        if (taken > 0)
            continue;
        if (cm_is_option(a, "--function")) {
            name = cm_option_value(argc, argv, &i, "clear", 10);
            if (name == NULL)
                goto usage;
            if (name[0] == '\0' || strlen(name) >= CM_NAME_MAX) {
                fprintf(stderr, "cloudm clear: invalid function name '%s'\n", name);
                goto usage;
            }
        } else {
            fprintf(stderr, "cloudm clear: unknown %s '%s'\n", a[0] == '-' ? "option" : "argument",
                    a);
            goto usage;
        }
    }
    rc = cm_seg_path("clear", config, path, sizeof(path));
    if (rc != 0)
        return rc;
    rc = cm_seg_tool_open("clear", path, &s);
    if (rc == -ENOENT) {
        printf("cloudm: no shared segment at %s (nothing to clear)\n", path);
        return 0;
    }
    if (rc != 0)
        return rc;
    n = cm_seg_clear(s, name);
    int lifted = cm_seg_unquarantine(s, name); /* verify's quarantine ends with the entries */
    cm_seg_close(s);
    if (n < 0) {
        fprintf(stderr, "cloudm clear: %s: %s\n", path, strerror((int)-n));
        return CM_EXIT_FAIL;
    }
    if (name != NULL)
        printf("cleared %ld entr%s of %s from %s\n", n, n == 1 ? "y" : "ies", name, path);
    else
        printf("cleared %ld entr%s from %s\n", n, n == 1 ? "y" : "ies", path);
    if (lifted)
        printf("lifted the quarantine of %d function variant%s\n", lifted, lifted == 1 ? "" : "s");
    return 0;

usage:
    fputc('\n', stderr);
    cm_usage_clear(stderr);
    return CM_EXIT_USAGE;
}
