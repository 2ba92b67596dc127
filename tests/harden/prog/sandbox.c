/*
 * sandbox.c - test_item7_seccomp: memoized calls before and after the program sandboxes itself.
 *
 * Usage: sandbox strict|filter|tsc.
 *   strict: 100 calls, prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT), then 150 calls (100 repeats,
 *           50 new), the result written with write(2) and the thread ended with SYS_exit (the
 *           only ways out strict mode allows).
 *   filter: an allow-list seccomp filter (no clone/clone3: no new thread) is installed first,
 *           then 200 distinct calls and 200 repeats; normal exit.
 *   tsc:    prctl(PR_SET_TSC, PR_TSC_SIGSEGV) (rdtsc faults from then on), then 200 calls.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

long hd_sq(long x);

static int allow_list(void)
{
    static const int ok[] = {SYS_read,           SYS_write,
                             SYS_openat,         SYS_close,
                             SYS_fstat,          SYS_newfstatat,
                             SYS_lseek,          SYS_mmap,
                             SYS_munmap,         SYS_mprotect,
                             SYS_mremap,         SYS_brk,
                             SYS_madvise,        SYS_futex,
                             SYS_rt_sigprocmask, SYS_rt_sigaction,
                             SYS_exit,           SYS_exit_group,
                             SYS_getpid,         SYS_gettid,
                             SYS_clock_gettime,  SYS_clock_nanosleep,
                             SYS_nanosleep,      SYS_getrandom,
                             SYS_sched_yield,    SYS_kill};
    struct sock_filter f[64];
    int n = 0, nok = (int)(sizeof(ok) / sizeof(ok[0]));
    f[n++] =
        (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    f[n++] =
        (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (int i = 0; i < nok; i++) {
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)ok[i], 0, 1);
        f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    }
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    struct sock_fprog prog = {.len = (unsigned short)n, .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "strict";
    long s = 0;
    if (strcmp(mode, "strict") == 0) {
        for (long i = 0; i < 100; i++)
            s += hd_sq(i);
        fflush(stdout);
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0)
            return 2;
        for (long i = 0; i < 150; i++)
            s += hd_sq(i);
        char buf[64];
        int n = snprintf(buf, sizeof(buf), "strict: sum %ld\n", s);
        write(1, buf, (size_t)n);
        syscall(SYS_exit, 0);
    }
    if (strcmp(mode, "filter") == 0) {
        if (allow_list() != 0)
            return 2;
        for (int r = 0; r < 2; r++)
            for (long i = 0; i < 200; i++)
                s += hd_sq(i);
        printf("filter: sum %ld\n", s);
        return 0;
    }
    if (prctl(PR_SET_TSC, PR_TSC_SIGSEGV) != 0)
        return 2;
    for (int r = 0; r < 2; r++)
        for (long i = 0; i < 100; i++)
            s += hd_sq(i);
    printf("tsc: sum %ld\n", s);
    return 0;
}
