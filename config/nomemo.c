/*
 * nomemo.c - the built-in list of C-library functions that can never be memoized.
 *
 * What it does: answers whether a function name belongs to a family whose result depends on
 * something other than its arguments, or whose effect is the point of the call: I/O and files,
 * memory management, threads and synchronisation, time and clocks, random numbers, locale and
 * environment, signals, process control, dynamic loading, errno and the C runtime's own entry
 * points. The families are matched by name prefix, only for functions the C library's own
 * objects define (libc, libpthread, librt, libdl, libresolv, ...), so a user's `is_prime` or
 * `read_model` stays a candidate; the C++ runtime, the unwinder, ld.so and the sanitizer
 * runtimes are excluded whole. `cloudm discover` never observes nor suggests
 * them; docs/discover.md lists the families. Names starting with "__" (compiler and C-runtime
 * internals) and the dl* family are excluded whoever defines them.
 *
 * What it does not do: it does not decide that anything else is pure: discover ranks the
 * remaining functions by observed repeats, and `cloudm probe` checks for hidden inputs.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cm_config.h"

/* Whole families, by prefix. */
static const char *const prefixes[] = {
    "__",
    "_IO_",
    "_dl_",
    "_exit",
    "_Unwind_",
    "pthread_",
    "sem_",
    "mtx_",
    "cnd_",
    "thrd_",
    "tss_",
    "sig",
    "str", /* str*: cheap, and strtok/strerror keep state */
    "mem",
    "wmem",
    "wcs",
    "malloc",
    "calloc",
    "realloc",
    "free",
    "aligned_alloc",
    "posix_memalign",
    "valloc",
    "pvalloc",
    "mmap",
    "munmap",
    "mprotect",
    "mremap",
    "madvise",
    "mlock",
    "munlock",
    "brk",
    "sbrk",
    "f", /* fopen fread fprintf fflush fclose fcntl fork ... */
    "print",
    "vprint",
    "vf",
    "vs",
    "vd",
    "scan",
    "vscan",
    "sscan",
    "snprint",
    "sprint",
    "dprint",
    "put",
    "get",
    "ungetc",
    "perror",
    "open",
    "close",
    "read",
    "write",
    "pread",
    "pwrite",
    "lseek",
    "dup",
    "pipe",
    "poll",
    "select",
    "pselect",
    "epoll_",
    "ioctl",
    "socket",
    "connect",
    "accept",
    "bind",
    "listen",
    "send",
    "recv",
    "shutdown",
    "setsock",
    "getsock",
    "time",
    "clock",
    "gettimeofday",
    "nanosleep",
    "sleep",
    "usleep",
    "alarm",
    "difftime",
    "localtime",
    "gmtime",
    "mktime",
    "asctime",
    "ctime",
    "tz",
    "rand",
    "srand",
    "random",
    "srandom",
    "drand48",
    "erand48",
    "lrand48",
    "nrand48",
    "mrand48",
    "jrand48",
    "srand48",
    "seed48",
    "lcong48",
    "arc4random",
    "setlocale",
    "newlocale",
    "uselocale",
    "freelocale",
    "duplocale",
    "localeconv",
    "nl_langinfo",
    "setenv",
    "unsetenv",
    "putenv",
    "clearenv",
    "secure_getenv",
    "raise",
    "kill",
    "abort",
    "exit",
    "atexit",
    "on_exit",
    "quick_exit",
    "at_quick_exit",
    "wait",
    "exec",
    "posix_spawn",
    "system",
    "popen",
    "pclose",
    "setjmp",
    "longjmp",
    "_setjmp",
    "_longjmp",
    "siglongjmp",
    "dl",
    "errno",
    "err",
    "warn",
    "syslog",
    "openlog",
    "closelog",
    "vsyslog",
    "syscall",
    "prctl",
    "ptrace",
    "chdir",
    "fchdir",
    "chmod",
    "chown",
    "mkdir",
    "rmdir",
    "unlink",
    "rename",
    "link",
    "symlink",
    "readlink",
    "stat",
    "lstat",
    "fstat",
    "access",
    "umask",
    "mkstemp",
    "mkdtemp",
    "tmpfile",
    "tmpnam",
    "opendir",
    "readdir",
    "closedir",
    "rewinddir",
    "scandir",
    "glob",
    "setuid",
    "setgid",
    "seteuid",
    "setegid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setsid",
    "setpgid",
    "getpid",
    "getppid",
    "gettid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "sched_",
    "sysconf",
    "pathconf",
    "uname",
    "isatty",
    "ttyname",
    "tcgetattr",
    "tcsetattr",
    "qsort",
    "bsearch",
    "tsearch",
    "tfind",
    "tdelete",
    "twalk",
    "hsearch",
    "hcreate",
    "hdestroy",
    "lsearch",
    "lfind",
    "atomic_",
    "setvbuf",
    "setbuf",
    "setlinebuf",
    "tolower",
    "toupper",
    "is", /* isalpha ...: locale-dependent and cheap */
    "catopen",
    "catgets",
    "catclose",
    "gettext",
    "dgettext",
    "dcgettext",
    "ngettext",
    "bindtextdomain",
    "textdomain",
    "iconv",
    "setrlimit",
    "getrlimit",
    "prlimit",
    "getrusage",
    "times",
    "ftok",
    "shm",
    "msg",
    "semget",
    "semop",
    "semctl",
    "eventfd",
    "timerfd",
    "signalfd",
    "inotify_",
    "memfd_",
    "uuid_generate",
    "getrandom",
    "getentropy",
    "_Znw",
    "_Zna",
    "_Zdl",
    "_Zda", /* operator new/delete */
};

/* The C library's objects: their functions are candidates unless a family above says no. */
static const char *const libc_objects[] = {
    "libc.so", "libc-", "libpthread", "librt", "libdl", "libresolv", "libutil", "libanl",
};

/* Runtimes none of whose functions is ever a candidate: the C++ runtime (its functions take
 * objects the signature language cannot describe), the unwinder, the dynamic loader and the
 * sanitizer runtimes (interceptors of other functions). */
static const char *const runtime_objects[] = {
    "libstdc++", "libgcc_s", "ld-linux", "libasan", "libtsan", "libubsan", "liblsan",
};

static bool base_in(const char *base, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strncmp(base, v[i], strlen(v[i])) == 0)
            return true;
    return false;
}

bool cm_never_memoizable(const char *name, const char *provider)
{
    if (!name || !name[0] || strncmp(name, "__", 2) == 0 || strncmp(name, "dl", 2) == 0)
        return true;
    if (!provider)
        return false;
    const char *base = strrchr(provider, '/');
    base = base ? base + 1 : provider;
    if (base_in(base, runtime_objects, sizeof(runtime_objects) / sizeof(runtime_objects[0])))
        return true;
    if (!base_in(base, libc_objects, sizeof(libc_objects) / sizeof(libc_objects[0])))
        return false;
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}
