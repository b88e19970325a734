/* SPDX-License-Identifier: Apache-2.0 */
/* YAML read with libyaml into a small node tree that remembers where every
 * node starts, so each later error can name path:line:column. Limits keep
 * hostile input cheap: file size, documents, depth, scalar length, node
 * count; anchors and aliases are refused outright (no alias-expansion
 * bombs), and so are duplicate mapping keys and non-scalar keys. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smstudio/diag.h"

typedef enum sm_yaml_kind {
        SM_YAML_SCALAR,
        SM_YAML_SEQUENCE,
        SM_YAML_MAPPING,
} sm_yaml_kind;

typedef struct sm_yaml_node sm_yaml_node;

typedef struct sm_yaml_pair {
        sm_yaml_node *key; /* always a scalar */
        sm_yaml_node *value;
} sm_yaml_pair;

struct sm_yaml_node {
        sm_yaml_kind kind;
        unsigned line;   /* 1-based */
        unsigned column; /* 1-based */
        /* SM_YAML_SCALAR */
        char *value; /* NUL-terminated (a scalar with a NUL byte is refused) */
        size_t len;
        bool plain; /* unquoted: may be null, a bool or a number; quoted is a string */
        /* SM_YAML_SEQUENCE */
        sm_yaml_node **items;
        size_t n_items;
        /* SM_YAML_MAPPING, in document order */
        sm_yaml_pair *pairs;
        size_t n_pairs;
};

typedef struct sm_yaml_doc {
        sm_yaml_node *root; /* NULL for an empty document */
        unsigned line;      /* where the document starts */
} sm_yaml_doc;

typedef struct sm_yaml_stream {
        char *path;
        sm_yaml_doc *docs;
        size_t n_docs;
} sm_yaml_stream;

typedef struct sm_yaml_limits {
        size_t max_bytes;        /* default 1 MiB */
        size_t max_documents;    /* default 1000 */
        unsigned max_depth;      /* nesting of sequences/mappings; default 32 */
        size_t max_scalar_bytes; /* default 64 KiB */
        size_t max_nodes;        /* default 200000 */
} sm_yaml_limits;

void sm_yaml_limits_default(sm_yaml_limits *l);

/* Parse data (len bytes) read from path (used only in messages). limits
 * NULL = defaults. On success 0 and *ret; on bad input -EINVAL with every
 * problem found in diags (libyaml stops at its first syntax error, which is
 * then the last one; a file with 100 problems is not read further); -ENOMEM.
 * Messages (after "path:line:column: "):
 *   file is larger than 1 MiB                  (no line: checked first)
 *   more than N documents in one file          at the extra document
 *   nesting deeper than N levels               at the collection too deep
 *   string longer than 64 KiB                  at the string (keys too)
 *   more than N YAML nodes in one file         at the first node too many
 *   YAML anchors and aliases are not allowed   at each anchor and alias
 *   YAML tags are not allowed                  at each tag (even !!str)
 *   duplicate key "name" (first at line 3)     at the repeat
 *   mapping key must be a string, not a list   at the key
 *   string contains a NUL character            at the string
 *   libyaml's own words for syntax and encoding errors, with "(started at
 *   line L, column C)" when it names where the construct began.
 * An empty document ("---" alone, comments only, or a plain null) has a
 * NULL root; a file with no documents at all has n_docs 0. */
int sm_yaml_parse(const char *path, const void *data, size_t len, const sm_yaml_limits *limits,
                  sm_yaml_stream **ret, sm_diags *diags);

sm_yaml_stream *sm_yaml_stream_free(sm_yaml_stream *s);

/* Scalar typing, YAML 1.2 core schema and nothing looser: only plain
 * scalars are null, bools or integers; "yes"/"on" are strings. */
bool sm_yaml_is_null(const sm_yaml_node *n);           /* plain "", "~", null, Null, NULL; n NULL */
int sm_yaml_as_bool(const sm_yaml_node *n, bool *ret); /* true|True|TRUE|false|... */
int sm_yaml_as_int(const sm_yaml_node *n, int64_t *ret); /* plain decimal, optional sign */

/* "a string", "a list", "a mapping", "null", "true", "false", "a number"
 * (a decimal integer), "a decimal number" (1.5, 1e3, 0x1F, .inf): for
 * messages. */
const char *sm_yaml_describe(const sm_yaml_node *n);

/* The value for key in a mapping, or NULL. */
const sm_yaml_node *sm_yaml_get(const sm_yaml_node *map, const char *key);

/* Typed getters for one mapping value: on a wrong type they add
 * "path:line:col: KEY must be TYPE, not DESCRIBE" (what names the key) to
 * diags and return -EINVAL. ret is written only on success. n NULL (a
 * missing key, as sm_yaml_get() returns it) is -ENOENT with no message: the
 * caller knows whether the key is required.
 * TYPE is "a string", "true or false", "a whole number", "a list of strings".
 * A string is any scalar but null, true and false: plain numbers are taken
 * as written (account ids, "2.16"). An int outside [min, max] is
 * "KEY must be between MIN and MAX, not V" ("at least MIN" / "at most MAX"
 * when the other bound is INT64_MAX / INT64_MIN), V as written. */
int sm_yaml_get_string(const char *path, const sm_yaml_node *n, const char *what, char **ret,
                       sm_diags *diags);
int sm_yaml_get_bool(const char *path, const sm_yaml_node *n, const char *what, bool *ret,
                     sm_diags *diags);
int sm_yaml_get_int(const char *path, const sm_yaml_node *n, const char *what, int64_t min,
                    int64_t max, int64_t *ret, sm_diags *diags);
/* A list of strings; a NULL-terminated strv in *ret (ret_n may be NULL).
 * Null ("key:" with nothing after it) is an empty list. Each bad item is
 * "KEY item N must be a string, not DESCRIBE" (N from 1) at the item. */
int sm_yaml_get_string_list(const char *path, const sm_yaml_node *n, const char *what, char ***ret,
                            size_t *ret_n, sm_diags *diags);

/* Report every key of map not in allowed (NULL-terminated) as
 * "unknown key \"x\" (did you mean \"y\"?)" at the key's place; with what
 * (e.g. "a Domain") "unknown key \"x\" in a Domain (did you mean ...)". The
 * suggestion is sm_spell_closest(); without one the parenthesis is left out.
 * Returns the number of unknown keys (0 when map is not a mapping). */
size_t sm_yaml_check_keys(const char *path, const sm_yaml_node *map, const char *const *allowed,
                          const char *what, sm_diags *diags);

/* Free a NULL-terminated string vector. Accepts NULL; returns NULL. */
char **sm_strv_free(char **v);
