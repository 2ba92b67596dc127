/*
 * plughost.c - test_item5_dlclose_reload: a plugin host that replaces its plugin on disk and
 * reloads it. Usage: plughost DIR LIB51 LIB52. Loads DIR/libplug.so (a copy of LIB51), calls
 * plug_val twice, dlcloses it; replaces the file with LIB52 the way `mv` does (rename over it) and
 * reloads; then overwrites the file in place with LIB51 the way `cp` does and reloads once more.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int copy(const char *from, const char *to, int flags)
{
    char buf[65536];
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | flags, 0755);
    if (in < 0 || out < 0)
        return -1;
    ssize_t n;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n)
            return -1;
    close(in);
    return close(out);
}

static void round_trip(const char *path, const char *what)
{
    void *h = dlopen(path, RTLD_NOW);
    if (!h) {
        printf("%s: dlopen failed: %s\n", what, dlerror());
        exit(2);
    }
    long (*f)(long) = (long (*)(long))dlsym(h, "plug_val");
    printf("%s: plug_val(1) = %ld, again %ld\n", what, f(1), f(1));
    fflush(stdout);
    dlclose(h);
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    char path[4096], tmp[4096];
    snprintf(path, sizeof(path), "%s/libplug.so", argv[1]);
    snprintf(tmp, sizeof(tmp), "%s/libplug.so.new", argv[1]);
    if (copy(argv[2], path, O_CREAT | O_TRUNC) != 0)
        return 2;
    round_trip(path, "first load");
    if (copy(argv[3], tmp, O_CREAT | O_TRUNC) != 0 || rename(tmp, path) != 0)
        return 2;
    round_trip(path, "after mv");
    if (copy(argv[2], path, O_TRUNC) != 0)
        return 2;
    round_trip(path, "after cp");
    return 0;
}
