/*
 * disc_report.c - reading the shim's JSON reports (docs/report.md) back into the structures of
 * the discover report, for `cloudm profile --html FILE`.
 *
 * What it does: parses every report file in a directory with json-c and adds each function's
 * calls, distinct argument sets, time (miss_ns: in profile mode every call runs the function)
 * and saving (saved_ns) to `d`, merging processes by function name.
 *
 * What it does not do: no miss-ratio curves (profile keeps no trace), no prototypes.
 */
#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloudm_discover.h"
#include "disc.h"

static uint64_t num(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
        return 0;
    return (uint64_t)json_object_get_int64(v);
}

static void add_fn(struct disc *d, json_object *f, const char *program)
{
    json_object *n;
    if (!json_object_object_get_ex(f, "name", &n))
        return;
    const char *name = json_object_get_string(n);
    struct disc_fn *x = NULL;
    for (int i = 0; i < d->n; i++)
        if (strcmp(d->fns[i].name, name) == 0)
            x = &d->fns[i];
    if (!x) {
        if (d->n == d->cap) {
            int cap = d->cap ? 2 * d->cap : 16;
            struct disc_fn *v = realloc(d->fns, (size_t)cap * sizeof(*v));
            if (!v)
                return;
            d->fns = v;
            d->cap = cap;
        }
        x = &d->fns[d->n++];
        memset(x, 0, sizeof(*x));
        snprintf(x->name, sizeof(x->name), "%s", name);
        snprintf(x->object, sizeof(x->object), "%s", program);
        x->planned = true;
    }
    uint64_t calls = num(f, "calls");
    x->calls += calls;
    x->keyed += calls;
    x->ns += num(f, "miss_ns");
    x->distinct += (double)num(f, "distinct");
    x->saved_within += (double)num(f, "saved_ns");
    x->worth = x->saved_within > 0;
}

int disc_read_reports(const char *dir, struct disc *d)
{
    DIR *dd = opendir(dir);
    if (!dd)
        return -errno;
    struct dirent *e;
    char path[4096];
    d->threshold = CM_OBS_HASH_MASK;
    d->rate = 1;
    while ((e = readdir(dd))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        json_object *root = json_object_from_file(path);
        if (!root)
            continue;
        json_object *fns, *prog;
        const char *program =
            json_object_object_get_ex(root, "program", &prog) ? json_object_get_string(prog) : "";
        if (json_object_object_get_ex(root, "functions", &fns) &&
            json_object_is_type(fns, json_type_array))
            for (size_t i = 0; i < json_object_array_length(fns); i++)
                add_fn(d, json_object_array_get_idx(fns, i), program);
        d->nprocs++;
        json_object_put(root);
    }
    closedir(dd);
    return 0;
}
