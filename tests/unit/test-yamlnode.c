/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smstudio/yamlnode.h"
#include "testmain.h"

/* Parse text that must be refused; return every message, formatted as a
 * person sees them (caller frees). */
static char *refused_n(const char *text, size_t len, const sm_yaml_limits *limits)
{
        sm_yaml_stream *s = NULL;
        sm_diags d = {0};
        sm_buf out = {0};

        ck_assert_int_eq(sm_yaml_parse("f.yaml", text, len, limits, &s, &d), -EINVAL);
        ck_assert_ptr_null(s);
        ck_assert_uint_gt(d.n, 0);
        ck_assert_int_eq(sm_diags_format(&d, &out), 0);
        sm_diags_done(&d);
        return sm_buf_steal(&out);
}

static char *refused(const char *text, const sm_yaml_limits *limits)
{
        return refused_n(text, strlen(text), limits);
}

#define ck_assert_refused(text, limits, expected)                                                  \
        do {                                                                                       \
                char *_got = refused(text, limits);                                                \
                ck_assert_str_eq(_got, expected);                                                  \
                free(_got);                                                                        \
        } while (0)

static sm_yaml_stream *parsed(const char *text)
{
        sm_yaml_stream *s = NULL;
        sm_diags d = {0};
        int r = sm_yaml_parse("f.yaml", text, strlen(text), NULL, &s, &d);

        if (r != 0 && d.n > 0)
                ck_abort_msg("unexpected: %s", d.items[0].message);
        ck_assert_int_eq(r, 0);
        ck_assert_uint_eq(d.n, 0);
        ck_assert_ptr_nonnull(s);
        return s;
}

static void assert_place(const sm_yaml_node *n, unsigned line, unsigned column)
{
        ck_assert_ptr_nonnull(n);
        ck_assert_uint_eq(n->line, line);
        ck_assert_uint_eq(n->column, column);
}

static void assert_scalar(const sm_yaml_node *n, const char *value, bool plain)
{
        ck_assert_ptr_nonnull(n);
        ck_assert_int_eq(n->kind, SM_YAML_SCALAR);
        ck_assert_str_eq(n->value, value);
        ck_assert_uint_eq(n->len, strlen(value));
        ck_assert(n->plain == plain);
}

START_TEST(test_block_style)
{
        sm_yaml_stream *s = parsed("# a domain\n"
                                   "kind: Domain\n"
                                   "name: \"studio\"\n"
                                   "subnet_ids:\n"
                                   "  - subnet-1\n"
                                   "  - 'subnet-2'\n"
                                   "tags:\n"
                                   "  team: ml\n"
                                   "empty:\n");
        const sm_yaml_node *root, *ids, *tags;

        ck_assert_str_eq(s->path, "f.yaml");
        ck_assert_uint_eq(s->n_docs, 1);
        ck_assert_uint_eq(s->docs[0].line, 2);
        root = s->docs[0].root;
        ck_assert_int_eq(root->kind, SM_YAML_MAPPING);
        assert_place(root, 2, 1);
        ck_assert_uint_eq(root->n_pairs, 5);
        assert_scalar(root->pairs[0].key, "kind", true);
        assert_place(root->pairs[0].key, 2, 1);
        assert_scalar(root->pairs[0].value, "Domain", true);
        assert_place(root->pairs[0].value, 2, 7);
        assert_scalar(sm_yaml_get(root, "name"), "studio", false);
        assert_place(sm_yaml_get(root, "name"), 3, 7);

        ids = sm_yaml_get(root, "subnet_ids");
        ck_assert_int_eq(ids->kind, SM_YAML_SEQUENCE);
        assert_place(ids, 5, 3);
        ck_assert_uint_eq(ids->n_items, 2);
        assert_scalar(ids->items[0], "subnet-1", true);
        assert_place(ids->items[0], 5, 5);
        assert_scalar(ids->items[1], "subnet-2", false);
        assert_place(ids->items[1], 6, 5);

        tags = sm_yaml_get(root, "tags");
        ck_assert_int_eq(tags->kind, SM_YAML_MAPPING);
        assert_place(tags, 8, 3);
        assert_scalar(sm_yaml_get(tags, "team"), "ml", true);

        /* "empty:" has an empty plain value: null */
        assert_scalar(sm_yaml_get(root, "empty"), "", true);
        ck_assert(sm_yaml_is_null(sm_yaml_get(root, "empty")));
        ck_assert_ptr_null(sm_yaml_get(root, "missing"));
        ck_assert_ptr_null(sm_yaml_get(ids, "kind")); /* not a mapping */
        sm_yaml_stream_free(s);
}
END_TEST

START_TEST(test_flow_style)
{
        sm_yaml_stream *s = parsed("{kind: User, groups: [a, \"b\", {c: 1}], x: {}, y: []}\n");
        const sm_yaml_node *root = s->docs[0].root, *g;

        ck_assert_int_eq(root->kind, SM_YAML_MAPPING);
        assert_place(root, 1, 1);
        ck_assert_uint_eq(root->n_pairs, 4);
        g = sm_yaml_get(root, "groups");
        assert_place(g, 1, 22);
        ck_assert_uint_eq(g->n_items, 3);
        assert_scalar(g->items[0], "a", true);
        assert_scalar(g->items[1], "b", false);
        assert_place(g->items[1], 1, 26);
        ck_assert_int_eq(g->items[2]->kind, SM_YAML_MAPPING);
        assert_place(g->items[2], 1, 31);
        ck_assert_uint_eq(sm_yaml_get(root, "x")->n_pairs, 0);
        ck_assert_str_eq(sm_yaml_describe(sm_yaml_get(root, "x")), "a mapping");
        ck_assert_uint_eq(sm_yaml_get(root, "y")->n_items, 0);
        ck_assert_str_eq(sm_yaml_describe(sm_yaml_get(root, "y")), "a list");
        sm_yaml_stream_free(s);
}
END_TEST

START_TEST(test_block_scalars_and_escapes)
{
        sm_yaml_stream *s = parsed("lit: |\n  one\n  two\nfold: >-\n  a\n  b\n"
                                   "esc: \"tab\\there \\u00e9\"\n"
                                   "sq: 'it''s'\n"
                                   "multi: plain\n  continued\n");
        const sm_yaml_node *root = s->docs[0].root;

        assert_scalar(sm_yaml_get(root, "lit"), "one\ntwo\n", false);
        assert_scalar(sm_yaml_get(root, "fold"), "a b", false);
        assert_scalar(sm_yaml_get(root, "esc"), "tab\there \xc3\xa9", false);
        assert_scalar(sm_yaml_get(root, "sq"), "it's", false);
        assert_scalar(sm_yaml_get(root, "multi"), "plain continued", true);
        sm_yaml_stream_free(s);
}
END_TEST

START_TEST(test_scalar_typing)
{
        sm_yaml_stream *s = parsed("- true\n- \"true\"\n- False\n- TRUE\n- yes\n- null\n"
                                   "- ~\n- ''\n- 123\n- '123'\n- -7\n- +7\n- 1.5\n- 0x1F\n"
                                   "- .inf\n- 12abc\n- NULL\n- nULL\n- +\n- 1e3\n");
        const sm_yaml_node *l = s->docs[0].root;
        static const char *const want[] = {
                "true",
                "a string",
                "false",
                "true",
                "a string",
                "null",
                "null",
                "a string",
                "a number",
                "a string",
                "a number",
                "a number",
                "a decimal number",
                "a decimal number",
                "a decimal number",
                "a string",
                "null",
                "a string",
                "a string",
                "a decimal number",
        };
        bool b = false;
        int64_t i = 0;

        ck_assert_uint_eq(l->n_items, ELEMENTSOF(want));
        for (size_t k = 0; k < ELEMENTSOF(want); k++)
                ck_assert_msg(streq(sm_yaml_describe(l->items[k]), want[k]), "item %zu: %s", k,
                              sm_yaml_describe(l->items[k]));

        ck_assert_int_eq(sm_yaml_as_bool(l->items[0], &b), 0);
        ck_assert(b);
        ck_assert_int_eq(sm_yaml_as_bool(l->items[2], &b), 0);
        ck_assert(!b);
        ck_assert_int_eq(sm_yaml_as_bool(l->items[1], &b), -EINVAL); /* quoted */
        ck_assert_int_eq(sm_yaml_as_bool(l->items[4], &b), -EINVAL); /* yes is a string */
        ck_assert(sm_yaml_is_null(l->items[5]));
        ck_assert(sm_yaml_is_null(l->items[6]));
        ck_assert(!sm_yaml_is_null(l->items[7])); /* '' is an empty string */
        ck_assert(!sm_yaml_is_null(l->items[17]));
        ck_assert(sm_yaml_is_null(NULL));
        ck_assert_int_eq(sm_yaml_as_int(l->items[8], &i), 0);
        ck_assert_int_eq(i, 123);
        ck_assert_int_eq(sm_yaml_as_int(l->items[9], &i), -EINVAL); /* quoted */
        ck_assert_int_eq(sm_yaml_as_int(l->items[10], &i), 0);
        ck_assert_int_eq(i, -7);
        ck_assert_int_eq(sm_yaml_as_int(l->items[11], &i), 0);
        ck_assert_int_eq(i, 7);
        ck_assert_int_eq(sm_yaml_as_int(l->items[12], &i), -EINVAL);
        ck_assert_int_eq(sm_yaml_as_int(l->items[15], &i), -EINVAL);
        ck_assert_int_eq(sm_yaml_as_int(l->items[18], &i), -EINVAL);
        ck_assert_int_eq(sm_yaml_as_int(l, &i), -EINVAL);
        ck_assert_int_eq(sm_yaml_as_bool(l, &b), -EINVAL);
        ck_assert_str_eq(sm_yaml_describe(NULL), "null");
        sm_yaml_stream_free(s);
}
END_TEST

START_TEST(test_int_bounds)
{
        sm_yaml_stream *s = parsed("- 9223372036854775807\n- -9223372036854775808\n"
                                   "- 9223372036854775808\n- -9223372036854775809\n"
                                   "- 00012\n- -0\n");
        const sm_yaml_node *l = s->docs[0].root;
        int64_t i = 0;

        ck_assert_int_eq(sm_yaml_as_int(l->items[0], &i), 0);
        ck_assert(i == INT64_MAX);
        ck_assert_int_eq(sm_yaml_as_int(l->items[1], &i), 0);
        ck_assert(i == INT64_MIN);
        i = 5;
        ck_assert_int_eq(sm_yaml_as_int(l->items[2], &i), -ERANGE);
        ck_assert_int_eq(sm_yaml_as_int(l->items[3], &i), -ERANGE);
        ck_assert_int_eq(i, 5); /* untouched on failure */
        ck_assert_str_eq(sm_yaml_describe(l->items[2]), "a number");
        ck_assert_int_eq(sm_yaml_as_int(l->items[4], &i), 0);
        ck_assert_int_eq(i, 12);
        ck_assert_int_eq(sm_yaml_as_int(l->items[5], &i), 0);
        ck_assert_int_eq(i, 0);
        sm_yaml_stream_free(s);
}
END_TEST

START_TEST(test_multi_document)
{
        sm_yaml_stream *s = parsed("---\nkind: Domain\n---\n---\n# only a comment\n---\nnull\n"
                                   "--- \"\"\n---\nkind: User\n...\n");

        ck_assert_uint_eq(s->n_docs, 6);
        ck_assert_uint_eq(s->docs[0].line, 1);
        assert_place(s->docs[0].root, 2, 1);
        ck_assert_ptr_null(s->docs[1].root); /* "---" alone */
        ck_assert_uint_eq(s->docs[1].line, 3);
        ck_assert_ptr_null(s->docs[2].root); /* only a comment */
        ck_assert_uint_eq(s->docs[2].line, 4);
        ck_assert_ptr_null(s->docs[3].root);       /* null is empty too */
        assert_scalar(s->docs[4].root, "", false); /* "" is a string, not empty */
        ck_assert_uint_eq(s->docs[5].line, 9);
        assert_scalar(sm_yaml_get(s->docs[5].root, "kind"), "User", true);
        sm_yaml_stream_free(s);

        /* No document at all: an empty file, or comments only. */
        s = parsed("");
        ck_assert_uint_eq(s->n_docs, 0);
        sm_yaml_stream_free(s);
        s = parsed("# nothing yet\n\n");
        ck_assert_uint_eq(s->n_docs, 0);
        sm_yaml_stream_free(s);

        /* A document that is just a scalar, and a byte-order mark. */
        s = parsed("\xef\xbb\xbfhello\n");
        ck_assert_uint_eq(s->n_docs, 1);
        assert_scalar(s->docs[0].root, "hello", true);
        sm_yaml_stream_free(s);

        /* Errors in several documents are all reported. */
        ck_assert_refused("a: 1\na: 2\n---\nb: 1\nb: 2\n", NULL,
                          "f.yaml:2:1: duplicate key \"a\" (first at line 1)\n"
                          "f.yaml:5:1: duplicate key \"b\" (first at line 4)\n");
}
END_TEST

START_TEST(test_limit_size)
{
        sm_yaml_limits l;
        size_t n = 1024 * 1024 + 1;
        char *big = malloc(n);
        char *got;

        ck_assert_ptr_nonnull(big);
        memset(big, '#', n);
        got = refused_n(big, n, NULL);
        ck_assert_str_eq(got, "f.yaml: file is larger than 1 MiB\n");
        free(got);

        /* Exactly at the limit is fine (a comment: no documents). */
        {
                sm_yaml_stream *s = NULL;
                sm_diags d = {0};

                ck_assert_int_eq(sm_yaml_parse("f.yaml", big, n - 1, NULL, &s, &d), 0);
                ck_assert_uint_eq(s->n_docs, 0);
                sm_yaml_stream_free(s);
        }
        free(big);

        sm_yaml_limits_default(&l);
        l.max_bytes = 10;
        ck_assert_refused("a: 12345678\n", &l, "f.yaml: file is larger than 10 bytes\n");
        l.max_bytes = 2048;
        got = malloc(3000);
        memset(got, ' ', 3000);
        got[2999] = '\0';
        ck_assert_refused(got, &l, "f.yaml: file is larger than 2 KiB\n");
        free(got);
}
END_TEST

START_TEST(test_limit_documents)
{
        sm_yaml_limits l;

        sm_yaml_limits_default(&l);
        ck_assert_uint_eq(l.max_documents, 1000);
        l.max_documents = 2;
        ck_assert_refused("a: 1\n---\nb: 2\n---\nc: 3\n---\nd: 4\n", &l,
                          "f.yaml:4:1: more than 2 documents in one file\n");
        /* Two empty documents count as documents. */
        ck_assert_refused("---\n---\n---\n", &l, "f.yaml:3:1: more than 2 documents in one file\n");
}
END_TEST

START_TEST(test_limit_depth)
{
        sm_yaml_limits l;
        char deep[200];
        size_t n = 0;

        sm_yaml_limits_default(&l);
        ck_assert_uint_eq(l.max_depth, 32);
        l.max_depth = 3;
        /* Three levels are fine; the fourth is refused where it opens. */
        sm_yaml_stream_free(NULL);
        ck_assert_refused("a:\n  b:\n    c: [1, {d: 2}]\n", &l,
                          "f.yaml:3:8: nesting deeper than 3 levels\n");
        {
                sm_yaml_stream *s = NULL;
                sm_diags d = {0};
                const char ok[] = "a:\n  b: [1, 2]\n";

                ck_assert_int_eq(sm_yaml_parse("f.yaml", ok, strlen(ok), &l, &s, &d), 0);
                sm_yaml_stream_free(s);
        }
        /* The default on flow brackets: 33 levels refused at the 33rd. */
        for (int i = 0; i < 40; i++)
                deep[n++] = '[';
        deep[n] = '\0';
        ck_assert_refused(deep, NULL, "f.yaml:1:33: nesting deeper than 32 levels\n");
}
END_TEST

START_TEST(test_limit_scalar)
{
        sm_yaml_limits l;

        sm_yaml_limits_default(&l);
        ck_assert_uint_eq(l.max_scalar_bytes, 64 * 1024);
        l.max_scalar_bytes = 8;
        /* Every too-long string is reported, keys included; 8 bytes is fine. */
        ck_assert_refused("name: 12345678\nlong: \"123456789\"\nlongerkey: x\n", &l,
                          "f.yaml:2:7: string longer than 8 bytes\n"
                          "f.yaml:3:1: string longer than 8 bytes\n");
        /* Two different refused keys are not taken for the same key. */
        ck_assert_refused("longerkey1: x\nlongerkey2: y\n", &l,
                          "f.yaml:1:1: string longer than 8 bytes\n"
                          "f.yaml:2:1: string longer than 8 bytes\n");
        /* The default limit, as a person would write it. */
        {
                sm_buf text = {0};

                ck_assert_int_eq(sm_buf_puts(&text, "k: "), 0);
                for (int i = 0; i < 64 * 1024 + 1; i++)
                        ck_assert_int_eq(sm_buf_putc(&text, 'x'), 0);
                ck_assert_refused(text.data, NULL, "f.yaml:1:4: string longer than 64 KiB\n");
                text.data[text.len - 1] = '\0'; /* exactly 64 KiB is fine */
                sm_yaml_stream_free(parsed(text.data));
                sm_buf_done(&text);
        }
}
END_TEST

START_TEST(test_limit_nodes)
{
        sm_yaml_limits l;

        sm_yaml_limits_default(&l);
        ck_assert_uint_eq(l.max_nodes, 200000);
        l.max_nodes = 5;
        /* mapping, a, 1, b, [ = 5 nodes; the list's first item is the 6th. */
        ck_assert_refused("a: 1\nb: [x, y]\n", &l,
                          "f.yaml:2:5: more than 5 YAML nodes in one file\n");
}
END_TEST

START_TEST(test_anchors_and_aliases)
{
        ck_assert_refused("base: &b\n  x: 1\nother: *b\n", NULL,
                          "f.yaml:1:7: YAML anchors and aliases are not allowed\n"
                          "f.yaml:3:8: YAML anchors and aliases are not allowed\n");
        ck_assert_refused("- &a x\n- [*a]\n", NULL,
                          "f.yaml:1:3: YAML anchors and aliases are not allowed\n"
                          "f.yaml:2:4: YAML anchors and aliases are not allowed\n");
        /* Merge keys need an alias, so they are refused with it. */
        ck_assert_refused("a: &x {k: 1}\nb:\n  <<: *x\n", NULL,
                          "f.yaml:1:4: YAML anchors and aliases are not allowed\n"
                          "f.yaml:3:7: YAML anchors and aliases are not allowed\n");
        /* The same alias twice as a key is a repeated key too. */
        ck_assert_refused("{*k : 1, *k : 2}\n", NULL,
                          "f.yaml:1:2: YAML anchors and aliases are not allowed\n"
                          "f.yaml:1:10: YAML anchors and aliases are not allowed\n"
                          "f.yaml:1:10: duplicate key \"*k\" (first at line 1)\n");
        /* An alias as a key keeps the rest of the mapping in step. */
        ck_assert_refused("*k : 1\nx: 1\nx: 2\n", NULL,
                          "f.yaml:1:1: YAML anchors and aliases are not allowed\n"
                          "f.yaml:3:1: duplicate key \"x\" (first at line 2)\n");
}
END_TEST

START_TEST(test_billion_laughs)
{
        const char bomb[] =
                "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
                "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
                "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
                "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
        struct timespec t0, t1;
        sm_yaml_stream *s = NULL;
        sm_diags d = {0};

        clock_gettime(CLOCK_MONOTONIC, &t0);
        ck_assert_int_eq(sm_yaml_parse("f.yaml", bomb, strlen(bomb), NULL, &s, &d), -EINVAL);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ck_assert_ptr_null(s);
        /* Never expanded: each anchor and alias is one error where it is. */
        ck_assert_uint_eq(d.n, 9 + 8 * 9);
        ck_assert_uint_eq(d.items[0].line, 1);
        ck_assert_uint_eq(d.items[0].column, 4);
        ck_assert_str_eq(d.items[0].message, "YAML anchors and aliases are not allowed");
        ck_assert_uint_eq(d.items[2].line, 2);
        ck_assert_uint_eq(d.items[2].column, 8);
        ck_assert_str_eq(d.items[2].message, "YAML anchors and aliases are not allowed");
        ck_assert_msg(t1.tv_sec - t0.tv_sec < 2, "took %lds", (long)(t1.tv_sec - t0.tv_sec));
        sm_diags_done(&d);
}
END_TEST

START_TEST(test_too_many_errors)
{
        sm_buf text = {0};
        sm_yaml_stream *s = NULL;
        sm_diags d = {0};

        /* A megabyte of aliases must not make a megabyte of messages. */
        for (int i = 0; i < 5000; i++)
                ck_assert_int_eq(sm_buf_puts(&text, "- *a\n"), 0);
        ck_assert_int_eq(sm_yaml_parse("f.yaml", text.data, text.len, NULL, &s, &d), -EINVAL);
        ck_assert_uint_eq(d.n, 101);
        ck_assert_uint_eq(d.items[99].line, 100);
        ck_assert_str_eq(d.items[100].message,
                         "too many errors (100), not reading the rest of the file");
        ck_assert_uint_eq(d.items[100].line, 100);
        ck_assert_uint_eq(d.items[100].column, 3);
        sm_diags_done(&d);
        sm_buf_done(&text);
}
END_TEST

START_TEST(test_tags_refused)
{
        ck_assert_refused("a: !!str 1\nb: !!map {}\nc: !local [x]\n", NULL,
                          "f.yaml:1:4: YAML tags are not allowed\n"
                          "f.yaml:2:4: YAML tags are not allowed\n"
                          "f.yaml:3:4: YAML tags are not allowed\n");
        ck_assert_refused("a: &x !!str 1\n", NULL,
                          "f.yaml:1:4: YAML anchors and aliases are not allowed\n"
                          "f.yaml:1:4: YAML tags are not allowed\n");
}
END_TEST

START_TEST(test_duplicate_keys)
{
        ck_assert_refused("kind: User\nname: alice\ngroup: x\nname: bob\n", NULL,
                          "f.yaml:4:1: duplicate key \"name\" (first at line 2)\n");
        /* Nested, flow, repeated three times, and quoting does not make a
         * different key. */
        ck_assert_refused("a:\n  b: 1\n  \"b\": 2\n  'b': 3\nc: {x: 1, y: 2, x: 3}\n", NULL,
                          "f.yaml:3:3: duplicate key \"b\" (first at line 2)\n"
                          "f.yaml:4:3: duplicate key \"b\" (first at line 2)\n"
                          "f.yaml:5:17: duplicate key \"x\" (first at line 5)\n");
        /* Keys are quoted safely in the message. */
        ck_assert_refused("\"a\\\"\\n\": 1\n\"a\\\"\\n\": 2\n", NULL,
                          "f.yaml:2:1: duplicate key \"a\\\"\\x0a\" (first at line 1)\n");
        /* Same key in different mappings is fine. */
        sm_yaml_stream_free(parsed("a: {name: 1}\nb: {name: 1}\n"));
}
END_TEST

START_TEST(test_many_keys_linear)
{
        sm_buf text = {0};
        sm_yaml_stream *s = NULL;
        sm_diags d = {0};

        for (int i = 0; i < 60000; i++)
                ck_assert_int_eq(sm_buf_printf(&text, "k%d: %d\n", i, i), 0);
        ck_assert_int_eq(sm_buf_puts(&text, "k59999: again\n"), 0);
        ck_assert_int_eq(sm_yaml_parse("f.yaml", text.data, text.len, NULL, &s, &d), -EINVAL);
        ck_assert_uint_eq(d.n, 1);
        ck_assert_uint_eq(d.items[0].line, 60001);
        ck_assert_str_eq(d.items[0].message, "duplicate key \"k59999\" (first at line 60000)");
        sm_diags_done(&d);
        sm_buf_done(&text);
}
END_TEST

START_TEST(test_complex_keys_refused)
{
        ck_assert_refused("? [a, b]\n: 1\n{c: 1}: 2\n? - x\n: 3\n", NULL,
                          "f.yaml:1:3: mapping key must be a string, not a list\n"
                          "f.yaml:3:1: mapping key must be a string, not a mapping\n"
                          "f.yaml:4:3: mapping key must be a string, not a list\n");
}
END_TEST

START_TEST(test_nul_refused)
{
        static const char raw[] = "a: b\0c\n";

        ck_assert_refused("a: \"x\\0y\"\nb: ok\nc: \"\\x00\"\n", NULL,
                          "f.yaml:1:4: string contains a NUL character\n"
                          "f.yaml:3:4: string contains a NUL character\n");
        /* A raw NUL byte is caught by libyaml's reader. */
        {
                char *got = refused_n(raw, sizeof(raw) - 1, NULL);

                ck_assert_str_eq(got, "f.yaml:1:5: control characters are not allowed (0x00)\n");
                free(got);
        }
}
END_TEST

START_TEST(test_syntax_errors)
{
        /* Tabs for indentation: libyaml's words, the place, and the hint. */
        ck_assert_refused("kind: Domain\nsubnet_ids:\n\t- a\n", NULL,
                          "f.yaml:3:1: found character that cannot start any token while scanning "
                          "for the next token (a tab: YAML indentation must use spaces)\n");
        ck_assert_refused("a:\n  b: 1\n\tc: 2\n", NULL,
                          "f.yaml:3:1: found a tab character that violates indentation while "
                          "scanning a plain scalar (started at line 2, column 6)\n");
        /* A tab after a colon is a separator, not indentation. */
        sm_yaml_stream_free(parsed("a:\tb\n"));
        /* Bad indentation. */
        ck_assert_refused("name: a\n group: b\n", NULL,
                          "f.yaml:2:7: mapping values are not allowed in this context\n");
        ck_assert_refused("a:\n  b: 1\n c: 2\n", NULL,
                          "f.yaml:3:2: did not find expected key while parsing a block mapping "
                          "(started at line 1, column 1)\n");
        ck_assert_refused("- a\nb: 1\n", NULL,
                          "f.yaml:2:1: did not find expected '-' indicator while parsing a block "
                          "collection (started at line 1, column 1)\n");
        ck_assert_refused("a: \"open\nb: 2\n", NULL,
                          "f.yaml:3:1: found unexpected end of stream while scanning a quoted "
                          "scalar (started at line 1, column 4)\n");
        ck_assert_refused("a: [1, 2\n", NULL,
                          "f.yaml:2:1: did not find expected ',' or ']' while parsing a flow "
                          "sequence (started at line 1, column 4)\n");
        /* Only the first syntax error exists: libyaml stops there, but what
         * was found before it is still reported. */
        ck_assert_refused("a: 1\na: 2\nb: [\n", NULL,
                          "f.yaml:2:1: duplicate key \"a\" (first at line 1)\n"
                          "f.yaml:4:1: did not find expected node content while parsing a flow "
                          "node\n");
}
END_TEST

START_TEST(test_encoding)
{
        static const char utf16[] = "\xff\xfe"
                                    "a\0:\0 \0b\0\n\0";

        ck_assert_refused("name: caf\xc3\xa9\nx: \xff\n", NULL,
                          "f.yaml:2:4: invalid leading UTF-8 octet (0xFF)\n");
        /* Lines break where libyaml breaks them: CR LF, CR, and LS. */
        ck_assert_refused("a: 1\r\nb: \xff\n", NULL,
                          "f.yaml:2:4: invalid leading UTF-8 octet (0xFF)\n");
        ck_assert_refused("a: 1\rb: \xff\n", NULL,
                          "f.yaml:2:4: invalid leading UTF-8 octet (0xFF)\n");
        ck_assert_refused("a: 1\xe2\x80\xa8"
                          "b: \xff\n",
                          NULL, "f.yaml:2:4: invalid leading UTF-8 octet (0xFF)\n");
        /* Columns count characters, as libyaml's do. */
        ck_assert_refused("\xc3\xa9\xc3\xa9: \xc3\x28\n", NULL,
                          "f.yaml:1:5: invalid trailing UTF-8 octet (0x28)\n");
        {
                char *got = refused_n(utf16, sizeof(utf16) - 1, NULL);

                ck_assert_str_eq(got, "f.yaml:1:1: file is UTF-16 (it starts with a UTF-16 "
                                      "byte-order mark), not UTF-8\n");
                free(got);
        }
}
END_TEST

static const sm_yaml_node *root_of(sm_yaml_stream *s)
{
        ck_assert_uint_ge(s->n_docs, 1);
        return s->docs[0].root;
}

#define TYPED_TEXT                                                                                 \
        "name: alice\nnum: 42\nquoted: \"42\"\nflag: true\nyes: yes\nnothing:\nlist: [a, b]\n"     \
        "map: {k: v}\nbig: 99999999999999999999\nneg: -5\nfrac: 1.5\nqtrue: \"true\"\n"

START_TEST(test_get_string)
{
        sm_yaml_stream *s = parsed(TYPED_TEXT);
        const sm_yaml_node *m = root_of(s);
        sm_diags d = {0};
        sm_buf out = {0};
        char *v = NULL;

        ck_assert_int_eq(sm_yaml_get_string("f.yaml", sm_yaml_get(m, "name"), "name", &v, &d), 0);
        ck_assert_str_eq(v, "alice");
        free(v);
        /* Numbers are strings as written; quoted "true" is a string. */
        ck_assert_int_eq(sm_yaml_get_string("f.yaml", sm_yaml_get(m, "num"), "num", &v, &d), 0);
        ck_assert_str_eq(v, "42");
        free(v);
        ck_assert_int_eq(sm_yaml_get_string("f.yaml", sm_yaml_get(m, "qtrue"), "q", &v, &d), 0);
        ck_assert_str_eq(v, "true");
        free(v);
        v = NULL;
        ck_assert_int_eq(sm_yaml_get_string("f.yaml", sm_yaml_get(m, "missing"), "x", &v, &d),
                         -ENOENT);
        ck_assert_uint_eq(d.n, 0);
        ck_assert_int_eq(sm_yaml_get_string("f.yaml", sm_yaml_get(m, "flag"), "flag", &v, &d),
                         -EINVAL);
        ck_assert_int_eq(sm_yaml_get_string("f.yaml", sm_yaml_get(m, "nothing"), "nothing", &v, &d),
                         -EINVAL);
        ck_assert_int_eq(sm_yaml_get_string("f.yaml", sm_yaml_get(m, "list"), "list", &v, &d),
                         -EINVAL);
        ck_assert_int_eq(sm_yaml_get_string("f.yaml", sm_yaml_get(m, "map"), "map", &v, &d),
                         -EINVAL);
        ck_assert_ptr_null(v);
        ck_assert_int_eq(sm_diags_format(&d, &out), 0);
        ck_assert_str_eq(out.data, "f.yaml:4:7: flag must be a string, not true\n"
                                   "f.yaml:6:9: nothing must be a string, not null\n"
                                   "f.yaml:7:7: list must be a string, not a list\n"
                                   "f.yaml:8:6: map must be a string, not a mapping\n");
        sm_buf_done(&out);
        sm_diags_done(&d);
        sm_yaml_stream_free(s);
}
END_TEST

START_TEST(test_get_bool)
{
        sm_yaml_stream *s = parsed(TYPED_TEXT);
        const sm_yaml_node *m = root_of(s);
        sm_diags d = {0};
        sm_buf out = {0};
        bool b = false;

        ck_assert_int_eq(sm_yaml_get_bool("f.yaml", sm_yaml_get(m, "flag"), "flag", &b, &d), 0);
        ck_assert(b);
        b = false;
        ck_assert_int_eq(sm_yaml_get_bool("f.yaml", sm_yaml_get(m, "yes"), "retain_efs", &b, &d),
                         -EINVAL);
        ck_assert_int_eq(sm_yaml_get_bool("f.yaml", sm_yaml_get(m, "qtrue"), "dry_run", &b, &d),
                         -EINVAL);
        ck_assert_int_eq(sm_yaml_get_bool("f.yaml", sm_yaml_get(m, "num"), "n", &b, &d), -EINVAL);
        ck_assert_int_eq(sm_yaml_get_bool("f.yaml", NULL, "n", &b, &d), -ENOENT);
        ck_assert(!b);
        ck_assert_int_eq(sm_diags_format(&d, &out), 0);
        ck_assert_str_eq(out.data, "f.yaml:5:6: retain_efs must be true or false, not a string\n"
                                   "f.yaml:12:8: dry_run must be true or false, not a string\n"
                                   "f.yaml:2:6: n must be true or false, not a number\n");
        sm_buf_done(&out);
        sm_diags_done(&d);
        sm_yaml_stream_free(s);
}
END_TEST

START_TEST(test_get_int)
{
        sm_yaml_stream *s = parsed(TYPED_TEXT);
        const sm_yaml_node *m = root_of(s);
        sm_diags d = {0};
        sm_buf out = {0};
        int64_t v = 7;

        ck_assert_int_eq(sm_yaml_get_int("f.yaml", sm_yaml_get(m, "num"), "num", 0, 100, &v, &d),
                         0);
        ck_assert_int_eq(v, 42);
        v = 7;
        ck_assert_int_eq(
                sm_yaml_get_int("f.yaml", sm_yaml_get(m, "num"), "idle", 60, 525600, &v, &d),
                -EINVAL);
        ck_assert_int_eq(
                sm_yaml_get_int("f.yaml", sm_yaml_get(m, "neg"), "count", 0, INT64_MAX, &v, &d),
                -EINVAL);
        ck_assert_int_eq(
                sm_yaml_get_int("f.yaml", sm_yaml_get(m, "num"), "max", INT64_MIN, 10, &v, &d),
                -EINVAL);
        ck_assert_int_eq(sm_yaml_get_int("f.yaml", sm_yaml_get(m, "big"), "big", INT64_MIN,
                                         INT64_MAX, &v, &d),
                         -EINVAL);
        ck_assert_int_eq(
                sm_yaml_get_int("f.yaml", sm_yaml_get(m, "quoted"), "quoted", 0, 100, &v, &d),
                -EINVAL);
        ck_assert_int_eq(sm_yaml_get_int("f.yaml", sm_yaml_get(m, "frac"), "frac", 0, 100, &v, &d),
                         -EINVAL);
        ck_assert_int_eq(sm_yaml_get_int("f.yaml", sm_yaml_get(m, "list"), "list", 0, 100, &v, &d),
                         -EINVAL);
        ck_assert_int_eq(sm_yaml_get_int("f.yaml", NULL, "x", 0, 100, &v, &d), -ENOENT);
        ck_assert_int_eq(v, 7);
        ck_assert_int_eq(sm_diags_format(&d, &out), 0);
        ck_assert_str_eq(out.data,
                         "f.yaml:2:6: idle must be between 60 and 525600, not 42\n"
                         "f.yaml:10:6: count must be at least 0, not -5\n"
                         "f.yaml:2:6: max must be at most 10, not 42\n"
                         "f.yaml:9:6: big must be between -9223372036854775808 and "
                         "9223372036854775807, not 99999999999999999999\n"
                         "f.yaml:3:9: quoted must be a whole number, not a string\n"
                         "f.yaml:11:7: frac must be a whole number, not a decimal number\n"
                         "f.yaml:7:7: list must be a whole number, not a list\n");
        sm_buf_done(&out);
        sm_diags_done(&d);
        sm_yaml_stream_free(s);
}
END_TEST

START_TEST(test_get_string_list)
{
        sm_yaml_stream *s = parsed("ids: [subnet-1, 'subnet-2', 3]\nnone:\nbad:\n  - a\n  - [b]\n"
                                   "  - null\n  - false\nscalar: x\nempty: []\n");
        const sm_yaml_node *m = root_of(s);
        sm_diags d = {0};
        sm_buf out = {0};
        char **v = NULL;
        size_t n = 99;

        ck_assert_int_eq(
                sm_yaml_get_string_list("f.yaml", sm_yaml_get(m, "ids"), "ids", &v, &n, &d), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_str_eq(v[0], "subnet-1");
        ck_assert_str_eq(v[1], "subnet-2");
        ck_assert_str_eq(v[2], "3");
        ck_assert_ptr_null(v[3]);
        v = sm_strv_free(v);
        /* Nothing after the colon: an empty list. */
        ck_assert_int_eq(
                sm_yaml_get_string_list("f.yaml", sm_yaml_get(m, "none"), "none", &v, &n, &d), 0);
        ck_assert_uint_eq(n, 0);
        ck_assert_ptr_null(v[0]);
        v = sm_strv_free(v);
        ck_assert_int_eq(
                sm_yaml_get_string_list("f.yaml", sm_yaml_get(m, "empty"), "e", &v, NULL, &d), 0);
        ck_assert_ptr_null(v[0]);
        v = sm_strv_free(v);
        ck_assert_int_eq(sm_yaml_get_string_list("f.yaml", sm_yaml_get(m, "bad"),
                                                 "data_science_users", &v, &n, &d),
                         -EINVAL);
        ck_assert_int_eq(sm_yaml_get_string_list("f.yaml", sm_yaml_get(m, "scalar"), "subnet_ids",
                                                 &v, &n, &d),
                         -EINVAL);
        ck_assert_int_eq(sm_yaml_get_string_list("f.yaml", NULL, "x", &v, &n, &d), -ENOENT);
        ck_assert_ptr_null(v);
        ck_assert_int_eq(sm_diags_format(&d, &out), 0);
        ck_assert_str_eq(out.data,
                         "f.yaml:5:5: data_science_users item 2 must be a string, not a list\n"
                         "f.yaml:6:5: data_science_users item 3 must be a string, not null\n"
                         "f.yaml:7:5: data_science_users item 4 must be a string, not false\n"
                         "f.yaml:8:9: subnet_ids must be a list of strings, not a string\n");
        sm_buf_done(&out);
        sm_diags_done(&d);
        sm_yaml_stream_free(s);
        ck_assert_ptr_null(sm_strv_free(NULL));
}
END_TEST

START_TEST(test_check_keys)
{
        static const char *const allowed[] = {"kind",       "name",      "vpc_id",
                                              "subnet_ids", "auth_mode", NULL};
        sm_yaml_stream *s = parsed("kind: Domain\nnmae: x\nvpcid: v\nAuth_Mode: IAM\n"
                                   "colour: blue\nsubnet_ids: []\n");
        sm_diags d = {0};
        sm_buf out = {0};

        ck_assert_uint_eq(sm_yaml_check_keys("f.yaml", root_of(s), allowed, NULL, &d), 4);
        ck_assert_uint_eq(sm_yaml_check_keys("f.yaml", root_of(s), allowed, "a Domain", &d), 4);
        ck_assert_int_eq(sm_diags_format(&d, &out), 0);
        ck_assert_str_eq(out.data,
                         "f.yaml:2:1: unknown key \"nmae\" (did you mean \"name\"?)\n"
                         "f.yaml:3:1: unknown key \"vpcid\" (did you mean \"vpc_id\"?)\n"
                         "f.yaml:4:1: unknown key \"Auth_Mode\" (did you mean \"auth_mode\"?)\n"
                         "f.yaml:5:1: unknown key \"colour\"\n"
                         "f.yaml:2:1: unknown key \"nmae\" in a Domain (did you mean \"name\"?)\n"
                         "f.yaml:3:1: unknown key \"vpcid\" in a Domain (did you mean "
                         "\"vpc_id\"?)\n"
                         "f.yaml:4:1: unknown key \"Auth_Mode\" in a Domain (did you mean "
                         "\"auth_mode\"?)\n"
                         "f.yaml:5:1: unknown key \"colour\" in a Domain\n");
        sm_buf_done(&out);
        sm_diags_done(&d);
        /* Not a mapping: nothing to check. */
        ck_assert_uint_eq(sm_yaml_check_keys("f.yaml", NULL, allowed, NULL, &d), 0);
        ck_assert_uint_eq(sm_yaml_check_keys("f.yaml", sm_yaml_get(root_of(s), "subnet_ids"),
                                             allowed, NULL, &d),
                          0);
        ck_assert_uint_eq(d.n, 0);
        sm_yaml_stream_free(s);
}
END_TEST

START_TEST(test_long_key_quoted_short)
{
        sm_buf text = {0};
        char *got;

        for (int i = 0; i < 2; i++) {
                for (int j = 0; j < 100; j++)
                        ck_assert_int_eq(sm_buf_putc(&text, 'k'), 0);
                ck_assert_int_eq(sm_buf_puts(&text, ": 1\n"), 0);
        }
        got = refused(text.data, NULL);
        ck_assert_str_eq(got, "f.yaml:2:1: duplicate key "
                              "\"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
                              "...\" (first at line 1)\n");
        free(got);
        sm_buf_done(&text);
}
END_TEST

START_TEST(test_null_data)
{
        sm_yaml_stream *s = NULL;
        sm_diags d = {0};

        ck_assert_int_eq(sm_yaml_parse(NULL, NULL, 0, NULL, &s, &d), 0);
        ck_assert_uint_eq(s->n_docs, 0);
        ck_assert_str_eq(s->path, "?");
        sm_yaml_stream_free(s);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("yamlnode");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_block_style);
        tcase_add_test(tc, test_flow_style);
        tcase_add_test(tc, test_block_scalars_and_escapes);
        tcase_add_test(tc, test_scalar_typing);
        tcase_add_test(tc, test_int_bounds);
        tcase_add_test(tc, test_multi_document);
        tcase_add_test(tc, test_limit_size);
        tcase_add_test(tc, test_limit_documents);
        tcase_add_test(tc, test_limit_depth);
        tcase_add_test(tc, test_limit_scalar);
        tcase_add_test(tc, test_limit_nodes);
        tcase_add_test(tc, test_anchors_and_aliases);
        tcase_add_test(tc, test_billion_laughs);
        tcase_add_test(tc, test_too_many_errors);
        tcase_add_test(tc, test_tags_refused);
        tcase_add_test(tc, test_duplicate_keys);
        tcase_add_test(tc, test_many_keys_linear);
        tcase_add_test(tc, test_complex_keys_refused);
        tcase_add_test(tc, test_nul_refused);
        tcase_add_test(tc, test_syntax_errors);
        tcase_add_test(tc, test_encoding);
        tcase_add_test(tc, test_get_string);
        tcase_add_test(tc, test_get_bool);
        tcase_add_test(tc, test_get_int);
        tcase_add_test(tc, test_get_string_list);
        tcase_add_test(tc, test_check_keys);
        tcase_add_test(tc, test_long_key_quoted_short);
        tcase_add_test(tc, test_null_data);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
