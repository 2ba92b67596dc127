/*
 * sig_layout.c - what a parsed signature implies: ABI placement, restore order, normalized text.
 *
 * What it does: places every parameter in its x86-64 System V register or stack slot (INTEGER
 * class: rdi rsi rdx rcx r8 r9; SSE class: xmm0-7; then 8-byte stack slots in parameter order
 * across both classes; i128/u128 and c64 take two registers of their class or two slots, an
 * i128/u128 slot pair 16-byte aligned); orders the out/inout parameters for restoring on a hit
 * (those whose value another output's size dereferences first); writes the canonical text that
 * identifies the signature in cache keys (canonical type names, no parameter names, argN in
 * expressions).
 *
 * What it does not do: parse or check anything (signature.c does, before calling these), report
 * messages, or allocate.
 */
#include <stdio.h>
#include <string.h>

#include "cm_config_int.h"

static int is_output(uint8_t kind)
{
    return kind == CM_K_OUT || kind == CM_K_INOUT;
}

void cm_sig_place(struct cm_signature *s)
{
    int ngpr = 0, nsse = 0, nstack = 0, i;

    for (i = 0; i < s->nparams; i++) {
        struct cm_param *prm = &s->params[i];
        const bool sse = prm->kind == CM_K_FLOAT || prm->kind == CM_K_COMPLEX;
        /* eightbytes: __int128 is two INTEGER ones, double _Complex two SSE ones */
        const int words = (prm->kind == CM_K_INT128 || prm->kind == CM_K_COMPLEX) ? prm->size / 8
                                                                                   : 1;

        prm->abi_class = sse ? CM_ABI_SSE : CM_ABI_INT;
        if (sse && nsse + words <= 8) {
            prm->abi_reg = (int8_t)nsse;
            nsse += words;
        } else if (!sse && ngpr + words <= 6) {
            prm->abi_reg = (int8_t)ngpr;
            ngpr += words;
        } else {
            /* psABI 3.2.3: when not every eightbyte gets a register, the whole argument goes
             * on the stack and the registers left stay free for later arguments; __int128 is
             * 16-byte aligned there (double _Complex only 8). */
            prm->abi_reg = -1;
            if (prm->kind == CM_K_INT128 && (nstack & 1))
                nstack++;
            prm->abi_stack = (uint8_t)nstack;
            nstack += words;
        }
    }
    s->nstack = (uint8_t)nstack;
}

void cm_sig_restore_order(struct cm_signature *s)
{
    bool derefd[CM_MAX_PARAMS] = {false};
    int i, k, pass;

    for (i = 0; i < s->nparams; i++) {
        const struct cm_expr *e = &s->params[i].size_expr;

        if (!is_output(s->params[i].kind))
            continue;
        for (k = 0; k < e->n; k++) {
            if (e->ops[k].op == CM_OP_DEREF && e->ops[k].arg != i)
                derefd[e->ops[k].arg] = true;
        }
    }
    s->nrestore = 0;
    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < s->nparams; i++) {
            if (is_output(s->params[i].kind) && derefd[i] == (pass == 0))
                s->restore_order[s->nrestore++] = (uint8_t)i;
        }
    }
}

/* ---- normalized text ---------------------------------------------------------------------- */

struct tbuf {
    char *buf;
    size_t size, len;
    int overflow;
};

static void tput(struct tbuf *t, const char *s)
{
    size_t n = strlen(s);

    if (t->len + n >= t->size) {
        t->overflow = 1;
        return;
    }
    memcpy(t->buf + t->len, s, n + 1);
    t->len += n;
}

static void type_text(const struct cm_param *prm, struct tbuf *t)
{
    static const char *const bufkind[] = {
        [CM_K_IN] = "in[", [CM_K_OUT] = "out[", [CM_K_INOUT] = "inout["};
    char tmp[CM_NAME_MAX + 16];

    switch (prm->kind) {
    case CM_K_VOID:
        tput(t, "void");
        return;
    case CM_K_INT:
        snprintf(tmp, sizeof(tmp), "%c%d", prm->is_signed ? 'i' : 'u', prm->size * 8);
        tput(t, tmp);
        return;
    case CM_K_FLOAT:
        snprintf(tmp, sizeof(tmp), "f%d", prm->size * 8);
        tput(t, tmp);
        return;
    case CM_K_INT128:
        tput(t, prm->is_signed ? "i128" : "u128");
        return;
    case CM_K_COMPLEX:
        tput(t, prm->size == 8 ? "c32" : "c64");
        return;
    case CM_K_STR:
        tput(t, "str");
        return;
    case CM_K_MSTR:
        tput(t, "mstr");
        return;
    case CM_K_PTR:
        tput(t, "ptr");
        return;
    case CM_K_IGNORE:
        tput(t, "ignore");
        return;
    case CM_K_RETPTR:
        snprintf(tmp, sizeof(tmp), "ptr(arg%d)", prm->ret_ref + 1);
        tput(t, tmp);
        return;
    case CM_K_HANDLE:
        snprintf(tmp, sizeof(tmp), "handle(%s%s)", prm->handle_fn, prm->handle_str ? ":str" : "");
        tput(t, tmp);
        return;
    case CM_K_IN:
    case CM_K_OUT:
    case CM_K_INOUT: {
        char expr[CM_SIG_TEXT_MAX];

        tput(t, bufkind[prm->kind]);
        if (cm_expr_render(&prm->size_expr, expr, sizeof(expr)) < 0)
            t->overflow = 1;
        else
            tput(t, expr);
        tput(t, "]");
        return;
    }
    default:
        t->overflow = 1;
        return;
    }
}

int cm_sig_normalize(struct cm_signature *s)
{
    struct tbuf t = {s->normalized, sizeof(s->normalized), 0, 0};
    int i;

    s->normalized[0] = '\0';
    type_text(&s->ret, &t);
    tput(&t, " ");
    tput(&t, s->name);
    tput(&t, "(");
    if (s->nparams == 0)
        tput(&t, "void");
    for (i = 0; i < s->nparams; i++) {
        if (i > 0)
            tput(&t, ", ");
        type_text(&s->params[i], &t);
    }
    tput(&t, ")");
    return t.overflow ? -1 : 0;
}
