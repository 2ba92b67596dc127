/*
 * cmd_run.c - `cloudm run [-c FILE] [--mode M] [--report[=FILE]] [--] PROGRAM [ARGS...]`.
 *
 * What it does: runs PROGRAM with libcloudm.so preloaded and the config, mode and report
 * settings exported for it; exec replaces `cloudm`, so the program's exit status (or signal) is
 * what the caller sees. A `strict = yes` config with errors or warnings stops it before the
 * program starts (exit 1).
 *
 * What it does not do: no memoization happens here (that is libcloudm.so's job, inside the
 * program); it does not print a non-strict config's diagnostics (the shim does, once).
 */
#include <stdio.h>

#include "cli.h"

void cm_usage_run(FILE *f)
{
    fprintf(f,
            "Usage: cloudm run [-c FILE] [--mode MODE] [--report[=FILE]] [--verify[=RATE]] [--]\n"
            "                  PROGRAM [ARGS...]\n"
            "\n"
            "Run PROGRAM with the functions named in the config memoized.\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE  config file (default: $CLOUDM_CONFIG, ./cloudm.conf,\n"
            "                     $XDG_CONFIG_HOME/cloudm/cloudm.conf,\n"
            "                     " CM_SYSCONFDIR_SHOWN "/cloudm/cloudm.conf)\n"
            "      --mode MODE    override every function's mode: readwrite, readonly,\n"
            "                     writeonly, off, profile (sets CLOUDM_MODE)\n"
            "      --report       print a report table on stderr when the program exits\n"
            "      --report=FILE  write a JSON report to FILE instead (%%p = process id)\n"
            "      --verify[=RATE]  re-check this fraction of hits (default 1: every hit)\n"
            "                     against a fresh call; a mismatch quarantines the function\n"
            "                     (sets CLOUDM_VERIFY, overrides `verify =`)\n"
            "  -h, --help         show this help\n"
            "\n"
            "The program's exit status is passed through. cloudm itself exits 1 when the\n"
            "config has errors and says `strict = yes` (or libcloudm.so cannot be found),\n"
            "2 on a usage error, and 127 when PROGRAM cannot be executed.\n");
}

int cm_cmd_run(int argc, char **argv)
{
    struct cm_launch l;
    int rc;

    rc = cm_parse_options(argc, argv, "run",
                          CM_OPT_CONFIG | CM_OPT_MODE | CM_OPT_REPORT | CM_OPT_VERIFY, cm_usage_run,
                          &l);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (l.argv == NULL) {
        fprintf(stderr, "cloudm run: missing PROGRAM\n\n");
        cm_usage_run(stderr);
        return CM_EXIT_USAGE;
    }
    return cm_run_program(&l);
}
