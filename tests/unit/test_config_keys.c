/*
 * test_config_keys.c - unit tests of good configs (config/config.c, keyvals.c, find.c): every
 * parsed field checked (defaults, [cache] keys, shared-tier and remote keys, [function] keys,
 * continuation and long lines, skipped functions), file loading and its size limit, the config
 * file lookup order, and the shipped example configs.
 *
 * What it does not do: messages of broken configs (test_config.c). Each test runs in its own
 * child process (cm_test.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cm_config.h"
#include "cm_test.h"
#include "config_util.h"

static void test_defaults(void)
{
    struct cm_config cfg;

    good("", &cfg, "");
    ASSERT_EQ_INT(cfg.mode, CM_MODE_READWRITE);
    ASSERT_EQ_STR(cfg.ns, "default");
    ASSERT_EQ_UINT(cfg.memory_size, 64ULL << 20);
    ASSERT_EQ_STR(cfg.report, "");
    ASSERT_EQ_INT(cfg.strict, false);
    ASSERT_EQ_INT(cfg.nfunctions, 0);
    ASSERT_EQ_STR(cfg.path, "t.conf");
    ASSERT_EQ_UINT(cfg.tiers, CM_TIER_MEMORY | CM_TIER_SHARED);
    ASSERT_EQ_STR(cfg.shared_path, "/dev/shm/cloudm-%u");
    ASSERT_EQ_UINT(cfg.shared_size, 256ULL << 20);
    ASSERT_EQ_UINT(cfg.shared_max_entry, 16ULL << 20);
    cm_config_free(&cfg);

    good("; only comments\n# and blank lines\n\n[cache]\n", &cfg, "");
    ASSERT_EQ_INT(cfg.mode, CM_MODE_READWRITE);
    cm_config_free(&cfg);
}

static void test_cache_section(void)
{
    struct cm_config cfg;

    good("[cache]\nmode = profile\nnamespace = proj-1.x_Y\nmemory_size = 256M\n"
         "report = /tmp/r-%p.json\nstrict = yes\n",
         &cfg, "");
    ASSERT_EQ_INT(cfg.mode, CM_MODE_PROFILE);
    ASSERT_EQ_STR(cfg.ns, "proj-1.x_Y");
    ASSERT_EQ_UINT(cfg.memory_size, 256ULL << 20);
    ASSERT_EQ_STR(cfg.report, "/tmp/r-%p.json");
    ASSERT_TRUE(cfg.strict);
    cm_config_free(&cfg);

    good("[Cache]\nMODE = ReadOnly\nreport = stderr\nstrict = off\nmemory_size = 4K\n", &cfg, "");
    ASSERT_EQ_INT(cfg.mode, CM_MODE_READONLY);
    ASSERT_EQ_STR(cfg.report, "stderr");
    ASSERT_TRUE(!cfg.strict);
    ASSERT_EQ_UINT(cfg.memory_size, 4096);
    cm_config_free(&cfg);

    good("[cache]\nmode: writeonly\nmemory_size = 1T\n", &cfg, "");
    ASSERT_EQ_INT(cfg.mode, CM_MODE_WRITEONLY);
    ASSERT_EQ_UINT(cfg.memory_size, 1ULL << 40);
    cm_config_free(&cfg);
}

static void test_remote_keys(void)
{
    struct cm_config cfg;

    /* Defaults: no remote, and the remote settings at their documented values. */
    good("", &cfg, "");
    ASSERT_EQ_STR(cfg.remote, "");
    ASSERT_EQ_UINT(cfg.remote_timeout_ns, 250000000ULL);
    ASSERT_EQ_UINT(cfg.flush_timeout_ns, 10000000000ULL);
    ASSERT_EQ_UINT(cfg.remote_queue, 4096);
    ASSERT_EQ_UINT(cfg.remote_queue_bytes, 64ULL << 20);
    ASSERT_EQ_UINT(cfg.remote_max_value, 64ULL << 20);
    ASSERT_EQ_INT(cfg.remote_mode, CM_RMODE_READWRITE);
    ASSERT_EQ_UINT(cfg.remote_expire_ns, 30ULL * 86400 * 1000000000);
    cm_config_free(&cfg);

    /* A remote joins the default tiers; relative files are taken from the config's directory. */
    good("[cache]\nremote = http://keycache.lan:7878/team\ntoken_file = tok\n"
         "secret_file = /etc/cloudm/secret\nremote_timeout = 50ms\nflush_timeout = 0\n"
         "remote_mode = ReadOnly\nremote_queue = 10\nremote_queue_bytes = 1M\n"
         "remote_max_value = 1K\n",
         &cfg, "");
    ASSERT_EQ_UINT(cfg.tiers, CM_TIER_MEMORY | CM_TIER_SHARED | CM_TIER_REMOTE);
    ASSERT_EQ_STR(cfg.remote, "http://keycache.lan:7878/team");
    ASSERT_EQ_STR(cfg.token_file, "tok"); /* the test's config is "t.conf": no directory */
    ASSERT_EQ_STR(cfg.secret_file, "/etc/cloudm/secret");
    ASSERT_EQ_UINT(cfg.remote_timeout_ns, 50000000ULL);
    ASSERT_EQ_UINT(cfg.flush_timeout_ns, 0);
    ASSERT_EQ_INT(cfg.remote_mode, CM_RMODE_READONLY);
    ASSERT_EQ_UINT(cfg.remote_queue, 10);
    ASSERT_EQ_UINT(cfg.remote_queue_bytes, 1ULL << 20);
    ASSERT_EQ_UINT(cfg.remote_max_value, 1024);
    cm_config_free(&cfg);

    ASSERT_EQ_INT(cm_config_parse("/etc/cloudm/team.conf",
                                  "[cache]\nremote = https://h\ntoken_file = t/tok\n", 46, &cfg,
                                  NULL, NULL),
                  0);
    ASSERT_EQ_INT(cfg.nerrors, 0);
    ASSERT_EQ_STR(cfg.token_file, "/etc/cloudm/t/tok");
    cm_config_free(&cfg);

    good("[cache]\nremote = redis://u:p@10.0.0.1:6380/2\nremote_expire = 7d\n", &cfg, "");
    ASSERT_EQ_STR(cfg.remote, "redis://u:p@10.0.0.1:6380/2");
    ASSERT_EQ_UINT(cfg.remote_expire_ns, 7ULL * 86400 * 1000000000);
    cm_config_free(&cfg);
    good("[cache]\nremote = redis+cluster://127.0.0.1:7000,127.0.0.1:7001\n", &cfg, "");
    ASSERT_EQ_UINT(cfg.tiers, CM_TIER_MEMORY | CM_TIER_SHARED | CM_TIER_REMOTE);
    cm_config_free(&cfg);

    /* An explicit `tiers` without remote keeps the remote out. */
    good("[cache]\nremote = http://h\ntiers = memory\n", &cfg, "");
    ASSERT_EQ_UINT(cfg.tiers, CM_TIER_MEMORY);
    cm_config_free(&cfg);
}

static void test_shared_tier_keys(void)
{
    static const struct {
        const char *text;
        unsigned tiers;
    } tiers[] = {
        {"memory", CM_TIER_MEMORY},
        {"shared", CM_TIER_SHARED},
        {"memory shared", CM_TIER_MEMORY | CM_TIER_SHARED},
        {"shared memory", CM_TIER_MEMORY | CM_TIER_SHARED},
        {"shared,memory", CM_TIER_MEMORY | CM_TIER_SHARED},
        {"  Memory ,\tSHARED  ", CM_TIER_MEMORY | CM_TIER_SHARED},
    };
    struct cm_config cfg;
    char text[256];
    size_t i;

    for (i = 0; i < sizeof(tiers) / sizeof(tiers[0]); i++) {
        snprintf(text, sizeof(text), "[cache]\ntiers = %s\n", tiers[i].text);
        good(text, &cfg, "");
        ASSERT_EQ_UINT(cfg.tiers, tiers[i].tiers);
        cm_config_free(&cfg);
    }

    /* shared_max_entry defaults to 1/16 of shared_size, whichever order the keys come in. */
    good("[cache]\nremote = http://h:1\ntiers = remote, memory\n", &cfg, "");
    ASSERT_EQ_UINT(cfg.tiers, CM_TIER_MEMORY | CM_TIER_REMOTE);
    cm_config_free(&cfg);

    good("[cache]\nshared_size = 1G\nshared_path = /home/u/.cache/cloudm/seg-%u\n", &cfg, "");
    ASSERT_EQ_UINT(cfg.shared_size, 1ULL << 30);
    ASSERT_EQ_UINT(cfg.shared_max_entry, 64ULL << 20);
    ASSERT_EQ_STR(cfg.shared_path, "/home/u/.cache/cloudm/seg-%u");
    cm_config_free(&cfg);

    good("[cache]\nshared_max_entry = 1M\nshared_size = 1M\n", &cfg, "");
    ASSERT_EQ_UINT(cfg.shared_size, 1ULL << 20);
    ASSERT_EQ_UINT(cfg.shared_max_entry, 1ULL << 20);
    cm_config_free(&cfg);

    good("[cache]\nshared_size = 1T\nshared_max_entry = 4096\n", &cfg, "");
    ASSERT_EQ_UINT(cfg.shared_size, 1ULL << 40);
    ASSERT_EQ_UINT(cfg.shared_max_entry, 4096);
    cm_config_free(&cfg);

    /* A bad shared_size is one error, not a second one about shared_max_entry. */
    {
        struct msgs m;

        parse("[cache]\nshared_size = 0\nshared_max_entry = 300M\n", &cfg, &m);
        ASSERT_EQ_INT(cfg.nerrors, 1);
        ASSERT_EQ_STR(m.text[0], "t.conf:2:15: error: shared_size '0' out of range (1M to 1T)");
        cm_config_free(&cfg);
    }
}

static void test_singleflight(void)
{
    static const struct {
        const char *text;
        int sf;
    } rows[] = {
        {"yes", CM_SF_YES},   {"no", CM_SF_NO},  {"auto", CM_SF_AUTO},
        {"AUTO", CM_SF_AUTO}, {"on", CM_SF_YES}, {"false", CM_SF_NO},
    };
    struct cm_config cfg;
    const struct cm_function *f;
    char text[256];
    size_t i;

    f = good("[function f]\nsignature = f64 f(f64)\n", &cfg, "f");
    REQUIRE(f != NULL);
    ASSERT_EQ_INT(f->singleflight, CM_SF_AUTO);
    cm_config_free(&cfg);
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        snprintf(text, sizeof(text), "[function f]\nsignature = f64 f(f64)\nsingleflight = %s\n",
                 rows[i].text);
        f = good(text, &cfg, "f");
        REQUIRE(f != NULL);
        ASSERT_EQ_INT(f->singleflight, rows[i].sf);
        cm_config_free(&cfg);
    }
}

static void test_hook_identity(void)
{
    static const struct {
        const char *key, *text;
        int want;
    } rows[] = {
        {"hook", "auto", CM_HOOK_AUTO},          {"hook", "got", CM_HOOK_GOT},
        {"hook", "INLINE", CM_HOOK_INLINE},      {"identity", "code", CM_IDENT_CODE},
        {"identity", "object", CM_IDENT_OBJECT}, {"identity", "name", CM_IDENT_NAME},
    };
    struct cm_config cfg;
    const struct cm_function *f;
    char text[256];
    size_t i;

    f = good("[function f]\nsignature = f64 f(f64)\n", &cfg, "f");
    REQUIRE(f != NULL);
    ASSERT_EQ_INT(f->hook, CM_HOOK_AUTO);
    ASSERT_EQ_INT(f->identity, CM_IDENT_CODE);
    cm_config_free(&cfg);
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        snprintf(text, sizeof(text), "[function f]\nsignature = f64 f(f64)\n%s = %s\n", rows[i].key,
                 rows[i].text);
        f = good(text, &cfg, "f");
        REQUIRE(f != NULL);
        ASSERT_EQ_INT(rows[i].key[0] == 'h' ? f->hook : f->identity, rows[i].want);
        cm_config_free(&cfg);
    }
}

static void test_function_keys(void)
{
    struct cm_config cfg;
    const struct cm_function *f;

    f = good("[cache]\nmode = off\n\n[function lgamma]\nsignature = f64 lgamma(f64 x)\n"
             "object = */libm.so*\nmode = readonly\nsalt = v2\nreads = a:4, b_2 : 1K\n"
             "writes = signgam:4\nerrno = yes\nmin_time = 250ms\n",
             &cfg, "lgamma");
    REQUIRE(f != NULL);
    ASSERT_EQ_INT(cfg.mode, CM_MODE_OFF);
    ASSERT_EQ_STR(f->object, "*/libm.so*");
    ASSERT_EQ_INT(f->mode, CM_MODE_READONLY);
    ASSERT_EQ_STR(f->salt, "v2");
    ASSERT_EQ_INT(f->nreads, 2);
    ASSERT_EQ_STR(f->reads[0].name, "a");
    ASSERT_EQ_UINT(f->reads[0].size, 4);
    ASSERT_EQ_STR(f->reads[1].name, "b_2");
    ASSERT_EQ_UINT(f->reads[1].size, 1024);
    ASSERT_EQ_INT(f->nwrites, 1);
    ASSERT_EQ_STR(f->writes[0].name, "signgam");
    ASSERT_EQ_UINT(f->writes[0].size, 4);
    ASSERT_TRUE(f->save_errno);
    ASSERT_EQ_UINT(f->min_time_ns, 250000000ULL);
    ASSERT_EQ_INT(f->line, 4);
    ASSERT_EQ_STR(f->sig.normalized, "f64 lgamma(f64)");
    cm_config_free(&cfg);

    /* Defaults of a function section. */
    f = good("[function sqrt]\nsignature = double sqrt(double)\n", &cfg, "sqrt");
    REQUIRE(f != NULL);
    ASSERT_EQ_STR(f->object, "");
    ASSERT_EQ_INT(f->mode, CM_MODE_UNSET);
    ASSERT_EQ_STR(f->salt, "");
    ASSERT_EQ_INT(f->nreads, 0);
    ASSERT_EQ_INT(f->nwrites, 0);
    ASSERT_TRUE(!f->save_errno);
    ASSERT_EQ_UINT(f->min_time_ns, 0);
    ASSERT_EQ_STR(f->sig.normalized, "f64 sqrt(f64)");
    cm_config_free(&cfg);

    /* Functions keep file order; max globals. */
    good("[function a]\nsignature = void a(void)\n[function b]\nsignature = void b()\n"
         "writes = v1:1,v2:2,v3:3,v4:4,v5:5,v6:6,v7:7,v8:1M\n",
         &cfg, "");
    REQUIRE(cfg.nfunctions == 2);
    ASSERT_EQ_STR(cfg.functions[0].name, "a");
    ASSERT_EQ_STR(cfg.functions[1].name, "b");
    ASSERT_EQ_INT(cfg.functions[1].nwrites, 8);
    ASSERT_EQ_UINT(cfg.functions[1].writes[7].size, 1048576);
    ASSERT_EQ_STR(cfg.functions[1].sig.normalized, "void b(void)");
    cm_config_free(&cfg);
}

static void test_continuation_and_long_lines(void)
{
    char text[2048];
    struct cm_config cfg;
    const struct cm_function *f;
    int n;

    f = good("[function pack]\nsignature = i32 pack(out[*outlen] out,\n"
             "                     inout[8] outlen,   ; comments end a line\n"
             "                     in[n] src, u64 n, i32 level)\nmode = off\n",
             &cfg, "pack");
    REQUIRE(f != NULL);
    ASSERT_EQ_STR(f->sig.normalized, "i32 pack(out[*arg2], inout[8], in[arg4], u64, i32)");
    ASSERT_EQ_INT(f->mode, CM_MODE_OFF);
    cm_config_free(&cfg);

    /* Far beyond inih's 200-byte line buffer. */
    n = snprintf(text, sizeof(text), "[function %s]\nsignature = i32 %s(",
                 "a_function_with_a_rather_long_name_to_make_the_line_long_enough",
                 "a_function_with_a_rather_long_name_to_make_the_line_long_enough");
    for (int i = 0; i < 20; i++)
        n += snprintf(text + n, sizeof(text) - (size_t)n, "%su64 parameter_number_%02d",
                      i ? ", " : "", i);
    snprintf(text + n, sizeof(text) - (size_t)n, ")\nmode = readonly\n");
    f = good(text, &cfg, "a_function_with_a_rather_long_name_to_make_the_line_long_enough");
    REQUIRE(f != NULL);
    ASSERT_EQ_INT(f->sig.nparams, 20);
    ASSERT_EQ_STR(f->sig.params[19].name, "parameter_number_19");
    ASSERT_EQ_INT(f->sig.params[19].abi_stack, 13);
    ASSERT_EQ_INT(f->mode, CM_MODE_READONLY);
    cm_config_free(&cfg);
}

/* ---- warnings leave the rest usable ------------------------------------------------------- */

static void test_skipped_function(void)
{
    struct cm_config cfg;
    struct msgs m;

    parse("[function printf]\nsignature = i32 printf(str fmt, ...)\n[function lgamma]\n"
          "signature = f64 lgamma(f64)\n[cache]\nmode = readonly\n",
          &cfg, &m);
    ASSERT_EQ_INT(cfg.nerrors, 0);
    ASSERT_EQ_INT(cfg.nwarnings, 1);
    REQUIRE(cfg.nfunctions == 1);
    ASSERT_EQ_STR(cfg.functions[0].name, "lgamma");
    ASSERT_EQ_INT(cfg.mode, CM_MODE_READONLY);
    cm_config_free(&cfg);
}

/* ---- files -------------------------------------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    REQUIRE(f != NULL);
    fputs(text, f);
    fclose(f);
}

static void test_load(void)
{
    char dir[] = "/tmp/cm_test_cfg_XXXXXX", path[256];
    struct cm_config cfg;
    struct msgs m;

    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/cloudm.conf", dir);
    write_file(path, "[function lgamma]\nsignature = f64 lgamma(dobule x)\n");
    memset(&m, 0, sizeof(m));
    ASSERT_EQ_INT(cm_config_load(path, &cfg, collect, &m), 0);
    ASSERT_EQ_STR(cfg.path, path);
    ASSERT_EQ_INT(m.n, 1);
    {
        char want[512];

        snprintf(want, sizeof(want),
                 "%s:2:24: error: unknown type 'dobule' (did you mean 'double'?)", path);
        ASSERT_EQ_STR(m.text[0], want);
    }
    cm_config_free(&cfg);

    ASSERT_EQ_INT(cm_config_load(dir, &cfg, NULL, NULL), -EISDIR);
    cm_config_free(&cfg);
    unlink(path);
    ASSERT_EQ_INT(cm_config_load(path, &cfg, NULL, NULL), -ENOENT);
    ASSERT_EQ_STR(cfg.ns, "default"); /* defaults even on failure */
    cm_config_free(&cfg);
    rmdir(dir);
}

static void test_load_too_large(void)
{
    char path[] = "/tmp/cm_test_big_XXXXXX";
    struct cm_config cfg;
    struct msgs m;
    int fd = mkstemp(path);

    REQUIRE(fd >= 0);
    REQUIRE(ftruncate(fd, CM_CONFIG_MAX_BYTES + 1) == 0);
    close(fd);
    memset(&m, 0, sizeof(m));
    ASSERT_EQ_INT(cm_config_load(path, &cfg, collect, &m), 0);
    ASSERT_EQ_INT(cfg.nerrors, 1);
    ASSERT_TRUE(m.n == 1 && strstr(m.text[0], ":1:1: error: config too large") != NULL);
    cm_config_free(&cfg);
    unlink(path);
}

static void test_find(void)
{
    char dir[] = "/tmp/cm_test_find_XXXXXX", buf[512], want[512], sub[300];

    REQUIRE(mkdtemp(dir) != NULL);
    REQUIRE(chdir(dir) == 0);
    unsetenv("CLOUDM_CONFIG");
    setenv("HOME", dir, 1);
    unsetenv("XDG_CONFIG_HOME");
    ASSERT_EQ_INT(cm_config_find_in(buf, sizeof(buf), NULL), -ENOENT); /* no system config */

    /* $XDG_CONFIG_HOME/cloudm/cloudm.conf, defaulting to ~/.config */
    snprintf(sub, sizeof(sub), "%s/.config", dir);
    mkdir(sub, 0700);
    snprintf(sub, sizeof(sub), "%s/.config/cloudm", dir);
    mkdir(sub, 0700);
    snprintf(want, sizeof(want), "%s/.config/cloudm/cloudm.conf", dir);
    write_file(want, "");
    ASSERT_EQ_INT(cm_config_find(buf, sizeof(buf)), 0);
    ASSERT_EQ_STR(buf, want);
    setenv("XDG_CONFIG_HOME", "/nonexistent-cm-test", 1);
    ASSERT_EQ_INT(cm_config_find_in(buf, sizeof(buf), NULL), -ENOENT); /* no system config */
    snprintf(sub, sizeof(sub), "%s/.config", dir);
    setenv("XDG_CONFIG_HOME", sub, 1);
    ASSERT_EQ_INT(cm_config_find(buf, sizeof(buf)), 0);
    ASSERT_EQ_STR(buf, want);

    /* ./cloudm.conf wins over XDG, reported as an absolute path. */
    write_file("cloudm.conf", "");
    ASSERT_EQ_INT(cm_config_find(buf, sizeof(buf)), 0);
    {
        char cwd[256];

        REQUIRE(getcwd(cwd, sizeof(cwd)) != NULL);
        snprintf(want, sizeof(want), "%s/cloudm.conf", cwd);
    }
    ASSERT_EQ_STR(buf, want);

    /* $CLOUDM_CONFIG wins over everything, as given, even if it does not exist. */
    setenv("CLOUDM_CONFIG", "/elsewhere/x.conf", 1);
    ASSERT_EQ_INT(cm_config_find(buf, sizeof(buf)), 0);
    ASSERT_EQ_STR(buf, "/elsewhere/x.conf");
    setenv("CLOUDM_CONFIG", "", 1); /* empty: ignored */
    ASSERT_EQ_INT(cm_config_find(buf, sizeof(buf)), 0);
    ASSERT_EQ_STR(buf, want);
    ASSERT_EQ_INT(cm_config_find(buf, 4), -ENAMETOOLONG);

    unlink("cloudm.conf");
    snprintf(want, sizeof(want), "%s/.config/cloudm/cloudm.conf", dir);
    unlink(want);
    snprintf(sub, sizeof(sub), "%s/.config/cloudm", dir);
    rmdir(sub);
    snprintf(sub, sizeof(sub), "%s/.config", dir);
    rmdir(sub);
    rmdir(dir);
}

/* SYSCONFDIR/cloudm/cloudm.conf comes last: after ./cloudm.conf and the user's XDG config. */
static void test_find_system(void)
{
    char dir[] = "/tmp/cm_test_sys_XXXXXX", buf[512], sys[300], sysfile[400], user[400];
    char sub[300], cwd[300];

    REQUIRE(mkdtemp(dir) != NULL);
    REQUIRE(chdir(dir) == 0);
    REQUIRE(getcwd(cwd, sizeof(cwd)) != NULL);
    unsetenv("CLOUDM_CONFIG");
    setenv("HOME", dir, 1);
    unsetenv("XDG_CONFIG_HOME");
    snprintf(sys, sizeof(sys), "%s/etc", dir);
    ASSERT_EQ_INT(cm_config_find_in(buf, sizeof(buf), sys), -ENOENT);
    mkdir(sys, 0700);
    snprintf(sub, sizeof(sub), "%s/etc/cloudm", dir);
    mkdir(sub, 0700);
    snprintf(sysfile, sizeof(sysfile), "%s/cloudm.conf", sub);
    write_file(sysfile, "");
    ASSERT_EQ_INT(cm_config_find_in(buf, sizeof(buf), sys), 0);
    ASSERT_EQ_STR(buf, sysfile);
    /* no system directory, or a relative one: not looked at */
    ASSERT_EQ_INT(cm_config_find_in(buf, sizeof(buf), NULL), -ENOENT);
    ASSERT_EQ_INT(cm_config_find_in(buf, sizeof(buf), "etc"), -ENOENT);
    /* without HOME the system config is still found */
    unsetenv("HOME");
    ASSERT_EQ_INT(cm_config_find_in(buf, sizeof(buf), sys), 0);
    ASSERT_EQ_STR(buf, sysfile);
    setenv("HOME", dir, 1);

    /* the user's config wins over the system one */
    snprintf(sub, sizeof(sub), "%s/xdg", dir);
    mkdir(sub, 0700);
    setenv("XDG_CONFIG_HOME", sub, 1);
    snprintf(sub, sizeof(sub), "%s/xdg/cloudm", dir);
    mkdir(sub, 0700);
    snprintf(user, sizeof(user), "%s/cloudm.conf", sub);
    write_file(user, "");
    ASSERT_EQ_INT(cm_config_find_in(buf, sizeof(buf), sys), 0);
    ASSERT_EQ_STR(buf, user);
    /* ./cloudm.conf wins over both */
    write_file("cloudm.conf", "");
    ASSERT_EQ_INT(cm_config_find_in(buf, sizeof(buf), sys), 0);
    snprintf(user, sizeof(user), "%s/cloudm.conf", cwd);
    ASSERT_EQ_STR(buf, user);

    unlink("cloudm.conf");
    snprintf(user, sizeof(user), "%s/xdg/cloudm/cloudm.conf", dir);
    unlink(user);
    unlink(sysfile);
    snprintf(sub, sizeof(sub), "%s/xdg/cloudm", dir);
    rmdir(sub);
    snprintf(sub, sizeof(sub), "%s/xdg", dir);
    rmdir(sub);
    snprintf(sub, sizeof(sub), "%s/etc/cloudm", dir);
    rmdir(sub);
    rmdir(sys);
    REQUIRE(chdir("/") == 0);
    rmdir(dir);
    unsetenv("XDG_CONFIG_HOME");
}

/* The example configs shipped in config/examples/ must parse cleanly. */
static void test_examples(void)
{
#ifdef CM_SOURCE_DIR
    static const char *const files[] = {"lgamma.conf", "crypt.conf", "zlib.conf"};
    char path[1024];
    struct cm_config cfg;
    struct msgs m;
    size_t i;

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/config/examples/%s", CM_SOURCE_DIR, files[i]);
        memset(&m, 0, sizeof(m));
        ASSERT_EQ_INT(cm_config_load(path, &cfg, collect, &m), 0);
        ASSERT_EQ_INT(cfg.nerrors, 0);
        ASSERT_EQ_INT(cfg.nwarnings, 0);
        ASSERT_TRUE(cfg.nfunctions > 0);
        if (m.n > 0)
            ASSERT_EQ_STR(m.text[0], "(no message expected)");
        cm_config_free(&cfg);
    }
#endif
}

int main(void)
{
    RUN_TEST(test_defaults);
    RUN_TEST(test_cache_section);
    RUN_TEST(test_shared_tier_keys);
    RUN_TEST(test_remote_keys);
    RUN_TEST(test_singleflight);
    RUN_TEST(test_hook_identity);
    RUN_TEST(test_function_keys);
    RUN_TEST(test_continuation_and_long_lines);
    RUN_TEST(test_skipped_function);
    RUN_TEST(test_load);
    RUN_TEST(test_load_too_large);
    RUN_TEST(test_find);
    RUN_TEST(test_find_system);
    RUN_TEST(test_examples);
    return cm_test_summary();
}
