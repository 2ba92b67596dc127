/*
 * plug.c - libplug.so for test_item5_dlclose_reload, built twice (PLUG_VAL 51 and 52): a plugin a
 * host replaces on disk and reloads. Its constructor and destructor announce themselves.
 */
#include <stdio.h>

#ifndef PLUG_VAL
#define PLUG_VAL 51
#endif

long plug_val(long x)
{
    return x * 0 + PLUG_VAL;
}

__attribute__((constructor)) static void up(void)
{
    printf("plug %d: constructor\n", PLUG_VAL);
    fflush(stdout);
}

__attribute__((destructor)) static void down(void)
{
    printf("plug %d: destructor\n", PLUG_VAL);
    fflush(stdout);
}
