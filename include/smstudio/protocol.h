/* SPDX-License-Identifier: Apache-2.0 */
/* The two AWS wire protocols smstudio speaks, as encoders of a JSON
 * parameter object and decoders of an HTTP answer:
 *  - AWS JSON 1.1 (SageMaker, Service Catalog): POST /, X-Amz-Target.
 *  - AWS Query with XML answers (IAM, STS): form POST, Action and Version.
 * Both decoders produce the same shape: a JSON object on success, a typed
 * sm_aws_error on failure. */
#pragma once

#include <jansson.h>

#include "smstudio/awserr.h"
#include "smstudio/endpoint.h"
#include "smstudio/http.h"
#include "smstudio/strbuf.h"

/* Largest answer a decoder accepts (the HTTP engine enforces it first). */
#define SM_PROTOCOL_MAX_BODY (16u * 1024u * 1024u)

typedef struct sm_encoded_request {
        sm_buf body;
        const char *content_type; /* static */
        char *target;             /* X-Amz-Target value, NULL for Query */
} sm_encoded_request;

void sm_encoded_request_done(sm_encoded_request *r);

/* Encode params (an object; NULL means {}) for svc's protocol. Query encoding
 * flattens objects as A.B, lists as A.member.N (1-based), booleans as
 * true/false, and adds Action and Version. Returns 0, -EINVAL (params not
 * representable), -ENOMEM. */
int sm_protocol_encode(const sm_aws_service *svc, const char *operation, const json_t *params,
                       sm_encoded_request *ret);

/* Decode an answer. On 2xx: 0 and *ret_output (new reference; {} for an
 * empty JSON body; for Query the children of <OperationResult>, with elements
 * whose children are all <member> turned into arrays, empty elements into "",
 * and the request id under "ResponseMetadata"."RequestId"). On an AWS error or
 * an undecodable answer: -EBADMSG (error answer) or -EPROTO (malformed) and
 * *err filled (code, message, status, request id, class). */
int sm_protocol_decode(const sm_aws_service *svc, const char *operation,
                       const sm_http_response *resp, json_t **ret_output, sm_aws_error *err);

/* JSON 1.1 pieces, exposed for the fuzzers and tests. */
int sm_json_proto_decode(const sm_http_response *resp, json_t **ret_output, sm_aws_error *err);
/* Query/XML pieces, exposed for the fuzzers and tests. */
int sm_query_proto_decode(const char *operation, const sm_http_response *resp, json_t **ret_output,
                          sm_aws_error *err);

/* A Query list member as an array: arrays pass (new ref), "" (empty list)
 * and NULL give [], anything else a one-element array. */
json_t *sm_query_list(json_t *v);
