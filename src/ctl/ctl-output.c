/* SPDX-License-Identifier: Apache-2.0 */
/* The one place smstudioctl renders results: text tables or JSON. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void ctl_print_error(const ctl_options *o, const char *code, const char *message)
{
        if (o->json) {
                json_t *obj = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
                char *s = obj ? json_dumps(obj, JSON_INDENT(2)) : NULL;

                if (s)
                        puts(s);
                free(s);
                json_decref(obj);
        }
        fprintf(stderr, "smstudioctl: %s\n", message);
}
