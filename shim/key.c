/*
 * key.c - canonical key bytes and value bytes (see key.h; the format is docs/keys.md).
 *
 * Arguments are encoded in parameter order: integers at their declared width, little-endian
 * (the ABI leaves the upper bits of a narrow integer's register undefined, so they never reach
 * a key); floats by bit pattern; i128/u128 as 16 bytes and c32/c64 as 8/16 bytes of bit
 * pattern (real part first); strings and input buffers as tag, 32-bit length and bytes, or,
 * above CM_KEY_DIGEST_MIN bytes, as tag, 64-bit length and a digest (XXH3-128 for the local
 * tiers, SHA-256 from libcloudm-crypto.so when the keys reach the remote tier); NULL as tag 0. No
 * padding bytes and no raw addresses, except a `ptr` outside every loaded object, which marks the
 * call process-local.
 *
 * Values: the return value (8 raw bytes of rax or xmm0; 16 of rax:rdx for i128/u128; 8 of xmm0
 * for c32, 8 of xmm0 then 8 of xmm1 for c64; strings as tag + length + bytes;
 * ptr(NAME) as tag + offset), then each non-NULL out/inout buffer in restore order as length +
 * bytes, then each `writes` global, then errno when recorded.
 */
#include "key.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "elf/elf.h"
#include "tier/tier.h"
#include "base/base.h"

#define MAX_BUF ((uint64_t)1 << 30) /* no single buffer or string above 1 GiB is keyed */
#define TAG_XXH 2                   /* tag of a digested input: u64 length + XXH3-128 (16 bytes) */
#define TAG_SHA 3                   /* tag of a digested input: u64 length + SHA-256 (32 bytes) */

/* A large input: its digest into ci->dig[i], once per call. Returns the bytes it takes in the
 * key. */
static uint64_t digest_input(const struct cm_fn *fn, struct cm_callinfo *ci, int i, const void *p)
{
    if (fn->key_crypto && cm_crypto) {
        ci->tag[i] = TAG_SHA;
        cm_crypto->sha256(p, ci->len[i], ci->dig[i]);
        return 1 + 8 + 32;
    }
    XXH128_canonical_t c;
    struct cm_h128 h = cm_xxh3_128(p, ci->len[i]); /* the CPU's widest vector code (seg_hash.c) */
    XXH128_canonicalFromHash(&c, (XXH128_hash_t){.low64 = h.lo, .high64 = h.hi});
    memcpy(ci->dig[i], c.digest, 16);
    ci->tag[i] = TAG_XXH;
    return 1 + 8 + 16;
}

static inline uint8_t *put(uint8_t *p, const void *src, size_t n)
{
    memcpy(p, src, n);
    return p + n;
}

static inline uint8_t *put_u32(uint8_t *p, uint32_t v)
{
    return put(p, &v, 4);
}

static inline uint8_t *put_u64(uint8_t *p, uint64_t v)
{
    return put(p, &v, 8);
}

static uint64_t extend(const struct cm_param *p, uint64_t raw)
{
    if (p->kind != CM_K_INT)
        return raw;
    switch (p->size) {
    case 1:
        return p->is_signed ? (uint64_t)(int64_t)(int8_t)raw : (uint8_t)raw;
    case 2:
        return p->is_signed ? (uint64_t)(int64_t)(int16_t)raw : (uint16_t)raw;
    case 4:
        return p->is_signed ? (uint64_t)(int64_t)(int32_t)raw : (uint32_t)raw;
    default:
        return raw;
    }
}

void cm_args_read(const struct cm_fn *fn, const struct cm_frame *f, struct cm_callinfo *ci)
{
    const struct cm_signature *sig = fn->sig;
    for (int i = 0; i < sig->nparams; i++) {
        const struct cm_param *p = &sig->params[i];
        uint64_t raw;
        if (p->abi_reg < 0)
            raw = f->stack[p->abi_stack];
        else if (p->abi_class == CM_ABI_SSE)
            memcpy(&raw, f->xmm[p->abi_reg], 8);
        else
            raw = f->gpr[p->abi_reg];
        if (p->kind == CM_K_FLOAT && p->size == 4)
            raw &= 0xffffffffu;
        ci->args[i] = extend(p, raw);
        if (p->size == 16) { /* i128/u128 and c64: the second eightbyte follows the first */
            if (p->abi_reg < 0)
                ci->aux[i] = f->stack[p->abi_stack + 1];
            else if (p->abi_class == CM_ABI_SSE)
                memcpy(&ci->aux[i], f->xmm[p->abi_reg + 1], 8);
            else
                ci->aux[i] = f->gpr[p->abi_reg + 1];
        }
    }
    ci->process_local = 0;
}

static int64_t ret_int(const struct cm_fn *fn, const struct cm_frame *f)
{
    const struct cm_param *r = &fn->sig->ret;
    return (int64_t)extend(r, f->ret_rax);
}

int64_t cm_key_measure(const struct cm_fn *fn, struct cm_callinfo *ci)
{
    const struct cm_signature *sig = fn->sig;
    uint64_t total = 0;
    ci->too_large = 0;
    for (int i = 0; i < sig->nparams; i++) {
        const struct cm_param *p = &sig->params[i];
        const void *ptr = (const void *)(uintptr_t)ci->args[i];
        switch (p->kind) {
        case CM_K_INT:
        case CM_K_FLOAT:
        case CM_K_INT128:
        case CM_K_COMPLEX:
            total += p->size;
            break;
        case CM_K_STR:
        case CM_K_IN:
        case CM_K_INOUT:
            if (!ptr) {
                ci->tag[i] = 0;
                total += 1;
                break;
            }
            ci->tag[i] = 1;
            if (p->kind == CM_K_STR) {
                ci->len[i] = strlen(ptr);
            } else if (cm_expr_eval(&p->size_expr, ci->args, 0, UINT64_MAX, &ci->len[i]) < 0) {
                return -1;
            }
            if (ci->len[i] > MAX_BUF) {
                ci->too_large = 1;
                return -1;
            }
            total += ci->len[i] > CM_KEY_DIGEST_MIN ? digest_input(fn, ci, i, ptr) : 5 + ci->len[i];
            break;
        case CM_K_OUT:
            ci->tag[i] = ptr != NULL;
            total += 1;
            break;
        case CM_K_PTR:
            if (!ptr) {
                ci->tag[i] = 0;
                total += 1;
                break;
            }
            {
                const struct cm_object *o = cm_object_at(ptr);
                if (o) {
                    ci->tag[i] = 1;
                    ci->auxp[i] = o;
                    ci->aux[i] = (uintptr_t)ptr - o->base;
                    total += 1 + 1 + o->idlen + 8;
                } else {
                    ci->tag[i] = 2;
                    ci->process_local = 1;
                    total += 1 + 8;
                }
            }
            break;
        case CM_K_HANDLE:
            if (!ptr) {
                ci->tag[i] = 0;
                total += 1;
            } else if (!fn->handle_fn[i]) {
                return -1;
            } else if (p->handle_str) {
                const char *(*hf)(const void *) = (const char *(*)(const void *))fn->handle_fn[i];
                const char *s = hf(ptr);
                if (!s) {
                    ci->tag[i] = 3;
                    total += 1;
                } else {
                    ci->tag[i] = 2;
                    ci->auxp[i] = s;
                    ci->aux[i] = strlen(s);
                    if (ci->aux[i] > 4096)
                        return -1;
                    total += 5 + ci->aux[i];
                }
            } else {
                long (*hf)(const void *) = (long (*)(const void *))fn->handle_fn[i];
                ci->tag[i] = 1;
                ci->aux[i] = (uint64_t)hf(ptr);
                total += 9;
            }
            break;
        default: /* CM_K_IGNORE */
            break;
        }
    }
    for (int g = 0; g < fn->cfg->nreads; g++)
        total += fn->cfg->reads[g].size;
    return (int64_t)total;
}

void cm_key_write(const struct cm_fn *fn, const struct cm_callinfo *ci, uint8_t *out)
{
    const struct cm_signature *sig = fn->sig;
    uint8_t *p = out;
    for (int i = 0; i < sig->nparams; i++) {
        const struct cm_param *pa = &sig->params[i];
        const void *ptr = (const void *)(uintptr_t)ci->args[i];
        switch (pa->kind) {
        case CM_K_INT:
        case CM_K_FLOAT:
            p = put(p, &ci->args[i], pa->size);
            break;
        case CM_K_INT128: /* by bit pattern, low eightbyte first (c32: both floats) */
        case CM_K_COMPLEX:
            p = put_u64(p, ci->args[i]);
            if (pa->size == 16)
                p = put_u64(p, ci->aux[i]);
            break;
        case CM_K_STR:
        case CM_K_IN:
        case CM_K_INOUT:
            *p++ = ci->tag[i];
            if (ci->tag[i] == 1) {
                p = put_u32(p, (uint32_t)ci->len[i]);
                p = put(p, ptr, ci->len[i]);
            } else if (ci->tag[i]) {
                p = put_u64(p, ci->len[i]);
                p = put(p, ci->dig[i], ci->tag[i] == TAG_SHA ? 32 : 16);
            }
            break;
        case CM_K_OUT:
            *p++ = ci->tag[i];
            break;
        case CM_K_PTR:
            *p++ = ci->tag[i];
            if (ci->tag[i] == 1) {
                const struct cm_object *o = ci->auxp[i];
                *p++ = o->idlen;
                p = put(p, o->id, o->idlen);
                p = put_u64(p, ci->aux[i]);
            } else if (ci->tag[i] == 2) {
                p = put_u64(p, ci->args[i]);
            }
            break;
        case CM_K_HANDLE:
            *p++ = ci->tag[i];
            if (ci->tag[i] == 1) {
                p = put_u64(p, ci->aux[i]);
            } else if (ci->tag[i] == 2) {
                p = put_u32(p, (uint32_t)ci->aux[i]);
                p = put(p, ci->auxp[i], ci->aux[i]);
            }
            break;
        default:
            break;
        }
    }
    for (int g = 0; g < fn->cfg->nreads; g++)
        p = put(p, fn->reads_addr[g], fn->cfg->reads[g].size);
}

int64_t cm_value_measure(const struct cm_fn *fn, const struct cm_frame *f, struct cm_callinfo *ci)
{
    const struct cm_signature *sig = fn->sig;
    const struct cm_param *r = &sig->ret;
    uint64_t total = 0;
    /* Outputs first: a ptr(NAME) return is checked against its buffer's recorded length. */
    int64_t rv = ret_int(fn, f);
    for (int j = 0; j < sig->nrestore; j++) {
        int i = sig->restore_order[j];
        if (!ci->args[i])
            continue;
        uint64_t n;
        if (cm_expr_eval(&sig->params[i].size_expr, ci->args, rv, MAX_BUF, &n) < 0)
            return -1;
        ci->len[i] = n;
        total += 4 + n;
    }
    switch (r->kind) {
    case CM_K_VOID:
        break;
    case CM_K_STR:
    case CM_K_MSTR: {
        const char *s = (const char *)(uintptr_t)f->ret_rax;
        total += 1;
        if (s) {
            size_t n = strlen(s);
            if (n > MAX_BUF)
                return -1;
            total += 4 + n;
        }
        break;
    }
    case CM_K_RETPTR: {
        uint64_t ret = f->ret_rax;
        total += 1;
        if (ret) {
            uint64_t base = ci->args[r->ret_ref];
            if (!base || ret < base || ret - base > ci->len[r->ret_ref])
                return -1;
            total += 8;
        }
        break;
    }
    case CM_K_INT128:
    case CM_K_COMPLEX:
        total += r->size;
        break;
    default:
        total += 8;
        break;
    }
    for (int g = 0; g < fn->cfg->nwrites; g++)
        total += fn->cfg->writes[g].size;
    if (fn->cfg->save_errno)
        total += 4;
    return (int64_t)total;
}

void cm_value_write(const struct cm_fn *fn, const struct cm_frame *f, const struct cm_callinfo *ci,
                    int err, uint8_t *out)
{
    const struct cm_signature *sig = fn->sig;
    const struct cm_param *r = &sig->ret;
    uint8_t *p = out;
    switch (r->kind) {
    case CM_K_VOID:
        break;
    case CM_K_STR:
    case CM_K_MSTR: {
        const char *s = (const char *)(uintptr_t)f->ret_rax;
        *p++ = s != NULL;
        if (s) {
            uint32_t n = (uint32_t)strlen(s);
            p = put_u32(p, n);
            p = put(p, s, n);
        }
        break;
    }
    case CM_K_RETPTR:
        *p++ = f->ret_rax != 0;
        if (f->ret_rax)
            p = put_u64(p, f->ret_rax - ci->args[r->ret_ref]);
        break;
    case CM_K_FLOAT:
        p = put(p, f->ret_xmm0, 8);
        break;
    case CM_K_INT128: /* rax:rdx */
        p = put_u64(p, f->ret_rax);
        p = put_u64(p, f->ret_rdx);
        break;
    case CM_K_COMPLEX: /* c32: xmm0's low 8 bytes; c64: those of xmm0, then of xmm1 */
        p = put(p, f->ret_xmm0, 8);
        if (r->size == 16)
            p = put(p, f->ret_xmm1, 8);
        break;
    default:
        p = put_u64(p, f->ret_rax);
        break;
    }
    for (int j = 0; j < sig->nrestore; j++) {
        int i = sig->restore_order[j];
        if (!ci->args[i])
            continue;
        p = put_u32(p, (uint32_t)ci->len[i]);
        p = put(p, (const void *)(uintptr_t)ci->args[i], ci->len[i]);
    }
    for (int g = 0; g < fn->cfg->nwrites; g++)
        p = put(p, fn->writes_addr[g], fn->cfg->writes[g].size);
    if (fn->cfg->save_errno)
        p = put(p, &err, 4);
}

int cm_value_restore(const struct cm_fn *fn, struct cm_frame *f, const struct cm_callinfo *ci,
                     const uint8_t *v, uint32_t vlen)
{
    return cm_value_restore_with(fn, f, ci, v, vlen, NULL, NULL);
}

int cm_value_restore_with(const struct cm_fn *fn, struct cm_frame *f, const struct cm_callinfo *ci,
                          const uint8_t *v, uint32_t vlen,
                          void (*copy)(void *ctx, void *dst, const uint8_t *src, size_t n),
                          void *ctx)
{
    const struct cm_signature *sig = fn->sig;
    const struct cm_param *r = &sig->ret;
    struct cm_vcur rd = {v, v + vlen};
    const uint8_t *ret = NULL, *q;
    uint32_t retlen = 0;
    uint8_t rtag = 0;
    const uint8_t *outs[CM_MAX_PARAMS];
    uint32_t outlen[CM_MAX_PARAMS];

    /* Pass 1: check the whole structure, write nothing. */
    switch (r->kind) {
    case CM_K_VOID:
        break;
    case CM_K_STR:
    case CM_K_MSTR:
    case CM_K_RETPTR:
        if (!(q = cm_vcur_take(&rd, 1)))
            return -1;
        rtag = *q;
        if (rtag > 1)
            return -1;
        if (rtag && r->kind == CM_K_RETPTR) {
            if (!(ret = cm_vcur_take(&rd, 8)))
                return -1;
        } else if (rtag) {
            if (cm_vcur_u32(&rd, &retlen) < 0 || !(ret = cm_vcur_take(&rd, retlen)))
                return -1;
        }
        break;
    case CM_K_INT128:
    case CM_K_COMPLEX:
        if (!(ret = cm_vcur_take(&rd, r->size)))
            return -1;
        break;
    default:
        if (!(ret = cm_vcur_take(&rd, 8)))
            return -1;
        break;
    }
    for (int j = 0; j < sig->nrestore; j++) {
        int i = sig->restore_order[j];
        if (!ci->args[i])
            continue;
        if (cm_vcur_u32(&rd, &outlen[j]) < 0 || !(outs[j] = cm_vcur_take(&rd, outlen[j])))
            return -1;
    }
    const uint8_t *globals = rd.p;
    uint64_t gsize = 0;
    for (int g = 0; g < fn->cfg->nwrites; g++)
        gsize += fn->cfg->writes[g].size;
    if (!cm_vcur_take(&rd, gsize))
        return -1;
    const uint8_t *errp = NULL;
    if (fn->cfg->save_errno && !(errp = cm_vcur_take(&rd, 4)))
        return -1;
    if (rd.p != rd.end)
        return -1;

    /* The return value first: it is the only step that can fail (allocation). */
    switch (r->kind) {
    case CM_K_VOID:
        break;
    case CM_K_STR:  /* our per-thread copy, valid until this thread's next call of fn */
    case CM_K_MSTR: /* a fresh malloc'd copy the caller frees */
        if (!rtag) {
            f->ret_rax = 0;
        } else {
            char *buf = r->kind == CM_K_STR ? cm_tls_strbuf(fn->id, (size_t)retlen + 1)
                                            : malloc((size_t)retlen + 1);
            if (!buf)
                return -1;
            memcpy(buf, ret, retlen);
            buf[retlen] = 0;
            f->ret_rax = (uintptr_t)buf;
        }
        break;
    case CM_K_RETPTR:
        if (!rtag) {
            f->ret_rax = 0;
        } else {
            uint64_t off;
            memcpy(&off, ret, 8);
            f->ret_rax = ci->args[r->ret_ref] + off;
        }
        break;
    case CM_K_FLOAT:
        memset(f->ret_xmm0, 0, 16);
        memcpy(f->ret_xmm0, ret, 8);
        break;
    case CM_K_INT128:
        memcpy(&f->ret_rax, ret, 8);
        memcpy(&f->ret_rdx, ret + 8, 8);
        break;
    case CM_K_COMPLEX:
        memset(f->ret_xmm0, 0, 16);
        memcpy(f->ret_xmm0, ret, 8);
        if (r->size == 16) {
            memset(f->ret_xmm1, 0, 16);
            memcpy(f->ret_xmm1, ret + 8, 8);
        }
        break;
    default:
        memcpy(&f->ret_rax, ret, 8);
        break;
    }
    for (int j = 0; j < sig->nrestore; j++) {
        int i = sig->restore_order[j];
        if (!ci->args[i])
            continue;
        if (copy)
            copy(ctx, (void *)(uintptr_t)ci->args[i], outs[j], outlen[j]);
        else
            memcpy((void *)(uintptr_t)ci->args[i], outs[j], outlen[j]);
    }
    for (int g = 0; g < fn->cfg->nwrites; g++) {
        memcpy(fn->writes_addr[g], globals, fn->cfg->writes[g].size);
        globals += fn->cfg->writes[g].size;
    }
    if (errp) {
        int e;
        memcpy(&e, errp, 4);
        errno = e;
    }
    return 0;
}

int cm_key_prefix(struct cm_fn *fn, const char *ns)
{
    const char *parts[5] = {ns, fn->cfg->name, fn->version, fn->sig->normalized, fn->cfg->salt};
    size_t total = 4 + 2;
    for (int i = 0; i < 5; i++)
        total += 4 + strlen(parts[i]);
    const struct cm_object *o = fn->provider;
    const uint8_t *id = o ? o->id : NULL; /* identity = object */
    uint8_t idlen = o ? o->idlen : 0;
    if (fn->codeid_len) { /* identity = code */
        id = fn->codeid;
        idlen = fn->codeid_len;
    } else if (fn->cfg->identity == CM_IDENT_NAME) {
        idlen = 0;
    }
    total += 1 + idlen;
    uint8_t *buf = malloc(total), *p = buf;
    if (!buf)
        return -ENOMEM;
    p = put(p, "CMK1", 4);
    uint16_t ver = CM_KEY_FORMAT;
    p = put(p, &ver, 2);
    for (int i = 0; i < 5; i++) {
        uint32_t n = (uint32_t)strlen(parts[i]);
        p = put_u32(p, n);
        p = put(p, parts[i], n);
    }
    *p++ = idlen;
    if (idlen)
        p = put(p, id, idlen);
    fn->prefix = buf;
    fn->prefix_len = (uint32_t)(p - buf);
    return 0;
}
