/*
 * config.c - the config file's meaning: [cache] and [function NAME] sections to struct cm_config.
 *
 * What it does: receives sections and complete keys from ini.c, checks section kinds, key names
 * (with did-you-mean), duplicates and every value, parses signatures (signature.c), and builds
 * the cm_config model; loads a file into memory for that; finds which file to use
 * (cm_config_find).
 *
 * What it does not do: split lines (ini.c), format messages (diag.c), parse signatures or value
 * grammars itself (signature.c, values.c), or print anything. Memory: one working struct per
 * parse and the functions array (at most CM_MAX_FUNCTIONS entries), released by
 * cm_config_free(); a file is read whole, at most CM_CONFIG_MAX_BYTES.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cloudm_env.h"
#include "cm_config_int.h"

enum sect { SEC_NONE, SEC_CACHE, SEC_FUNCTION, SEC_BAD };

enum key_id {
    K_MODE,
    K_NAMESPACE,
    K_MEMORY_SIZE,
    K_REPORT,
    K_STRICT,
    K_TIERS,
    K_SHARED_PATH,
    K_SHARED_SIZE,
    K_SHARED_MAX_ENTRY,
    K_REMOTE,
    K_TOKEN_FILE,
    K_SECRET_FILE,
    K_REMOTE_TIMEOUT,
    K_FLUSH_TIMEOUT,
    K_REMOTE_MODE,
    K_REMOTE_QUEUE,
    K_REMOTE_QUEUE_BYTES,
    K_REMOTE_MAX_VALUE,
    K_REMOTE_EXPIRE, /* [cache] */
    K_SIGNATURE,
    K_OBJECT,
    K_FMODE,
    K_SALT,
    K_READS,
    K_WRITES,
    K_ERRNO,
    K_MIN_TIME,
    K_SINGLEFLIGHT,
    K_HOOK,
    K_IDENTITY, /* [function] */
    K_COUNT,
};

/* In enum key_id order: the id of a key is K_MODE or K_SIGNATURE plus its index here. */
static const char *const cache_keys[] = {
    "mode",         "namespace",          "memory_size",      "report",           "strict",
    "tiers",        "shared_path",        "shared_size",      "shared_max_entry", "remote",
    "token_file",   "secret_file",        "remote_timeout",   "flush_timeout",    "remote_mode",
    "remote_queue", "remote_queue_bytes", "remote_max_value", "remote_expire"};
static const char *const function_keys[] = {"signature",    "object", "mode",    "salt",
                                            "reads",        "writes", "errno",   "min_time",
                                            "singleflight", "hook",   "identity"};
#define NCACHE_KEYS (sizeof(cache_keys) / sizeof(cache_keys[0]))
#define NFUNCTION_KEYS (sizeof(function_keys) / sizeof(function_keys[0]))

#define MEMORY_SIZE_MIN (4ULL << 10)
#define MEMORY_SIZE_MAX (1ULL << 40)
#define SHARED_SIZE_MIN (1ULL << 20)
#define SHARED_SIZE_MAX (1ULL << 40)
#define SHARED_SIZE_DEFAULT (256ULL << 20)
#define SHARED_PATH_DEFAULT "/dev/shm/cloudm-%u"
#define SHARED_MAX_ENTRY_DIV 16 /* default shared_max_entry = shared_size / 16 */
#define GLOBAL_SIZE_MAX (1U << 20)
#define REMOTE_TIMEOUT_DEFAULT (250ULL * 1000000)  /* 250 ms */
#define FLUSH_TIMEOUT_DEFAULT (10ULL * 1000000000) /* 10 s */
#define REMOTE_QUEUE_DEFAULT 4096
#define REMOTE_QUEUE_BYTES_DEFAULT (64ULL << 20)
#define REMOTE_MAX_VALUE_DEFAULT (64ULL << 20)
#define REMOTE_EXPIRE_DEFAULT (30ULL * 86400 * 1000000000) /* 30 days */
#define QUOTE_MAX 60 /* characters of a bad value quoted in a message */

struct seen_fn {
    char name[CM_NAME_MAX];
    int line;
};

struct parse {
    struct cm_config *cfg;
    struct cm_diag_sink d;
    const char *file;
    enum sect sec;
    int sec_line, sec_col; /* header position (col of '[') */
    int sec_nerrors;       /* d.nerrors when the section began */
    int key_line[K_COUNT]; /* line of each key in the current section, 0 = not seen */
    int cache_line;        /* line of [cache], 0 = none yet */
    int sig_rc;            /* cm_signature_parse result, or -2 when no signature was parsed */
    bool sig_typo;         /* an unknown key was reported as a misspelt `signature` */
    struct cm_function fn; /* the [function] section being read */
    struct seen_fn *seen;  /* every [function] section so far, for duplicates */
    int nseen, capfn;
    bool oom;
    /* shared_max_entry is checked against shared_size once the whole file is read (the keys
     * may come in either order): where its value was, and whether both values were valid. */
    struct cm_srcmap max_entry_map;
    char max_entry_text[QUOTE_MAX + 1];
    bool max_entry_set;   /* shared_max_entry parsed cleanly */
    bool shared_size_bad; /* shared_size was given but invalid: no comparison */
    /* `tiers` naming remote needs `remote`: checked at the end, where `tiers` was. */
    struct cm_srcmap tiers_map;
    bool tiers_set; /* tiers parsed cleanly */
};

static const char *sec_label(const struct parse *p, char *buf, size_t size)
{
    if (p->sec == SEC_CACHE)
        snprintf(buf, size, "[cache]");
    else
        snprintf(buf, size, "[function %s]", p->fn.name);
    return buf;
}

static int is_ident_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident_char(int c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static int is_space(int c)
{
    return c == ' ' || c == '\t';
}

/* ---- sections ----------------------------------------------------------------------------- */

static void add_function(struct parse *p)
{
    struct cm_config *cfg = p->cfg;
    struct cm_function *nf;
    int cap;

    if (cfg->nfunctions == p->capfn) {
        cap = p->capfn == 0 ? 8 : p->capfn * 2;
        if (cap > CM_MAX_FUNCTIONS)
            cap = CM_MAX_FUNCTIONS;
        nf = realloc(cfg->functions, (size_t)cap * sizeof(*nf));
        if (nf == NULL) {
            p->oom = true;
            return;
        }
        cfg->functions = nf;
        p->capfn = cap;
    }
    cfg->functions[cfg->nfunctions++] = p->fn;
}

static void finish_section(struct parse *p)
{
    char lbl[CM_NAME_MAX + 16];

    if (p->sec == SEC_FUNCTION) {
        /* A misspelt `signature` was reported already: one mistake, one message. */
        if (p->key_line[K_SIGNATURE] == 0 && !p->sig_typo)
            cm_diag_at(&p->d, CM_DIAG_ERROR, p->file, p->sec_line, p->sec_col,
                       "missing 'signature' in %s", sec_label(p, lbl, sizeof(lbl)));
        else if (p->sig_rc == 0 && p->d.nerrors == p->sec_nerrors)
            add_function(p);
    }
    p->sec = SEC_NONE;
}

static void start_function(struct parse *p, const char *name, size_t len, int line)
{
    struct seen_fn *ns;
    int i, cap;

    for (i = 0; i < p->nseen; i++) {
        if (strlen(p->seen[i].name) == len && memcmp(p->seen[i].name, name, len) == 0) {
            cm_diag_at(&p->d, CM_DIAG_ERROR, p->file, line, p->sec_col,
                       "duplicate section [function %.*s] (first at line %d)", (int)len, name,
                       p->seen[i].line);
            p->sec = SEC_BAD;
            return;
        }
    }
    if (p->nseen == CM_MAX_FUNCTIONS) {
        cm_diag_at(&p->d, CM_DIAG_ERROR, p->file, line, p->sec_col,
                   "too many [function] sections (at most %d)", CM_MAX_FUNCTIONS);
        p->sec = SEC_BAD;
        return;
    }
    if (p->nseen % 64 == 0) {
        cap = p->nseen + 64;
        ns = realloc(p->seen, (size_t)cap * sizeof(*ns));
        if (ns == NULL) {
            p->oom = true;
            p->sec = SEC_BAD;
            return;
        }
        p->seen = ns;
    }
    memcpy(p->seen[p->nseen].name, name, len);
    p->seen[p->nseen].name[len] = '\0';
    p->seen[p->nseen].line = line;
    p->nseen++;
    memset(&p->fn, 0, sizeof(p->fn));
    memcpy(p->fn.name, name, len);
    p->fn.name[len] = '\0';
    p->fn.line = line;
    p->fn.mode = CM_MODE_UNSET;
    p->sig_rc = -2;
    p->sig_typo = false;
    p->sec = SEC_FUNCTION;
}

static void on_section(void *u, const struct cm_ini_section *s)
{
    static const char *const kinds[] = {"cache", "function"};
    struct parse *p = u;
    const char *t = s->inner, *best;
    size_t n = s->len, i = 0, w, r, e;

    finish_section(p);
    p->sec = SEC_BAD;
    p->sec_line = s->line;
    p->sec_col = s->col - 1;
    p->sec_nerrors = p->d.nerrors;
    memset(p->key_line, 0, sizeof(p->key_line));
    while (i < n && is_space((unsigned char)t[i]))
        i++;
    for (w = i; w < n && !is_space((unsigned char)t[w]); w++)
        ;
    for (r = w; r < n && is_space((unsigned char)t[r]); r++)
        ;
    for (e = n; e > r && is_space((unsigned char)t[e - 1]); e--)
        ;
    if (w == i) {
        cm_diag_at(&p->d, CM_DIAG_ERROR, p->file, s->line, p->sec_col,
                   "empty section name (expected [cache] or [function NAME])");
        return;
    }
    if (cm_word_eq(t + i, w - i, "cache")) {
        if (r < e) {
            cm_diag_at(&p->d, CM_DIAG_ERROR, p->file, s->line, s->col + (int)r,
                       "[cache] takes no name, found '%.*s'", (int)(e - r), t + r);
        } else if (p->cache_line != 0) {
            cm_diag_at(&p->d, CM_DIAG_ERROR, p->file, s->line, p->sec_col,
                       "duplicate section [cache] (first at line %d)", p->cache_line);
        } else {
            p->cache_line = s->line;
            p->sec = SEC_CACHE;
        }
        return;
    }
    if (cm_word_eq(t + i, w - i, "function")) {
        size_t k;

        if (r == e) {
            cm_diag_at(&p->d, CM_DIAG_ERROR, p->file, s->line, p->sec_col,
                       "missing function name in section header (expected [function NAME])");
            return;
        }
        for (k = r; k < e && is_ident_char((unsigned char)t[k]); k++)
            ;
        if (k < e || !is_ident_start((unsigned char)t[r])) {
            cm_diag_at(&p->d, CM_DIAG_ERROR, p->file, s->line, s->col + (int)r,
                       "invalid function name '%.*s' (expected a C identifier)",
                       (int)(e - r > QUOTE_MAX ? QUOTE_MAX : e - r), t + r);
            return;
        }
        if (e - r >= CM_NAME_MAX) {
            cm_diag_at(&p->d, CM_DIAG_ERROR, p->file, s->line, s->col + (int)r,
                       "function name too long (at most %d characters)", CM_NAME_MAX - 1);
            return;
        }
        start_function(p, t + r, e - r, s->line);
        return;
    }
    best = cm_did_you_mean(t + i, w - i, kinds, 2);
    if (best != NULL)
        cm_diag_at(&p->d, CM_DIAG_ERROR, p->file, s->line, s->col + (int)i,
                   "unknown section '%.*s' (did you mean '%s'?)",
                   (int)(w - i > QUOTE_MAX ? QUOTE_MAX : w - i), t + i, best);
    else
        cm_diag_at(&p->d, CM_DIAG_ERROR, p->file, s->line, s->col + (int)i,
                   "unknown section '%.*s' (expected [cache] or [function NAME])",
                   (int)(w - i > QUOTE_MAX ? QUOTE_MAX : w - i), t + i);
}

/* ---- values ------------------------------------------------------------------------------- */

/* Error at byte `off` of the key's value. */
#define VERR(p, k, off, ...) cm_diag_map(&(p)->d, CM_DIAG_ERROR, (k)->map, (off), __VA_ARGS__)

static int quote_len(const struct cm_ini_key *k)
{
    return k->vlen > QUOTE_MAX ? QUOTE_MAX : (int)k->vlen;
}

static void copy_value(struct parse *p, const struct cm_ini_key *k, char *dst, size_t size)
{
    if (k->vlen >= size) {
        VERR(p, k, 0, "value of '%s' too long (at most %zu characters)", k->name, size - 1);
        return;
    }
    memcpy(dst, k->value, k->vlen + 1);
}

static void set_mode(struct parse *p, const struct cm_ini_key *k, enum cm_mode *out)
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

static void set_bool(struct parse *p, const struct cm_ini_key *k, bool *out)
{
    if (cm_parse_bool(k->value, out) < 0)
        VERR(p, k, 0, "invalid boolean '%.*s' for '%s' (expected yes or no)", quote_len(k),
             k->value, k->name);
}

static void set_namespace(struct parse *p, const struct cm_ini_key *k)
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

static int get_size(struct parse *p, const struct cm_ini_key *k, uint64_t lo, uint64_t hi,
                    const char *range, uint64_t *out)
{
    return get_ranged(p, k, cm_parse_size, "size", lo, hi, range, out);
}

static int get_time(struct parse *p, const struct cm_ini_key *k, uint64_t lo, uint64_t hi,
                    const char *range, uint64_t *out)
{
    return get_ranged(p, k, cm_parse_time, "time", lo, hi, range, out);
}

static void set_shared_size(struct parse *p, const struct cm_ini_key *k)
{
    if (get_size(p, k, SHARED_SIZE_MIN, SHARED_SIZE_MAX, "1M to 1T", &p->cfg->shared_size) < 0)
        p->shared_size_bad = true;
}

static void set_shared_max_entry(struct parse *p, const struct cm_ini_key *k)
{
    if (get_size(p, k, 1, SHARED_SIZE_MAX, "1 to 1T", &p->cfg->shared_max_entry) < 0)
        return;
    p->max_entry_map = *k->map;
    snprintf(p->max_entry_text, sizeof(p->max_entry_text), "%.*s", quote_len(k), k->value);
    p->max_entry_set = true;
}

static void set_shared_path(struct parse *p, const struct cm_ini_key *k)
{
    /* Relative paths would name a different file in every working directory. The `%u` stays
     * as written: whoever opens the segment expands it. */
    if (k->vlen == 0 || k->value[0] != '/') {
        VERR(p, k, 0, "invalid shared_path '%.*s' (expected an absolute path; %%u is the uid)",
             quote_len(k), k->value);
        return;
    }
    copy_value(p, k, p->cfg->shared_path, sizeof(p->cfg->shared_path));
}

/* `memory shared`, `shared, memory`, `memory`: words separated by spaces and at most one comma,
 * each tier once. */
static void set_tiers(struct parse *p, const struct cm_ini_key *k)
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
static void set_remote(struct parse *p, const struct cm_ini_key *k)
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
    copy_value(p, k, p->cfg->remote, sizeof(p->cfg->remote));
}

/* token_file and secret_file: a path, relative ones taken from the config file's directory. */
static void set_file(struct parse *p, const struct cm_ini_key *k, char *dst, size_t size)
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

static void set_remote_mode(struct parse *p, const struct cm_ini_key *k)
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

static void set_singleflight(struct parse *p, const struct cm_ini_key *k)
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
static void set_word(struct parse *p, const struct cm_ini_key *k, const char *const *words,
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
static void set_globals(struct parse *p, const struct cm_ini_key *k, struct cm_global *g,
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

static void set_signature(struct parse *p, const struct cm_ini_key *k)
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

/* ---- keys --------------------------------------------------------------------------------- */

static int key_index(const struct cm_ini_key *k, const char *const *names, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (cm_word_eq(k->name, strlen(k->name), names[i]))
            return (int)i;
    }
    return -1;
}

static void unknown_key(struct parse *p, const struct cm_ini_key *k)
{
    const bool cache = p->sec == SEC_CACHE;
    const char *const *own = cache ? cache_keys : function_keys;
    const char *const *other = cache ? function_keys : cache_keys;
    size_t nown = cache ? NCACHE_KEYS : NFUNCTION_KEYS;
    size_t nother = cache ? NFUNCTION_KEYS : NCACHE_KEYS;
    const char *best = cm_did_you_mean(k->name, strlen(k->name), own, nown);
    char lbl[CM_NAME_MAX + 16];

    sec_label(p, lbl, sizeof(lbl));
    if (best != NULL && strcmp(best, "signature") == 0)
        p->sig_typo = true;
    if (best != NULL)
        cm_diag_at(&p->d, CM_DIAG_ERROR, p->file, k->line, k->col,
                   "unknown key '%s' in %s (did you mean '%s'?)", k->name, lbl, best);
    else if (key_index(k, other, nother) >= 0)
        cm_diag_at(&p->d, CM_DIAG_ERROR, p->file, k->line, k->col,
                   "unknown key '%s' in %s (it belongs in %s)", k->name, lbl,
                   cache ? "a [function NAME] section" : "[cache]");
    else
        cm_diag_at(&p->d, CM_DIAG_ERROR, p->file, k->line, k->col, "unknown key '%s' in %s",
                   k->name, lbl);
}

static void on_key(void *u, const struct cm_ini_key *k)
{
    struct parse *p = u;
    char lbl[CM_NAME_MAX + 16];
    int idx, id;

    if (p->sec == SEC_BAD)
        return;
    if (p->sec == SEC_NONE) {
        cm_diag_at(&p->d, CM_DIAG_ERROR, p->file, k->line, k->col,
                   "key '%s' outside of a section (put it under [cache] or [function NAME])",
                   k->name);
        return;
    }
    if (p->sec == SEC_CACHE) {
        idx = key_index(k, cache_keys, NCACHE_KEYS);
        id = idx < 0 ? -1 : K_MODE + idx;
    } else {
        idx = key_index(k, function_keys, NFUNCTION_KEYS);
        id = idx < 0 ? -1 : K_SIGNATURE + idx;
    }
    if (id < 0) {
        unknown_key(p, k);
        return;
    }
    if (p->key_line[id] != 0) {
        cm_diag_at(&p->d, CM_DIAG_ERROR, p->file, k->line, k->col,
                   "duplicate key '%s' in %s (first at line %d)", k->name,
                   sec_label(p, lbl, sizeof(lbl)), p->key_line[id]);
        return;
    }
    p->key_line[id] = k->line;
    if (k->broken) {
        if (id == K_SIGNATURE)
            p->sig_rc = -1;
        return;
    }
    switch ((enum key_id)id) {
    case K_MODE:
        set_mode(p, k, &p->cfg->mode);
        break;
    case K_NAMESPACE:
        set_namespace(p, k);
        break;
    case K_MEMORY_SIZE:
        get_size(p, k, MEMORY_SIZE_MIN, MEMORY_SIZE_MAX, "4K to 1T", &p->cfg->memory_size);
        break;
    case K_REPORT:
        copy_value(p, k, p->cfg->report, sizeof(p->cfg->report));
        break;
    case K_STRICT:
        set_bool(p, k, &p->cfg->strict);
        break;
    case K_TIERS:
        set_tiers(p, k);
        break;
    case K_SHARED_PATH:
        set_shared_path(p, k);
        break;
    case K_SHARED_SIZE:
        set_shared_size(p, k);
        break;
    case K_SHARED_MAX_ENTRY:
        set_shared_max_entry(p, k);
        break;
    case K_REMOTE:
        set_remote(p, k);
        break;
    case K_TOKEN_FILE:
        set_file(p, k, p->cfg->token_file, sizeof(p->cfg->token_file));
        break;
    case K_SECRET_FILE:
        set_file(p, k, p->cfg->secret_file, sizeof(p->cfg->secret_file));
        break;
    case K_REMOTE_TIMEOUT:
        get_time(p, k, 1000000ULL, 60000000000ULL, "1ms to 60s", &p->cfg->remote_timeout_ns);
        break;
    case K_FLUSH_TIMEOUT:
        get_time(p, k, 0, 3600000000000ULL, "0 to 1h", &p->cfg->flush_timeout_ns);
        break;
    case K_REMOTE_MODE:
        set_remote_mode(p, k);
        break;
    case K_REMOTE_QUEUE: {
        uint64_t n;
        if (get_size(p, k, 1, 1ULL << 20, "1 to 1M", &n) == 0)
            p->cfg->remote_queue = n;
        break;
    }
    case K_REMOTE_QUEUE_BYTES:
        get_size(p, k, 1ULL << 16, 1ULL << 40, "64K to 1T", &p->cfg->remote_queue_bytes);
        break;
    case K_REMOTE_MAX_VALUE:
        get_size(p, k, 1, 1ULL << 32, "1 to 4G", &p->cfg->remote_max_value);
        break;
    case K_REMOTE_EXPIRE:
        get_time(p, k, 1000000000ULL, 3650ULL * 86400 * 1000000000ULL, "1s to 3650d",
                 &p->cfg->remote_expire_ns);
        break;
    case K_SIGNATURE:
        set_signature(p, k);
        break;
    case K_OBJECT:
        copy_value(p, k, p->fn.object, sizeof(p->fn.object));
        break;
    case K_FMODE:
        set_mode(p, k, &p->fn.mode);
        break;
    case K_SALT:
        copy_value(p, k, p->fn.salt, sizeof(p->fn.salt));
        break;
    case K_READS:
        set_globals(p, k, p->fn.reads, &p->fn.nreads);
        break;
    case K_WRITES:
        set_globals(p, k, p->fn.writes, &p->fn.nwrites);
        break;
    case K_ERRNO:
        set_bool(p, k, &p->fn.save_errno);
        break;
    case K_MIN_TIME:
        get_time(p, k, 0, UINT64_MAX, "", &p->fn.min_time_ns);
        break;
    case K_SINGLEFLIGHT:
        set_singleflight(p, k);
        break;
    case K_HOOK: {
        static const char *const w[] = {"auto", "got", "inline"}; /* enum cm_hook_kind */
        set_word(p, k, w, 3, &p->fn.hook);
        break;
    }
    case K_IDENTITY: {
        static const char *const w[] = {"code", "object", "name"}; /* enum cm_identity */
        set_word(p, k, w, 3, &p->fn.identity);
        break;
    }
    default:
        break;
    }
}

/* ---- entry points ------------------------------------------------------------------------- */

static void set_defaults(struct cm_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->mode = CM_MODE_READWRITE;
    memcpy(cfg->ns, "default", sizeof("default"));
    cfg->memory_size = 64ULL << 20;
    cfg->tiers = CM_TIER_MEMORY | CM_TIER_SHARED;
    memcpy(cfg->shared_path, SHARED_PATH_DEFAULT, sizeof(SHARED_PATH_DEFAULT));
    cfg->shared_size = SHARED_SIZE_DEFAULT;
    cfg->remote_timeout_ns = REMOTE_TIMEOUT_DEFAULT;
    cfg->flush_timeout_ns = FLUSH_TIMEOUT_DEFAULT;
    cfg->remote_queue = REMOTE_QUEUE_DEFAULT;
    cfg->remote_queue_bytes = REMOTE_QUEUE_BYTES_DEFAULT;
    cfg->remote_max_value = REMOTE_MAX_VALUE_DEFAULT;
    cfg->remote_expire_ns = REMOTE_EXPIRE_DEFAULT;
}

/* "256M", "1T", "1536K" or a byte count: the largest unit that divides exactly. */
static void size_text(uint64_t v, char *buf, size_t size)
{
    static const char units[] = "KMGT";
    int u = -1;

    while (u < 3 && v != 0 && v % 1024 == 0) {
        v /= 1024;
        u++;
    }
    if (u < 0)
        snprintf(buf, size, "%llu", (unsigned long long)v);
    else
        snprintf(buf, size, "%llu%c", (unsigned long long)v, units[u]);
}

/* Values that depend on several keys, once every key has been read. */
static void finish_cache(struct parse *p)
{
    struct cm_config *cfg = p->cfg;
    char sz[32];

    /* A remote is a tier of its own unless `tiers` says otherwise; `tiers = ... remote` needs
     * one. */
    if (!p->tiers_set && cfg->remote[0])
        cfg->tiers |= CM_TIER_REMOTE;
    if (p->tiers_set && (cfg->tiers & CM_TIER_REMOTE) && !cfg->remote[0])
        cm_diag_map(&p->d, CM_DIAG_ERROR, &p->tiers_map, 0,
                    "'tiers' names remote, but [cache] has no 'remote = URL'");
    if (!p->max_entry_set) {
        cfg->shared_max_entry = cfg->shared_size / SHARED_MAX_ENTRY_DIV;
        return;
    }
    if (!p->shared_size_bad && cfg->shared_max_entry > cfg->shared_size) {
        size_text(cfg->shared_size, sz, sizeof(sz));
        cm_diag_map(&p->d, CM_DIAG_ERROR, &p->max_entry_map, 0,
                    "shared_max_entry '%s' is larger than shared_size (%s)", p->max_entry_text, sz);
    }
}

int cm_config_parse(const char *name, const char *text, size_t len, struct cm_config *cfg,
                    cm_diag_fn diag, void *ctx)
{
    static const struct cm_ini_ops ops = {on_section, on_key};
    struct parse *p;
    int rc = 0;

    set_defaults(cfg);
    if (name != NULL)
        snprintf(cfg->path, sizeof(cfg->path), "%s", name);
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    p->cfg = cfg;
    p->d.fn = diag;
    p->d.ctx = ctx;
    p->file = cfg->path[0] != '\0' ? cfg->path : "<config>";
    if (text == NULL)
        len = 0;
    if (len > CM_CONFIG_MAX_BYTES) {
        cm_diag_at(&p->d, CM_DIAG_ERROR, p->file, 1, 1, "config too large (more than %d bytes)",
                   CM_CONFIG_MAX_BYTES);
    } else {
        rc = cm_ini_run(p->file, text, len, &ops, p, &p->d);
        finish_section(p);
    }
    finish_cache(p);
    if (p->oom)
        rc = -ENOMEM;
    cfg->nerrors = p->d.nerrors;
    cfg->nwarnings = p->d.nwarnings;
    free(p->seen);
    free(p);
    return rc;
}

int cm_config_load(const char *path, struct cm_config *cfg, cm_diag_fn diag, void *ctx)
{
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    ssize_t n;
    int fd, rc;

    set_defaults(cfg);
    if (path == NULL)
        return -EINVAL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = -EISDIR;
        goto out;
    }
    /* One byte more than the limit, so that an over-long file is seen as such. */
    buf = malloc(CM_CONFIG_MAX_BYTES + 1);
    if (buf == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    while (len < CM_CONFIG_MAX_BYTES + 1) {
        n = read(fd, buf + len, CM_CONFIG_MAX_BYTES + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    rc = cm_config_parse(path, buf, len, cfg, diag, ctx);
out:
    free(buf);
    close(fd);
    return rc;
}

void cm_config_free(struct cm_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->functions);
    cfg->functions = NULL;
    cfg->nfunctions = 0;
}

static int is_file(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

static int put_path(char *buf, size_t bufsz, const char *a, const char *b)
{
    int n = snprintf(buf, bufsz, "%s%s", a, b);

    if (n < 0 || (size_t)n >= bufsz)
        return -ENAMETOOLONG;
    return 0;
}

/* $XDG_CONFIG_HOME/cloudm/cloudm.conf (~/.config when unset or not absolute) into buf.
 * Returns 0 when it is a file, -ENOENT otherwise (buf then empty). */
#ifndef CM_SYSCONFDIR
#define CM_SYSCONFDIR "/etc" /* set by config/CMakeLists.txt from the install's sysconfdir */
#endif

static int find_user(char *buf, size_t bufsz)
{
    char dir[CM_PATH_MAX];
    const char *env, *home;
    int n;

    env = getenv("XDG_CONFIG_HOME");
    if (env != NULL && env[0] == '/') {
        n = snprintf(dir, sizeof(dir), "%s", env);
    } else {
        home = getenv("HOME");
        if (home == NULL || home[0] == '\0')
            return -ENOENT;
        n = snprintf(dir, sizeof(dir), "%s/.config", home);
    }
    if (n < 0 || (size_t)n >= sizeof(dir))
        return -ENOENT;
    if (put_path(buf, bufsz, dir, "/cloudm/cloudm.conf") < 0 || !is_file(buf)) {
        buf[0] = '\0';
        return -ENOENT;
    }
    return 0;
}

int cm_config_find_in(char *buf, size_t bufsz, const char *sysconfdir)
{
    char cwd[CM_PATH_MAX];
    const char *env;

    if (buf == NULL || bufsz == 0)
        return -EINVAL;
    env = getenv(CLOUDM_ENV_CONFIG);
    if (env != NULL && env[0] != '\0')
        return put_path(buf, bufsz, env, "");
    if (is_file("cloudm.conf")) {
        /* Absolute, so that it still names the same file after the program changes directory
         * (and in the children that inherit CLOUDM_CONFIG). */
        if (getcwd(cwd, sizeof(cwd)) != NULL)
            return put_path(buf, bufsz, cwd, "/cloudm.conf");
        return put_path(buf, bufsz, "cloudm.conf", "");
    }
    if (find_user(buf, bufsz) == 0)
        return 0;
    if (sysconfdir != NULL && sysconfdir[0] == '/') {
        if (put_path(buf, bufsz, sysconfdir, "/cloudm/cloudm.conf") == 0 && is_file(buf))
            return 0;
        buf[0] = '\0';
    }
    return -ENOENT;
}

int cm_config_find(char *buf, size_t bufsz)
{
    return cm_config_find_in(buf, bufsz, CM_SYSCONFDIR);
}
