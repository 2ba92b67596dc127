/*
 * disc.h - what the files of `cloudm discover` share (cmd_discover.c, disc_run.c,
 * disc_analyze.c, disc_out.c, disc_html.c).
 *
 * What it does: the per-function result of an observation run (counts, time, keys, prototype,
 * estimated savings, miss-ratio curve) and the entry points of each step.
 *
 * What it does not do: no observation (the shim's observe/ does that), no prototype extraction
 * (proto/).
 */
#ifndef CM_DISC_H
#define CM_DISC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "proto.h"

#define DISC_MRC_POINTS 24
#define DISC_ENTRY_BYTES 128 /* memory-tier bytes per entry assumed by the curves (approx.) */

struct disc_fn {
    char name[128];
    char object[256];
    uint64_t calls;
    uint64_t keyed; /* calls keyed and traced (below calls: a sample, the function was cheap) */
    uint64_t ns;
    bool sampled;   /* only a sample of the calls was keyed: distinct is an estimate */
    bool planned;   /* keyed by the prototype (else by registers: "≈") */
    uint64_t *keys; /* traced key hashes, in call order (per process, appended) */
    size_t nkeys, capkeys;
    double distinct;     /* distinct keys, estimated (sampled traces are scaled) */
    double seen_before;  /* calls whose key an earlier run also had (estimated) */
    double saved_within; /* ns a cache would have saved in this run */
    double saved_across; /* ns a cache filled by earlier runs would have saved */
    struct cm_proto proto;
    enum cm_sig_status sig;
    char sigline[1024];
    char why[1024];
    bool worth; /* goes into the generated config */
    int nmrc;   /* miss-ratio curve: hits when the tier holds mrc_entries[i] entries */
    double mrc_entries[DISC_MRC_POINTS];
    double mrc_hits[DISC_MRC_POINTS];
};

struct disc {
    struct disc_fn *fns;
    int n, cap;
    uint64_t
        run_ns; /* the run: the longest process, or the command's wall time less the plan service */
    uint64_t threshold;  /* keys traced iff hash <= threshold (the lowest of all processes) */
    double rate;         /* trace sampling rate (1 = every call), from threshold */
    int nprocs;          /* observation files read */
    char program[4096];  /* PROGRAM as given */
    struct cm_seg *seg;  /* the shared segment: its profile table keeps key digests across
                            runs (NULL: none) */
    uint16_t run_tag;    /* this run's tag in that table (nonzero) */
    int status;          /* the program's exit status */
};

/* disc_run.c: run PROGRAM under observation. `list`: only the candidates (name, object) of the
 * objects loaded at start (the program stops before main). Returns 0 or a CM_EXIT_* status; the
 * program's own exit status goes to *status. */
int disc_run(char **argv, const char *dir, const char *spec, const char *objects, bool list,
             int *status);

/* disc_plan.c: the key plan server on DIR/plan.sock (a thread of the command). */
struct disc_plan;
int disc_plan_start(struct disc_plan **out, const char *dir, const struct cm_proto_headers *h,
                    bool internal);
/* Stop serving (joins the thread; the cache stays readable). */
void disc_plan_stop(struct disc_plan *s);
/* The prototype looked up for (name, object) while serving; false when it was never asked. */
bool disc_plan_proto(const struct disc_plan *s, const char *name, const char *object,
                     struct cm_proto *out);
/* Time spent serving (the processes waited for it: not the program's run time). */
uint64_t disc_plan_busy_ns(const struct disc_plan *s);
void disc_plan_free(struct disc_plan *s);

/* disc_run.c: read DIR/list: calls each(name, object) for every line. */
int disc_read_list(const char *dir, void (*each)(const char *name, const char *object, void *ctx),
                   void *ctx);

/* disc_run.c: read every DIR/obs.* into d (functions merged by name and object). */
int disc_read_obs(const char *dir, struct disc *d);

/* disc_report.c: add the JSON reports (docs/report.md) in DIR to d (cloudm profile --html). */
int disc_read_reports(const char *dir, struct disc *d);

/* disc_analyze.c: distinct keys, savings, across-run digests (read, then updated), curves for
 * the `top` best, ranking (d->fns sorted, best first), and `worth` flags. */
void disc_analyze(struct disc *d, int top);

/* disc_out.c */
void disc_print_table(const struct disc *d, FILE *f, int top, const char *cmd);
int disc_write_config(const struct disc *d, const char *path);
int disc_write_json(const struct disc *d, const char *path);
/* The config text (for -o and the HTML page); malloc'd. */
char *disc_config_text(const struct disc *d);

/* disc_html.c: `title` names the command; `config` (NULL: the generated one) is shown. */
int disc_write_html(const struct disc *d, const char *path, int top, const char *title,
                    const char *config);

void disc_free(struct disc *d);

#endif
