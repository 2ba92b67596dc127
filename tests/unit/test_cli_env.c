/*
 * test_cli_env.c - the `cloudm` command's environment composition (tools/preload.c) on its own:
 * where libcloudm.so goes in LD_PRELOAD (after leading sanitizer runtimes, never twice), how
 * report and config paths are made absolute, and how CLOUDM_LIB is honoured.
 *
 * Includes tools/preload.c directly (it depends on libc only); harness: cm_test.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cm_test.h"

#include "../../tools/preload.c"

#define LIB "/opt/cloudm/lib/libcloudm.so"

static void compose(const char *old, const char *want)
{
    char *got = NULL;

    ASSERT_EQ_INT(cm_preload_compose(LIB, old, &got), 0);
    ASSERT_EQ_STR(got, want);
    free(got);
}

static void test_compose(void)
{
    char *got = (char *)"untouched";

    compose(NULL, LIB);
    compose("", LIB);
    compose("::", LIB);
    compose("/a/libfoo.so", LIB ":/a/libfoo.so");
    compose("/a/libfoo.so /b/libbar.so", LIB ":/a/libfoo.so:/b/libbar.so");
    /* Sanitizer runtimes at the front stay there, whatever the separator. */
    compose("/usr/lib/gcc/x86_64-linux-gnu/12/libasan.so",
            "/usr/lib/gcc/x86_64-linux-gnu/12/libasan.so:" LIB);
    compose("/x/libasan.so.8:/y/foo.so", "/x/libasan.so.8:" LIB ":/y/foo.so");
    compose("/x/libasan.so.8 /x/libubsan.so.1::/y/foo.so",
            "/x/libasan.so.8:/x/libubsan.so.1:" LIB ":/y/foo.so");
    compose("libtsan.so.2:foo.so", "libtsan.so.2:" LIB ":foo.so");
    compose("/l/libclang_rt.asan-x86_64.so", "/l/libclang_rt.asan-x86_64.so:" LIB);
    compose("/l/liblsan.so.0:/l/libhwasan.so", "/l/liblsan.so.0:/l/libhwasan.so:" LIB);
    /* Only a leading run counts; a directory called libasan is not a runtime. */
    compose("/y/foo.so:/x/libtsan.so.2", LIB ":/y/foo.so:/x/libtsan.so.2");
    compose("/opt/libasan/foo.so", LIB ":/opt/libasan/foo.so");
    /* Never two shims: the same path or any other libcloudm.so is dropped. */
    compose(LIB, LIB);
    compose(LIB ":/y/foo.so", LIB ":/y/foo.so");
    compose("/y/foo.so:" LIB, LIB ":/y/foo.so");
    compose("/x/libasan.so.8:/old/build/lib/libcloudm.so:/y/foo.so",
            "/x/libasan.so.8:" LIB ":/y/foo.so");
    compose("/y/libcloudm.so.bak", LIB ":/y/libcloudm.so.bak");

    ASSERT_EQ_INT(cm_preload_compose("", "/a.so", &got), -EINVAL);
    ASSERT_EQ_PTR(got, NULL);
    ASSERT_EQ_INT(cm_preload_is_sanitizer("/x/libasan.so.8", 15), 1);
    ASSERT_EQ_INT(cm_preload_is_sanitizer("/x/libasan.so.8", 7), 0); /* "/x/liba" */
}

static void test_paths(void)
{
    char buf[64];

    ASSERT_EQ_INT(cm_path_absolute("/home/u", "r-%p.json", buf, sizeof(buf)), 0);
    ASSERT_EQ_STR(buf, "/home/u/r-%p.json");
    ASSERT_EQ_INT(cm_path_absolute("/", "r.json", buf, sizeof(buf)), 0);
    ASSERT_EQ_STR(buf, "/r.json");
    ASSERT_EQ_INT(cm_path_absolute("/home/u", "/tmp/../r.json", buf, sizeof(buf)), 0);
    ASSERT_EQ_STR(buf, "/tmp/../r.json");
    ASSERT_EQ_INT(cm_path_absolute(NULL, "/abs", buf, sizeof(buf)), 0);
    ASSERT_EQ_STR(buf, "/abs");
    ASSERT_EQ_INT(cm_path_absolute("/home/u", "", buf, sizeof(buf)), -EINVAL);
    ASSERT_EQ_INT(cm_path_absolute("rel", "x", buf, sizeof(buf)), -EINVAL);
    ASSERT_EQ_INT(cm_path_absolute("/home/u",
                                   "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz0123456789",
                                   buf, sizeof(buf)),
                  -ENAMETOOLONG);
    ASSERT_EQ_INT(cm_make_absolute("/x/y", buf, sizeof(buf)), 0);
    ASSERT_EQ_STR(buf, "/x/y");
}

static void test_find_library(void)
{
    char dir[] = "/tmp/cm-cli-env.XXXXXX", path[256], link[256], out[4096], err[512];
    FILE *f;

    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/libcloudm.so", dir);
    snprintf(link, sizeof(link), "%s/link.so", dir);
    f = fopen(path, "w");
    if (f != NULL)
        fclose(f);
    ASSERT_EQ_INT(symlink(path, link), 0);

    /* CLOUDM_LIB wins and is resolved to a symlink-free absolute path. */
    setenv(CLOUDM_ENV_LIB, link, 1);
    ASSERT_EQ_INT(cm_find_library(out, sizeof(out), err, sizeof(err)), 0);
    ASSERT_EQ_STR(out, path);
    /* A CLOUDM_LIB that does not exist is an error, not a reason to look elsewhere. */
    setenv(CLOUDM_ENV_LIB, "/nonexistent/libcloudm.so", 1);
    ASSERT_EQ_INT(cm_find_library(out, sizeof(out), err, sizeof(err)), -ENOENT);
    ASSERT_TRUE(strstr(err, "CLOUDM_LIB=/nonexistent/libcloudm.so") != NULL);
    /* Too small an output buffer. */
    setenv(CLOUDM_ENV_LIB, path, 1);
    ASSERT_EQ_INT(cm_find_library(out, 4, err, sizeof(err)), -ENAMETOOLONG);
    unsetenv(CLOUDM_ENV_LIB);

    unlink(link);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    RUN_TEST(test_compose);
    RUN_TEST(test_paths);
    RUN_TEST(test_find_library);
    (void)cm_test_run_arg; /* not needed here; silences -Wunused-function */
    return cm_test_summary();
}
