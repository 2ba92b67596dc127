/*
 * json_out.c - one JSON string, quoted and escaped, for every command that writes JSON
 * (`stats --json`, `probe --json`, `discover --json`).
 *
 * What it does not do: objects, numbers or parsing (the commands print those themselves;
 * `profile --html` reads reports with json-c).
 */
#include "cli.h"

void cm_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}
