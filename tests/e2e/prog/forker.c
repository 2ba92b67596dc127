/*
 * forker.c - memoized calls across fork and exec (test_forkexec.sh).
 *
 * Usage:
 *   forker fork               child: lg_sq(0..9) x 3 rounds; then parent: lg_sq(0..14) x 2.
 *                             No memoized call before the fork, so both reports are exact
 *                             whatever the shim does with counters at fork.
 *   forker prefork            parent: lg_sq(0..9), fork, child: lg_sq(0..9) x 2 (must be
 *                             right whether or not the child's cache starts with the parent's).
 *   forker exec PROG ARGS     lg_sq(0..9) x 2, then execv(PROG): the new image (same pid) must
 *                             be memoized too, with the configuration it inherited.
 *   forker forkexec PROG ARGS fork; the child execs PROG; the parent waits, then lg_sq(0..9) x 2.
 * Pids go to stderr as "forker: ROLE pid N" so the test can match reports to processes.
 *
 * What it does not do: run processes concurrently (children finish before the parent goes on,
 * so stdout is deterministic).
 */
#include "../legacy/legacy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void sq_rounds(const char *who, int n, int rounds)
{
    for (int r = 0; r < rounds; r++)
        for (int64_t x = 0; x < n; x++)
            printf("%s sq %lld %lld\n", who, (long long)x, (long long)lg_sq(x * 1000003 - 7));
    fflush(stdout);
}

static int wait_child(pid_t pid)
{
    int st;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        goto usage;
    const char *mode = argv[1];
    fflush(stdout);
    if (!strcmp(mode, "fork") || !strcmp(mode, "prefork")) {
        int pre = !strcmp(mode, "prefork");
        if (pre)
            sq_rounds("parent-before", 10, 1);
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0) {
            fprintf(stderr, "forker: child pid %d\n", (int)getpid());
            sq_rounds("child", 10, pre ? 2 : 3);
            legacy_report();
            exit(0); /* exit, not _exit: the child's report is written at exit */
        }
        printf("child status %d\n", wait_child(pid));
        fprintf(stderr, "forker: parent pid %d\n", (int)getpid());
        if (!pre)
            sq_rounds("parent", 15, 2);
        legacy_report();
        return 0;
    }
    if (!strcmp(mode, "exec") && argc > 2) {
        fprintf(stderr, "forker: exec pid %d\n", (int)getpid());
        sq_rounds("before-exec", 10, 2);
        fflush(NULL);
        execv(argv[2], argv + 2);
        perror("execv");
        return 2;
    }
    if (!strcmp(mode, "forkexec") && argc > 2) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0) {
            fprintf(stderr, "forker: child pid %d\n", (int)getpid());
            execv(argv[2], argv + 2);
            perror("execv");
            _exit(127);
        }
        printf("child status %d\n", wait_child(pid));
        fprintf(stderr, "forker: parent pid %d\n", (int)getpid());
        sq_rounds("parent", 10, 2);
        legacy_report();
        return 0;
    }
usage:
    fprintf(stderr, "usage: forker fork|prefork|exec PROG ARGS|forkexec PROG ARGS\n");
    return 2;
}
