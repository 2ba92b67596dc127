/*
 * report.h - the per-process report written at exit (format: docs/report.md).
 */
#ifndef CM_REPORT_H
#define CM_REPORT_H

#include "cm_config.h"

/* dest: NULL/"" = no report, "stderr" = human table on stderr, else a JSON file path (%p = pid). */
void cm_report_setup(const struct cm_config *cfg, const char *dest, enum cm_mode global_mode);

/* Write the report now (called once, at exit). */
void cm_report_write(void);

#endif
