/*
 * values.c - the small value grammars of the config file, and "did you mean".
 *
 * What it does: parses sizes ("64M"), times ("250ms"), modes, booleans; matches `object =` globs;
 * finds the closest known word to a misspelt one (optimal string alignment distance); expands
 * %u / %p / %% in path templates (shared_path, report) for the shim and the tools alike.
 *
 * What it does not do: no messages (callers report, with positions), no allocation, no locale:
 * everything here is plain ASCII and reentrant.
 */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cm_config_int.h"

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int is_space(int c)
{
    return c == ' ' || c == '\t';
}

int cm_word_eq(const char *s, size_t len, const char *word)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (word[i] == '\0' || lower((unsigned char)s[i]) != lower((unsigned char)word[i]))
            return 0;
    }
    return word[len] == '\0';
}

/* Reads an unsigned decimal integer; returns the number of digits (0: none or overflow). */
static size_t read_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;

    while (s[i] >= '0' && s[i] <= '9') {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s[i] - '0', &v))
            return 0;
        i++;
    }
    *out = v;
    return i;
}

int cm_parse_size(const char *s, uint64_t *out)
{
    static const char units[] = "kmgt";
    uint64_t v, mult = 1;
    const char *u;
    size_t n;

    if (s == NULL)
        return -1;
    n = read_u64(s, &v);
    if (n == 0)
        return -1;
    s += n;
    while (is_space(*s))
        s++;
    if (*s != '\0') {
        u = strchr(units, lower((unsigned char)*s));
        if (u != NULL) {
            mult = (uint64_t)1 << (10 * (u - units + 1));
            s++;
            if (lower((unsigned char)*s) == 'i' && lower((unsigned char)s[1]) == 'b')
                s += 2;
            else if (lower((unsigned char)*s) == 'b')
                s++;
        } else if (lower((unsigned char)*s) == 'b') {
            s++;
        }
    }
    if (*s != '\0')
        return -1;
    if (__builtin_mul_overflow(v, mult, out))
        return -1;
    return 0;
}

int cm_parse_time(const char *s, uint64_t *out_ns)
{
    static const struct {
        const char *name;
        uint64_t ns;
    } units[] = {
        {"ns", 1ULL},
        {"us", 1000ULL},
        {"ms", 1000000ULL},
        {"s", 1000000000ULL},
        {"m", 60000000000ULL},
        {"h", 3600000000000ULL},
        {"d", 86400000000000ULL},
    };
    uint64_t whole, frac = 0, frac_div = 1, unit = 1000000000ULL, v, f;
    size_t n, i, ulen;

    if (s == NULL)
        return -1;
    n = read_u64(s, &whole);
    if (n == 0)
        return -1;
    s += n;
    if (*s == '.') {
        s++;
        if (*s < '0' || *s > '9')
            return -1;
        /* At most 9 fractional digits matter for nanoseconds; more are rejected, not rounded. */
        for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
            if (i == 9)
                return -1;
            frac = frac * 10 + (uint64_t)(s[i] - '0');
            frac_div *= 10;
        }
        s += i;
    }
    while (is_space(*s))
        s++;
    if (*s != '\0') {
        ulen = strlen(s);
        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            if (cm_word_eq(s, ulen, units[i].name))
                break;
        }
        if (i == sizeof(units) / sizeof(units[0]))
            return -1;
        unit = units[i].ns;
    }
    if (__builtin_mul_overflow(whole, unit, &v))
        return -1;
    /* frac < frac_div <= 1e9 and unit <= 8.64e13: the product can exceed 64 bits, so split. */
    f = (unit / frac_div) * frac + ((unit % frac_div) * frac) / frac_div;
    if (__builtin_add_overflow(v, f, out_ns))
        return -1;
    return 0;
}

static const char *const mode_names[] = {
    [CM_MODE_UNSET] = "unset",       [CM_MODE_READWRITE] = "readwrite",
    [CM_MODE_READONLY] = "readonly", [CM_MODE_WRITEONLY] = "writeonly",
    [CM_MODE_OFF] = "off",           [CM_MODE_PROFILE] = "profile",
};

int cm_parse_mode(const char *s, enum cm_mode *out)
{
    int m;

    if (s == NULL)
        return -1;
    for (m = CM_MODE_READWRITE; m <= CM_MODE_PROFILE; m++) {
        if (cm_word_eq(s, strlen(s), mode_names[m])) {
            *out = (enum cm_mode)m;
            return 0;
        }
    }
    return -1;
}

const char *cm_mode_name(enum cm_mode m)
{
    if ((int)m < 0 || (size_t)m >= sizeof(mode_names) / sizeof(mode_names[0]))
        return "unknown";
    return mode_names[m];
}

int cm_parse_rate(const char *s, double *out)
{
    char *end;
    if (s == NULL || !((*s >= '0' && *s <= '9') || *s == '.'))
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s)
        return -1;
    if (*end == '%') {
        v /= 100;
        end++;
    }
    if (*end != '\0' || !(v >= 0 && v <= 1))
        return -1;
    *out = v;
    return 0;
}

int cm_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    size_t i, len;

    if (s == NULL)
        return -1;
    len = strlen(s);
    for (i = 0; i < 4; i++) {
        if (cm_word_eq(s, len, yes[i])) {
            *out = true;
            return 0;
        }
        if (cm_word_eq(s, len, no[i])) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* Matches one bracket expression at p against c; returns the pattern after it, or NULL when the
 * bracket is unterminated (then '[' is an ordinary character). *hit tells whether c matched. */
static const char *match_bracket(const char *p, unsigned char c, int *hit)
{
    int negate = 0, found = 0;
    const char *start;

    p++; /* '[' */
    if (*p == '!' || *p == '^') {
        negate = 1;
        p++;
    }
    start = p;
    while (*p != '\0' && (*p != ']' || p == start)) {
        unsigned char lo = (unsigned char)*p, hi = lo;

        if (p[1] == '-' && p[2] != '\0' && p[2] != ']') {
            hi = (unsigned char)p[2];
            p += 2;
        }
        if (c >= lo && c <= hi)
            found = 1;
        p++;
    }
    if (*p != ']')
        return NULL;
    *hit = found != negate;
    return p + 1;
}

int cm_glob_match(const char *pattern, const char *text)
{
    /* Classic single-backtrack matcher: `*` (which also matches '/') resumes at the last star
     * only, so the work is bounded by strlen(pattern) * strlen(text). */
    const char *p = pattern, *t = text, *star_p = NULL, *star_t = NULL;

    if (pattern == NULL || text == NULL)
        return 0;
    while (*t != '\0') {
        if (*p == '*') {
            while (*p == '*')
                p++;
            star_p = p;
            star_t = t;
            continue;
        }
        if (*p == '[') {
            int hit = 0;
            const char *next = match_bracket(p, (unsigned char)*t, &hit);

            if (next != NULL) {
                if (hit) {
                    p = next;
                    t++;
                    continue;
                }
                goto backtrack;
            }
        }
        if (*p != '\0' && (*p == '?' || *p == *t)) {
            p++;
            t++;
            continue;
        }
    backtrack:
        if (star_p == NULL)
            return 0;
        p = star_p;
        t = ++star_t;
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

#define DYM_MAX 64

const char *cm_did_you_mean(const char *word, size_t len, const char *const *cands, size_t n)
{
    /* Three rows of the OSA dynamic programme, bounded by DYM_MAX (no allocation). */
    unsigned d0[DYM_MAX + 1], d1[DYM_MAX + 1], d2[DYM_MAX + 1];
    unsigned *pp = d0, *prev = d1, *cur = d2, *tmp;
    const char *best = NULL;
    unsigned best_d, limit;
    size_t k, i, j, clen;

    if (len == 0 || len > DYM_MAX)
        return NULL;
    /* Plausible typos only: one edit for short words, up to three for long ones. */
    limit = (unsigned)((len + 2) / 3);
    if (limit > 3)
        limit = 3;
    best_d = limit + 1;
    for (k = 0; k < n; k++) {
        clen = strlen(cands[k]);
        if (clen > DYM_MAX || cm_word_eq(word, len, cands[k]))
            continue;
        for (j = 0; j <= clen; j++)
            prev[j] = (unsigned)j;
        for (i = 1; i <= len; i++) {
            cur[0] = (unsigned)i;
            for (j = 1; j <= clen; j++) {
                unsigned cost =
                    lower((unsigned char)word[i - 1]) != lower((unsigned char)cands[k][j - 1]);
                unsigned v = prev[j - 1] + cost;

                if (prev[j] + 1 < v)
                    v = prev[j] + 1;
                if (cur[j - 1] + 1 < v)
                    v = cur[j - 1] + 1;
                if (i > 1 && j > 1 && word[i - 1] == cands[k][j - 2] &&
                    word[i - 2] == cands[k][j - 1] && pp[j - 2] + 1 < v)
                    v = pp[j - 2] + 1;
                cur[j] = v;
            }
            tmp = pp;
            pp = prev;
            prev = cur;
            cur = tmp;
        }
        if (prev[clen] < best_d) {
            best_d = prev[clen];
            best = cands[k];
        }
    }
    return best;
}

int cm_path_expand(const char *src, char *dst, size_t size)
{
    size_t j = 0;
    for (size_t i = 0; src[i] != '\0'; i++) {
        char num[24];
        const char *ins = NULL;
        if (src[i] == '%' && src[i + 1] == 'u') {
            snprintf(num, sizeof(num), "%u", (unsigned)getuid());
            ins = num;
        } else if (src[i] == '%' && src[i + 1] == 'p') {
            snprintf(num, sizeof(num), "%d", (int)getpid());
            ins = num;
        } else if (src[i] == '%' && src[i + 1] == '%') {
            ins = "%";
        }
        if (ins) {
            size_t n = strlen(ins);
            if (j + n >= size)
                return -ENAMETOOLONG;
            memcpy(dst + j, ins, n);
            j += n;
            i++;
            continue;
        }
        if (j + 1 >= size)
            return -ENAMETOOLONG;
        dst[j++] = src[i];
    }
    if (size == 0)
        return -ENAMETOOLONG;
    dst[j] = '\0';
    return 0;
}
