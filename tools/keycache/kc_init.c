/*
 * kc_init.c - `cloudm keycache --init DIR`: the files a team needs for a remote cache that
 * nobody without the secret can plant values in, made in one step.
 *
 * What it does: creates DIR (mode 0700, not its parents) and in it, each mode 0600 and never
 * overwriting an existing file: `team.secret` (32 random bytes as 64 hex digits: the clients'
 * secret_file, which makes keys HMACs and values AES-256-GCM, authenticated), `tokens` (the
 * server's --token-file: one rw and one ro token of 24 random bytes each), `rw.token` and
 * `ro.token` (the clients' token_file); then prints the server's command line and the [cache]
 * lines of a writing and of a read-only client.
 *
 * What it does not do: no server start, no copy to other machines, no TLS certificate.
 * Randomness comes from getrandom(2) (the kernel's CSPRNG), nothing else.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keycache.h"

#define SECRET_BYTES 32
#define TOKEN_BYTES 24

static int random_hex(char *out, size_t nbytes)
{
    unsigned char raw[64];
    size_t got = 0;

    while (got < nbytes) {
        ssize_t n = getrandom(raw + got, nbytes - got, 0);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    memset(raw, 0, sizeof(raw));
    return 0;
}

/* Writes `text` to DIR/NAME, mode 0600, failing if the file exists. 0 or -errno. */
static int write_new(const char *dir, const char *name, const char *text, char *path, size_t psz)
{
    size_t len = strlen(text);
    int fd, rc = 0;

    snprintf(path, psz, "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0)
        rc = errno != 0 ? -errno : -EIO;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    return rc;
}

int kc_init(const char *dir_arg, const char *listen)
{
    static const char *const names[] = {"team.secret", "tokens", "rw.token", "ro.token"};
    char dir[PATH_MAX], path[PATH_MAX + 32], secret[2 * SECRET_BYTES + 1];
    char rw[2 * TOKEN_BYTES + 1], ro[2 * TOKEN_BYTES + 1], text[256], host[256];
    const char *port;
    struct stat st;
    int rc;

    if (realpath(dir_arg, dir) == NULL) {
        if (errno != ENOENT || mkdir(dir_arg, 0700) != 0 || realpath(dir_arg, dir) == NULL) {
            fprintf(stderr, "cloudm keycache: --init %s: %s\n", dir_arg, strerror(errno));
            return KC_EXIT_FAIL;
        }
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "cloudm keycache: --init %s: not a directory\n", dir_arg);
        return KC_EXIT_FAIL;
    }
    /* Never replace a team's secret or tokens: every file must be new. */
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (lstat(path, &st) == 0) {
            fprintf(stderr,
                    "cloudm keycache: --init: %s exists; remove it first to make new ones (the "
                    "clients' secret and tokens then change too)\n",
                    path);
            return KC_EXIT_FAIL;
        }
    }
    rc = random_hex(secret, SECRET_BYTES);
    if (rc == 0)
        rc = random_hex(rw, TOKEN_BYTES);
    if (rc == 0)
        rc = random_hex(ro, TOKEN_BYTES);
    if (rc != 0) {
        fprintf(stderr, "cloudm keycache: --init: getrandom: %s\n", strerror(-rc));
        return KC_EXIT_FAIL;
    }
    snprintf(text, sizeof(text), "%s\n", secret);
    rc = write_new(dir, "team.secret", text, path, sizeof(path));
    snprintf(text, sizeof(text),
             "# cloudm keycache --token-file: rw writes, ro reads\nrw %s\nro %s\n", rw, ro);
    if (rc == 0)
        rc = write_new(dir, "tokens", text, path, sizeof(path));
    snprintf(text, sizeof(text), "%s\n", rw);
    if (rc == 0)
        rc = write_new(dir, "rw.token", text, path, sizeof(path));
    snprintf(text, sizeof(text), "%s\n", ro);
    if (rc == 0)
        rc = write_new(dir, "ro.token", text, path, sizeof(path));
    memset(secret, 0, sizeof(secret));
    memset(text, 0, sizeof(text));
    if (rc != 0) {
        fprintf(stderr, "cloudm keycache: --init: %s: %s\n", path, strerror(-rc));
        return KC_EXIT_FAIL;
    }

    /* The address clients use: the --listen host unless it is a wildcard. */
    port = strrchr(listen, ':');
    snprintf(host, sizeof(host), "%.*s", port != NULL ? (int)(port - listen) : 0, listen);
    if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "[::]") == 0) {
        if (gethostname(host, sizeof(host) - 1) != 0)
            snprintf(host, sizeof(host), "SERVER");
        host[sizeof(host) - 1] = '\0';
    }
    printf("Created in %s (each file mode 0600):\n"
           "  team.secret  the clients' secret: keys become HMACs and values are encrypted and\n"
           "               authenticated, so nobody without it can plant a value\n"
           "  tokens       the server's token file (one rw and one ro token)\n"
           "  rw.token     the token of clients that compute and upload\n"
           "  ro.token     the token of clients that only read\n"
           "\n"
           "Server (it never needs team.secret):\n"
           "  cloudm keycache --listen %s --token-file %s/tokens\n"
           "  (add --tls-cert and --tls-key when the network is not trusted)\n"
           "\n"
           "Clients that compute and upload, in cloudm.conf (copy team.secret and rw.token,\n"
           "mode 0600):\n"
           "  [cache]\n"
           "  remote      = http://%s%s\n"
           "  token_file  = %s/rw.token\n"
           "  secret_file = %s/team.secret\n"
           "\n"
           "Clients that only read (copy team.secret and ro.token):\n"
           "  [cache]\n"
           "  remote      = http://%s%s\n"
           "  token_file  = %s/ro.token\n"
           "  secret_file = %s/team.secret\n"
           "  remote_mode = readonly\n",
           dir, listen, dir, host, port != NULL ? port : ":7878", dir, dir, host,
           port != NULL ? port : ":7878", dir, dir);
    return 0;
}
