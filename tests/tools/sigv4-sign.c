/* SPDX-License-Identifier: Apache-2.0 */
/* sigv4-sign: sign requests read as JSON lines on stdin with sm_sigv4_sign()
 * and print one JSON line per request, so that other implementations
 * (tests/integration/test_sigv4_botocore.py drives botocore) can be compared
 * with ours at every stage.
 *
 * Input, one object per line:
 *   {"id": any, "method": "POST", "path": "/", "query": "a=b" | null,
 *    "headers": [["Name", "value"], ...] (or [{"name":..., "value":...}]),
 *    "body": "text" | "body_base64": "...",
 *    "akid": ..., "secret": ..., "region": ..., "service": ...,
 *    "amz_date": "20150830T123600Z", "normalize_path": true}
 * Output, one object per line:
 *   {"id": ..., "canonical_request": ..., "string_to_sign": ...,
 *    "signature": ..., "authorization": ...}
 *   or {"id": ..., "error": "message", "errno": N} for a request that could
 *   not be parsed or signed. The exit status is non-zero only when stdin or
 *   stdout fail.
 *
 * One signing-key cache serves the whole run, so a long input also runs the
 * cache's hit and eviction paths against the other implementation. */

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "smstudio/macro.h"
#include "smstudio/sigv4.h"

#define MAX_HEADERS 256

static int decode_base64(const char *s, size_t n, unsigned char **ret, size_t *ret_len)
{
        unsigned char *out;
        size_t pad = 0;
        int len;

        if (n % 4 != 0 || n / 4 * 3 > (size_t)INT32_MAX)
                return -EINVAL;
        out = malloc(n / 4 * 3 + 1);
        if (!out)
                return -ENOMEM;
        if (n == 0) {
                *ret = out;
                *ret_len = 0;
                return 0;
        }
        len = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
        if (len < 0) {
                free(out);
                return -EINVAL;
        }
        /* EVP_DecodeBlock counts the padding as decoded zero bytes. */
        while (pad < 2 && s[n - 1 - pad] == '=')
                pad++;
        *ret = out;
        *ret_len = (size_t)len - pad;
        return 0;
}

static const char *get_str(json_t *o, const char *key)
{
        return json_string_value(json_object_get(o, key));
}

/* Fills headers[] with pointers into the JSON document (valid while it
 * lives). */
static int parse_headers(json_t *arr, sm_header *headers, size_t *ret_n)
{
        size_t i, n = 0;
        json_t *h;

        if (!arr) {
                *ret_n = 0;
                return 0;
        }
        if (!json_is_array(arr) || json_array_size(arr) > MAX_HEADERS)
                return -EINVAL;
        json_array_foreach(arr, i, h)
        {
                const char *name, *value;

                if (json_is_array(h) && json_array_size(h) == 2) {
                        name = json_string_value(json_array_get(h, 0));
                        value = json_string_value(json_array_get(h, 1));
                } else if (json_is_object(h)) {
                        name = get_str(h, "name");
                        value = get_str(h, "value");
                } else {
                        return -EINVAL;
                }
                if (!name || !value)
                        return -EINVAL;
                headers[n].name = (char *)name;
                headers[n].value = (char *)value;
                n++;
        }
        *ret_n = n;
        return 0;
}

static json_t *sign_one(sm_sigv4_cache *cache, json_t *in)
{
        sm_header headers[MAX_HEADERS];
        sm_sigv4_signature sig = {0};
        sm_sigv4_request req = {0};
        _cleanup_free_ unsigned char *decoded = NULL;
        json_t *body, *body64, *norm, *out;
        int r;

        if (!json_is_object(in))
                return json_pack("{s:s, s:i}", "error", "not a JSON object", "errno", EINVAL);

        req.method = get_str(in, "method");
        req.path = get_str(in, "path");
        req.query = get_str(in, "query");
        norm = json_object_get(in, "normalize_path");
        req.normalize_path = norm ? json_is_true(norm) : true;
        r = parse_headers(json_object_get(in, "headers"), headers, &req.n_headers);
        if (r < 0)
                goto fail;
        req.headers = headers;

        body = json_object_get(in, "body");
        body64 = json_object_get(in, "body_base64");
        if (body64) {
                size_t len;

                if (!json_is_string(body64)) {
                        r = -EINVAL;
                        goto fail;
                }
                r = decode_base64(json_string_value(body64), json_string_length(body64), &decoded,
                                  &len);
                if (r < 0)
                        goto fail;
                req.payload = decoded;
                req.payload_len = len;
        } else if (body) {
                if (!json_is_string(body)) {
                        r = -EINVAL;
                        goto fail;
                }
                /* json_string_length(), not strlen(): "\u0000" is a byte too. */
                req.payload = json_string_value(body);
                req.payload_len = json_string_length(body);
        }

        r = sm_sigv4_sign(cache, &req, get_str(in, "akid"), get_str(in, "secret"),
                          get_str(in, "region"), get_str(in, "service"), get_str(in, "amz_date"),
                          &sig);
        if (r < 0)
                goto fail;
        out = json_pack("{s:s, s:s, s:s, s:s}", "canonical_request", sig.canonical_request,
                        "string_to_sign", sig.string_to_sign, "signature", sig.signature,
                        "authorization", sig.authorization);
        sm_sigv4_signature_done(&sig);
        return out;
fail:
        return json_pack("{s:s, s:i}", "error", strerror(-r), "errno", -r);
}

int main(int argc, char **argv)
{
        sm_sigv4_cache *cache = sm_sigv4_cache_new();
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        int ret = EXIT_SUCCESS;

        if (argc > 1) {
                fprintf(stderr, "usage: %s < requests.jsonl\n", argv[0]);
                sm_sigv4_cache_free(cache);
                return EXIT_FAILURE;
        }
        if (!cache) {
                fprintf(stderr, "sigv4-sign: out of memory\n");
                return EXIT_FAILURE;
        }

        while ((n = getline(&line, &cap, stdin)) >= 0) {
                json_error_t err;
                json_t *in, *out;
                char *text;

                if (n == 0 || strspn(line, " \t\r\n") == (size_t)n)
                        continue;
                in = json_loadb(line, (size_t)n, JSON_ALLOW_NUL, &err);
                if (in)
                        out = sign_one(cache, in);
                else
                        out = json_pack("{s:s, s:i}", "error", err.text, "errno", EINVAL);
                if (out && in && json_object_get(in, "id"))
                        json_object_set(out, "id", json_object_get(in, "id"));
                text = out ? json_dumps(out, JSON_COMPACT) : NULL;
                json_decref(in);
                json_decref(out);
                if (!text || puts(text) < 0 || fflush(stdout) != 0) {
                        fprintf(stderr, "sigv4-sign: cannot write output\n");
                        free(text);
                        ret = EXIT_FAILURE;
                        break;
                }
                free(text);
        }
        if (ferror(stdin)) {
                fprintf(stderr, "sigv4-sign: cannot read input\n");
                ret = EXIT_FAILURE;
        }
        sm_sigv4_cache_free(cache);
        return ret;
}
