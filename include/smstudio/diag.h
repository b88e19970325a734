/* SPDX-License-Identifier: Apache-2.0 */
/* Diagnostics: every problem found in a file, each with its place, so one
 * run shows a person all of them ("path:line:column: message"). */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "smstudio/macro.h"
#include "smstudio/strbuf.h"

typedef struct sm_diag {
        char *path;      /* the file, as the user named it */
        unsigned line;   /* 1-based; 0 when the problem has no line (a whole file) */
        unsigned column; /* 1-based; 0 when unknown */
        char *message;   /* one sentence, no trailing period or newline */
} sm_diag;

/* A growable list; zero-initialise to start. */
typedef struct sm_diags {
        sm_diag *items;
        size_t n;
        size_t cap;
} sm_diags;

/* Append one diagnostic. Returns 0 or -ENOMEM. */
int sm_diags_add(sm_diags *d, const char *path, unsigned line, unsigned column, const char *fmt,
                 ...) _printf_(5, 6);

/* Move every item of src to the end of dst (src is left empty). */
int sm_diags_take(sm_diags *dst, sm_diags *src);

/* Sort by path, line, column (stable for equal places). */
void sm_diags_sort(sm_diags *d);

void sm_diags_done(sm_diags *d);

/* Append "path:line:column: message\n" per item (":line" and ":column" left
 * out when 0). */
int sm_diags_format(const sm_diags *d, sm_buf *out);

/* [{"path", "line", "column", "message"}...]; NULL on -ENOMEM. */
json_t *sm_diags_to_json(const sm_diags *d);
