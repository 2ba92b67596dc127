/*
 * test_values.c - unit tests of the config's value grammars (config/values.c): sizes, times,
 * booleans, modes and the `object =` glob.
 *
 * What it does not do: check messages (test_config.c does, through whole configs).
 */
#include "cm_config.h"
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "cm_test.h"

static void test_sizes(void)
{
    static const struct {
        const char *s;
        uint64_t v;
    } ok[] = {
        {"0", 0},           {"4096", 4096},     {"1K", 1024},
        {"1k", 1024},       {"64M", 64 << 20},  {"2G", 2ULL << 30},
        {"1T", 1ULL << 40}, {"64MB", 64 << 20}, {"64MiB", 64 << 20},
        {"64 M", 64 << 20}, {"10B", 10},
    };
    static const char *const bad[] = {
        "",          "K", "12Q", "-1", "1.5G", "0x10", "1KK", "1 K B", "18446744073709551616",
        "16777216T", " 1"};
    uint64_t v;
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        v = 12345;
        ASSERT_EQ_INT(cm_parse_size(ok[i].s, &v), 0);
        ASSERT_EQ_UINT(v, ok[i].v);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (cm_parse_size(bad[i], &v) == 0)
            ASSERT_EQ_STR(bad[i], "(should have been rejected)");
    }
    ASSERT_EQ_INT(cm_parse_size(NULL, &v), -1);
    ASSERT_EQ_INT(cm_parse_size("16777215T", &v), 0);
    ASSERT_EQ_UINT(v, 16777215ULL << 40);
    /* The shared tier's sizes: the default, its bounds and a 1/16 entry limit. */
    ASSERT_EQ_INT(cm_parse_size("256MiB", &v), 0);
    ASSERT_EQ_UINT(v, 256ULL << 20);
    ASSERT_EQ_INT(cm_parse_size("1m", &v), 0);
    ASSERT_EQ_UINT(v, 1ULL << 20);
    ASSERT_EQ_INT(cm_parse_size("1TB", &v), 0);
    ASSERT_EQ_UINT(v, 1ULL << 40);
    ASSERT_EQ_INT(cm_parse_size("16 MiB", &v), 0);
    ASSERT_EQ_UINT(v, 16ULL << 20);
}

static void test_times(void)
{
    static const struct {
        const char *s;
        uint64_t ns;
    } ok[] = {
        {"0", 0},
        {"250ms", 250000000ULL},
        {"10s", 10000000000ULL},
        {"10", 10000000000ULL},
        {"5m", 300000000000ULL},
        {"2h", 7200000000000ULL},
        {"30d", 2592000000000000ULL},
        {"1500us", 1500000ULL},
        {"1.5s", 1500000000ULL},
        {"0.25ms", 250000ULL},
        {"100ns", 100},
        {"2 MS", 2000000ULL},
        {"0.000000001s", 1},
    };
    static const char *const bad[] = {"",    "ms",  "5 parsecs",     "1.s",        ".5s",
                                      "-1s", "1e3", "0.0000000001s", "213503982d", "1,5s"};
    uint64_t v;
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        v = 12345;
        ASSERT_EQ_INT(cm_parse_time(ok[i].s, &v), 0);
        ASSERT_EQ_UINT(v, ok[i].ns);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (cm_parse_time(bad[i], &v) == 0)
            ASSERT_EQ_STR(bad[i], "(should have been rejected)");
    }
    ASSERT_EQ_INT(cm_parse_time("213503d", &v), 0); /* just below 2^64 ns */
}

static void test_bools_and_modes(void)
{
    static const char *const yes[] = {"yes", "true", "on", "1", "YES", "True"};
    static const char *const no[] = {"no", "false", "off", "0", "No"};
    static const char *const bad[] = {"", "y", "2", "maybe", "yes please"};
    enum cm_mode mode;
    bool b;
    size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        b = false;
        ASSERT_EQ_INT(cm_parse_bool(yes[i], &b), 0);
        ASSERT_TRUE(b);
    }
    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        b = true;
        ASSERT_EQ_INT(cm_parse_bool(no[i], &b), 0);
        ASSERT_TRUE(!b);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ASSERT_EQ_INT(cm_parse_bool(bad[i], &b), -1);

    for (mode = CM_MODE_READWRITE; mode <= CM_MODE_PROFILE; mode++) {
        enum cm_mode got = CM_MODE_UNSET;

        ASSERT_EQ_INT(cm_parse_mode(cm_mode_name(mode), &got), 0);
        ASSERT_EQ_INT(got, mode);
    }
    ASSERT_EQ_STR(cm_mode_name(CM_MODE_READWRITE), "readwrite");
    ASSERT_EQ_STR(cm_mode_name(CM_MODE_PROFILE), "profile");
    ASSERT_EQ_STR(cm_mode_name(CM_MODE_UNSET), "unset");
    ASSERT_EQ_STR(cm_mode_name((enum cm_mode)42), "unknown");
    ASSERT_EQ_INT(cm_parse_mode("unset", &mode), -1);
    ASSERT_EQ_INT(cm_parse_mode("read", &mode), -1);
    ASSERT_EQ_INT(cm_parse_mode(NULL, &mode), -1);
}

static void test_glob(void)
{
    ASSERT_EQ_INT(cm_glob_match("*/libm.so*", "/usr/lib/x86_64-linux-gnu/libm.so.6"), 1);
    ASSERT_EQ_INT(cm_glob_match("*libz*", "/lib/x86_64-linux-gnu/libz.so.1.2.13"), 1);
    ASSERT_EQ_INT(cm_glob_match("*/libm.so*", "/usr/lib/libmx.so.6"), 0);
    ASSERT_EQ_INT(cm_glob_match("", ""), 1);
    ASSERT_EQ_INT(cm_glob_match("", "a"), 0);
    ASSERT_EQ_INT(cm_glob_match("*", ""), 1);
    ASSERT_EQ_INT(cm_glob_match("a?c", "abc"), 1);
    ASSERT_EQ_INT(cm_glob_match("a?c", "ac"), 0);
    ASSERT_EQ_INT(cm_glob_match("lib[mz].so", "libz.so"), 1);
    ASSERT_EQ_INT(cm_glob_match("lib[!mz].so", "libz.so"), 0);
    ASSERT_EQ_INT(cm_glob_match("lib[^mz].so", "libc.so"), 1);
    ASSERT_EQ_INT(cm_glob_match("lib[a-c].so", "libb.so"), 1);
    ASSERT_EQ_INT(cm_glob_match("lib[a-c].so", "libd.so"), 0);
    ASSERT_EQ_INT(cm_glob_match("lib[]].so", "lib].so"), 1);
    ASSERT_EQ_INT(cm_glob_match("lib[.so", "lib[.so"), 1); /* unterminated: literal */
    ASSERT_EQ_INT(cm_glob_match("*a*b*c", "xxaxxbxxbxxc"), 1);
    ASSERT_EQ_INT(cm_glob_match("*a*b*c", "xxaxxbxxbxxd"), 0);
    ASSERT_EQ_INT(cm_glob_match(NULL, "x"), 0);
    ASSERT_EQ_INT(cm_glob_match("x", NULL), 0);
}

static void test_path_expand(void)
{
    char buf[64], want[64];
    ASSERT_EQ_INT(cm_path_expand("/dev/shm/cloudm-%u", buf, sizeof(buf)), 0);
    snprintf(want, sizeof(want), "/dev/shm/cloudm-%u", (unsigned)getuid());
    ASSERT_EQ_STR(buf, want);
    ASSERT_EQ_INT(cm_path_expand("r.%p.json", buf, sizeof(buf)), 0);
    snprintf(want, sizeof(want), "r.%d.json", (int)getpid());
    ASSERT_EQ_STR(buf, want);
    ASSERT_EQ_INT(cm_path_expand("100%%-%x", buf, sizeof(buf)), 0);
    ASSERT_EQ_STR(buf, "100%-%x");
    ASSERT_EQ_INT(cm_path_expand("abcdefgh", buf, 8), -ENAMETOOLONG);
    ASSERT_EQ_INT(cm_path_expand("abcdefg", buf, 8), 0);
    ASSERT_EQ_INT(cm_path_expand("%u%u%u%u%u%u%u%u%u%u%u%u%u%u%u%u%u%u%u%u", buf, 16), -ENAMETOOLONG);
}

int main(void)
{
    RUN_TEST(test_sizes);
    RUN_TEST(test_times);
    RUN_TEST(test_bools_and_modes);
    RUN_TEST(test_glob);
    RUN_TEST(test_path_expand);
    return cm_test_summary();
}
