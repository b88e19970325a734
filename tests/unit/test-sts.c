/* SPDX-License-Identifier: Apache-2.0 */
/* Decoding STS answers: identity and temporary credentials, from the JSON the
 * Query/XML decoder makes, and end to end from a real AssumeRoleResponse. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smstudio/protocol.h"
#include "smstudio/sts.h"
#include "testmain.h"

static json_t *load(const char *text)
{
        json_error_t e;
        json_t *j = json_loads(text, 0, &e);

        ck_assert_msg(j != NULL, "bad test JSON: %s", e.text);
        return j;
}

START_TEST(test_identity)
{
        json_t *out = load("{\"Account\": \"123456789012\", \"Arn\": "
                           "\"arn:aws:iam::123456789012:user/alice\", \"UserId\": "
                           "\"AIDAEXAMPLE\", \"ResponseMetadata\": {\"RequestId\": \"r\"}}");
        sm_sts_identity id = {0};

        ck_assert_int_eq(sm_sts_identity_from_output(out, &id), 0);
        ck_assert_str_eq(id.account, "123456789012");
        ck_assert_str_eq(id.arn, "arn:aws:iam::123456789012:user/alice");
        ck_assert_str_eq(id.user_id, "AIDAEXAMPLE");
        sm_sts_identity_done(&id);
        ck_assert_ptr_null(id.account);
        json_decref(out);
}
END_TEST

START_TEST(test_identity_missing_member)
{
        json_t *out = load("{\"Account\": \"123456789012\", \"UserId\": \"AIDAEXAMPLE\"}");
        json_t *empty = load("{\"Account\": \"\", \"Arn\": \"a\", \"UserId\": \"u\"}");
        sm_sts_identity id = {0};

        ck_assert_int_eq(sm_sts_identity_from_output(out, &id), -EBADMSG);
        ck_assert_ptr_null(id.account);
        ck_assert_int_eq(sm_sts_identity_from_output(empty, &id), -EBADMSG);
        ck_assert_int_eq(sm_sts_identity_from_output(NULL, &id), -EBADMSG);
        json_decref(out);
        json_decref(empty);
}
END_TEST

static const char *assume_output =
        "{\"Credentials\": {\"AccessKeyId\": \"ASIAEXAMPLE\", \"SecretAccessKey\": "
        "\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY\", \"SessionToken\": \"FwoGZXIvYXdzEXAMPLE\", "
        "\"Expiration\": \"2026-11-26T15:13:58Z\"}, \"AssumedRoleUser\": {\"AssumedRoleId\": "
        "\"AROAEXAMPLE:smstudio\", \"Arn\": "
        "\"arn:aws:sts::210987654321:assumed-role/deployer/smstudio\"}, \"PackedPolicySize\": "
        "\"6\"}";

START_TEST(test_credentials)
{
        json_t *out = load(assume_output);
        sm_credentials *c = NULL;

        ck_assert_int_eq(sm_sts_credentials_from_output(out, "assume-role", &c), 0);
        ck_assert_str_eq(c->access_key_id, "ASIAEXAMPLE");
        ck_assert_str_eq(c->secret_access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
        ck_assert_str_eq(c->session_token, "FwoGZXIvYXdzEXAMPLE");
        ck_assert_int_eq(c->expiration, 1795706038); /* 2026-11-26T15:13:58Z */
        ck_assert_str_eq(c->provider, "assume-role");
        ck_assert_str_eq(c->account_id, "210987654321");
        sm_credentials_unref(c);
        json_decref(out);
}
END_TEST

START_TEST(test_credentials_odd_arn_keeps_credentials)
{
        json_t *out = load(assume_output);
        sm_credentials *c = NULL;

        json_object_set_new(json_object_get(out, "AssumedRoleUser"), "Arn",
                            json_string("arn:aws:sts::not-an-account:assumed-role/x/y"));
        ck_assert_int_eq(sm_sts_credentials_from_output(out, "web-identity", &c), 0);
        ck_assert_ptr_null(c->account_id);
        ck_assert_str_eq(c->provider, "web-identity");
        sm_credentials_unref(c);
        json_object_del(out, "AssumedRoleUser");
        ck_assert_int_eq(sm_sts_credentials_from_output(out, "web-identity", &c), 0);
        ck_assert_ptr_null(c->account_id);
        sm_credentials_unref(c);
        json_decref(out);
}
END_TEST

START_TEST(test_credentials_incomplete)
{
        static const char *members[] = {"AccessKeyId", "SecretAccessKey", "SessionToken",
                                        "Expiration"};
        sm_credentials *c = NULL;

        for (size_t i = 0; i < 4; i++) {
                json_t *out = load(assume_output);

                json_object_del(json_object_get(out, "Credentials"), members[i]);
                ck_assert_int_eq(sm_sts_credentials_from_output(out, "assume-role", &c), -EBADMSG);
                ck_assert_ptr_null(c);
                json_decref(out);
        }
        {
                json_t *out = load(assume_output);

                json_object_set_new(json_object_get(out, "Credentials"), "Expiration",
                                    json_string("tomorrow"));
                ck_assert_int_eq(sm_sts_credentials_from_output(out, "assume-role", &c), -EBADMSG);
                json_decref(out);
        }
        ck_assert_int_eq(sm_sts_credentials_from_output(NULL, "assume-role", &c), -EBADMSG);
}
END_TEST

/* What STS really sends, through the shipped Query/XML decoder. */
START_TEST(test_credentials_from_xml_answer)
{
        static const char xml[] =
                "<AssumeRoleWithWebIdentityResponse "
                "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
                "  <AssumeRoleWithWebIdentityResult>\n"
                "    <SubjectFromWebIdentityToken>system:serviceaccount:ns:sa"
                "</SubjectFromWebIdentityToken>\n"
                "    <Audience>sts.amazonaws.com</Audience>\n"
                "    <AssumedRoleUser>\n"
                "      <Arn>arn:aws:sts::123456789012:assumed-role/pod-role/smstudio</Arn>\n"
                "      <AssumedRoleId>AROAEXAMPLE:smstudio</AssumedRoleId>\n"
                "    </AssumedRoleUser>\n"
                "    <Credentials>\n"
                "      <SessionToken>IQoJb3JpZ2luEXAMPLE</SessionToken>\n"
                "      <SecretAccessKey>secretEXAMPLE</SecretAccessKey>\n"
                "      <Expiration>2026-11-26T15:13:58.123Z</Expiration>\n"
                "      <AccessKeyId>ASIAWEBEXAMPLE</AccessKeyId>\n"
                "    </Credentials>\n"
                "    <Provider>arn:aws:iam::123456789012:oidc-provider/example</Provider>\n"
                "  </AssumeRoleWithWebIdentityResult>\n"
                "  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7"
                "</RequestId></ResponseMetadata>\n"
                "</AssumeRoleWithWebIdentityResponse>\n";
        sm_header hdr = {"content-type", "text/xml"};
        sm_http_response resp = {
                .status = 200,
                .headers = &hdr,
                .n_headers = 1,
                .body = xml,
                .body_len = sizeof(xml) - 1,
        };
        sm_aws_error err = {0};
        json_t *out = NULL;
        sm_credentials *c = NULL;

        ck_assert_int_eq(sm_protocol_decode(sm_aws_service_get(SM_SERVICE_STS),
                                            "AssumeRoleWithWebIdentity", &resp, &out, &err),
                         0);
        ck_assert_int_eq(sm_sts_credentials_from_output(out, "web-identity", &c), 0);
        ck_assert_str_eq(c->access_key_id, "ASIAWEBEXAMPLE");
        ck_assert_str_eq(c->session_token, "IQoJb3JpZ2luEXAMPLE");
        ck_assert_int_eq(c->expiration, 1795706038);
        ck_assert_str_eq(c->account_id, "123456789012");
        sm_credentials_unref(c);
        json_decref(out);
        sm_aws_error_clear(&err);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("sts");
        TCase *tc = tcase_create("decode");

        tcase_add_test(tc, test_identity);
        tcase_add_test(tc, test_identity_missing_member);
        tcase_add_test(tc, test_credentials);
        tcase_add_test(tc, test_credentials_odd_arn_keeps_credentials);
        tcase_add_test(tc, test_credentials_incomplete);
        tcase_add_test(tc, test_credentials_from_xml_answer);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
