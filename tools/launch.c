/*
 * launch.c - the part of `cloudm run`, `check` and `profile` they have in common: option
 * parsing, finding and judging the config, exporting the shim's environment, exec.
 *
 * What it does: parses the shared options; resolves the config file (-c, else the lookup order
 * of cm_config_find) to an absolute path so exec'ed children and programs that change directory
 * read the same file; parses it with the same parser the shim uses, so `strict = yes` can stop
 * the run before the program starts; exports LD_PRELOAD and the CLOUDM_* variables
 * (include/cloudm_env.h) and execs.
 *
 * What it does not do: it never loads libcloudm.so itself, never prints diagnostics of a
 * non-strict config (the shim prints them once, inside the program), and never changes
 * CLOUDM_DISABLE or any variable it was not asked to set.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "cloudm_env.h"
#include "preload.h"

#define CM_DIAGS_MAX 1000 /* diagnostics kept for printing; later ones are only counted */

int cm_parse_options(int argc, char **argv, const char *cmd, unsigned allowed,
                     void (*usage)(FILE *), struct cm_launch *l)
{
    enum cm_argstep step;
    int i;

    memset(l, 0, sizeof(*l));
    for (i = 1; (step = cm_arg_step(argc, argv, &i, usage)) == CM_ARG_OPTION; i++) {
        const char *a = argv[i];

        if (allowed & CM_OPT_CONFIG) {
            int rc = cm_config_option(argc, argv, &i, cmd, &l->config);

            if (rc < 0)
                goto usage_error;
            if (rc > 0)
                continue;
        }
        if ((allowed & CM_OPT_MODE) && cm_is_option(a, "--mode")) {
            enum cm_mode m;

            l->mode = cm_option_value(argc, argv, &i, cmd, 6);
            if (l->mode == NULL)
                goto usage_error;
            if (cm_parse_mode(l->mode, &m) != 0 || m == CM_MODE_UNSET) {
                fprintf(stderr,
                        "cloudm %s: unknown mode '%s' (readwrite, readonly, writeonly, off, "
                        "profile)\n",
                        cmd, l->mode);
                goto usage_error;
            }
            continue;
        }
        if ((allowed & CM_OPT_REPORT) && cm_is_option(a, "--report")) {
            /* Only "--report=FILE": "--report FILE" would swallow the program's name. */
            l->report = a[8] == '=' ? a + 9 : "stderr";
            if (l->report[0] == '\0') {
                fprintf(stderr, "cloudm %s: --report= needs a file name\n", cmd);
                goto usage_error;
            }
            continue;
        }
        if ((allowed & CM_OPT_VERIFY) && cm_is_option(a, "--verify")) {
            double r;
            /* "--verify" alone re-checks every hit; "--verify=RATE" a fraction of them */
            l->verify = a[8] == '=' ? a + 9 : "1";
            if (cm_parse_rate(l->verify, &r) != 0) {
                fprintf(stderr, "cloudm %s: --verify=%s is not a rate from 0 to 1\n", cmd,
                        l->verify);
                goto usage_error;
            }
            continue;
        }
        fprintf(stderr, "cloudm %s: unknown option '%s'\n", cmd, a);
        goto usage_error;
    }
    if (step == CM_ARG_HELP)
        return 1;
    l->argv = i < argc ? argv + i : NULL;
    return 0;

usage_error:
    fputc('\n', stderr);
    usage(stderr);
    return CM_EXIT_USAGE;
}

int cm_resolve_config(const char *given, char *abs, size_t abssz, char *err, size_t errsz)
{
    char found[CM_PATH_MAX], real[PATH_MAX];
    const char *path = given;
    int rc;

    err[0] = '\0';
    if (path == NULL) {
        rc = cm_config_find(found, sizeof(found));
        if (rc == -ENOENT)
            return rc;
        if (rc < 0) {
            snprintf(err, errsz, "cannot look up the config file: %s", strerror(-rc));
            return rc;
        }
        path = found;
    }
    if (access(path, R_OK) != 0 || realpath(path, real) == NULL) {
        rc = -errno;
        if (given == NULL && getenv(CLOUDM_ENV_CONFIG) != NULL)
            snprintf(err, errsz, "cannot read config %s=%s: %s", CLOUDM_ENV_CONFIG, path,
                     strerror(-rc));
        else
            snprintf(err, errsz, "cannot read config %s: %s", path, strerror(-rc));
        return rc == -ENOENT ? -ENODATA : rc; /* -ENOENT means "none found" to callers */
    }
    if (strlen(real) >= abssz) {
        snprintf(err, errsz, "config path too long: %s", real);
        return -ENAMETOOLONG;
    }
    strcpy(abs, real);
    return 0;
}

void cm_diags_collect(void *ctx, enum cm_severity sev, const char *msg)
{
    struct cm_diags *d = ctx;
    char *copy;

    (void)sev; /* the message already says "error:" or "warning:" */
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : 16;
        char **lines;

        if (d->n >= CM_DIAGS_MAX)
            goto drop;
        lines = realloc(d->lines, (size_t)cap * sizeof(*lines));
        if (lines == NULL)
            goto drop;
        d->lines = lines;
        d->cap = cap;
    }
    copy = strdup(msg);
    if (copy == NULL)
        goto drop;
    d->lines[d->n++] = copy;
    return;
drop:
    d->dropped++;
}

void cm_diags_print(const struct cm_diags *d, FILE *f)
{
    for (int i = 0; i < d->n; i++)
        fprintf(f, "%s\n", d->lines[i]);
    if (d->dropped > 0)
        fprintf(f, "cloudm: ... and %d more diagnostics\n", d->dropped);
}

void cm_diags_free(struct cm_diags *d)
{
    for (int i = 0; i < d->n; i++)
        free(d->lines[i]);
    free(d->lines);
    memset(d, 0, sizeof(*d));
}

int cm_launch_env(const struct cm_launch *l, const char *config_abs)
{
    char lib[PATH_MAX], err[PATH_MAX + 256], report[PATH_MAX];
    char *preload = NULL;
    int rc;

    rc = cm_find_library(lib, sizeof(lib), err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "cloudm: %s\n", err);
        return CM_EXIT_FAIL;
    }
    rc = cm_preload_compose(lib, getenv("LD_PRELOAD"), &preload);
    if (rc < 0)
        goto fail;
    if (setenv("LD_PRELOAD", preload, 1) != 0)
        goto fail_errno;
    if (config_abs != NULL && setenv(CLOUDM_ENV_CONFIG, config_abs, 1) != 0)
        goto fail_errno;
    if (l->mode != NULL && setenv(CLOUDM_ENV_MODE, l->mode, 1) != 0)
        goto fail_errno;
    if (l->verify != NULL && setenv(CLOUDM_ENV_VERIFY, l->verify, 1) != 0)
        goto fail_errno;
    if (l->report != NULL) {
        if (strcmp(l->report, "stderr") == 0) {
            strcpy(report, "stderr");
        } else {
            rc = cm_make_absolute(l->report, report, sizeof(report));
            if (rc < 0) {
                fprintf(stderr, "cloudm: report file %s: %s\n", l->report, strerror(-rc));
                free(preload);
                return CM_EXIT_FAIL;
            }
        }
        if (setenv(CLOUDM_ENV_REPORT, report, 1) != 0)
            goto fail_errno;
    }
    /* The shim starts agents with this very command. */
    {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
            self[n] = 0;
            if (setenv(CLOUDM_ENV_BIN, self, 1) != 0)
                goto fail_errno;
        }
    }
    /* Probe mode only for `cloudm probe` (a leftover would turn a run into a probe). */
    if (l->probe ? setenv(CLOUDM_ENV_PROBE, l->probe, 1) : unsetenv(CLOUDM_ENV_PROBE))
        goto fail_errno;
    if (l->probe_calls ? setenv(CLOUDM_ENV_PROBE_CALLS, l->probe_calls, 1)
                       : unsetenv(CLOUDM_ENV_PROBE_CALLS))
        goto fail_errno;
    /* A CLOUDM_CHECK left in the environment would turn a run into a check. */
    if (l->check ? setenv(CLOUDM_ENV_CHECK, "1", 1) : unsetenv(CLOUDM_ENV_CHECK))
        goto fail_errno;
    free(preload);
    return 0;

fail_errno:
    rc = -errno;
fail:
    fprintf(stderr, "cloudm: cannot set up the environment: %s\n", strerror(-rc));
    free(preload);
    return CM_EXIT_FAIL;
}

int cm_exec(const struct cm_launch *l)
{
    execvp(l->argv[0], l->argv);
    fprintf(stderr, "cloudm: cannot run %s: %s\n", l->argv[0], strerror(errno));
    return CM_EXIT_NOEXEC;
}

int cm_spawn_wait(const struct cm_launch *l)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "cloudm: fork: %s\n", strerror(errno));
        return CM_EXIT_FAIL;
    }
    if (pid == 0)
        _exit(cm_exec(l));
    return cm_wait_child(pid);
}

int cm_wait_child(pid_t pid)
{
    struct sigaction ign = {.sa_handler = SIG_IGN}, oi, oq;
    sigaction(SIGINT, &ign, &oi);
    sigaction(SIGQUIT, &ign, &oq);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    sigaction(SIGINT, &oi, NULL);
    sigaction(SIGQUIT, &oq, NULL);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int cm_run_program(struct cm_launch *l)
{
    char path[PATH_MAX], err[PATH_MAX + 256];
    const char *config_abs = NULL;
    struct cm_config cfg;
    struct cm_diags diags = {0};
    int rc;

    rc = cm_resolve_config(l->config, path, sizeof(path), err, sizeof(err));
    if (rc == -ENOENT) {
        fprintf(stderr,
                "cloudm: warning: no config file (-c FILE, $%s, ./cloudm.conf, "
                "$XDG_CONFIG_HOME/cloudm/cloudm.conf, " CM_SYSCONFDIR_SHOWN
                "/cloudm/cloudm.conf): nothing will be memoized\n",
                CLOUDM_ENV_CONFIG);
    } else if (rc < 0) {
        fprintf(stderr, "cloudm: %s\n", err);
        return CM_EXIT_FAIL;
    } else {
        const char *shown = l->config ? l->config : path;

        rc = cm_config_load(shown, &cfg, cm_diags_collect, &diags);
        if (rc < 0) {
            fprintf(stderr, "cloudm: cannot read config %s: %s\n", shown, strerror(-rc));
            cm_config_free(&cfg);
            cm_diags_free(&diags);
            return CM_EXIT_FAIL;
        }
        if (cfg.strict && (cfg.nerrors > 0 || cfg.nwarnings > 0)) {
            cm_diags_print(&diags, stderr);
            fprintf(stderr,
                    "cloudm: %s: strict = yes and %d error%s, %d warning%s: not running %s\n",
                    shown, cfg.nerrors, cfg.nerrors == 1 ? "" : "s", cfg.nwarnings,
                    cfg.nwarnings == 1 ? "" : "s", l->argv[0]);
            cm_config_free(&cfg);
            cm_diags_free(&diags);
            return CM_EXIT_FAIL;
        }
        if (cfg.report[0] != '\0')
            l->report_default = NULL; /* the shim reads `report =` from the config itself */
        /* The remote tier's agent, started before the program so its first calls can hit. */
        if (!l->check && cfg.nerrors == 0)
            cm_agent_prepare(&cfg);
        cm_config_free(&cfg);
        cm_diags_free(&diags);
        config_abs = path;
    }
    if (l->report == NULL && l->report_default != NULL)
        l->report = l->report_default;
    rc = cm_launch_env(l, config_abs);
    if (rc != 0)
        return rc;
    return l->wait ? cm_spawn_wait(l) : cm_exec(l);
}
