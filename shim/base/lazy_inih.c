/*
 * lazy_inih.c - inih's ini_parse_stream for libcloudm.so, loaded on first use (base.h, "lazy").
 *
 * What it does: defines ini_parse_stream under its own name (config/ini.c, compiled into the
 * shim through the cm_config library, calls it as it is); libinih is opened the first time a
 * config is parsed, so the observation mode never loads it. Without libinih it returns
 * -ELIBACC, which config/ini.c passes on: the config cannot be read and nothing is memoized.
 *
 * What it does not do: anything for the `cloudm` command and the tests, which link libinih
 * itself; no symbol is exported (exports.map).
 */
#include "base.h"

#include <errno.h>
#include <ini.h>

static const struct cm_lazy_sym syms[1] = {{"ini_parse_stream", NULL}};
static void *ptrs[1];
static struct cm_lazy inih = {
    .soname = "libinih.so.1",
    .needed_for = "no config can be read: nothing is memoized",
    .syms = syms,
    .ptrs = ptrs,
    .nsyms = 1,
};

int ini_parse_stream(ini_reader reader, void *stream, ini_handler handler, void *user)
{
    int (*f)(ini_reader, void *, ini_handler, void *) = cm_lazy_get(&inih, 0);
    return f ? f(reader, stream, handler, user) : -ELIBACC;
}
