/*
 * cfgparse_int.h - the parse state of one config file, shared by config.c (sections, keys,
 * entry points) and keyvals.c (checking and storing one key's value). Private to config/.
 *
 * What it does not do: no parsing itself; the interface of config/ is cm_config.h.
 */
#ifndef CM_CFGPARSE_INT_H
#define CM_CFGPARSE_INT_H

#include <stdbool.h>
#include <stdio.h>

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
    K_REMOTE_EXPIRE,
    K_SHARED_BLOB_SIZE,
    K_CSENSITIVE,
    K_VERIFY,
    K_AGENT_IDLE,
    K_REMOTE_CA, /* [cache] */
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
    K_IDENTITY,
    K_SENSITIVE,
    K_FVERIFY, /* [function] */
    K_COUNT,
};

#define MEMORY_SIZE_MIN (4ULL << 10)
#define MEMORY_SIZE_MAX (1ULL << 40)
#define SHARED_SIZE_MIN (1ULL << 20)
#define SHARED_SIZE_MAX (1ULL << 40)
#define SHARED_SIZE_DEFAULT (256ULL << 20)
#define SHARED_PATH_DEFAULT "/dev/shm/cloudm-%u"
#define SHARED_MAX_ENTRY_DEFAULT                                                                   \
    (1ULL << 30) /* values up to 1 GiB (blob files beside the segment) */
#define SHARED_BLOB_SIZE_DEFAULT (2ULL << 30) /* blob files: 2 GiB in all */
#define GLOBAL_SIZE_MAX (1U << 20)
#define REMOTE_TIMEOUT_DEFAULT (250ULL * 1000000)  /* 250 ms */
#define FLUSH_TIMEOUT_DEFAULT (10ULL * 1000000000) /* 10 s */
#define REMOTE_QUEUE_DEFAULT 4096
#define REMOTE_QUEUE_BYTES_DEFAULT (64ULL << 20)
#define REMOTE_MAX_VALUE_DEFAULT (64ULL << 20)
#define AGENT_IDLE_DEFAULT (600ULL * 1000000000) /* 10 min */
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

#define VERR(p, k, off, ...) cm_diag_map(&(p)->d, CM_DIAG_ERROR, (k)->map, (off), __VA_ARGS__)

static inline const char *sec_label(const struct parse *p, char *buf, size_t size)
{
    if (p->sec == SEC_CACHE)
        snprintf(buf, size, "[cache]");
    else
        snprintf(buf, size, p->fn.cxx ? "[function \"%s\"]" : "[function %s]", p->fn.name);
    return buf;
}

static inline int is_ident_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static inline int is_ident_char(int c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static inline int is_space(int c)
{
    return c == ' ' || c == '\t';
}

/* ---- keyvals.c: one key's value, checked and stored (messages through p->d) ---- */
void cm_cfg_copy_value(struct parse *p, const struct cm_ini_key *k, char *dst, size_t size);
void cm_cfg_set_mode(struct parse *p, const struct cm_ini_key *k, enum cm_mode *out);
void cm_cfg_set_bool(struct parse *p, const struct cm_ini_key *k, bool *out);
void cm_cfg_set_namespace(struct parse *p, const struct cm_ini_key *k);
int cm_cfg_get_size(struct parse *p, const struct cm_ini_key *k, uint64_t lo, uint64_t hi,
                    const char *range, uint64_t *out);
int cm_cfg_get_time(struct parse *p, const struct cm_ini_key *k, uint64_t lo, uint64_t hi,
                    const char *range, uint64_t *out);
void cm_cfg_set_shared_size(struct parse *p, const struct cm_ini_key *k);
void cm_cfg_set_shared_max_entry(struct parse *p, const struct cm_ini_key *k);
void cm_cfg_set_shared_path(struct parse *p, const struct cm_ini_key *k);
void cm_cfg_set_tiers(struct parse *p, const struct cm_ini_key *k);
void cm_cfg_set_remote(struct parse *p, const struct cm_ini_key *k);
void cm_cfg_set_file(struct parse *p, const struct cm_ini_key *k, char *dst, size_t size);
void cm_cfg_set_remote_mode(struct parse *p, const struct cm_ini_key *k);
void cm_cfg_set_singleflight(struct parse *p, const struct cm_ini_key *k);
void cm_cfg_set_rate(struct parse *p, const struct cm_ini_key *k, double *out);
void cm_cfg_set_word(struct parse *p, const struct cm_ini_key *k, const char *const *words,
                     int nwords, uint8_t *out);
void cm_cfg_set_globals(struct parse *p, const struct cm_ini_key *k, struct cm_global *g,
                        uint8_t *ng);
void cm_cfg_set_signature(struct parse *p, const struct cm_ini_key *k);

#endif
