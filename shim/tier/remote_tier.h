/*
 * remote_tier.h - the remote tier as the dispatcher sees it: load the plugin, look up, store,
 * and the process's remote counters.
 *
 * The remote client itself (keys, envelope, encryption, HTTP, breaker, writer) is the plugin
 * libcloudm-remote.so (shim/remote/, interface shim/remote/cm_remote.h), loaded only when
 * `[cache] remote` is set.
 */
#ifndef CM_REMOTE_TIER_H
#define CM_REMOTE_TIER_H

#include <stdint.h>

#include "cm_config.h"
#include "fn.h"
#include "remote/cm_remote.h"
#include "shared.h"

/* Non-zero when the tier is up and may be read / written (remote_mode applied). */
extern int cm_remote_reads, cm_remote_writes;

/* Load and open the plugin named by the config (one message and no tier on any failure). */
void cm_remote_init(const struct cm_config *cfg);

/* Look fk up; on a hit *v points to a per-thread buffer. Returns its length or -1. */
long cm_remote_get(const struct cm_fn *fn, const struct cm_fullkey *fk, const uint8_t **v);

/* Queue a store (never blocks). */
void cm_remote_put(const struct cm_fn *fn, const struct cm_fullkey *fk, const uint8_t *v,
                   uint32_t vlen);

/* The plugin's counters (all zero when the tier is off). Returns 1 when the tier is on. */
int cm_remote_counters(struct cm_remote_counters *c, const char **url);

/* At exit: flush the write queue (flush_timeout), then add this process's remote counters to
 * the shared segment's (for `cloudm stats`). */
void cm_remote_fini(void);

#endif
