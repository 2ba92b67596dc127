/*
 * backend.c - the table of remote-tier backends, selected by URL scheme.
 *
 * What it does not do: talk to any server (http.c, redis_backend.c, redis_cluster.c do), keep
 * time (rclock.c).
 */
#include "backend.h"

#include <strings.h>

/* http.c serves http(s)://, redis.c redis:// (and refuses rediss://), redis_cluster.c the rest. */
static const struct {
    const char *scheme;
    const struct cm_backend_ops *ops;
} backends[] = {
    {"http://", &cm_http_backend},
    {"https://", &cm_http_backend},
    {"redis://", &cm_redis_backend},
    {"rediss://", &cm_redis_backend},
    {"redis+cluster://", &cm_redis_cluster_backend},
};

const struct cm_backend_ops *cm_backend_find(const char *url)
{
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        size_t n = 0;

        while (backends[i].scheme[n] != '\0')
            n++;
        if (strncasecmp(url, backends[i].scheme, n) == 0)
            return backends[i].ops;
    }
    return NULL;
}
