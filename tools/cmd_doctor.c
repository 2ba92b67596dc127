/*
 * cmd_doctor.c - `cloudm doctor [-c FILE]`: check the setup and explain it, one line per check
 * (OK / WARN / FAIL), exit 0 when nothing failed and 1 otherwise.
 *
 * What it does: finds the config the way `cloudm run` would (and says which rule found it),
 * parses it with the parser the shim uses, applies the environment overrides the shim applies
 * (CLOUDM_TIERS, CLOUDM_REMOTE, CLOUDM_SHARED_PATH); finds libcloudm.so as `cloudm run` does and
 * loads it in a child process (CLOUDM_DISABLE=1, so its constructor installs nothing), the same
 * for the remote plugin; asks the remote for a key that does not exist through the plugin the
 * shim uses (a miss = reachable and the token accepted); then the shared segment, the identity
 * cache and the kernel settings (doctor_sys.c).
 *
 * What it does not do: it changes nothing: no segment, directory or cache entry is created, the
 * remote is only read (the plugin is opened read-only). It does not run any program. The agent
 * named in issue 15 does not exist yet, so it is not checked.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cloudm_env.h"
#include "remote/cm_remote.h"
#include "doctor.h"
#include "preload.h"

#define REMOTE_LIB_NAME "libcloudm-remote.so"

void cm_usage_doctor(FILE *f)
{
    fprintf(f, "Usage: cloudm doctor [-c FILE]\n"
               "\n"
               "Check the setup and explain it, one line per check (OK, WARN or FAIL): the\n"
               "config used, libcloudm.so found and loadable, the shared segment (path, owner,\n"
               "mode, size, free space, huge pages), the remote reachable with its token, the\n"
               "code identity cache writable, and the kernel settings that matter.\n"
               "\n"
               "Options:\n"
               "  -c, --config FILE  config to check (default: $CLOUDM_CONFIG, ./cloudm.conf,\n"
               "                     $XDG_CONFIG_HOME/cloudm/cloudm.conf, " CM_SYSCONFDIR_SHOWN
               "/cloudm/cloudm.conf)\n"
               "  -h, --help         show this help\n"
               "\n"
               "Exit status: 0 when no check failed (warnings allowed), 1 when one did,\n"
               "2 on a usage error.\n");
}

/* ---- config -------------------------------------------------------------------------------- */

/* Which rule of the lookup order gave `path` (for the message). */
static const char *found_how(const char *given, const char *path)
{
    char buf[CM_PATH_MAX], real[PATH_MAX];
    const char *env = getenv(CLOUDM_ENV_CONFIG);

    if (given != NULL)
        return "-c";
    if (env != NULL && env[0] != '\0')
        return "$" CLOUDM_ENV_CONFIG;
    if (realpath("cloudm.conf", real) != NULL && strcmp(real, path) == 0)
        return "./cloudm.conf";
    if (cm_config_find_in(buf, sizeof(buf), NULL) == 0 && realpath(buf, real) != NULL &&
        strcmp(real, path) == 0)
        return "$XDG_CONFIG_HOME/cloudm/cloudm.conf";
    return "the system config";
}

/* Up to 5 diagnostics are shown under the config line. */
static void show_diags(const struct cm_diags *dg)
{
    for (int i = 0; i < dg->n && i < 5; i++)
        cm_doc_note("%s", dg->lines[i]);
    if (dg->n + dg->dropped > 5)
        cm_doc_note("... %d more (cloudm check lists them all)", dg->n + dg->dropped - 5);
}

/* Fills `cfg` (defaults when there is no config). Returns 0, or -1 when the config is unusable
 * (it was named but cannot be read, or it has errors). */
static int check_config(struct cm_doctor *d, const char *given, struct cm_config *cfg)
{
    char path[CM_PATH_MAX], err[CM_PATH_MAX + 128];
    struct cm_diags dg = {0};
    int rc;

    rc = cm_resolve_config(given, path, sizeof(path), err, sizeof(err));
    if (rc == -ENOENT) {
        cm_config_parse("(defaults)", "", 0, cfg, NULL, NULL);
        cm_doc_line(d, CM_DOC_WARN, "config",
                    "none found ($%s, ./cloudm.conf, $XDG_CONFIG_HOME/cloudm/cloudm.conf, "
                    "%s/cloudm/cloudm.conf): `cloudm run` would memoize nothing",
                    CLOUDM_ENV_CONFIG, CM_SYSCONFDIR_SHOWN);
        return 0;
    }
    if (rc < 0) {
        cm_config_parse("(defaults)", "", 0, cfg, NULL, NULL);
        cm_doc_line(d, CM_DOC_FAIL, "config", "%s", err);
        return -1;
    }
    rc = cm_config_load(path, cfg, cm_diags_collect, &dg);
    if (rc < 0) {
        cm_doc_line(d, CM_DOC_FAIL, "config", "cannot read %s: %s", path, strerror(-rc));
        cm_diags_free(&dg);
        cm_config_free(cfg);
        cm_config_parse("(defaults)", "", 0, cfg, NULL, NULL);
        return -1;
    }
    if (cfg->nerrors > 0) {
        cm_doc_line(d, CM_DOC_FAIL, "config", "%s (from %s): %d error%s: nothing would be memoized",
                    path, found_how(given, path), cfg->nerrors, cfg->nerrors == 1 ? "" : "s");
        show_diags(&dg);
        cm_diags_free(&dg);
        return -1;
    }
    cm_doc_line(d, cfg->nwarnings > 0 || cfg->nfunctions == 0 ? CM_DOC_WARN : CM_DOC_OK, "config",
                "%s (from %s): %d function%s, %d warning%s%s", path, found_how(given, path),
                cfg->nfunctions, cfg->nfunctions == 1 ? "" : "s", cfg->nwarnings,
                cfg->nwarnings == 1 ? "" : "s",
                cfg->nfunctions == 0 ? ": no [function] section, nothing would be memoized" : "");
    show_diags(&dg);
    cm_diags_free(&dg);
    return 0;
}

/* The environment overrides the shim applies in its constructor (config/envover.c). */
static void apply_env(struct cm_doctor *d, struct cm_config *cfg)
{
    if (cm_config_env(cfg) < 0)
        cm_doc_line(d, CM_DOC_WARN, "environment",
                    "%s=%s is not a list of tiers (memory, shared, remote): the shim "
                    "ignores it",
                    CLOUDM_ENV_TIERS, getenv(CLOUDM_ENV_TIERS));
}

/* ---- libraries ----------------------------------------------------------------------------- */

/*
 * dlopen(path) in a child process with CLOUDM_DISABLE=1 (libcloudm.so's constructor then does
 * nothing), so a library that cannot be loaded, or crashes when loaded, cannot take the doctor
 * with it. With `sym`, the child also checks that the symbol exists. Returns 0, or -1 with the
 * reason in err.
 */
static int try_load(const char *path, const char *sym, char *err, size_t errsz)
{
    int pfd[2], status;
    ssize_t n;
    pid_t pid;

    fflush(stdout);
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        snprintf(err, errsz, "pipe: %s", strerror(errno));
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        snprintf(err, errsz, "fork: %s", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        void *h;
        const char *e;

        close(pfd[0]);
        setenv(CLOUDM_ENV_DISABLE, "1", 1);
        h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (h == NULL || (sym != NULL && dlsym(h, sym) == NULL)) {
            e = dlerror();
            if (e == NULL)
                e = "unknown dlopen error";
            if (write(pfd[1], e, strlen(e)) < 0)
                _exit(2);
            _exit(1);
        }
        _exit(0);
    }
    close(pfd[1]);
    n = read(pfd[0], err, errsz - 1);
    err[n > 0 ? n : 0] = '\0';
    close(pfd[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (err[0] == '\0') {
        if (WIFSIGNALED(status))
            snprintf(err, errsz, "loading it killed the process (signal %d)", WTERMSIG(status));
        else
            snprintf(err, errsz, "loading it failed (exit %d)", WEXITSTATUS(status));
    }
    return -1;
}

/* libcloudm.so: found as `cloudm run` finds it, and loadable. Its path goes to `lib`. */
static int check_library(struct cm_doctor *d, char *lib, size_t size)
{
    char err[1024];

    if (cm_find_library(lib, size, err, sizeof(err)) < 0) {
        cm_doc_line(d, CM_DOC_FAIL, "preload library", "%s", err);
        return -1;
    }
    if (try_load(lib, NULL, err, sizeof(err)) < 0) {
        cm_doc_line(d, CM_DOC_FAIL, "preload library", "%s cannot be loaded: %s", lib, err);
        return -1;
    }
    cm_doc_line(d, CM_DOC_OK, "preload library", "%s (%s), loads", lib,
                getenv(CLOUDM_ENV_LIB) != NULL && getenv(CLOUDM_ENV_LIB)[0] != '\0'
                    ? "$" CLOUDM_ENV_LIB
                    : "found next to cloudm");
    return 0;
}

/* ---- remote -------------------------------------------------------------------------------- */

static char remote_msg[512]; /* the plugin's last log line */

static void remote_log(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(remote_msg, sizeof(remote_msg), fmt, ap);
    va_end(ap);
}

static void remote_thread_enter(void)
{
}

static const struct cm_remote_host remote_host = {.log = remote_log,
                                                  .thread_enter = remote_thread_enter};

/* The plugin's path, as the shim finds it: $CLOUDM_REMOTE_LIB, else beside libcloudm.so. */
static void plugin_path(const char *lib, char *out, size_t size)
{
    const char *env = getenv(CLOUDM_ENV_REMOTE_LIB);
    const char *slash = strrchr(lib, '/');

    if (env != NULL && env[0] != '\0')
        snprintf(out, size, "%s", env);
    else
        snprintf(out, size, "%.*s%s", slash != NULL ? (int)(slash - lib) + 1 : 0, lib,
                 REMOTE_LIB_NAME);
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One GET of a key nobody stores, through the plugin the shim uses. */
static void check_remote(struct cm_doctor *d, const struct cm_config *cfg, const char *lib)
{
    char path[CM_PATH_MAX + 32], err[1024] = "", tok[CM_PATH_MAX], sec[CM_PATH_MAX];
    char ca[CM_PATH_MAX];
    static const uint8_t sig[16] = {0};
    const struct cm_remote_api *api;
    struct cm_remote_counters c;
    struct cm_remote *r;
    const uint8_t *val;
    uint8_t key[32];
    double t0, ms;
    long got;
    void *h;

    if (!(cfg->tiers & CM_TIER_REMOTE) || cfg->remote[0] == '\0') {
        cm_doc_line(d, CM_DOC_OK, "remote", "not configured (no `remote =`): the tier is off");
        return;
    }
    if (lib == NULL) {
        cm_doc_line(d, CM_DOC_FAIL, "remote", "%s: not checked, libcloudm.so was not found",
                    cfg->remote);
        return;
    }
    plugin_path(lib, path, sizeof(path));
    if (try_load(path, "cm_remote_keys", err, sizeof(err)) < 0) {
        cm_doc_line(d, CM_DOC_FAIL, "remote plugin", "%s cannot be loaded: %s", path, err);
        return;
    }
    /* The remote client the agent runs is linked into this command (tools/agent/): ask the
     * server with it, as the agent would. */
    extern const struct cm_remote_api cm_remote_plugin;
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    api = h != NULL && dlsym(h, "cm_remote_keys") != NULL ? &cm_remote_plugin : NULL;
    if (api == NULL || api->abi != CM_REMOTE_ABI) {
        cm_doc_line(d, CM_DOC_FAIL, "remote plugin", "%s is not a remote plugin of this version",
                    path);
        return;
    }
    if (cm_path_expand(cfg->token_file, tok, sizeof(tok)) < 0 ||
        cm_path_expand(cfg->secret_file, sec, sizeof(sec)) < 0 ||
        cm_path_expand(cfg->remote_ca, ca, sizeof(ca)) < 0) {
        cm_doc_line(d, CM_DOC_FAIL, "remote", "token_file, secret_file or remote_ca path too long");
        return;
    }
    struct cm_remote_opts o = {
        .url = cfg->remote,
        .ns = cfg->ns,
        .token_file = tok,
        .secret_file = sec,
        .ca_file = ca,
        .timeout_ns = cfg->remote_timeout_ns,
        .flush_timeout_ns = 0,
        .queue_entries = 1,
        .queue_bytes = 64 << 10,
        .max_value = cfg->remote_max_value,
        .access = CM_REMOTE_READONLY, /* the doctor never writes */
        .expire_ns = cfg->remote_expire_ns,
    };
    r = api->open(&o, &remote_host, err, sizeof(err));
    if (r == NULL) {
        cm_doc_line(d, CM_DOC_FAIL, "remote", "%s: %s", cfg->remote,
                    err[0] != '\0' ? err : "the plugin refused the settings");
        return;
    }
    /* A key no call produces: canonical keys start with the format version, u16 1 (docs/keys.md),
     * never 0xffff. */
    memset(key, 0xff, sizeof(key));
    snprintf((char *)key + 1, sizeof(key) - 1, "cloudm-doctor-%d", (int)getpid());
    t0 = now_ms();
    got = api->get(r, key, sizeof(key), sig, &val);
    ms = now_ms() - t0;
    api->counters(r, &c);
    api->close(r);
    if (got >= -1) {
        cm_doc_line(d, CM_DOC_OK, "remote",
                    "%s reachable, %s (a lookup took %.1f ms, remote_timeout %llu ms)", cfg->remote,
                    tok[0] != '\0' ? "token accepted" : "no token sent", ms,
                    (unsigned long long)(cfg->remote_timeout_ns / 1000000));
        if (sec[0] == '\0')
            cm_doc_note("no secret_file: values are stored on the server in the clear");
        return;
    }
    if (c.auth_errors > 0)
        cm_doc_line(d, CM_DOC_FAIL, "remote", "%s refused the token (%s): 401/403", cfg->remote,
                    tok[0] != '\0' ? tok : "no token_file");
    else if (c.timeouts > 0)
        cm_doc_line(d, CM_DOC_FAIL, "remote", "%s: no answer within remote_timeout (%llu ms)",
                    cfg->remote, (unsigned long long)(cfg->remote_timeout_ns / 1000000));
    else
        cm_doc_line(d, CM_DOC_FAIL, "remote", "%s unreachable or answering errors", cfg->remote);
    if (remote_msg[0] != '\0')
        cm_doc_note("%s", remote_msg);
}

/* ---- the command --------------------------------------------------------------------------- */

int cm_cmd_doctor(int argc, char **argv)
{
    const char *config = NULL;
    struct cm_doctor d = {0, 0};
    struct cm_config cfg;
    char lib[PATH_MAX];
    int have_lib;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int taken;

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cm_usage_doctor(stdout);
            return 0;
        }
        taken = cm_config_option(argc, argv, &i, "doctor", &config);
        if (taken < 0)
            goto usage;
        if (taken == 0) {
            fprintf(stderr, "cloudm doctor: unknown %s '%s'\n", a[0] == '-' ? "option" : "argument",
                    a);
            goto usage;
        }
    }
    memset(&cfg, 0, sizeof(cfg));
    check_config(&d, config, &cfg);
    apply_env(&d, &cfg);
    have_lib = check_library(&d, lib, sizeof(lib)) == 0;
    cm_doc_segment(&d, &cfg);
    check_remote(&d, &cfg, have_lib ? lib : NULL);
    cm_doc_agent(&d, &cfg);
    cm_doc_idcache(&d);
    cm_doc_kernel(&d);
    cm_config_free(&cfg);
    printf("%d failed, %d warning%s\n", d.fails, d.warns, d.warns == 1 ? "" : "s");
    return d.fails > 0 ? CM_EXIT_FAIL : 0;

usage:
    fputc('\n', stderr);
    cm_usage_doctor(stderr);
    return CM_EXIT_USAGE;
}
