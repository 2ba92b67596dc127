/*
 * cm_test.h - a tiny unit-test harness: typed asserts that print both operands, isolated tests.
 *
 * What it does: RUN_TEST(fn) / cm_test_run_arg(name, fn, arg) run one test in a forked child
 * with an alarm (CM_TEST_TIMEOUT seconds), so a crash or a hang fails that test only; the
 * ASSERT_* macros record failures with file, line, both expressions and both values and let the
 * test go on; cm_test_summary() prints "N passed, N failed" (tests, not asserts) and returns the
 * exit status. CM_TEST_NOFORK=1 runs tests in-process (for a debugger).
 *
 * What it does not do: no registration magic, no fixtures, no output capture. Header-only: every
 * function is static, so each test program includes it exactly once.
 */
#ifndef CM_TEST_H
#define CM_TEST_H

#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Every helper is static and possibly unused by a given test program. */
#define CM_TEST_FN static __attribute__((unused))

#ifndef CM_TEST_TIMEOUT
#define CM_TEST_TIMEOUT 30
#endif

struct cm_test_state {
    int passed, failed;
    int cur_failed;   /* failed asserts in the running test */
    const char *name; /* running test */
};

static struct cm_test_state cm_test_st;

CM_TEST_FN void cm_test_fail_hdr(const char *file, int line)
{
    if (cm_test_st.cur_failed++ == 0)
        fprintf(stderr, "--- %s\n", cm_test_st.name);
    fprintf(stderr, "%s:%d: ", file, line);
}

#define ASSERT_TRUE(c)                                                                             \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            cm_test_fail_hdr(__FILE__, __LINE__);                                                  \
            fprintf(stderr, "ASSERT_TRUE(%s) failed\n", #c);                                       \
        }                                                                                          \
    } while (0)

#define ASSERT_EQ_INT(a, b)                                                                        \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            cm_test_fail_hdr(__FILE__, __LINE__);                                                  \
            fprintf(stderr, "ASSERT_EQ_INT(%s, %s) failed: %lld != %lld\n", #a, #b, a_, b_);       \
        }                                                                                          \
    } while (0)

#define ASSERT_NE_INT(a, b)                                                                        \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ == b_) {                                                                            \
            cm_test_fail_hdr(__FILE__, __LINE__);                                                  \
            fprintf(stderr, "ASSERT_NE_INT(%s, %s) failed: both %lld\n", #a, #b, a_);              \
        }                                                                                          \
    } while (0)

#define ASSERT_EQ_UINT(a, b)                                                                       \
    do {                                                                                           \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);             \
        if (a_ != b_) {                                                                            \
            cm_test_fail_hdr(__FILE__, __LINE__);                                                  \
            fprintf(stderr, "ASSERT_EQ_UINT(%s, %s) failed: %llu != %llu\n", #a, #b, a_, b_);      \
        }                                                                                          \
    } while (0)

#define ASSERT_EQ_DBL(a, b)                                                                        \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(a_ == b_ || (isnan(a_) && isnan(b_)))) {                                             \
            cm_test_fail_hdr(__FILE__, __LINE__);                                                  \
            fprintf(stderr, "ASSERT_EQ_DBL(%s, %s) failed: %.17g != %.17g\n", #a, #b, a_, b_);     \
        }                                                                                          \
    } while (0)

#define ASSERT_EQ_STR(a, b)                                                                        \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (a_ == NULL || b_ == NULL ? a_ != b_ : strcmp(a_, b_) != 0) {                           \
            cm_test_fail_hdr(__FILE__, __LINE__);                                                  \
            fprintf(stderr, "ASSERT_EQ_STR(%s, %s) failed:\n  \"%s\"\n  \"%s\"\n", #a, #b,         \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                       \
        }                                                                                          \
    } while (0)

#define ASSERT_EQ_PTR(a, b)                                                                        \
    do {                                                                                           \
        const void *a_ = (a), *b_ = (b);                                                           \
        if (a_ != b_) {                                                                            \
            cm_test_fail_hdr(__FILE__, __LINE__);                                                  \
            fprintf(stderr, "ASSERT_EQ_PTR(%s, %s) failed: %p != %p\n", #a, #b, a_, b_);           \
        }                                                                                          \
    } while (0)

#define ASSERT_EQ_MEM(a, b, n)                                                                     \
    do {                                                                                           \
        const unsigned char *a_ = (const unsigned char *)(a), *b_ = (const unsigned char *)(b);    \
        size_t n_ = (n), i_;                                                                       \
        for (i_ = 0; i_ < n_ && a_[i_] == b_[i_]; i_++)                                            \
            ;                                                                                      \
        if (i_ < n_) {                                                                             \
            cm_test_fail_hdr(__FILE__, __LINE__);                                                  \
            fprintf(stderr, "ASSERT_EQ_MEM(%s, %s, %zu) failed at byte %zu: 0x%02x != 0x%02x\n",   \
                    #a, #b, n_, i_, a_[i_], b_[i_]);                                               \
        }                                                                                          \
    } while (0)

/* A condition with a printf-style explanation of what went wrong. */
#define ASSERT_MSG(c, ...)                                                                         \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            cm_test_fail_hdr(__FILE__, __LINE__);                                                  \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* Stops the running test (after a failed assert that makes the rest meaningless). */
#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            cm_test_fail_hdr(__FILE__, __LINE__);                                                  \
            fprintf(stderr, "REQUIRE(%s) failed\n", #c);                                           \
            return;                                                                                \
        }                                                                                          \
    } while (0)

union cm_test_fn {
    void (*plain)(void);
    void (*arg)(const void *);
};

CM_TEST_FN void cm_test_exec(union cm_test_fn fn, int with_arg, const void *arg)
{
    if (with_arg)
        fn.arg(arg);
    else
        fn.plain();
}

CM_TEST_FN void cm_test_record(const char *name, int ok, const char *why)
{
    if (ok) {
        cm_test_st.passed++;
        printf("ok   %s\n", name);
    } else {
        cm_test_st.failed++;
        printf("FAIL %s%s%s\n", name, why[0] ? ": " : "", why);
    }
    fflush(stdout);
}

CM_TEST_FN void cm_test_run_any(const char *name, union cm_test_fn fn, int with_arg,
                                const void *arg)
{
    const char *nofork = getenv("CM_TEST_NOFORK");
    char why[64] = "";
    pid_t pid;
    int st;

    cm_test_st.name = name;
    cm_test_st.cur_failed = 0;
    if (nofork != NULL && strcmp(nofork, "1") == 0) {
        cm_test_exec(fn, with_arg, arg);
        cm_test_record(name, cm_test_st.cur_failed == 0, "");
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        cm_test_record(name, 0, "fork failed");
        return;
    }
    if (pid == 0) {
        alarm(CM_TEST_TIMEOUT);
        cm_test_exec(fn, with_arg, arg);
        fflush(stderr);
        _exit(cm_test_st.cur_failed == 0 ? 0 : 1);
    }
    while (waitpid(pid, &st, 0) < 0)
        ;
    if (WIFSIGNALED(st))
        snprintf(why, sizeof(why), "%s (signal %d)",
                 WTERMSIG(st) == SIGALRM ? "timed out" : "crashed", WTERMSIG(st));
    cm_test_record(name, WIFEXITED(st) && WEXITSTATUS(st) == 0, why);
}

CM_TEST_FN void cm_test_run(const char *name, void (*fn)(void))
{
    union cm_test_fn u;

    u.plain = fn;
    cm_test_run_any(name, u, 0, NULL);
}

CM_TEST_FN void cm_test_run_arg(const char *name, void (*fn)(const void *), const void *arg)
{
    union cm_test_fn u;

    u.arg = fn;
    cm_test_run_any(name, u, 1, arg);
}

#define RUN_TEST(fn) cm_test_run(#fn, fn)

/* Prints the closing line and returns the process exit status. */
CM_TEST_FN int cm_test_summary(void)
{
    printf("%d passed, %d failed\n", cm_test_st.passed, cm_test_st.failed);
    fflush(stdout);
    return cm_test_st.failed == 0 ? 0 : 1;
}

#endif
