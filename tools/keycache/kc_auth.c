/*
 * kc_auth.c - token file parsing and constant-time token lookup (kc_auth.h).
 *
 * What it does: reads the token file once; kc_auth_role() compares the presented token with
 * every stored token, always all of them and always over each stored token's full length, and
 * combines the results without branches, so the time taken says nothing about which token (or
 * which prefix) matched.
 *
 * What it does not do: it does not hide the number or the lengths of the stored tokens (they
 * are configuration, not secrets), and it never logs a token.
 */
#include "kc_auth.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KC_AUTH_MAX 1024 /* tokens in one file */

struct kc_token {
    char tok[KC_TOKEN_MAX + 1];
    size_t len;
    int rw; /* 1 = rw, 0 = ro */
};

struct kc_auth {
    struct kc_token *v;
    size_t n;
};

void kc_auth_free(struct kc_auth *a)
{
    if (a == NULL)
        return;
    free(a->v);
    free(a);
}

static char *skip_ws(char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int kc_auth_load(const char *path, struct kc_auth **out, char *err, size_t errsz)
{
    struct kc_auth *a = NULL;
    char line[1024];
    FILE *f;
    int lineno = 0;

    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        return -1;
    }
    a = calloc(1, sizeof(*a));
    if (a != NULL)
        a->v = calloc(KC_AUTH_MAX, sizeof(*a->v));
    if (a == NULL || a->v == NULL) {
        snprintf(err, errsz, "%s: out of memory", path);
        goto fail;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *p, *word, *tok;
        size_t wl, tl;

        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, errsz, "%s:%d: line too long", path, lineno);
            goto fail;
        }
        line[strcspn(line, "\r\n")] = '\0';
        p = skip_ws(line);
        if (*p == '\0' || *p == '#')
            continue;
        word = p;
        wl = strcspn(p, " \t");
        tok = skip_ws(p + wl);
        tl = strcspn(tok, " \t");
        if (*skip_ws(tok + tl) != '\0') {
            snprintf(err, errsz, "%s:%d: expected 'ro TOKEN' or 'rw TOKEN'", path, lineno);
            goto fail;
        }
        if (!((wl == 2 && memcmp(word, "ro", 2) == 0) || (wl == 2 && memcmp(word, "rw", 2) == 0))) {
            snprintf(err, errsz, "%s:%d: unknown access '%.*s' (ro or rw)", path, lineno,
                     (int)(wl > 20 ? 20 : wl), word);
            goto fail;
        }
        if (tl == 0) {
            snprintf(err, errsz, "%s:%d: missing token after '%.2s'", path, lineno, word);
            goto fail;
        }
        if (tl > KC_TOKEN_MAX) {
            snprintf(err, errsz, "%s:%d: token longer than %d characters", path, lineno,
                     KC_TOKEN_MAX);
            goto fail;
        }
        for (size_t i = 0; i < tl; i++) {
            if (tok[i] <= ' ' || tok[i] >= 0x7f) {
                snprintf(err, errsz, "%s:%d: token has a character that is not visible ASCII", path,
                         lineno);
                goto fail;
            }
        }
        if (a->n == KC_AUTH_MAX) {
            snprintf(err, errsz, "%s:%d: more than %d tokens", path, lineno, KC_AUTH_MAX);
            goto fail;
        }
        memcpy(a->v[a->n].tok, tok, tl);
        a->v[a->n].len = tl;
        a->v[a->n].rw = word[1] == 'w';
        a->n++;
    }
    if (ferror(f)) {
        snprintf(err, errsz, "%s: read error", path);
        goto fail;
    }
    if (a->n == 0) {
        snprintf(err, errsz, "%s: no token in the file", path);
        goto fail;
    }
    fclose(f);
    *out = a;
    return 0;

fail:
    fclose(f);
    kc_auth_free(a);
    return -1;
}

enum kc_role kc_auth_role(const struct kc_auth *a, const char *tok, size_t len)
{
    unsigned ro = 0, rw = 0;

    if (a == NULL)
        return KC_ROLE_RW;
    if (tok == NULL)
        return KC_ROLE_MISSING;
    if (len == 0)
        return KC_ROLE_UNKNOWN;
    for (size_t t = 0; t < a->n; t++) {
        const struct kc_token *s = &a->v[t];
        /* diff == 0 exactly when lengths and all bytes agree; reads of `tok` wrap around
         * (len >= 1) so the loop never depends on the presented length. */
        size_t diff = s->len ^ len;
        unsigned eq, m;

        for (size_t i = 0; i < s->len; i++)
            diff |= (size_t)((unsigned char)s->tok[i] ^ (unsigned char)tok[i % len]);
        eq = (unsigned)(((diff | (0 - diff)) >> (sizeof(size_t) * 8 - 1)) ^ 1); /* 1 iff 0 */
        m = 0u - eq;
        rw |= m & (unsigned)s->rw;
        ro |= m & (unsigned)(s->rw ^ 1);
    }
    if (rw)
        return KC_ROLE_RW;
    if (ro)
        return KC_ROLE_RO;
    return KC_ROLE_UNKNOWN;
}
