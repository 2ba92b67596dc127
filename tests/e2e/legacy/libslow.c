/*
 * libslow.c - one deliberately slow function for the single-flight test: slow_square() sleeps
 * 300 ms, then appends one line to the file named by $SLOW_LOG (if set), so a test can count
 * how many times it really ran across all processes.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double slow_square(double x)
{
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    const char *log = getenv("SLOW_LOG");
    if (log) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            char line[64];
            int n = snprintf(line, sizeof(line), "ran %d\n", (int)getpid());
            if (write(fd, line, (size_t)n) < 0)
                n = 0;
            close(fd);
        }
    }
    return x * x;
}
