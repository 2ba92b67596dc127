/*
 * cmd_check.c - `cloudm check [-c FILE] [PROGRAM [ARGS...]]`.
 *
 * What it does: parses the config with the parser the shim uses and prints every diagnostic
 * (stderr), a summary line and, per function, its normalized signature and where each parameter
 * travels in the x86-64 SysV calling convention (stdout). With PROGRAM, it then runs the program
 * with the environment of `cloudm run` plus CLOUDM_CHECK=1: the shim prints which loaded objects
 * import or provide each function and exits before main (status 0; a config with errors is not
 * run at all, its messages are printed once, here). Exit status 1 when the config has errors (or
 * warnings under `strict = yes`) or the program failed to start, 0 otherwise: warnings alone,
 * functions skipped or not found, still exit 0.
 *
 * What it does not do: it does not inspect the program itself (the shim does, from inside), and
 * it never memoizes anything.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "cloudm_env.h"

void cm_usage_check(FILE *f)
{
    fprintf(f, "Usage: cloudm check [-c FILE] [--] [PROGRAM [ARGS...]]\n"
               "\n"
               "Validate a config: print every error and warning, a summary, and each\n"
               "function's normalized signature with the register or stack slot of every\n"
               "parameter. With PROGRAM, also start it under cloudm (it stops before main)\n"
               "and list which loaded objects import or provide each function.\n"
               "\n"
               "Options:\n"
               "  -c, --config FILE  config file (default: $CLOUDM_CONFIG, ./cloudm.conf,\n"
               "                     $XDG_CONFIG_HOME/cloudm/cloudm.conf,\n"
               "                     " CM_SYSCONFDIR_SHOWN "/cloudm/cloudm.conf)\n"
               "  -h, --help         show this help\n"
               "\n"
               "Exit status: 0 when the config is valid (warnings alone, skipped or missing\n"
               "functions included), 1 on errors (also on warnings when the config says\n"
               "`strict = yes`) or when PROGRAM could not start, 2 on a usage error.\n");
}

static void print_diag(void *ctx, enum cm_severity sev, const char *msg)
{
    (void)ctx;
    (void)sev;
    fprintf(stderr, "%s\n", msg);
}

static const char *plural(int n)
{
    return n == 1 ? "" : "s";
}

/* 64M, 1G, 1500K, 12345 */
static void fmt_size(uint64_t v, char *buf, size_t sz)
{
    static const char units[] = "TGMK";
    for (int i = 0; i < 4; i++) {
        uint64_t u = 1ull << (10 * (4 - i));
        if (v >= u && v % u == 0) {
            snprintf(buf, sz, "%" PRIu64 "%c", v / u, units[i]);
            return;
        }
    }
    snprintf(buf, sz, "%" PRIu64, v);
}

/* 250ms, 2h, 1500us, 0 */
static void fmt_time(uint64_t ns, char *buf, size_t sz)
{
    static const struct {
        uint64_t ns;
        const char *unit;
    } units[] = {{86400000000000ull, "d"}, {3600000000000ull, "h"}, {60000000000ull, "m"},
                 {1000000000ull, "s"},     {1000000ull, "ms"},      {1000ull, "us"}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (ns >= units[i].ns && ns % units[i].ns == 0) {
            snprintf(buf, sz, "%" PRIu64 "%s", ns / units[i].ns, units[i].unit);
            return;
        }
    }
    snprintf(buf, sz, "%" PRIu64 "ns", ns);
}

static void print_place(const struct cm_param *p)
{
    static const char *const int_regs[] = {"rdi", "rsi", "rdx", "rcx", "r8", "r9"};

    /* i128/u128 and c64 take two registers or two slots: "x:rdi+rsi", "z:stack[2..3]" */
    const int two = p->size == 16 && (p->kind == CM_K_INT128 || p->kind == CM_K_COMPLEX);

    if (p->abi_reg < 0 && two)
        printf(" %s:stack[%u..%u]", p->name, p->abi_stack, p->abi_stack + 1u);
    else if (p->abi_reg < 0)
        printf(" %s:stack[%u]", p->name, p->abi_stack);
    else if (p->abi_class == CM_ABI_SSE && two)
        printf(" %s:xmm%d+xmm%d", p->name, p->abi_reg, p->abi_reg + 1);
    else if (p->abi_class == CM_ABI_SSE)
        printf(" %s:xmm%d", p->name, p->abi_reg);
    else if (two && p->abi_reg < 5)
        printf(" %s:%s+%s", p->name, int_regs[p->abi_reg], int_regs[p->abi_reg + 1]);
    else if (p->abi_reg < 6)
        printf(" %s:%s", p->name, int_regs[p->abi_reg]);
    else
        printf(" %s:?", p->name);
}

static void print_globals(const char *what, const struct cm_global *g, int n)
{
    if (n == 0)
        return;
    printf("; %s", what);
    for (int i = 0; i < n; i++)
        printf("%s %s:%" PRIu32, i ? "," : "", g[i].name, g[i].size);
}

static void print_function(const struct cm_function *fn)
{
    char t[32];

    printf("%s  %s ", fn->name, fn->sig.normalized);
    for (int i = 0; i < fn->sig.nparams; i++)
        print_place(&fn->sig.params[i]);
    if (fn->sig.nparams == 0)
        printf(" (no parameters)");
    printf("\n");
    /* Only what differs from the defaults, on one indented line. */
    if (fn->mode == CM_MODE_UNSET && fn->object[0] == '\0' && fn->salt[0] == '\0' &&
        fn->nreads == 0 && fn->nwrites == 0 && !fn->save_errno && fn->min_time_ns == 0 &&
        fn->singleflight == CM_SF_AUTO && fn->hook == CM_HOOK_AUTO &&
        fn->identity == CM_IDENT_CODE && fn->sensitive == CM_SENS_UNSET && fn->verify < 0)
        return;
    printf("    line %d", fn->line);
    if (fn->mode != CM_MODE_UNSET)
        printf("; mode %s", cm_mode_name(fn->mode));
    if (fn->object[0] != '\0')
        printf("; object %s", fn->object);
    if (fn->salt[0] != '\0')
        printf("; salt %s", fn->salt);
    print_globals("reads", fn->reads, fn->nreads);
    print_globals("writes", fn->writes, fn->nwrites);
    if (fn->save_errno)
        printf("; errno");
    if (fn->min_time_ns != 0) {
        fmt_time(fn->min_time_ns, t, sizeof(t));
        printf("; min_time %s", t);
    }
    if (fn->singleflight != CM_SF_AUTO)
        printf("; singleflight %s", fn->singleflight == CM_SF_YES ? "yes" : "no");
    if (fn->hook != CM_HOOK_AUTO)
        printf("; hook %s", fn->hook == CM_HOOK_GOT ? "got" : "inline");
    if (fn->identity != CM_IDENT_CODE)
        printf("; identity %s", fn->identity == CM_IDENT_OBJECT ? "object" : "name");
    if (fn->sensitive != CM_SENS_UNSET)
        printf("; sensitive %s", fn->sensitive == CM_SENS_YES ? "yes" : "no");
    if (fn->verify >= 0)
        printf("; verify %g", fn->verify);
    printf("\n");
}

/* Is this parameter name made of a word that names a secret (api_token, passwd, pinCode)? */
static bool secret_like(const char *name)
{
    static const char *const words[] = {
        "pass",  "passwd", "password", "passphrase", "pw",          "pwd",    "key", "secret",
        "token", "pin",    "cred",     "credential", "credentials", "apikey", "otp", "private"};
    char w[CM_NAME_MAX];
    size_t n = 0;
    for (const char *p = name;; p++) {
        bool end = *p == '\0' || *p == '_' || *p == '-' || (*p >= '0' && *p <= '9') ||
                   (n > 0 && *p >= 'A' && *p <= 'Z');
        if (end && n > 0) {
            w[n] = '\0';
            for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
                if (strcmp(w, words[i]) == 0 || strncmp(w, "password", 8) == 0)
                    return true;
            n = 0;
        }
        if (*p == '\0')
            return false;
        if (*p != '_' && *p != '-' && !(*p >= '0' && *p <= '9') && n + 1 < sizeof(w))
            w[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    }
}

/* A function whose parameters look like secrets but that is not sensitive: one warning each. */
static void warn_secrets(const struct cm_config *cfg, const char *file)
{
    for (int i = 0; i < cfg->nfunctions; i++) {
        const struct cm_function *fn = &cfg->functions[i];
        if (fn->sensitive == CM_SENS_YES || (fn->sensitive == CM_SENS_UNSET && cfg->sensitive))
            continue;
        for (int j = 0; j < fn->sig.nparams; j++)
            if (secret_like(fn->sig.params[j].name))
                printf("%s:%d: warning: parameter '%s' of %s is named like a secret: write "
                       "`sensitive = yes` in [function %s] so that no argument or result of it is "
                       "stored readable (docs/security.md)\n",
                       file, fn->line, fn->sig.params[j].name, fn->name, fn->name);
    }
}

/* Effective size limits: what is cached where, and the setting that moves each limit. */
static void print_limits(const struct cm_config *cfg)
{
    char m[32], me[32], bs[32], rv[32];
    uint64_t slots = 1, size = cfg->memory_size < 65536 ? 65536 : cfg->memory_size;
    while (slots * 2 <= size / 4 / 64)
        slots *= 2;
    uint64_t mem_max = ((size - slots * 64) & ~(uint64_t)4095) / 4;
    fmt_size(mem_max, m, sizeof(m));
    fmt_size(cfg->shared_max_entry < (1ull << 30) ? cfg->shared_max_entry : 1ull << 30, me,
             sizeof(me));
    fmt_size(cfg->shared_blob_size, bs, sizeof(bs));
    fmt_size(cfg->remote_max_value, rv, sizeof(rv));
    printf("[cache] limits: inputs over 1K are keyed by length + digest, over 1G never (bypassed); "
           "results up to %s in the memory tier (memory_size)",
           m);
    if (cfg->tiers & CM_TIER_SHARED)
        printf(", up to %s in the shared tier (shared_max_entry; over 256K as blob files, %s in "
               "all: shared_blob_size)",
               me, bs);
    if (cfg->tiers & CM_TIER_REMOTE)
        printf(", up to %s remotely (remote_max_value)", rv);
    printf("; a result no tier holds is bypassed and explained once\n");
}

/* The tiers and their settings, on the lines after the [cache] summary. */
static void print_tiers(const struct cm_config *cfg)
{
    static const char *const names[] = {"memory", "shared", "remote"};
    static const char *const rmodes[] = {"readwrite", "readonly", "writeonly"};
    char size[32], max[32];
    const char *sep = "";

    printf("[cache] tiers ");
    for (int i = 0; i < 3; i++)
        if (cfg->tiers & (1u << i)) {
            printf("%s%s", sep, names[i]);
            sep = " ";
        }
    if (cfg->tiers & CM_TIER_SHARED) {
        fmt_size(cfg->shared_size, size, sizeof(size));
        fmt_size(cfg->shared_max_entry, max, sizeof(max));
        printf(", shared_path %s, shared_size %s, shared_max_entry %s", cfg->shared_path, size,
               max);
    }
    printf("\n");
    if (cfg->tiers & CM_TIER_REMOTE) {
        printf("[cache] remote %s, namespace %s, remote_mode %s, remote_timeout %llu ms, "
               "flush_timeout %llu ms, token_file %s, secret_file %s\n",
               cfg->remote, cfg->ns, rmodes[cfg->remote_mode],
               (unsigned long long)(cfg->remote_timeout_ns / 1000000),
               (unsigned long long)(cfg->flush_timeout_ns / 1000000),
               cfg->token_file[0] ? cfg->token_file : "(none)",
               cfg->secret_file[0] ? cfg->secret_file : "(none: values stored in the clear)");
        if (cfg->remote_ca[0])
            printf("[cache] remote_ca %s\n", cfg->remote_ca);
    }
}

/* Run the program with CLOUDM_CHECK=1 and wait for it. Returns 0 when it exited 0. */
static int run_child(const struct cm_launch *l, const char *config_abs)
{
    int rc, status;
    pid_t pid;

    rc = cm_launch_env(l, config_abs);
    if (rc != 0)
        return rc;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "cloudm check: fork: %s\n", strerror(errno));
        return CM_EXIT_FAIL;
    }
    if (pid == 0)
        _exit(cm_exec(l));
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "cloudm check: waitpid: %s\n", strerror(errno));
            return CM_EXIT_FAIL;
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFSIGNALED(status))
        fprintf(stderr, "cloudm check: %s killed by signal %d (%s)\n", l->argv[0], WTERMSIG(status),
                strsignal(WTERMSIG(status)));
    else /* the shim itself exits 0 before main: this status is the program's or its loader's */
        fprintf(stderr, "cloudm check: %s exited with status %d before cloudm could describe it\n",
                l->argv[0], WEXITSTATUS(status));
    return CM_EXIT_FAIL;
}

int cm_cmd_check(int argc, char **argv)
{
    char path[PATH_MAX], err[PATH_MAX + 256], size[32];
    struct cm_launch l;
    struct cm_config cfg;
    const char *shown;
    int rc, status = 0, parser_warnings;

    rc = cm_parse_options(argc, argv, "check", CM_OPT_CONFIG, cm_usage_check, &l);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    rc = cm_resolve_config(l.config, path, sizeof(path), err, sizeof(err));
    if (rc == -ENOENT) {
        fprintf(stderr,
                "cloudm check: no config file: pass -c FILE, set %s, or create ./cloudm.conf "
                "or $XDG_CONFIG_HOME/cloudm/cloudm.conf or " CM_SYSCONFDIR_SHOWN
                "/cloudm/cloudm.conf\n",
                CLOUDM_ENV_CONFIG);
        return CM_EXIT_FAIL;
    }
    if (rc < 0) {
        fprintf(stderr, "cloudm check: %s\n", err);
        return CM_EXIT_FAIL;
    }
    shown = l.config ? l.config : path;
    rc = cm_config_load(shown, &cfg, print_diag, NULL);
    if (rc < 0) {
        fprintf(stderr, "cloudm check: cannot read config %s: %s\n", shown, strerror(-rc));
        cm_config_free(&cfg);
        return CM_EXIT_FAIL;
    }
    parser_warnings = cfg.nwarnings;
    if ((cfg.tiers & CM_TIER_REMOTE) && cfg.secret_file[0] == '\0') {
        /* Not a parser warning (the shim does not print it at every start, and it does not
         * fail `strict = yes`): check's advice, counted in the summary. */
        fprintf(stderr,
                "%s: warning: remote %s without secret_file: values are neither encrypted nor "
                "authenticated, so every client that can write to the server (and whoever runs "
                "it) can plant a wrong result that this program will use; create a team secret "
                "and tokens with `cloudm keycache --init DIR` and set secret_file\n",
                shown, cfg.remote);
        cfg.nwarnings++;
    }
    fflush(stderr);
    printf("%s: %d function%s, %d error%s, %d warning%s\n", shown, cfg.nfunctions,
           plural(cfg.nfunctions), cfg.nerrors, plural(cfg.nerrors), cfg.nwarnings,
           plural(cfg.nwarnings));
    fmt_size(cfg.memory_size, size, sizeof(size));
    printf("[cache] mode %s, namespace %s, memory_size %s, report %s, strict %s",
           cm_mode_name(cfg.mode), cfg.ns, size, cfg.report[0] ? cfg.report : "none",
           cfg.strict ? "yes" : "no");
    if (cfg.verify > 0)
        printf(", verify %g", cfg.verify);
    printf("\n");
    print_tiers(&cfg);
    print_limits(&cfg);
    for (int i = 0; i < cfg.nfunctions; i++)
        print_function(&cfg.functions[i]);
    warn_secrets(&cfg, shown);
    if (cfg.nerrors > 0 || (cfg.strict && parser_warnings > 0))
        status = CM_EXIT_FAIL;
    int cfg_errors = cfg.nerrors > 0;
    cm_config_free(&cfg);

    l.check = true;
    if (l.argv != NULL && cfg_errors) {
        /* The shim would refuse this config too: starting the program shows nothing more. */
        fprintf(stderr, "cloudm check: %s not started: the config has errors\n", l.argv[0]);
        return status;
    }
    if (l.argv != NULL && run_child(&l, path) != 0)
        status = CM_EXIT_FAIL;
    return status;
}
