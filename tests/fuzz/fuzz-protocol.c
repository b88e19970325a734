/* SPDX-License-Identifier: Apache-2.0 */
/* Both answer decoders (AWS JSON 1.1 and Query/XML) on hostile bytes, and
 * whatever they accept back through the encoders and the retry policy.
 *
 * Input: one control byte, then the body.
 *   bit 0     protocol: 0 JSON 1.1, 1 Query
 *   bits 1-3  HTTP status: 200 400 403 404 409 429 500 503
 *   bit 4     send an x-amzn-requestid header
 *   bit 5     the body starts with an X-Amzn-ErrorType value ended by '\n'
 *   bits 6-7  Query operation: GetRole ListRoles AssumeRole (none)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "smstudio/protocol.h"
#include "smstudio/retry.h"

static const sm_aws_service svc_json = {
        .id = SM_SERVICE_SAGEMAKER,
        .name = "sagemaker",
        .protocol = SM_AWS_PROTOCOL_JSON_1_1,
        .api_version = "2017-07-24",
        .target_prefix = "SageMaker",
};

static const sm_aws_service svc_query = {
        .id = SM_SERVICE_IAM,
        .name = "iam",
        .protocol = SM_AWS_PROTOCOL_QUERY,
        .api_version = "2010-05-08",
};

static const long statuses[] = {200, 400, 403, 404, 409, 429, 500, 503};
static const char *const operations[] = {"GetRole", "ListRoles", "AssumeRole", NULL};

#define MAX_HEADER 256

/* The decoders' promises; a broken one is a crash worth a report. */
static void check(int ok)
{
        if (!ok)
                abort();
}

static void exercise_output(json_t *out)
{
        sm_encoded_request req = {0};

        check(json_is_object(out));
        /* Encoding what we decoded must never crash; refusing is fine. */
        if (sm_protocol_encode(&svc_json, "Echo", out, &req) == 0)
                sm_encoded_request_done(&req);
        if (sm_protocol_encode(&svc_query, "Echo", out, &req) == 0)
                sm_encoded_request_done(&req);
        for (void *it = json_object_iter(out); it; it = json_object_iter_next(out, it)) {
                json_t *list = sm_query_list(json_object_iter_value(it));

                check(list && json_is_array(list));
                json_decref(list);
        }
}

static void exercise_error(const sm_aws_error *err)
{
        sm_retry_config cfg;
        sm_retry_quota q;
        sm_aws_error copy = {0};

        check(err->code && *err->code);
        check(err->klass >= SM_AWS_ERROR_THROTTLE && err->klass <= SM_AWS_ERROR_TERMINAL);
        (void)sm_aws_error_class_to_string(err->klass);
        (void)sm_aws_error_is_clock_skew(err);
        (void)sm_aws_error_is_expired_credentials(err);
        if (sm_aws_error_copy(&copy, err) == 0) {
                check(strcmp(copy.code, err->code) == 0);
                sm_aws_error_clear(&copy);
        }
        sm_retry_config_init(&cfg);
        sm_retry_quota_init(&q);
        (void)sm_retry_decide(&cfg, &q, err, 1, 0.5, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char errortype[MAX_HEADER + 1];
        sm_header headers[2];
        sm_http_response resp = {0};
        sm_aws_error err = {0};
        json_t *out = NULL;
        size_t nh = 0;
        uint8_t ctl;
        int r;

        if (size < 1)
                return 0;
        ctl = data[0];
        data++;
        size--;

        if (ctl & 0x10)
                headers[nh++] = (sm_header){(char *)"x-amzn-requestid", (char *)"fuzz-rid"};
        if (ctl & 0x20) {
                const uint8_t *nl = memchr(data, '\n', size < MAX_HEADER ? size : MAX_HEADER);
                size_t n = nl ? (size_t)(nl - data) : 0;

                memcpy(errortype, data, n);
                errortype[n] = '\0';
                if (nl) {
                        data += n + 1;
                        size -= n + 1;
                }
                headers[nh++] = (sm_header){(char *)"X-Amzn-ErrorType", errortype};
        }
        resp.status = statuses[(ctl >> 1) & 7];
        resp.headers = headers;
        resp.n_headers = nh;
        resp.body = (const char *)data;
        resp.body_len = size;

        r = sm_protocol_decode((ctl & 1) ? &svc_query : &svc_json, operations[ctl >> 6], &resp,
                               &out, &err);
        if (r == 0) {
                check(out != NULL);
                check(resp.status >= 200 && resp.status < 300);
                check(err.code == NULL);
                exercise_output(out);
                json_decref(out);
        } else {
                check(out == NULL);
                check(r == -EBADMSG || r == -EPROTO || r == -ENOMEM);
                if (r != -ENOMEM)
                        exercise_error(&err);
                /* -EPROTO only for an unreadable 2xx. */
                check(r != -EPROTO || (resp.status >= 200 && resp.status < 300));
        }
        sm_aws_error_clear(&err);
        return 0;
}
