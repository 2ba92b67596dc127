/*
 * keyvals.c - one config key's value: checked against its grammar and range, stored in the
 * cm_config model, with a message naming the file, line and column of the bad part and what to
 * write instead (did-you-mean for words).
 *
 * What it does not do: decide which key a line is or whether it belongs in its section
 * (config.c), split lines (ini.c), parse signatures (signature.c) or size and time grammars
 * (values.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfgparse_int.h"

/* ---- values ------------------------------------------------------------------------------- */

/* Error at byte `off` of the key's value. */

static int quote_len(const struct cm_ini_key *k)
{
    return k->vlen > QUOTE_MAX ? QUOTE_MAX : (int)k->vlen;
}

void cm_cfg_copy_value(struct parse *p, const struct cm_ini_key *k, char *dst, size_t size)
{
    if (k->vlen >= size) {
        VERR(p, k, 0, "value of '%s' too long (at most %zu characters)", k->name, size - 1);
        return;
    }
    memcpy(dst, k->value, k->vlen + 1);
}

void cm_cfg_set_mode(struct parse *p, const struct cm_ini_key *k, enum cm_mode *out)
{
    static const char *const modes[] = {"readwrite", "readonly", "writeonly", "off", "profile"};
    const char *best;

    if (cm_parse_mode(k->value, out) == 0)
        return;
    best = cm_did_you_mean(k->value, k->vlen, modes, 5);
    if (best != NULL)
        VERR(p, k, 0, "invalid mode '%.*s' (did you mean '%s'?)", quote_len(k), k->value, best);
    else
        VERR(p, k, 0,
             "invalid mode '%.*s' (expected readwrite, readonly, writeonly, off or "
             "profile)",
             quote_len(k), k->value);
}

void cm_cfg_set_bool(struct parse *p, const struct cm_ini_key *k, bool *out)
{
    if (cm_parse_bool(k->value, out) < 0)
        VERR(p, k, 0, "invalid boolean '%.*s' for '%s' (expected yes or no)", quote_len(k),
             k->value, k->name);
}

void cm_cfg_set_rate(struct parse *p, const struct cm_ini_key *k, double *out)
{
    if (cm_parse_rate(k->value, out) < 0)
        VERR(p, k, 0, "invalid %s '%.*s' (expected a fraction from 0 to 1, e.g. 0.01 or 1%%)",
             k->name, quote_len(k), k->value);
}

void cm_cfg_set_namespace(struct parse *p, const struct cm_ini_key *k)
{
    size_t i;

    for (i = 0; i < k->vlen; i++) {
        char c = k->value[i];

        if (!is_ident_char((unsigned char)c) && c != '.' && c != '-')
            break;
    }
    if (k->vlen == 0 || i < k->vlen || k->vlen > 64) {
        VERR(p, k,
             i < k->vlen    ? i
             : k->vlen > 64 ? 64
                            : 0,
             "invalid namespace '%.*s' (1 to 64 characters from A-Z a-z 0-9 . _ -)", quote_len(k),
             k->value);
        return;
    }
    memcpy(p->cfg->ns, k->value, k->vlen + 1);
}

/* A size or time key with a range: `parse` reads the value (cm_parse_size or cm_parse_time),
 * `what` names its kind in the message. Returns 0 and *out, or -1 after reporting. */
static int get_ranged(struct parse *p, const struct cm_ini_key *k,
                      int (*parse)(const char *, uint64_t *), const char *what, uint64_t lo,
                      uint64_t hi, const char *range, uint64_t *out)
{
    uint64_t v;

    if (parse(k->value, &v) < 0) {
        VERR(p, k, 0, "invalid %s '%.*s' for '%s' (expected a number with an optional %s suffix)",
             what, quote_len(k), k->value, k->name,
             parse == cm_parse_size ? "K, M, G or T" : "us, ms, s, m, h or d");
        return -1;
    }
    if (v < lo || v > hi) {
        VERR(p, k, 0, "%s '%.*s' out of range (%s)", k->name, quote_len(k), k->value, range);
        return -1;
    }
    *out = v;
    return 0;
}

int cm_cfg_get_size(struct parse *p, const struct cm_ini_key *k, uint64_t lo, uint64_t hi,
                    const char *range, uint64_t *out)
{
    return get_ranged(p, k, cm_parse_size, "size", lo, hi, range, out);
}

int cm_cfg_get_time(struct parse *p, const struct cm_ini_key *k, uint64_t lo, uint64_t hi,
                    const char *range, uint64_t *out)
{
    return get_ranged(p, k, cm_parse_time, "time", lo, hi, range, out);
}

void cm_cfg_set_shared_size(struct parse *p, const struct cm_ini_key *k)
{
    if (cm_cfg_get_size(p, k, SHARED_SIZE_MIN, SHARED_SIZE_MAX, "1M to 1T", &p->cfg->shared_size) <
        0)
        p->shared_size_bad = true;
}

void cm_cfg_set_shared_max_entry(struct parse *p, const struct cm_ini_key *k)
{
    if (cm_cfg_get_size(p, k, 1, SHARED_SIZE_MAX, "1 to 1T", &p->cfg->shared_max_entry) < 0)
        return;
    p->max_entry_map = *k->map;
    snprintf(p->max_entry_text, sizeof(p->max_entry_text), "%.*s", quote_len(k), k->value);
    p->max_entry_set = true;
}

void cm_cfg_set_shared_path(struct parse *p, const struct cm_ini_key *k)
{
    /* Relative paths would name a different file in every working directory. The `%u` stays
     * as written: whoever opens the segment expands it. */
    if (k->vlen == 0 || k->value[0] != '/') {
        VERR(p, k, 0, "invalid shared_path '%.*s' (expected an absolute path; %%u is the uid)",
             quote_len(k), k->value);
        return;
    }
    cm_cfg_copy_value(p, k, p->cfg->shared_path, sizeof(p->cfg->shared_path));
}

/* `memory shared`, `shared, memory`, `memory`: words separated by spaces and at most one comma,
 * each tier once. */
void cm_cfg_set_tiers(struct parse *p, const struct cm_ini_key *k)
{
    static const char *const names[] = {"memory", "shared", "remote"};
    static const unsigned bits[] = {CM_TIER_MEMORY, CM_TIER_SHARED, CM_TIER_REMOTE};
    const char *v = k->value, *best;
    unsigned tiers = 0;
    size_t i = 0, w, t, comma_at = 0;
    int commas = 0;

    for (;;) {
        for (; i < k->vlen && (is_space((unsigned char)v[i]) || v[i] == ','); i++) {
            if (v[i] != ',')
                continue;
            if (++commas > 1 || tiers == 0) {
                VERR(p, k, i, "empty entry in 'tiers' (expected memory, shared or remote)");
                return;
            }
            comma_at = i;
        }
        if (i == k->vlen)
            break;
        for (w = i; w < k->vlen && !is_space((unsigned char)v[w]) && v[w] != ','; w++)
            ;
        for (t = 0; t < 3 && !cm_word_eq(v + i, w - i, names[t]); t++)
            ;
        if (t == 3) {
            best = cm_did_you_mean(v + i, w - i, names, 3);
            if (best != NULL)
                VERR(p, k, i, "unknown tier '%.*s' (did you mean '%s'?)",
                     (int)(w - i > QUOTE_MAX ? QUOTE_MAX : w - i), v + i, best);
            else
                VERR(p, k, i, "unknown tier '%.*s' (expected memory, shared or remote)",
                     (int)(w - i > QUOTE_MAX ? QUOTE_MAX : w - i), v + i);
            return;
        }
        if (tiers & bits[t]) {
            VERR(p, k, i, "duplicate tier '%s' in 'tiers'", names[t]);
            return;
        }
        tiers |= bits[t];
        commas = 0;
        i = w;
    }
    if (tiers == 0) {
        VERR(p, k, 0, "empty 'tiers' (expected memory, shared or remote)");
        return;
    }
    if (commas > 0) {
        VERR(p, k, comma_at, "empty entry in 'tiers' (expected memory, shared or remote)");
        return;
    }
    p->cfg->tiers = tiers;
    p->tiers_map = *k->map;
    p->tiers_set = true;
}

/* remote = http://host[:port][/prefix], https://..., redis://[user:password@]host[:port][/db],
 * rediss://... or redis+cluster://host:port,host:port,...: a known scheme, then a non-empty
 * host, no spaces. The rest (reachability, the prefix, the database) is the remote tier's
 * business at run time. */
void cm_cfg_set_remote(struct parse *p, const struct cm_ini_key *k)
{
    static const char *const schemes[] = {"http://", "https://", "redis://", "rediss://",
                                          "redis+cluster://"};
    const size_t nschemes = sizeof(schemes) / sizeof(schemes[0]);
    size_t i, n = 0, h;

    for (i = 0; i < nschemes; i++) {
        n = strlen(schemes[i]);
        if (k->vlen > n && strncasecmp(k->value, schemes[i], n) == 0)
            break;
    }
    if (i == nschemes) {
        VERR(p, k, 0,
             "invalid remote '%.*s' (expected http://HOST[:PORT][/PREFIX], https://..., "
             "redis://HOST[:PORT][/DB], rediss://... or redis+cluster://HOST:PORT,...)",
             quote_len(k), k->value);
        return;
    }
    bool http = i < 2;
    /* Redis URLs may carry user:password@ before the host. */
    size_t at = n;
    if (!http)
        for (size_t j = n; j < k->vlen && k->value[j] != '/'; j++)
            if (k->value[j] == '@')
                at = j + 1;
    for (h = at; h < k->vlen && k->value[h] != '/' && k->value[h] != ':'; h++) {
        if (is_space((unsigned char)k->value[h]) || k->value[h] == '?' || k->value[h] == '#' ||
            k->value[h] == '@') {
            VERR(p, k, h, "invalid character in the host of remote '%.*s'", quote_len(k), k->value);
            return;
        }
    }
    if (h == at) {
        VERR(p, k, at, "remote '%.*s' has no host", quote_len(k), k->value);
        return;
    }
    for (size_t j = h; j < k->vlen; j++)
        if (is_space((unsigned char)k->value[j]) || k->value[j] == '?' || k->value[j] == '#') {
            VERR(p, k, j, "invalid character in remote '%.*s' (no spaces, query or fragment)",
                 quote_len(k), k->value);
            return;
        }
    cm_cfg_copy_value(p, k, p->cfg->remote, sizeof(p->cfg->remote));
}

/* token_file and secret_file: a path, relative ones taken from the config file's directory. */
void cm_cfg_set_file(struct parse *p, const struct cm_ini_key *k, char *dst, size_t size)
{
    const char *slash = strrchr(p->cfg->path, '/');
    size_t dir = k->vlen && k->value[0] != '/' && slash ? (size_t)(slash - p->cfg->path) + 1 : 0;

    if (k->vlen == 0) {
        VERR(p, k, 0, "empty '%s' (expected a file path)", k->name);
        return;
    }
    if (dir + k->vlen >= size) {
        VERR(p, k, 0, "value of '%s' too long (at most %zu characters)", k->name, size - 1 - dir);
        return;
    }
    memcpy(dst, p->cfg->path, dir);
    memcpy(dst + dir, k->value, k->vlen + 1);
}

void cm_cfg_set_remote_mode(struct parse *p, const struct cm_ini_key *k)
{
    static const char *const words[] = {"readwrite", "readonly", "writeonly"};
    const char *best;

    for (int i = 0; i < 3; i++)
        if (cm_word_eq(k->value, k->vlen, words[i])) {
            p->cfg->remote_mode = (enum cm_remote_mode)i;
            return;
        }
    best = cm_did_you_mean(k->value, k->vlen, words, 3);
    if (best != NULL)
        VERR(p, k, 0, "invalid remote_mode '%.*s' (did you mean '%s'?)", quote_len(k), k->value,
             best);
    else
        VERR(p, k, 0, "invalid remote_mode '%.*s' (expected readwrite, readonly or writeonly)",
             quote_len(k), k->value);
}

void cm_cfg_set_singleflight(struct parse *p, const struct cm_ini_key *k)
{
    static const char *const words[] = {"yes", "no", "auto"};
    const char *best;
    bool b;

    if (cm_word_eq(k->value, k->vlen, "auto")) {
        p->fn.singleflight = CM_SF_AUTO;
        return;
    }
    if (cm_parse_bool(k->value, &b) == 0) {
        p->fn.singleflight = b ? CM_SF_YES : CM_SF_NO;
        return;
    }
    best = cm_did_you_mean(k->value, k->vlen, words, 3);
    if (best != NULL)
        VERR(p, k, 0, "invalid singleflight '%.*s' (did you mean '%s'?)", quote_len(k), k->value,
             best);
    else
        VERR(p, k, 0, "invalid singleflight '%.*s' (expected yes, no or auto)", quote_len(k),
             k->value);
}

/* One of `words` (nwords of them) -> its index in *out; else an error with a suggestion. */
void cm_cfg_set_word(struct parse *p, const struct cm_ini_key *k, const char *const *words,
                     int nwords, uint8_t *out)
{
    for (int i = 0; i < nwords; i++)
        if (cm_word_eq(k->value, k->vlen, words[i])) {
            *out = (uint8_t)i;
            return;
        }
    const char *best = cm_did_you_mean(k->value, k->vlen, words, (size_t)nwords);
    if (best != NULL)
        VERR(p, k, 0, "invalid %s '%.*s' (did you mean '%s'?)", k->name, quote_len(k), k->value,
             best);
    else
        VERR(p, k, 0, "invalid %s '%.*s' (expected %s, %s or %s)", k->name, quote_len(k), k->value,
             words[0], words[1], words[2]);
}

/* `NAME:SIZE, NAME:SIZE` for reads and writes. */
void cm_cfg_set_globals(struct parse *p, const struct cm_ini_key *k, struct cm_global *g,
                        uint8_t *ng)
{
    const char *v = k->value;
    size_t a = 0, b, c, e, ns, ne, ss, se;
    char num[32];
    uint64_t size;
    int i;

    *ng = 0;
    if (k->vlen == 0)
        return;
    while (a <= k->vlen) {
        for (b = a; b < k->vlen && v[b] != ','; b++)
            ;
        for (ns = a; ns < b && is_space((unsigned char)v[ns]); ns++)
            ;
        for (e = b; e > ns && is_space((unsigned char)v[e - 1]); e--)
            ;
        if (ns == e) {
            VERR(p, k, ns, "empty entry in '%s' (expected NAME:SIZE, ...)", k->name);
            return;
        }
        for (c = ns; c < e && v[c] != ':'; c++)
            ;
        if (c == e) {
            VERR(p, k, ns, "expected NAME:SIZE in '%s', found '%.*s'", k->name,
                 (int)(e - ns > QUOTE_MAX ? QUOTE_MAX : e - ns), v + ns);
            return;
        }
        for (ne = c; ne > ns && is_space((unsigned char)v[ne - 1]); ne--)
            ;
        for (ss = c + 1; ss < e && is_space((unsigned char)v[ss]); ss++)
            ;
        se = e;
        for (i = (int)ns; i < (int)ne && is_ident_char((unsigned char)v[i]); i++)
            ;
        if (ne == ns || i < (int)ne || !is_ident_start((unsigned char)v[ns]) ||
            ne - ns >= CM_NAME_MAX) {
            VERR(p, k, ns, "invalid variable name '%.*s' in '%s' (expected a C identifier)",
                 (int)(ne - ns > QUOTE_MAX ? QUOTE_MAX : ne - ns), v + ns, k->name);
            return;
        }
        size = 0;
        if (se - ss < sizeof(num)) {
            memcpy(num, v + ss, se - ss);
            num[se - ss] = '\0';
            if (cm_parse_size(num, &size) < 0)
                size = 0;
        }
        if (size < 1 || size > GLOBAL_SIZE_MAX) {
            VERR(p, k, ss, "invalid size '%.*s' for '%.*s' in '%s' (1 to %u bytes)",
                 (int)(se - ss > QUOTE_MAX ? QUOTE_MAX : se - ss), v + ss, (int)(ne - ns), v + ns,
                 k->name, GLOBAL_SIZE_MAX);
            return;
        }
        for (i = 0; i < *ng; i++) {
            if (strlen(g[i].name) == ne - ns && memcmp(g[i].name, v + ns, ne - ns) == 0) {
                VERR(p, k, ns, "duplicate variable '%s' in '%s'", g[i].name, k->name);
                return;
            }
        }
        if (*ng == CM_MAX_GLOBALS) {
            VERR(p, k, ns, "too many variables in '%s' (at most %d)", k->name, CM_MAX_GLOBALS);
            return;
        }
        memcpy(g[*ng].name, v + ns, ne - ns);
        g[*ng].name[ne - ns] = '\0';
        g[*ng].size = (uint32_t)size;
        (*ng)++;
        a = b + 1;
    }
}

void cm_cfg_set_signature(struct parse *p, const struct cm_ini_key *k)
{
    char lbl[CM_NAME_MAX + 16];

    if (k->vlen == 0) {
        VERR(p, k, 0, "empty signature (expected RET NAME(PARAM, ...))");
        p->sig_rc = -1;
        return;
    }
    p->sig_rc = cm_signature_parse_map(k->value, k->vlen, &p->fn.sig, k->map, &p->d);
    if (p->sig_rc >= 0 && strcmp(p->fn.sig.name, p->fn.name) != 0) {
        VERR(p, k, p->fn.sig.name_col - 1u, "signature names function '%s' but the section is %s",
             p->fn.sig.name, sec_label(p, lbl, sizeof(lbl)));
        p->sig_rc = -1;
    }
}
