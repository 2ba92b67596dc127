/*
 * options.c - the two command-line helpers every `cloudm` command shares, the keycache server
 * included: an option's value ("--opt=V", "-oV" or the next argument) and "is this option".
 *
 * What it does not do: no option tables, no usage text, no exit: each command parses its own
 * options and says its own usage; this file only splits words.
 */
#include "cm_config.h"

#include <stdio.h>
#include <string.h>

/* "-c" / "--config" style option with a value: the value from "--opt=V", "-cV" or the next
 * argument. Returns NULL (after a message) when it is missing. */
const char *cm_option_value(int argc, char **argv, int *i, const char *cmd, size_t namelen)
{
    const char *a = argv[*i];

    if (a[namelen] == '=')
        return a + namelen + 1;
    if (a[1] != '-' && a[namelen] != '\0')
        return a + namelen; /* -cFILE */
    if (*i + 1 < argc) {
        (*i)++;
        return argv[*i];
    }
    fprintf(stderr, "cloudm %s: option '%.*s' needs a value\n", cmd, (int)namelen, a);
    return NULL;
}

bool cm_is_option(const char *a, const char *name)
{
    size_t n = strlen(name);

    return strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '=');
}
