/*
 * kc_touch.h - the keycache's pending access times: a bounded in-memory table of "key was read
 * at time T", filled by readers and drained in one go by the store's flush.
 *
 * What it does: records (key, time) pairs, keeping the latest time per key; hands all of them
 * to a callback and empties the table; counts the records it had to drop.
 *
 * What it does not do: no persistence (kc_store writes what is drained into LMDB), no clock.
 * Thread-safe: any number of readers record while one thread drains.
 */
#ifndef KC_TOUCH_H
#define KC_TOUCH_H

#include <stddef.h>
#include <stdint.h>

#define KC_TOUCH_KEY_MAX 255 /* longest key recorded (longer ones are ignored) */

struct kc_touch;

/* Returns NULL when out of memory. `pressure` (may be NULL) is called, outside the lock, by the
 * recording thread when the table gets 1/4 full (4096 keys), once per drain: a hint to drain soon,
 * before records have to be dropped. It must be quick and must not call back into the table. */
struct kc_touch *kc_touch_new(void (*pressure)(void *ctx), void *ctx);
void kc_touch_free(struct kc_touch *t);

/* Records that `key` (`klen` bytes) was used at `ms` (> 0). Never blocks for long; drops the
 * record (counted) when the table is full. */
void kc_touch_record(struct kc_touch *t, const char *key, size_t klen, uint64_t ms);

/* Calls fn(ctx, key, klen, ms) for every key recorded since the last drain (in no particular
 * order) and empties the table; stops early when fn returns non-zero and returns that value.
 * Records made during the drain go to the next one. Drains run one at a time. */
int kc_touch_drain(struct kc_touch *t,
                   int (*fn)(void *ctx, const char *key, size_t klen, uint64_t ms), void *ctx);

/* Records dropped since kc_touch_new. */
uint64_t kc_touch_dropped(struct kc_touch *t);

#endif
