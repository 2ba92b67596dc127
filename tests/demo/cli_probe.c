/*
 * cli_probe.c - a tiny target program for the `cloudm` command's tests (test_cli.sh).
 *
 * What it does, in argument order: `--print NAME` prints the environment variable NAME (or
 * "(unset)") on its own line, `--touch FILE` creates FILE (proof the program ran), `--exit N`
 * exits with status N right away. Without --exit it exits 0.
 *
 * What it does not do: it calls no memoizable function; it only observes what `cloudm` set up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *arg = argv[i + 1];

        if (strcmp(argv[i], "--print") == 0) {
            const char *v = getenv(arg);

            printf("%s\n", v ? v : "(unset)");
        } else if (strcmp(argv[i], "--touch") == 0) {
            FILE *f = fopen(arg, "w");

            if (f == NULL) {
                perror(arg);
                return 1;
            }
            fclose(f);
        } else if (strcmp(argv[i], "--exit") == 0) {
            fflush(stdout);
            return atoi(arg);
        } else {
            fprintf(stderr, "cli_probe: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    return 0;
}
