/*
 * chan.h - the channel between host processes and their cloudm agent (docs/agent.md).
 *
 * What it is: one file per user and remote configuration, mapped MAP_SHARED by every host
 * process that uses that remote and by the one agent process serving it. It holds a header
 * (the configuration the agent runs with, the agent's pid and heartbeat, its counters, one
 * message line), CM_CHAN_SLOTS lookup slots (a request: the hex remote key; a reply: the
 * envelope bytes, written by the agent into the slot's own data area), and the store ring (a
 * byte ring of records: hex key + envelope, many host producers, one agent consumer). Waits
 * are futexes on words of the shared mapping (not FUTEX_PRIVATE), always with a time limit.
 *
 * After cm_chan_open() the host keeps only the mapping: no descriptor, no thread, no signal
 * handler. cm_chan_spawn() starts an agent without leaving the host a child it can see: the
 * first fork is a clone with no exit signal (invisible to wait()/waitpid(-1)), reaped by pid
 * with __WCLONE; the second execs the cloudm binary in a new session, every descriptor closed,
 * a clean environment.
 *
 * This folder sits between tier/ and seg/ in the include order and depends on libc only: the
 * same code is linked into libcloudm.so (the client side) and into the `cloudm` command (the
 * agent side, tools/agent/).
 *
 * What it does not do: no network, no key derivation, no envelope (the host checks every
 * reply itself: a confused agent can make a lookup miss, never return a wrong value).
 */
#ifndef CM_CHAN_H
#define CM_CHAN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define CM_CHAN_MAGIC 0x4e48434du /* "MCHN" */
#define CM_CHAN_VERSION 2         /* bumped when anything after the stable prefix changes */
#define CM_CHAN_SLOTS 32
#define CM_CHAN_HDR_BYTES 16384u      /* header + slot descriptors; data areas follow */
#define CM_CHAN_HEX 128               /* hex remote key */
#define CM_CHAN_DEAD_NS 2000000000ull /* a heartbeat older than this: check the pid */
#define CM_CHAN_SPAWN_NS 250000000ull /* one spawn attempt per channel per 250 ms */

/* Lookup slot states. FREE -> CLAIMED (host) -> POSTED (host) -> BUSY (agent) -> DONE (agent)
 * -> FREE (host, after copying the reply). A host that gives up turns POSTED or BUSY into
 * ABANDONED; whoever sees ABANDONED next (the agent finishing, a new agent, the janitor)
 * frees it. */
enum {
    CM_SLOT_FREE,
    CM_SLOT_CLAIMED,
    CM_SLOT_POSTED,
    CM_SLOT_BUSY,
    CM_SLOT_DONE,
    CM_SLOT_ABANDONED
};

/* What a lookup came back with. */
enum cm_chan_result {
    CM_CHAN_HIT = 0,     /* the envelope bytes are in the reply */
    CM_CHAN_MISS = 1,    /* the server does not have it */
    CM_CHAN_ERROR = 2,   /* the agent could not ask (transport error, bad status) */
    CM_CHAN_TIMEOUT = 3, /* remote_timeout passed (in the agent or while the host waited) */
    CM_CHAN_SKIPPED = 4, /* read breaker open, no free slot, no agent */
    CM_CHAN_AUTH = 5,    /* 401/403 */
};

/* What decides what an agent talks to and how (the channel is named by a hash of it). */
struct cm_chan_conf {
    char url[1024];
    char ns[72];
    char token_file[1024]; /* absolute, "" none: the agent reads it */
    char ca_file[1024];    /* remote_ca, absolute, "" the system CA store */
    char secret_id[32];    /* hash of secret_file's path: configs with different secrets get
                              different agents (the agent never sees the secret) */
    uint64_t timeout_ns;   /* remote_timeout */
    uint64_t flush_ns;     /* flush_timeout: the agent's drain when it stops */
    uint64_t max_value;    /* remote_max_value */
    uint64_t expire_ns;    /* remote_expire */
    uint64_t idle_ns;      /* agent_idle */
    uint64_t queue_bytes;  /* remote_queue_bytes: the store ring */
};

/* The agent's counters, monotonic (gauges marked). */
struct cm_chan_stats {
    _Atomic uint64_t gets, hits, misses, errors, timeouts, skipped, auth_errors;
    _Atomic uint64_t puts, put_errors, dropped, sent_bytes;
    _Atomic uint64_t host_dropped; /* stores hosts could not queue (ring full) */
    _Atomic uint64_t inflight;     /* gauge: requests the agent is working on */
    _Atomic uint64_t breaker_opens;
    _Atomic uint32_t brk_read, brk_write; /* gauge: 0 closed, 1 open, 2 probing */
};

struct cm_chan_hdr {
    /* Stable prefix, the same in every protocol version: lets a newer cloudm stop an older
     * agent (stop = 1, futex-woken) before it replaces the file. */
    _Atomic uint32_t magic; /* written last at creation */
    uint32_t version;
    uint32_t uid;
    _Atomic uint32_t stop;      /* 1: drain and exit */
    _Atomic uint32_t agent_pid; /* 0: no agent */
    uint32_t pad0;
    _Atomic uint64_t heartbeat_ns; /* CLOCK_MONOTONIC, every 200 ms */
    _Atomic uint64_t started_ns;
    _Atomic uint64_t spawn_ns; /* last spawn attempt (one spawner per 2 s) */
    /* Version 1. */
    uint64_t total_bytes, slot_bytes, slots_off, ring_off, ring_bytes;
    struct cm_chan_conf conf;
    _Atomic uint32_t req_seq;     /* futex: the agent's leader waits here (bumped per post) */
    _Atomic uint32_t hlp_seq;     /* futex: the agent's helpers wait here */
    _Atomic uint32_t leader_busy; /* the leader is working: wake a helper to time the wait */
    _Atomic uint32_t st_seq;      /* futex: the store pump waits here (agent-internal) */
    _Atomic uint32_t ld_sleeping; /* the leader sleeps on req_seq: posts and stores wake it */
    _Atomic uint32_t st_lock;     /* pid of the host reserving ring space, 0 free */
    _Atomic uint64_t st_head;     /* consumer position (bytes, never wraps) */
    _Atomic uint64_t st_tail;     /* producers' published position */
    _Atomic uint64_t st_records;  /* gauge: records between head and tail */
    _Atomic uint32_t msg_seq;     /* bumped after msg is written */
    char msg[400];                /* the agent's last one-line message for hosts' stderr */
    struct cm_chan_stats st;
};

struct cm_chan_slot {
    _Atomic uint32_t state;
    uint32_t pid; /* the host process that claimed it */
    uint32_t result;
    _Atomic uint32_t sleeping; /* the host sleeps on state: the agent wakes it */
    uint64_t len;              /* reply bytes in the data area */
    uint64_t posted_ns;
    char hex[CM_CHAN_HEX];
    _Atomic uint64_t answered_ns; /* when the agent answered (the host's spin estimate) */
    uint8_t pad2[256 - 40 - CM_CHAN_HEX];
};
_Static_assert(sizeof(struct cm_chan_slot) == 256, "slot descriptor size");

/* A store-ring record: 8-byte aligned, never split across the end (a PAD record fills it). */
enum { CM_REC_WRITING = 1, CM_REC_READY = 2, CM_REC_PAD = 3, CM_REC_VOID = 4 };
struct cm_chan_rec {
    uint32_t len; /* whole record, header included, multiple of 8 */
    _Atomic uint32_t state;
    uint32_t pid;
    uint32_t envlen;
    uint64_t made_ns;
    char hex[CM_CHAN_HEX];
    uint8_t env[];
};

static inline struct cm_chan_slot *cm_chan_slot(struct cm_chan_hdr *h, int i)
{
    return (struct cm_chan_slot *)((uint8_t *)h + 4096) + i;
}
static inline uint8_t *cm_chan_slot_data(struct cm_chan_hdr *h, int i)
{
    return (uint8_t *)h + h->slots_off + (uint64_t)i * h->slot_bytes;
}
static inline uint8_t *cm_chan_ring(struct cm_chan_hdr *h)
{
    return (uint8_t *)h + h->ring_off;
}

/* ---- chan_open.c ----------------------------------------------------------------------- */

uint64_t cm_chan_now(void); /* CLOCK_MONOTONIC ns */

struct cm_config;
/* The channel of a parsed config (shared_path, remote settings; paths expanded): fills c and
 * path, and the expanded secret_file path into secret. 0 or -ENAMETOOLONG. */
int cm_chan_for_config(const struct cm_config *cfg, struct cm_chan_conf *c, char *path, size_t size,
                       char *secret, size_t secsz);

/* The channel file for conf beside the segment file seg_path ("<seg>-agent-<hash>"). */
int cm_chan_path(const char *seg_path, const struct cm_chan_conf *c, char *out, size_t size);

/* The bytes a channel maps (header, CM_CHAN_SLOTS reply areas of remote_max_value plus the
 * envelope's overhead, the store ring of remote_queue_bytes plus an eighth, at least two of the
 * largest records): every host and the agent map all of it. With the defaults (64 MiB, 64 MiB)
 * about 2.1 GiB of address space, sparse (only pages touched use memory). */
uint64_t cm_chan_map_bytes(uint64_t max_value, uint64_t queue_bytes);

/* Maps the channel at path, creating it for conf when it does not exist (conf NULL: open
 * only). Refuses a file not owned by the caller, not a regular file, group/world accessible,
 * of another protocol version (it is then stopped and replaced when conf is given) or whose
 * configuration differs. No descriptor stays open. NULL with a reason in err. */
struct cm_chan_hdr *cm_chan_open(const char *path, const struct cm_chan_conf *conf, char *err,
                                 size_t errsz);
void cm_chan_unmap(struct cm_chan_hdr *h);

/* 1 when an agent holds the channel and is alive (pid checked when its heartbeat is old). */
int cm_chan_agent_alive(struct cm_chan_hdr *h);

/* The same, always checking the pid (after a lookup timed out). */
int cm_chan_agent_check(struct cm_chan_hdr *h);

/* Starts `bin agent --channel path` detached (see above), at most once per 250 ms per channel
 * (unless force). 0 started, 1 not now (someone else did recently), negative errno. */
int cm_chan_spawn(struct cm_chan_hdr *h, const char *bin, const char *path, int force);

/* ---- chan_ring.c: the host side ---------------------------------------------------------- */

/* Posts a lookup of hex and waits at most timeout_ns. On CM_CHAN_HIT copies the reply into
 * private memory from getbuf(length) and sets *out and *len. Returns an enum cm_chan_result. */
int cm_chan_lookup(struct cm_chan_hdr *h, const char hex[CM_CHAN_HEX], uint64_t timeout_ns,
                   uint8_t *(*getbuf)(size_t), const uint8_t **out, size_t *len);

/* Reserves a store record for envlen envelope bytes. Returns where to write them (and fills
 * the record's key), or NULL when the ring is full (counted in st.host_dropped). */
uint8_t *cm_chan_store_begin(struct cm_chan_hdr *h, const char hex[CM_CHAN_HEX], size_t envlen,
                             struct cm_chan_rec **rec);
/* Publishes a record (ok) or turns it into padding (!ok), and wakes the pump. */
void cm_chan_store_end(struct cm_chan_hdr *h, struct cm_chan_rec *rec, int ok);

/* ---- chan_ring.c: the agent side --------------------------------------------------------- */

/* Claims a POSTED slot (BUSY), or -1 when none. */
int cm_chan_claim(struct cm_chan_hdr *h);
/* Reports a claimed slot's outcome (data already in cm_chan_slot_data) and wakes its host. */
void cm_chan_answer(struct cm_chan_hdr *h, int i, int result, uint64_t len);
/* 1 when the ring's head record is there to be consumed (not being written). */
int cm_chan_store_waiting(struct cm_chan_hdr *h);
/* 1 when some slot is POSTED. */
int cm_chan_posted(struct cm_chan_hdr *h);
/* Frees slots whose host died, and (at start) those a previous agent left BUSY. */
void cm_chan_janitor(struct cm_chan_hdr *h, int at_start);
/* The record at the ring's head: READY record, or NULL (empty, or the head is being written;
 * a head whose writer died is skipped and counted). */
struct cm_chan_rec *cm_chan_pop_peek(struct cm_chan_hdr *h);
/* Consumes the head record returned by cm_chan_pop_peek(). */
void cm_chan_pop_done(struct cm_chan_hdr *h, struct cm_chan_rec *r);
/* Copies the envelope of the newest queued (not yet sent) store of hex into out: a lookup right
 * after a store (another process, a fork child) sees it before the server does. Length, or -1.
 */
long cm_chan_find_queued(struct cm_chan_hdr *h, const char hex[CM_CHAN_HEX], uint8_t *out,
                         size_t cap);
/* Futex helpers on words of the mapping; wait returns after a wake, a change or timeout. */
void cm_chan_wait(_Atomic uint32_t *w, uint32_t val, uint64_t timeout_ns);
void cm_chan_wake(_Atomic uint32_t *w, int n);
/* One message line for hosts to print (they print each once). */
void cm_chan_say(struct cm_chan_hdr *h, const char *msg);

#endif
