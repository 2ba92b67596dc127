/*
 * hostile.c - programs that do to their descriptors, threads and exit what real programs do, for
 * the remote tier through its agent (test_remote_hostile.sh).
 *
 * What it does: `hostile MODE DIR N` with MODE
 *   closeall    closes every descriptor from 3 to 1023, opens 8 files in DIR, calls lg_sq N
 *               times, writes every result into the 8 files, closes them and prints what is in
 *               /proc/self/fd and how many threads /proc/self/task has;
 *   dup2all     the same after dup2()ing /dev/null over every descriptor from 3 to 1023;
 *   closerange  the same after close_range(3, ~0U, 0);
 *   exitthreads 8 threads call lg_sq in a loop; main calls exit() after N microseconds;
 *   pthreadexit a worker calls lg_sq N times; main ends with pthread_exit();
 *   manythreads N threads (under `ulimit -n 1024`) each call lg_sq once and open() a file in
 *               DIR, holding it until all have tried; prints how many open()s failed;
 *   children    counts SIGCHLDs, makes N calls, then asks waitpid(-1) for children: the agent
 *               the shim starts must not show up as one;
 *   kill|exec|_exit  N distinct lg_sq calls (printed), then SIGKILL itself, execs /bin/true,
 *               or _exit(0)s without flushing anything else.
 * Output depends only on the arguments, so a run under cloudm must match a plain run.
 *
 * What it does not do: check anything itself (the script compares outputs and counters).
 */
#include "../legacy/legacy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long arg_n;

static void show_fds_and_tasks(void)
{
    char line[8192] = "";
    DIR *d = opendir("/proc/self/fd");
    int dfd = d ? dirfd(d) : -1, tasks = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        /* 0-2 are the harness's (they name per-run files) */
        if (e->d_name[0] == '.' || atoi(e->d_name) == dfd || atoi(e->d_name) < 3)
            continue;
        char p[300], t[512];
        snprintf(p, sizeof(p), "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(p, t, sizeof(t) - 1);
        t[n > 0 ? n : 0] = 0;
        /* pipes and sockets differ per run; the kind is what matters */
        char *c = strchr(t, '[');
        if (c)
            *c = 0;
        size_t l = strlen(line);
        snprintf(line + l, sizeof(line) - l, " %s=%s", e->d_name, t);
    }
    if (d)
        closedir(d);
    d = opendir("/proc/self/task");
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        tasks += e->d_name[0] != '.';
    if (d)
        closedir(d);
    printf("fds:%s\ntasks: %d\n", line, tasks);
}

static int files_run(const char *dir)
{
    int fds[8];
    char path[4096];
    for (int i = 0; i < 8; i++) {
        snprintf(path, sizeof(path), "%s/file%d", dir, i);
        fds[i] = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fds[i] < 0) {
            perror(path);
            return 1;
        }
    }
    long long *r = malloc(sizeof(*r) * (size_t)arg_n);
    for (long i = 0; i < arg_n; i++)
        r[i] = lg_sq(i * 7919 - 123456);
    for (int f = 0; f < 8; f++) {
        char buf[64];
        for (long i = f; i < arg_n; i += 8) {
            int n = snprintf(buf, sizeof(buf), "sq %ld %lld\n", i, r[i]);
            if (write(fds[f], buf, (size_t)n) != n) {
                perror("write");
                return 1;
            }
        }
        if (close(fds[f]) != 0) {
            perror("close");
            return 1;
        }
    }
    free(r);
    show_fds_and_tasks();
    return 0;
}

static volatile int go_on = 1;
static volatile sig_atomic_t nchld;

static void on_chld(int sig)
{
    (void)sig;
    nchld++;
}

static void *looper(void *arg)
{
    long base = (long)arg * 100000;
    for (long i = 0; go_on; i = (i + 1) % 50)
        lg_sq(base + i);
    return NULL;
}

static void *worker(void *arg)
{
    (void)arg;
    for (long i = 0; i < arg_n; i++)
        printf("sq %ld %lld\n", i, (long long)lg_sq(i * 7919 - 123456));
    fflush(stdout);
    return NULL;
}

static pthread_barrier_t bar;
static const char *g_dir;
static _Atomic int open_fail, open_ok;

static void *opener(void *arg)
{
    char path[4096];
    long i = (long)arg;
    lg_sq(i);
    snprintf(path, sizeof(path), "%s/t%ld", g_dir, i);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        open_fail++;
    else
        open_ok++;
    pthread_barrier_wait(&bar);
    if (fd >= 0)
        close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: hostile MODE DIR N\n");
        return 2;
    }
    const char *mode = argv[1], *dir = argv[2];
    arg_n = atol(argv[3]);
    if (!strcmp(mode, "closeall")) {
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        return files_run(dir);
    }
    if (!strcmp(mode, "dup2all")) {
        int nul = open("/dev/null", O_RDWR);
        for (int fd = 3; fd < 1024; fd++)
            if (fd != nul)
                dup2(nul, fd);
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        return files_run(dir);
    }
    if (!strcmp(mode, "closerange")) {
        syscall(SYS_close_range, 3u, ~0u, 0u);
        return files_run(dir);
    }
    if (!strcmp(mode, "exitthreads")) {
        pthread_t t[8];
        for (long i = 0; i < 8; i++)
            pthread_create(&t[i], NULL, looper, (void *)i);
        struct timespec ts = {0, arg_n * 1000};
        nanosleep(&ts, NULL);
        printf("exiting\n");
        exit(0);
    }
    if (!strcmp(mode, "pthreadexit")) {
        pthread_t t;
        pthread_create(&t, NULL, worker, NULL);
        pthread_exit(NULL);
    }
    if (!strcmp(mode, "manythreads")) {
        pthread_t *t = calloc((size_t)arg_n, sizeof(*t));
        long made = 0;
        g_dir = dir;
        pthread_barrier_init(&bar, NULL, (unsigned)arg_n);
        for (long i = 0; i < arg_n; i++)
            if (pthread_create(&t[i], NULL, opener, (void *)i) == 0)
                made++;
        for (long i = 0; i < made; i++)
            pthread_join(t[i], NULL);
        printf("threads %ld  open ok %d  open failed %d\n", made, open_ok, open_fail);
        return open_fail != 0;
    }
    if (!strcmp(mode, "children")) {
        signal(SIGCHLD, on_chld);
        for (long i = 0; i < arg_n; i++)
            printf("sq %ld %lld\n", i, (long long)lg_sq(i * 7919 - 123456));
        struct timespec ts = {0, 300000000};
        nanosleep(&ts, NULL);
        pid_t w = waitpid(-1, NULL, WNOHANG);
        printf("sigchld %d  waitpid %s\n", (int)nchld,
               w < 0 && errno == ECHILD ? "ECHILD" : "found a child");
        return 0;
    }
    if (!strcmp(mode, "kill") || !strcmp(mode, "exec") || !strcmp(mode, "_exit")) {
        for (long i = 0; i < arg_n; i++)
            printf("sq %ld %lld\n", i, (long long)lg_sq(i * 7919 - 123456));
        fflush(stdout);
        if (!strcmp(mode, "kill"))
            raise(SIGKILL);
        if (!strcmp(mode, "exec"))
            execl("/bin/true", "true", (char *)NULL);
        _exit(0);
    }
    fprintf(stderr, "hostile: unknown mode %s\n", mode);
    return 2;
}
