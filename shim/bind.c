/*
 * bind.c - creating a variant when the hooker finds an implementation of a configured function.
 *
 * What it does: for each (config function, original) pair the hooker reports, fills the next
 * free descriptor in cm_fns (effective mode, stack-argument count, handle functions and
 * globals resolved to addresses, key identity prefix and its hash) and returns the address of
 * the matching entry stub. A function whose handle function or global cannot be found is not
 * hooked, with one message.
 *
 * What it does not do: patching (got.c), dispatching (dispatch.c).
 *
 * DESIGN: called only with the hook lock held, so descriptors are filled by one thread at a
 * time; a descriptor is complete before cm_nfns is advanced (release) and before the stub
 * address is returned to be stored in GOT slots.
 */
#include "bind.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <xxhash.h>

#include "base/base.h"
#include "ident/ident.h"
#include "key.h"
#include "tier/tier.h"
#include "elf/elf.h"
#include "verify.h"

static const struct cm_config *bind_cfg;
static enum cm_mode bind_env_mode;
static unsigned char bind_hooked[4096];

void cm_bind_setup(const struct cm_config *cfg, enum cm_mode env_mode)
{
    bind_cfg = cfg;
    bind_env_mode = env_mode;
}

int cm_bind_hooked(int func)
{
    return func >= 0 && func < (int)sizeof(bind_hooked) &&
           __atomic_load_n(&bind_hooked[func], __ATOMIC_RELAXED);
}

static void *find_symbol(const struct cm_object *provider, const char *name)
{
    void *p = dlsym(RTLD_DEFAULT, name);
    if (!p && provider)
        p = cm_object_symbol(provider, name);
    return p;
}

/* Decide whether fn can use the dispatcher's scalar fast path and precompute where each keyed
 * parameter lives in the entry frame. The fast path must produce exactly the bytes key.c would
 * (scalars at declared width, in order, `ignore` skipped), so either path can read the other's
 * entries. */
/* Decide whether fn can use the dispatcher's scalar fast path (dispatch.c) and precompute where
 * each keyed parameter lives in the entry frame and which bits of it are its declared width. */
static void plan_fast_path(struct cm_fn *fn)
{
    const struct cm_function *c = fn->cfg;
    const struct cm_signature *s = &c->sig;
    uint32_t vlen = s->ret.kind == CM_K_VOID ? 0 : 8;
    int n = 0;
    if (c->nreads || s->nrestore ||
        (s->ret.kind != CM_K_INT && s->ret.kind != CM_K_FLOAT && s->ret.kind != CM_K_VOID))
        return;
    int16_t src[5];
    uint64_t mask[5];
    uint8_t width[5];
    for (int i = 0; i < s->nparams; i++) {
        const struct cm_param *p = &s->params[i];
        if (p->kind == CM_K_IGNORE)
            continue;
        if ((p->kind != CM_K_INT && p->kind != CM_K_FLOAT) || n == 5)
            return;
        if (p->abi_reg < 0)
            src[n] = (int16_t)(-1 - p->abi_stack);
        else if (p->abi_class == CM_ABI_SSE)
            src[n] = (int16_t)(CMF_XMM + 16 * p->abi_reg);
        else
            src[n] = (int16_t)(CMF_GPR + 8 * p->abi_reg);
        width[n] = (uint8_t)p->size;
        mask[n++] = p->size == 8 ? ~0ull : (1ull << (8 * p->size)) - 1;
    }
    for (int g = 0; g < c->nwrites; g++)
        vlen += c->writes[g].size;
    if (c->save_errno)
        vlen += 4;
    if (8u * (uint32_t)n + vlen > INLINE_MAX)
        return;
    for (int i = 0; i < 5; i++) { /* key words at the end of the slot */
        int k = i - (5 - n);
        fn->fast_src[i] = k >= 0 ? src[k] : 0;
        fn->fast_mask[i] = k >= 0 ? mask[k] : 0;
        fn->fast_kb[i] = k >= 0 ? width[k] : 0;
    }
    fn->fast_n = (uint8_t)n;
    fn->fast_klen = (uint8_t)(8 * n);
    fn->fast_vlen = (uint8_t)vlen;
    fn->fast_ret_sse = s->ret.kind == CM_K_FLOAT;
    fn->fast_ret_void = s->ret.kind == CM_K_VOID;
    fn->fast_side = c->nwrites || c->save_errno;
    fn->fast_sh = 1;
    fn->fast = (uint8_t)cm_tier_memory; /* the memory tier's word-key hit */
}

/* Weak: the dispatcher's unit test links bind.c without the hook layer codeid.c needs. */
#pragma weak cm_codeid

/* What each variant's key identity was derived from, for `cloudm check`. */
static char bind_idwhy[CM_MAX_VARIANTS][160];

/* identity = code: the code identity of b->code, else (with the reason recorded) the object's. */
static void set_identity(struct cm_fn *fn, const struct cm_binding *b)
{
    char *why = bind_idwhy[fn->id];
    const char *path = b->provider ? b->provider->path : "?";
    fn->codeid_len = 0;
    if (fn->cfg->identity == CM_IDENT_NAME) {
        snprintf(why, sizeof(bind_idwhy[0]), "name (name, version and signature only)");
        return;
    }
    if (fn->cfg->identity == CM_IDENT_CODE && b->provider && b->code && cm_codeid) {
        const char *reason = NULL;
        int cached = 0;
        if (cm_codeid(b->provider, b->code, fn->codeid + 1, &reason, &cached) == 0) {
            fn->codeid[0] = 'C';
            fn->codeid_len = 17;
            snprintf(why, sizeof(bind_idwhy[0]), "code (normalized code at %p in %s%s)", b->code,
                     path, cached ? ", from the identity cache" : "");
            cm_debug("%s: code identity %s", fn->cfg->name, cached ? "from the cache" : "computed");
            return;
        }
        cm_debug("%s: no code identity (%s): the object's identity is used", fn->cfg->name, reason);
        snprintf(why, sizeof(bind_idwhy[0]), "object (no code identity: %s), %s", reason, path);
        return;
    }
    snprintf(why, sizeof(bind_idwhy[0]), "object (%s of %s)",
             b->provider && b->provider->id_is_build_id ? "build-id" : "file hash", path);
}

void cm_bind_describe(FILE *out)
{
    uint32_t n = __atomic_load_n(&cm_nfns, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < n; i++) {
        const struct cm_fn *fn = &cm_fns[i].fn;
        const uint8_t *id = fn->ident;
        fprintf(out, "%s%s%s identity ", fn->cfg->name, fn->version[0] ? "@" : "", fn->version);
        for (int k = 0; k < 8; k++)
            fprintf(out, "%02x", id[k]);
        fprintf(out, "  from %s\n", bind_idwhy[i]);
    }
}

void cm_unbind(void *entry)
{
    uintptr_t off = (uintptr_t)entry - (uintptr_t)cm_stubs;
    if ((uintptr_t)entry < (uintptr_t)cm_stubs || off % CM_STUB_SIZE ||
        off / CM_STUB_SIZE >= __atomic_load_n(&cm_nfns, __ATOMIC_ACQUIRE))
        return;
    struct cm_fn *fn = &cm_fns[off / CM_STUB_SIZE].fn;
    /* Its code is gone: a pointer the program kept still reaches the stub, which now jumps
     * straight to where the original was, as the program's own call would. Its statistics stay
     * in the report; a reload is a new variant with its own identity. */
    __atomic_or_fetch(&fn->flags, CM_FN_BYPASS | CM_FN_DEAD, __ATOMIC_RELEASE);
    cm_debug("%s (variant %u): its library was unloaded", fn->cfg->name, fn->id);
}

void *cm_bind(const struct cm_binding *b)
{
    if (!bind_cfg || b->target < 0 || b->target >= bind_cfg->nfunctions)
        return NULL;
    const struct cm_function *c = &bind_cfg->functions[b->target];
    uint32_t n = __atomic_load_n(&cm_nfns, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < n; i++)
        if (cm_fns[i].fn.func == (uint32_t)b->target && cm_fns[i].fn.orig == b->original &&
            !(__atomic_load_n(&cm_fns[i].fn.flags, __ATOMIC_RELAXED) & CM_FN_DEAD))
            return cm_stubs + (size_t)i * CM_STUB_SIZE;
    if (n >= CM_MAX_VARIANTS) {
        cm_log_once("variants", "more than %d hooked implementations: '%s' is not memoized",
                    CM_MAX_VARIANTS, c->name);
        return NULL;
    }
    struct cm_fn *fn = &cm_fns[n].fn;
    memset(fn, 0, sizeof(*fn));
    fn->orig = b->original;
    fn->cfg = c;
    fn->sig = &c->sig;
    fn->id = n;
    fn->func = (uint32_t)b->target;
    fn->nstack = c->sig.nstack;
    fn->provider = b->provider;
    if (b->version)
        snprintf(fn->version, sizeof(fn->version), "%s", b->version);
    enum cm_mode m = bind_env_mode ? bind_env_mode : c->mode ? c->mode : bind_cfg->mode;
    fn->mode = (uint8_t)m;

    for (int i = 0; i < c->sig.nparams; i++) {
        const struct cm_param *p = &c->sig.params[i];
        if (p->kind != CM_K_HANDLE)
            continue;
        fn->handle_fn[i] = b->provider ? cm_object_symbol(b->provider, p->handle_fn) : NULL;
        if (!fn->handle_fn[i])
            fn->handle_fn[i] = dlsym(RTLD_DEFAULT, p->handle_fn);
        if (!fn->handle_fn[i]) {
            cm_log("function '%s' not memoized: handle function '%s' not found", c->name,
                   p->handle_fn);
            return NULL;
        }
    }
    for (int g = 0; g < c->nreads; g++)
        if (!(fn->reads_addr[g] = find_symbol(b->provider, c->reads[g].name))) {
            cm_log("function '%s' not memoized: global '%s' (reads) not found", c->name,
                   c->reads[g].name);
            return NULL;
        }
    for (int g = 0; g < c->nwrites; g++)
        if (!(fn->writes_addr[g] = find_symbol(b->provider, c->writes[g].name))) {
            cm_log("function '%s' not memoized: global '%s' (writes) not found", c->name,
                   c->writes[g].name);
            return NULL;
        }
    set_identity(fn, b);
    fn->sensitive =
        c->sensitive == CM_SENS_YES || (c->sensitive == CM_SENS_UNSET && bind_cfg->sensitive);
    fn->key_crypto = (cm_remote_reads || cm_remote_writes) && cm_crypto;
    for (int i = 0; i < c->sig.nparams; i++)
        if (c->sig.params[i].kind == CM_K_INOUT)
            fn->has_inout = 1;
    fn->remote_ok = !fn->sensitive || cm_remote_has_secret();
    if (!fn->remote_ok && (cm_remote_reads || cm_remote_writes))
        cm_log("function '%s' is sensitive: its entries stay on this machine (the remote tier "
               "holds sensitive entries only under secret_file)",
               c->name);
    if (cm_key_prefix(fn, bind_cfg->ns) < 0)
        return NULL;
    fn->seed = XXH3_64bits(fn->prefix, fn->prefix_len);
    cm_shared_bind(fn);
    fn->min_ticks = c->min_time_ns ? cm_ns_to_ticks(c->min_time_ns) : 0;
    /* the fast path: the memory tier's word key, and the shared tier read from the same words
     * (never a sensitive function's: its shared keys are keyed digests) */
    if ((cm_tier_memory || cm_shared_seg) && !fn->sensitive &&
        (m == CM_MODE_READWRITE || m == CM_MODE_READONLY))
        plan_fast_path(fn);
    fn->flags = m == CM_MODE_OFF ? CM_FN_BYPASS : 0;
    if (m == CM_MODE_READWRITE || m == CM_MODE_READONLY)
        fn->verify_every = cm_verify_every(bind_cfg, c);
    fn->fast_sw = (uint8_t)(fn->fast_n + (fn->verify_every ? 5 : 0));
    /* quarantined by a verified hit in another process: not served until `cloudm clear` */
    if ((m == CM_MODE_READWRITE || m == CM_MODE_READONLY) && cm_shared_seg &&
        cm_seg_quarantined(cm_shared_seg, fn->seed)) {
        fn->flags = CM_FN_BYPASS;
        fn->quarantined = 1;
        cm_log("verify: %s is quarantined in the shared segment (a re-checked hit differed): "
               "not served; `cloudm clear --function %s` lifts it",
               c->name, c->name);
    }
    cm_debug("bound %s%s%s at %p (variant %u, mode %s)", c->name, fn->version[0] ? "@" : "",
             fn->version, b->original, n, cm_mode_name(m));
    if (b->target < (int)sizeof(bind_hooked))
        __atomic_store_n(&bind_hooked[b->target], 1, __ATOMIC_RELAXED);
    __atomic_store_n(&cm_nfns, n + 1, __ATOMIC_RELEASE);
    return cm_stubs + (size_t)n * CM_STUB_SIZE;
}
