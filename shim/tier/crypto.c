/*
 * crypto.c - the shim's access to cryptography: loads libcloudm-crypto.so when the config needs
 * it, and keeps the per-user key of `sensitive = yes` functions.
 *
 * What it does: cm_crypto_init() dlopen()s libcloudm-crypto.so (beside libcloudm.so, or
 * $CLOUDM_CRYPTO_LIB) when a remote tier is configured (large inputs then enter keys as SHA-256)
 * or some function is sensitive; for sensitive functions it reads the per-user key, creating it
 * on first use, and derives two subkeys from it (HMAC-SHA256 with the labels "cloudm sensitive
 * key v1" and "cloudm sensitive value v1"): one for keyed digests of keys, one for AES-256-GCM.
 *
 * What it does not do: decide what is sensitive (bind.c) or where sealed values go (shared.c).
 * The raw key is wiped from memory once the subkeys are derived; the subkeys stay in this
 * process's memory (docs/security.md says what that does and does not protect against).
 *
 * The key file: $CLOUDM_KEY_FILE, else $XDG_CONFIG_HOME/cloudm/sensitive.key, else
 * ~/.config/cloudm/sensitive.key. 32 random bytes, mode 0600, owned by the user; created with
 * O_EXCL under a temporary name and link()ed into place, so concurrent first uses agree on one
 * key. A file of another owner, readable by others, or of another size is refused (sensitive
 * functions are then not cached, with one message).
 */
#include "tier.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cloudm_env.h"
#include "base/base.h"

const struct cm_crypto_api *cm_crypto;
static uint8_t sens_mac[32], sens_enc[32];
static int sens_ok;

static int lib_path(char *buf, size_t size)
{
    const char *env = getenv(CLOUDM_ENV_CRYPTO_LIB);
    if (env && *env)
        return snprintf(buf, size, "%s", env) < (int)size ? 0 : -1;
    Dl_info di;
    if (!dladdr((void *)lib_path, &di) || !di.dli_fname)
        return -1;
    const char *slash = strrchr(di.dli_fname, '/');
    int dir = slash ? (int)(slash - di.dli_fname) + 1 : 0;
    return snprintf(buf, size, "%.*slibcloudm-crypto.so", dir, di.dli_fname) < (int)size ? 0 : -1;
}

int cm_sens_key_path(char *buf, size_t n)
{
    const char *env = getenv(CLOUDM_ENV_KEY_FILE);
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int r;
    if (env && *env)
        r = snprintf(buf, n, "%s", env);
    else if (xdg && *xdg == '/')
        r = snprintf(buf, n, "%s/cloudm/sensitive.key", xdg);
    else if (home && *home == '/')
        r = snprintf(buf, n, "%s/.config/cloudm/sensitive.key", home);
    else
        return -1;
    return r > 0 && (size_t)r < n ? 0 : -1;
}

/* mkdir -p of the directories above path, 0700. */
static void make_parents(const char *path)
{
    char d[CM_PATH_MAX];
    snprintf(d, sizeof(d), "%s", path);
    for (char *p = d + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        mkdir(d, 0700);
        *p = '/';
    }
}

/* Reads the key; creates it when missing. 0, or -1 with a message in err. */
static int load_key(const char *path, uint8_t key[32], char *err, size_t errn)
{
    for (int round = 0; round < 3; round++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) {
            struct stat st;
            ssize_t n = -1;
            if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
                (st.st_mode & 077) == 0 && st.st_size == 32)
                n = read(fd, key, 32);
            close(fd);
            if (n == 32)
                return 0;
            snprintf(err, errn, "%s: refused (it must be 32 bytes, ours, mode 0600)", path);
            return -1;
        }
        if (errno != ENOENT) {
            snprintf(err, errn, "%s: %s", path, strerror(errno));
            return -1;
        }
        make_parents(path);
        char tmp[CM_PATH_MAX + 32];
        snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
        uint8_t k[32];
        if (cm_crypto->random(k, sizeof(k)) < 0) {
            snprintf(err, errn, "no random bytes for %s", path);
            return -1;
        }
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            snprintf(err, errn, "cannot create %s: %s", tmp, strerror(errno));
            return -1;
        }
        int ok = write(fd, k, sizeof(k)) == (ssize_t)sizeof(k) && fsync(fd) == 0;
        close(fd);
        memset(k, 0, sizeof(k));
        if (ok && link(tmp, path) != 0 && errno != EEXIST)
            ok = 0;
        unlink(tmp);
        if (!ok) {
            snprintf(err, errn, "cannot create %s: %s", path, strerror(errno));
            return -1;
        }
        /* read it back: whoever linked first decided the key */
    }
    snprintf(err, errn, "%s: cannot be read", path);
    return -1;
}

void cm_crypto_init(const struct cm_config *cfg)
{
    int sensitive = 0;
    for (int i = 0; i < cfg->nfunctions; i++) {
        uint8_t s = cfg->functions[i].sensitive;
        if (s == CM_SENS_YES || (s == CM_SENS_UNSET && cfg->sensitive))
            sensitive = 1;
    }
    int remote = (cfg->tiers & CM_TIER_REMOTE) && cfg->remote[0];
    if (!sensitive && !remote)
        return;
    char path[CM_PATH_MAX], err[CM_PATH_MAX + 128];
    void *h = NULL;
    if (lib_path(path, sizeof(path)) == 0)
        h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    const struct cm_crypto_api *a = h ? dlsym(h, "cm_crypto_plugin") : NULL;
    if (!a || a->abi != CM_CRYPTO_ABI) {
        cm_log("cannot load libcloudm-crypto.so (%s): %s", h ? "wrong version" : dlerror(),
               sensitive ? "sensitive functions are not cached" : "no remote tier");
        if (h)
            dlclose(h);
        return;
    }
    cm_crypto = a;
    if (!sensitive)
        return;
    uint8_t key[32];
    if (cm_sens_key_path(path, sizeof(path)) < 0) {
        cm_log("sensitive functions are not cached: no key file path ($HOME unset; set %s)",
               CLOUDM_ENV_KEY_FILE);
        return;
    }
    if (load_key(path, key, err, sizeof(err)) < 0) {
        cm_log("sensitive functions are not cached: %s", err);
        return;
    }
    static const char lk[] = "cloudm sensitive key v1", lv[] = "cloudm sensitive value v1";
    cm_crypto->hmac256(key, lk, sizeof(lk) - 1, sens_mac);
    cm_crypto->hmac256(key, lv, sizeof(lv) - 1, sens_enc);
    __asm__ volatile("" ::: "memory");
    memset(key, 0, sizeof(key));
    __asm__ volatile("" ::"r"(key) : "memory"); /* the wipe is not optimised away */
    sens_ok = 1;
}

int cm_sens_ready(void)
{
    return sens_ok;
}

void cm_sens_digest(const uint8_t *k, uint32_t klen, uint8_t out[32])
{
    cm_crypto->hmac256(sens_mac, k, klen, out);
}

int cm_sens_seal(const uint8_t sk[32], const uint8_t *v, uint32_t vlen, uint8_t *out)
{
    return cm_crypto->seal(sens_enc, sk, 32, v, vlen, out);
}

int cm_sens_open(const uint8_t sk[32], const uint8_t *in, uint32_t n, uint8_t *out)
{
    return cm_crypto->open(sens_enc, sk, 32, in, n, out);
}
