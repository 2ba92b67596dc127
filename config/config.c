/*
 * config.c - the config file's meaning: [cache] and [function NAME] sections to struct cm_config.
 *
 * What it does: receives sections and complete keys from ini.c, checks section kinds, key names
 * (with did-you-mean) and duplicates, hands each value to keyvals.c, and builds the cm_config
 * model; loads a file into memory for that. Finding which file to use is find.c's.
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
#include "cfgparse_int.h"

/* In enum key_id order: the id of a key is K_MODE or K_SIGNATURE plus its index here. */
static const char *const cache_keys[] = {"mode",
                                         "namespace",
                                         "memory_size",
                                         "report",
                                         "strict",
                                         "tiers",
                                         "shared_path",
                                         "shared_size",
                                         "shared_max_entry",
                                         "remote",
                                         "token_file",
                                         "secret_file",
                                         "remote_timeout",
                                         "flush_timeout",
                                         "remote_mode",
                                         "remote_queue",
                                         "remote_queue_bytes",
                                         "remote_max_value",
                                         "remote_expire",
                                         "shared_blob_size",
                                         "sensitive",
                                         "verify",
                                         "agent_idle",
                                         "remote_ca"};
static const char *const function_keys[] = {
    "signature", "object",       "mode", "salt",     "reads",     "writes", "errno",
    "min_time",  "singleflight", "hook", "identity", "sensitive", "verify"};
#define NCACHE_KEYS (sizeof(cache_keys) / sizeof(cache_keys[0]))
#define NFUNCTION_KEYS (sizeof(function_keys) / sizeof(function_keys[0]))

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

/* A function skipped with a warning: remembered so the report can say it was not hooked. */
static void add_skipped(struct parse *p)
{
    struct cm_config *cfg = p->cfg;
    struct cm_skipped *ns;

    if (cfg->nskipped % 16 == 0) {
        ns = realloc(cfg->skipped, (size_t)(cfg->nskipped + 16) * sizeof(*ns));
        if (ns == NULL) {
            p->oom = true;
            return;
        }
        cfg->skipped = ns;
    }
    ns = &cfg->skipped[cfg->nskipped++];
    snprintf(ns->name, sizeof(ns->name), "%s", p->fn.name);
    snprintf(ns->why, sizeof(ns->why), "%s", p->fn.sig.skip_why);
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
        else if (p->sig_rc == 1 && p->d.nerrors == p->sec_nerrors)
            add_skipped(p);
    }
    p->sec = SEC_NONE;
}

/*
 * The unqualified name of a demangled C++ function signature: "ns::C::f(long, int) const" -> "f",
 * "ns::g<int>(int)" -> "g". Returns its length (and *start), or 0 when the text is not
 * `QUALIFIED-NAME(PARAMS)[ QUALIFIERS]` with an identifier as its last name component.
 */
static size_t cxx_short_name(const char *t, size_t n, size_t *start)
{
    size_t lp, end, b;
    int depth = 0;

    for (lp = 0; lp < n; lp++) { /* the parameter list: the first '(' outside template args */
        if (t[lp] == '<')
            depth++;
        else if (t[lp] == '>')
            depth--;
        else if (t[lp] == '(' && depth == 0)
            break;
    }
    if (lp == n || memchr(t + lp, ')', n - lp) == NULL)
        return 0;
    end = lp;
    while (end > 0 && is_space((unsigned char)t[end - 1]))
        end--;
    if (end > 0 && t[end - 1] == '>') { /* template arguments of the function itself */
        depth = 0;
        while (end > 0) {
            end--;
            if (t[end] == '>')
                depth++;
            else if (t[end] == '<' && --depth == 0)
                break;
        }
        if (depth != 0)
            return 0;
    }
    for (b = end; b > 0 && is_ident_char((unsigned char)t[b - 1]); b--)
        ;
    if (b == end || !is_ident_start((unsigned char)t[b]))
        return 0;
    *start = b;
    return end - b;
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
    memcpy(p->fn.short_name, name, len);
    p->fn.short_name[len] = '\0';
    p->fn.line = line;
    p->fn.mode = CM_MODE_UNSET;
    p->fn.verify = -1; /* inherit [cache] verify */
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
        if (t[r] == '"') { /* a C++ function by its demangled signature */
            size_t q = r + 1, qe = e, sn, ss = 0;

            if (e - r < 2 || t[e - 1] != '"') {
                cm_diag_at(&p->d, CM_DIAG_ERROR, p->file, s->line, s->col + (int)r,
                           "missing '\"' at the end of the C++ function name");
                return;
            }
            qe = e - 1;
            while (q < qe && is_space((unsigned char)t[q]))
                q++;
            while (qe > q && is_space((unsigned char)t[qe - 1]))
                qe--;
            sn = cxx_short_name(t + q, qe - q, &ss);
            if (sn == 0 || memchr(t + q, '"', qe - q) != NULL) {
                cm_diag_at(&p->d, CM_DIAG_ERROR, p->file, s->line, s->col + (int)r,
                           "invalid C++ function name %.*s (expected the demangled signature "
                           "c++filt prints, e.g. [function \"ns::f(long, int)\"])",
                           (int)(e - r > QUOTE_MAX ? QUOTE_MAX : e - r), t + r);
                return;
            }
            if (qe - q >= CM_NAME_MAX) {
                cm_diag_at(&p->d, CM_DIAG_ERROR, p->file, s->line, s->col + (int)r,
                           "C++ function name too long (at most %d characters; the mangled "
                           "name works too)",
                           CM_NAME_MAX - 1);
                return;
            }
            start_function(p, t + q, qe - q, s->line);
            if (p->sec == SEC_FUNCTION) {
                p->fn.cxx = true;
                memcpy(p->fn.short_name, t + q + ss, sn);
                p->fn.short_name[sn] = '\0';
            }
            return;
        }
        for (k = r; k < e && is_ident_char((unsigned char)t[k]); k++)
            ;
        if (k < e || !is_ident_start((unsigned char)t[r])) {
            cm_diag_at(&p->d, CM_DIAG_ERROR, p->file, s->line, s->col + (int)r,
                       "invalid function name '%.*s' (expected a C identifier, or a C++ "
                       "function's demangled signature in quotes: [function \"ns::f(long, "
                       "int)\"])",
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
        cm_cfg_set_mode(p, k, &p->cfg->mode);
        break;
    case K_NAMESPACE:
        cm_cfg_set_namespace(p, k);
        break;
    case K_MEMORY_SIZE:
        cm_cfg_get_size(p, k, MEMORY_SIZE_MIN, MEMORY_SIZE_MAX, "4K to 1T", &p->cfg->memory_size);
        break;
    case K_REPORT:
        cm_cfg_copy_value(p, k, p->cfg->report, sizeof(p->cfg->report));
        break;
    case K_STRICT:
        cm_cfg_set_bool(p, k, &p->cfg->strict);
        break;
    case K_TIERS:
        cm_cfg_set_tiers(p, k);
        break;
    case K_SHARED_PATH:
        cm_cfg_set_shared_path(p, k);
        break;
    case K_SHARED_SIZE:
        cm_cfg_set_shared_size(p, k);
        break;
    case K_SHARED_MAX_ENTRY:
        cm_cfg_set_shared_max_entry(p, k);
        break;
    case K_REMOTE:
        cm_cfg_set_remote(p, k);
        break;
    case K_TOKEN_FILE:
        cm_cfg_set_file(p, k, p->cfg->token_file, sizeof(p->cfg->token_file));
        break;
    case K_SECRET_FILE:
        cm_cfg_set_file(p, k, p->cfg->secret_file, sizeof(p->cfg->secret_file));
        break;
    case K_REMOTE_CA:
        cm_cfg_set_file(p, k, p->cfg->remote_ca, sizeof(p->cfg->remote_ca));
        break;
    case K_REMOTE_TIMEOUT:
        cm_cfg_get_time(p, k, 1000000ULL, 60000000000ULL, "1ms to 60s", &p->cfg->remote_timeout_ns);
        break;
    case K_FLUSH_TIMEOUT:
        cm_cfg_get_time(p, k, 0, 3600000000000ULL, "0 to 1h", &p->cfg->flush_timeout_ns);
        break;
    case K_REMOTE_MODE:
        cm_cfg_set_remote_mode(p, k);
        break;
    case K_REMOTE_QUEUE: {
        uint64_t n;
        if (cm_cfg_get_size(p, k, 1, 1ULL << 20, "1 to 1M", &n) == 0)
            p->cfg->remote_queue = n;
        break;
    }
    case K_REMOTE_QUEUE_BYTES:
        cm_cfg_get_size(p, k, 1ULL << 16, 1ULL << 40, "64K to 1T", &p->cfg->remote_queue_bytes);
        break;
    case K_REMOTE_MAX_VALUE:
        cm_cfg_get_size(p, k, 1, 1ULL << 32, "1 to 4G", &p->cfg->remote_max_value);
        break;
    case K_AGENT_IDLE:
        cm_cfg_get_time(p, k, 1000000000ULL, 86400000000000ULL, "1s to 24h", &p->cfg->agent_idle_ns);
        break;
    case K_REMOTE_EXPIRE:
        cm_cfg_get_time(p, k, 1000000000ULL, 3650ULL * 86400 * 1000000000ULL, "1s to 3650d",
                        &p->cfg->remote_expire_ns);
        break;
    case K_SHARED_BLOB_SIZE:
        cm_cfg_get_size(p, k, 1ULL << 20, 1ULL << 40, "1M to 1T", &p->cfg->shared_blob_size);
        break;
    case K_CSENSITIVE:
        cm_cfg_set_bool(p, k, &p->cfg->sensitive);
        break;
    case K_SENSITIVE: {
        bool b = false, bad = cm_parse_bool(k->value, &b) < 0;
        cm_cfg_set_bool(p, k, &b); /* the message, when bad */
        if (!bad)
            p->fn.sensitive = b ? CM_SENS_YES : CM_SENS_NO;
        break;
    }
    case K_VERIFY:
        cm_cfg_set_rate(p, k, &p->cfg->verify);
        break;
    case K_FVERIFY:
        cm_cfg_set_rate(p, k, &p->fn.verify);
        break;
    case K_SIGNATURE:
        cm_cfg_set_signature(p, k);
        break;
    case K_OBJECT:
        cm_cfg_copy_value(p, k, p->fn.object, sizeof(p->fn.object));
        break;
    case K_FMODE:
        cm_cfg_set_mode(p, k, &p->fn.mode);
        break;
    case K_SALT:
        cm_cfg_copy_value(p, k, p->fn.salt, sizeof(p->fn.salt));
        break;
    case K_READS:
        cm_cfg_set_globals(p, k, p->fn.reads, &p->fn.nreads);
        break;
    case K_WRITES:
        cm_cfg_set_globals(p, k, p->fn.writes, &p->fn.nwrites);
        break;
    case K_ERRNO:
        cm_cfg_set_bool(p, k, &p->fn.save_errno);
        break;
    case K_MIN_TIME:
        cm_cfg_get_time(p, k, 0, UINT64_MAX, "", &p->fn.min_time_ns);
        break;
    case K_SINGLEFLIGHT:
        cm_cfg_set_singleflight(p, k);
        break;
    case K_HOOK: {
        static const char *const w[] = {"auto", "got", "inline"}; /* enum cm_hook_kind */
        cm_cfg_set_word(p, k, w, 3, &p->fn.hook);
        break;
    }
    case K_IDENTITY: {
        static const char *const w[] = {"code", "object", "name"}; /* enum cm_identity */
        cm_cfg_set_word(p, k, w, 3, &p->fn.identity);
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
    cfg->shared_max_entry = SHARED_MAX_ENTRY_DEFAULT;
    cfg->shared_blob_size = SHARED_BLOB_SIZE_DEFAULT;
    cfg->agent_idle_ns = AGENT_IDLE_DEFAULT;
}

/* Values that depend on several keys, once every key has been read. */
static void finish_cache(struct parse *p)
{
    struct cm_config *cfg = p->cfg;

    /* A remote is a tier of its own unless `tiers` says otherwise; `tiers = ... remote` needs
     * one. */
    if (!p->tiers_set && cfg->remote[0])
        cfg->tiers |= CM_TIER_REMOTE;
    if (p->tiers_set && (cfg->tiers & CM_TIER_REMOTE) && !cfg->remote[0])
        cm_diag_map(&p->d, CM_DIAG_ERROR, &p->tiers_map, 0,
                    "'tiers' names remote, but [cache] has no 'remote = URL'");
    /* shared_max_entry may exceed shared_size: values too large for the segment's ring live in
     * blob files beside it (shared_blob_size in all). */
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
    /* closed before parsing: the preloaded library opens libinih then (shim/base/lazy_inih.c),
     * and under a descriptor limit of one free descriptor this one must be free again */
    close(fd);
    fd = -1;
    rc = cm_config_parse(path, buf, len, cfg, diag, ctx);
out:
    free(buf);
    if (fd >= 0)
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
    free(cfg->skipped);
    cfg->skipped = NULL;
    cfg->nskipped = 0;
}
