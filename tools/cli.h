/*
 * cli.h - what the `cloudm` subcommands share: their entry points, option parsing, config
 * loading and the launch environment (launch.c).
 *
 * What it does not do: no memoization logic lives in the command; it only prepares the
 * environment libcloudm.so reads (include/cloudm_env.h) and runs the program.
 */
#ifndef CM_CLI_H
#define CM_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "cm_config.h"

/* Exit statuses of the command itself (`run` otherwise exits with the program's status). */
#define CM_EXIT_FAIL 1     /* config errors (strict), check failures, library not found */
#define CM_EXIT_USAGE 2    /* unknown command or option, missing argument */
#define CM_EXIT_NOEXEC 127 /* the program could not be executed */

/* Options a subcommand accepts (cm_parse_options `allowed`). */
#define CM_OPT_CONFIG 0x1u /* -c FILE, --config FILE */
#define CM_OPT_MODE 0x2u   /* --mode M */
#define CM_OPT_REPORT 0x4u /* --report[=FILE] */
#define CM_OPT_VERIFY 0x8u /* --verify[=RATE] */

/* `cloudm probe` exits with this when it found something (0 when nothing). */
#define CM_EXIT_FOUND 3

struct cm_launch {
    const char *config;      /* -c FILE as written, NULL = look it up (cm_config_find) */
    const char *mode;        /* --mode word (validated), NULL = leave CLOUDM_MODE alone */
    const char *report;      /* "stderr" or a path as written, NULL = leave CLOUDM_REPORT alone */
    const char *verify;      /* --verify rate (validated), NULL = leave CLOUDM_VERIFY alone */
    const char *probe;       /* `cloudm probe`: CLOUDM_PROBE (the findings file); NULL = unset it */
    const char *probe_calls; /* `cloudm probe --calls N`: CLOUDM_PROBE_CALLS */
    const char *report_default; /* the report when neither --report, CLOUDM_REPORT nor the
                                   config's `report =` names one (cloudm profile: "stderr") */
    bool check;                 /* export CLOUDM_CHECK=1 (cloudm check PROGRAM) */
    bool wait;                  /* cm_run_program: fork, wait and return the program's status */
    char **argv;                /* PROGRAM and its arguments (NULL-terminated), or NULL */
};

/* Subcommands: argv[0] is the subcommand name. Each returns the process exit status (run and
 * profile do not return when the program starts). */
int cm_cmd_run(int argc, char **argv);
int cm_cmd_check(int argc, char **argv);
int cm_cmd_profile(int argc, char **argv);
int cm_cmd_stats(int argc, char **argv);
int cm_cmd_clear(int argc, char **argv);
int cm_cmd_discover(int argc, char **argv);
int cm_cmd_inspect(int argc, char **argv);
int cm_cmd_probe(int argc, char **argv);
int cm_cmd_doctor(int argc, char **argv);

void cm_usage_main(FILE *f);
void cm_usage_run(FILE *f);
void cm_usage_check(FILE *f);
void cm_usage_profile(FILE *f);
void cm_usage_stats(FILE *f);
void cm_usage_clear(FILE *f);
void cm_usage_discover(FILE *f);
void cm_usage_inspect(FILE *f);
void cm_usage_probe(FILE *f);
void cm_usage_doctor(FILE *f);

/*
 * Parse `cmd`'s options (argv[0] is the subcommand) up to the first non-option or `--`; the
 * rest is the program (l->argv, NULL when there is none). -h/--help prints `usage` on stdout.
 * Returns 0 to go on, 1 after printing help (exit 0), or CM_EXIT_USAGE after printing a message
 * and `usage` on stderr.
 */
int cm_parse_options(int argc, char **argv, const char *cmd, unsigned allowed,
                     void (*usage)(FILE *), struct cm_launch *l);

/* ---- argscan.c: the option walk the subcommands share ---- */

/* What argv[i] is to a subcommand's option loop (cm_arg_step). */
enum cm_argstep {
    CM_ARG_OPTION, /* an option for the command to handle */
    CM_ARG_END,    /* no more options: argv[i] is the program (i == argc: none); a `--` is
                      skipped */
    CM_ARG_HELP,   /* -h/--help: `usage` was printed on stdout, exit 0 */
};

/*
 * One step of an option loop that stops at the program, used as
 * `for (i = 1; (st = cm_arg_step(argc, argv, &i, usage)) == CM_ARG_OPTION; i++)`.
 */
enum cm_argstep cm_arg_step(int argc, char **argv, int *i, void (*usage)(FILE *));

/*
 * -c FILE / --config FILE at argv[*i] (also -cFILE, --config=FILE): stores the name in *config,
 * moving *i past a separate value. Returns 1 when taken, 0 when argv[*i] is another option,
 * -1 after a message on stderr (value missing or empty): a usage error.
 */
int cm_config_option(int argc, char **argv, int *i, const char *cmd, const char **config);

/*
 * The config file to use, absolute: -c FILE, else cm_config_find(). Writes it to `abs`.
 * Returns 0, -ENOENT when no file was named and none was found (a message in `err` only when a
 * named file is missing), or a negative errno with a message in `err`.
 */
int cm_resolve_config(const char *given, char *abs, size_t abssz, char *err, size_t errsz);

/* Diagnostics collected while parsing, to print later (bounded; extra lines are counted). */
struct cm_diags {
    char **lines;
    int n, cap, dropped;
};
void cm_diags_collect(void *ctx, enum cm_severity sev, const char *msg);
void cm_diags_print(const struct cm_diags *d, FILE *f);
void cm_diags_free(struct cm_diags *d);

/*
 * Export what the shim reads: LD_PRELOAD (libcloudm.so composed in), CLOUDM_CONFIG=`config_abs`
 * (when not NULL), CLOUDM_MODE, CLOUDM_REPORT (absolute path, %p kept) and CLOUDM_CHECK as `l`
 * says; CLOUDM_CHECK is removed otherwise, CLOUDM_DISABLE is never touched. Prints a message
 * and returns CM_EXIT_FAIL on failure (library not found), 0 on success.
 */
int cm_launch_env(const struct cm_launch *l, const char *config_abs);

/* execvp(l->argv); on failure prints "cloudm: cannot run PROGRAM: ..." and returns 127. */
int cm_exec(const struct cm_launch *l);

/* Fork, exec l->argv, wait (SIGINT/SIGQUIT ignored meanwhile, as system(3) does); returns the
 * program's exit status (128 + signal when killed), 127 when it could not be executed. */
int cm_spawn_wait(const struct cm_launch *l);

/* Wait for child `pid` with SIGINT and SIGQUIT ignored meanwhile (the program owns the
 * terminal's signals while it runs); its exit status, 128 + signal when killed. */
int cm_wait_child(pid_t pid);

/*
 * `run` and `profile` after option parsing: resolve and parse the config, stop on errors (or
 * warnings) when it says `strict = yes`, export the environment and exec the program.
 * Returns only on failure, with the exit status.
 */
int cm_run_program(struct cm_launch *l);

/* ---- segtool.c: `stats` and `clear` ---------------------------------------------------- */

struct cm_seg;

/*
 * The shared segment's path, as the shim would open it: $CLOUDM_SHARED_PATH, else the config's
 * `shared_path` (`config` as given with -c, NULL = look it up; no config = the default), with
 * every %u replaced by the uid. Returns 0, or CM_EXIT_FAIL after printing a message (config
 * unreadable or with errors, path too long).
 */
int cm_seg_path(const char *cmd, const char *config, char *path, size_t size);

/* Opens an existing segment (never creates one). Returns 0 and *out, -ENOENT when there is no
 * segment at `path` (nothing printed), or CM_EXIT_FAIL after printing why it was refused. */
int cm_seg_tool_open(const char *cmd, const char *path, struct cm_seg **out);

/* ---- json_out.c ---- */
/* Writes s as a quoted JSON string (", \\ and control characters escaped). */
void cm_json_string(FILE *f, const char *s);

#endif
