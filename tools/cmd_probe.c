/*
 * cmd_probe.c - `cloudm probe [-c FILE] [--calls N] [--json FILE] [--] PROGRAM [ARGS...]`.
 *
 * What it does: runs PROGRAM as `cloudm profile` would (every configured function always
 * runs, nothing is served, the program's output is its own) with CLOUDM_PROBE set, so the shim
 * checks up to N calls of each function for what the config forgot (shim/probe/): undeclared
 * writes to globals, writes through parameters beyond their declaration, results that depend
 * on something the key does not see, output made inside the function. Each process of the
 * program writes its findings to a file in a private temporary directory; once the program
 * has exited, this command prints them, one line per finding with the config change that
 * fixes it (duplicates from forked processes merged), optionally as JSON, and exits 0 when
 * nothing was found, 3 when something was.
 *
 * What it does not do: it cannot see calls that never happen in this run, and it changes no
 * config; probing is slow by design (snapshots), so run it on a representative input.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "cloudm_version.h"

#define MAX_FINDINGS 1024

void cm_usage_probe(FILE *f)
{
    fprintf(f, "Usage: cloudm probe [-c FILE] [--calls N] [--json FILE] [--] PROGRAM [ARGS...]\n"
               "\n"
               "Run PROGRAM with every configured function executed as usual (nothing is\n"
               "served from a cache) and check up to N calls of each for what the config does\n"
               "not declare: writes to globals, writes through parameters, results that depend\n"
               "on hidden state (time, randomness, a global the program changes), output.\n"
               "Prints one line per finding on stderr, with the config change that fixes it.\n"
               "\n"
               "Options:\n"
               "  -c, --config FILE  config file (default: $CLOUDM_CONFIG, ./cloudm.conf,\n"
               "                     $XDG_CONFIG_HOME/cloudm/cloudm.conf,\n"
               "                     " CM_SYSCONFDIR_SHOWN "/cloudm/cloudm.conf)\n"
               "      --calls N      calls checked in full per function (default 64; calls\n"
               "                     with arguments not seen before first)\n"
               "      --json FILE    also write the findings as JSON to FILE\n"
               "  -h, --help         show this help\n"
               "\n"
               "Exit status: 0 when nothing was found, 3 when something was, 1 when the\n"
               "program could not be probed (config errors, library not found, no results),\n"
               "2 on a usage error.\n");
}

struct finding {
    char *func, *kind, *text, *config;
};

struct fnsum {
    char *name;
    unsigned long long calls, probed;
};

struct results {
    struct finding f[MAX_FINDINGS];
    int nf;
    struct fnsum s[1024];
    int ns;
    int files;
};

static void add_line(struct results *r, char *line)
{
    char *field[5];
    int n = 0;
    line[strcspn(line, "\n")] = 0;
    for (char *p = line; n < 5; n++) {
        field[n] = p;
        char *t = strchr(p, '\t');
        if (!t) {
            n++;
            break;
        }
        *t = 0;
        p = t + 1;
    }
    if (n == 4 && strcmp(field[0], "C") == 0) {
        int i;
        for (i = 0; i < r->ns && strcmp(r->s[i].name, field[1]) != 0; i++)
            ;
        if (i == r->ns) {
            if (r->ns == (int)(sizeof(r->s) / sizeof(r->s[0])))
                return;
            r->s[r->ns++] = (struct fnsum){.name = strdup(field[1])};
        }
        r->s[i].calls += strtoull(field[2], NULL, 10);
        r->s[i].probed += strtoull(field[3], NULL, 10);
    } else if (n == 5 && strcmp(field[0], "F") == 0) {
        for (int i = 0; i < r->nf; i++)
            if (strcmp(r->f[i].text, field[3]) == 0)
                return; /* the same finding from another process */
        if (r->nf < MAX_FINDINGS)
            r->f[r->nf++] = (struct finding){strdup(field[1]), strdup(field[2]), strdup(field[3]),
                                             strdup(field[4])};
    }
}

static void read_results(const char *dir, struct results *r)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096 + 512], line[8192];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        r->files++;
        while (fgets(line, sizeof(line), f))
            add_line(r, line);
        fclose(f);
        unlink(path);
    }
    closedir(d);
}

static int write_json(const char *path, const struct results *r, char **argv, int status)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cloudm probe: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "{\"cloudm\": \"%s\", \"program\": [", CLOUDM_VERSION);
    for (int i = 0; argv[i]; i++) {
        fprintf(f, "%s", i ? ", " : "");
        cm_json_string(f, argv[i]);
    }
    fprintf(f, "], \"exit_status\": %d,\n \"functions\": [", status);
    for (int i = 0; i < r->ns; i++) {
        fprintf(f, "%s\n  {\"name\": ", i ? "," : "");
        cm_json_string(f, r->s[i].name);
        fprintf(f, ", \"calls\": %llu, \"probed\": %llu}", r->s[i].calls, r->s[i].probed);
    }
    fprintf(f, "],\n \"findings\": [");
    for (int i = 0; i < r->nf; i++) {
        fprintf(f, "%s\n  {\"function\": ", i ? "," : "");
        cm_json_string(f, r->f[i].func);
        fprintf(f, ", \"kind\": ");
        cm_json_string(f, r->f[i].kind);
        fprintf(f, ", \"text\": ");
        cm_json_string(f, r->f[i].text);
        fprintf(f, ", \"config\": ");
        cm_json_string(f, r->f[i].config);
        fprintf(f, "}");
    }
    fprintf(f, "]}\n");
    return fclose(f) == 0 ? 0 : -1;
}

int cm_cmd_probe(int argc, char **argv)
{
    struct cm_launch l;
    const char *json = NULL, *calls = NULL;
    enum cm_argstep step;
    int i, rc;

    memset(&l, 0, sizeof(l));
    for (i = 1; (step = cm_arg_step(argc, argv, &i, cm_usage_probe)) == CM_ARG_OPTION; i++) {
        const char *a = argv[i];
        rc = cm_config_option(argc, argv, &i, "probe", &l.config);
        if (rc < 0)
            goto usage;
        if (rc > 0)
            continue;
        if (cm_is_option(a, "--calls")) {
            char *end;
            if (!(calls = cm_option_value(argc, argv, &i, "probe", 7)))
                goto usage;
            unsigned long n = strtoul(calls, &end, 10);
            if (*end || n == 0 || n > 1000000) {
                fprintf(stderr, "cloudm probe: --calls needs a number from 1 to 1000000\n");
                goto usage;
            }
        } else if (cm_is_option(a, "--json")) {
            if (!(json = cm_option_value(argc, argv, &i, "probe", 6)) || !*json)
                goto usage;
        } else {
            fprintf(stderr, "cloudm probe: unknown option '%s'\n", a);
            goto usage;
        }
    }
    if (step == CM_ARG_HELP)
        return 0;
    if (i >= argc) {
        fprintf(stderr, "cloudm probe: missing PROGRAM\n");
        goto usage;
    }
    l.argv = argv + i;

    char dir[4096], file[4200];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/cloudm-probe.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "cloudm probe: cannot create a directory in %s: %s\n",
                tmp && *tmp ? tmp : "/tmp", strerror(errno));
        return CM_EXIT_FAIL;
    }
    snprintf(file, sizeof(file), "%s/probe-%%p", dir);
    l.probe = file;
    l.probe_calls = calls;
    l.mode = "profile";
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "cloudm probe: fork: %s\n", strerror(errno));
        rmdir(dir);
        return CM_EXIT_FAIL;
    }
    if (pid == 0)
        _exit(cm_run_program(&l)); /* returns only when the program could not start */
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);

    static struct results r;
    read_results(dir, &r);
    rmdir(dir);
    if (!r.files) {
        fprintf(stderr,
                "cloudm probe: %s wrote no probe results (exit status %d): nothing was "
                "probed\n",
                l.argv[0], status);
        return CM_EXIT_FAIL;
    }
    for (int k = 0; k < r.nf; k++)
        fprintf(stderr, "%s\n", r.f[k].text);
    unsigned long long ncalls = 0, nprobed = 0;
    for (int k = 0; k < r.ns; k++)
        ncalls += r.s[k].calls, nprobed += r.s[k].probed;
    fprintf(stderr,
            "cloudm probe: %d finding%s; %llu call%s of %d function%s, %llu checked in "
            "full%s\n",
            r.nf, r.nf == 1 ? "" : "s", ncalls, ncalls == 1 ? "" : "s", r.ns, r.ns == 1 ? "" : "s",
            nprobed, status ? " (the program exited with a non-zero status)" : "");
    if (json && write_json(json, &r, l.argv, status) < 0)
        return CM_EXIT_FAIL;
    return r.nf ? CM_EXIT_FOUND : 0;

usage:
    fputc('\n', stderr);
    cm_usage_probe(stderr);
    return CM_EXIT_USAGE;
}
