/*
 * init.c - start-up and shut-down of libcloudm.so inside the host process.
 *
 * What it does: in a constructor, reads the CLOUDM_* environment once (include/cloudm_env.h),
 * finds and parses the config (any error: one message, nothing is installed, the program runs
 * unmemoized), sets up the tiers (memory, shared segment, remote plugin) and the report, and
 * asks the hooker to patch every
 * loaded object. Under `cloudm check PROGRAM` (CLOUDM_CHECK=1) it prints the hook plan and exits
 * before main. Under `cloudm discover` (CLOUDM_DISCOVER) it starts the observation mode
 * instead of reading a config (observe/). In a destructor it drains the remote writer, pushes the
 * live statistics and writes the report. A fork child resets its counters.
 *
 * What it does not do: any per-call work (dispatch.c), hooking itself (got.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bind.h"
#include "cloudm_env.h"
#include "base/base.h"
#include "cm_config.h"
#include "observe/observe.h"
#include "hook/hook.h"
#include "elf/elf.h"
#include "tier/tier.h"
#include "probe/probe.h"
#include "chan/chan.h"
#include "report.h"
#include "verify.h"

static struct cm_config init_cfg;
static struct cm_target *init_targets;
static int init_done;
static int report_only; /* nothing to hook (every function skipped), but a report to write */

static void diag(void *ctx, enum cm_severity sev, const char *msg)
{
    (void)sev;
    if (ctx) /* under `cloudm check PROGRAM`: the command printed the config's messages already */
        return;
    cm_log("%s", msg);
}

static void hint_log(void *ctx, const char *text)
{
    (void)ctx;
    cm_log("%s", text);
}

/* C++ functions named by their demangled signature: find their mangled names among the objects
 * loaded now (a library dlopen'ed later is matched by the mangled name only). */
static void resolve_cxx(void)
{
    for (int i = 0; i < init_cfg.nfunctions; i++) {
        const struct cm_function *f = &init_cfg.functions[i];
        if (!f->cxx)
            continue;
        init_targets[i].cxx = f->name;
        char mangled[CM_NAME_MAX * 4];
        if (cm_names_find_cxx(f->name, f->short_name, mangled, sizeof(mangled)) == 0) {
            char *m = strdup(mangled);
            if (m)
                init_targets[i].name = m; /* kept for the life of the process */
        }
    }
}

/* The hook layer's prctl/seccomp wrappers: the program is about to sandbox itself. */
static void sandboxing(int level)
{
    if (level == CM_SANDBOX_NOTSC) {
        cm_clock_sandbox(0);
        return;
    }
    cm_remote_reads = cm_remote_writes = 0; /* sockets, a writer thread: never in a sandbox */
    cm_shared_sandbox(level);
}

static void after_fork_child(void)
{
    cm_stats_after_fork();
    cm_remote_after_fork();
    if (cm_probe_on)
        cm_probe_after_fork();
}

/*
 * RLIMIT_AS (issue 16): the caches are address space the program may need. Under a finite limit
 * everything cloudm maps keeps to a quarter of it: the memory tier to half of that share (at
 * least 64 KiB), the shared segment (mapped whole) only if it fits in the rest, else the shared
 * tier is off; then the remote tier's agent channel (mapped whole, chan/chan.h
 * cm_chan_map_bytes: 32 x remote_max_value + remote_queue_bytes, about 2.1 GiB by default) only
 * if it fits in what is left, else the remote tier is off. One line says what was cut. Without
 * a limit nothing changes.
 */
#define AS_SHARE_DIV 4

static void fit_address_space(struct cm_config *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return;
    uint64_t budget = (uint64_t)rl.rlim_cur / AS_SHARE_DIV, mem = cfg->memory_size;
    uint64_t shr = (cfg->tiers & CM_TIER_SHARED) ? cfg->shared_size : 0;
    uint64_t chn = (cfg->tiers & CM_TIER_REMOTE) && cfg->remote[0]
                       ? cm_chan_map_bytes(cfg->remote_max_value, cfg->remote_queue_bytes)
                       : 0;
    if (mem + shr + chn <= budget)
        return;
    char shared_note[128] = "", remote_note[200] = "";
    if (mem + shr > budget && mem > budget / 2)
        mem = budget / 2 > 64 * 1024 ? budget / 2 : 64 * 1024;
    if (shr && mem + shr > budget) {
        cfg->tiers &= ~CM_TIER_SHARED;
        snprintf(shared_note, sizeof(shared_note), ", shared tier off (its segment takes %llu MiB)",
                 (unsigned long long)(shr >> 20));
        shr = 0;
    }
    if (chn && mem + shr + chn > budget) {
        cfg->tiers &= ~CM_TIER_REMOTE;
        snprintf(remote_note, sizeof(remote_note),
                 ", remote tier off (its agent channel maps %llu MiB: 32 x remote_max_value + "
                 "remote_queue_bytes; lower them to keep it)",
                 (unsigned long long)(chn >> 20));
    }
    cm_log("RLIMIT_AS is %llu MiB: cloudm's caches keep to 1/%d of it: memory tier %llu MiB "
           "(memory_size %llu MiB)%s%s",
           (unsigned long long)((uint64_t)rl.rlim_cur >> 20), AS_SHARE_DIV,
           (unsigned long long)(mem >> 20), (unsigned long long)(cfg->memory_size >> 20),
           shared_note, remote_note);
    cfg->memory_size = mem;
}

static int env_is(const char *name, const char *value)
{
    const char *v = getenv(name);
    return v && strcmp(v, value) == 0;
}

__attribute__((constructor)) static void cm_init(void)
{
    if (env_is(CLOUDM_ENV_DISABLE, "1"))
        return;
    cm_guard = 1;
    cm_clock_init();
    cm_debug_enabled = env_is(CLOUDM_ENV_DEBUG, "1");
    int check = env_is(CLOUDM_ENV_CHECK, "1");
    if (cm_observe_wanted()) { /* cloudm discover: observe everything, memoize nothing */
        if (cm_observe_start() == 0)
            init_done = 2;
        cm_guard = 0;
        return;
    }

    char path[CM_PATH_MAX];
    if (cm_config_find(path, sizeof(path)) < 0) {
        cm_log("no config file ($%s, ./cloudm.conf, $XDG_CONFIG_HOME/cloudm/cloudm.conf, %s): "
               "nothing is memoized",
               CLOUDM_ENV_CONFIG, cm_config_system_path());
        goto out;
    }
    int rc = cm_config_load(path, &init_cfg, diag, check ? &check : NULL);
    if (rc < 0) {
        cm_log("cannot read config %s: %s: nothing is memoized", path, strerror(-rc));
        goto out;
    }
    if (init_cfg.nerrors > 0) {
        if (!check)
            cm_log("%s has errors: nothing is memoized", path);
        goto out;
    }

    enum cm_mode env_mode = CM_MODE_UNSET;
    const char *m = getenv(CLOUDM_ENV_MODE);
    if (m && *m && cm_parse_mode(m, &env_mode) < 0) {
        cm_log("%s=%s is not a mode (readwrite, readonly, writeonly, off, profile): ignored",
               CLOUDM_ENV_MODE, m);
        env_mode = CM_MODE_UNSET;
    }
    /* cloudm probe: profile mode (every call runs the original) plus the probe's checks */
    const char *probe = getenv(CLOUDM_ENV_PROBE);
    if (probe && *probe && init_cfg.nfunctions > 0) {
        const char *calls = getenv(CLOUDM_ENV_PROBE_CALLS);
        unsigned n = calls ? (unsigned)strtoul(calls, NULL, 10) : 0;
        if (cm_probe_setup(&init_cfg, probe, n) == 0) {
            const char *const *names;
            void *const *fns;
            int nw = cm_probe_io_wrappers(&names, &fns);
            cm_hook_set_wrappers(names, fns, nw);
            env_mode = CM_MODE_PROFILE;
        } else {
            cm_log("cannot set up probe mode: the program runs unprobed");
        }
    }
    const char *vr = getenv(CLOUDM_ENV_VERIFY);
    double vrate = -1;
    if (vr && *vr && cm_parse_rate(vr, &vrate) < 0) {
        cm_log("%s=%s is not a rate from 0 to 1: ignored", CLOUDM_ENV_VERIFY, vr);
        vrate = -1;
    }
    cm_verify_setup(vrate);
    if (init_cfg.nfunctions == 0) {
        if (check) { /* every function skipped: the warnings said why, nothing to describe */
            fflush(stdout);
            _exit(0);
        }
        if (init_cfg.nskipped) { /* the report still says which were not hooked, and why */
            const char *rep = getenv(CLOUDM_ENV_REPORT);
            cm_report_setup(&init_cfg, rep && *rep ? rep : init_cfg.report, init_cfg.mode);
            report_only = 1;
        }
        goto out;
    }
    cm_stack_guard_init(); /* the main thread's; other threads' on their first hooked call */

    if (cm_config_env(&init_cfg) < 0) /* CLOUDM_TIERS, CLOUDM_REMOTE, CLOUDM_SHARED_PATH */
        cm_log("%s=%s is not a list of tiers (memory, shared, remote): ignored", CLOUDM_ENV_TIERS,
               getenv(CLOUDM_ENV_TIERS));
    fit_address_space(&init_cfg);
    if (cm_mem_init(init_cfg.memory_size) < 0)
        cm_log("cannot reserve memory_size bytes for the memory tier: nothing will be cached");
    cm_tier_memory = (init_cfg.tiers & CM_TIER_MEMORY) != 0;
    cm_crypto_init(&init_cfg);
    cm_shared_init(&init_cfg);
    cm_remote_init(&init_cfg);
    init_targets = calloc((size_t)init_cfg.nfunctions, sizeof(*init_targets));
    if (!init_targets)
        goto out;
    for (int i = 0; i < init_cfg.nfunctions; i++) {
        init_targets[i].name = init_cfg.functions[i].name;
        init_targets[i].object_glob = init_cfg.functions[i].object;
        init_targets[i].hook = init_cfg.functions[i].hook == CM_HOOK_GOT      ? CM_TARGET_GOT
                               : init_cfg.functions[i].hook == CM_HOOK_INLINE ? CM_TARGET_INLINE
                                                                              : CM_TARGET_AUTO;
        init_targets[i].short_name = init_cfg.functions[i].short_name;
    }
    resolve_cxx();
    for (int i = 0; i < init_cfg.nfunctions; i++)
        if (init_cfg.functions[i].min_time_ns)
            cm_clock_calibrate(); /* min_time is compared in ticks while the program runs */
    cm_bind_setup(&init_cfg, env_mode);

    const char *rep = getenv(CLOUDM_ENV_REPORT);
    cm_report_setup(&init_cfg, rep && *rep ? rep : init_cfg.report,
                    env_mode ? env_mode : init_cfg.mode);

    cm_hook_on_credentials(cm_shared_identity_changed);
    cm_hook_on_sandbox(sandboxing);
    cm_hook_on_unbind(cm_unbind);
    if (cm_hook_install(init_targets, init_cfg.nfunctions, cm_bind) < 0)
        cm_log("hooking failed: nothing is memoized");

    if (check) {
        cm_hook_describe(stdout);
        cm_bind_describe(stdout);
        fflush(stdout);
        _exit(0);
    }
    for (int i = 0; i < init_cfg.nfunctions; i++) {
        const struct cm_function *f = &init_cfg.functions[i];
        if (cm_bind_hooked(i) || cm_hook_inline_candidates(i)) /* refusals said why */
            continue;
        if (f->cxx)
            cm_log("C++ function \"%s\" not found in any loaded object (it will be memoized if "
                   "a library loaded later provides it under its mangled name)",
                   f->name);
        else
            cm_log("function '%s' not found in any loaded object (it will be memoized if a "
                   "library loaded later provides it)",
                   f->name);
        cm_names_hints(f->name, f->short_name, f->cxx, hint_log, NULL);
    }
    pthread_atfork(NULL, NULL, after_fork_child);
    init_done = 1;
out:
    if (check) { /* reached only when the config could not be used */
        fflush(stdout);
        _exit(1);
    }
    cm_guard = 0;
}

__attribute__((destructor)) static void cm_fini(void)
{
    if (report_only) {
        cm_guard = 1;
        cm_report_write();
        cm_guard = 0;
    }
    if (!init_done)
        return;
    cm_guard = 1;
    if (init_done == 2) {
        cm_observe_finish();
        cm_guard = 0;
        return;
    }
    cm_remote_fini(); /* first: the writer's last stores land in the counters below */
    cm_shared_flush_stats(CM_FLUSH_EXIT);
    cm_report_write();
    cm_probe_fini();
    cm_guard = 0;
}
