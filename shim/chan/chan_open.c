/*
 * chan_open.c - naming, creating, checking and mapping a channel file, and starting its agent
 * (see chan.h).
 *
 * What it does: derives the file name from the remote configuration (XXH3 of struct
 * cm_chan_conf), creates the file atomically (a private temporary file, fully initialized,
 * then link()ed into place, so nobody ever maps a half-made header), checks owner, type and
 * mode before mapping anything, replaces a file of an older protocol version after telling its
 * agent to stop, and spawns the agent without leaving the caller a visible child.
 *
 * What it does not do: any ring traffic (chan_ring.c); decide when an agent is needed (the
 * host's remote tier and `cloudm agent` do).
 */
#include "chan.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "cm_config.h"

#define PAGE 4096ull
#define ENV_OVERHEAD 88ull /* envelope header + GCM tag + checksum (shim/remote/envelope.h) */

uint64_t cm_chan_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void cm_chan_wait(_Atomic uint32_t *w, uint32_t val, uint64_t timeout_ns)
{
    struct timespec ts = {(time_t)(timeout_ns / 1000000000ull), (long)(timeout_ns % 1000000000ull)};
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT, val, &ts, NULL, 0);
}

void cm_chan_wake(_Atomic uint32_t *w, int n)
{
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, n, NULL, NULL, 0);
}

static uint64_t round_page(uint64_t n)
{
    return (n + PAGE - 1) & ~(PAGE - 1);
}

int cm_chan_for_config(const struct cm_config *cfg, struct cm_chan_conf *c, char *path, size_t size,
                       char *secret, size_t secsz)
{
    char seg[4096];

    memset(c, 0, sizeof(*c));
    if (cm_path_expand(cfg->token_file, c->token_file, sizeof(c->token_file)) < 0 ||
        cm_path_expand(cfg->remote_ca, c->ca_file, sizeof(c->ca_file)) < 0 ||
        cm_path_expand(cfg->secret_file, secret, secsz) < 0 ||
        cm_path_expand(cfg->shared_path[0] ? cfg->shared_path : "/dev/shm/cloudm-%u", seg,
                       sizeof(seg)) < 0 ||
        snprintf(c->url, sizeof(c->url), "%s", cfg->remote) >= (int)sizeof(c->url))
        return -ENAMETOOLONG;
    snprintf(c->ns, sizeof(c->ns), "%s", cfg->ns);
    if (secret[0])
        snprintf(c->secret_id, sizeof(c->secret_id), "%016llx",
                 (unsigned long long)XXH3_64bits(secret, strlen(secret)));
    c->timeout_ns = cfg->remote_timeout_ns;
    c->flush_ns = cfg->flush_timeout_ns;
    c->max_value = cfg->remote_max_value;
    c->expire_ns = cfg->remote_expire_ns;
    c->idle_ns = cfg->agent_idle_ns;
    c->queue_bytes = cfg->remote_queue_bytes;
    return cm_chan_path(seg, c, path, size);
}

int cm_chan_path(const char *seg_path, const struct cm_chan_conf *c, char *out, size_t size)
{
    uint64_t h = XXH3_64bits(c, sizeof(*c));
    int n = snprintf(out, size, "%s-agent-%016llx", seg_path, (unsigned long long)h);
    return n > 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

static void layout(struct cm_chan_hdr *h, const struct cm_chan_conf *c)
{
    uint64_t env = c->max_value + ENV_OVERHEAD;
    uint64_t rec = env + sizeof(struct cm_chan_rec) + 8;
    uint64_t ring = c->queue_bytes + c->queue_bytes / 8;

    if (ring < 2 * rec)
        ring = 2 * rec;
    h->slot_bytes = round_page(env);
    h->slots_off = CM_CHAN_HDR_BYTES;
    h->ring_off = h->slots_off + CM_CHAN_SLOTS * h->slot_bytes;
    h->ring_bytes = round_page(ring);
    h->total_bytes = h->ring_off + h->ring_bytes;
}

uint64_t cm_chan_map_bytes(uint64_t max_value, uint64_t queue_bytes)
{
    struct cm_chan_hdr h;
    struct cm_chan_conf c;

    memset(&c, 0, sizeof(c));
    c.max_value = max_value;
    c.queue_bytes = queue_bytes;
    layout(&h, &c);
    return h.total_bytes;
}

static int sys_err(char *err, size_t errsz, const char *what, const char *path)
{
    int e = errno;
    snprintf(err, errsz, "%s %s: %s", what, path, strerror(e));
    return -e;
}

/* Creates path for conf (see the header comment). 0, -EEXIST when someone else won, else
 * negative errno with err set. */
static int create(const char *path, const struct cm_chan_conf *conf, char *err, size_t errsz)
{
    char tmp[4200];
    struct cm_chan_hdr proto;
    int rc = 0;

    memset(&proto, 0, sizeof(proto));
    layout(&proto, conf);
    snprintf(tmp, sizeof(tmp), "%s.new%ld", path, (long)syscall(SYS_getpid));
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return sys_err(err, errsz, "cannot create", tmp);
    if (fchmod(fd, 0600) < 0 || ftruncate(fd, (off_t)proto.total_bytes) < 0) {
        rc = sys_err(err, errsz, "cannot size", tmp);
        goto out;
    }
    struct cm_chan_hdr *h =
        mmap(NULL, CM_CHAN_HDR_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (h == MAP_FAILED) {
        rc = sys_err(err, errsz, "cannot map", tmp);
        goto out;
    }
    memcpy(h, &proto, sizeof(proto));
    h->version = CM_CHAN_VERSION;
    h->uid = (uint32_t)geteuid();
    h->conf = *conf;
    atomic_store(&h->magic, CM_CHAN_MAGIC);
    munmap(h, CM_CHAN_HDR_BYTES);
    if (link(tmp, path) < 0)
        rc = errno == EEXIST ? -EEXIST : sys_err(err, errsz, "cannot create", path);
out:
    close(fd);
    unlink(tmp);
    return rc;
}

/* Opens and checks path; maps it. NULL with errno-style *rc (-ENOENT: absent, -ESTALE: another
 * protocol version, header mapped in *old so the caller can stop its agent). */
static struct cm_chan_hdr *map_existing(const char *path, const struct cm_chan_conf *conf, int *rc,
                                        size_t *mapsz, char *err, size_t errsz)
{
    struct stat st;
    struct cm_chan_hdr *h = NULL;
    int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0) {
        *rc = errno == ENOENT ? -ENOENT : sys_err(err, errsz, "cannot open", path);
        return NULL;
    }
    *rc = -EPERM;
    if (fstat(fd, &st) < 0) {
        *rc = sys_err(err, errsz, "cannot stat", path);
    } else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        snprintf(err, errsz, "%s is not a regular file of this user: refused", path);
    } else if (st.st_mode & 077) {
        snprintf(err, errsz, "%s is accessible to other users (mode %03o): refused", path,
                 (unsigned)(st.st_mode & 0777));
    } else if ((uint64_t)st.st_size < CM_CHAN_HDR_BYTES) {
        snprintf(err, errsz, "%s is too short to be a cloudm channel: refused", path);
    } else {
        h = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (h == MAP_FAILED) {
            h = NULL;
            *rc = sys_err(err, errsz, "cannot map", path);
        } else if (atomic_load(&h->magic) != CM_CHAN_MAGIC || h->uid != geteuid()) {
            snprintf(err, errsz, "%s is not a cloudm channel of this user: refused", path);
        } else if (h->version != CM_CHAN_VERSION) {
            snprintf(err, errsz, "%s is a channel of protocol version %u (this is %u)", path,
                     h->version, CM_CHAN_VERSION);
            *rc = -ESTALE;
            *mapsz = (size_t)st.st_size;
            close(fd);
            return h; /* the caller stops its agent and unmaps it */
        } else if (h->total_bytes != (uint64_t)st.st_size ||
                   (conf != NULL && memcmp(&h->conf, conf, sizeof(*conf)) != 0)) {
            snprintf(err, errsz, "%s does not match this configuration: refused", path);
        } else {
            *rc = 0;
            close(fd);
            return h;
        }
        if (h != NULL)
            munmap(h, (size_t)st.st_size);
        h = NULL;
    }
    close(fd);
    return NULL;
}

struct cm_chan_hdr *cm_chan_open(const char *path, const struct cm_chan_conf *conf, char *err,
                                 size_t errsz)
{
    for (int attempt = 0; attempt < 4; attempt++) {
        int rc;
        size_t mapsz = 0;
        struct cm_chan_hdr *h = map_existing(path, conf, &rc, &mapsz, err, errsz);

        if (rc == 0)
            return h;
        if (rc == -ESTALE) {
            /* An older (or newer) agent: ask it to finish its queue and go; its hosts keep
             * their mapping of the old file. Only a newer cloudm replaces the file. */
            int older = h->version < CM_CHAN_VERSION;
            if (older) {
                atomic_store(&h->stop, 1);
                cm_chan_wake(&h->stop, 1 << 30);
            }
            munmap(h, mapsz);
            if (!older || conf == NULL || unlink(path) < 0)
                return NULL;
            continue;
        }
        if (rc != -ENOENT || conf == NULL) {
            if (rc == -ENOENT)
                snprintf(err, errsz, "%s: no such channel", path);
            return NULL;
        }
        rc = create(path, conf, err, errsz);
        if (rc < 0 && rc != -EEXIST)
            return NULL;
    }
    snprintf(err, errsz, "%s: could not be created or opened", path);
    return NULL;
}

void cm_chan_unmap(struct cm_chan_hdr *h)
{
    if (h != NULL)
        munmap(h, h->total_bytes);
}

int cm_chan_agent_alive(struct cm_chan_hdr *h)
{
    uint32_t pid = atomic_load(&h->agent_pid);

    if (pid == 0)
        return 0;
    if (cm_chan_now() - atomic_load(&h->heartbeat_ns) < CM_CHAN_DEAD_NS)
        return 1;
    return cm_chan_agent_check(h);
}

int cm_chan_agent_check(struct cm_chan_hdr *h)
{
    uint32_t pid = atomic_load(&h->agent_pid);

    if (pid == 0)
        return 0;
    if (syscall(SYS_kill, (pid_t)pid, 0) == 0 || errno == EPERM)
        return 1; /* alive but stalled (stopped, overloaded): lookups time out, nothing else */
    atomic_compare_exchange_strong(&h->agent_pid, &pid, 0);
    return 0;
}

/* The kernel's struct sigaction for rt_sigaction. */
struct ksigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

/* In the grandchild: raw system calls only (the host may be multi-threaded and sanitizers
 * intercept libc). Never returns. */
static void exec_agent(const char *bin, char *const argv[], char *const envp[])
{
    struct ksigaction dfl = {SIG_DFL, 0, NULL, 0};
    uint64_t none = 0;

    for (int sig = 1; sig < 65; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            syscall(SYS_rt_sigaction, sig, &dfl, NULL, 8);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
    syscall(SYS_chdir, "/");
    syscall(SYS_umask, 077);
    long fd = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR);
    for (int i = 0; i < 3; i++)
        if (fd != i)
            syscall(SYS_dup2, fd, i);
    if (syscall(SYS_close_range, 3u, ~0u, 0u) < 0)
        for (int i = 3; i < 65536; i++)
            syscall(SYS_close, i);
    syscall(SYS_execve, bin, argv, envp);
    syscall(SYS_exit_group, 127);
    __builtin_unreachable();
}

int cm_chan_spawn(struct cm_chan_hdr *h, const char *bin, const char *path, int force)
{
    uint64_t now = cm_chan_now(), last = atomic_load(&h->spawn_ns);
    char *argv[] = {(char *)bin, "agent", "--channel", (char *)path, NULL};
    char *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", NULL};
    int st;

    if (!force && last != 0 && now - last < CM_CHAN_SPAWN_NS)
        return 1;
    if (!atomic_compare_exchange_strong(&h->spawn_ns, &last, now))
        return 1;
    /* First fork: no exit signal, so no SIGCHLD and invisible to wait() and waitpid(-1). */
    long pid = syscall(SYS_clone, 0ul, NULL, NULL, NULL, 0ul);
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        syscall(SYS_setsid);
        long p2 = syscall(SYS_clone, (unsigned long)SIGCHLD, NULL, NULL, NULL, 0ul);
        if (p2 == 0)
            exec_agent(bin, argv, envp);
        syscall(SYS_exit_group, p2 < 0 ? 1 : 0);
    }
    while (syscall(SYS_wait4, (pid_t)pid, &st, __WCLONE, NULL) < 0 && errno == EINTR)
        ;
    return 0;
}
