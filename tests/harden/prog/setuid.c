/*
 * setuid.c - test_item6_setuid_segment: a root daemon that drops privileges.
 *
 * Usage: setuid before|after UID SEGPATH. "after": calls hd_who(5) as root, switches to UID with
 * setresuid (gid too), calls hd_who(6) and hd_who(6) again, and says whether SEGPATH is still
 * mapped in this process. "before": calls hd_who(6) as root (a later root process).
 */
#define _GNU_SOURCE
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

long hd_who(long x);

static int mapped(const char *seg)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    int found = 0;
    while (f && fgets(line, sizeof(line), f))
        if (strstr(line, seg))
            found = 1;
    if (f)
        fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    uid_t uid = (uid_t)atoi(argv[2]);
    if (strcmp(argv[1], "after") == 0) {
        printf("as root: hd_who(5) = %ld\n", hd_who(5));
        printf("segment mapped as root: %s\n", mapped(argv[3]) ? "yes" : "no");
        if (setgroups(0, NULL) != 0 || setresgid(uid, uid, uid) != 0 ||
            setresuid(uid, uid, uid) != 0) {
            perror("setresuid");
            return 2;
        }
        printf("as %u: hd_who(6) = %ld, again %ld\n", (unsigned)uid, hd_who(6), hd_who(6));
        printf("root's segment mapped after the drop: %s\n", mapped(argv[3]) ? "yes" : "no");
    } else {
        printf("as root: hd_who(6) = %ld\n", hd_who(6));
    }
    return 0;
}
