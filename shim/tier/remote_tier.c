/*
 * remote_tier.c - the shim's side of the remote tier: keys and envelopes here, the network in
 * the cloudm agent, reached through the channel (shim/chan/, docs/agent.md).
 *
 * What it does: when the config names a remote, dlopen()s libcloudm-remote.so (key derivation,
 * envelope, crypto; no network), maps the channel of this remote configuration (creating it if
 * needed) and starts its agent if none runs. A lookup derives the remote key, posts it to a
 * slot and waits at most remote_timeout; the reply is copied into private memory and checked
 * (and decrypted) here, so an agent can make a call miss but never return a wrong value. A
 * store encodes the envelope straight into the store ring and returns. At exit there is
 * nothing to drain (queued stores are in shared memory, the agent sends them); the process's
 * counters go into the segment. After set-up the host keeps no descriptor, thread or signal
 * handler for this tier. Any failure is one message and the run goes on without the tier.
 *
 * What it does not do: no network, no thread, no waiting beyond remote_timeout; no decision
 * about when the tier is asked (dispatch.c).
 */
#include "tier.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chan/chan.h"
#include "cloudm_env.h"
#include "base/base.h"
#include "seg/seg.h"

int cm_remote_reads, cm_remote_writes;
uint64_t cm_remote_max_value;

static const struct cm_remote_keys_api *kapi;
static struct cm_remote_keys *keys;
static struct cm_chan_hdr *chan;
static char rt_url[CM_PATH_MAX], chan_path[CM_PATH_MAX], agent_bin[CM_PATH_MAX];
static uint64_t rt_timeout_ns, rt_max_value;
static _Atomic uint64_t c_hits, c_misses, c_errors, c_timeouts, c_skipped, c_puts, c_dropped,
    c_auth;
static _Atomic uint32_t msg_seen;
static uint64_t brk_base; /* the agent's breaker openings when this process started */
static _Atomic int said_envelope;
static int remote_secret; /* secret_file set: remote keys are HMACs and values encrypted */

/* libcloudm-remote.so's path: $CLOUDM_REMOTE_LIB, else beside this library. */
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

/* The cloudm command that runs agents: $CLOUDM_BIN, else ../bin/cloudm or ./cloudm beside this
 * library (build and install layouts), else /usr/bin/cloudm. */
static int find_agent_bin(void)
{
    const char *env = getenv(CLOUDM_ENV_BIN);
    if (env && *env) {
        /* absolute: the agent is exec'ed after chdir("/") */
        if (!realpath(env, agent_bin))
            return -1;
        return access(agent_bin, X_OK);
    }
    Dl_info di;
    if (dladdr((void *)find_agent_bin, &di) && di.dli_fname) {
        const char *slash = strrchr(di.dli_fname, '/');
        int dir = slash ? (int)(slash - di.dli_fname) + 1 : 0;
        static const char *const rel[] = {"../bin/cloudm", "cloudm", "../../bin/cloudm",
                                          "../../../bin/cloudm"};
        for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
            snprintf(agent_bin, sizeof(agent_bin), "%.*s%s", dir, di.dli_fname, rel[i]);
            if (access(agent_bin, X_OK) == 0)
                return 0;
        }
    }
    snprintf(agent_bin, sizeof(agent_bin), "/usr/bin/cloudm");
    return access(agent_bin, X_OK);
}

void cm_remote_init(const struct cm_config *cfg)
{
    if (!(cfg->tiers & CM_TIER_REMOTE) || !cfg->remote[0])
        return;
    char path[CM_PATH_MAX], err[600] = "";
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
    const struct cm_remote_keys_api *a = dlsym(h, "cm_remote_keys");
    if (!a || a->abi != CM_REMOTE_KEYS_ABI) {
        cm_log("remote tier off: %s is not a cloudm remote library of this version", path);
        dlclose(h);
        return;
    }
    char sec[CM_PATH_MAX];
    struct cm_chan_conf conf;
    if (cm_chan_for_config(cfg, &conf, chan_path, sizeof(chan_path), sec, sizeof(sec)) < 0) {
        cm_log("remote tier off: token_file, secret_file or shared_path too long");
        return;
    }
    if (conf.token_file[0] && access(conf.token_file, R_OK) != 0) {
        cm_log("remote tier off: cannot open token_file '%s'", conf.token_file);
        return;
    }
    struct cm_remote_keys *k = a->open(sec, err, sizeof(err));
    if (!k) {
        cm_log("remote tier off: %s", err);
        return;
    }
    chan = cm_chan_open(chan_path, &conf, err, sizeof(err));
    if (!chan) {
        cm_log("remote tier off: agent channel: %s", err);
        return;
    }
    /* The agent is started at the first lookup or store that needs it, not here: a program
     * that never calls a memoized function starts nothing. */
    if (find_agent_bin() < 0) {
        cm_log("remote tier: cannot find the cloudm command to start its agent (set %s)",
               CLOUDM_ENV_BIN);
        agent_bin[0] = 0;
    }
    atomic_store(&msg_seen, atomic_load(&chan->msg_seq));
    brk_base = atomic_load(&chan->st.breaker_opens);
    snprintf(rt_url, sizeof(rt_url), "%s", cfg->remote);
    rt_timeout_ns = cfg->remote_timeout_ns;
    rt_max_value = cfg->remote_max_value;
    kapi = a;
    keys = k;
    cm_remote_reads = cfg->remote_mode != CM_RMODE_WRITEONLY;
    cm_remote_writes = cfg->remote_mode != CM_RMODE_READONLY;
    remote_secret = cfg->secret_file[0] != 0;
    cm_remote_max_value = cfg->remote_max_value;
}

int cm_remote_has_secret(void)
{
    return remote_secret;
}

/* The agent's newest message, once per process. */
static void relay_message(void)
{
    uint32_t seq = atomic_load_explicit(&chan->msg_seq, memory_order_acquire);
    uint32_t seen = atomic_load_explicit(&msg_seen, memory_order_relaxed);
    if (seq != seen && atomic_compare_exchange_strong(&msg_seen, &seen, seq)) {
        char m[sizeof(chan->msg)];
        memcpy(m, chan->msg, sizeof(m));
        m[sizeof(m) - 1] = 0;
        if (m[0])
            cm_log("%s", m);
    }
}

/* Whether to ask: an agent runs, or one was started just now. Starts one when needed. */
static int agent_ready(void)
{
    if (cm_chan_agent_alive(chan))
        return 1;
    if (!agent_bin[0])
        return 0;
    if (cm_chan_spawn(chan, agent_bin, chan_path, 0) == 0)
        return 1;
    /* Someone started one moment ago: ask it (it answers once up). */
    return cm_chan_now() - atomic_load(&chan->spawn_ns) < 1000000000ull;
}

static uint8_t *reply_buf(size_t n)
{
    return cm_tls_scratch(CM_SCRATCH_RMT, n ? n : 1);
}

long cm_remote_get(const struct cm_fn *fn, const struct cm_fullkey *fk, const uint8_t **v)
{
    uint8_t raw[64];
    char hex[CM_REMOTE_HEX + 1];
    const uint8_t *env;
    size_t len = 0;
    long n = -1;

    if (kapi->key(keys, fk->k, fk->len, raw, hex) < 0) {
        atomic_fetch_add_explicit(&c_errors, 1, memory_order_relaxed);
        return -1;
    }
    if (!agent_ready()) {
        atomic_fetch_add_explicit(&c_skipped, 1, memory_order_relaxed);
        return -1;
    }
    switch (cm_chan_lookup(chan, hex, rt_timeout_ns, reply_buf, &env, &len)) {
    case CM_CHAN_HIT:
        n = kapi->decode(keys, raw, fn->ident, (uint8_t *)env, len, v);
        if (n >= 0) {
            atomic_fetch_add_explicit(&c_hits, 1, memory_order_relaxed);
            break;
        }
        if (!atomic_exchange(&said_envelope, 1))
            cm_log("remote %s: an entry failed its check (%s): treated as a miss", rt_url,
                   kapi->strerror(n));
        atomic_fetch_add_explicit(&c_errors, 1, memory_order_relaxed);
        n = -1;
        break;
    case CM_CHAN_MISS:
        atomic_fetch_add_explicit(&c_misses, 1, memory_order_relaxed);
        break;
    case CM_CHAN_TIMEOUT:
        atomic_fetch_add_explicit(&c_timeouts, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&c_errors, 1, memory_order_relaxed);
        /* A dead agent is replaced now, not when its heartbeat has aged. */
        if (!cm_chan_agent_check(chan) && agent_bin[0])
            cm_chan_spawn(chan, agent_bin, chan_path, 0);
        break;
    case CM_CHAN_SKIPPED:
        atomic_fetch_add_explicit(&c_skipped, 1, memory_order_relaxed);
        break;
    case CM_CHAN_AUTH:
        atomic_fetch_add_explicit(&c_auth, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&c_errors, 1, memory_order_relaxed);
        break;
    default:
        atomic_fetch_add_explicit(&c_errors, 1, memory_order_relaxed);
        break;
    }
    relay_message();
    return n;
}

void cm_remote_put(const struct cm_fn *fn, const struct cm_fullkey *fk, const uint8_t *v,
                   uint32_t vlen)
{
    uint8_t raw[64];
    char hex[CM_REMOTE_HEX + 1];
    struct cm_chan_rec *rec;

    if (vlen > rt_max_value || kapi->key(keys, fk->k, fk->len, raw, hex) < 0) {
        atomic_fetch_add_explicit(&c_dropped, 1, memory_order_relaxed);
        return;
    }
    size_t size = kapi->env_size(keys, vlen);
    uint8_t *p = cm_chan_store_begin(chan, hex, size, &rec);
    if (!p) {
        atomic_fetch_add_explicit(&c_dropped, 1, memory_order_relaxed);
        return;
    }
    long n = kapi->encode(keys, raw, fn->ident, v, vlen, p, size);
    cm_chan_store_end(chan, rec, n >= 0);
    atomic_fetch_add_explicit(n >= 0 ? &c_puts : &c_dropped, 1, memory_order_relaxed);
    if (atomic_load_explicit(&chan->agent_pid, memory_order_relaxed) == 0)
        agent_ready();
    relay_message();
}

int cm_remote_counters(struct cm_remote_counters *c, const char **url)
{
    memset(c, 0, sizeof(*c));
    if (url)
        *url = rt_url;
    if (!kapi)
        return 0;
    c->hits = atomic_load(&c_hits);
    c->misses = atomic_load(&c_misses);
    c->errors = atomic_load(&c_errors);
    c->timeouts = atomic_load(&c_timeouts);
    c->skipped = atomic_load(&c_skipped);
    c->puts = atomic_load(&c_puts);
    c->dropped = atomic_load(&c_dropped);
    c->auth_errors = atomic_load(&c_auth);
    /* The breakers run in the agent: the openings while this process ran. */
    c->breaker_opens = atomic_load(&chan->st.breaker_opens) - brk_base;
    return 1;
}

void cm_remote_after_fork(void)
{
    _Atomic uint64_t *const c[] = {&c_hits,    &c_misses, &c_errors,  &c_timeouts,
                                   &c_skipped, &c_puts,   &c_dropped, &c_auth};
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
        atomic_store_explicit(c[i], 0, memory_order_relaxed);
    if (chan)
        brk_base = atomic_load(&chan->st.breaker_opens);
}

void cm_remote_fini(void)
{
    if (!kapi)
        return;
    /* Nothing to drain: queued stores are already in the channel, the agent sends them. The
     * mapping stays (threads may still be in lookups while the process exits). */
    struct cm_remote_counters c;
    cm_remote_counters(&c, NULL);
    if (cm_shared_seg)
        cm_seg_remote_add(cm_shared_seg, &c);
}
