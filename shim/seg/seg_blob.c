/*
 * seg_blob.c - values too large for the segment's ring: one immutable file each, in the
 * directory "<segment path>.blobs/" beside the segment.
 *
 * What it does: seg_blob_write() writes a value into a new file and returns the 32-byte
 * reference that seg.c publishes in the ring as the entry's value (flagged SEG_BLOB_FLAG);
 * seg_blob_map() maps the file a reference names and verifies it; seg_blob_clear() and
 * seg_blob_usage() serve `cloudm clear` and `cloudm stats`.
 *
 * What it does not do: index or evict ring entries (seg.c), decide what is cached.
 *
 * DESIGN
 * - File "<h0><h1>.<id>" (hex): a 64-byte header {magic "CMBLOB02", h0, h1, value length, id,
 *   XXH3-64 checksum of the value seeded with h0 ^ id, 2 spare} and the value. The reference
 *   holds {magic, length, checksum, id}: a hit checks the file's owner, size, header and
 *   checksum against it before a byte is used, so a file that was replaced, truncated on disk,
 *   corrupted or planted under the right name is a miss.
 * - Immutable: a file is written under a temporary name ("tmp.<pid>.<n>"), sized first with
 *   posix_fallocate (a full tmpfs or disk fails there with ENOSPC, counted, instead of a SIGBUS
 *   later), filled with write(2) (never through a mapping), closed and rename()d into place;
 *   only then is its reference published. Nothing ever writes a published file again: it is only
 *   unlinked (eviction, clear), which leaves existing mappings intact. So a reader can verify the
 *   mapped bytes and then copy straight from them.
 * - Crash safety: a writer killed at any point leaves at most a temporary file nobody references
 *   (removed by the next writer once its pid is gone or it is an hour old) or a complete file
 *   whose reference was never published (aged out by the budget). A reference is published
 *   only after its file is complete.
 * - Budget: before writing, the directory is scanned (getdents64, no allocation) and the oldest
 *   files (by modification time) are removed until the new value fits `blob_size` (at most 256
 *   removals per store). Concurrent writers may overshoot the budget by their own sizes; there
 *   is no lock. A reference whose file was evicted is a miss.
 * - Permissions: the directory is created 0700 and refused (no blob stores, every blob lookup a
 *   miss) when it is not ours or is accessible by others; files are 0600 and must be ours.
 */
#include "seg_bmap.h"
#include "seg_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#define BLOB_MAGIC 0x3230424f4c424d43ull /* "CMBLOB02" */
#define BLOB_HDR 64u
#define MAX_EVICT 256u
#define TMP_MAX_AGE 3600 /* seconds: an older temporary file is abandoned whoever owns it */

struct blob_hdr {
    uint64_t bh_magic, bh_h0, bh_h1, bh_len, bh_id, bh_csum, bh_pad[2];
};
_Static_assert(sizeof(struct blob_hdr) == BLOB_HDR, "blob header");

struct blob_ref {
    uint64_t br_magic, br_len, br_csum, br_id;
};
_Static_assert(sizeof(struct blob_ref) == SEG_BLOB_REF, "blob reference");

static uint64_t blob_csum(const uint8_t *v, uint64_t len, uint64_t h0, uint64_t id)
{
    return cm_xxh3_64(v, len, h0 ^ id); /* over 256 KiB: the CPU's widest vector code */
}

static int blob_name(const struct cm_seg *s, uint64_t h0, uint64_t h1, uint64_t id, char *buf,
                     size_t n)
{
    int r = snprintf(buf, n, "%s/%016llx%016llx.%016llx", s->blobdir, (unsigned long long)h0,
                     (unsigned long long)h1, (unsigned long long)id);
    return r > 0 && (size_t)r < n ? 0 : -ENAMETOOLONG;
}

/* Opens the blob directory (creating it 0700); -EPERM when it is not ours or not private. */
static int dir_open(struct cm_seg *s)
{
    if (mkdir(s->blobdir, 0700) != 0 && errno != EEXIST)
        return -errno;
    int fd = open(s->blobdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        close(fd);
        return -EPERM;
    }
    return fd;
}

struct dent {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* Calls cb(ctx, dirfd, name) for every entry but "." and ".."; stops when cb returns < 0. */
static void dir_each(int dfd, int (*cb)(void *, int, const char *), void *ctx)
{
    char buf[8192] __attribute__((aligned(8)));
    lseek(dfd, 0, SEEK_SET);
    for (;;) {
        long n = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
        if (n <= 0)
            return;
        for (long off = 0; off < n;) {
            struct dent *d = (struct dent *)(buf + off);
            off += d->d_reclen;
            if (d->d_name[0] == '.' && (!d->d_name[1] || (d->d_name[1] == '.' && !d->d_name[2])))
                continue;
            if (cb(ctx, dfd, d->d_name) < 0)
                return;
        }
    }
}

struct scan {
    uint64_t files, bytes;
    struct timespec oldest;
    char oldest_name[96];
    time_t now;
};

static int scan_cb(void *ctx, int dfd, const char *name)
{
    struct scan *sc = ctx;
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return 0;
    if (strncmp(name, "tmp.", 4) == 0) {
        long pid = strtol(name + 4, NULL, 10);
        if ((pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH) ||
            sc->now - st.st_mtime > TMP_MAX_AGE) {
            unlinkat(dfd, name, 0); /* a writer died (or stalled for an hour) */
            return 0;
        }
    }
    sc->files++;
    sc->bytes += (uint64_t)st.st_size;
    if (strncmp(name, "tmp.", 4) != 0 && strlen(name) < sizeof(sc->oldest_name) &&
        (sc->oldest_name[0] == 0 || st.st_mtim.tv_sec < sc->oldest.tv_sec ||
         (st.st_mtim.tv_sec == sc->oldest.tv_sec && st.st_mtim.tv_nsec < sc->oldest.tv_nsec))) {
        sc->oldest = st.st_mtim;
        strcpy(sc->oldest_name, name);
    }
    return 0;
}

/* Removes the oldest files until `need` more bytes fit the budget. 0, or -ENOSPC. */
static int make_room(struct cm_seg *s, int dfd, uint64_t need)
{
    for (unsigned i = 0; i <= MAX_EVICT; i++) {
        struct scan sc = {.now = time(NULL)};
        dir_each(dfd, scan_cb, &sc);
        if (sc.bytes + need <= s->blob_size)
            return 0;
        if (!sc.oldest_name[0] || i == MAX_EVICT)
            return -ENOSPC;
        if (unlinkat(dfd, sc.oldest_name, 0) == 0)
            __atomic_fetch_add(&seg_blobcnt(s)->sb_evictions, 1, __ATOMIC_RELAXED);
    }
    return -ENOSPC;
}

static int write_all(int fd, const uint8_t *p, uint64_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        p += w;
        n -= (uint64_t)w;
    }
    return 0;
}

int seg_blob_write(struct cm_seg *s, uint64_t h0, uint64_t h1, const uint8_t *v, uint64_t vlen,
                   uint8_t *ref)
{
    static uint64_t counter;
    int saved = errno, r, dfd = -1, fd = -1;
    char tmp[64], name[1200];
    uint64_t total = BLOB_HDR + vlen;
    if (__atomic_load_n(&s->sandboxed, __ATOMIC_RELAXED))
        return -EPERM; /* no new file under a sandbox (cm_seg_sandboxed) */
    if (total > s->blob_size) {
        r = -E2BIG;
        goto out;
    }
    dfd = dir_open(s);
    if (dfd < 0) {
        r = dfd;
        goto out;
    }
    if ((r = make_room(s, dfd, total)) < 0)
        goto out;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    uint64_t id = ((uint64_t)getpid() << 40) ^ ((uint64_t)ts.tv_nsec << 8) ^ (uint64_t)ts.tv_sec ^
                  (n * 0x9E3779B97F4A7C15ull);
    snprintf(tmp, sizeof(tmp), "tmp.%d.%llu", (int)getpid(), (unsigned long long)n);
    if ((r = blob_name(s, h0, h1, id, name, sizeof(name))) < 0)
        goto out;
    fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    r = posix_fallocate(fd, 0, (off_t)total);
    if (r != 0 && r != EOPNOTSUPP && r != EINVAL) {
        r = -r;
        goto fail;
    }
    struct blob_hdr bh = {.bh_magic = BLOB_MAGIC,
                          .bh_h0 = h0,
                          .bh_h1 = h1,
                          .bh_len = vlen,
                          .bh_id = id,
                          .bh_csum = blob_csum(v, vlen, h0, id)};
    if ((r = write_all(fd, (const uint8_t *)&bh, sizeof(bh))) < 0 ||
        (r = write_all(fd, v, vlen)) < 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        r = -errno;
        goto fail;
    }
    fd = -1;
    if (renameat(dfd, tmp, dfd, strrchr(name, '/') + 1) != 0) {
        r = -errno;
        goto fail;
    }
    struct blob_ref br = {
        .br_magic = BLOB_MAGIC, .br_len = vlen, .br_csum = bh.bh_csum, .br_id = id};
    memcpy(ref, &br, sizeof(br));
    r = 0;
    goto out;
fail:
    if (fd >= 0)
        close(fd);
    unlinkat(dfd, tmp, 0);
out:
    if (dfd >= 0)
        close(dfd);
    errno = saved;
    return r;
}

int seg_blob_map(struct cm_seg *s, uint64_t h0, uint64_t h1, const uint8_t *refp,
                 struct cm_seg_view *view)
{
    struct blob_ref br;
    char name[1200];
    struct stat st;
    int saved = errno, r = -1;
    if (__atomic_load_n(&s->sandboxed, __ATOMIC_RELAXED))
        return -1; /* a miss: opening the blob could be fatal under a sandbox */
    memcpy(&br, refp, sizeof(br));
    view->map = NULL;
    view->kept = 0;
    if (br.br_magic != BLOB_MAGIC || br.br_len > SEG_VALUE_MAX)
        goto out;
    size_t len = BLOB_HDR + br.br_len;
    void *m = NULL;
    uint64_t klen = 0;
    /* A mapping an earlier hit kept (seg_bmap.c): no open, no mmap, no munmap. */
    int kept = seg_bmap_get(s, h0, h1, br.br_id, br.br_len, br.br_csum, &m, &klen);
    if (!kept || klen != len) {
        if (kept)
            seg_bmap_put(kept);
        kept = 0;
        int fd = blob_name(s, h0, h1, br.br_id, name, sizeof(name)) < 0
                     ? -1
                     : open(name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            goto out;
        m = MAP_FAILED;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
            (uint64_t)st.st_size == len)
            m = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
        close(fd);
        if (m == MAP_FAILED)
            goto out;
    }
    const struct blob_hdr *bh = m;
    const uint8_t *v = (const uint8_t *)m + BLOB_HDR;
    int defer = view->defer_verify;
    if (bh->bh_magic != BLOB_MAGIC || bh->bh_h0 != h0 || bh->bh_h1 != h1 ||
        bh->bh_len != br.br_len || bh->bh_id != br.br_id || bh->bh_csum != br.br_csum ||
        (!defer && blob_csum(v, br.br_len, h0, br.br_id) != br.br_csum)) {
        if (kept) {
            seg_bmap_put(kept);
            seg_bmap_drop_one(kept); /* cannot happen to an immutable file; never use it again */
        } else {
            munmap(m, len);
        }
        goto out;
    }
    if (!kept)
        kept = seg_bmap_keep(s, h0, h1, br.br_id, br.br_len, br.br_csum, m, len);
    view->v = v;
    view->len = br.br_len;
    view->map = m;
    view->kept = kept;
    view->maplen = len;
    view->unverified = defer;
    view->seed = h0 ^ br.br_id;
    view->csum = br.br_csum;
    r = 0;
out:
    errno = saved;
    return r;
}

static int unlink_cb(void *ctx, int dfd, const char *name)
{
    if (unlinkat(dfd, name, 0) == 0)
        ++*(long *)ctx;
    return 0;
}

long seg_blob_clear(struct cm_seg *s)
{
    int saved = errno;
    long n = 0;
    int dfd = open(s->blobdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (dfd >= 0) {
        dir_each(dfd, unlink_cb, &n);
        close(dfd);
    }
    errno = saved;
    return n;
}

void seg_blob_usage(struct cm_seg *s, uint64_t *files, uint64_t *bytes)
{
    int saved = errno;
    struct scan sc = {.now = time(NULL)};
    int dfd = open(s->blobdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (dfd >= 0) {
        dir_each(dfd, scan_cb, &sc);
        close(dfd);
    }
    *files = sc.files;
    *bytes = sc.bytes;
    errno = saved;
}
