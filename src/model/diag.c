/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smstudio/diag.h"

int sm_diags_add(sm_diags *d, const char *path, unsigned line, unsigned column, const char *fmt,
                 ...)
{
        sm_buf msg = {0};
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = sm_buf_vprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                goto fail;
        if (d->n == d->cap) {
                size_t cap = d->cap ? d->cap * 2 : 8;
                sm_diag *p = realloc(d->items, cap * sizeof(*p));

                if (!p) {
                        r = -ENOMEM;
                        goto fail;
                }
                d->items = p;
                d->cap = cap;
        }
        d->items[d->n] = (sm_diag){
                .path = strdup(path ? path : "?"),
                .line = line,
                .column = column,
                .message = sm_buf_steal(&msg),
        };
        if (!d->items[d->n].path || !d->items[d->n].message) {
                free(d->items[d->n].path);
                free(d->items[d->n].message);
                return -ENOMEM;
        }
        d->n++;
        return 0;
fail:
        sm_buf_done(&msg);
        return r;
}

int sm_diags_take(sm_diags *dst, sm_diags *src)
{
        /* Reserve first: a failure must leave both lists as they were, never
         * with items owned twice. */
        if (dst->n + src->n > dst->cap) {
                size_t cap = dst->cap ? dst->cap : 8;
                sm_diag *p;

                while (cap < dst->n + src->n)
                        cap *= 2;
                p = realloc(dst->items, cap * sizeof(*p));
                if (!p)
                        return -ENOMEM;
                dst->items = p;
                dst->cap = cap;
        }
        if (src->n)
                memcpy(dst->items + dst->n, src->items, src->n * sizeof(*src->items));
        dst->n += src->n;
        free(src->items);
        *src = (sm_diags){0};
        return 0;
}

static int diag_compare(const void *a, const void *b)
{
        const sm_diag *x = a, *y = b;
        int c = strcmp(x->path, y->path);

        if (c)
                return c;
        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        if (x->column != y->column)
                return x->column < y->column ? -1 : 1;
        /* Equal places keep their order: compare addresses (qsort is not
         * stable, but items live in one array in insertion order). */
        return x < y ? -1 : x > y;
}

void sm_diags_sort(sm_diags *d)
{
        if (d->n > 1)
                qsort(d->items, d->n, sizeof(*d->items), diag_compare);
}

void sm_diags_done(sm_diags *d)
{
        for (size_t i = 0; i < d->n; i++) {
                free(d->items[i].path);
                free(d->items[i].message);
        }
        free(d->items);
        *d = (sm_diags){0};
}

int sm_diags_format(const sm_diags *d, sm_buf *out)
{
        for (size_t i = 0; i < d->n; i++) {
                const sm_diag *x = &d->items[i];
                int r;

                if (x->line && x->column)
                        r = sm_buf_printf(out, "%s:%u:%u: %s\n", x->path, x->line, x->column,
                                          x->message);
                else if (x->line)
                        r = sm_buf_printf(out, "%s:%u: %s\n", x->path, x->line, x->message);
                else
                        r = sm_buf_printf(out, "%s: %s\n", x->path, x->message);
                if (r < 0)
                        return r;
        }
        return 0;
}

json_t *sm_diags_to_json(const sm_diags *d)
{
        json_t *arr = json_array();

        if (!arr)
                return NULL;
        for (size_t i = 0; i < d->n; i++) {
                const sm_diag *x = &d->items[i];

                if (json_array_append_new(arr, json_pack("{s:s,s:I,s:I,s:s}", "path", x->path,
                                                         "line", (json_int_t)x->line, "column",
                                                         (json_int_t)x->column, "message",
                                                         x->message)) < 0) {
                        json_decref(arr);
                        return NULL;
                }
        }
        return arr;
}
