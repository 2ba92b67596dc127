/*
 * fork_dlsym.c - test_item1_fork_dlsym: fork while another thread is inside dlsym().
 *
 * One thread calls dlsym(RTLD_DEFAULT, "hd_sq") in a loop; the main thread forks 20 times and
 * every child calls dlsym and the function it returned, then exits. The parent waits at most
 * 2 s per child (a hung child is killed and counted) and prints how many exited by themselves
 * with the right answer.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long hd_sq(long x);

static volatile int stop;

static void *looper(void *arg)
{
    (void)arg;
    while (!stop) {
        long (*f)(long) = (long (*)(long))dlsym(RTLD_DEFAULT, "hd_sq");
        if (!f || f(3) != 9)
            _exit(3);
    }
    return NULL;
}

int main(void)
{
    pthread_t t;
    printf("hd_sq(4) = %ld\n", hd_sq(4));
    fflush(stdout);
    pthread_create(&t, NULL, looper, NULL);
    int ok = 0, hung = 0;
    for (int i = 0; i < 20; i++) {
        pid_t p = fork();
        if (p == 0) {
            long (*f)(long) = (long (*)(long))dlsym(RTLD_DEFAULT, "hd_sq");
            _exit(f && f(5) == 25 ? 0 : 4);
        }
        int st = 0, done = 0;
        for (int ms = 0; ms < 2000 && !done; ms++) {
            if (waitpid(p, &st, WNOHANG) == p)
                done = 1;
            else
                usleep(1000);
        }
        if (!done) {
            kill(p, SIGKILL);
            waitpid(p, &st, 0);
            hung++;
        } else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
            ok++;
        }
    }
    stop = 1;
    pthread_join(t, NULL);
    printf("children ok %d hung %d\n", ok, hung);
    return 0;
}
