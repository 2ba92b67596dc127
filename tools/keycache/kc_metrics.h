/*
 * kc_metrics.h - the keycache's counters and their Prometheus text rendering.
 *
 * What it does: relaxed atomic counters (requests by method and status, hits, misses, bytes in
 * and out, evictions, expiries) that any thread bumps without a lock, and the /metrics page,
 * which also shows the store's entry count and size (read from kc_store).
 *
 * What it does not do: no histograms, no per-namespace or per-token series (unbounded label
 * sets); a snapshot is not atomic across counters.
 */
#ifndef KC_METRICS_H
#define KC_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "kc_proto.h"

/* Statuses the server can answer; any other is counted as "other". */
#define KC_STATUS_LIST(X)                                                                          \
    X(200)                                                                                         \
    X(201)                                                                                         \
    X(204) X(400) X(401) X(403) X(404) X(405) X(411) X(413) X(431) X(500) X(501) X(503) X(507)

void kc_metrics_request(enum kc_method m, int status);
void kc_metrics_hit(uint64_t bytes_out);
void kc_metrics_miss(void);
void kc_metrics_bytes_in(uint64_t n);
void kc_metrics_bytes_out(uint64_t n);
void kc_metrics_connection(void); /* a TCP connection was accepted */
/* Connections shut down because their headers were not complete in time (kc_conns). */
void kc_metrics_header_timeouts(uint64_t n);

struct kc_store_stats;

/* Renders the page into a malloc'ed buffer (*len bytes, NUL-terminated), with the store's
 * gauges and counters from `st`. NULL when out of memory. */
char *kc_metrics_render(const struct kc_store_stats *st, size_t *len);

#endif
