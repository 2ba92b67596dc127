/*
 * cloudm.c - the `cloudm` command: main, subcommand dispatch, top-level help and version.
 *
 * What it does: picks the subcommand (run, check, profile, probe, discover, inspect, stats, clear,
 * doctor, keycache, help) and hands it the rest of the command line; prints the general usage
 * and the version.
 *
 * What it does not do: no option of a subcommand is parsed here (launch.c and each cmd_*.c
 * do that), and the command never links or loads libcloudm.so: it only arranges for the program
 * it runs to preload it (stats and clear link the segment module, cm_seg, on its own).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cloudm_version.h"
#include "agent.h"
#include "keycache.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    void (*usage)(FILE *f);
};

static const struct command commands[] = {
    {"run", cm_cmd_run, cm_usage_run},
    {"check", cm_cmd_check, cm_usage_check},
    {"profile", cm_cmd_profile, cm_usage_profile},
    {"probe", cm_cmd_probe, cm_usage_probe},
    {"stats", cm_cmd_stats, cm_usage_stats},
    {"clear", cm_cmd_clear, cm_usage_clear},
    {"discover", cm_cmd_discover, cm_usage_discover},
    {"inspect", cm_cmd_inspect, cm_usage_inspect},
    {"doctor", cm_cmd_doctor, cm_usage_doctor},
    {"keycache", cm_cmd_keycache, cm_usage_keycache},
    {"agent", cm_cmd_agent, cm_usage_agent},
};

void cm_usage_main(FILE *f)
{
    fprintf(f, "Usage: cloudm COMMAND [OPTIONS] [--] [PROGRAM [ARGS...]]\n"
               "\n"
               "Memoize functions inside unmodified Linux programs.\n"
               "\n"
               "Commands:\n"
               "  run      run PROGRAM with the functions named in the config memoized\n"
               "  check    validate a config; with PROGRAM, show where each function is found\n"
               "  profile  run PROGRAM unmemoized and report what a cache would save\n"
               "  discover run PROGRAM and find what is worth memoizing (no config needed)\n"
               "  inspect  the signature cloudm would write for one function, and its source\n"
               "  probe    run PROGRAM and find what its config forgot (globals, buffers,\n"
               "           hidden inputs, output)\n"
               "  stats    live statistics of the shared cache segment\n"
               "  clear    drop entries of the shared cache segment\n"
               "  doctor   check the setup: config, library, segment, remote, kernel\n"
               "  keycache run the shared remote cache server (HTTP + LMDB)\n"
               "  agent    start, flush or stop the agent that talks to the remote\n"
               "  help     show the help of a command (cloudm help run)\n"
               "\n"
               "Options:\n"
               "  -h, --help  show this help\n"
               "  --version   print the version\n"
               "\n"
               "Examples:\n"
               "  cloudm check -c lgamma.conf\n"
               "  cloudm run -c lgamma.conf --report -- ./legacy_sim input.dat\n"
               "  cloudm profile -c lgamma.conf -- ./legacy_sim input.dat\n"
               "  cloudm stats --watch 1\n"
               "  cloudm doctor\n");
}

static const struct command *find(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static int help(int argc, char **argv)
{
    const struct command *c;

    if (argc < 2) {
        cm_usage_main(stdout);
        return 0;
    }
    c = find(argv[1]);
    if (c == NULL) {
        fprintf(stderr, "cloudm help: unknown command '%s'\n\n", argv[1]);
        cm_usage_main(stderr);
        return CM_EXIT_USAGE;
    }
    c->usage(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    const struct command *c;
    const char *a;

    if (argc < 2) {
        cm_usage_main(stderr);
        return CM_EXIT_USAGE;
    }
    a = argv[1];
    if (strcmp(a, "--version") == 0) {
        printf("cloudm %s\n", CLOUDM_VERSION);
        return 0;
    }
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
        cm_usage_main(stdout);
        return 0;
    }
    if (strcmp(a, "help") == 0)
        return help(argc - 1, argv + 1);
    c = find(a);
    if (c != NULL)
        return c->run(argc - 1, argv + 1);
    if (a[0] == '-')
        fprintf(stderr, "cloudm: unknown option '%s'\n\n", a);
    else
        fprintf(stderr, "cloudm: unknown command '%s'\n\n", a);
    cm_usage_main(stderr);
    return CM_EXIT_USAGE;
}
