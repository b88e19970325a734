/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "smstudio/iam.h"
#include "smstudio/strbuf.h"

int sm_iam_policy_document_parse(const char *encoded, json_t **ret)
{
        _cleanup_free_ char *decoded = NULL;
        const char *text = encoded;
        json_t *doc;
        int r;

        if (!encoded)
                return -EINVAL;
        while (*text == ' ' || *text == '\n' || *text == '\t' || *text == '\r')
                text++;
        if (*text != '{') {
                /* Form-style '+' is not used by IAM; a literal '+' stays '+'. */
                r = sm_uri_decode(encoded, strlen(encoded), false, &decoded);
                if (r < 0)
                        return r;
                text = decoded;
        }
        doc = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
        if (!doc || !json_is_object(doc)) {
                json_decref(doc);
                return -EBADMSG;
        }
        *ret = doc;
        return 0;
}

/* Keys whose value IAM accepts as a string or a list of strings. */
static int key_is_string_or_list(const char *key)
{
        static const char *const keys[] = {"Action", "NotAction", "Resource", "NotResource"};

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (streq(key, keys[i]))
                        return 1;
        return 0;
}

static int values_equal(const json_t *a, const json_t *b, int lenient);

/* "x" and ["x"] are the same value where the grammar allows both. */
static int string_or_list_equal(const json_t *a, const json_t *b)
{
        if (json_is_string(a) && json_is_array(b))
                return json_array_size(b) == 1 && json_equal(a, json_array_get(b, 0));
        if (json_is_array(a) && json_is_string(b))
                return string_or_list_equal(b, a);
        return values_equal(a, b, 0);
}

static int objects_equal(const json_t *a, const json_t *b, int lenient_values)
{
        const char *key;
        json_t *va;

        if (json_object_size(a) != json_object_size(b))
                return 0;
        json_object_foreach((json_t *)a, key, va)
        {
                json_t *vb = json_object_get(b, key);

                if (!vb)
                        return 0;
                if (lenient_values || key_is_string_or_list(key)) {
                        if (!string_or_list_equal(va, vb))
                                return 0;
                } else if (streq(key, "Principal") || streq(key, "NotPrincipal")) {
                        if (json_is_object(va) && json_is_object(vb)) {
                                if (!objects_equal(va, vb, 1))
                                        return 0;
                        } else if (!json_equal(va, vb)) {
                                return 0;
                        }
                } else if (streq(key, "Condition")) {
                        /* Operator -> {condition key -> value or values}. */
                        const char *op;
                        json_t *ca;

                        if (!json_is_object(va) || !json_is_object(vb) ||
                            json_object_size(va) != json_object_size(vb))
                                return 0;
                        json_object_foreach(va, op, ca)
                        {
                                json_t *cb = json_object_get(vb, op);

                                if (!cb || !json_is_object(ca) || !json_is_object(cb) ||
                                    !objects_equal(ca, cb, 1))
                                        return 0;
                        }
                } else if (!values_equal(va, vb, 0)) {
                        return 0;
                }
        }
        return 1;
}

static int values_equal(const json_t *a, const json_t *b, int lenient)
{
        if (lenient)
                return string_or_list_equal(a, b);
        if (json_is_object(a) && json_is_object(b))
                return objects_equal(a, b, 0);
        if (json_is_array(a) && json_is_array(b)) {
                if (json_array_size(a) != json_array_size(b))
                        return 0;
                for (size_t i = 0; i < json_array_size(a); i++)
                        if (!values_equal(json_array_get(a, i), json_array_get(b, i), 0))
                                return 0;
                return 1;
        }
        return json_equal(a, b);
}

int sm_iam_policy_equal(const json_t *a, const json_t *b)
{
        const json_t *sa, *sb;

        if (!a || !b)
                return a == b;
        if (!json_is_object(a) || !json_is_object(b))
                return json_equal(a, b);
        /* A single statement object and a one-element list say the same. */
        sa = json_object_get(a, "Statement");
        sb = json_object_get(b, "Statement");
        if (sa && sb && json_is_object(sa) != json_is_object(sb)) {
                json_t *ca = json_deep_copy(a), *cb = json_deep_copy(b);
                int eq;

                if (json_is_object(sa))
                        json_object_set_new(ca, "Statement", json_pack("[O]", sa));
                else
                        json_object_set_new(cb, "Statement", json_pack("[O]", sb));
                eq = objects_equal(ca, cb, 0);
                json_decref(ca);
                json_decref(cb);
                return eq;
        }
        return objects_equal(a, b, 0);
}
