/*
 * cmd_profile.c - `cloudm profile [-c FILE] [--report[=FILE]] [--html FILE] [--reset] [--] PROGRAM [ARGS...]`.
 *
 * What it does: `cloudm run` with CLOUDM_MODE=profile: every configured function is always
 * called, and the report says how many calls, distinct argument sets and how much time a cache
 * would have saved ("benchmark the legacy code first"), in this run and across runs (the shim
 * records each distinct call's key digest in the shared segment's profile table). The report
 * goes to stderr unless --report=FILE, an existing CLOUDM_REPORT or the config's `report =`
 * says otherwise. --reset empties the profile table (through the segment module, like `cloudm
 * clear`). With --html FILE the program runs as a child: every process's JSON report is
 * collected in a temporary directory and turned into the same self-contained page `cloudm
 * discover --html` writes (disc_html.c), with the config.
 *
 * What it does not do: it stores nothing in any cache and does not accept --mode.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cloudm_env.h"
#include "disc.h"
#include "seg/seg.h"

void cm_usage_profile(FILE *f)
{
    fprintf(f, "Usage: cloudm profile [-c FILE] [--report[=FILE]] [--html FILE] [--] PROGRAM "
               "[ARGS...]\n"
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
               "      --html FILE    write a self-contained HTML report (replaces --report)\n"
               "      --reset        forget the calls earlier runs recorded (then run PROGRAM,\n"
               "                     if given)\n"
               "  -h, --help         show this help\n"
               "\n"
               "The program's exit status is passed through (see `cloudm help run`).\n");
}

/* Take "--html FILE" / "--html=FILE" out of the options (before the program). */
static const char *take_html(int *argc, char **argv)
{
    const char *html = NULL;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--") == 0 || argv[i][0] != '-')
            break;
        if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
            i++; /* its value */
            continue;
        }
        int drop = 0;
        if (strcmp(argv[i], "--html") == 0 && i + 1 < *argc) {
            html = argv[i + 1];
            drop = 2;
        } else if (strncmp(argv[i], "--html=", 7) == 0) {
            html = argv[i] + 7;
            drop = 1;
        }
        if (drop) {
            memmove(&argv[i], &argv[i + drop], (size_t)(*argc - i - drop + 1) * sizeof(*argv));
            *argc -= drop;
            i--;
        }
    }
    return html;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t k;
    while (m && (k = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, k, m);
    if (m)
        fclose(m);
    fclose(f);
    return buf;
}

static int profile_html(struct cm_launch *l, const char *html)
{
    char dir[PATH_MAX], rep[PATH_MAX + 16];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/cloudm-profile.XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("cloudm profile: mkdtemp");
        return CM_EXIT_FAIL;
    }
    snprintf(rep, sizeof(rep), "%s/report.%%p.json", dir);
    l->report = rep;
    l->wait = true;
    int status = cm_run_program(l);
    struct disc d = {0};
    disc_read_reports(dir, &d);
    d.run_ns = 0;
    for (int i = 0; i < d.n; i++) /* profile has no run time: the bars compare functions */
        d.run_ns += d.fns[i].ns;
    disc_print_table(&d, stderr, 20, "profile");
    char path[PATH_MAX];
    char *config = NULL;
    if (cm_resolve_config(l->config, path, sizeof(path), rep, sizeof(rep)) == 0)
        config = slurp(path);
    int rc = disc_write_html(&d, html, 20, "profile", config ? config : "(no config)");
    if (rc < 0)
        fprintf(stderr, "cloudm profile: cannot write %s\n", html);
    free(config);
    disc_free(&d);
    DIR *dd = opendir(dir);
    struct dirent *e;
    while (dd && (e = readdir(dd))) {
        char p[PATH_MAX + 300];
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.')
            unlink(p);
    }
    if (dd)
        closedir(dd);
    rmdir(dir);
    return rc < 0 && status == 0 ? CM_EXIT_FAIL : status;
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

    const char *html = take_html(&argc, argv);
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
    if (html) {
        rc = profile_html(&l, html);
        free(av);
        return rc;
    }
    env = getenv(CLOUDM_ENV_REPORT);
    if (l.report == NULL && (env == NULL || env[0] == '\0'))
        l.report_default = "stderr"; /* unless the config says `report =` */
    rc = cm_run_program(&l);
    free(av);
    return rc;
}
