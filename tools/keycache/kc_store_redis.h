/*
 * kc_store_redis.h - the keycache's store on Redis or Redis Cluster (`--store redis://...`),
 * behind the kc_store.h functions: kc_store.c hands every call to these when the store was
 * opened with a Redis URL.
 */
#ifndef KC_STORE_REDIS_H
#define KC_STORE_REDIS_H

#include "kc_store.h"

struct kc_rstore;

/* Parses the URL and sets up the connection pool (no I/O). 0, or -1 with a message in err. */
int kc_rstore_open(const struct kc_store_opts *o, struct kc_rstore **out, char *err,
                   size_t errsz);
void kc_rstore_close(struct kc_rstore *r);
int kc_rstore_get(struct kc_rstore *r, const char *key, size_t klen, size_t *len,
                  int (*copy)(void *ctx, const void *val, size_t len), void *ctx);
int kc_rstore_write(struct kc_rstore *r, struct kc_write *w);
void kc_rstore_stats(struct kc_rstore *r, struct kc_store_stats *st);

#endif
