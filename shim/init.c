/*
 * init.c - start-up and shut-down of libcloudm.so inside the host process.
 *
 * What it does: in a constructor, reads the CLOUDM_* environment once (include/cloudm_env.h),
 * finds and parses the config (any error: one message, nothing is installed, the program runs
 * unmemoized), sets up the tiers (memory, shared segment, remote plugin) and the report, and
 * asks the hooker to patch every
 * loaded object. Under `cloudm check PROGRAM` (CLOUDM_CHECK=1) it prints the hook plan and exits
 * before main. In a destructor it drains the remote writer, pushes the live statistics and writes
 * the report. A fork child resets its counters.
 *
 * What it does not do: any per-call work (dispatch.c), hooking itself (got.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include "bind.h"
#include "cloudm_env.h"
#include "base/base.h"
#include "cm_config.h"
#include "hook/hook.h"
#include "tier/tier.h"
#include "probe/probe.h"
#include "report.h"
#include "verify.h"

static struct cm_config init_cfg;
static struct cm_target *init_targets;
static int init_done;

static void diag(void *ctx, enum cm_severity sev, const char *msg)
{
    (void)ctx;
    (void)sev;
    cm_log("%s", msg);
}

static void after_fork_child(void)
{
    cm_stats_after_fork();
    cm_remote_after_fork();
    if (cm_probe_on)
        cm_probe_after_fork();
}

/* CLOUDM_TIERS: words "memory", "shared" and "remote" separated by spaces or commas. Returns the
 * bits, or 0 when the value is not such a list (then it is ignored, with a message). */
static unsigned parse_tiers(const char *v)
{
    unsigned bits = 0;
    while (*v) {
        size_t n = strcspn(v, " ,\t");
        if (n == 6 && strncmp(v, "memory", 6) == 0)
            bits |= CM_TIER_MEMORY;
        else if (n == 6 && strncmp(v, "shared", 6) == 0)
            bits |= CM_TIER_SHARED;
        else if (n == 6 && strncmp(v, "remote", 6) == 0)
            bits |= CM_TIER_REMOTE;
        else if (n)
            return 0;
        v += n;
        v += strspn(v, " ,\t");
    }
    return bits;
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

    char path[CM_PATH_MAX];
    if (cm_config_find(path, sizeof(path)) < 0) {
        cm_log("no config file ($%s, ./cloudm.conf, $XDG_CONFIG_HOME/cloudm/cloudm.conf, %s): "
               "nothing is memoized",
               CLOUDM_ENV_CONFIG, cm_config_system_path());
        goto out;
    }
    int rc = cm_config_load(path, &init_cfg, diag, NULL);
    if (rc < 0) {
        cm_log("cannot read config %s: %s: nothing is memoized", path, strerror(-rc));
        goto out;
    }
    if (init_cfg.nerrors > 0) {
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
    if (init_cfg.nfunctions == 0)
        goto out;
    if (cm_mem_init(init_cfg.memory_size) < 0)
        cm_log("cannot reserve memory_size bytes for the memory tier: nothing will be cached");

    const char *tiers = getenv(CLOUDM_ENV_TIERS);
    if (tiers && *tiers) {
        unsigned bits = parse_tiers(tiers);
        if (bits)
            init_cfg.tiers = bits;
        else
            cm_log("%s=%s is not a list of tiers (memory, shared, remote): ignored",
                   CLOUDM_ENV_TIERS, tiers);
    }
    /* CLOUDM_REMOTE=URL names the remote (and adds the tier unless CLOUDM_TIERS says which);
     * CLOUDM_REMOTE=off takes it away. */
    const char *rurl = getenv(CLOUDM_ENV_REMOTE);
    if (rurl && strcmp(rurl, "off") == 0) {
        init_cfg.tiers &= ~CM_TIER_REMOTE;
    } else if (rurl && *rurl) {
        snprintf(init_cfg.remote, sizeof(init_cfg.remote), "%s", rurl);
        if (!(tiers && *tiers))
            init_cfg.tiers |= CM_TIER_REMOTE;
    }
    const char *spath = getenv(CLOUDM_ENV_SHARED_PATH);
    if (spath && *spath)
        snprintf(init_cfg.shared_path, sizeof(init_cfg.shared_path), "%s", spath);
    cm_tier_memory = (init_cfg.tiers & CM_TIER_MEMORY) != 0;
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
    }
    for (int i = 0; i < init_cfg.nfunctions; i++)
        if (init_cfg.functions[i].min_time_ns)
            cm_clock_calibrate(); /* min_time is compared in ticks while the program runs */
    cm_bind_setup(&init_cfg, env_mode);

    const char *rep = getenv(CLOUDM_ENV_REPORT);
    cm_report_setup(&init_cfg, rep && *rep ? rep : init_cfg.report,
                    env_mode ? env_mode : init_cfg.mode);

    if (cm_hook_install(init_targets, init_cfg.nfunctions, cm_bind) < 0)
        cm_log("hooking failed: nothing is memoized");

    if (check) {
        cm_hook_describe(stdout);
        cm_bind_describe(stdout);
        fflush(stdout);
        _exit(0);
    }
    for (int i = 0; i < init_cfg.nfunctions; i++)
        if (!cm_bind_hooked(i) && !cm_hook_inline_candidates(i)) /* refusals said why */
            cm_log("function '%s' not found in any loaded object (it will be memoized if a "
                   "library loaded later provides it)",
                   init_cfg.functions[i].name);
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
    if (!init_done)
        return;
    cm_guard = 1;
    cm_remote_fini(); /* first: the writer's last stores land in the counters below */
    cm_shared_flush_stats(1);
    cm_report_write();
    cm_probe_fini();
    cm_guard = 0;
}
