/* SPDX-License-Identifier: Apache-2.0 */
/* The one place smstudioctl renders results: text tables or JSON. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl.h"
#include "smstudio/strbuf.h"

void ctl_print_record(const ctl_options *o, const ctl_field *fields, size_t n)
{
        size_t width = 10;

        if (o->json) {
                json_t *obj = json_object();
                char *s;

                for (size_t i = 0; i < n; i++)
                        json_object_set_new(obj, fields[i].label,
                                            fields[i].value ? json_string(fields[i].value)
                                                            : json_null());
                s = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                if (s)
                        puts(s);
                free(s);
                json_decref(obj);
                return;
        }
        /* Labels padded to one column: at least 10 wide, and at least two
         * spaces after the longest. */
        for (size_t i = 0; i < n; i++)
                if (strlen(fields[i].label) + 1 > width)
                        width = strlen(fields[i].label) + 1;
        for (size_t i = 0; i < n; i++)
                printf("%-*s %s\n", (int)width, fields[i].label,
                       fields[i].value ? fields[i].value : "-");
}

void ctl_print_json(const ctl_options *o, const json_t *v)
{
        char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

        if (s)
                puts(s);
        free(s);
}

void ctl_print_error_with(const ctl_options *o, const char *code, const char *message,
                          const json_t *extra)
{
        if (o->json) {
                json_t *obj = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
                char *s = NULL;

                if (obj && extra)
                        (void)json_object_update(json_object_get(obj, "error"), (json_t *)extra);
                s = obj ? json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
                if (s)
                        puts(s);
                free(s);
                json_decref(obj);
        }
        fprintf(stderr, "smstudioctl: %s\n", message);
}

void ctl_print_error(const ctl_options *o, const char *code, const char *message)
{
        ctl_print_error_with(o, code, message, NULL);
}

bool ctl_use_colour(void)
{
        static int cached = -1;

        if (cached < 0) {
                const char *term = getenv("TERM");

                /* https://no-color.org: any non-empty NO_COLOR turns it off. */
                cached = isatty(STDOUT_FILENO) && isempty(getenv("NO_COLOR")) &&
                         !streq_ptr(term, "dumb");
        }
        return cached;
}

const char *ctl_phase_colour(const char *phase)
{
        static const struct {
                const char *phase;
                const char *ansi;
        } colours[] = {
                {"converged", "\033[32m"}, /* green */
                {"pending", "\033[33m"},   /* yellow */
                {"failing", "\033[1;31m"}, /* bold red */
                {"conflict", "\033[35m"},  /* magenta */
                {"held", "\033[36m"},      /* cyan */
        };

        if (!phase || !ctl_use_colour())
                return "";
        for (size_t i = 0; i < ELEMENTSOF(colours); i++)
                if (streq(phase, colours[i].phase))
                        return colours[i].ansi;
        return "";
}

const char *ctl_colour_end(void)
{
        return ctl_use_colour() ? "\033[0m" : "";
}

void ctl_print_table(const char *const *headers, size_t n_cols, const char *const *cells,
                     const char *const *colours, size_t n_rows)
{
        size_t width[16] = {0};

        if (n_cols == 0 || n_cols > ELEMENTSOF(width))
                return;
        for (size_t c = 0; c < n_cols; c++) {
                width[c] = strlen(headers[c]);
                for (size_t r = 0; r < n_rows; r++) {
                        const char *v = cells[r * n_cols + c];

                        if (strlen(v ? v : "-") > width[c])
                                width[c] = strlen(v ? v : "-");
                }
        }
        for (size_t c = 0; c + 1 < n_cols; c++)
                printf("%-*s  ", (int)width[c], headers[c]);
        printf("%s\n", headers[n_cols - 1]);
        for (size_t r = 0; r < n_rows; r++)
                for (size_t c = 0; c < n_cols; c++) {
                        const char *v = cells[r * n_cols + c];
                        const char *on = colours ? colours[r * n_cols + c] : NULL;
                        bool last = c + 1 == n_cols;

                        if (!v)
                                v = "-";
                        /* Padding stays outside the colour so columns align
                         * whether or not a cell is coloured. */
                        printf("%s%s%s", !isempty(on) ? on : "", v,
                               !isempty(on) ? ctl_colour_end() : "");
                        if (last)
                                putchar('\n');
                        else
                                printf("%*s  ", (int)(width[c] - strlen(v)), "");
                }
}
