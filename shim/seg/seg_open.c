/*
 * seg_open.c - opening, creating and replacing the shared segment file; the layout.
 *
 * What it does: cm_seg_open() opens the file at opts->path (creating it when asked), refuses
 * one that is not ours or is writable by group/others, validates the header against the layout
 * this build computes, replaces a segment of another format or size when nobody uses it, and
 * maps it MAP_SHARED. cm_seg_close() unmaps. What it does not do: read or write entries (seg.c).
 *
 * DESIGN
 * - Creation is atomic: a temporary file in the same directory (O_CREAT|O_EXCL, mode 0600),
 *   sized with ftruncate and its first part (header, statistics, index, the ring's first chunk)
 *   allocated with posix_fallocate (so a full tmpfs fails here with ENOSPC instead of a SIGBUS
 *   in the host later; the rest of the ring is allocated ahead of use as it fills, seg.c), header
 * written, then link()ed into place (a concurrent creator that won keeps its file: EEXIST, we open
 * that one) or rename()d over an old segment being replaced. Nobody can see a half-initialised
 * segment.
 * - Live users: every process holds a shared flock() on the file while it maps it (the kernel
 *   drops it when the process dies, however it dies; fork shares it, exec drops it). The
 *   descriptor is closed right after mmap: a flock belongs to the open file description, which
 *   the MAP_SHARED mapping keeps referenced, so the lock lasts exactly as long as the mapping
 *   and the host keeps every descriptor it is allowed (issue 16). Growing the ring reopens the
 *   file by its path for the posix_fallocate and closes it again, after checking it is still
 *   the inode that is mapped (seg_file). A process that must replace a segment of another
 *   format or size takes a non-blocking exclusive lock: if that fails, live processes use it:
 *   -EBUSY, left alone. Chosen over a (pid, start time) table in the header because a table
 *   needs pruning of dead pids and is itself shared state a crash can leave stale; the kernel
 *   lock cannot be.
 * - Huge pages: mappings are MADV_HUGEPAGE, and the first part of a new file is allocated through
 *   one with MADV_POPULATE_WRITE (huge=advise tmpfs: 2 MiB pages for the index), falling back to
 *   posix_fallocate.
 * - After locking, the path is re-checked to still name the inode we locked (someone may have
 *   replaced it in between); if not, we start again (bounded number of rounds).
 * - A creator killed before installing its file leaves "<path>.tmp.<pid>.<hex>"; the next
 *   creation removes such files whose pid is gone (on tmpfs they hold memory).
 * - The header is validated field by field against cm_seg_layout(size): a corrupt header is
 *   "another format", never trusted for offsets.
 */
#include "seg_bmap.h"
#include "seg_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#define OPEN_ROUNDS 16
#define LOCK_TRIES 2000 /* x 1 ms: how long we wait for a replacer's exclusive lock */

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

static uint64_t pow2_floor(uint64_t x)
{
    uint64_t p = 1;
    while (p * 2 <= x)
        p *= 2;
    return p;
}

int cm_seg_layout(uint64_t size, struct seg_hdr *l)
{
    if (size < SEG_MIN_SIZE || size > SEG_MAX_SIZE || size % 4096 != 0)
        return -EINVAL;
    memset(l, 0, sizeof(*l));
    l->sh_magic = SEG_MAGIC;
    l->sh_format = SEG_FORMAT;
    l->sh_version = SEG_VERSION;
    l->sh_size = size;
    l->sh_flight_off = SEG_HDR_BYTES;
    l->sh_fn_off = l->sh_flight_off + SEG_FLIGHT_SLOTS * sizeof(struct seg_flight);
    l->sh_prof_off = l->sh_fn_off + SEG_FN_SLOTS * sizeof(struct seg_fn);
    l->sh_prof_slots = pow2_floor(size / SEG_PROF_DIV);
    if (l->sh_prof_slots < SEG_PROF_MIN)
        l->sh_prof_slots = SEG_PROF_MIN;
    l->sh_index_off = l->sh_prof_off + l->sh_prof_slots * sizeof(uint64_t);
    /* index: up to 1/6 .. 1/3 of the rest (a power of two of 64-byte slots, one entry each:
     * room for one ring entry per 128 .. 320 bytes of ring, plus the inline ones), reserved in
     * the file but allocated as it grows (seg_ix.c), from 2^SEG_IX_INIT_LG slots */
    uint64_t rest = size - l->sh_index_off;
    uint64_t nb = pow2_floor(rest / 3 / sizeof(struct seg_slot));
    l->sh_slots = nb;
    l->sh_ring_off = l->sh_index_off + nb * sizeof(struct seg_slot);
    l->sh_ring_size = (size - l->sh_ring_off) & ~(uint64_t)63;
    return 0;
}

/* 0: matches this build (and `want` size if nonzero); 1: our magic, another format or size;
 * 2: not a segment. */
static int check_hdr(const struct seg_hdr *h, uint64_t st_size, uint64_t want)
{
    struct seg_hdr l;
    if (st_size < sizeof(*h))
        return st_size == 0 ? 1 : 2;
    if (h->sh_magic != SEG_MAGIC)
        return 2;
    if (h->sh_format != SEG_FORMAT || h->sh_version != SEG_VERSION || h->sh_size != st_size ||
        (want != 0 && st_size != want) || cm_seg_layout(st_size, &l) != 0)
        return 1;
    if (h->sh_flight_off != l.sh_flight_off || h->sh_fn_off != l.sh_fn_off ||
        h->sh_prof_off != l.sh_prof_off || h->sh_prof_slots != l.sh_prof_slots ||
        h->sh_index_off != l.sh_index_off || h->sh_slots != l.sh_slots ||
        h->sh_ring_off != l.sh_ring_off || h->sh_ring_size != l.sh_ring_size)
        return 1;
    return 0;
}

/* Removes temporary files left by creators that died before installing them (their pid is
 * gone): "<path>.tmp.<pid>.<hex>". Bounded by the directory's size; best effort. */
static void sweep_tmp(const char *path)
{
    char dname[4096], prefix[512];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dlen = slash == NULL ? 0 : slash == path ? 1 : (size_t)(slash - path);
    if (dlen >= sizeof(dname) ||
        snprintf(prefix, sizeof(prefix), "%s.tmp.", base) >= (int)sizeof(prefix))
        return;
    if (slash == NULL) {
        strcpy(dname, ".");
    } else {
        memcpy(dname, path, dlen);
        dname[dlen] = 0;
    }
    DIR *d = opendir(dname);
    if (d == NULL)
        return;
    struct dirent *de;
    size_t plen = strlen(prefix);
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, plen) != 0)
            continue;
        long pid = strtol(de->d_name + plen, NULL, 10);
        if (pid <= 0 || (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
            continue;
        unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
}

/* Creates the missing directories above path, mode 0700 (e.g. ~/.cache/cloudm/). */
static void make_parents(const char *path)
{
    char d[4096];
    size_t n = strlen(path);
    if (n >= sizeof(d))
        return;
    memcpy(d, path, n + 1);
    for (char *p = d + 1; *p != 0; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(d, 0700) != 0 && errno != EEXIST)
            return;
        *p = '/';
    }
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/*
 * Allocates the first `len` bytes of a new segment through a mapping marked MADV_HUGEPAGE, so
 * that on a tmpfs mounted with huge=advise (where only such mappings get huge pages) the index
 * is made of 2 MiB pages: a fresh process then maps it in a few faults and misses the TLB less
 * (docs/shared-memory.md#huge-pages). MADV_POPULATE_WRITE fails with an error where a store would
 * raise SIGBUS (a full tmpfs), and changes no byte. 0, or an errno value: the caller then
 * allocates with posix_fallocate (kernels before 5.14, file systems without huge pages: same
 * result in small pages).
 */
static int populate_huge(int fd, uint64_t len)
{
    struct statfs sf;
    if (fstatfs(fd, &sf) != 0 || sf.f_type != TMPFS_MAGIC)
        return EOPNOTSUPP; /* on a disk, populating would write zeros back: fallocate instead */
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return errno;
    int r = 0;
    madvise(m, len, MADV_HUGEPAGE);
    if (madvise(m, len, MADV_POPULATE_WRITE) != 0)
        r = errno;
    munmap(m, len);
    return r;
}

/* The index's initial size (log2 slots): SEG_IX_INIT_LG, or all of it in a small segment. */
static unsigned ix_lg_min(const struct seg_hdr *l)
{
    unsigned lg = 0;
    while ((2ull << lg) <= l->sh_slots)
        lg++;
    return lg < SEG_IX_INIT_LG ? lg : SEG_IX_INIT_LG;
}

static unsigned ix_lg_max(const struct seg_hdr *l)
{
    unsigned lg = 0;
    while ((2ull << lg) <= l->sh_slots)
        lg++;
    return lg;
}

/* Creates a fresh segment at path: link() (replace == 0) or rename() (replace == 1). */
static int create_file(const char *path, uint64_t size, int replace, char *err, size_t errlen)
{
    char tmp[4096];
    struct timespec ts;
    struct seg_hdr l;
    int fd, r;
    void *m;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d.%lx", path, (int)getpid(),
                 (unsigned long)ts.tv_nsec) >= (int)sizeof(tmp))
        return fail(err, errlen, -ENAMETOOLONG, "%s: path too long", path);
    if (cm_seg_layout(size, &l) != 0)
        return fail(err, errlen, -EINVAL, "%s: size %llu out of range (1 MiB .. 64 GiB)", path,
                    (unsigned long long)size);
    sweep_tmp(path);
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno == ENOENT) {
        make_parents(path);
        fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    }
    if (fd < 0)
        return fail(err, errlen, -errno, "%s: cannot create: %s", tmp, strerror(errno));
    if (fchmod(fd, 0600) != 0 || ftruncate(fd, (off_t)size) != 0) {
        r = fail(err, errlen, -errno, "%s: cannot size: %s", tmp, strerror(errno));
        goto out;
    }
    /* Allocated now: header, statistics, the index's first 2^SEG_IX_INIT_LG slots and the
     * ring's first SEG_RING_FIRST bytes; the rest of the index as it grows (seg_ix.c) and of the
     * ring as it fills (seg.c, seg_ring_alloc), so a segment costs what it holds. */
    unsigned lg = ix_lg_min(&l);
    uint64_t ixlen = l.sh_index_off + (sizeof(struct seg_slot) << lg);
    l.sh_ring_alloc = l.sh_ring_size < SEG_RING_FIRST ? l.sh_ring_size : SEG_RING_FIRST;
    l.sh_ix = (uint64_t)lg << 56 | (1ull << lg) / 2; /* no migration under way */
    r = populate_huge(fd, ixlen);
    if (r != 0)
        r = posix_fallocate(fd, 0, (off_t)ixlen);
    if (r == 0 || r == EOPNOTSUPP || r == EINVAL || r == ENOSYS)
        r = posix_fallocate(fd, (off_t)l.sh_ring_off, (off_t)l.sh_ring_alloc);
    if (r != 0 && r != EOPNOTSUPP && r != EINVAL && r != ENOSYS) {
        r = fail(err, errlen, -r, "%s: cannot allocate %llu bytes: %s", tmp,
                 (unsigned long long)size, strerror(r));
        goto out;
    }
    m = mmap(NULL, sizeof(l), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        r = fail(err, errlen, -errno, "%s: mmap: %s", tmp, strerror(errno));
        goto out;
    }
    memcpy(m, &l, sizeof(l));
    munmap(m, sizeof(l));
    if (replace) {
        r = rename(tmp, path);
    } else {
        r = link(tmp, path);
        if (r != 0 && (errno == EPERM || errno == EOPNOTSUPP))
            r = rename(tmp, path); /* filesystems without hard links */
    }
    if (r != 0) {
        r = errno == EEXIST
                ? -EEXIST
                : fail(err, errlen, -errno, "%s: cannot install: %s", path, strerror(errno));
        goto out;
    }
    r = 0;
out:
    unlink(tmp); /* after link(): drops the temporary name; after rename(): ENOENT, harmless */
    close(fd);
    return r;
}

static int lock_shared(int fd)
{
    for (int i = 0; i < LOCK_TRIES; i++) {
        if (flock(fd, LOCK_SH | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return -errno;
        struct timespec d = {0, 1000000};
        nanosleep(&d, NULL);
    }
    return -EBUSY;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif
#define MAP_INDEX_MAX (16ull << 20) /* larger indexes are left to page faults (start-up cost) */

/* Maps the index slots in use into this process now, one system call at open: a fresh process
 * reading many entries once otherwise takes its page faults on the hits (fault-around maps 16
 * pages a fault: 256 faults for the 16 MiB index of 100,000 entries, 2 to 4 us each). Measured:
 * 0.7 to 1.2 ms at open for that index, about what the faults cost, but out of the hits (the
 * fresh-process row of bench/run.sh). Their pages exist (the index grows only into allocated
 * space): nothing is allocated. An index over MAP_INDEX_MAX (~260,000 entries) is left to
 * faults, so that no process pays more than about a millisecond at start. Kernels before 5.14:
 * EINVAL, no harm. */
static void map_index(struct cm_seg *s)
{
    uint64_t ix = __atomic_load_n(&s->hdr->sh_ix, __ATOMIC_ACQUIRE);
    unsigned lg = (unsigned)(ix >> 56);
    if (lg < s->ix_lg_min || lg > s->ix_lg_max ||
        ((uint64_t)sizeof(struct seg_slot) << lg) > MAP_INDEX_MAX)
        return;
    int saved = errno;
    (void)madvise(s->slots, (size_t)sizeof(struct seg_slot) << lg, MADV_POPULATE_READ);
    errno = saved;
}

/* Maps the file and closes fd (always). */
static int map_it(int fd, uint64_t size, const struct cm_seg_opts *o, struct cm_seg **out,
                  char *err, size_t errlen)
{
    struct cm_seg *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        close(fd);
        return fail(err, errlen, -ENOMEM, "out of memory");
    }
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        int e = errno;
        free(s);
        close(fd);
        return fail(err, errlen, -e, "%s: mmap: %s", o->path, strerror(e));
    }
    madvise(m, size, MADV_HUGEPAGE); /* where the file system allows it (huge=advise) */
    struct stat st;
    if (fstat(fd, &st) == 0) { /* seg_file() reopens this inode to grow the ring */
        s->dev = st.st_dev;
        s->ino = st.st_ino;
    }
    snprintf(s->path, sizeof(s->path), "%s", o->path);
    close(fd); /* the mapping holds the file, and with it our shared flock */
    s->base = m;
    s->size = size;
    s->hdr = m;
    s->flight = (struct seg_flight *)(s->base + s->hdr->sh_flight_off);
    s->fns = (struct seg_fn *)(s->base + s->hdr->sh_fn_off);
    s->prof = (uint64_t *)(s->base + s->hdr->sh_prof_off);
    s->prof_mask = s->hdr->sh_prof_slots - 1;
    s->slots = (struct seg_slot *)(s->base + s->hdr->sh_index_off);
    s->ix_lg_min = ix_lg_min(s->hdr);
    s->ix_lg_max = ix_lg_max(s->hdr);
    map_index(s);
    s->ring = s->base + s->hdr->sh_ring_off;
    s->ring_size = s->hdr->sh_ring_size;
    s->ring_max = s->ring_size / 4 - 64;
    if (s->ring_max > SEG_BLOB_MIN)
        s->ring_max = SEG_BLOB_MIN;
    s->max_entry = o->max_entry ? o->max_entry : SEG_VALUE_MAX;
    if (s->max_entry > SEG_VALUE_MAX + 64 * 1024)
        s->max_entry = SEG_VALUE_MAX + 64 * 1024; /* a 1 GiB value and its key */
    s->blob_size = o->blob_size ? o->blob_size : 2ull << 30;
    if (snprintf(s->blobdir, sizeof(s->blobdir), "%s.blobs", o->path) >= (int)sizeof(s->blobdir))
        s->max_entry = s->ring_max; /* no blob directory: ring entries only */
    *out = s;
    return 0;
}

static int open_once(const struct cm_seg_opts *o, uint64_t size, struct cm_seg **out, char *err,
                     size_t errlen)
{
    struct stat st, st2;
    struct seg_hdr h;
    int fd = open(o->path, O_RDWR | O_CLOEXEC);
    int r;

    if (fd < 0) {
        if (errno == ENOENT && o->create) {
            r = create_file(o->path, size, 0, err, errlen);
            return r == 0 || r == -EEXIST ? -EAGAIN : r;
        }
        if (errno == ENOENT)
            return fail(err, errlen, -ENOENT, "%s: no segment", o->path);
        return fail(err, errlen, -errno, "%s: %s", o->path, strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        r = fail(err, errlen, -errno, "%s: %s", o->path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        r = fail(err, errlen, -EINVAL, "%s: not a regular file", o->path);
        goto fail;
    }
    if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        r = fail(err, errlen, -EPERM,
                 "%s: refused: owned by uid %u or writable by others (mode %03o); the shared "
                 "tier needs a file of uid %u with mode 0600",
                 o->path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 0777), (unsigned)geteuid());
        goto fail;
    }
    r = lock_shared(fd);
    if (r < 0) {
        r = fail(err, errlen, r, "%s: cannot lock: %s", o->path, strerror(-r));
        goto fail;
    }
    if (stat(o->path, &st2) != 0 || st2.st_ino != st.st_ino || st2.st_dev != st.st_dev) {
        r = -EAGAIN; /* replaced meanwhile */
        goto fail;
    }
    if (fstat(fd, &st) != 0) {
        r = fail(err, errlen, -errno, "%s: %s", o->path, strerror(errno));
        goto fail;
    }
    memset(&h, 0, sizeof(h));
    if (st.st_size >= (off_t)sizeof(h) && pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
        r = fail(err, errlen, -EIO, "%s: cannot read the header", o->path);
        goto fail;
    }
    int c = check_hdr(&h, (uint64_t)st.st_size, o->create ? size : 0);
    if (c == 0) {
        return map_it(fd, (uint64_t)st.st_size, o, out, err, errlen);
    }
    if (c == 2) {
        r = fail(err, errlen, -EINVAL, "%s: exists and is not a cloudm segment (left alone)",
                 o->path);
        goto fail;
    }
    if (!o->create) {
        r = fail(err, errlen, -EINVAL, "%s: a segment of another format or size", o->path);
        goto fail;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        r = fail(err, errlen, -EBUSY,
                 "%s: a segment of another format or size is in use by live processes; "
                 "shared tier skipped",
                 o->path);
        goto fail;
    }
    r = create_file(o->path, size, 1, err, errlen);
    close(fd); /* releases the exclusive lock on the old inode */
    return r == 0 ? -EAGAIN : r;
fail:
    close(fd);
    return r;
}

int cm_seg_open(const struct cm_seg_opts *o, struct cm_seg **out, char *err, size_t errlen)
{
    int saved = errno, r = -EAGAIN;
    uint64_t size;

    if (err != NULL && errlen > 0)
        err[0] = 0;
    if (out != NULL)
        *out = NULL;
    if (o == NULL || o->path == NULL || out == NULL) {
        errno = saved;
        return fail(err, errlen, -EINVAL, "no segment path");
    }
    size = o->size & ~(uint64_t)4095;
    if (o->create && (size < SEG_MIN_SIZE || size > SEG_MAX_SIZE)) {
        errno = saved;
        return fail(err, errlen, -EINVAL, "%s: size %llu out of range (1 MiB .. 64 GiB)", o->path,
                    (unsigned long long)o->size);
    }
    for (int i = 0; i < OPEN_ROUNDS && r == -EAGAIN; i++)
        r = open_once(o, size, out, err, errlen);
    if (r == -EAGAIN)
        r = fail(err, errlen, -EAGAIN, "%s: replaced repeatedly while opening", o->path);
    errno = saved;
    return r;
}

void cm_seg_withdraw(struct cm_seg *s)
{
    int saved = errno;
    if (s == NULL)
        return;
    /* One mmap replaces the file mapping atomically: no instant where the range is unmapped
     * (a concurrent reader would fault) or still the file. The old file, and with it our
     * shared flock, is released. */
    seg_bmap_drop(s); /* its blob files too: no kept mapping of them serves anyone again */
    void *m = mmap(s->base, s->size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        munmap(s->base, s->size); /* cannot keep it safe for readers: at least drop the file */
    errno = saved;
}

void cm_seg_close(struct cm_seg *s)
{
    int saved = errno;
    if (s == NULL)
        return;
    seg_bmap_drop(s);
    munmap(s->base, s->size); /* releases the file, and with it the shared flock */
    free(s);
    errno = saved;
}

int seg_file(const struct cm_seg *s)
{
    int fd = open(s->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_dev != s->dev || st.st_ino != s->ino) {
        close(fd);
        return -ESTALE;
    }
    return fd;
}

int seg_alloc(struct cm_seg *s, uint64_t off, uint64_t len)
{
    if (__atomic_load_n(&s->sandboxed, __ATOMIC_RELAXED))
        return -EPERM; /* a sandbox may kill the process for an open() */
    int saved = errno;
    int fd = seg_file(s); /* the mapping keeps no descriptor: one for this allocation */
    if (fd < 0) {
        errno = saved;
        return fd;
    }
    int r = posix_fallocate(fd, (off_t)off, (off_t)len);
    close(fd);
    errno = saved;
    if (r != 0 && r != EOPNOTSUPP && r != EINVAL && r != ENOSYS)
        return -r;
    return 0;
}
