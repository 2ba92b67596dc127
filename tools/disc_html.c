/*
 * disc_html.c - the HTML report of `cloudm discover --html FILE`: one self-contained page
 * (inline CSS and SVG, no script, no font, no network access).
 *
 * (`cloudm profile --html` writes the same page from the shim's reports, with the config it
 * ran with and no curves.)
 *
 * What it does: a bar per function (the best `top`) of its total time, split into what a cache
 * would save ("saved", green) and what must run anyway ("must run", grey); the miss-ratio
 * curves of the best candidates (hits against entries held by the memory tier, log scale); the
 * ranked table; and the generated config. Elements carry ids and data attributes (id="bars",
 * id="mrc", id="ranked", id="config"; data-fn, data-saved-ns) so a browser test can find them.
 *
 * What it does not do: no analysis (disc_analyze.c), no interactivity.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disc.h"

static void esc(FILE *f, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
}

static const char *base(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static void bars(FILE *f, const struct disc *d, int top)
{
    int n = d->n < top ? d->n : top;
    double max = 1;
    for (int i = 0; i < n; i++)
        if ((double)d->fns[i].ns > max)
            max = (double)d->fns[i].ns;
    int rowh = 26, left = 220, width = 560, h = n * rowh + 40;
    fprintf(f,
            "<h2>Time per function</h2>\n<svg id=\"bars\" xmlns=\"http://www.w3.org/2000/svg\" "
            "width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"time per function\">\n",
            left + width + 120, h);
    for (int i = 0; i < n; i++) {
        const struct disc_fn *x = &d->fns[i];
        double w = (double)x->ns / max * width;
        double s = x->ns ? x->saved_within / (double)x->ns * w : 0;
        if (s > w)
            s = w;
        int y = 10 + i * rowh;
        fprintf(f, "<g class=\"bar\" data-fn=\"");
        esc(f, x->name);
        fprintf(f, "\" data-total-ns=\"%llu\" data-saved-ns=\"%.0f\">", (unsigned long long)x->ns,
                x->saved_within);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 8, y + 16);
        esc(f, x->name);
        fprintf(f,
                "</text><rect class=\"saved\" x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"18\"/>"
                "<rect class=\"run\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"18\"/>"
                "<text x=\"%.1f\" y=\"%d\">%.2f ms</text></g>\n",
                left, y, s, left + s, y, w - s, left + w + 6, y + 14, (double)x->ns / 1e6);
    }
    fprintf(f,
            "<g class=\"legend\"><rect class=\"saved\" x=\"%d\" y=\"%d\" width=\"12\" "
            "height=\"12\"/><text x=\"%d\" y=\"%d\">a cache would save</text>"
            "<rect class=\"run\" x=\"%d\" y=\"%d\" width=\"12\" height=\"12\"/>"
            "<text x=\"%d\" y=\"%d\">must run</text></g>\n</svg>\n",
            left, h - 22, left + 16, h - 12, left + 180, h - 22, left + 196, h - 12);
}

static void curves(FILE *f, const struct disc *d, int top)
{
    static const char *colors[] = {"#1b7837", "#2166ac", "#b2182b", "#762a83", "#e08214"};
    int W = 560, H = 260, L = 60, B = 40;
    double maxx = 2;
    int shown = 0;
    for (int i = 0; i < d->n && i < top && shown < 5; i++)
        if (d->fns[i].nmrc > 0) {
            shown++;
            double x = d->fns[i].mrc_entries[d->fns[i].nmrc - 1];
            if (x > maxx)
                maxx = x;
        }
    fprintf(f,
            "<h2>Miss-ratio curves</h2>\n<p>Hits of an LRU memory tier as a function of the "
            "entries it holds (about %d bytes each): choose <code>memory_size</code> where "
            "the curve flattens.</p>\n",
            DISC_ENTRY_BYTES);
    fprintf(f,
            "<svg id=\"mrc\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "role=\"img\" aria-label=\"miss-ratio curves\">\n",
            L + W + 200, H + B + 20);
    fprintf(f,
            "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
            "<line class=\"axis\" x1=\"%d\" y1=\"10\" x2=\"%d\" y2=\"%d\"/>\n",
            L, H + 10, L + W, H + 10, L, L, H + 10);
    fprintf(f, "<text x=\"%d\" y=\"%d\">entries held</text><text x=\"4\" y=\"20\">hits</text>\n",
            L + W / 2 - 40, H + 44);
    double lx = log2(maxx);
    int step = lx > 8 ? (int)ceil(lx / 8) : 1;
    for (int k = 0; k <= (int)lx; k += step) /* x ticks: entries, powers of two */
        fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.0f</text>\n",
                L + (lx > 0 ? k / lx : 0) * W, H + 24, pow(2, k));
    for (int p = 0; p <= 100; p += 50) /* y ticks: hit ratio */
        fprintf(f, "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d%%</text>\n",
                L - 6, H + 10 - p / 100.0 * H + 4, p);
    shown = 0;
    for (int i = 0; i < d->n && i < top && shown < 5; i++) {
        const struct disc_fn *x = &d->fns[i];
        if (x->nmrc <= 0)
            continue;
        fprintf(f, "<polyline class=\"curve\" data-fn=\"");
        esc(f, x->name);
        fprintf(f, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colors[shown]);
        for (int k = 0; k < x->nmrc; k++) {
            double px = L + (lx > 0 ? log2(x->mrc_entries[k]) / lx : 0) * W;
            double py = H + 10 - (x->calls ? x->mrc_hits[k] / (double)x->calls : 0) * H;
            fprintf(f, "%.1f,%.1f ", px, py);
        }
        fprintf(f, "\"/><text x=\"%d\" y=\"%d\" fill=\"%s\">", L + W + 10, 24 + 18 * shown,
                colors[shown]);
        esc(f, x->name);
        fprintf(f, "</text>\n");
        shown++;
    }
    fprintf(f, "</svg>\n");
}

static void table(FILE *f, const struct disc *d, int top)
{
    fprintf(f, "<h2>Ranked functions</h2>\n<table id=\"ranked\"><tr><th>rank</th><th>function"
               "</th><th>object</th><th>calls</th><th>distinct</th><th>total ms</th>"
               "<th>mean us</th><th>saved ms</th><th>next run ms</th><th>prototype</th></tr>\n");
    for (int i = 0; i < d->n && i < top; i++) {
        const struct disc_fn *x = &d->fns[i];
        fprintf(f, "<tr%s><td>%d</td><td>", x->worth ? " class=\"worth\"" : "", i + 1);
        esc(f, x->name);
        fprintf(f, "</td><td>");
        esc(f, base(x->object));
        fprintf(f,
                "</td><td>%llu</td><td>%s%.0f</td><td>%.3f</td><td>%.2f</td><td>%.3f</td>"
                "<td>%.3f</td><td>%s</td></tr>\n",
                (unsigned long long)x->calls, x->planned ? "" : "&#8776;", x->distinct,
                (double)x->ns / 1e6, x->calls ? (double)x->ns / (double)x->calls / 1e3 : 0,
                x->saved_within / 1e6, x->saved_across / 1e6,
                x->proto.source == CM_PROTO_DWARF    ? "DWARF"
                : x->proto.source == CM_PROTO_HEADER ? "header"
                                                     : "unknown");
    }
    fprintf(f, "</table>\n");
}

int disc_write_html(const struct disc *d, const char *path, int top, const char *title,
                    const char *config)
{
    FILE *f = fopen(path, "we");
    if (!f)
        return -errno;
    fprintf(f,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>cloudm %s</title>\n<style>\n"
            "body{font-family:sans-serif;margin:2em;color:#222}\n"
            "rect.saved{fill:#1b7837}rect.run{fill:#bbb}\n"
            "line.axis{stroke:#444}text.tick{font-size:11px;fill:#555}\n"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;"
            "text-align:right}td:nth-child(2),td:nth-child(3){text-align:left}\n"
            "tr.worth{background:#e6f4ea}\n"
            "pre{background:#f6f6f6;padding:1em;overflow:auto}\n"
            "</style></head><body>\n<h1>cloudm %s</h1>\n",
            title, title);
    fprintf(f, "<p id=\"summary\">%d functions observed in %d process%s; run %.1f ms%s.</p>\n",
            d->n, d->nprocs, d->nprocs == 1 ? "" : "es", (double)d->run_ns / 1e6,
            d->rate < 1 ? "; keys sampled (SHARDS), counts estimated" : "");
    bars(f, d, top);
    curves(f, d, top);
    table(f, d, top);
    char *cfg = config ? strdup(config) : disc_config_text(d);
    fprintf(f, "<h2>%s config</h2>\n<pre id=\"config\">", config ? "The" : "Generated");
    if (cfg)
        esc(f, cfg);
    fprintf(f, "</pre>\n</body></html>\n");
    free(cfg);
    return fclose(f) == 0 ? 0 : -errno;
}
