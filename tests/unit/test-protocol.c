/* SPDX-License-Identifier: Apache-2.0 */
/* Answers below are shaped like AWS's own (IAM/STS Query XML with their
 * namespaces, SageMaker JSON 1.1 errors with and without X-Amzn-ErrorType);
 * names, ids and keys are made up. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "smstudio/protocol.h"
#include "testmain.h"

static const sm_aws_service svc_sagemaker = {
        .id = SM_SERVICE_SAGEMAKER,
        .name = "sagemaker",
        .protocol = SM_AWS_PROTOCOL_JSON_1_1,
        .api_version = "2017-07-24",
        .target_prefix = "SageMaker",
};

static const sm_aws_service svc_servicecatalog = {
        .id = SM_SERVICE_SERVICECATALOG,
        .name = "servicecatalog",
        .protocol = SM_AWS_PROTOCOL_JSON_1_1,
        .api_version = "2015-12-10",
        .target_prefix = "AWS242ServiceCatalogService",
};

static const sm_aws_service svc_iam = {
        .id = SM_SERVICE_IAM,
        .name = "iam",
        .protocol = SM_AWS_PROTOCOL_QUERY,
        .api_version = "2010-05-08",
        .global = true,
};

static const sm_aws_service svc_sts = {
        .id = SM_SERVICE_STS,
        .name = "sts",
        .protocol = SM_AWS_PROTOCOL_QUERY,
        .api_version = "2011-06-15",
};

static sm_http_response resp_of(long status, const char *body, const sm_header *h, size_t nh)
{
        return (sm_http_response){
                .status = status,
                .headers = h,
                .n_headers = nh,
                .body = body,
                .body_len = body ? strlen(body) : 0,
        };
}

/* The string at a dotted path of object members ("Role.Path"). */
static const char *str_at(json_t *root, const char *path)
{
        char *copy = strdup(path), *save = NULL;
        json_t *v = root;

        for (char *k = strtok_r(copy, ".", &save); k; k = strtok_r(NULL, ".", &save))
                v = json_object_get(v, k);
        ck_assert_msg(json_is_string(v), "%s is not a string", path);
        free(copy);
        return json_string_value(v);
}

/* ---- encoding --------------------------------------------------------- */

static char *encode_str(const sm_aws_service *svc, const char *op, json_t *params, int *ret)
{
        sm_encoded_request req = {0};
        char *s = NULL;

        *ret = sm_protocol_encode(svc, op, params, &req);
        if (*ret == 0)
                s = strdup(req.body.data);
        sm_encoded_request_done(&req);
        json_decref(params);
        return s;
}

START_TEST(test_encode_json)
{
        sm_encoded_request req = {0};
        json_t *p;

        ck_assert_int_eq(sm_protocol_encode(&svc_sagemaker, "ListDomains", NULL, &req), 0);
        ck_assert_str_eq(req.body.data, "{}");
        ck_assert_uint_eq(req.body.len, 2);
        ck_assert_str_eq(req.target, "SageMaker.ListDomains");
        ck_assert_str_eq(req.content_type, "application/x-amz-json-1.1");
        sm_encoded_request_done(&req);
        sm_encoded_request_done(&req);

        p = json_pack("{ss si}", "DomainIdEquals", "d-abc123", "MaxResults", 100);
        ck_assert_int_eq(sm_protocol_encode(&svc_sagemaker, "ListUserProfiles", p, &req), 0);
        ck_assert_str_eq(req.body.data, "{\"DomainIdEquals\":\"d-abc123\",\"MaxResults\":100}");
        ck_assert_str_eq(req.target, "SageMaker.ListUserProfiles");
        sm_encoded_request_done(&req);
        json_decref(p);

        ck_assert_int_eq(
                sm_protocol_encode(&svc_servicecatalog, "ListAcceptedPortfolioShares", NULL, &req),
                0);
        ck_assert_str_eq(req.target, "AWS242ServiceCatalogService.ListAcceptedPortfolioShares");
        sm_encoded_request_done(&req);

        /* Parameters must be an object; the service must have a prefix. */
        p = json_array();
        ck_assert_int_eq(sm_protocol_encode(&svc_sagemaker, "ListDomains", p, &req), -EINVAL);
        json_decref(p);
        ck_assert_int_eq(sm_protocol_encode(&svc_sagemaker, "", NULL, &req), -EINVAL);
        ck_assert_int_eq(sm_protocol_encode(&svc_sagemaker, NULL, NULL, &req), -EINVAL);
        ck_assert_int_eq(sm_protocol_encode(NULL, "ListDomains", NULL, &req), -EINVAL);
        sm_aws_service broken = svc_sagemaker;
        broken.target_prefix = NULL;
        ck_assert_int_eq(sm_protocol_encode(&broken, "ListDomains", NULL, &req), -EINVAL);
}
END_TEST

START_TEST(test_encode_query_basic)
{
        sm_encoded_request req = {0};
        char *s;
        int r;

        ck_assert_int_eq(sm_protocol_encode(&svc_sts, "GetCallerIdentity", NULL, &req), 0);
        ck_assert_str_eq(req.body.data, "Action=GetCallerIdentity&Version=2011-06-15");
        ck_assert_ptr_null(req.target);
        ck_assert_str_eq(req.content_type, "application/x-www-form-urlencoded; charset=utf-8");
        sm_encoded_request_done(&req);

        s = encode_str(&svc_iam, "AttachRolePolicy",
                       json_pack("{ss ss}", "RoleName", "smstudio-exec", "PolicyArn",
                                 "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"),
                       &r);
        ck_assert_int_eq(r, 0);
        ck_assert_str_eq(s, "Action=AttachRolePolicy&Version=2010-05-08&RoleName=smstudio-exec"
                            "&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2F"
                            "AmazonSageMakerFullAccess");
        free(s);
}
END_TEST

START_TEST(test_encode_query_nested)
{
        char *s;
        int r;

        /* CreateRole with a policy document (every reserved character) and
         * a list of tag structures. */
        s = encode_str(&svc_iam, "CreateRole",
                       json_pack("{ss ss ss si s[{ss ss} {ss ss}]}", "RoleName", "smstudio-exec",
                                 "Path", "/service-role/", "AssumeRolePolicyDocument",
                                 "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": "
                                 "\"Allow\", \"Action\": \"sts:AssumeRole\"}]}",
                                 "MaxSessionDuration", 3600, "Tags", "Key", "smstudio:managed-by",
                                 "Value", "prod estate", "Key", "team", "Value", "ml+ops~ü"),
                       &r);
        ck_assert_int_eq(r, 0);
        ck_assert_str_eq(s, "Action=CreateRole&Version=2010-05-08&RoleName=smstudio-exec"
                            "&Path=%2Fservice-role%2F"
                            "&AssumeRolePolicyDocument=%7B%22Version%22%3A%20%222012-10-17%22%2C"
                            "%20%22Statement%22%3A%20%5B%7B%22Effect%22%3A%20%22Allow%22%2C%20"
                            "%22Action%22%3A%20%22sts%3AAssumeRole%22%7D%5D%7D"
                            "&MaxSessionDuration=3600"
                            "&Tags.member.1.Key=smstudio%3Amanaged-by"
                            "&Tags.member.1.Value=prod%20estate"
                            "&Tags.member.2.Key=team&Tags.member.2.Value=ml%2Bops~%C3%BC");
        free(s);

        /* AssumeRole with PolicyArns (a list of structures), booleans,
         * reals, nested structures, lists of lists, null members left out
         * and an explicitly empty list. */
        s = encode_str(&svc_sts, "AssumeRole",
                       json_pack("{ss ss s[{ss}{ss}] sb sb sf sf s{s{ss}} s[[ss][]] sn s[]}",
                                 "RoleArn", "arn:aws:iam::123456789012:role/demo",
                                 "RoleSessionName", "smstudio", "PolicyArns", "arn",
                                 "arn:aws:iam::aws:policy/ReadOnlyAccess", "arn", "arn:b", "T", 1,
                                 "F", 0, "R", 1.5, "S", 0.1, "A", "B", "C", "d", "L", "x", "y", "N",
                                 "E"),
                       &r);
        ck_assert_int_eq(r, 0);
        ck_assert_str_eq(s, "Action=AssumeRole&Version=2011-06-15"
                            "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo"
                            "&RoleSessionName=smstudio"
                            "&PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2F"
                            "ReadOnlyAccess&PolicyArns.member.2.arn=arn%3Ab"
                            "&T=true&F=false&R=1.5&S=0.1&A.B.C=d"
                            "&L.member.1.member.1=x&L.member.1.member.2=y&L.member.2="
                            "&E=");
        free(s);

        /* Control bytes, '=' and '&' in values cannot break the form. */
        s = encode_str(&svc_iam, "TagRole",
                       json_pack("{ss s[{ss ss}]}", "RoleName", "r", "Tags", "Key", "a=b&c",
                                 "Value", "line\nbreak*'()!"),
                       &r);
        ck_assert_int_eq(r, 0);
        ck_assert_str_eq(s, "Action=TagRole&Version=2010-05-08&RoleName=r"
                            "&Tags.member.1.Key=a%3Db%26c"
                            "&Tags.member.1.Value=line%0Abreak%2A%27%28%29%21");
        free(s);

        /* Integers keep their full range. */
        s = encode_str(
                &svc_iam, "X",
                json_pack("{sI sI}", "Big", (json_int_t)9007199254740993LL, "Neg", (json_int_t)-42),
                &r);
        ck_assert_int_eq(r, 0);
        ck_assert_str_eq(s, "Action=X&Version=2010-05-08&Big=9007199254740993&Neg=-42");
        free(s);
}
END_TEST

START_TEST(test_encode_query_invalid)
{
        sm_encoded_request req = {0};
        json_t *deep, *p;
        int r;

        /* Names that would make the flattened form ambiguous. */
        ck_assert_ptr_null(encode_str(&svc_iam, "X", json_pack("{ss}", "a.b", "v"), &r));
        ck_assert_int_eq(r, -EINVAL);
        ck_assert_ptr_null(encode_str(&svc_iam, "X", json_pack("{ss}", "", "v"), &r));
        ck_assert_int_eq(r, -EINVAL);
        ck_assert_ptr_null(encode_str(&svc_iam, "X", json_pack("{ss}", "a=b", "v"), &r));
        ck_assert_int_eq(r, -EINVAL);
        ck_assert_ptr_null(encode_str(&svc_iam, "X", json_pack("{s{ss}}", "A", "b&c", "v"), &r));
        ck_assert_int_eq(r, -EINVAL);
        /* Action and Version are ours. */
        ck_assert_ptr_null(encode_str(&svc_iam, "X", json_pack("{ss}", "Action", "Y"), &r));
        ck_assert_int_eq(r, -EINVAL);
        ck_assert_ptr_null(encode_str(&svc_iam, "X", json_pack("{ss}", "Version", "1"), &r));
        ck_assert_int_eq(r, -EINVAL);
        /* ... but fine deeper down. */
        free(encode_str(&svc_iam, "X", json_pack("{s{ss}}", "A", "Action", "v"), &r));
        ck_assert_int_eq(r, 0);

        /* Absurd nesting is refused rather than recursed into. */
        deep = json_string("leaf");
        for (int i = 0; i < 200; i++)
                deep = json_pack("{so}", "A", deep);
        ck_assert_ptr_null(encode_str(&svc_iam, "X", deep, &r));
        ck_assert_int_eq(r, -EINVAL);

        p = json_string("x");
        ck_assert_int_eq(sm_protocol_encode(&svc_iam, "X", p, &req), -EINVAL);
        json_decref(p);
        sm_aws_service broken = svc_iam;
        broken.api_version = NULL;
        ck_assert_int_eq(sm_protocol_encode(&broken, "X", NULL, &req), -EINVAL);
}
END_TEST

/* The shipped descriptors against the service models' metadata
 * (../shared/aws-models/<svc>/service-2.json: protocol, apiVersion,
 * targetPrefix), end to end through the encoder. */
START_TEST(test_encode_real_descriptors)
{
        static const struct {
                sm_service_id id;
                const char *op;
                const char *want_body;
                const char *want_target;
        } cases[] = {
                {SM_SERVICE_SAGEMAKER, "ListDomains", "{}", "SageMaker.ListDomains"},
                {SM_SERVICE_SERVICECATALOG, "ListPortfolios", "{}",
                 "AWS242ServiceCatalogService.ListPortfolios"},
                {SM_SERVICE_IAM, "ListRoles", "Action=ListRoles&Version=2010-05-08", NULL},
                {SM_SERVICE_STS, "GetCallerIdentity", "Action=GetCallerIdentity&Version=2011-06-15",
                 NULL},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                sm_encoded_request req = {0};

                ck_assert_int_eq(sm_protocol_encode(sm_aws_service_get(cases[i].id), cases[i].op,
                                                    NULL, &req),
                                 0);
                ck_assert_str_eq(req.body.data, cases[i].want_body);
                if (cases[i].want_target)
                        ck_assert_str_eq(req.target, cases[i].want_target);
                else
                        ck_assert_ptr_null(req.target);
                sm_encoded_request_done(&req);
        }
}
END_TEST

/* ---- JSON 1.1 --------------------------------------------------------- */

START_TEST(test_json_success)
{
        static const char body[] =
                "{\"DomainArn\":\"arn:aws:sagemaker:eu-west-1:123456789012:domain/d-abc123\","
                "\"DomainId\":\"d-abc123\",\"DomainName\":\"mlops-studio\","
                "\"Status\":\"InService\",\"CreationTime\":1.715e9,"
                "\"SubnetIds\":[\"subnet-1\",\"subnet-2\"],"
                "\"DefaultUserSettings\":{\"ExecutionRole\":"
                "\"arn:aws:iam::123456789012:role/smstudio-exec\"}}";
        sm_header h[] = {{(char *)"x-amzn-requestid", (char *)"7c0f7c3e-rid"}};
        sm_http_response resp = resp_of(200, body, h, 1);
        sm_aws_error err = {0};
        json_t *out = NULL;

        ck_assert_int_eq(sm_protocol_decode(&svc_sagemaker, "DescribeDomain", &resp, &out, &err),
                         0);
        ck_assert_ptr_nonnull(out);
        ck_assert_str_eq(str_at(out, "DomainId"), "d-abc123");
        ck_assert_str_eq(str_at(out, "DefaultUserSettings.ExecutionRole"),
                         "arn:aws:iam::123456789012:role/smstudio-exec");
        ck_assert_uint_eq(json_array_size(json_object_get(out, "SubnetIds")), 2);
        ck_assert_ptr_null(err.code);
        json_decref(out);

        /* Empty (or blank) bodies are {}. */
        for (int i = 0; i < 2; i++) {
                resp = resp_of(200, i ? " \r\n" : "", NULL, 0);
                out = NULL;
                ck_assert_int_eq(sm_json_proto_decode(&resp, &out, &err), 0);
                ck_assert(json_is_object(out));
                ck_assert_uint_eq(json_object_size(out), 0);
                json_decref(out);
        }
        resp = resp_of(200, NULL, NULL, 0);
        ck_assert_int_eq(sm_json_proto_decode(&resp, &out, &err), 0);
        json_decref(out);
}
END_TEST

static int decode_json(long status, const char *body, const char *errortype, json_t **out,
                       sm_aws_error *err)
{
        sm_header h[2] = {
                {(char *)"x-amzn-requestid", (char *)"rid-json-1"},
                {(char *)"X-Amzn-ErrorType", (char *)errortype},
        };
        sm_http_response resp = resp_of(status, body, h, errortype ? 2 : 1);

        return sm_json_proto_decode(&resp, out, err);
}

START_TEST(test_json_errors)
{
        sm_aws_error err = {0};
        json_t *out = NULL;

        /* The header names the type; the text after ':' is noise. */
        ck_assert_int_eq(decode_json(400,
                                     "{\"message\":\"1 validation error detected: Value "
                                     "'x' at 'domainName' failed to satisfy constraint\"}",
                                     "ValidationException:http://internal.amazon.com/coral/"
                                     "com.amazon.coral.validate/",
                                     &out, &err),
                         -EBADMSG);
        ck_assert_ptr_null(out);
        ck_assert_str_eq(err.code, "ValidationException");
        ck_assert_str_eq(err.message, "1 validation error detected: Value 'x' at 'domainName' "
                                      "failed to satisfy constraint");
        ck_assert_str_eq(err.request_id, "rid-json-1");
        ck_assert_int_eq(err.http_status, 400);
        ck_assert_int_eq(err.klass, SM_AWS_ERROR_TERMINAL);

        /* Without the header: __type, with its namespace cut off; the
         * capitalised Message some services use. */
        ck_assert_int_eq(decode_json(400,
                                     "{\"__type\":\"com.amazonaws.sagemaker#ResourceNotFound\","
                                     "\"Message\":\"Domain d-abc123 not found\"}",
                                     NULL, &out, &err),
                         -EBADMSG);
        ck_assert_str_eq(err.code, "ResourceNotFound");
        ck_assert_str_eq(err.message, "Domain d-abc123 not found");

        /* Throttling, the way SageMaker sends it. */
        ck_assert_int_eq(decode_json(400,
                                     "{\"__type\":\"ThrottlingException\",\"message\":\"Rate "
                                     "exceeded\"}",
                                     NULL, &out, &err),
                         -EBADMSG);
        ck_assert_str_eq(err.code, "ThrottlingException");
        ck_assert_int_eq(err.klass, SM_AWS_ERROR_THROTTLE);

        /* The header wins over the body. */
        ck_assert_int_eq(decode_json(409, "{\"__type\":\"Other\",\"message\":\"busy\"}",
                                     "ResourceInUse", &out, &err),
                         -EBADMSG);
        ck_assert_str_eq(err.code, "ResourceInUse");
        ck_assert_str_eq(err.message, "busy");

        /* A "code" member, both decorations at once. */
        ck_assert_int_eq(decode_json(400,
                                     "{\"code\":\"aws.protocoltests#FooError:http://x/\","
                                     "\"message\":\"m\"}",
                                     NULL, &out, &err),
                         -EBADMSG);
        ck_assert_str_eq(err.code, "FooError");

        /* Header only, empty body. */
        ck_assert_int_eq(decode_json(400, "", "AccessDeniedException", &out, &err), -EBADMSG);
        ck_assert_str_eq(err.code, "AccessDeniedException");
        ck_assert_ptr_null(err.message);

        /* 5xx with a type: transient by status. */
        ck_assert_int_eq(decode_json(500, "{\"__type\":\"InternalFailure\"}", NULL, &out, &err),
                         -EBADMSG);
        ck_assert_str_eq(err.code, "InternalFailure");
        ck_assert_int_eq(err.klass, SM_AWS_ERROR_TRANSIENT);

        /* Non-string members and empty types are ignored. */
        ck_assert_int_eq(decode_json(400, "{\"__type\":42,\"message\":[1]}", " : ", &out, &err),
                         -EBADMSG);
        ck_assert_str_eq(err.code, "HttpError400");
        sm_aws_error_clear(&err);
}
END_TEST

START_TEST(test_json_no_aws_error)
{
        sm_aws_error err = {0};
        json_t *out = NULL;

        ck_assert_int_eq(decode_json(503, "", NULL, &out, &err), -EBADMSG);
        ck_assert_str_eq(err.code, "HttpError503");
        ck_assert_int_eq(err.http_status, 503);
        ck_assert_int_eq(err.klass, SM_AWS_ERROR_TRANSIENT);
        ck_assert_str_eq(err.message, "HTTP 503 answer with an empty body");
        ck_assert_str_eq(err.request_id, "rid-json-1");

        ck_assert_int_eq(decode_json(429, NULL, NULL, &out, &err), -EBADMSG);
        ck_assert_str_eq(err.code, "HttpError429");
        ck_assert_int_eq(err.klass, SM_AWS_ERROR_THROTTLE);

        /* A load balancer's page: code by status, a short clean excerpt. */
        ck_assert_int_eq(decode_json(502,
                                     "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n"
                                     "<body>\x01\xff</body></html>",
                                     NULL, &out, &err),
                         -EBADMSG);
        ck_assert_str_eq(err.code, "HttpError502");
        ck_assert_int_eq(err.klass, SM_AWS_ERROR_TRANSIENT);
        ck_assert_str_eq(err.message, "HTTP 502 answer without an AWS error: <html> <head><title>"
                                      "502 Bad Gateway</title></head> <body>?"
                                      "?</body></html>");

        ck_assert_int_eq(decode_json(403, "{\"Message\":\"no type\"}", NULL, &out, &err), -EBADMSG);
        ck_assert_str_eq(err.code, "HttpError403");
        ck_assert_int_eq(err.klass, SM_AWS_ERROR_TERMINAL);

        /* Long bodies are cut in the message. */
        char big[4096];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        ck_assert_int_eq(decode_json(500, big, NULL, &out, &err), -EBADMSG);
        ck_assert_uint_lt(strlen(err.message), 250);
        sm_aws_error_clear(&err);
}
END_TEST

START_TEST(test_json_long_message)
{
        sm_aws_error err = {0};
        json_t *out = NULL;
        char *body, *msg;
        size_t n = 5000;

        /* 5000 bytes of two-byte characters: cut at 2048 bytes, on a
         * character boundary. */
        msg = malloc(n + 1);
        for (size_t i = 0; i < n; i += 2) {
                msg[i] = (char)0xC3;
                msg[i + 1] = (char)0xBC;
        }
        msg[n] = '\0';
        ck_assert_int_gt(
                asprintf(&body, "{\"__type\":\"ValidationException\",\"message\":\"x%s\"}", msg),
                0);
        ck_assert_int_eq(decode_json(400, body, NULL, &out, &err), -EBADMSG);
        ck_assert_uint_eq(strlen(err.message), 2047);
        ck_assert_int_eq((unsigned char)err.message[2046], 0xBC);
        free(body);
        free(msg);
        sm_aws_error_clear(&err);
}
END_TEST

START_TEST(test_json_malformed)
{
        static const char *const bad[] = {
                "garbage",           "{\"DomainId\":\"d-abc", "[1,2,3]",
                "\"just a string\"", "{\"a\":1} trailing",    "<html><body>OK</body></html>",
        };
        sm_aws_error err = {0};
        json_t *out = NULL;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                ck_assert_int_eq(decode_json(200, bad[i], NULL, &out, &err), -EPROTO);
                ck_assert_ptr_null(out);
                ck_assert_str_eq(err.code, "MalformedResponse");
                ck_assert_int_eq(err.http_status, 200);
                ck_assert_str_eq(err.request_id, "rid-json-1");
                ck_assert_int_eq(err.klass, SM_AWS_ERROR_TERMINAL);
        }

        /* A truncated answer with a secret in it: the message must not
         * quote the body. */
        ck_assert_int_eq(
                decode_json(200, "{\"SecretAccessKey\":\"wJalrXUtnSECRETxyz", NULL, &out, &err),
                -EPROTO);
        ck_assert_ptr_null(strstr(err.message, "SECRET"));
        ck_assert_ptr_null(strstr(err.message, "wJalr"));
        sm_aws_error_clear(&err);
}
END_TEST

START_TEST(test_no_answer)
{
        sm_aws_error err = {0};
        json_t *out = NULL;
        sm_http_response resp = {.status = 0, .error = -ETIMEDOUT, .error_text = "timed out"};

        ck_assert_int_eq(sm_json_proto_decode(&resp, &out, &err), -ETIMEDOUT);
        ck_assert_str_eq(err.code, "Timeout");
        ck_assert_str_eq(err.message, "timed out");
        ck_assert(err.timeout);
        ck_assert_int_eq(err.klass, SM_AWS_ERROR_TRANSIENT);

        resp = (sm_http_response){.error = -ECONNRESET};
        ck_assert_int_eq(sm_query_proto_decode("GetRole", &resp, &out, &err), -ECONNRESET);
        ck_assert_str_eq(err.code, "ConnectionError");
        ck_assert_int_eq(err.transport, -ECONNRESET);

        resp = (sm_http_response){.error = -ECANCELED};
        ck_assert_int_eq(sm_json_proto_decode(&resp, &out, &err), -ECANCELED);
        ck_assert_str_eq(err.code, "Cancelled");
        ck_assert_int_eq(err.klass, SM_AWS_ERROR_TERMINAL);

        /* Over the size limit: refused without looking at the bytes. */
        resp = resp_of(200, "{}", NULL, 0);
        resp.body_len = SM_PROTOCOL_MAX_BODY + 1;
        ck_assert_int_eq(sm_json_proto_decode(&resp, &out, &err), -EPROTO);
        ck_assert_str_eq(err.code, "ResponseTooLarge");
        ck_assert_int_eq(sm_query_proto_decode("GetRole", &resp, &out, &err), -EPROTO);
        ck_assert_str_eq(err.code, "ResponseTooLarge");
        ck_assert_ptr_null(out);
        sm_aws_error_clear(&err);
}
END_TEST

/* ---- Query / XML ------------------------------------------------------ */

static const char get_role_xml[] =
        "<GetRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\n"
        "  <GetRoleResult>\n"
        "    <Role>\n"
        "      <Path>/service-role/</Path>\n"
        "      <AssumeRolePolicyDocument>%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22"
        "%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22"
        "sagemaker.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D"
        "</AssumeRolePolicyDocument>\n"
        "      <MaxSessionDuration>3600</MaxSessionDuration>\n"
        "      <RoleId>AROAZZEXAMPLEROLEID01</RoleId>\n"
        "      <RoleLastUsed>\n"
        "        <LastUsedDate>2024-05-02T10:11:12Z</LastUsedDate>\n"
        "        <Region>eu-west-1</Region>\n"
        "      </RoleLastUsed>\n"
        "      <RoleName>smstudio-exec</RoleName>\n"
        "      <Description></Description>\n"
        "      <Arn>arn:aws:iam::123456789012:role/service-role/smstudio-exec</Arn>\n"
        "      <CreateDate>2024-01-15T08:30:00Z</CreateDate>\n"
        "      <Tags>\n"
        "        <member>\n"
        "          <Key>smstudio:managed-by</Key>\n"
        "          <Value>prod</Value>\n"
        "        </member>\n"
        "      </Tags>\n"
        "    </Role>\n"
        "  </GetRoleResult>\n"
        "  <ResponseMetadata>\n"
        "    <RequestId>df37e965-2a1b-4c8d-9e0f-123456789abc</RequestId>\n"
        "  </ResponseMetadata>\n"
        "</GetRoleResponse>\n";

START_TEST(test_query_get_role)
{
        sm_http_response resp = resp_of(200, get_role_xml, NULL, 0);
        sm_aws_error err = {0};
        json_t *out = NULL, *role, *tags;

        ck_assert_int_eq(sm_protocol_decode(&svc_iam, "GetRole", &resp, &out, &err), 0);
        role = json_object_get(out, "Role");
        ck_assert(json_is_object(role));
        ck_assert_str_eq(json_string_value(json_object_get(role, "Path")), "/service-role/");
        ck_assert_str_eq(json_string_value(json_object_get(role, "RoleName")), "smstudio-exec");
        /* Scalars stay strings; the policy stays URL-encoded (IAM's layer
         * decodes it). */
        ck_assert_str_eq(json_string_value(json_object_get(role, "MaxSessionDuration")), "3600");
        ck_assert_str_eq(json_string_value(json_object_get(role, "AssumeRolePolicyDocument")),
                         "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22"
                         "Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22"
                         "sagemaker.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22"
                         "%7D%5D%7D");
        ck_assert_str_eq(json_string_value(json_object_get(role, "Description")), "");
        ck_assert_str_eq(
                json_string_value(json_object_get(json_object_get(role, "RoleLastUsed"), "Region")),
                "eu-west-1");
        tags = json_object_get(role, "Tags");
        ck_assert(json_is_array(tags));
        ck_assert_uint_eq(json_array_size(tags), 1);
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(tags, 0), "Key")),
                         "smstudio:managed-by");
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(tags, 0), "Value")),
                         "prod");
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "ResponseMetadata"),
                                                           "RequestId")),
                         "df37e965-2a1b-4c8d-9e0f-123456789abc");
        ck_assert_uint_eq(json_object_size(out), 2);
        json_decref(out);
}
END_TEST

START_TEST(test_query_list_roles)
{
        static const char xml[] =
                "<ListRolesResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"
                "<ListRolesResult>"
                "<IsTruncated>true</IsTruncated>"
                "<Marker>AAIAAaBbCcDd%2BEeFf==</Marker>"
                "<Roles>"
                "<member><Path>/</Path><RoleName>a</RoleName>"
                "<Arn>arn:aws:iam::123456789012:role/a</Arn><RoleId>AROA1</RoleId>"
                "<CreateDate>2023-03-01T00:00:00Z</CreateDate>"
                "<AssumeRolePolicyDocument>%7B%7D</AssumeRolePolicyDocument>"
                "<MaxSessionDuration>3600</MaxSessionDuration></member>"
                "<member><Path>/service-role/</Path><RoleName>b</RoleName>"
                "<Arn>arn:aws:iam::123456789012:role/service-role/b</Arn><RoleId>AROA2</RoleId>"
                "<Description>Caf&#233; &amp; &lt;ml&gt; <![CDATA[<raw> & more]]></Description>"
                "</member>"
                "</Roles>"
                "</ListRolesResult>"
                "<ResponseMetadata><RequestId>11111111-2222-3333-4444-555555555555</RequestId>"
                "</ResponseMetadata>"
                "</ListRolesResponse>";
        sm_http_response resp = resp_of(200, xml, NULL, 0);
        sm_aws_error err = {0};
        json_t *out = NULL, *roles;

        ck_assert_int_eq(sm_query_proto_decode("ListRoles", &resp, &out, &err), 0);
        ck_assert_str_eq(json_string_value(json_object_get(out, "IsTruncated")), "true");
        ck_assert_str_eq(json_string_value(json_object_get(out, "Marker")),
                         "AAIAAaBbCcDd%2BEeFf==");
        roles = json_object_get(out, "Roles");
        ck_assert(json_is_array(roles));
        ck_assert_uint_eq(json_array_size(roles), 2);
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(roles, 1), "RoleName")),
                         "b");
        ck_assert_str_eq(
                json_string_value(json_object_get(json_array_get(roles, 1), "Description")),
                "Caf\xc3\xa9 & <ml> <raw> & more");
        json_decref(out);
}
END_TEST

START_TEST(test_query_sts)
{
        static const char gci[] =
                "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
                "  <GetCallerIdentityResult>\n"
                "    <Arn>arn:aws:sts::123456789012:assumed-role/smstudio/i-0abc</Arn>\n"
                "    <UserId>AROAZZEXAMPLEROLEID01:i-0abc</UserId>\n"
                "    <Account>123456789012</Account>\n"
                "  </GetCallerIdentityResult>\n"
                "  <ResponseMetadata>\n"
                "    <RequestId>0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9</RequestId>\n"
                "  </ResponseMetadata>\n"
                "</GetCallerIdentityResponse>\n";
        static const char assume[] =
                "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
                "  <AssumeRoleResult>\n"
                "    <AssumedRoleUser>\n"
                "      <AssumedRoleId>AROAZZEXAMPLEROLEID01:smstudio</AssumedRoleId>\n"
                "      <Arn>arn:aws:sts::123456789012:assumed-role/deploy/smstudio</Arn>\n"
                "    </AssumedRoleUser>\n"
                "    <Credentials>\n"
                "      <AccessKeyId>ASIAZZEXAMPLEKEY0001</AccessKeyId>\n"
                "      <SecretAccessKey>kT2s9Zm4EXAMPLEsecretKEYvalue0000000000</SecretAccessKey>\n"
                "      <SessionToken>IQoJb3JpZ2luX2VjEXAMPLE//////////tokenTOKENtoken=="
                "</SessionToken>\n"
                "      <Expiration>2024-06-01T12:00:00Z</Expiration>\n"
                "    </Credentials>\n"
                "    <PackedPolicySize>6</PackedPolicySize>\n"
                "  </AssumeRoleResult>\n"
                "  <ResponseMetadata>\n"
                "    <RequestId>c6104cbe-0000-4000-8000-cbc7ccf896c7</RequestId>\n"
                "  </ResponseMetadata>\n"
                "</AssumeRoleResponse>\n";
        sm_http_response resp = resp_of(200, gci, NULL, 0);
        sm_aws_error err = {0};
        json_t *out = NULL;

        ck_assert_int_eq(sm_protocol_decode(&svc_sts, "GetCallerIdentity", &resp, &out, &err), 0);
        ck_assert_str_eq(json_string_value(json_object_get(out, "Account")), "123456789012");
        ck_assert_str_eq(json_string_value(json_object_get(out, "UserId")),
                         "AROAZZEXAMPLEROLEID01:i-0abc");
        ck_assert_str_eq(json_string_value(json_object_get(out, "Arn")),
                         "arn:aws:sts::123456789012:assumed-role/smstudio/i-0abc");
        json_decref(out);

        resp = resp_of(200, assume, NULL, 0);
        ck_assert_int_eq(sm_protocol_decode(&svc_sts, "AssumeRole", &resp, &out, &err), 0);
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "Credentials"),
                                                           "SessionToken")),
                         "IQoJb3JpZ2luX2VjEXAMPLE//////////tokenTOKENtoken==");
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "Credentials"),
                                                           "Expiration")),
                         "2024-06-01T12:00:00Z");
        ck_assert_str_eq(
                json_string_value(json_object_get(json_object_get(out, "AssumedRoleUser"), "Arn")),
                "arn:aws:sts::123456789012:assumed-role/deploy/smstudio");
        ck_assert_str_eq(json_string_value(json_object_get(out, "PackedPolicySize")), "6");
        json_decref(out);

        /* Without the operation name, the first *Result element is used. */
        resp = resp_of(200, gci, NULL, 0);
        ck_assert_int_eq(sm_query_proto_decode(NULL, &resp, &out, &err), 0);
        ck_assert_str_eq(json_string_value(json_object_get(out, "Account")), "123456789012");
        json_decref(out);
        ck_assert_ptr_null(err.code);
}
END_TEST

START_TEST(test_query_shapes)
{
        sm_header h[] = {{(char *)"X-Amzn-RequestId", (char *)"hdr-rid"}};
        sm_aws_error err = {0};
        sm_http_response resp;
        json_t *out = NULL, *v;

        /* No output (DeleteRole): {} plus the request id. */
        resp = resp_of(200,
                       "<DeleteRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"
                       "<ResponseMetadata><RequestId>del-rid</RequestId></ResponseMetadata>"
                       "</DeleteRoleResponse>",
                       h, 1);
        ck_assert_int_eq(sm_query_proto_decode("DeleteRole", &resp, &out, &err), 0);
        ck_assert_uint_eq(json_object_size(out), 1);
        ck_assert_str_eq(str_at(out, "ResponseMetadata.RequestId"), "del-rid");
        json_decref(out);

        /* Empty list, prefixed namespace, request id from the header. */
        resp = resp_of(
                200,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<i:ListRoleTagsResponse xmlns:i=\"https://iam.amazonaws.com/doc/2010-05-08/\">"
                "<i:ListRoleTagsResult><i:Tags/><i:IsTruncated>false</i:IsTruncated>"
                "</i:ListRoleTagsResult></i:ListRoleTagsResponse>",
                h, 1);
        ck_assert_int_eq(sm_query_proto_decode("ListRoleTags", &resp, &out, &err), 0);
        ck_assert_str_eq(json_string_value(json_object_get(out, "Tags")), "");
        ck_assert_str_eq(json_string_value(json_object_get(out, "IsTruncated")), "false");
        ck_assert_str_eq(str_at(out, "ResponseMetadata.RequestId"), "hdr-rid");
        v = sm_query_list(json_object_get(out, "Tags"));
        ck_assert(json_is_array(v));
        ck_assert_uint_eq(json_array_size(v), 0);
        json_decref(v);
        json_decref(out);

        /* A repeated name (a flattened list) collects into an array; a
         * member that is a list stays one value. Comments are skipped. */
        resp = resp_of(200,
                       "<XResponse><XResult><A>1</A><!-- c --><B><member>x</member></B><A>2</A>"
                       "<A>3</A><C>  </C><D><member><member>n</member></member></D></XResult>"
                       "</XResponse>",
                       NULL, 0);
        ck_assert_int_eq(sm_query_proto_decode("X", &resp, &out, &err), 0);
        v = json_object_get(out, "A");
        ck_assert_uint_eq(json_array_size(v), 3);
        ck_assert_str_eq(json_string_value(json_array_get(v, 2)), "3");
        ck_assert_uint_eq(json_array_size(json_object_get(out, "B")), 1);
        ck_assert_str_eq(json_string_value(json_object_get(out, "C")), "");
        v = json_array_get(json_object_get(out, "D"), 0);
        ck_assert(json_is_array(v));
        ck_assert_str_eq(json_string_value(json_array_get(v, 0)), "n");
        ck_assert_ptr_null(json_object_get(out, "ResponseMetadata"));
        json_decref(out);
}
END_TEST

static int decode_query(long status, const char *body, json_t **out, sm_aws_error *err)
{
        sm_header h[] = {{(char *)"x-amzn-requestid", (char *)"hdr-rid"}};
        sm_http_response resp = resp_of(status, body, h, 1);

        return sm_query_proto_decode("GetRole", &resp, out, err);
}

START_TEST(test_query_errors)
{
        sm_aws_error err = {0};
        json_t *out = NULL;

        ck_assert_int_eq(
                decode_query(404,
                             "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/"
                             "2010-05-08/\">\n"
                             "  <Error>\n"
                             "    <Type>Sender</Type>\n"
                             "    <Code>NoSuchEntity</Code>\n"
                             "    <Message>The role with name smstudio-missing cannot be "
                             "found.</Message>\n"
                             "  </Error>\n"
                             "  <RequestId>4b1c2d3e-0000-4000-8000-aabbccddeeff</RequestId>\n"
                             "</ErrorResponse>\n",
                             &out, &err),
                -EBADMSG);
        ck_assert_ptr_null(out);
        ck_assert_str_eq(err.code, "NoSuchEntity");
        ck_assert_str_eq(err.message, "The role with name smstudio-missing cannot be found.");
        ck_assert_str_eq(err.request_id, "4b1c2d3e-0000-4000-8000-aabbccddeeff");
        ck_assert_int_eq(err.http_status, 404);
        ck_assert_int_eq(err.klass, SM_AWS_ERROR_TERMINAL);

        ck_assert_int_eq(decode_query(400,
                                      "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/"
                                      "2011-06-15/\"><Error><Type>Sender</Type>"
                                      "<Code>Throttling</Code><Message>Rate exceeded</Message>"
                                      "</Error><RequestId>t-rid</RequestId></ErrorResponse>",
                                      &out, &err),
                         -EBADMSG);
        ck_assert_str_eq(err.code, "Throttling");
        ck_assert_int_eq(err.klass, SM_AWS_ERROR_THROTTLE);

        ck_assert_int_eq(decode_query(400,
                                      "<ErrorResponse><Error><Type>Sender</Type>"
                                      "<Code>ExpiredToken</Code><Message>The security token "
                                      "included in the request is expired</Message></Error>"
                                      "</ErrorResponse>",
                                      &out, &err),
                         -EBADMSG);
        ck_assert_str_eq(err.code, "ExpiredToken");
        ck_assert(sm_aws_error_is_expired_credentials(&err));
        ck_assert_str_eq(err.request_id, "hdr-rid"); /* none in the XML */

        ck_assert_int_eq(decode_query(403,
                                      "<ErrorResponse><Error><Type>Sender</Type>"
                                      "<Code>SignatureDoesNotMatch</Code><Message>Signature "
                                      "expired: 20240102T101500Z is now earlier than "
                                      "20240102T103100Z (20240102T104600Z - 15 min.)</Message>"
                                      "</Error><RequestId>s-rid</RequestId></ErrorResponse>",
                                      &out, &err),
                         -EBADMSG);
        ck_assert(sm_aws_error_is_clock_skew(&err));
        ck_assert_int_eq(err.klass, SM_AWS_ERROR_TRANSIENT);

        /* IAM's 500. */
        ck_assert_int_eq(decode_query(500,
                                      "<ErrorResponse><Error><Type>Receiver</Type>"
                                      "<Code>ServiceFailure</Code></Error>"
                                      "<RequestId>f-rid</RequestId></ErrorResponse>",
                                      &out, &err),
                         -EBADMSG);
        ck_assert_str_eq(err.code, "ServiceFailure");
        ck_assert_ptr_null(err.message);
        ck_assert_int_eq(err.klass, SM_AWS_ERROR_TRANSIENT);

        /* The older Response/Errors shape. */
        ck_assert_int_eq(decode_query(403,
                                      "<Response><Errors><Error><Code>AuthFailure</Code>"
                                      "<Message>not authorised</Message></Error></Errors>"
                                      "<RequestID>ec2-rid</RequestID></Response>",
                                      &out, &err),
                         -EBADMSG);
        ck_assert_str_eq(err.code, "AuthFailure");
        ck_assert_str_eq(err.message, "not authorised");
        ck_assert_str_eq(err.request_id, "ec2-rid");

        /* An error document is an error even under a 200. */
        ck_assert_int_eq(decode_query(200,
                                      "<ErrorResponse><Error><Code>InternalError</Code></Error>"
                                      "</ErrorResponse>",
                                      &out, &err),
                         -EBADMSG);
        ck_assert_str_eq(err.code, "InternalError");
        ck_assert_ptr_null(out);

        /* An error document without a code. */
        ck_assert_int_eq(decode_query(400, "<ErrorResponse><Error/></ErrorResponse>", &out, &err),
                         -EBADMSG);
        ck_assert_str_eq(err.code, "HttpError400");
        ck_assert_int_eq(decode_query(200, "<ErrorResponse/>", &out, &err), -EPROTO);
        ck_assert_str_eq(err.code, "MalformedResponse");
        sm_aws_error_clear(&err);
}
END_TEST

START_TEST(test_query_no_aws_error)
{
        sm_aws_error err = {0};
        json_t *out = NULL;

        ck_assert_int_eq(decode_query(503, "", &out, &err), -EBADMSG);
        ck_assert_str_eq(err.code, "HttpError503");
        ck_assert_int_eq(err.klass, SM_AWS_ERROR_TRANSIENT);
        ck_assert_str_eq(err.request_id, "hdr-rid");

        ck_assert_int_eq(
                decode_query(502, "<html><body><h1>502 Bad Gateway</h1></body></html>", &out, &err),
                -EBADMSG);
        ck_assert_str_eq(err.code, "HttpError502");
        ck_assert_ptr_nonnull(strstr(err.message, "502 Bad Gateway"));

        ck_assert_int_eq(decode_query(429, "Too Many Requests", &out, &err), -EBADMSG);
        ck_assert_str_eq(err.code, "HttpError429");
        ck_assert_int_eq(err.klass, SM_AWS_ERROR_THROTTLE);

        /* Well-formed XML that is not an error document. */
        ck_assert_int_eq(decode_query(403, "<GetRoleResponse><GetRoleResult/></GetRoleResponse>",
                                      &out, &err),
                         -EBADMSG);
        ck_assert_str_eq(err.code, "HttpError403");
        sm_aws_error_clear(&err);
}
END_TEST

START_TEST(test_query_malformed)
{
        static const char *const bad[] = {
                "",
                "   \n",
                "garbage",
                "<GetRoleResponse><GetRoleResult><Role>",
                "<a></b>",
                "<GetRoleResponse>&undefined;</GetRoleResponse>",
                "{\"json\":\"instead\"}",
                /* A DTD is refused outright: no entity tricks. */
                "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
                "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>"
                "<GetRoleResponse><GetRoleResult><Role><RoleName>&lol2;</RoleName></Role>"
                "</GetRoleResult></GetRoleResponse>",
                "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
                "<GetRoleResponse><GetRoleResult><R>&x;</R></GetRoleResult></GetRoleResponse>",
                /* A bare list is not a result. */
                "<GetRoleResponse><GetRoleResult><member>1</member></GetRoleResult>"
                "</GetRoleResponse>",
        };
        sm_aws_error err = {0};
        json_t *out = NULL;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                ck_assert_msg(decode_query(200, bad[i], &out, &err) == -EPROTO, "case %zu", i);
                ck_assert_ptr_null(out);
                ck_assert_str_eq(err.code, "MalformedResponse");
                ck_assert_int_eq(err.klass, SM_AWS_ERROR_TERMINAL);
                ck_assert_str_eq(err.request_id, "hdr-rid");
        }

        /* A truncated AssumeRole: the message must not quote the body. */
        ck_assert_int_eq(decode_query(200,
                                      "<AssumeRoleResponse><AssumeRoleResult><Credentials>"
                                      "<SecretAccessKey>kT2s9ZmSECRET",
                                      &out, &err),
                         -EPROTO);
        ck_assert_ptr_null(strstr(err.message, "SECRET"));
        ck_assert_ptr_null(strstr(err.message, "kT2s"));

        /* Nesting deeper than any AWS shape. */
        char *deep = NULL;
        sm_buf b = {0};
        sm_buf_puts(&b, "<GetRoleResponse><GetRoleResult>");
        for (int i = 0; i < 100; i++)
                sm_buf_puts(&b, "<A>");
        sm_buf_puts(&b, "x");
        for (int i = 0; i < 100; i++)
                sm_buf_puts(&b, "</A>");
        sm_buf_puts(&b, "</GetRoleResult></GetRoleResponse>");
        deep = sm_buf_steal(&b);
        ck_assert_int_eq(decode_query(200, deep, &out, &err), -EPROTO);
        ck_assert_str_eq(err.code, "MalformedResponse");
        free(deep);

        /* A DTD under an error status is just an unreadable error page. */
        ck_assert_int_eq(decode_query(500, "<!DOCTYPE html><html></html>", &out, &err), -EBADMSG);
        ck_assert_str_eq(err.code, "HttpError500");
        sm_aws_error_clear(&err);
}
END_TEST

START_TEST(test_query_list_helper)
{
        json_t *a, *v;

        a = sm_query_list(NULL);
        ck_assert(json_is_array(a) && json_array_size(a) == 0);
        json_decref(a);

        v = json_string("");
        a = sm_query_list(v);
        ck_assert(json_is_array(a) && json_array_size(a) == 0);
        json_decref(a);
        json_decref(v);

        v = json_null();
        a = sm_query_list(v);
        ck_assert_uint_eq(json_array_size(a), 0);
        json_decref(a);

        v = json_pack("[ss]", "a", "b");
        a = sm_query_list(v);
        ck_assert_ptr_eq(a, v);
        ck_assert_int_eq(v->refcount, 2);
        json_decref(a);
        json_decref(v);

        v = json_pack("{ss}", "Key", "k");
        a = sm_query_list(v);
        ck_assert_uint_eq(json_array_size(a), 1);
        ck_assert_ptr_eq(json_array_get(a, 0), v);
        json_decref(a);
        json_decref(v);

        v = json_string("x");
        a = sm_query_list(v);
        ck_assert_uint_eq(json_array_size(a), 1);
        json_decref(a);
        json_decref(v);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("protocol");
        TCase *te = tcase_create("encode");
        TCase *tj = tcase_create("json");
        TCase *tq = tcase_create("query");

        tcase_add_test(te, test_encode_json);
        tcase_add_test(te, test_encode_query_basic);
        tcase_add_test(te, test_encode_query_nested);
        tcase_add_test(te, test_encode_query_invalid);
        tcase_add_test(te, test_encode_real_descriptors);
        suite_add_tcase(s, te);

        tcase_add_test(tj, test_json_success);
        tcase_add_test(tj, test_json_errors);
        tcase_add_test(tj, test_json_no_aws_error);
        tcase_add_test(tj, test_json_long_message);
        tcase_add_test(tj, test_json_malformed);
        tcase_add_test(tj, test_no_answer);
        suite_add_tcase(s, tj);

        tcase_add_test(tq, test_query_get_role);
        tcase_add_test(tq, test_query_list_roles);
        tcase_add_test(tq, test_query_sts);
        tcase_add_test(tq, test_query_shapes);
        tcase_add_test(tq, test_query_errors);
        tcase_add_test(tq, test_query_no_aws_error);
        tcase_add_test(tq, test_query_malformed);
        tcase_add_test(tq, test_query_list_helper);
        suite_add_tcase(s, tq);
        return s;
}

SM_CHECK_MAIN(make_suite)
