/*
 * test_kc_touch.c - unit tests of the pending access-time table (tools/kc_touch.c): latest time
 * per key, drain empties, the bound (3/4 of the slots) with dropped records counted, early stop,
 * the pressure callback (once per drain, at 1/4 full), records from several threads at once.
 *
 * What it does not do: no LMDB (the store's use of the table is covered by run_expiry.sh).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cm_test.h"
#include "kc_touch.h"

struct seen {
    int n;
    uint64_t sum_ms;
    uint64_t ms_of_a;
};

static int collect(void *ctx, const char *key, size_t klen, uint64_t ms)
{
    struct seen *s = ctx;

    s->n++;
    s->sum_ms += ms;
    if (klen == 1 && key[0] == 'a')
        s->ms_of_a = ms;
    return 0;
}

static int stop_at_first(void *ctx, const char *key, size_t klen, uint64_t ms)
{
    (void)key;
    (void)klen;
    (void)ms;
    (*(int *)ctx)++;
    return 42;
}

static void test_latest_time(void)
{
    struct kc_touch *t = kc_touch_new(NULL, NULL);
    struct seen s = {0};

    ASSERT_TRUE(t != NULL);
    kc_touch_record(t, "a", 1, 100);
    kc_touch_record(t, "a", 1, 300);
    kc_touch_record(t, "a", 1, 200);
    kc_touch_record(t, "b", 1, 5);
    kc_touch_record(t, "", 0, 5);  /* ignored: empty key */
    kc_touch_record(t, "c", 1, 0); /* ignored: no time */
    ASSERT_EQ_INT(kc_touch_drain(t, collect, &s), 0);
    ASSERT_EQ_INT(s.n, 2);
    ASSERT_EQ_UINT(s.ms_of_a, 300);
    memset(&s, 0, sizeof(s));
    ASSERT_EQ_INT(kc_touch_drain(t, collect, &s), 0);
    ASSERT_EQ_INT(s.n, 0); /* drained */
    kc_touch_record(t, "a", 1, 7);
    ASSERT_EQ_INT(kc_touch_drain(t, collect, &s), 0);
    ASSERT_EQ_INT(s.n, 1); /* the other table, after a swap back, is empty too */
    ASSERT_EQ_UINT(s.ms_of_a, 7);
    kc_touch_free(t);
}

static void test_bound(void)
{
    struct kc_touch *t = kc_touch_new(NULL, NULL);
    struct seen s = {0};
    char key[32];
    int n;

    for (int i = 0; i < 40000; i++) {
        n = snprintf(key, sizeof(key), "key-%d", i);
        kc_touch_record(t, key, (size_t)n, 1);
    }
    ASSERT_EQ_INT(kc_touch_drain(t, collect, &s), 0);
    ASSERT_EQ_INT(s.n, 16384 / 4 * 3);
    ASSERT_EQ_UINT(kc_touch_dropped(t), 40000 - 16384 / 4 * 3);
    /* a key already present still gets its time raised when the table is full */
    for (int i = 0; i < 12288; i++) {
        n = snprintf(key, sizeof(key), "k%d", i);
        kc_touch_record(t, key, (size_t)n, 1);
    }
    kc_touch_record(t, "k0", 2, 99);
    memset(&s, 0, sizeof(s));
    kc_touch_drain(t, collect, &s);
    ASSERT_EQ_INT(s.n, 12288);
    ASSERT_EQ_UINT(s.sum_ms, 12287 + 99);
    kc_touch_free(t);
}

static void test_long_key_and_stop(void)
{
    struct kc_touch *t = kc_touch_new(NULL, NULL);
    char big[KC_TOUCH_KEY_MAX + 1];
    int calls = 0;

    memset(big, 'x', sizeof(big));
    kc_touch_record(t, big, sizeof(big), 1); /* too long: ignored */
    kc_touch_record(t, big, KC_TOUCH_KEY_MAX, 1);
    kc_touch_record(t, "y", 1, 1);
    ASSERT_EQ_INT(kc_touch_drain(t, stop_at_first, &calls), 42);
    ASSERT_EQ_INT(calls, 1);
    kc_touch_free(t);
}

static void count_call(void *ctx)
{
    (*(int *)ctx)++;
}

static void test_pressure(void)
{
    int calls = 0, n;
    struct kc_touch *t = kc_touch_new(count_call, &calls);
    struct seen s = {0};
    char key[32];

    for (int i = 0; i < 4095; i++) {
        n = snprintf(key, sizeof(key), "p%d", i);
        kc_touch_record(t, key, (size_t)n, 1);
    }
    ASSERT_EQ_INT(calls, 0);
    kc_touch_record(t, "quarter", 7, 1); /* the 4096th key: 1/4 of 16384 slots */
    ASSERT_EQ_INT(calls, 1);
    for (int i = 0; i < 1000; i++) {
        n = snprintf(key, sizeof(key), "q%d", i);
        kc_touch_record(t, key, (size_t)n, 1);
    }
    ASSERT_EQ_INT(calls, 1); /* once per drain */
    kc_touch_drain(t, collect, &s);
    for (int i = 0; i < 4096; i++) {
        n = snprintf(key, sizeof(key), "r%d", i);
        kc_touch_record(t, key, (size_t)n, 1);
    }
    ASSERT_EQ_INT(calls, 2); /* and again after it */
    kc_touch_free(t);
}

static void *reader(void *arg)
{
    struct kc_touch *t = arg;
    char key[32];

    for (int i = 0; i < 100000; i++) {
        int n = snprintf(key, sizeof(key), "r%d", i % 500);

        kc_touch_record(t, key, (size_t)n, (uint64_t)i + 1);
    }
    return NULL;
}

static void test_threads(void)
{
    struct kc_touch *t = kc_touch_new(NULL, NULL);
    pthread_t th[4];
    struct seen s = {0};
    int total = 0;

    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, reader, t);
    for (int k = 0; k < 50; k++) {
        memset(&s, 0, sizeof(s));
        kc_touch_drain(t, collect, &s);
        ASSERT_TRUE(s.n <= 500);
        total += s.n;
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    memset(&s, 0, sizeof(s));
    kc_touch_drain(t, collect, &s);
    ASSERT_TRUE(s.n <= 500);
    ASSERT_TRUE(total + s.n >= 500);
    ASSERT_EQ_UINT(kc_touch_dropped(t), 0);
    kc_touch_free(t);
}

int main(void)
{
    RUN_TEST(test_latest_time);
    RUN_TEST(test_bound);
    RUN_TEST(test_long_key_and_stop);
    RUN_TEST(test_pressure);
    RUN_TEST(test_threads);
    return cm_test_summary();
}
