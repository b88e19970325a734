/* SPDX-License-Identifier: Apache-2.0 */
/* The node tree is built from libyaml's event stream rather than its
 * document API: events arrive one at a time, so depth, node count, scalar
 * length and aliases are checked before anything is built from them, and an
 * alias is refused where it stands instead of after libyaml has already
 * resolved it into a shared (and possibly exponential) graph. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "smstudio/spell.h"
#include "smstudio/strbuf.h"
#include "smstudio/yamlnode.h"

/* A file with this many problems is not worth reading further, and a hostile
 * one (a megabyte of "*a, ") would otherwise make hundreds of thousands. */
#define MAX_ERRORS 100

/* Names and values quoted in messages are cut here, so one absurd key does
 * not make an absurd message. */
#define QUOTE_MAX 64

void sm_yaml_limits_default(sm_yaml_limits *l)
{
        *l = (sm_yaml_limits){
                .max_bytes = 1024 * 1024,
                .max_documents = 1000,
                .max_depth = 32,
                .max_scalar_bytes = 64 * 1024,
                .max_nodes = 200000,
        };
}

/* Recursion is bounded by max_depth: deeper input never becomes a tree. */
static sm_yaml_node *node_free(sm_yaml_node *n)
{
        if (!n)
                return NULL;
        free(n->value);
        for (size_t i = 0; i < n->n_items; i++)
                node_free(n->items[i]);
        free(n->items);
        for (size_t i = 0; i < n->n_pairs; i++) {
                node_free(n->pairs[i].key);
                node_free(n->pairs[i].value);
        }
        free(n->pairs);
        free(n);
        return NULL;
}

sm_yaml_stream *sm_yaml_stream_free(sm_yaml_stream *s)
{
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_docs; i++)
                node_free(s->docs[i].root);
        free(s->docs);
        free(s->path);
        free(s);
        return NULL;
}

char **sm_strv_free(char **v)
{
        if (!v)
                return NULL;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
        return NULL;
}

/* Arrays in the tree carry no capacity field: they are sized to the next
 * power of two, so room is needed exactly when the count is 0 or a power of
 * two of at least 4. */
static int grow(void **array, size_t n, size_t size)
{
        size_t cap;
        void *p;

        if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
                return 0;
        cap = n == 0 ? 4 : n * 2;
        if (cap > SIZE_MAX / size)
                return -ENOMEM;
        p = realloc(*array, cap * size);
        if (!p)
                return -ENOMEM;
        *array = p;
        return 0;
}

/* s[0..n) as a double-quoted string safe to print: quotes, backslashes and
 * control characters escaped, cut to QUOTE_MAX bytes (at a character
 * boundary) with "..." after. */
static int buf_put_quoted(sm_buf *b, const char *s, size_t n, bool quotes)
{
        size_t cut = n;
        int r;

        if (cut > QUOTE_MAX) {
                cut = QUOTE_MAX;
                while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
                        cut--;
        }
        if (quotes && (r = sm_buf_putc(b, '"')) < 0)
                return r;
        for (size_t i = 0; i < cut; i++) {
                unsigned char c = (unsigned char)s[i];

                if (c == '"' || c == '\\')
                        r = sm_buf_printf(b, "\\%c", c);
                else if (c < 0x20 || c == 0x7f)
                        r = sm_buf_printf(b, "\\x%02x", c);
                else
                        r = sm_buf_putc(b, (char)c);
                if (r < 0)
                        return r;
        }
        if (cut < n && (r = sm_buf_puts(b, "...")) < 0)
                return r;
        if (quotes && (r = sm_buf_putc(b, '"')) < 0)
                return r;
        return 0;
}

/* "1 MiB", "64 KiB", "1000 bytes": limits as a person would write them. */
static void format_size(char *out, size_t outlen, size_t n)
{
        if (n >= 1024 * 1024 && n % (1024 * 1024) == 0)
                snprintf(out, outlen, "%zu MiB", n / (1024 * 1024));
        else if (n >= 1024 && n % 1024 == 0)
                snprintf(out, outlen, "%zu KiB", n / 1024);
        else
                snprintf(out, outlen, "%zu byte%s", n, n == 1 ? "" : "s");
}

/* libyaml's marks count from 0; people count lines and columns from 1. */
static unsigned one_based(size_t v)
{
        return v >= UINT_MAX ? UINT_MAX : (unsigned)v + 1;
}

typedef struct parser {
        const char *path;
        const unsigned char *data;
        size_t len;
        const sm_yaml_limits *limits;
        sm_diags *diags;
        size_t n_errors;
        size_t n_nodes;
        bool stop; /* a limit was hit, or too many errors: read no further */
        sm_yaml_stream *stream;
        /* Open collections, innermost last; never more than max_depth. */
        sm_yaml_node **stack;
        size_t depth;
} parser;

static int parser_error(parser *p, unsigned line, unsigned column, const char *fmt, ...)
        _printf_(4, 5);

static int parser_error(parser *p, unsigned line, unsigned column, const char *fmt, ...)
{
        sm_buf msg = {0};
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = sm_buf_vprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                goto done;
        r = sm_diags_add(p->diags, p->path, line, column, "%s", msg.data);
        if (r < 0)
                goto done;
        if (++p->n_errors == MAX_ERRORS) {
                r = sm_diags_add(p->diags, p->path, line, column,
                                 "too many errors (%d), not reading the rest of the file",
                                 MAX_ERRORS);
                p->stop = true;
        }
done:
        sm_buf_done(&msg);
        return r;
}

static int error_at(parser *p, yaml_mark_t m, const char *fmt, ...) _printf_(3, 4);

static int error_at(parser *p, yaml_mark_t m, const char *fmt, ...)
{
        sm_buf msg = {0};
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = sm_buf_vprintf(&msg, fmt, ap);
        va_end(ap);
        if (r >= 0)
                r = parser_error(p, one_based(m.line), one_based(m.column), "%s", msg.data);
        sm_buf_done(&msg);
        return r;
}

/* The length of the line break at d[i..len), or 0. libyaml breaks lines at
 * \n, \r\n and \r, and also at NEL, LS and PS (YAML 1.1), so must we. */
static size_t break_width(const unsigned char *d, size_t len, size_t i)
{
        if (d[i] == '\n')
                return 1;
        if (d[i] == '\r')
                return i + 1 < len && d[i + 1] == '\n' ? 2 : 1;
        if (d[i] == 0xc2 && i + 1 < len && d[i + 1] == 0x85)
                return 2;
        if (d[i] == 0xe2 && i + 2 < len && d[i + 1] == 0x80 &&
            (d[i + 2] == 0xa8 || d[i + 2] == 0xa9))
                return 3;
        return 0;
}

/* Walk the input as libyaml counts it (a column is one character, not one
 * byte) up to byte offset, or up to a 0-based line and column, whichever
 * comes first. Returns the byte offset reached and sets *line and *col
 * (0-based) there. */
static size_t walk(const unsigned char *d, size_t len, size_t offset, size_t to_line, size_t to_col,
                   size_t *line, size_t *col)
{
        size_t i = 0, l = 0, c = 0, w;

        while (i < len && i < offset && !(l == to_line && c == to_col)) {
                w = break_width(d, len, i);
                if (w > 0) {
                        if (offset - i < w)
                                break;
                        i += w;
                        l++;
                        c = 0;
                        if (l > to_line)
                                break;
                        continue;
                }
                /* The width its lead byte announces: an offset inside a
                 * character (the reader blames the bad trailing byte) means
                 * that character, where a person sees the problem. */
                w = d[i] < 0xc0 ? 1 : d[i] < 0xe0 ? 2 : d[i] < 0xf0 ? 3 : 4;
                if (offset - i < w)
                        break;
                i += w;
                c++;
        }
        *line = l;
        *col = c;
        return i;
}

static int report_libyaml_error(parser *p, const yaml_parser_t *yp)
{
        sm_buf msg = {0};
        size_t line, col;
        bool known = true; /* whether line and col mean anything */
        int r;

        switch (yp->error) {
        case YAML_MEMORY_ERROR:
                return -ENOMEM;
        case YAML_READER_ERROR:
                /* The reader knows only a byte offset into the input. */
                walk(p->data, p->len, yp->problem_offset, SIZE_MAX, SIZE_MAX, &line, &col);
                /* Editors on some systems save UTF-16 with a byte-order mark;
                 * "invalid leading UTF-8 octet" would not tell anyone that. */
                if (yp->problem_offset == 0 && p->len >= 2 &&
                    ((p->data[0] == 0xff && p->data[1] == 0xfe) ||
                     (p->data[0] == 0xfe && p->data[1] == 0xff)))
                        r = sm_buf_puts(&msg, "file is UTF-16 (it starts with a UTF-16 "
                                              "byte-order mark), not UTF-8");
                else if (yp->problem_value >= 0)
                        r = sm_buf_printf(&msg, "%s (0x%02X)", yp->problem, yp->problem_value);
                else
                        r = sm_buf_printf(&msg, "%s", yp->problem);
                break;
        case YAML_SCANNER_ERROR:
        case YAML_PARSER_ERROR: {
                const yaml_mark_t *pm = &yp->problem_mark, *cm = &yp->context_mark;
                size_t off, l, c;

                line = pm->line;
                col = pm->column;
                r = sm_buf_puts(&msg, yp->problem ? yp->problem : "syntax error");
                if (r >= 0 && yp->context) {
                        r = sm_buf_printf(&msg, " %s", yp->context);
                        if (r >= 0 && (cm->line != pm->line || cm->column != pm->column))
                                r = sm_buf_printf(&msg, " (started at line %u, column %u)",
                                                  one_based(cm->line), one_based(cm->column));
                }
                /* libyaml's words for a tab where a token should start do not
                 * mention tabs; the tab is the thing a person must fix. */
                off = walk(p->data, p->len, SIZE_MAX, line, col, &l, &c);
                if (r >= 0 && l == line && c == col && off < p->len && p->data[off] == '\t' &&
                    !strstr(msg.data, "tab"))
                        r = sm_buf_puts(&msg, " (a tab: YAML indentation must use spaces)");
                break;
        }
        default:
                line = col = 0;
                known = false;
                r = sm_buf_puts(&msg, yp->problem ? yp->problem : "cannot parse YAML");
                break;
        }
        if (r >= 0)
                r = parser_error(p, known ? one_based(line) : 0, known ? one_based(col) : 0, "%s",
                                 msg.data);
        sm_buf_done(&msg);
        return r;
}

static int new_node(parser *p, sm_yaml_kind kind, yaml_mark_t m, sm_yaml_node **ret)
{
        sm_yaml_node *n;

        if (p->n_nodes >= p->limits->max_nodes) {
                p->stop = true;
                return error_at(p, m, "more than %zu YAML nodes in one file", p->limits->max_nodes);
        }
        n = calloc(1, sizeof(*n));
        if (!n)
                return -ENOMEM;
        n->kind = kind;
        n->line = one_based(m.line);
        n->column = one_based(m.column);
        p->n_nodes++;
        *ret = n;
        return 0;
}

/* Hang a new node where the event stream says it goes: the document's root,
 * the next item of a sequence, or the next key or value of a mapping. Takes
 * n over even on failure, so callers never free it afterwards. */
static int attach(parser *p, sm_yaml_node *n)
{
        sm_yaml_node *parent;
        sm_yaml_doc *doc;
        int r;

        if (p->depth == 0) {
                doc = &p->stream->docs[p->stream->n_docs - 1];
                doc->root = n;
                return 0;
        }
        parent = p->stack[p->depth - 1];
        if (parent->kind == SM_YAML_SEQUENCE) {
                r = grow((void **)&parent->items, parent->n_items, sizeof(*parent->items));
                if (r < 0) {
                        node_free(n);
                        return r;
                }
                parent->items[parent->n_items++] = n;
                return 0;
        }
        /* A key starts a pair with no value yet; the next node completes it.
         * Values are never NULL in a finished tree (an empty value is an
         * empty plain scalar), so a NULL value marks the open pair. */
        if (parent->n_pairs > 0 && !parent->pairs[parent->n_pairs - 1].value) {
                parent->pairs[parent->n_pairs - 1].value = n;
                return 0;
        }
        r = grow((void **)&parent->pairs, parent->n_pairs, sizeof(*parent->pairs));
        if (r < 0) {
                node_free(n);
                return r;
        }
        parent->pairs[parent->n_pairs++] = (sm_yaml_pair){.key = n};
        if (n->kind != SM_YAML_SCALAR)
                return parser_error(p, n->line, n->column, "mapping key must be a string, not %s",
                                    sm_yaml_describe(n));
        return 0;
}

/* Anchors and tags: refused wherever they appear. Aliases would need
 * anchors, and tags would give scalars types this reader does not model. */
static int check_properties(parser *p, const yaml_event_t *e, const yaml_char_t *anchor,
                            const yaml_char_t *tag)
{
        int r;

        if (anchor) {
                r = error_at(p, e->start_mark, "YAML anchors and aliases are not allowed");
                if (r < 0)
                        return r;
        }
        if (tag && !p->stop) {
                r = error_at(p, e->start_mark, "YAML tags are not allowed");
                if (r < 0)
                        return r;
        }
        return 0;
}

typedef struct key_ref {
        const sm_yaml_node *key;
        size_t index; /* of its pair in the mapping */
} key_ref;

/* By key bytes, then by place, so the first of equal keys sorts first. */
static int key_ref_compare(const void *a, const void *b)
{
        const key_ref *x = a, *y = b;
        size_t n = x->key->len < y->key->len ? x->key->len : y->key->len;
        int c = memcmp(x->key->value, y->key->value, n);

        if (c)
                return c;
        if (x->key->len != y->key->len)
                return x->key->len < y->key->len ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index;
}

static int key_ref_compare_index(const void *a, const void *b)
{
        const key_ref *x = a, *y = b;

        return x->index < y->index ? -1 : x->index > y->index;
}

/* Every repeated key of a mapping, reported at the repeat, in document
 * order. Sorting rather than hashing: keys come from the file, and no choice
 * of them can make this worse than n log n. */
static int check_duplicates(parser *p, const sm_yaml_node *map)
{
        key_ref *refs, *dups;
        size_t n = 0, n_dups = 0;
        int r = 0;

        if (map->n_pairs < 2)
                return 0;
        /* Both halves of one allocation: at most n_pairs of each. */
        refs = malloc(2 * map->n_pairs * sizeof(*refs));
        if (!refs)
                return -ENOMEM;
        dups = refs + map->n_pairs;
        for (size_t i = 0; i < map->n_pairs; i++)
                if (map->pairs[i].key->kind == SM_YAML_SCALAR)
                        refs[n++] = (key_ref){.key = map->pairs[i].key, .index = i};
        qsort(refs, n, sizeof(*refs), key_ref_compare);
        for (size_t i = 1, first = 0; i < n; i++) {
                if (refs[i].key->len == refs[first].key->len &&
                    memcmp(refs[i].key->value, refs[first].key->value, refs[i].key->len) == 0)
                        /* .key is the first occurrence, .index the repeat */
                        dups[n_dups++] = (key_ref){.key = refs[first].key, .index = refs[i].index};
                else
                        first = i;
        }
        qsort(dups, n_dups, sizeof(*dups), key_ref_compare_index);
        for (size_t i = 0; i < n_dups && r >= 0 && !p->stop; i++) {
                const sm_yaml_node *k = map->pairs[dups[i].index].key;
                sm_buf q = {0};

                r = buf_put_quoted(&q, k->value, k->len, true);
                if (r >= 0)
                        r = parser_error(p, k->line, k->column,
                                         "duplicate key %s (first at line %u)", q.data,
                                         dups[i].key->line);
                sm_buf_done(&q);
        }
        free(refs);
        return r;
}

static int on_scalar(parser *p, const yaml_event_t *e)
{
        const char *v = (const char *)e->data.scalar.value;
        size_t len = e->data.scalar.length;
        sm_yaml_node *n = NULL;
        char size[32];
        int r;

        r = check_properties(p, e, e->data.scalar.anchor, e->data.scalar.tag);
        if (r < 0 || p->stop)
                return r;
        if (len > p->limits->max_scalar_bytes) {
                format_size(size, sizeof(size), p->limits->max_scalar_bytes);
                r = error_at(p, e->start_mark, "string longer than %s", size);
                if (r < 0)
                        return r;
        } else if (memchr(v, '\0', len)) {
                r = error_at(p, e->start_mark, "string contains a NUL character");
                if (r < 0)
                        return r;
        }
        if (p->stop)
                return 0;
        r = new_node(p, SM_YAML_SCALAR, e->start_mark, &n);
        if (r < 0 || !n)
                return r;
        n->value = malloc(len + 1);
        if (!n->value) {
                node_free(n);
                return -ENOMEM;
        }
        memcpy(n->value, v, len);
        n->value[len] = '\0';
        n->len = len;
        n->plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        return attach(p, n);
}

static int on_collection_start(parser *p, const yaml_event_t *e, sm_yaml_kind kind)
{
        const yaml_char_t *anchor, *tag;
        sm_yaml_node *n = NULL;
        int r;

        if (kind == SM_YAML_SEQUENCE) {
                anchor = e->data.sequence_start.anchor;
                tag = e->data.sequence_start.tag;
        } else {
                anchor = e->data.mapping_start.anchor;
                tag = e->data.mapping_start.tag;
        }
        r = check_properties(p, e, anchor, tag);
        if (r < 0 || p->stop)
                return r;
        if (p->depth >= p->limits->max_depth) {
                p->stop = true;
                return error_at(p, e->start_mark, "nesting deeper than %u levels",
                                p->limits->max_depth);
        }
        r = new_node(p, kind, e->start_mark, &n);
        if (r < 0 || !n)
                return r;
        /* Room first, so that once attached the node is surely pushed. */
        r = grow((void **)&p->stack, p->depth, sizeof(*p->stack));
        if (r < 0) {
                node_free(n);
                return r;
        }
        r = attach(p, n);
        if (r < 0)
                return r; /* out of memory: the whole parse is abandoned */
        p->stack[p->depth++] = n;
        return 0;
}

static int on_event(parser *p, const yaml_event_t *e)
{
        sm_yaml_stream *s = p->stream;
        sm_yaml_node *n = NULL;
        int r;

        switch (e->type) {
        case YAML_DOCUMENT_START_EVENT:
                if (s->n_docs >= p->limits->max_documents) {
                        p->stop = true;
                        return error_at(p, e->start_mark, "more than %zu documents in one file",
                                        p->limits->max_documents);
                }
                r = grow((void **)&s->docs, s->n_docs, sizeof(*s->docs));
                if (r < 0)
                        return r;
                s->docs[s->n_docs++] = (sm_yaml_doc){.line = one_based(e->start_mark.line)};
                return 0;
        case YAML_DOCUMENT_END_EVENT: {
                sm_yaml_doc *doc = &s->docs[s->n_docs - 1];

                /* "---" alone, or a document that is just null, is empty. */
                if (doc->root && doc->root->kind == SM_YAML_SCALAR && sm_yaml_is_null(doc->root))
                        doc->root = node_free(doc->root);
                return 0;
        }
        case YAML_ALIAS_EVENT:
                r = error_at(p, e->start_mark, "YAML anchors and aliases are not allowed");
                if (r < 0 || p->stop)
                        return r;
                /* A stand-in keeps the mapping's keys and values in step, so
                 * later errors in the file are still found. It reads "*name",
                 * so the same alias twice as a key is a duplicate, as it would
                 * be with the alias resolved. */
                r = new_node(p, SM_YAML_SCALAR, e->start_mark, &n);
                if (r < 0 || !n)
                        return r;
                n->plain = true;
                if (asprintf(&n->value, "*%s", (const char *)e->data.alias.anchor) < 0) {
                        n->value = NULL;
                        node_free(n);
                        return -ENOMEM;
                }
                n->len = strlen(n->value);
                return attach(p, n);
        case YAML_SCALAR_EVENT:
                return on_scalar(p, e);
        case YAML_SEQUENCE_START_EVENT:
                return on_collection_start(p, e, SM_YAML_SEQUENCE);
        case YAML_MAPPING_START_EVENT:
                return on_collection_start(p, e, SM_YAML_MAPPING);
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
                if (p->depth == 0)
                        return 0; /* its start was refused, and parsing stopped */
                n = p->stack[--p->depth];
                if (n->kind == SM_YAML_MAPPING)
                        return check_duplicates(p, n);
                return 0;
        case YAML_NO_EVENT:
        case YAML_STREAM_START_EVENT:
        case YAML_STREAM_END_EVENT:
        default:
                return 0;
        }
}

int sm_yaml_parse(const char *path, const void *data, size_t len, const sm_yaml_limits *limits,
                  sm_yaml_stream **ret, sm_diags *diags)
{
        sm_yaml_limits defaults;
        yaml_parser_t yp;
        parser p = {0};
        char size[32];
        int r;

        if (!limits) {
                sm_yaml_limits_default(&defaults);
                limits = &defaults;
        }
        p = (parser){
                .path = path ? path : "?",
                .data = data ? data : (const void *)"",
                .len = data ? len : 0,
                .limits = limits,
                .diags = diags,
        };
        if (p.len > limits->max_bytes) {
                /* Checked before libyaml sees a byte: size is the first limit. */
                format_size(size, sizeof(size), limits->max_bytes);
                r = sm_diags_add(diags, p.path, 0, 0, "file is larger than %s", size);
                return r < 0 ? r : -EINVAL;
        }
        p.stream = calloc(1, sizeof(*p.stream));
        if (!p.stream)
                return -ENOMEM;
        p.stream->path = strdup(p.path);
        if (!p.stream->path) {
                r = -ENOMEM;
                goto fail;
        }
        if (!yaml_parser_initialize(&yp)) {
                r = -ENOMEM;
                goto fail;
        }
        yaml_parser_set_input_string(&yp, p.data, p.len);
        /* Not sniffed from a byte-order mark: manifests are UTF-8, and a
         * UTF-16 file is reported as not being that. */
        yaml_parser_set_encoding(&yp, YAML_UTF8_ENCODING);
        for (;;) {
                yaml_event_t e;
                bool end;

                if (!yaml_parser_parse(&yp, &e)) {
                        /* Mappings left open are checked now, so a syntax
                         * error does not hide the repeated keys before it. */
                        r = 0;
                        for (size_t i = 0; i < p.depth && r >= 0; i++)
                                if (p.stack[i]->kind == SM_YAML_MAPPING)
                                        r = check_duplicates(&p, p.stack[i]);
                        if (r >= 0 && !p.stop)
                                r = report_libyaml_error(&p, &yp);
                        break;
                }
                r = on_event(&p, &e);
                end = e.type == YAML_STREAM_END_EVENT;
                yaml_event_delete(&e);
                if (r < 0 || end || p.stop)
                        break;
        }
        yaml_parser_delete(&yp);
        if (r < 0)
                goto fail;
        if (p.n_errors > 0) {
                r = -EINVAL;
                goto fail;
        }
        free(p.stack);
        *ret = p.stream;
        return 0;
fail:
        free(p.stack);
        sm_yaml_stream_free(p.stream);
        return r;
}

bool sm_yaml_is_null(const sm_yaml_node *n)
{
        if (!n)
                return true;
        if (n->kind != SM_YAML_SCALAR || !n->plain)
                return false;
        return n->len == 0 || streq(n->value, "~") || streq(n->value, "null") ||
               streq(n->value, "Null") || streq(n->value, "NULL");
}

int sm_yaml_as_bool(const sm_yaml_node *n, bool *ret)
{
        static const char *const yes[] = {"true", "True", "TRUE"};
        static const char *const no[] = {"false", "False", "FALSE"};

        if (!n || n->kind != SM_YAML_SCALAR || !n->plain)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (streq(n->value, yes[i])) {
                        *ret = true;
                        return 0;
                }
                if (streq(n->value, no[i])) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

int sm_yaml_as_int(const sm_yaml_node *n, int64_t *ret)
{
        const char *s;
        bool neg = false;
        uint64_t v = 0, lim;

        if (!n || n->kind != SM_YAML_SCALAR || !n->plain)
                return -EINVAL;
        s = n->value;
        if (*s == '-' || *s == '+')
                neg = *s++ == '-';
        if (!*s)
                return -EINVAL;
        for (const char *c = s; *c; c++)
                if (*c < '0' || *c > '9')
                        return -EINVAL;
        /* Digits only from here: too large is out of range, not a type error. */
        lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        for (; *s; s++) {
                unsigned d = (unsigned)(*s - '0');

                if (v > (lim - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        if (neg)
                *ret = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
        else
                *ret = (int64_t)v;
        return 0;
}

static bool all_digits(const char *s, const char *chars, size_t *n)
{
        size_t i = 0;

        while (s[i] && strchr(chars, s[i]))
                i++;
        *n = i;
        return i > 0;
}

/* Any number in YAML 1.2's core schema that is not a plain decimal
 * integer: 0o17, 0x1F, 1.5, -2e3, .inf, .NaN. Only used to describe. */
static bool is_other_number(const char *s)
{
        static const char *const special[] = {".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN"};
        size_t n;

        if ((s[0] == '0' && s[1] == 'o' && all_digits(s + 2, "01234567", &n) && !s[2 + n]) ||
            (s[0] == '0' && s[1] == 'x' && all_digits(s + 2, "0123456789abcdefABCDEF", &n) &&
             !s[2 + n]))
                return true;
        for (size_t i = 0; i < ELEMENTSOF(special); i++)
                if (streq(s, special[i]) ||
                    ((s[0] == '-' || s[0] == '+') && i < 3 && streq(s + 1, special[i])))
                        return true;
        if (*s == '-' || *s == '+')
                s++;
        /* [0-9]+(\.[0-9]*)? or \.[0-9]+, then an optional exponent */
        if (all_digits(s, "0123456789", &n)) {
                s += n;
                if (*s == '.')
                        s += 1 + (all_digits(s + 1, "0123456789", &n) ? n : 0);
        } else if (*s == '.' && all_digits(s + 1, "0123456789", &n)) {
                s += 1 + n;
        } else {
                return false;
        }
        if (*s == 'e' || *s == 'E') {
                s++;
                if (*s == '-' || *s == '+')
                        s++;
                if (!all_digits(s, "0123456789", &n))
                        return false;
                s += n;
        }
        return !*s;
}

const char *sm_yaml_describe(const sm_yaml_node *n)
{
        bool b;
        int64_t i;

        if (!n || sm_yaml_is_null(n))
                return "null";
        switch (n->kind) {
        case SM_YAML_SEQUENCE:
                return "a list";
        case SM_YAML_MAPPING:
                return "a mapping";
        case SM_YAML_SCALAR:
        default:
                break;
        }
        if (!n->plain)
                return "a string";
        if (sm_yaml_as_bool(n, &b) == 0)
                return b ? "true" : "false";
        if (sm_yaml_as_int(n, &i) != -EINVAL)
                return "a number";
        if (is_other_number(n->value))
                return "a decimal number";
        return "a string";
}

const sm_yaml_node *sm_yaml_get(const sm_yaml_node *map, const char *key)
{
        size_t len;

        if (!map || map->kind != SM_YAML_MAPPING || !key)
                return NULL;
        len = strlen(key);
        for (size_t i = 0; i < map->n_pairs; i++) {
                const sm_yaml_node *k = map->pairs[i].key;

                if (k->kind == SM_YAML_SCALAR && k->len == len && memcmp(k->value, key, len) == 0)
                        return map->pairs[i].value;
        }
        return NULL;
}

/* A string value as get_string takes it: any scalar but null and the two
 * booleans. Plain numbers count, as written (an account id, "2.16"): the
 * text is what the user meant, and making them quote it helps nobody. */
static bool is_string_like(const sm_yaml_node *n)
{
        bool b;

        if (!n || n->kind != SM_YAML_SCALAR || sm_yaml_is_null(n))
                return false;
        return !(n->plain && sm_yaml_as_bool(n, &b) == 0);
}

static int wrong_type(const char *path, const sm_yaml_node *n, const char *what, const char *type,
                      sm_diags *diags)
{
        int r = sm_diags_add(diags, path, n->line, n->column, "%s must be %s, not %s",
                             what ? what : "value", type, sm_yaml_describe(n));

        return r < 0 ? r : -EINVAL;
}

int sm_yaml_get_string(const char *path, const sm_yaml_node *n, const char *what, char **ret,
                       sm_diags *diags)
{
        char *s;

        if (!n)
                return -ENOENT;
        if (!is_string_like(n))
                return wrong_type(path, n, what, "a string", diags);
        s = strdup(n->value);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int sm_yaml_get_bool(const char *path, const sm_yaml_node *n, const char *what, bool *ret,
                     sm_diags *diags)
{
        if (!n)
                return -ENOENT;
        if (sm_yaml_as_bool(n, ret) < 0)
                return wrong_type(path, n, what, "true or false", diags);
        return 0;
}

int sm_yaml_get_int(const char *path, const sm_yaml_node *n, const char *what, int64_t min,
                    int64_t max, int64_t *ret, sm_diags *diags)
{
        sm_buf text = {0};
        int64_t v = 0;
        int r;

        if (!n)
                return -ENOENT;
        r = sm_yaml_as_int(n, &v);
        if (r == -EINVAL)
                return wrong_type(path, n, what, "a whole number", diags);
        if (r == 0 && v >= min && v <= max) {
                *ret = v;
                return 0;
        }
        /* Out of range, or beyond int64 altogether: quote the digits as written. */
        r = buf_put_quoted(&text, n->value, n->len, false);
        if (r < 0)
                goto done;
        what = what ? what : "value";
        if (min == INT64_MIN && max != INT64_MAX)
                r = sm_diags_add(diags, path, n->line, n->column,
                                 "%s must be at most %" PRId64 ", not %s", what, max, text.data);
        else if (max == INT64_MAX && min != INT64_MIN)
                r = sm_diags_add(diags, path, n->line, n->column,
                                 "%s must be at least %" PRId64 ", not %s", what, min, text.data);
        else
                r = sm_diags_add(diags, path, n->line, n->column,
                                 "%s must be between %" PRId64 " and %" PRId64 ", not %s", what,
                                 min, max, text.data);
        if (r >= 0)
                r = -EINVAL;
done:
        sm_buf_done(&text);
        return r;
}

int sm_yaml_get_string_list(const char *path, const sm_yaml_node *n, const char *what, char ***ret,
                            size_t *ret_n, sm_diags *diags)
{
        char **v = NULL;
        size_t count = 0;
        int r = 0;

        if (!n)
                return -ENOENT;
        what = what ? what : "value";
        /* "key:" with nothing after it, or "~", is how YAML writes an empty
         * list that is to be filled in later. */
        if (n->kind == SM_YAML_SCALAR && sm_yaml_is_null(n))
                goto done;
        if (n->kind != SM_YAML_SEQUENCE)
                return wrong_type(path, n, what, "a list of strings", diags);
        for (size_t i = 0; i < n->n_items; i++) {
                const sm_yaml_node *item = n->items[i];

                if (is_string_like(item))
                        continue;
                r = sm_diags_add(diags, path, item->line, item->column,
                                 "%s item %zu must be a string, not %s", what, i + 1,
                                 sm_yaml_describe(item));
                if (r < 0)
                        return r;
                r = -EINVAL;
        }
        if (r < 0)
                return r;
        count = n->n_items;
done:
        v = calloc(count + 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < count; i++) {
                v[i] = strdup(n->items[i]->value);
                if (!v[i]) {
                        sm_strv_free(v);
                        return -ENOMEM;
                }
        }
        *ret = v;
        if (ret_n)
                *ret_n = count;
        return 0;
}

size_t sm_yaml_check_keys(const char *path, const sm_yaml_node *map, const char *const *allowed,
                          const char *what, sm_diags *diags)
{
        size_t unknown = 0;

        if (!map || map->kind != SM_YAML_MAPPING)
                return 0;
        for (size_t i = 0; i < map->n_pairs; i++) {
                const sm_yaml_node *k = map->pairs[i].key;
                const char *guess;
                sm_buf msg = {0};
                bool known = false;
                int r;

                if (k->kind != SM_YAML_SCALAR)
                        continue;
                for (size_t j = 0; allowed && allowed[j] && !known; j++)
                        known = streq(k->value, allowed[j]);
                if (known)
                        continue;
                unknown++;
                guess = sm_spell_closest(k->value, allowed);
                r = sm_buf_puts(&msg, "unknown key ");
                if (r >= 0)
                        r = buf_put_quoted(&msg, k->value, k->len, true);
                if (r >= 0 && what)
                        r = sm_buf_printf(&msg, " in %s", what);
                if (r >= 0 && guess)
                        r = sm_buf_printf(&msg, " (did you mean \"%s\"?)", guess);
                /* Out of memory loses the message, never the count: the
                 * caller still refuses the file. */
                if (r >= 0)
                        (void)sm_diags_add(diags, path, k->line, k->column, "%s", msg.data);
                sm_buf_done(&msg);
        }
        return unknown;
}
