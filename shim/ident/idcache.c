/*
 * idcache.c - the on-disk code identity cache (see idcache.h).
 *
 * What it does: on the first question about an object, reads its <build-id>.ids file (if any)
 * into memory; answers lookups from memory; appends new records to the file.
 *
 * What it does not do: never deletes or rewrites files (a stale file is harmless: records are
 * keyed by build-id and offset, and a build-id names exactly one binary), never follows a
 * symlinked cache file (O_NOFOLLOW). Bounds: MAX_FILE bytes are read per file, MAX_RECS
 * records kept per object.
 *
 * DESIGN: all state is protected by the hook lock; records and their strings are never freed
 * (one small allocation per cached function for the life of the process).
 */
#include "ident.h"

#include "cloudm_env.h"
#include "base/base.h"
#include "elf/elf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE (8u << 20)
#define MAX_RECS 65536

struct symrec {
    char *name;
    bool had_symtab;
    int n;
    struct cm_symdef defs[CM_IDCACHE_MAX_SYMDEFS]; /* addr holds the offset from the load bias */
};

struct cobj {
    const struct cm_object *o;
    struct cm_idrec **recs;
    int n, cap;
    struct symrec *syms; /* symbol look-ups */
    int nsyms, capsyms;
    char path[4096]; /* "" when the object is not cached */
    struct cobj *next;
};

static struct cobj *cobjs;

static int cache_dir(char *buf, size_t len)
{
    static const char *env;
    static int env_read; /* the variable is read once (hook lock held) */
    if (!env_read) {
        env = getenv(CLOUDM_ENV_ID_CACHE);
        env_read = 1;
    }
    const char *d = env;
    if (d && strcmp(d, "off") == 0)
        return -1;
    if (d && *d)
        snprintf(buf, len, "%s", d);
    else if ((d = getenv("XDG_CACHE_HOME")) && *d)
        snprintf(buf, len, "%s/cloudm/codeid", d);
    else if ((d = getenv("HOME")) && *d)
        snprintf(buf, len, "%s/.cache/cloudm/codeid", d);
    else
        return -1;
    return 0;
}

/* mkdir -p with mode 0700 for the directories we create. Returns 0, or the errno of the last
 * mkdir that failed for another reason than EEXIST (a read-only or foreign parent: EROFS,
 * EACCES), so that a later open's ENOENT can be reported as what it really is. */
static int make_dirs(char *path)
{
    int err = 0;

    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0700) != 0 && errno != EEXIST)
                err = errno;
            *p = '/';
        }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        err = errno;
    return err;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void keep(struct cobj *c, struct cm_idrec *r)
{
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 64;
        if (cap > MAX_RECS)
            return;
        struct cm_idrec **v = realloc(c->recs, (size_t)cap * sizeof(*v));
        if (!v)
            return;
        c->recs = v;
        c->cap = cap;
    }
    c->recs[c->n++] = r;
}

/* Parse one line (NUL-terminated, no newline) into a fresh record; NULL if malformed. */
static struct cm_idrec *parse_line(char *line)
{
    char *save = NULL, *tok = strtok_r(line, " ", &save);
    char *end;
    if (!tok)
        return NULL;
    errno = 0;
    uint64_t off = strtoull(tok, &end, 16);
    if (*end || errno)
        return NULL;
    char *idhex = strtok_r(NULL, " ", &save);
    char *ntok = strtok_r(NULL, " ", &save);
    if (!idhex || strlen(idhex) != 32 || !ntok)
        return NULL;
    long n = strtol(ntok, &end, 10);
    if (*end || n < 0 || n > CM_IDCACHE_MAX_IMPORTS)
        return NULL;
    struct cm_idrec *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->off = off;
    for (int i = 0; i < 16; i++) {
        int hi = hexval(idhex[2 * i]), lo = hexval(idhex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            goto bad;
        r->local[i] = (uint8_t)(hi * 16 + lo);
    }
    for (long i = 0; i < n; i++) {
        char *name = strtok_r(NULL, " ", &save);
        if (!name || !(r->imps[i] = strdup(name)))
            goto bad;
        r->nimps = (int)i + 1;
    }
    if (strtok_r(NULL, " ", &save))
        goto bad;
    return r;
bad:
    for (int i = 0; i < r->nimps; i++)
        free((char *)r->imps[i]);
    free(r);
    return NULL;
}

static void keep_sym(struct cobj *c, const struct symrec *r)
{
    if (c->nsyms == c->capsyms) {
        int cap = c->capsyms ? 2 * c->capsyms : 16;
        if (cap > MAX_RECS)
            return;
        struct symrec *v = realloc(c->syms, (size_t)cap * sizeof(*v));
        if (!v)
            return;
        c->syms = v;
        c->capsyms = cap;
    }
    c->syms[c->nsyms++] = *r;
}

/* "S name had n (off size local file)*n" (the leading "S " already consumed). */
static void parse_sym_line(struct cobj *c, char *line)
{
    char *save = NULL, *end;
    char *name = strtok_r(line, " ", &save);
    char *had = strtok_r(NULL, " ", &save);
    char *ntok = strtok_r(NULL, " ", &save);
    if (!name || !had || !ntok || (strcmp(had, "0") && strcmp(had, "1")))
        return;
    long n = strtol(ntok, &end, 10);
    if (*end || n < 0 || n > CM_IDCACHE_MAX_SYMDEFS)
        return;
    struct symrec r = {.had_symtab = had[0] == '1', .n = (int)n};
    for (long i = 0; i < n; i++) {
        char *off = strtok_r(NULL, " ", &save), *size = strtok_r(NULL, " ", &save);
        char *local = strtok_r(NULL, " ", &save), *file = strtok_r(NULL, " ", &save);
        if (!off || !size || !local || !file)
            return;
        struct cm_symdef *d = &r.defs[i];
        errno = 0;
        d->addr = (uintptr_t)strtoull(off, &end, 16);
        if (*end || errno)
            return;
        d->size = (size_t)strtoull(size, &end, 10);
        if (*end || errno)
            return;
        d->local = local[0] == '1';
        snprintf(d->file, sizeof(d->file), "%s", strcmp(file, "-") ? file : "");
    }
    if (strtok_r(NULL, " ", &save) || !(r.name = strdup(name)))
        return;
    keep_sym(c, &r);
}

static void append(struct cobj *c, const char *line, size_t n);

static void load(struct cobj *c)
{
    int fd = open(c->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return;
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        (size_t)st.st_size > MAX_FILE || !(buf = malloc((size_t)st.st_size + 1)))
        goto out;
    size_t len = 0;
    while (len < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + len, (size_t)st.st_size - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    char *line = buf;
    for (char *nl; (nl = memchr(line, '\n', len - (size_t)(line - buf))) != NULL; line = nl + 1) {
        *nl = '\0'; /* a last line without its newline is incomplete: ignored */
        if (line[0] == 'S' && line[1] == ' ') {
            parse_sym_line(c, line + 2);
            continue;
        }
        struct cm_idrec *r = parse_line(line);
        if (r)
            keep(c, r);
    }
out:
    free(buf);
    close(fd);
}

static struct cobj *cobj_of(const struct cm_object *o)
{
    for (struct cobj *c = cobjs; c; c = c->next)
        if (c->o == o)
            return c;
    struct cobj *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->o = o;
    c->next = cobjs;
    cobjs = c;
    char dir[3000];
    if (o->id_is_build_id && o->idlen && cache_dir(dir, sizeof(dir)) == 0) {
        char hex[65];
        for (int i = 0; i < o->idlen && i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", o->id[i]);
        snprintf(c->path, sizeof(c->path), "%s/%s.ids", dir, hex);
        load(c);
    }
    return c;
}

const struct cm_idrec *cm_idcache_find(const struct cm_object *o, uint64_t off)
{
    struct cobj *c = cobj_of(o);
    for (int i = 0; c && i < c->n; i++)
        if (c->recs[i]->off == off)
            return c->recs[i];
    return NULL;
}

void cm_idcache_add(const struct cm_object *o, const struct cm_idrec *rec)
{
    struct cobj *c = cobj_of(o);
    if (!c || !c->path[0])
        return;
    size_t len = 64 + 16;
    for (int i = 0; i < rec->nimps; i++)
        len += strlen(rec->imps[i]) + 1;
    char *line = malloc(len);
    struct cm_idrec *copy = calloc(1, sizeof(*copy));
    if (!line || !copy) {
        free(line);
        free(copy);
        return;
    }
    int n = snprintf(line, len, "%llx ", (unsigned long long)rec->off);
    for (int i = 0; i < 16; i++)
        n += snprintf(line + n, len - (size_t)n, "%02x", rec->local[i]);
    n += snprintf(line + n, len - (size_t)n, " %d", rec->nimps);
    copy->off = rec->off;
    memcpy(copy->local, rec->local, 16);
    for (int i = 0; i < rec->nimps; i++) {
        n += snprintf(line + n, len - (size_t)n, " %s", rec->imps[i]);
        copy->imps[i] = strdup(rec->imps[i]);
        if (copy->imps[i])
            copy->nimps = i + 1;
    }
    line[n++] = '\n';
    keep(c, copy);
    append(c, line, (size_t)n);
    free(line);
}

/* Append one complete line to the object's file (creating its directory). */
static void append(struct cobj *c, const char *line, size_t n)
{
    char dir[4096];
    int mkerr = 0;
    snprintf(dir, sizeof(dir), "%s", c->path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        mkerr = make_dirs(dir);
    }
    int fd = open(c->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        if (write(fd, line, n) != (ssize_t)n)
            cm_debug("identity cache %s: short write", c->path);
        close(fd);
    } else if (errno == ENOENT && mkerr != 0) {
        /* The directory could not be made: say why, not that the file is missing. */
        cm_log_once("idcache", "cannot write the code identity cache %s: cannot create %s: %s",
                    c->path, dir, strerror(mkerr));
    } else {
        cm_log_once("idcache", "cannot write the code identity cache %s: %s", c->path,
                    strerror(errno));
    }
}

int cm_idcache_syms(const struct cm_object *o, const char *name, struct cm_symdef *out, int max,
                    bool *had_symtab)
{
    struct cobj *c = cobj_of(o);
    for (int i = 0; c && i < c->nsyms; i++) {
        const struct symrec *r = &c->syms[i];
        if (strcmp(r->name, name) != 0)
            continue;
        int k = 0;
        for (int j = 0; j < r->n && k < max; j++) {
            out[k] = r->defs[j];
            out[k].target = 0;
            out[k++].addr = o->base + r->defs[j].addr;
        }
        *had_symtab = r->had_symtab;
        return k;
    }
    return -1;
}

void cm_idcache_add_syms(const struct cm_object *o, const char *name, const struct cm_symdef *defs,
                         int n, bool had_symtab)
{
    struct cobj *c = cobj_of(o);
    if (!c || !c->path[0] || n > CM_IDCACHE_MAX_SYMDEFS || strchr(name, ' '))
        return;
    struct symrec r = {.had_symtab = had_symtab, .n = n};
    char line[256 + CM_IDCACHE_MAX_SYMDEFS * 120];
    size_t len = (size_t)snprintf(line, sizeof(line), "S %s %d %d", name, had_symtab, n);
    for (int i = 0; i < n && len < sizeof(line); i++) {
        if (strchr(defs[i].file, ' '))
            return;
        r.defs[i] = defs[i];
        r.defs[i].addr = defs[i].addr - o->base;
        len += (size_t)snprintf(line + len, sizeof(line) - len, " %llx %zu %d %s",
                                (unsigned long long)r.defs[i].addr, defs[i].size, defs[i].local,
                                defs[i].file[0] ? defs[i].file : "-");
    }
    if (len >= sizeof(line) - 1 || !(r.name = strdup(name)))
        return;
    line[len++] = '\n';
    keep_sym(c, &r);
    append(c, line, len);
}
