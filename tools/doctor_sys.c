/*
 * doctor_sys.c - the machine-side checks of `cloudm doctor`: the shared segment (path, owner,
 * mode, size, fill, free space and type of its file system, huge pages), the remote's agent
 * (its channel beside the segment, opened read-only: running or not), the code identity cache
 * directory, and the kernel settings that matter to cloudm.
 *
 * What it does: looks at the segment as the shim would find it, through the segment module the
 * shim and `cloudm stats` use (cm_seg_open with create = 0, cm_seg_get_info); reads
 * /proc/self/mountinfo, /proc/meminfo and /sys/kernel/mm/transparent_hugepage/.
 *
 * What it does not do: create, resize or clear a segment, create the identity cache directory,
 * or change any kernel setting; it only says what it found and what to do about it.
 */
#include <errno.h>
#include <stdatomic.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cloudm_env.h"
#include "chan/chan.h"
#include "doctor.h"
#include "seg/seg.h"

#define TMPFS_MAGIC_V 0x01021994
#define HUGETLBFS_MAGIC_V 0x958458f6

/* The mount holding `dir`: its file system type and super options (from /proc/self/mountinfo,
 * longest mount point that is a prefix of the resolved `dir`). Returns 0 or -1. */
static int mount_of(const char *dir, char *fstype, size_t ftsz, char *opts, size_t osz)
{
    char real[PATH_MAX], line[4096], best[PATH_MAX] = "";
    FILE *f;
    size_t bestlen = 0;

    if (realpath(dir, real) == NULL)
        return -1;
    f = fopen("/proc/self/mountinfo", "re");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        char mp[PATH_MAX], ft[64], src[PATH_MAX], so[1024];
        const char *dash = strstr(line, " - ");
        size_t n;

        if (dash == NULL || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 ||
            sscanf(dash + 3, "%63s %4095s %1023s", ft, src, so) != 3)
            continue;
        n = strlen(mp);
        if (strncmp(real, mp, n) != 0 || (real[n] != '/' && real[n] != '\0' && n != 1))
            continue;
        if (n >= bestlen) {
            bestlen = n;
            snprintf(best, sizeof(best), "%s", mp);
            snprintf(fstype, ftsz, "%s", ft);
            snprintf(opts, osz, "%s", so);
        }
    }
    fclose(f);
    return best[0] != '\0' ? 0 : -1;
}

/* A value of /proc/meminfo in kB (or pages for HugePages_*), -1 when absent. */
static long long meminfo(const char *key)
{
    char line[256];
    size_t n = strlen(key);
    long long v = -1;
    FILE *f = fopen("/proc/meminfo", "re");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, key, n) == 0 && line[n] == ':') {
            v = strtoll(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* The selected word of a sysfs "a [b] c" file into out; -1 when unreadable. */
static int sysfs_choice(const char *path, char *out, size_t size)
{
    char buf[256], *l, *r;
    FILE *f = fopen(path, "re");

    if (f == NULL)
        return -1;
    if (fgets(buf, sizeof(buf), f) == NULL) {
        fclose(f);
        return -1;
    }
    fclose(f);
    l = strchr(buf, '[');
    r = l != NULL ? strchr(l, ']') : NULL;
    if (l == NULL || r == NULL) {
        buf[strcspn(buf, "\n")] = '\0';
        snprintf(out, size, "%s", buf);
    } else {
        *r = '\0';
        snprintf(out, size, "%s", l + 1);
    }
    return 0;
}

/* "huge=within_size" among mount options: the value after huge=, or "" when absent. */
static void huge_option(const char *opts, char *out, size_t size)
{
    const char *p = strstr(opts, "huge=");

    out[0] = '\0';
    if (p != NULL && (p == opts || p[-1] == ','))
        snprintf(out, size, "%.*s", (int)strcspn(p + 5, ","), p + 5);
}

static void check_huge(struct cm_doctor *d, const char *dir, const char *fstype, const char *opts,
                       unsigned long long size, int exists)
{
    long long total = meminfo("HugePages_Total"), nfree = meminfo("HugePages_Free");
    long long pagekb = meminfo("Hugepagesize");
    char huge[32], b1[32];

    if (strcmp(fstype, "hugetlbfs") == 0) {
        unsigned long long avail = nfree > 0 && pagekb > 0 ? (unsigned long long)nfree * 1024ULL *
                                                                 (unsigned long long)pagekb
                                                           : 0;
        cm_doc_line(d, !exists && avail < size ? CM_DOC_FAIL : CM_DOC_OK, "huge pages",
                    "%s is hugetlbfs: %lld of %lld huge pages of %lld kB free (%s)%s", dir, nfree,
                    total, pagekb, cm_doc_bytes(avail, b1, sizeof(b1)),
                    !exists && avail < size ? ": too few for shared_size" : "");
        return;
    }
    huge_option(opts, huge, sizeof(huge));
    if (strcmp(fstype, "tmpfs") == 0 &&
        (strcmp(huge, "always") == 0 || strcmp(huge, "within_size") == 0)) {
        cm_doc_line(d, CM_DOC_OK, "huge pages",
                    "%s is a tmpfs with huge=%s: the segment is made of huge pages", dir, huge);
        return;
    }
    cm_doc_line(d, CM_DOC_OK, "huge pages",
                "%s is %s%s%s: the segment uses 4 KiB pages (hugetlb pool: %lld of %lld free)", dir,
                fstype, huge[0] != '\0' ? " with huge=" : " without huge=", huge, nfree, total);
    cm_doc_note("a tmpfs mounted with huge=within_size makes a fresh process's first shared "
                "hits faster (docs/shared-memory.md)");
}

void cm_doc_segment(struct cm_doctor *d, const struct cm_config *cfg)
{
    char path[CM_PATH_MAX], dir[CM_PATH_MAX], fstype[64] = "?", opts[1024] = "", err[1024] = "";
    char b1[32], b2[32], b3[32];
    unsigned long long freeb = 0;
    struct cm_seg_opts o = {.path = path, .size = 0, .max_entry = 0, .create = 0};
    struct cm_seg_info info;
    struct cm_seg *s = NULL;
    struct statfs sfs;
    struct stat st;
    char *slash;
    int rc;

    if (!(cfg->tiers & CM_TIER_SHARED)) {
        cm_doc_line(d, CM_DOC_OK, "shared segment", "the shared tier is off (tiers)");
        return;
    }
    if (cm_path_expand(cfg->shared_path, path, sizeof(path)) < 0) {
        cm_doc_line(d, CM_DOC_FAIL, "shared segment", "shared_path too long");
        return;
    }
    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash != NULL)
        *(slash == dir ? slash + 1 : slash) = '\0';
    if (statfs(dir, &sfs) != 0) {
        cm_doc_line(d, CM_DOC_FAIL, "shared segment",
                    "%s: directory %s: %s: the shim cannot create the segment", path, dir,
                    strerror(errno));
        return;
    }
    freeb = (unsigned long long)sfs.f_bavail * (unsigned long long)sfs.f_bsize;
    if (mount_of(dir, fstype, sizeof(fstype), opts, sizeof(opts)) < 0)
        snprintf(fstype, sizeof(fstype), "%s",
                 (unsigned long)sfs.f_type == TMPFS_MAGIC_V       ? "tmpfs"
                 : (unsigned long)sfs.f_type == HUGETLBFS_MAGIC_V ? "hugetlbfs"
                                                                  : "?");
    if (stat(path, &st) != 0) {
        if (errno != ENOENT) {
            cm_doc_line(d, CM_DOC_FAIL, "shared segment", "%s: %s", path, strerror(errno));
            return;
        }
        if (access(dir, W_OK | X_OK) != 0)
            cm_doc_line(d, CM_DOC_FAIL, "shared segment",
                        "none yet at %s, and %s is not writable: the shim cannot create it", path,
                        dir);
        else if (freeb < cfg->shared_size)
            cm_doc_line(d, CM_DOC_WARN, "shared segment",
                        "none yet at %s; only %s free on %s (%s) for shared_size %s", path,
                        cm_doc_bytes(freeb, b1, sizeof(b1)), dir, fstype,
                        cm_doc_bytes(cfg->shared_size, b2, sizeof(b2)));
        else
            cm_doc_line(d, CM_DOC_OK, "shared segment",
                        "none yet at %s (the first program creates it: shared_size %s; %s free "
                        "on %s, %s)",
                        path, cm_doc_bytes(cfg->shared_size, b1, sizeof(b1)),
                        cm_doc_bytes(freeb, b2, sizeof(b2)), dir, fstype);
        check_huge(d, dir, fstype, opts, cfg->shared_size, 0);
        return;
    }
    if (st.st_uid != getuid()) {
        cm_doc_line(d, CM_DOC_FAIL, "shared segment",
                    "%s is owned by uid %u, not by you (uid %u): refused by the shim", path,
                    (unsigned)st.st_uid, (unsigned)getuid());
        return;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        cm_doc_line(d, CM_DOC_FAIL, "shared segment",
                    "%s has mode %04o, writable by group or others: refused by the shim "
                    "(remove it; the next program creates it with mode 0600)",
                    path, (unsigned)(st.st_mode & 07777));
        return;
    }
    rc = cm_seg_open(&o, &s, err, sizeof(err));
    if (rc < 0) {
        cm_doc_line(d, CM_DOC_FAIL, "shared segment", "%s: %s", path,
                    err[0] != '\0' ? err : strerror(-rc));
        return;
    }
    cm_seg_get_info(s, &info);
    cm_seg_close(s);
    cm_doc_line(d, info.size != cfg->shared_size ? CM_DOC_WARN : CM_DOC_OK, "shared segment",
                "%s, owner uid %u, mode %04o, %s, %.0f%% full, %llu entries; %s free on %s (%s)",
                path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
                cm_doc_bytes(info.size, b1, sizeof(b1)),
                info.data_size ? 100.0 * (double)info.used / (double)info.data_size : 0.0,
                (unsigned long long)info.entries, cm_doc_bytes(freeb, b2, sizeof(b2)), dir, fstype);
    if (info.size != cfg->shared_size)
        cm_doc_note("shared_size is %s: the segment is replaced when no process uses it",
                    cm_doc_bytes(cfg->shared_size, b3, sizeof(b3)));
    if (info.csum_failures > 0)
        cm_doc_note("%llu entries failed their checksum so far (each was a miss)",
                    (unsigned long long)info.csum_failures);
    check_huge(d, dir, fstype, opts, info.size, 1);
}

void cm_doc_idcache(struct cm_doctor *d)
{
    const char *env = getenv(CLOUDM_ENV_ID_CACHE), *x;
    char dir[CM_PATH_MAX], up[CM_PATH_MAX];
    struct stat st;
    char *slash;

    if (env != NULL && strcmp(env, "off") == 0) {
        cm_doc_line(d, CM_DOC_OK, "identity cache", "off (%s=off)", CLOUDM_ENV_ID_CACHE);
        return;
    }
    if (env != NULL && env[0] != '\0')
        snprintf(dir, sizeof(dir), "%s", env);
    else if ((x = getenv("XDG_CACHE_HOME")) != NULL && x[0] != '\0')
        snprintf(dir, sizeof(dir), "%s/cloudm/codeid", x);
    else if ((x = getenv("HOME")) != NULL && x[0] != '\0')
        snprintf(dir, sizeof(dir), "%s/.cache/cloudm/codeid", x);
    else {
        cm_doc_line(d, CM_DOC_WARN, "identity cache",
                    "no $HOME nor $XDG_CACHE_HOME: code identities are recomputed by every "
                    "process (set %s)",
                    CLOUDM_ENV_ID_CACHE);
        return;
    }
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) != 0)
            cm_doc_line(d, CM_DOC_WARN, "identity cache",
                        "%s is not a writable directory: code identities are recomputed by "
                        "every process",
                        dir);
        else
            cm_doc_line(d, CM_DOC_OK, "identity cache", "%s, writable", dir);
        return;
    }
    /* Not there yet: the shim creates it (mode 0700) under its nearest existing parent. */
    snprintf(up, sizeof(up), "%s", dir);
    while ((slash = strrchr(up, '/')) != NULL && slash != up) {
        *slash = '\0';
        if (stat(up, &st) == 0)
            break;
    }
    if (slash == up)
        snprintf(up, sizeof(up), "/");
    if (access(up, W_OK | X_OK) == 0)
        cm_doc_line(d, CM_DOC_OK, "identity cache", "%s (created on first use under %s)", dir, up);
    else
        cm_doc_line(d, CM_DOC_WARN, "identity cache",
                    "%s cannot be created (%s is not writable): code identities are recomputed "
                    "by every process",
                    dir, up);
}

void cm_doc_kernel(struct cm_doctor *d)
{
    char shmem[256], thp[256], oc[64] = "";
    FILE *f;

    if (sysfs_choice("/sys/kernel/mm/transparent_hugepage/shmem_enabled", shmem, sizeof(shmem)) <
        0) {
        cm_doc_line(d, CM_DOC_OK, "kernel", "no transparent huge pages for shared memory here");
    } else if (strcmp(shmem, "deny") == 0) {
        cm_doc_line(d, CM_DOC_WARN, "kernel",
                    "transparent_hugepage/shmem_enabled = deny: no tmpfs may use huge pages, "
                    "even one mounted with huge=");
    } else {
        cm_doc_line(d, CM_DOC_OK, "kernel", "transparent_hugepage/shmem_enabled = %s%s", shmem,
                    strcmp(shmem, "force") == 0   ? " (every tmpfs uses huge pages)"
                    : strcmp(shmem, "never") == 0 ? " (huge pages only on a tmpfs mounted with "
                                                    "huge=)"
                                                  : "");
    }
    if (sysfs_choice("/sys/kernel/mm/transparent_hugepage/enabled", thp, sizeof(thp)) == 0)
        cm_doc_line(d, CM_DOC_OK, "kernel", "transparent_hugepage/enabled = %s", thp);
    f = fopen("/proc/sys/vm/overcommit_memory", "re");
    if (f != NULL) {
        if (fgets(oc, sizeof(oc), f) == NULL)
            oc[0] = '\0';
        fclose(f);
        oc[strcspn(oc, "\n")] = '\0';
    }
    if (strcmp(oc, "2") == 0)
        cm_doc_line(d, CM_DOC_WARN, "kernel",
                    "vm.overcommit_memory = 2: every process reserves memory_size for its memory "
                    "tier up front and may be refused it (the tier is then off)");
}

/* ---- agent --------------------------------------------------------------------------------- */

void cm_doc_agent(struct cm_doctor *d, const struct cm_config *cfg)
{
    struct cm_chan_conf c;
    char path[CM_PATH_MAX], sec[CM_PATH_MAX], err[512] = "";
    struct stat st;

    if (!(cfg->tiers & CM_TIER_REMOTE) || cfg->remote[0] == '\0')
        return; /* the remote line said so */
    if (cm_chan_for_config(cfg, &c, path, sizeof(path), sec, sizeof(sec)) < 0) {
        cm_doc_line(d, CM_DOC_FAIL, "agent", "shared_path, token_file or secret_file too long");
        return;
    }
    if (stat(path, &st) != 0) {
        cm_doc_line(d, CM_DOC_OK, "agent",
                    "none running for this remote yet: the first remote call (or `cloudm run`) "
                    "starts it (channel %s)",
                    path);
        return;
    }
    /* Open only (no conf): the doctor never creates, replaces or starts anything. */
    struct cm_chan_hdr *h = cm_chan_open(path, NULL, err, sizeof(err));
    if (h == NULL) {
        cm_doc_line(d, CM_DOC_FAIL, "agent", "channel %s refused: %s", path, err);
        return;
    }
    if (cm_chan_agent_alive(h))
        cm_doc_line(d, CM_DOC_OK, "agent", "running, pid %u (channel %s)",
                    (unsigned)atomic_load(&h->agent_pid), path);
    else
        cm_doc_line(d, CM_DOC_WARN, "agent",
                    "channel %s has no live agent: the next remote call starts one", path);
    cm_chan_unmap(h);
}
