/*
 * argscan.c - the two steps of option parsing the `cloudm` subcommands share: walking the
 * options written before PROGRAM (`--`, the first word that is not an option, -h/--help), and
 * the -c/--config FILE option.
 *
 * What it does: cm_arg_step() tells an option loop whether argv[i] is an option to handle, the
 * end of the options or a request for help (usage printed on stdout); cm_config_option() takes
 * -c FILE, -cFILE, --config FILE and --config=FILE and refuses an empty name.
 *
 * What it does not do: it knows no other option and prints no usage on errors; each command
 * handles its own options and says its own usage (config/options.c splits option and value).
 */
#include "cli.h"

#include <string.h>

enum cm_argstep cm_arg_step(int argc, char **argv, int *i, void (*usage)(FILE *))
{
    const char *a;

    if (*i >= argc)
        return CM_ARG_END;
    a = argv[*i];
    if (strcmp(a, "--") == 0) {
        (*i)++;
        return CM_ARG_END;
    }
    if (a[0] != '-' || a[1] == '\0')
        return CM_ARG_END; /* the program ("-" is a file name, as for most tools) */
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
        usage(stdout);
        return CM_ARG_HELP;
    }
    return CM_ARG_OPTION;
}

int cm_config_option(int argc, char **argv, int *i, const char *cmd, const char **config)
{
    const char *a = argv[*i];

    if (strncmp(a, "-c", 2) != 0 && !cm_is_option(a, "--config"))
        return 0;
    *config = cm_option_value(argc, argv, i, cmd, a[1] == '-' ? 8 : 2);
    if (*config == NULL)
        return -1;
    if ((*config)[0] == '\0') {
        fprintf(stderr, "cloudm %s: empty config file name\n", cmd);
        return -1;
    }
    return 1;
}
