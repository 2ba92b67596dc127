/*
 * cmd_profile.c - `cloudm profile [-c FILE] [--report[=FILE]] [--] PROGRAM [ARGS...]`.
 *
 * What it does: `cloudm run` with CLOUDM_MODE=profile: every configured function is always
 * called, and the report says how many calls, distinct argument sets and how much time a cache
 * would have saved ("benchmark the legacy code first"). The report goes to stderr unless
 * --report=FILE or an existing CLOUDM_REPORT says otherwise.
 *
 * What it does not do: it stores nothing in any cache and does not accept --mode.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "cloudm_env.h"

void cm_usage_profile(FILE *f)
{
    fprintf(f, "Usage: cloudm profile [-c FILE] [--report[=FILE]] [--] PROGRAM [ARGS...]\n"
               "\n"
               "Run PROGRAM calling every configured function as usual, and report how often\n"
               "each was called with the same arguments and how much time a cache would save.\n"
               "\n"
               "Options:\n"
               "  -c, --config FILE  config file (default: $CLOUDM_CONFIG, ./cloudm.conf,\n"
               "                     $XDG_CONFIG_HOME/cloudm/cloudm.conf,\n"
               "                     " CM_SYSCONFDIR_SHOWN "/cloudm/cloudm.conf)\n"
               "      --report       report table on stderr (the default, unless CLOUDM_REPORT\n"
               "                     is already set)\n"
               "      --report=FILE  write a JSON report to FILE instead (%%p = process id)\n"
               "  -h, --help         show this help\n"
               "\n"
               "The program's exit status is passed through (see `cloudm help run`).\n");
}

int cm_cmd_profile(int argc, char **argv)
{
    struct cm_launch l;
    const char *env;
    int rc;

    rc = cm_parse_options(argc, argv, "profile", CM_OPT_CONFIG | CM_OPT_REPORT, cm_usage_profile,
                          &l);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (l.argv == NULL) {
        fprintf(stderr, "cloudm profile: missing PROGRAM\n\n");
        cm_usage_profile(stderr);
        return CM_EXIT_USAGE;
    }
    l.mode = "profile";
    env = getenv(CLOUDM_ENV_REPORT);
    if (l.report == NULL && (env == NULL || env[0] == '\0'))
        l.report = "stderr";
    return cm_run_program(&l);
}
