/*
 * cmd_profile.c - `cloudm profile [-c FILE] [--report[=FILE]] [--] PROGRAM [ARGS...]`.
 *
 * What it does: `cloudm run` with CLOUDM_MODE=profile: every configured function is always
 * called, and the report says how many calls, distinct argument sets and how much time a cache
 * would have saved ("benchmark the legacy code first"), in this run and across runs (the shim
 * records each distinct call's key digest in the shared segment's profile table). The report
 * goes to stderr unless --report=FILE, an existing CLOUDM_REPORT or the config's `report =`
 * says otherwise. --reset empties the profile table (through the segment module, like `cloudm
 * clear`).
 *
 * What it does not do: it stores nothing in any cache and does not accept --mode.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cloudm_env.h"
#include "seg/seg.h"

void cm_usage_profile(FILE *f)
{
    fprintf(f, "Usage: cloudm profile [-c FILE] [--report[=FILE]] [--] PROGRAM [ARGS...]\n"
               "       cloudm profile [-c FILE] --reset [[--] PROGRAM [ARGS...]]\n"
               "\n"
               "Run PROGRAM calling every configured function as usual, and report how often\n"
               "each was called with the same arguments and how much time a cache would save,\n"
               "in this run and, with the calls earlier runs recorded in the shared segment\n"
               "(key digests only), a cache kept across runs.\n"
               "\n"
               "Options:\n"
               "  -c, --config FILE  config file (default: $CLOUDM_CONFIG, ./cloudm.conf,\n"
               "                     $XDG_CONFIG_HOME/cloudm/cloudm.conf,\n"
               "                     " CM_SYSCONFDIR_SHOWN "/cloudm/cloudm.conf)\n"
               "      --report       report table on stderr (the default, unless CLOUDM_REPORT\n"
               "                     is already set)\n"
               "      --report=FILE  write a JSON report to FILE instead (%%p = process id)\n"
               "      --reset        forget the calls earlier runs recorded (then run PROGRAM,\n"
               "                     if given)\n"
               "  -h, --help         show this help\n"
               "\n"
               "The program's exit status is passed through (see `cloudm help run`).\n");
}

/* --reset: forget the calls earlier runs recorded in the segment's profile table. */
static int reset(const char *config)
{
    char path[CM_PATH_MAX];
    struct cm_seg *s;
    int rc = cm_seg_path("profile", config, path, sizeof(path));
    if (rc != 0)
        return rc;
    rc = cm_seg_tool_open("profile", path, &s);
    if (rc == -ENOENT) {
        printf("cloudm: no shared segment at %s (nothing to forget)\n", path);
        return 0;
    }
    if (rc != 0)
        return rc;
    uint64_t n = cm_seg_prof_reset(s);
    cm_seg_close(s);
    printf("forgot %llu recorded call%s in %s\n", (unsigned long long)n, n == 1 ? "" : "s", path);
    return 0;
}

int cm_cmd_profile(int argc, char **argv)
{
    struct cm_launch l;
    const char *env;
    int rc, do_reset = 0, n = 0;

    /* --reset (before PROGRAM) is this command's own option; the rest are run's. */
    char **av = calloc((size_t)argc + 1, sizeof(*av));
    if (av == NULL)
        return CM_EXIT_FAIL;
    for (int i = 0; i < argc; i++) {
        int value_of_c = i > 1 && (!strcmp(argv[i - 1], "-c") || !strcmp(argv[i - 1], "--config"));
        if (strcmp(argv[i], "--") == 0 || (i > 0 && argv[i][0] != '-' && !value_of_c)) {
            while (i < argc)
                av[n++] = argv[i++];
            break;
        }
        if (i > 0 && strcmp(argv[i], "--reset") == 0)
            do_reset = 1;
        else
            av[n++] = argv[i];
    }
    rc = cm_parse_options(n, av, "profile", CM_OPT_CONFIG | CM_OPT_REPORT, cm_usage_profile, &l);
    if (rc != 0) {
        free(av);
        return rc == 1 ? 0 : rc;
    }
    if (do_reset) {
        rc = reset(l.config);
        if (rc != 0 || l.argv == NULL) {
            free(av);
            return rc;
        }
    }
    if (l.argv == NULL) {
        fprintf(stderr, "cloudm profile: missing PROGRAM\n\n");
        cm_usage_profile(stderr);
        return CM_EXIT_USAGE;
    }
    l.mode = "profile";
    env = getenv(CLOUDM_ENV_REPORT);
    if (l.report == NULL && (env == NULL || env[0] == '\0'))
        l.report_default = "stderr"; /* unless the config says `report =` */
    rc = cm_run_program(&l);
    free(av);
    return rc;
}
