/*
 * doctor.h - what the parts of `cloudm doctor` share (cmd_doctor.c: the command, the config,
 * the libraries, the remote; doctor_sys.c: the shared segment, the identity cache and the kernel
 * settings; doctor_report.c: the result lines).
 *
 * What it does not do: no check changes anything on the machine (no segment, directory or file
 * is created; the remote is only read).
 */
#ifndef CM_DOCTOR_H
#define CM_DOCTOR_H

#include "cm_config.h"

enum cm_doc_level { CM_DOC_OK = 0, CM_DOC_WARN = 1, CM_DOC_FAIL = 2 };

struct cm_doctor {
    int warns, fails; /* lines printed at each level */
};

/* doctor_report.c. One result line on stdout: "OK   what: text", "WARN ...", "FAIL ...". */
void cm_doc_line(struct cm_doctor *d, enum cm_doc_level level, const char *what, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));

/* An indented detail line under the last result (a diagnostic, a hint). */
void cm_doc_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "256 MiB", "1.5 GiB", "512 B": a byte count for humans, into buf. Returns buf. */
const char *cm_doc_bytes(unsigned long long n, char *buf, size_t size);

/* doctor_sys.c. `cfg` is the effective config (environment overrides applied). */
void cm_doc_segment(struct cm_doctor *d, const struct cm_config *cfg);
/* The remote's agent: running (pid), none yet, or a channel without a live agent. */
void cm_doc_agent(struct cm_doctor *d, const struct cm_config *cfg);
void cm_doc_idcache(struct cm_doctor *d);
void cm_doc_kernel(struct cm_doctor *d);

#endif
