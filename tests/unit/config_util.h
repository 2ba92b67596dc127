/*
 * config_util.h - helpers shared by the config library's unit tests.
 *
 * What it does: captures the parser's messages (struct msgs, collect), parses a config text
 * under the name "t.conf" (parse), and parses one that must be clean, returning a function of
 * it (good). Include after cm_test.h.
 *
 * What it does not do: any checking of its own beyond "no message" in good().
 */
#ifndef CM_CONFIG_UTIL_H
#define CM_CONFIG_UTIL_H

#include "cm_config.h"
#include "cm_test.h"

#define MAX_MSGS 16

struct msgs {
    int n;
    char text[MAX_MSGS][512];
    enum cm_severity sev[MAX_MSGS];
};

static __attribute__((unused)) void collect(void *ctx, enum cm_severity sev, const char *msg)
{
    struct msgs *m = ctx;

    if (m->n < MAX_MSGS) {
        snprintf(m->text[m->n], sizeof(m->text[0]), "%s", msg);
        m->sev[m->n] = sev;
    }
    m->n++;
}

static __attribute__((unused)) int parse(const char *text, struct cm_config *cfg, struct msgs *m)
{
    memset(m, 0, sizeof(*m));
    return cm_config_parse("t.conf", text, strlen(text), cfg, collect, m);
}

/* Parses a config that must be clean; returns the function named `name` (NULL if absent). */
static __attribute__((unused)) const struct cm_function *
good(const char *text, struct cm_config *cfg, const char *name)
{
    struct msgs m;
    int i;

    ASSERT_EQ_INT(parse(text, cfg, &m), 0);
    ASSERT_EQ_INT(cfg->nerrors, 0);
    ASSERT_EQ_INT(cfg->nwarnings, 0);
    for (i = 0; i < m.n && i < MAX_MSGS; i++)
        ASSERT_EQ_STR(m.text[i], "(no message expected)");
    for (i = 0; i < cfg->nfunctions; i++) {
        if (strcmp(cfg->functions[i].name, name) == 0)
            return &cfg->functions[i];
    }
    return NULL;
}

#endif
