/* SPDX-License-Identifier: Apache-2.0 */
/* AWS JSON 1.1 and AWS Query (XML answers), after the Smithy protocol
 * descriptions (smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html and
 * aws-query-protocol.html). The decoders take bytes from the network: they
 * bound sizes and nesting, never expand XML entities or load DTDs, and never
 * copy answer bytes of a 2xx into an error message (a truncated AssumeRole
 * answer carries a secret key). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "smstudio/macro.h"
#include "smstudio/protocol.h"

#define JSON_CONTENT_TYPE  "application/x-amz-json-1.1"
#define QUERY_CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"

/* Deeper than any AWS shape we call; bounds our recursion on hostile input. */
#define MAX_NESTING 64
/* Error codes are identifiers and messages a sentence or two; longer ones
 * are cut so a hostile answer cannot balloon logs and status output. */
#define MAX_CODE_LEN    256
#define MAX_MESSAGE_LEN 2048
/* How much of an unrecognised error body goes into the message. */
#define EXCERPT_LEN 160

void sm_encoded_request_done(sm_encoded_request *r)
{
        if (!r)
                return;
        sm_buf_done(&r->body);
        free(r->target);
        *r = (sm_encoded_request){0};
}

/* ---- encoding ---------------------------------------------------------- */

/* Model member names are alphanumeric. Anything else (a '.', '=' or '&' in
 * particular) would make the flattened Query names ambiguous. */
static bool query_key_is_valid(const char *k)
{
        if (isempty(k))
                return false;
        for (; *k; k++) {
                char c = *k;

                if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-'))
                        return false;
        }
        return true;
}

static void buf_truncate(sm_buf *b, size_t len)
{
        if (b->data && len <= b->len) {
                b->len = len;
                b->data[len] = '\0';
        }
}

static int query_put(sm_buf *out, const sm_buf *name, const char *value, size_t value_len)
{
        int r;

        r = sm_buf_putc(out, '&');
        if (r >= 0)
                r = sm_buf_put_uri_encoded(out, name->data, name->len, false);
        if (r >= 0)
                r = sm_buf_putc(out, '=');
        if (r >= 0)
                r = sm_buf_put_uri_encoded(out, value, value_len, false);
        return r;
}

/* Shortest text that reads back as the same double, like the SDKs print. */
static void format_real(double v, char *out, size_t n)
{
        for (int prec = 15; prec <= 17; prec++) {
                snprintf(out, n, "%.*g", prec, v);
                if (strtod(out, NULL) == v)
                        return;
        }
}

static int query_flatten(sm_buf *out, sm_buf *name, const json_t *v, unsigned depth)
{
        size_t mark = name->len;
        char num[64];
        int r = 0;

        if (depth > MAX_NESTING)
                return -EINVAL;

        switch (json_typeof(v)) {
        case JSON_OBJECT:
                for (void *it = json_object_iter((json_t *)v); it;
                     it = json_object_iter_next((json_t *)v, it)) {
                        const char *key = json_object_iter_key(it);
                        json_t *child = json_object_iter_value(it);

                        if (!query_key_is_valid(key))
                                return -EINVAL;
                        if (mark > 0)
                                r = sm_buf_putc(name, '.');
                        if (r >= 0)
                                r = sm_buf_puts(name, key);
                        if (r >= 0)
                                r = query_flatten(out, name, child, depth + 1);
                        buf_truncate(name, mark);
                        if (r < 0)
                                return r;
                }
                return 0;
        case JSON_ARRAY:
                /* An explicitly empty list is sent as "Name=" (botocore
                 * does the same), so AWS can tell it from an absent one. */
                if (json_array_size(v) == 0)
                        return query_put(out, name, "", 0);
                for (size_t i = 0; i < json_array_size(v); i++) {
                        r = sm_buf_printf(name, ".member.%zu", i + 1);
                        if (r >= 0)
                                r = query_flatten(out, name, json_array_get(v, i), depth + 1);
                        buf_truncate(name, mark);
                        if (r < 0)
                                return r;
                }
                return 0;
        case JSON_STRING:
                return query_put(out, name, json_string_value(v), json_string_length(v));
        case JSON_INTEGER:
                snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                return query_put(out, name, num, strlen(num));
        case JSON_REAL:
                format_real(json_real_value(v), num, sizeof(num));
                return query_put(out, name, num, strlen(num));
        case JSON_TRUE:
                return query_put(out, name, "true", 4);
        case JSON_FALSE:
                return query_put(out, name, "false", 5);
        case JSON_NULL:
                /* null means "not set": the member is left out. */
                return 0;
        }
        return -EINVAL;
}

static int encode_query(const sm_aws_service *svc, const char *operation, const json_t *params,
                        sm_encoded_request *ret)
{
        sm_buf body = {0}, name = {0};
        int r;

        if (isempty(svc->api_version))
                return -EINVAL;
        if (params && (json_object_get(params, "Action") || json_object_get(params, "Version")))
                return -EINVAL;

        r = sm_buf_puts(&body, "Action=");
        if (r >= 0)
                r = sm_buf_put_uri_encoded(&body, operation, strlen(operation), false);
        if (r >= 0)
                r = sm_buf_puts(&body, "&Version=");
        if (r >= 0)
                r = sm_buf_put_uri_encoded(&body, svc->api_version, strlen(svc->api_version),
                                           false);
        if (r >= 0 && params)
                r = query_flatten(&body, &name, params, 0);
        sm_buf_done(&name);
        if (r < 0)
                goto fail;

        *ret = (sm_encoded_request){
                .body = body,
                .content_type = QUERY_CONTENT_TYPE,
        };
        return 0;
fail:
        sm_buf_done(&body);
        return r;
}

static int encode_json(const sm_aws_service *svc, const char *operation, const json_t *params,
                       sm_encoded_request *ret)
{
        _cleanup_free_ char *text = NULL, *target = NULL;
        sm_buf body = {0};

        if (isempty(svc->target_prefix))
                return -EINVAL;
        if (asprintf(&target, "%s.%s", svc->target_prefix, operation) < 0) {
                target = NULL;
                return -ENOMEM;
        }
        if (params) {
                text = json_dumps(params, JSON_COMPACT);
                if (!text)
                        return -ENOMEM;
        }
        if (sm_buf_puts(&body, text ? text : "{}") < 0)
                return -ENOMEM;

        *ret = (sm_encoded_request){
                .body = body,
                .content_type = JSON_CONTENT_TYPE,
                .target = TAKE_PTR(target),
        };
        return 0;
}

int sm_protocol_encode(const sm_aws_service *svc, const char *operation, const json_t *params,
                       sm_encoded_request *ret)
{
        if (!svc || isempty(operation) || !ret)
                return -EINVAL;
        if (params && !json_is_object(params))
                return -EINVAL;

        switch (svc->protocol) {
        case SM_AWS_PROTOCOL_JSON_1_1:
                return encode_json(svc, operation, params, ret);
        case SM_AWS_PROTOCOL_QUERY:
                return encode_query(svc, operation, params, ret);
        }
        return -EINVAL;
}

/* ---- decoding: shared pieces ------------------------------------------- */

static bool is_2xx(long status)
{
        return status >= 200 && status <= 299;
}

/* Our own lookup: the decoders take any sm_http_response, including the
 * fuzzers' hand-made ones, and need nothing else from the HTTP engine. */
static const char *find_header(const sm_http_response *resp, const char *name)
{
        for (size_t i = 0; i < resp->n_headers; i++)
                if (resp->headers[i].name && strcasecmp(resp->headers[i].name, name) == 0)
                        return resp->headers[i].value;
        return NULL;
}

static bool is_blank(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!strchr(" \t\r\n", s[i]) || s[i] == '\0')
                        return false;
        return true;
}

/* A copy of s[0..n) of at most max bytes, cut on a UTF-8 character
 * boundary and at the first NUL. */
static char *bounded_dup(const char *s, size_t n, size_t max)
{
        const char *nul = memchr(s, '\0', n);

        if (nul)
                n = (size_t)(nul - s);
        if (n > max) {
                n = max;
                while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
                        n--;
        }
        return strndup(s, n);
}

/* The error type per Smithy: text before the first ':' (the header may
 * carry ":http://internal.amazon.com/coral/..."), after the first '#' (a
 * namespace such as "com.amazonaws.sagemaker#"), trimmed. NULL if that
 * leaves nothing, or something with a NUL in it. */
static char *normalize_code(const char *s, size_t n)
{
        const char *p;

        p = memchr(s, ':', n);
        if (p)
                n = (size_t)(p - s);
        p = memchr(s, '#', n);
        if (p) {
                n -= (size_t)(p + 1 - s);
                s = p + 1;
        }
        while (n > 0 && strchr(" \t\r\n", *s) && *s) {
                s++;
                n--;
        }
        while (n > 0 && strchr(" \t\r\n", s[n - 1]) && s[n - 1])
                n--;
        if (n == 0 || memchr(s, '\0', n))
                return NULL;
        return bounded_dup(s, n, MAX_CODE_LEN);
}

static int set_error(sm_aws_error *err, long status, const char *code, const char *message,
                     const char *request_id, int ret)
{
        int r = sm_aws_error_set(err, status, code, message, request_id);

        return r < 0 ? r : ret;
}

/* The answer of a 2xx that we cannot read. */
static int set_malformed(sm_aws_error *err, long status, const char *what, const char *request_id)
{
        return set_error(err, status, "MalformedResponse", what, request_id, -EPROTO);
}

/* A non-2xx answer without an AWS error in it (a proxy's HTML page, an
 * empty 503): the status alone classifies it. A short, printable excerpt
 * helps whoever reads the log find out who answered. */
static int set_http_error(sm_aws_error *err, const sm_http_response *resp, const char *request_id)
{
        char code[32], excerpt[EXCERPT_LEN + 1];
        _cleanup_free_ char *message = NULL;
        size_t n = 0;
        bool space = false;
        int r;

        for (size_t i = 0; i < resp->body_len && n < EXCERPT_LEN; i++) {
                unsigned char c = (unsigned char)resp->body[i];

                if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                        space = n > 0;
                        continue;
                }
                if (space && n < EXCERPT_LEN - 1)
                        excerpt[n++] = ' ';
                space = false;
                excerpt[n++] = c >= 0x20 && c < 0x7F ? (char)c : '?';
        }
        excerpt[n] = '\0';

        snprintf(code, sizeof(code), "HttpError%ld", resp->status);
        if (n > 0)
                r = asprintf(&message, "HTTP %ld answer without an AWS error: %s", resp->status,
                             excerpt);
        else
                r = asprintf(&message, "HTTP %ld answer with an empty body", resp->status);
        if (r < 0) {
                message = NULL;
                return -ENOMEM;
        }
        return set_error(err, resp->status, code, message, request_id, -EBADMSG);
}

static int set_no_answer(const sm_http_response *resp, sm_aws_error *err)
{
        int t = resp->error < 0 ? resp->error : -EIO;
        const char *code;
        int r;

        switch (t) {
        case -ETIMEDOUT:
                code = "Timeout";
                break;
        case -ECANCELED:
                code = "Cancelled";
                break;
        case -EMSGSIZE:
                code = "ResponseTooLarge";
                break;
        case -EPROTO:
                code = "TLSError";
                break;
        default:
                code = "ConnectionError";
                break;
        }
        r = sm_aws_error_set_transport(err, t, code,
                                       resp->error_text ? resp->error_text : strerror(-t));
        return r < 0 ? r : t;
}

/* Checks every decoder starts with. Returns 1 to go on, else the result. */
static int decode_precheck(const sm_http_response *resp, sm_aws_error *err, const char *request_id)
{
        if (resp->error < 0 || resp->status <= 0)
                return set_no_answer(resp, err);
        if (resp->body_len > SM_PROTOCOL_MAX_BODY)
                return set_error(err, resp->status, "ResponseTooLarge",
                                 "answer larger than the protocol limit", request_id,
                                 is_2xx(resp->status) ? -EPROTO : -EBADMSG);
        if (resp->body_len > 0 && !resp->body)
                return -EINVAL;
        return 1;
}

/* ---- AWS JSON 1.1 ------------------------------------------------------ */

static char *json_member_dup(const json_t *o, const char *key, bool as_code)
{
        const json_t *v = json_object_get(o, key);

        if (!json_is_string(v))
                return NULL;
        if (as_code)
                return normalize_code(json_string_value(v), json_string_length(v));
        return bounded_dup(json_string_value(v), json_string_length(v), MAX_MESSAGE_LEN);
}

int sm_json_proto_decode(const sm_http_response *resp, json_t **ret_output, sm_aws_error *err)
{
        const char *request_id, *type;
        _cleanup_free_ char *code = NULL, *message = NULL;
        json_error_t jerr;
        json_t *v = NULL;
        int r;

        if (!resp || !ret_output || !err)
                return -EINVAL;
        request_id = find_header(resp, "x-amzn-requestid");
        r = decode_precheck(resp, err, request_id);
        if (r <= 0)
                return r;

        if (is_2xx(resp->status)) {
                if (is_blank(resp->body, resp->body_len)) {
                        v = json_object();
                        if (!v)
                                return -ENOMEM;
                        *ret_output = v;
                        return 0;
                }
                v = json_loadb(resp->body, resp->body_len, 0, &jerr);
                if (!json_is_object(v)) {
                        char what[96];

                        /* Position only: jansson's text quotes the body. */
                        if (v)
                                snprintf(what, sizeof(what), "JSON answer is not an object");
                        else
                                snprintf(what, sizeof(what), "invalid JSON at line %d column %d",
                                         jerr.line, jerr.column);
                        json_decref(v);
                        return set_malformed(err, resp->status, what, request_id);
                }
                *ret_output = v;
                return 0;
        }

        if (!is_blank(resp->body, resp->body_len))
                v = json_loadb(resp->body, resp->body_len, 0, &jerr);
        type = find_header(resp, "x-amzn-errortype");
        if (type)
                code = normalize_code(type, strlen(type));
        if (json_is_object(v)) {
                if (!code)
                        code = json_member_dup(v, "code", true);
                if (!code)
                        code = json_member_dup(v, "__type", true);
                message = json_member_dup(v, "message", false);
                if (!message)
                        message = json_member_dup(v, "Message", false);
        }
        json_decref(v);
        if (!code)
                return set_http_error(err, resp, request_id);
        return set_error(err, resp->status, code, message, request_id, -EBADMSG);
}

/* ---- AWS Query, XML answers -------------------------------------------- */

/* Element names compare by local name: AWS answers put everything in a
 * default namespace (https://iam.amazonaws.com/doc/2010-05-08/) that we do
 * not care about, and libxml2 keeps the prefix apart from node->name. */
static bool xml_is(const xmlNode *n, const char *name)
{
        return n && n->type == XML_ELEMENT_NODE && streq((const char *)n->name, name);
}

static xmlNode *xml_child(const xmlNode *parent, const char *name)
{
        for (xmlNode *c = parent ? parent->children : NULL; c; c = c->next)
                if (xml_is(c, name))
                        return c;
        return NULL;
}

/* The node's own text and CDATA. Entity references are skipped on purpose:
 * we never expand entities, predefined ones (&amp;) and character
 * references are already text by the time the parser hands us the tree. */
static int xml_text(const xmlNode *n, sm_buf *out)
{
        for (const xmlNode *c = n->children; c; c = c->next) {
                if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content) {
                        int r = sm_buf_puts(out, (const char *)c->content);

                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* A node's text as a new string; NULL for no node (or no memory). */
static char *xml_node_text(const xmlNode *n)
{
        sm_buf b = {0};

        if (!n || xml_text(n, &b) < 0) {
                sm_buf_done(&b);
                return NULL;
        }
        return sm_buf_steal(&b);
}

static char *xml_child_text(const xmlNode *parent, const char *name)
{
        return xml_node_text(xml_child(parent, name));
}

static int xml_to_json(const xmlNode *n, unsigned depth, json_t **ret);

static int xml_leaf(const xmlNode *n, json_t **ret)
{
        sm_buf text = {0};
        json_t *v;
        int r;

        r = xml_text(n, &text);
        if (r < 0)
                goto done;
        /* Whitespace alone is indentation around an empty element. */
        if (is_blank(text.data ? text.data : "", text.len))
                v = json_string("");
        else
                v = json_stringn(text.data, text.len);
        /* json_stringn refuses invalid UTF-8; libxml2 only hands out valid
         * UTF-8, so a refusal here is an allocation failure. */
        r = v ? 0 : -ENOMEM;
        if (v)
                *ret = v;
done:
        sm_buf_done(&text);
        return r;
}

static int xml_list(const xmlNode *n, unsigned depth, json_t **ret)
{
        json_t *a = json_array(), *v;
        int r;

        if (!a)
                return -ENOMEM;
        for (const xmlNode *c = n->children; c; c = c->next) {
                if (c->type != XML_ELEMENT_NODE)
                        continue;
                r = xml_to_json(c, depth + 1, &v);
                if (r < 0)
                        goto fail;
                if (json_array_append_new(a, v) < 0) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        *ret = a;
        return 0;
fail:
        json_decref(a);
        return r;
}

/* A structure. A name seen twice (a flattened list) collects its values
 * into an array; `repeated` remembers which arrays are ours, so a member
 * that is itself a list is not mistaken for one. */
static int xml_struct(const xmlNode *n, unsigned depth, json_t **ret)
{
        json_t *o = json_object(), *repeated = json_object(), *v, *prev;
        int r = -ENOMEM;

        if (!o || !repeated)
                goto fail;
        for (const xmlNode *c = n->children; c; c = c->next) {
                const char *name = (const char *)c->name;

                if (c->type != XML_ELEMENT_NODE)
                        continue;
                r = xml_to_json(c, depth + 1, &v);
                if (r < 0)
                        goto fail;
                prev = json_object_get(o, name);
                if (!prev) {
                        r = json_object_set_new(o, name, v) < 0 ? -ENOMEM : 0;
                } else if (json_object_get(repeated, name)) {
                        r = json_array_append_new(prev, v) < 0 ? -ENOMEM : 0;
                } else {
                        json_t *a = json_pack("[OO]", prev, v);

                        json_decref(v);
                        r = -ENOMEM;
                        if (a && json_object_set_new(o, name, a) == 0 &&
                            json_object_set_new(repeated, name, json_true()) == 0)
                                r = 0;
                }
                if (r < 0)
                        goto fail;
        }
        json_decref(repeated);
        *ret = o;
        return 0;
fail:
        json_decref(repeated);
        json_decref(o);
        return r;
}

/* <X>text</X> -> "text"; <X><member/>...</X> -> [...]; otherwise an
 * object of the children. Returns -EINVAL when nested too deep. */
static int xml_to_json(const xmlNode *n, unsigned depth, json_t **ret)
{
        size_t elements = 0, members = 0;

        if (depth > MAX_NESTING)
                return -EINVAL;
        for (const xmlNode *c = n->children; c; c = c->next) {
                if (c->type != XML_ELEMENT_NODE)
                        continue;
                elements++;
                if (streq((const char *)c->name, "member"))
                        members++;
        }
        if (elements == 0)
                return xml_leaf(n, ret);
        if (members == elements)
                return xml_list(n, depth, ret);
        return xml_struct(n, depth, ret);
}

/* <ErrorResponse><Error>...</Error><RequestId/></ErrorResponse> (IAM, STS)
 * or the older <Response><Errors><Error>...</Error></Errors><RequestID/>. */
static bool xml_is_error_doc(const xmlNode *root)
{
        return xml_is(root, "ErrorResponse") ||
               (xml_is(root, "Response") && xml_child(root, "Errors"));
}

static int query_decode_error(const sm_http_response *resp, const xmlNode *root,
                              const char *header_rid, sm_aws_error *err)
{
        _cleanup_free_ char *raw_code = NULL, *raw_message = NULL, *rid = NULL, *code = NULL,
                            *message = NULL;
        const xmlNode *error;

        if (xml_is(root, "ErrorResponse")) {
                error = xml_child(root, "Error");
                rid = xml_child_text(root, "RequestId");
        } else {
                error = xml_child(xml_child(root, "Errors"), "Error");
                rid = xml_child_text(root, "RequestID");
                if (!rid)
                        rid = xml_child_text(root, "RequestId");
        }
        if (error) {
                raw_code = xml_child_text(error, "Code");
                raw_message = xml_child_text(error, "Message");
        }
        if (raw_code)
                code = normalize_code(raw_code, strlen(raw_code));
        if (raw_message)
                message = bounded_dup(raw_message, strlen(raw_message), MAX_MESSAGE_LEN);
        if (!code) {
                if (is_2xx(resp->status))
                        return set_malformed(err, resp->status, "error answer without a code",
                                             !isempty(rid) ? rid : header_rid);
                return set_http_error(err, resp, !isempty(rid) ? rid : header_rid);
        }
        return set_error(err, resp->status, code, message, !isempty(rid) ? rid : header_rid,
                         -EBADMSG);
}

/* The <OperationResult> element: by name when we know the operation, else
 * the first child whose name ends in "Result". */
static const xmlNode *query_result_node(const xmlNode *root, const char *operation)
{
        if (!isempty(operation)) {
                _cleanup_free_ char *name = NULL;

                if (asprintf(&name, "%sResult", operation) < 0)
                        return NULL;
                for (xmlNode *c = root->children; c; c = c->next)
                        if (xml_is(c, name))
                                return c;
        }
        for (xmlNode *c = root->children; c; c = c->next) {
                size_t len;

                if (c->type != XML_ELEMENT_NODE)
                        continue;
                len = strlen((const char *)c->name);
                if (len >= 6 && streq((const char *)c->name + len - 6, "Result"))
                        return c;
        }
        return NULL;
}

static int query_decode_success(const sm_http_response *resp, const xmlNode *root,
                                const char *operation, const char *header_rid, json_t **ret_output,
                                sm_aws_error *err)
{
        _cleanup_free_ char *rid = NULL;
        const xmlNode *result;
        json_t *out = NULL, *meta;
        int r;

        result = query_result_node(root, operation);
        if (result) {
                r = xml_to_json(result, 0, &out);
                if (r == -EINVAL)
                        return set_malformed(err, resp->status, "XML answer nested too deeply",
                                             header_rid);
                if (r < 0)
                        return r;
                if (json_is_array(out)) {
                        json_decref(out);
                        return set_malformed(err, resp->status, "XML result is a bare list",
                                             header_rid);
                }
        }
        /* Operations without output (DeleteRole) answer with an empty or
         * absent result: that is {}. */
        if (!json_is_object(out)) {
                json_decref(out);
                out = json_object();
                if (!out)
                        return -ENOMEM;
        }

        rid = xml_child_text(xml_child(root, "ResponseMetadata"), "RequestId");
        if (isempty(rid)) {
                free(rid);
                rid = header_rid ? strdup(header_rid) : NULL;
        }
        if (!isempty(rid)) {
                meta = json_pack("{ss}", "RequestId", rid);
                if (!meta || json_object_set_new(out, "ResponseMetadata", meta) < 0) {
                        json_decref(out);
                        return -ENOMEM;
                }
        }
        *ret_output = out;
        return 0;
}

static void xml_error_ignore(void *ctx, const char *fmt, ...)
{
}

/* libxml2 2.12 made the error const. */
#if LIBXML_VERSION >= 21200
static void xml_structured_error_ignore(void *ctx, const xmlError *error)
#else
static void xml_structured_error_ignore(void *ctx, xmlErrorPtr error)
#endif
{
}

/* No XML_PARSE_NOENT (no entity substitution), no XML_PARSE_DTDLOAD, no
 * network. AWS answers are UTF-8: saying so up front keeps iconv and its
 * encodings out of reach of the bytes we are sent. NOERROR/NOWARNING do not
 * cover every libxml2 report (encoding errors go to its generic handler,
 * i.e. stderr), so the handlers are muted around the parse and restored: a
 * library does not print, the caller logs what we return. */
static xmlDoc *parse_xml(const char *body, size_t len, int *ret_error_line)
{
        xmlGenericErrorFunc old_generic = xmlGenericError;
        void *old_generic_ctx = xmlGenericErrorContext;
        xmlStructuredErrorFunc old_structured = xmlStructuredError;
        void *old_structured_ctx = xmlStructuredErrorContext;
        const xmlError *xe;
        xmlDoc *doc;

        xmlSetGenericErrorFunc(NULL, xml_error_ignore);
        xmlSetStructuredErrorFunc(NULL, xml_structured_error_ignore);
        xmlResetLastError();
        doc = xmlReadMemory(body, (int)len, NULL, "UTF-8",
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        xe = xmlGetLastError();
        *ret_error_line = xe ? xe->line : 0;
        xmlSetGenericErrorFunc(old_generic_ctx, old_generic);
        xmlSetStructuredErrorFunc(old_structured_ctx, old_structured);
        return doc;
}

int sm_query_proto_decode(const char *operation, const sm_http_response *resp, json_t **ret_output,
                          sm_aws_error *err)
{
        const char *request_id;
        xmlDoc *doc = NULL;
        xmlNode *root;
        int r, error_line = 0;

        if (!resp || !ret_output || !err)
                return -EINVAL;
        request_id = find_header(resp, "x-amzn-requestid");
        r = decode_precheck(resp, err, request_id);
        if (r <= 0)
                return r;

        if (is_blank(resp->body, resp->body_len)) {
                if (is_2xx(resp->status))
                        return set_malformed(err, resp->status, "empty XML answer", request_id);
                return set_http_error(err, resp, request_id);
        }
        /* AWS never sends a DTD; refusing any keeps entity declarations (and
         * their expansion tricks) away from the parser altogether. Outside
         * markup a '<' must be escaped, so this cannot hit a value. */
        if (memmem(resp->body, resp->body_len, "<!DOCTYPE", 9)) {
                if (is_2xx(resp->status))
                        return set_malformed(err, resp->status, "XML answer with a DTD",
                                             request_id);
                return set_http_error(err, resp, request_id);
        }

        doc = parse_xml(resp->body, resp->body_len, &error_line);
        root = doc ? xmlDocGetRootElement(doc) : NULL;
        if (!root) {
                if (is_2xx(resp->status)) {
                        char what[64];

                        snprintf(what, sizeof(what), "invalid XML at line %d", error_line);
                        r = set_malformed(err, resp->status, what, request_id);
                } else {
                        r = set_http_error(err, resp, request_id);
                }
                goto done;
        }

        if (xml_is_error_doc(root))
                r = query_decode_error(resp, root, request_id, err);
        else if (!is_2xx(resp->status))
                r = set_http_error(err, resp, request_id);
        else
                r = query_decode_success(resp, root, operation, request_id, ret_output, err);
done:
        xmlFreeDoc(doc);
        return r;
}

/* ---- dispatch ---------------------------------------------------------- */

int sm_protocol_decode(const sm_aws_service *svc, const char *operation,
                       const sm_http_response *resp, json_t **ret_output, sm_aws_error *err)
{
        if (!svc)
                return -EINVAL;
        switch (svc->protocol) {
        case SM_AWS_PROTOCOL_JSON_1_1:
                return sm_json_proto_decode(resp, ret_output, err);
        case SM_AWS_PROTOCOL_QUERY:
                return sm_query_proto_decode(operation, resp, ret_output, err);
        }
        return -EINVAL;
}

json_t *sm_query_list(json_t *v)
{
        json_t *a;

        if (json_is_array(v))
                return json_incref(v);
        a = json_array();
        if (!a)
                return NULL;
        if (!v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
                return a;
        if (json_array_append(a, v) < 0) {
                json_decref(a);
                return NULL;
        }
        return a;
}
