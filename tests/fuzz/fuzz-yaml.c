/* SPDX-License-Identifier: Apache-2.0 */
/* The YAML reader on hostile bytes, with limits tight enough that the
 * fuzzer reaches them, then every node of what it accepts through the
 * typed getters and the key checker the manifest loader uses.
 *
 * Input: the YAML text itself. tests/fuzz/yaml.dict holds YAML's tokens:
 *   build-fuzz/tests/fuzz/fuzz-yaml -dict=tests/fuzz/yaml.dict NEW_DIR tests/fuzz/corpus/yaml */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "smstudio/yamlnode.h"

/* The reader's promises; a broken one is a crash worth a report. */
static void check(int ok)
{
        if (!ok)
                abort();
}

static const char *const allowed[] = {"kind",       "name",    "domain", "group", "tags",
                                      "subnet_ids", "enabled", "count",  NULL};

static void check_scalar(const sm_yaml_node *n)
{
        bool b;
        int64_t i;

        check(n->value != NULL);
        check(strlen(n->value) == n->len);
        /* The typing functions agree with each other. */
        if (sm_yaml_as_bool(n, &b) == 0)
                check(n->plain && !sm_yaml_is_null(n) && sm_yaml_as_int(n, &i) == -EINVAL);
        if (sm_yaml_is_null(n))
                check(n->plain && strcmp(sm_yaml_describe(n), "null") == 0);
        if (!n->plain)
                check(strcmp(sm_yaml_describe(n), "a string") == 0);
}

static void exercise_getters(const sm_yaml_node *n, sm_diags *d)
{
        char *s = NULL, **v = NULL;
        size_t count = 0;
        bool b;
        int64_t i;
        int r;

        r = sm_yaml_get_string("fuzz.yaml", n, "k", &s, d);
        check(r == 0 || r == -EINVAL || r == -ENOMEM);
        if (r == 0) {
                check(s && strcmp(s, n->value) == 0);
                free(s);
        }
        r = sm_yaml_get_bool("fuzz.yaml", n, "k", &b, d);
        check(r == 0 || r == -EINVAL || r == -ENOMEM);
        r = sm_yaml_get_int("fuzz.yaml", n, "k", -100, 100, &i, d);
        check(r == 0 || r == -EINVAL || r == -ENOMEM);
        if (r == 0)
                check(i >= -100 && i <= 100);
        r = sm_yaml_get_int("fuzz.yaml", n, "k", INT64_MIN, INT64_MAX, &i, d);
        check(r == 0 || r == -EINVAL || r == -ENOMEM);
        r = sm_yaml_get_string_list("fuzz.yaml", n, "k", &v, &count, d);
        check(r == 0 || r == -EINVAL || r == -ENOMEM);
        if (r == 0) {
                for (size_t k = 0; k < count; k++)
                        check(v[k] != NULL);
                check(v[count] == NULL);
                sm_strv_free(v);
        }
}

static void walk(const sm_yaml_node *n, unsigned depth, sm_diags *d)
{
        check(n != NULL);
        check(depth <= 9); /* 8 collections (max_depth) and a scalar in the last */
        check(n->line >= 1 && n->column >= 1);
        (void)sm_yaml_describe(n);
        switch (n->kind) {
        case SM_YAML_SCALAR:
                check_scalar(n);
                break;
        case SM_YAML_SEQUENCE:
                check(n->n_pairs == 0);
                for (size_t i = 0; i < n->n_items; i++) {
                        check(n->items[i]->line >= n->line);
                        walk(n->items[i], depth + 1, d);
                }
                break;
        case SM_YAML_MAPPING:
                check(n->n_items == 0);
                for (size_t i = 0; i < n->n_pairs; i++) {
                        const sm_yaml_pair *p = &n->pairs[i];

                        check(p->key && p->key->kind == SM_YAML_SCALAR && p->value);
                        check(p->key->line >= n->line && p->value->line >= p->key->line);
                        /* Keys are unique, so a lookup finds this very pair. */
                        check(sm_yaml_get(n, p->key->value) == p->value);
                        walk(p->key, depth, d);
                        walk(p->value, depth + 1, d);
                        exercise_getters(p->value, d);
                }
                (void)sm_yaml_check_keys("fuzz.yaml", n, allowed, "a fuzz", d);
                break;
        default:
                check(0);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        sm_yaml_limits l = {
                .max_bytes = 64 * 1024,
                .max_documents = 16,
                .max_depth = 8,
                .max_scalar_bytes = 256,
                .max_nodes = 4000,
        };
        sm_yaml_stream *s = NULL;
        sm_diags d = {0};
        sm_buf out = {0};
        int r;

        r = sm_yaml_parse("fuzz.yaml", data, size, &l, &s, &d);
        check(r == 0 || r == -EINVAL || r == -ENOMEM);
        if (r == 0) {
                check(s != NULL && d.n == 0 && s->n_docs <= l.max_documents);
                for (size_t i = 0; i < s->n_docs; i++) {
                        check(s->docs[i].line >= 1);
                        if (s->docs[i].root)
                                walk(s->docs[i].root, 1, &d);
                }
        } else {
                check(s == NULL);
                /* Every refusal says why, and where when it can. */
                check(r == -ENOMEM || d.n > 0);
                for (size_t i = 0; i < d.n; i++)
                        check(d.items[i].message[0] != '\0' &&
                              (d.items[i].line > 0 || size > l.max_bytes || d.n == 1));
        }
        if (sm_diags_format(&d, &out) == 0)
                check(out.len == 0 || out.data[out.len - 1] == '\n');
        sm_buf_done(&out);
        sm_diags_done(&d);
        sm_yaml_stream_free(s);
        return 0;
}
