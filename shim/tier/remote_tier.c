/*
 * remote_tier.c - the shim's side of the remote tier (see remote_tier.h).
 *
 * What it does: when the config names a remote, dlopen()s libcloudm-remote.so (next to
 * libcloudm.so, or $CLOUDM_REMOTE_LIB), checks its ABI, opens it with the [cache] settings and
 * lends it two host services (logging, marking its threads as inside cloudm). Then it forwards
 * lookups and stores, and at exit drains the writer and pushes the process's remote counters
 * into the shared segment. Any failure is one message and the run goes on without the tier.
 *
 * What it does not do: no network, no key derivation, no envelope, no crypto (the plugin); no
 * decision about when the tier is asked (dispatch.c).
 *
 * Why a plugin: libcurl and OpenSSL bring a dozen libraries and their constructors; programs
 * that use no remote never load them, and their start-up stays as it was.
 */
#include "tier.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloudm_env.h"
#include "base/base.h"
#include "seg/seg.h"

int cm_remote_reads, cm_remote_writes;
uint64_t cm_remote_max_value;

static const struct cm_remote_api *api;
static struct cm_remote *rt;
static char rt_url[CM_PATH_MAX];
static int remote_secret; /* secret_file set: remote keys are HMACs and values encrypted */

static void host_log(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    cm_log("%s", buf);
}

static void host_thread_enter(void)
{
    cm_guard = 1;
}

static const struct cm_remote_host host = {.log = host_log, .thread_enter = host_thread_enter};

/* The plugin's path: $CLOUDM_REMOTE_LIB, else libcloudm-remote.so beside this library. */
static int plugin_path(char *buf, size_t size)
{
    const char *env = getenv(CLOUDM_ENV_REMOTE_LIB);
    if (env && *env)
        return snprintf(buf, size, "%s", env) < (int)size ? 0 : -1;
    Dl_info di;
    if (!dladdr((void *)plugin_path, &di) || !di.dli_fname)
        return -1;
    const char *slash = strrchr(di.dli_fname, '/');
    int dir = slash ? (int)(slash - di.dli_fname) + 1 : 0;
    return snprintf(buf, size, "%.*slibcloudm-remote.so", dir, di.dli_fname) < (int)size ? 0 : -1;
}

void cm_remote_init(const struct cm_config *cfg)
{
    const char *url = cfg->remote;
    if (!(cfg->tiers & CM_TIER_REMOTE) || !url[0])
        return;
    char path[CM_PATH_MAX];
    if (!cm_crypto) { /* large inputs enter remote keys as SHA-256 */
        cm_log("remote tier off: libcloudm-crypto.so is needed for remote keys");
        return;
    }
    if (plugin_path(path, sizeof(path)) < 0) {
        cm_log("remote tier off: cannot locate libcloudm-remote.so");
        return;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        cm_log("remote tier off: %s", dlerror());
        return;
    }
    const struct cm_remote_api *a = dlsym(h, "cm_remote_plugin");
    if (!a || a->abi != CM_REMOTE_ABI) {
        cm_log("remote tier off: %s is not a cloudm remote plugin of this version", path);
        dlclose(h);
        return;
    }
    char tok[CM_PATH_MAX], sec[CM_PATH_MAX], err[512] = "";
    if (cm_path_expand(cfg->token_file, tok, sizeof(tok)) < 0 ||
        cm_path_expand(cfg->secret_file, sec, sizeof(sec)) < 0) {
        cm_log("remote tier off: token_file or secret_file too long");
        return;
    }
    static const enum cm_remote_access access[] = {CM_REMOTE_READWRITE, CM_REMOTE_READONLY,
                                                   CM_REMOTE_WRITEONLY};
    struct cm_remote_opts o = {
        .url = url,
        .ns = cfg->ns,
        .token_file = tok,
        .secret_file = sec,
        .timeout_ns = cfg->remote_timeout_ns,
        .flush_timeout_ns = cfg->flush_timeout_ns,
        .queue_entries = cfg->remote_queue,
        .queue_bytes = cfg->remote_queue_bytes,
        .max_value = cfg->remote_max_value,
        .access = access[cfg->remote_mode],
        .expire_ns = cfg->remote_expire_ns,
    };
    struct cm_remote *r = a->open(&o, &host, err, sizeof(err));
    if (!r) {
        cm_log("remote tier off: %s", err[0] ? err : "the plugin refused the settings");
        return;
    }
    snprintf(rt_url, sizeof(rt_url), "%s", url);
    api = a;
    rt = r;
    cm_remote_reads = cfg->remote_mode != CM_RMODE_WRITEONLY;
    cm_remote_writes = cfg->remote_mode != CM_RMODE_READONLY;
    remote_secret = cfg->secret_file[0] != 0;
    cm_remote_max_value = cfg->remote_max_value;
}

int cm_remote_has_secret(void)
{
    return remote_secret;
}

long cm_remote_get(const struct cm_fn *fn, const struct cm_fullkey *fk, const uint8_t **v)
{
    long n = api->get(rt, fk->k, fk->len, fn->ident, v);
    return n >= 0 ? n : -1;
}

void cm_remote_put(const struct cm_fn *fn, const struct cm_fullkey *fk, const uint8_t *v,
                   uint32_t vlen)
{
    api->put(rt, fk->k, fk->len, fn->ident, v, vlen);
}

int cm_remote_counters(struct cm_remote_counters *c, const char **url)
{
    memset(c, 0, sizeof(*c));
    if (url)
        *url = rt_url;
    if (!api)
        return 0;
    api->counters(rt, c);
    return 1;
}

void cm_remote_fini(void)
{
    if (!api)
        return;
    cm_remote_reads = cm_remote_writes = 0;
    api->close(rt);
    struct cm_remote_counters c;
    api->counters(rt, &c);
    if (cm_shared_seg)
        cm_seg_remote_add(cm_shared_seg, &c);
}
