/*
 * tls.c - per-thread scratch and string-return buffers (see tls.h).
 *
 * Stack guard: cm_stack_guard_init() (a thread's first hooked call, through stats.c) records
 * the thread's stack; the entry code sends calls straight to the original while rsp lies in
 * the lower half of it (at least CM_STACK_RESERVE_MIN bytes), so deep recursion through
 * memoized functions reaches the depth it reaches without cloudm (issue 16). Stacks smaller
 * than 4 x CM_STACK_RESERVE_MIN, or unknown, get no guard (known ones still get their bounds,
 * for cm_stack_same()).
 *
 * Nesting store (cm_tls_push/cm_tls_pop): the miss slots of calls whose original runs
 * (dispatch.c), pushed and popped like a stack, in 1 MiB chunks mapped on first use (at most
 * CM_NEST_MAX a thread; then cm_tls_push fails and the caller sends the call straight to the
 * original). A slot never spans two chunks; popping returns to the chunk holding the slot.
 * Chunks stay mapped until the thread exits, so a steady state maps nothing.
 *
 * DESIGN: one initial-exec TLS record per thread, and the scratch buffers' table beside it
 * (cm_scratch_bufs: base.h reads it inline). Buffers are anonymous mappings, grown to the
 * next power of two (at least a page), so a thread that once needed N bytes never maps again
 * for sizes <= N. The string-return table (CM_MAX_VARIANTS entries) is mapped on first use.
 * A pthread key destructor unmaps everything when the thread exits; the main thread's buffers
 * are left to the kernel at exit.
 */
#include "base.h"

#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>

#define NEST_CHUNKS ((int)(CM_NEST_MAX / CM_NEST_CHUNK))

struct cm_thread {
    struct cm_scratch_buf *strbufs; /* CM_MAX_VARIANTS entries */
    uint8_t *nest[NEST_CHUNKS]; /* the nesting store's chunks, mapped on first use */
    int ncur;                   /* the chunk in use */
    size_t ntop;                /* bytes used in it */
    int registered;
};

__thread struct cm_stack_guard cm_stack_guard __attribute__((tls_model("initial-exec")));

void cm_stack_guard_init(void)
{
    pthread_attr_t a;
    void *lo;
    size_t size;
    if (cm_stack_guard.lo || cm_sandbox != CM_SANDBOX_NONE)
        return; /* known, or pthread_getattr_np's system calls may be forbidden */
    int saved = errno;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        if (pthread_attr_getstack(&a, &lo, &size) == 0 && lo) {
            cm_stack_guard.lo = (uintptr_t)lo; /* the bounds serve cm_stack_same() too */
            cm_stack_guard.hi = (uintptr_t)lo + size;
            size_t reserve = size / 2 > CM_STACK_RESERVE_MIN ? size / 2 : CM_STACK_RESERVE_MIN;
            if (size >= 4 * CM_STACK_RESERVE_MIN)
                __atomic_store_n(&cm_stack_guard.limit, (uintptr_t)lo + reserve, __ATOMIC_RELAXED);
        }
        pthread_attr_destroy(&a);
    }
    errno = saved;
}

static __thread struct cm_thread self __attribute__((tls_model("initial-exec")));
__thread struct cm_scratch_buf cm_scratch_bufs[CM_SCRATCH_N]
    __attribute__((tls_model("initial-exec")));
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void release(void *arg)
{
    struct cm_thread *t = arg;
    for (int i = 0; i < CM_SCRATCH_N; i++) {
        if (cm_scratch_bufs[i].p)
            munmap(cm_scratch_bufs[i].p, cm_scratch_bufs[i].cap);
        cm_scratch_bufs[i] = (struct cm_scratch_buf){0};
    }
    if (t->strbufs) {
        for (int i = 0; i < CM_MAX_VARIANTS; i++)
            if (t->strbufs[i].p)
                munmap(t->strbufs[i].p, t->strbufs[i].cap);
        munmap(t->strbufs, CM_MAX_VARIANTS * sizeof(struct cm_scratch_buf));
    }
    for (int i = 0; i < NEST_CHUNKS; i++)
        if (t->nest[i])
            munmap(t->nest[i], CM_NEST_CHUNK);
    *t = (struct cm_thread){0};
}

static void key_init(void)
{
    pthread_key_create(&tls_key, release);
}

static void register_thread(void)
{
    if (!self.registered) {
        pthread_once(&tls_once, key_init);
        pthread_setspecific(tls_key, &self);
        self.registered = 1;
    }
}

static int grow(struct cm_scratch_buf *b, size_t size)
{
    if (b->cap >= size)
        return 0;
    if (cm_sandbox == CM_SANDBOX_STRICT) /* mmap would kill the process: the caller degrades */
        return -1;
    int saved_errno = errno;
    size_t cap = 4096;
    while (cap < size)
        cap *= 2;
    void *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        errno = saved_errno;
        return -1;
    }
    if (b->p)
        munmap(b->p, b->cap);
    b->p = p;
    b->cap = cap;
    register_thread();
    errno = saved_errno;
    return 0;
}

uint8_t *cm_tls_scratch_grow(enum cm_scratch which, size_t size)
{
    struct cm_scratch_buf *b = &cm_scratch_bufs[which];
    return grow(b, size) < 0 ? NULL : b->p;
}

char *cm_tls_strbuf(uint32_t id, size_t size)
{
    if (!self.strbufs) {
        if (cm_sandbox == CM_SANDBOX_STRICT)
            return NULL;
        int saved_errno = errno;
        void *p = mmap(NULL, CM_MAX_VARIANTS * sizeof(struct cm_scratch_buf),
                       PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        errno = saved_errno;
        if (p == MAP_FAILED)
            return NULL;
        self.strbufs = p;
    }
    struct cm_scratch_buf *b = &self.strbufs[id];
    if (b->cap < size && grow(b, size) < 0)
        return NULL;
    return (char *)b->p;
}

void *cm_tls_push(size_t size)
{
    size = (size + 63) & ~(size_t)63;
    int c = self.ncur;
    size_t top = self.ntop;
    if (size > CM_NEST_CHUNK)
        return NULL;
    if (self.nest[c] && top + size > CM_NEST_CHUNK) {
        c++;
        top = 0;
    }
    if (c == NEST_CHUNKS)
        return NULL;
    if (!self.nest[c]) {
        if (cm_sandbox == CM_SANDBOX_STRICT)
            return NULL;
        int saved_errno = errno;
        void *p =
            mmap(NULL, CM_NEST_CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        errno = saved_errno;
        if (p == MAP_FAILED)
            return NULL;
        self.nest[c] = p;
        register_thread();
    }
    self.ncur = c;
    self.ntop = top + size;
    return self.nest[c] + top;
}

void cm_tls_pop(void *p)
{
    uint8_t *q = p;
    int c = self.ncur;
    while (c > 0 && !(q >= self.nest[c] && q < self.nest[c] + CM_NEST_CHUNK))
        c--;
    self.ncur = c;
    self.ntop = (size_t)(q - self.nest[c]);
}
