/*
 * redis_url.c - redis:// and redis+cluster:// URLs (cm_redis_parse_url, redis.h): host, port,
 * optional user and password (percent-decoded), database number.
 *
 * What it does not do: connect (redis.c), resolve names, or accept rediss:// (refused with a
 * reason: Debian 12's hiredis 0.14 has no TLS).
 */
#include "redis.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

/* --- URL ---------------------------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into out (cap bytes). -1 on a bad escape, a NUL or overflow. */
static int pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];

        if (c == '%') {
            int hi, lo;

            if (i + 2 >= n)
                return -1;
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0 || o + 1 >= cap)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

/* "host[:port]" or "[v6]:port" in s[0..n) into a. */
static int parse_hostport(const char *s, size_t n, struct cm_raddr *a, char *err, size_t errsz)
{
    size_t hlen = n;
    const char *port = NULL;
    const char *h = s;

    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);

        if (close == NULL)
            goto bad;
        h = s + 1;
        hlen = (size_t)(close - s) - 1;
        if ((size_t)(close - s) + 1 < n) {
            if (close[1] != ':')
                goto bad;
            port = close + 2;
        }
    } else {
        const char *colon = memchr(s, ':', n);

        if (colon != NULL) {
            hlen = (size_t)(colon - s);
            port = colon + 1;
        }
    }
    if (hlen == 0 || hlen > CM_RHOST_MAX)
        goto bad;
    memcpy(a->ra_host, h, hlen);
    a->ra_host[hlen] = '\0';
    a->ra_port = 6379;
    if (port != NULL) {
        long v = 0;

        if (port == s + n)
            goto bad;
        for (const char *p = port; p < s + n; p++) {
            if (*p < '0' || *p > '9')
                goto bad;
            v = v * 10 + (*p - '0');
            if (v > 65535)
                goto bad;
        }
        if (v < 1)
            goto bad;
        a->ra_port = (int)v;
    }
    return 0;
bad:
    snprintf(err, errsz, "remote URL: bad host or port '%.*s'", (int)(n > 300 ? 300 : n), s);
    return -1;
}

int cm_redis_parse_url(const char *url, struct cm_rurl *u, char *err, size_t errsz)
{
    const char *p, *end, *at, *slash;

    memset(u, 0, sizeof(*u));
    if (strncasecmp(url, "rediss://", 9) == 0) {
        snprintf(err, errsz,
                 "rediss:// needs hiredis >= 1.0 with TLS; Debian 12 ships 0.14 "
                 "(use redis:// on a trusted network, or a TLS tunnel such as stunnel)");
        return -1;
    }
    if (strncasecmp(url, "redis+cluster://", 16) == 0) {
        u->ru_cluster = 1;
        p = url + 16;
    } else if (strncasecmp(url, "redis://", 8) == 0) {
        p = url + 8;
    } else {
        snprintf(err, errsz, "remote URL '%s' is not redis:// or redis+cluster://", url);
        return -1;
    }
    for (const char *q = url; *q != '\0'; q++) {
        if ((unsigned char)*q <= ' ' || *q == '?' || *q == '#') {
            snprintf(err, errsz,
                     "remote URL: spaces, control characters, '?' and '#' are not "
                     "allowed");
            return -1;
        }
    }
    end = p + strlen(p);
    slash = strchr(p, '/');
    if (slash == NULL)
        slash = end;
    at = memrchr(p, '@', (size_t)(slash - p));
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));

        if (colon == NULL) {
            /* redis://password@host, as redis-cli -u accepts */
            if (pct_decode(p, (size_t)(at - p), u->ru_pass, sizeof(u->ru_pass)) < 0)
                goto badauth;
        } else if (pct_decode(p, (size_t)(colon - p), u->ru_user, sizeof(u->ru_user)) < 0 ||
                   pct_decode(colon + 1, (size_t)(at - colon - 1), u->ru_pass, sizeof(u->ru_pass)) <
                       0) {
            goto badauth;
        }
        p = at + 1;
    }
    while (p < slash) {
        const char *comma = memchr(p, ',', (size_t)(slash - p));
        const char *e = comma != NULL ? comma : slash;

        if (u->ru_nseeds == CM_RSEEDS_MAX) {
            snprintf(err, errsz, "remote URL: more than %d hosts", CM_RSEEDS_MAX);
            return -1;
        }
        if (parse_hostport(p, (size_t)(e - p), &u->ru_seeds[u->ru_nseeds], err, errsz) < 0)
            return -1;
        u->ru_nseeds++;
        p = comma != NULL ? comma + 1 : slash;
        if (comma != NULL && p == slash) {
            snprintf(err, errsz, "remote URL: empty host after ','");
            return -1;
        }
    }
    if (u->ru_nseeds == 0) {
        snprintf(err, errsz, "remote URL '%s' has no host", url);
        return -1;
    }
    if (u->ru_nseeds > 1 && !u->ru_cluster) {
        snprintf(err, errsz, "remote URL: several hosts need redis+cluster://");
        return -1;
    }
    if (*slash == '/' && slash[1] != '\0') {
        long db = 0;

        for (const char *q = slash + 1; *q != '\0'; q++) {
            if (*q < '0' || *q > '9' || db > 100000) {
                snprintf(err, errsz, "remote URL: the path must be a database number");
                return -1;
            }
            db = db * 10 + (*q - '0');
        }
        if (u->ru_cluster && db != 0) {
            snprintf(err, errsz, "remote URL: Redis Cluster has database 0 only");
            return -1;
        }
        u->ru_db = (int)db;
    }
    return 0;
badauth:
    snprintf(err, errsz,
             "remote URL: bad user or password (percent-encode '@', ':', '/', "
             "'%%')");
    return -1;
}
