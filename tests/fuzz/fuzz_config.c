/*
 * fuzz_config.c - libFuzzer target for the config parser and the signature parser.
 *
 * What it does: feeds the input to cm_config_parse() as a whole config file; then splits it at
 * its first byte value 0x01 (or in the middle) and feeds the part before as one signature to
 * cm_signature_parse(). Checks invariants the parsers promise: every message is
 * "NAME:LINE:COL: error|warning: ..." with positive numbers, error and warning counts match the
 * messages, a config with no error has only well-formed functions, and every compiled size
 * expression renders and evaluates without touching memory it was not given.
 *
 * What it does not do: compare against a reference. Build and run with tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cm_config.h"

struct counts {
    int errors, warnings;
};

static void check_msg(void *ctx, enum cm_severity sev, const char *msg)
{
    struct counts *c = ctx;
    const char *p = msg;
    long line, col;
    char *end;

    if (sev == CM_DIAG_ERROR)
        c->errors++;
    else
        c->warnings++;
    /* "fuzz.conf:LINE:COL: " or "<signature>:1:COL: " */
    p = strchr(msg, ':');
    if (p == NULL)
        __builtin_trap();
    line = strtol(p + 1, &end, 10);
    if (end == p + 1 || *end != ':' || line < 1)
        __builtin_trap();
    col = strtol(end + 1, &end, 10);
    if (col < 1 || *end != ':')
        __builtin_trap();
    if (strncmp(end, sev == CM_DIAG_ERROR ? ": error: " : ": warning: ",
                sev == CM_DIAG_ERROR ? 9 : 11) != 0)
        __builtin_trap();
    /* ini.c and inih must never disagree about a line. */
    if (strcmp(end, ": error: cannot parse this line (inih and cloudm disagree about it)") == 0)
        __builtin_trap();
}

static void check_sig(const struct cm_signature *s)
{
    uint64_t args[CM_MAX_PARAMS], out;
    uint64_t word = 16;
    int i, k;

    if (s->nparams > CM_MAX_PARAMS || s->nrestore > s->nparams)
        __builtin_trap();
    if (memchr(s->normalized, '\0', sizeof(s->normalized)) == NULL || s->normalized[0] == '\0')
        __builtin_trap();
    for (i = 0; i < CM_MAX_PARAMS; i++)
        args[i] = (uintptr_t)&word; /* every deref reads this 8-byte word */
    for (i = 0; i < s->nparams; i++) {
        const struct cm_param *p = &s->params[i];

        if (p->abi_reg < -1 || p->abi_reg > 7 || (p->abi_reg == -1 && p->abi_stack >= s->nstack))
            __builtin_trap();
        if (p->kind == CM_K_IN || p->kind == CM_K_OUT || p->kind == CM_K_INOUT) {
            if (p->size_expr.n == 0)
                __builtin_trap();
            for (k = 0; k < p->size_expr.n; k++) {
                if (p->size_expr.ops[k].op == CM_OP_DEREF && p->size_expr.ops[k].width > 8)
                    __builtin_trap();
            }
            (void)cm_expr_eval(&p->size_expr, args, 3, 1 << 20, &out);
        }
    }
    for (i = 0; i < s->nrestore; i++) {
        k = s->params[s->restore_order[i]].kind;
        if (k != CM_K_OUT && k != CM_K_INOUT)
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cm_config cfg;
    struct cm_signature sig;
    struct counts c = {0, 0};
    const uint8_t *split;
    char *text;
    size_t n;
    int i, rc;

    rc = cm_config_parse("fuzz.conf", (const char *)data, size, &cfg, check_msg, &c);
    if (rc == 0 && (c.errors != cfg.nerrors || c.warnings != cfg.nwarnings))
        __builtin_trap();
    if (rc == 0 && cfg.nfunctions > CM_MAX_FUNCTIONS)
        __builtin_trap();
    for (i = 0; rc == 0 && i < cfg.nfunctions; i++) {
        if (strcmp(cfg.functions[i].name, cfg.functions[i].sig.name) != 0)
            __builtin_trap();
        check_sig(&cfg.functions[i].sig);
    }
    cm_config_free(&cfg);

    split = memchr(data, 0x01, size);
    n = split != NULL ? (size_t)(split - data) : size / 2;
    text = malloc(n + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, n);
    text[n] = '\0';
    c.errors = c.warnings = 0;
    rc = cm_signature_parse(text, &sig, "sig.conf:1", 13, check_msg, &c);
    if ((rc == -1) != (c.errors > 0) || (rc == 1) != (c.errors == 0 && c.warnings == 1))
        __builtin_trap();
    if (rc == 0)
        check_sig(&sig);
    free(text);
    return 0;
}
