/*
 * find.c - which config file to use (cm_config_find): $CLOUDM_CONFIG, ./cloudm.conf, the user's
 * $XDG_CONFIG_HOME/cloudm/cloudm.conf, then the system's SYSCONFDIR/cloudm/cloudm.conf
 * (/etc/cloudm/cloudm.conf in the package; docs/config.md has the order).
 *
 * What it does not do: read or parse the file (config.c), create anything.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cloudm_env.h"
#include "cm_config.h"

static int is_file(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

static int put_path(char *buf, size_t bufsz, const char *a, const char *b)
{
    int n = snprintf(buf, bufsz, "%s%s", a, b);

    if (n < 0 || (size_t)n >= bufsz)
        return -ENAMETOOLONG;
    return 0;
}

#ifndef CM_SYSCONFDIR
#define CM_SYSCONFDIR "/etc" /* set by config/CMakeLists.txt from the install's sysconfdir */
#endif

static int find_user(char *buf, size_t bufsz)
{
    char dir[CM_PATH_MAX];
    const char *env, *home;
    int n;

    env = getenv("XDG_CONFIG_HOME");
    if (env != NULL && env[0] == '/') {
        n = snprintf(dir, sizeof(dir), "%s", env);
    } else {
        home = getenv("HOME");
        if (home == NULL || home[0] == '\0')
            return -ENOENT;
        n = snprintf(dir, sizeof(dir), "%s/.config", home);
    }
    if (n < 0 || (size_t)n >= sizeof(dir))
        return -ENOENT;
    if (put_path(buf, bufsz, dir, "/cloudm/cloudm.conf") < 0 || !is_file(buf)) {
        buf[0] = '\0';
        return -ENOENT;
    }
    return 0;
}

int cm_config_find_in(char *buf, size_t bufsz, const char *sysconfdir)
{
    char cwd[CM_PATH_MAX];
    const char *env;

    if (buf == NULL || bufsz == 0)
        return -EINVAL;
    env = getenv(CLOUDM_ENV_CONFIG);
    if (env != NULL && env[0] != '\0')
        return put_path(buf, bufsz, env, "");
    if (is_file("cloudm.conf")) {
        /* Absolute, so that it still names the same file after the program changes directory
         * (and in the children that inherit CLOUDM_CONFIG). */
        if (getcwd(cwd, sizeof(cwd)) != NULL)
            return put_path(buf, bufsz, cwd, "/cloudm.conf");
        return put_path(buf, bufsz, "cloudm.conf", "");
    }
    if (find_user(buf, bufsz) == 0)
        return 0;
    if (sysconfdir != NULL && sysconfdir[0] == '/') {
        if (put_path(buf, bufsz, sysconfdir, "/cloudm/cloudm.conf") == 0 && is_file(buf))
            return 0;
        buf[0] = '\0';
    }
    return -ENOENT;
}

int cm_config_find(char *buf, size_t bufsz)
{
    return cm_config_find_in(buf, bufsz, CM_SYSCONFDIR);
}

const char *cm_config_system_path(void)
{
    return CM_SYSCONFDIR "/cloudm/cloudm.conf";
}
