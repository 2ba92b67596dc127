/*
 * cmd_profile.c - `cloudm profile [-c FILE] [--report[=FILE]] [--html FILE] [--] PROGRAM
 * [ARGS...]`.
 *
 * What it does: `cloudm run` with CLOUDM_MODE=profile: every configured function is always
 * called, and the report says how many calls, distinct argument sets and how much time a cache
 * would have saved ("benchmark the legacy code first"). The report goes to stderr unless
 * --report=FILE, an existing CLOUDM_REPORT or the config's `report =` says otherwise. With
 * --html FILE the program runs as a child: every process's JSON report is collected in a
 * temporary directory and turned into the same self-contained page `cloudm discover --html`
 * writes (disc_html.c), with the config.
 *
 * What it does not do: it stores nothing in any cache and does not accept --mode.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cloudm_env.h"
#include "disc.h"

void cm_usage_profile(FILE *f)
{
    fprintf(f, "Usage: cloudm profile [-c FILE] [--report[=FILE]] [--html FILE] [--] PROGRAM "
               "[ARGS...]\n"
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
               "      --html FILE    write a self-contained HTML report (replaces --report)\n"
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

int cm_cmd_profile(int argc, char **argv)
{
    struct cm_launch l;
    const char *env;
    int rc;

    const char *html = take_html(&argc, argv);
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
    if (html)
        return profile_html(&l, html);
    env = getenv(CLOUDM_ENV_REPORT);
    if (l.report == NULL && (env == NULL || env[0] == '\0'))
        l.report_default = "stderr"; /* unless the config says `report =` */
    return cm_run_program(&l);
}
