/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "smstudio/iam.h"
#include "smstudio/protocol.h"
#include "testmain.h"

/* A GetRole answer shaped as IAM sends it: the trust policy URL-encoded. */
static const char get_role_xml[] =
        "<GetRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"
        "<GetRoleResult><Role><Path>/smstudio/</Path>"
        "<AssumeRolePolicyDocument>%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B"
        "%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22sagemaker."
        "amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D"
        "</AssumeRolePolicyDocument>"
        "<RoleName>mlops-studio-data-scientist</RoleName>"
        "<RoleId>AROAEXAMPLE</RoleId>"
        "<Arn>arn:aws:iam::123456789012:role/smstudio/mlops-studio-data-scientist</Arn>"
        "<CreateDate>2026-11-26T14:00:00Z</CreateDate></Role></GetRoleResult>"
        "<ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></GetRoleResponse>";

START_TEST(test_get_role_trust_policy)
{
        sm_http_response resp = {
                .status = 200, .body = get_role_xml, .body_len = sizeof(get_role_xml) - 1};
        sm_aws_error err = {0};
        json_t *out = NULL, *doc = NULL, *stmt;
        const char *enc;

        ck_assert_int_eq(sm_protocol_decode(sm_aws_service_get(SM_SERVICE_IAM), "GetRole", &resp,
                                            &out, &err),
                         0);
        enc = json_string_value(
                json_object_get(json_object_get(out, "Role"), "AssumeRolePolicyDocument"));
        ck_assert_ptr_nonnull(enc);
        ck_assert_int_eq(sm_iam_policy_document_parse(enc, &doc), 0);
        ck_assert_str_eq(json_string_value(json_object_get(doc, "Version")), "2012-10-17");
        stmt = json_array_get(json_object_get(doc, "Statement"), 0);
        ck_assert_str_eq(json_string_value(json_object_get(stmt, "Action")), "sts:AssumeRole");
        ck_assert_str_eq(
                json_string_value(json_object_get(json_object_get(stmt, "Principal"), "Service")),
                "sagemaker.amazonaws.com");
        json_decref(doc);
        json_decref(out);
}
END_TEST

START_TEST(test_plain_and_bad_documents)
{
        json_t *doc = NULL;

        ck_assert_int_eq(sm_iam_policy_document_parse(" {\"Version\":\"2012-10-17\"}", &doc), 0);
        json_decref(doc);
        /* '+' is literal in IAM's encoding, never a space. */
        ck_assert_int_eq(sm_iam_policy_document_parse("%7B%22a%2Bb%22%3A%22c+d%22%7D", &doc), 0);
        ck_assert_str_eq(json_string_value(json_object_get(doc, "a+b")), "c+d");
        json_decref(doc);
        doc = NULL;
        ck_assert_int_eq(sm_iam_policy_document_parse("%7B%zz", &doc), -EINVAL);
        ck_assert_int_eq(sm_iam_policy_document_parse("%5B%5D", &doc), -EBADMSG);
        ck_assert_int_eq(sm_iam_policy_document_parse("not json", &doc), -EBADMSG);
        ck_assert_int_eq(sm_iam_policy_document_parse(NULL, &doc), -EINVAL);
        ck_assert_ptr_null(doc);
}
END_TEST

static int equal_text(const char *a, const char *b)
{
        json_t *ja = json_loads(a, 0, NULL), *jb = json_loads(b, 0, NULL);
        int eq;

        ck_assert_ptr_nonnull(ja);
        ck_assert_ptr_nonnull(jb);
        eq = sm_iam_policy_equal(ja, jb);
        json_decref(ja);
        json_decref(jb);
        return eq;
}

START_TEST(test_policy_equality)
{
        /* Key order and whitespace never matter. */
        ck_assert(
                equal_text("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                           "\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}]}",
                           "{ \"Statement\" : [ { \"Resource\":\"*\", \"Action\":\"s3:GetObject\","
                           " \"Effect\":\"Allow\"} ], \"Version\":\"2012-10-17\" }"));
        /* A lone string equals a one-element list where IAM allows both. */
        ck_assert(equal_text("{\"Statement\":[{\"Action\":[\"s3:GetObject\"]}]}",
                             "{\"Statement\":[{\"Action\":\"s3:GetObject\"}]}"));
        ck_assert(equal_text("{\"Statement\":[{\"Principal\":{\"Service\":[\"a\"]}}]}",
                             "{\"Statement\":[{\"Principal\":{\"Service\":\"a\"}}]}"));
        ck_assert(equal_text("{\"Statement\":[{\"Condition\":{\"StringEquals\":{\"k\":[\"v\"]}}}]}",
                             "{\"Statement\":[{\"Condition\":{\"StringEquals\":{\"k\":\"v\"}}}]}"));
        ck_assert(equal_text("{\"Statement\":{\"Effect\":\"Allow\"}}",
                             "{\"Statement\":[{\"Effect\":\"Allow\"}]}"));
        /* Real differences are differences. */
        ck_assert(!equal_text("{\"Statement\":[{\"Action\":[\"a\",\"b\"]}]}",
                              "{\"Statement\":[{\"Action\":\"a\"}]}"));
        ck_assert(!equal_text("{\"Statement\":[{\"Effect\":\"Allow\"}]}",
                              "{\"Statement\":[{\"Effect\":\"Deny\"}]}"));
        ck_assert(!equal_text("{\"Statement\":[{\"Effect\":[\"Allow\"]}]}",
                              "{\"Statement\":[{\"Effect\":\"Allow\"}]}"));
        ck_assert(!equal_text("{\"Statement\":[{\"Sid\":\"a\"},{\"Sid\":\"b\"}]}",
                              "{\"Statement\":[{\"Sid\":\"b\"},{\"Sid\":\"a\"}]}"));
        ck_assert(!equal_text("{\"Statement\":[{\"Principal\":{\"AWS\":\"x\"}}]}",
                              "{\"Statement\":[{\"Principal\":{\"Service\":\"x\"}}]}"));
        /* The Sids name the sections of a role's main document (roles.h):
         * one dropped or renamed is drift to repair. */
        ck_assert(!equal_text("{\"Statement\":[{\"Sid\":\"Kms\",\"Effect\":\"Allow\"}]}",
                              "{\"Statement\":[{\"Effect\":\"Allow\"}]}"));
        ck_assert(!equal_text("{\"Statement\":[{\"Sid\":\"Kms\",\"Effect\":\"Allow\"}]}",
                              "{\"Statement\":[{\"Sid\":\"Kms2\",\"Effect\":\"Allow\"}]}"));
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("iam");
        TCase *tc = tcase_create("policy documents");

        tcase_add_test(tc, test_get_role_trust_policy);
        tcase_add_test(tc, test_plain_and_bad_documents);
        tcase_add_test(tc, test_policy_equality);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
