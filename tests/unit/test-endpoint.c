/* SPDX-License-Identifier: Apache-2.0 */
/* Service descriptors, partitions and endpoint resolution. Expected hosts
 * are read off ../shared/aws-models/<service>/endpoint-rule-set-1.json and
 * partitions.json; integration/test_endpoints_botocore.py checks the whole
 * matrix against botocore. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smstudio/endpoint.h"
#include "smstudio/macro.h"
#include "testmain.h"

START_TEST(test_service_table)
{
        const sm_aws_service *s;

        s = sm_aws_service_get(SM_SERVICE_SAGEMAKER);
        ck_assert_ptr_nonnull(s);
        ck_assert_int_eq(s->id, SM_SERVICE_SAGEMAKER);
        ck_assert_str_eq(s->name, "sagemaker");
        ck_assert_str_eq(s->service_id, "SageMaker");
        ck_assert_str_eq(s->env_suffix, "SAGEMAKER");
        ck_assert_str_eq(s->config_key, "sagemaker");
        ck_assert_str_eq(s->endpoint_prefix, "api.sagemaker");
        ck_assert_str_eq(s->signing_name, "sagemaker");
        ck_assert_int_eq(s->protocol, SM_AWS_PROTOCOL_JSON_1_1);
        ck_assert_str_eq(s->api_version, "2017-07-24");
        ck_assert_str_eq(s->target_prefix, "SageMaker");
        ck_assert(!s->global);

        s = sm_aws_service_get(SM_SERVICE_IAM);
        ck_assert_int_eq(s->id, SM_SERVICE_IAM);
        ck_assert_str_eq(s->name, "iam");
        ck_assert_str_eq(s->service_id, "IAM");
        ck_assert_str_eq(s->env_suffix, "IAM");
        ck_assert_str_eq(s->config_key, "iam");
        ck_assert_str_eq(s->endpoint_prefix, "iam");
        ck_assert_str_eq(s->signing_name, "iam");
        ck_assert_int_eq(s->protocol, SM_AWS_PROTOCOL_QUERY);
        ck_assert_str_eq(s->api_version, "2010-05-08");
        ck_assert_ptr_null(s->target_prefix);
        ck_assert(s->global);

        s = sm_aws_service_get(SM_SERVICE_STS);
        ck_assert_int_eq(s->id, SM_SERVICE_STS);
        ck_assert_str_eq(s->name, "sts");
        ck_assert_str_eq(s->service_id, "STS");
        ck_assert_str_eq(s->env_suffix, "STS");
        ck_assert_str_eq(s->config_key, "sts");
        ck_assert_str_eq(s->endpoint_prefix, "sts");
        ck_assert_str_eq(s->signing_name, "sts");
        ck_assert_int_eq(s->protocol, SM_AWS_PROTOCOL_QUERY);
        ck_assert_str_eq(s->api_version, "2011-06-15");
        ck_assert_ptr_null(s->target_prefix);
        ck_assert(!s->global);

        s = sm_aws_service_get(SM_SERVICE_SERVICECATALOG);
        ck_assert_int_eq(s->id, SM_SERVICE_SERVICECATALOG);
        ck_assert_str_eq(s->name, "servicecatalog");
        ck_assert_str_eq(s->service_id, "Service Catalog");
        ck_assert_str_eq(s->env_suffix, "SERVICE_CATALOG");
        ck_assert_str_eq(s->config_key, "service_catalog");
        ck_assert_str_eq(s->endpoint_prefix, "servicecatalog");
        ck_assert_str_eq(s->signing_name, "servicecatalog");
        ck_assert_int_eq(s->protocol, SM_AWS_PROTOCOL_JSON_1_1);
        ck_assert_str_eq(s->api_version, "2015-12-10");
        ck_assert_str_eq(s->target_prefix, "AWS242ServiceCatalogService");
        ck_assert(!s->global);

        ck_assert_ptr_null(sm_aws_service_get(_SM_SERVICE_MAX));
        ck_assert_ptr_null(sm_aws_service_get((sm_service_id)-1));
}
END_TEST

START_TEST(test_service_by_name)
{
        for (int i = 0; i < _SM_SERVICE_MAX; i++) {
                const sm_aws_service *s = sm_aws_service_get((sm_service_id)i);

                ck_assert_ptr_eq(sm_aws_service_by_name(s->name), s);
        }
        ck_assert_ptr_null(sm_aws_service_by_name("SageMaker"));
        ck_assert_ptr_null(sm_aws_service_by_name("service_catalog"));
        ck_assert_ptr_null(sm_aws_service_by_name(""));
        ck_assert_ptr_null(sm_aws_service_by_name(NULL));
}
END_TEST

static const struct {
        const char *region;
        const char *partition;
} partition_cases[] = {
        {"us-east-1", "aws"},
        {"eu-west-1", "aws"},
        {"ap-southeast-7", "aws"},
        {"mx-central-1", "aws"},
        {"aws-global", "aws"},
        {"cn-north-1", "aws-cn"},
        {"cn-northwest-1", "aws-cn"},
        {"aws-cn-global", "aws-cn"},
        {"us-gov-west-1", "aws-us-gov"},
        {"us-gov-east-1", "aws-us-gov"},
        {"aws-us-gov-global", "aws-us-gov"},
        {"us-iso-east-1", "aws-iso"},
        {"aws-iso-global", "aws-iso"},
        {"us-isob-east-1", "aws-iso-b"},
        {"aws-iso-b-global", "aws-iso-b"},
        {"eu-isoe-west-1", "aws-iso-e"},
        {"aws-iso-e-global", "aws-iso-e"},
        {"us-isof-south-1", "aws-iso-f"},
        {"aws-iso-f-global", "aws-iso-f"},
        {"eusc-de-east-1", "aws-eusc"},
        /* Not listed: the region regex decides. */
        {"eu-south-9", "aws"},
        {"cn-south-3", "aws-cn"},
        {"us-gov-central-2", "aws-us-gov"},
        {"us-iso-north-4", "aws-iso"},
        {"us-isob-south-2", "aws-iso-b"},
        {"eu-isoe-north-5", "aws-iso-e"},
        {"us-isof-west-3", "aws-iso-f"},
        {"eusc-de-west-2", "aws-eusc"},
        /* No regex matches: aws. */
        {"eusc-fr-east-1", "aws"},
        {"xx-yyyy-1", "aws"},
        {"us-east", "aws"},
        {"us-east-1a", "aws"},
        {"local", "aws"},
};

START_TEST(test_region_partition)
{
        ck_assert_str_eq(sm_region_partition(partition_cases[_i].region),
                         partition_cases[_i].partition);
}
END_TEST

START_TEST(test_region_partition_null)
{
        ck_assert_str_eq(sm_region_partition(NULL), "aws");
}
END_TEST

START_TEST(test_region_is_valid)
{
        static const char *const good[] = {"us-east-1", "eu-west-1", "cn-north-1", "aws-global",
                                           "us-east-1-fips", "a", "1a", "a1",
                                           /* 63 characters */
                                           "abcdefghijklmnopqrstuvwxyz-0123456789-abcdefghijk"
                                           "lmnopqrstuvwxy"};
        static const char *const bad[] = {"", "EU-WEST-1", "Eu-west-1", "eu_west_1", "-eu", "eu-",
                                          "123", "eu.west", "eu west", "eu/west",
                                          /* 64 characters */
                                          "abcdefghijklmnopqrstuvwxyz-0123456789-abcdefghijkl"
                                          "mnopqrstuvwxyz"};

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ck_assert_msg(sm_region_is_valid(good[i]), "%s", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(!sm_region_is_valid(bad[i]), "%s", bad[i]);
        ck_assert(!sm_region_is_valid(NULL));
}
END_TEST

typedef struct resolve_case {
        sm_service_id svc;
        const char *region;
        bool fips;
        bool dualstack;
        const char *url;
        const char *signing_region;
        const char *partition;
} resolve_case;

/* One case per line: easier to read than to wrap. */
/* clang-format off */
static const resolve_case resolve_cases[] = {
        /* SageMaker: the FIPS marker moves between partitions. */
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, false, "https://api.sagemaker.eu-west-1.amazonaws.com", "eu-west-1", "aws"},
        {SM_SERVICE_SAGEMAKER, "us-east-1", true, false, "https://api-fips.sagemaker.us-east-1.amazonaws.com", "us-east-1", "aws"},
        {SM_SERVICE_SAGEMAKER, "us-east-1", false, true, "https://api.sagemaker.us-east-1.api.aws", "us-east-1", "aws"},
        {SM_SERVICE_SAGEMAKER, "us-east-1", true, true, "https://api.sagemaker-fips.us-east-1.api.aws", "us-east-1", "aws"},
        {SM_SERVICE_SAGEMAKER, "us-gov-west-1", true, false, "https://api-fips.sagemaker.us-gov-west-1.amazonaws.com", "us-gov-west-1", "aws-us-gov"},
        {SM_SERVICE_SAGEMAKER, "us-gov-west-1", false, false, "https://api.sagemaker.us-gov-west-1.amazonaws.com", "us-gov-west-1", "aws-us-gov"},
        {SM_SERVICE_SAGEMAKER, "cn-north-1", false, false, "https://api.sagemaker.cn-north-1.amazonaws.com.cn", "cn-north-1", "aws-cn"},
        {SM_SERVICE_SAGEMAKER, "cn-north-1", true, false, "https://api.sagemaker-fips.cn-north-1.amazonaws.com.cn", "cn-north-1", "aws-cn"},
        {SM_SERVICE_SAGEMAKER, "cn-north-1", false, true, "https://api.sagemaker.cn-north-1.api.amazonwebservices.com.cn", "cn-north-1", "aws-cn"},
        {SM_SERVICE_SAGEMAKER, "us-iso-east-1", true, false, "https://api.sagemaker-fips.us-iso-east-1.c2s.ic.gov", "us-iso-east-1", "aws-iso"},
        {SM_SERVICE_SAGEMAKER, "eusc-de-east-1", false, false, "https://api.sagemaker.eusc-de-east-1.amazonaws.eu", "eusc-de-east-1", "aws-eusc"},
        {SM_SERVICE_SAGEMAKER, "eusc-de-east-1", true, true, "https://api.sagemaker-fips.eusc-de-east-1.api.amazonwebservices.eu", "eusc-de-east-1", "aws-eusc"},
        /* FIPS pseudo-regions, as botocore still takes them. */
        {SM_SERVICE_SAGEMAKER, "us-east-1-fips", false, false, "https://api-fips.sagemaker.us-east-1.amazonaws.com", "us-east-1", "aws"},
        {SM_SERVICE_SAGEMAKER, "fips-us-gov-west-1", false, false, "https://api-fips.sagemaker.us-gov-west-1.amazonaws.com", "us-gov-west-1", "aws-us-gov"},
        {SM_SERVICE_SAGEMAKER, "fips", false, false, "https://api.sagemaker.fips.amazonaws.com", "fips", "aws"},

        /* IAM: global per partition, each with its own signing region. */
        {SM_SERVICE_IAM, "eu-west-1", false, false, "https://iam.amazonaws.com", "us-east-1", "aws"},
        {SM_SERVICE_IAM, "us-east-1", true, false, "https://iam-fips.amazonaws.com", "us-east-1", "aws"},
        {SM_SERVICE_IAM, "ap-south-2", false, true, "https://iam.global.api.aws", "us-east-1", "aws"},
        {SM_SERVICE_IAM, "us-west-2", true, true, "https://iam-fips.global.api.aws", "us-east-1", "aws"},
        {SM_SERVICE_IAM, "aws-global", false, false, "https://iam.amazonaws.com", "us-east-1", "aws"},
        {SM_SERVICE_IAM, "cn-northwest-1", false, false, "https://iam.cn-north-1.amazonaws.com.cn", "cn-north-1", "aws-cn"},
        {SM_SERVICE_IAM, "cn-north-1", true, false, "https://iam-fips.amazonaws.com.cn", "cn-north-1", "aws-cn"},
        {SM_SERVICE_IAM, "cn-north-1", false, true, "https://iam.global.api.amazonwebservices.com.cn", "cn-north-1", "aws-cn"},
        {SM_SERVICE_IAM, "cn-north-1", true, true, "https://iam-fips.api.amazonwebservices.com.cn", "cn-north-1", "aws-cn"},
        {SM_SERVICE_IAM, "us-gov-east-1", false, false, "https://iam.us-gov.amazonaws.com", "us-gov-west-1", "aws-us-gov"},
        {SM_SERVICE_IAM, "us-gov-east-1", true, false, "https://iam.us-gov.amazonaws.com", "us-gov-west-1", "aws-us-gov"},
        {SM_SERVICE_IAM, "us-gov-west-1", true, true, "https://iam.us-gov.api.aws", "us-gov-west-1", "aws-us-gov"},
        {SM_SERVICE_IAM, "us-iso-west-1", false, false, "https://iam.us-iso-east-1.c2s.ic.gov", "us-iso-east-1", "aws-iso"},
        {SM_SERVICE_IAM, "us-isob-east-1", true, false, "https://iam-fips.us-isob-east-1.sc2s.sgov.gov", "us-isob-east-1", "aws-iso-b"},
        {SM_SERVICE_IAM, "eu-isoe-west-1", true, false, "https://iam-fips.cloud.adc-e.uk", "eu-isoe-west-1", "aws-iso-e"},
        {SM_SERVICE_IAM, "us-isof-east-1", false, false, "https://iam.us-isof-south-1.csp.hci.ic.gov", "us-isof-south-1", "aws-iso-f"},
        {SM_SERVICE_IAM, "eusc-de-east-1", false, true, "https://iam.global.api.amazonwebservices.eu", "eusc-de-east-1", "aws-eusc"},
        {SM_SERVICE_IAM, "us-east-1-fips", false, false, "https://iam-fips.amazonaws.com", "us-east-1", "aws"},

        /* STS: regional; aws-global is the legacy global endpoint. */
        {SM_SERVICE_STS, "eu-west-1", false, false, "https://sts.eu-west-1.amazonaws.com", "eu-west-1", "aws"},
        {SM_SERVICE_STS, "us-east-1", false, false, "https://sts.us-east-1.amazonaws.com", "us-east-1", "aws"},
        {SM_SERVICE_STS, "aws-global", false, false, "https://sts.amazonaws.com", "us-east-1", "aws"},
        /* Signed for the legacy table's credentialScope, as botocore does. */
        {SM_SERVICE_STS, "aws-global", true, false, "https://sts-fips.aws-global.amazonaws.com", "us-east-1", "aws"},
        {SM_SERVICE_STS, "aws-global", false, true, "https://sts.aws-global.api.aws", "us-east-1", "aws"},
        {SM_SERVICE_SAGEMAKER, "us-gov-west-1-secondary", false, false, "https://api.sagemaker.us-gov-west-1-secondary.amazonaws.com", "us-gov-west-1", "aws"},
        {SM_SERVICE_SAGEMAKER, "us-gov-west-1-fips-secondary", false, false, "https://api-fips.sagemaker.us-gov-west-1-secondary.amazonaws.com", "us-gov-west-1", "aws"},
        {SM_SERVICE_STS, "us-east-2", true, false, "https://sts-fips.us-east-2.amazonaws.com", "us-east-2", "aws"},
        {SM_SERVICE_STS, "us-east-2", false, true, "https://sts.us-east-2.api.aws", "us-east-2", "aws"},
        {SM_SERVICE_STS, "us-east-2", true, true, "https://sts-fips.us-east-2.api.aws", "us-east-2", "aws"},
        {SM_SERVICE_STS, "us-gov-west-1", true, false, "https://sts.us-gov-west-1.amazonaws.com", "us-gov-west-1", "aws-us-gov"},
        {SM_SERVICE_STS, "us-gov-west-1", true, true, "https://sts-fips.us-gov-west-1.api.aws", "us-gov-west-1", "aws-us-gov"},
        {SM_SERVICE_STS, "cn-north-1", false, false, "https://sts.cn-north-1.amazonaws.com.cn", "cn-north-1", "aws-cn"},
        {SM_SERVICE_STS, "us-isof-south-1", true, false, "https://sts-fips.us-isof-south-1.csp.hci.ic.gov", "us-isof-south-1", "aws-iso-f"},

        /* Service Catalog: the plain regional pattern. */
        {SM_SERVICE_SERVICECATALOG, "eu-central-1", false, false, "https://servicecatalog.eu-central-1.amazonaws.com", "eu-central-1", "aws"},
        {SM_SERVICE_SERVICECATALOG, "us-gov-west-1", true, false, "https://servicecatalog-fips.us-gov-west-1.amazonaws.com", "us-gov-west-1", "aws-us-gov"},
        {SM_SERVICE_SERVICECATALOG, "us-iso-east-1", false, true, "https://servicecatalog.us-iso-east-1.api.aws.ic.gov", "us-iso-east-1", "aws-iso"},
        {SM_SERVICE_SERVICECATALOG, "eu-isoe-west-1", true, false, "https://servicecatalog-fips.eu-isoe-west-1.cloud.adc-e.uk", "eu-isoe-west-1", "aws-iso-e"},
        {SM_SERVICE_SERVICECATALOG, "us-isob-east-1", true, true, "https://servicecatalog-fips.us-isob-east-1.api.aws.scloud", "us-isob-east-1", "aws-iso-b"},
        {SM_SERVICE_SERVICECATALOG, "xx-yyyy-1", false, false, "https://servicecatalog.xx-yyyy-1.amazonaws.com", "xx-yyyy-1", "aws"},
};
/* clang-format on */

START_TEST(test_resolve)
{
        const resolve_case *c = &resolve_cases[_i];
        sm_endpoint_settings s = {
                .region = c->region, .use_fips = c->fips, .use_dualstack = c->dualstack};
        sm_endpoint e = {0};
        char *error = NULL;
        int r;

        r = sm_endpoint_resolve(sm_aws_service_get(c->svc), &s, &e, &error);
        ck_assert_msg(r == 0, "%s %s: %s", sm_aws_service_get(c->svc)->name, c->region,
                      error ? error : "?");
        ck_assert_ptr_null(error);
        ck_assert_str_eq(e.url, c->url);
        ck_assert_str_eq(e.host, c->url + strlen("https://"));
        ck_assert_str_eq(e.signing_region, c->signing_region);
        ck_assert_str_eq(e.signing_name, sm_aws_service_get(c->svc)->signing_name);
        ck_assert_str_eq(e.partition, c->partition);
        sm_endpoint_done(&e);
        ck_assert_ptr_null(e.url);
}
END_TEST

typedef struct override_case {
        sm_service_id svc;
        const char *region;
        bool fips;
        const char *override;
        const char *url;
        const char *host;
        const char *signing_region;
} override_case;

/* One case per line: easier to read than to wrap. */
/* clang-format off */
static const override_case override_cases[] = {
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, "http://127.0.0.1:4566", "http://127.0.0.1:4566", "127.0.0.1:4566", "eu-west-1"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, "http://127.0.0.1:4566/", "http://127.0.0.1:4566", "127.0.0.1:4566", "eu-west-1"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, "https://example.com/base/path//", "https://example.com/base/path", "example.com", "eu-west-1"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, "HTTPS://Example.COM", "https://Example.COM", "Example.COM", "eu-west-1"},
        /* The default port is not part of the Host header. */
        {SM_SERVICE_STS, "us-east-1", false, "https://sts.example.com:443/", "https://sts.example.com:443", "sts.example.com", "us-east-1"},
        {SM_SERVICE_STS, "us-east-1", false, "http://sts.example.com:80", "http://sts.example.com:80", "sts.example.com", "us-east-1"},
        {SM_SERVICE_STS, "us-east-1", false, "http://sts.example.com:443", "http://sts.example.com:443", "sts.example.com:443", "us-east-1"},
        {SM_SERVICE_STS, "us-east-1", false, "https://[::1]:8443/x", "https://[::1]:8443/x", "[::1]:8443", "us-east-1"},
        {SM_SERVICE_STS, "us-east-1", false, "http://[fd00:ec2::23]", "http://[fd00:ec2::23]", "[fd00:ec2::23]", "us-east-1"},
        {SM_SERVICE_STS, "us-east-1", false, "http://localhost", "http://localhost", "localhost", "us-east-1"},
        /* IAM with an endpoint URL signs for the configured region, as
         * botocore does; FIPS is dropped with an endpoint URL. */
        {SM_SERVICE_IAM, "eu-west-1", false, "http://localhost:4566", "http://localhost:4566", "localhost:4566", "eu-west-1"},
        {SM_SERVICE_IAM, "cn-north-1", true, "http://localhost:4566", "http://localhost:4566", "localhost:4566", "cn-north-1"},
        {SM_SERVICE_SAGEMAKER, "us-east-1-fips", false, "http://localhost:4566", "http://localhost:4566", "localhost:4566", "us-east-1"},
};
/* clang-format on */

START_TEST(test_override)
{
        const override_case *c = &override_cases[_i];
        sm_endpoint_settings s = {.region = c->region,
                                  .use_fips = c->fips,
                                  .use_dualstack = c->fips,
                                  .override_url = c->override};
        sm_endpoint e = {0};
        char *error = NULL;
        int r;

        r = sm_endpoint_resolve(sm_aws_service_get(c->svc), &s, &e, &error);
        ck_assert_msg(r == 0, "%s: %s", c->override, error ? error : "?");
        ck_assert_str_eq(e.url, c->url);
        ck_assert_str_eq(e.host, c->host);
        ck_assert_str_eq(e.signing_region, c->signing_region);
        ck_assert_str_eq(e.signing_name, sm_aws_service_get(c->svc)->signing_name);
        ck_assert_str_eq(e.partition, sm_region_partition(c->signing_region));
        sm_endpoint_done(&e);
}
END_TEST

typedef struct error_case {
        sm_service_id svc;
        const char *region;
        bool fips;
        bool dualstack;
        const char *override;
        const char *error;
} error_case;

/* One case per line: easier to read than to wrap. */
/* clang-format off */
static const error_case error_cases[] = {
        {SM_SERVICE_SAGEMAKER, NULL, false, false, NULL, "no AWS region for sagemaker: set region in the daemon config, AWS_REGION or the profile"},
        {SM_SERVICE_IAM, "", false, false, NULL, "no AWS region for iam: set region in the daemon config, AWS_REGION or the profile"},
        {SM_SERVICE_STS, NULL, false, false, "http://localhost:4566", "no AWS region for sts: set region in the daemon config, AWS_REGION or the profile"},
        {SM_SERVICE_STS, "EU-WEST-1", false, false, NULL, "invalid AWS region \"EU-WEST-1\" for sts: expected a name like eu-west-1 (lower-case letters, digits and '-')"},
        {SM_SERVICE_SAGEMAKER, "eu_west_1", false, false, NULL, "invalid AWS region \"eu_west_1\" for sagemaker: expected a name like eu-west-1 (lower-case letters, digits and '-')"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1.evil.com", false, false, NULL, "invalid AWS region \"eu-west-1.evil.com\" for sagemaker: expected a name like eu-west-1 (lower-case letters, digits and '-')"},
        {SM_SERVICE_SAGEMAKER, "fips-1", false, false, NULL, "invalid AWS region \"fips-1\" for sagemaker"},
        /* botocore refuses dual-stack in these two partitions. */
        {SM_SERVICE_SAGEMAKER, "eu-isoe-west-1", false, true, NULL, "sagemaker: dual-stack endpoints are enabled, but partition aws-iso-e has none"},
        {SM_SERVICE_IAM, "us-isof-south-1", false, true, NULL, "iam: dual-stack endpoints are enabled, but partition aws-iso-f has none"},
        {SM_SERVICE_STS, "us-isof-east-1", true, true, NULL, "sts: FIPS and dual-stack endpoints are enabled, but partition aws-iso-f does not offer one or both"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, false, "localhost:4566", "endpoint URL \"localhost:4566\": scheme must be http or https"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, false, "ftp://h", "endpoint URL \"ftp://h\": scheme must be http or https"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, false, "", "endpoint URL \"\": scheme must be http or https"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, false, "http://", "endpoint URL \"http://\": missing or invalid host"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, false, "http:///x", "endpoint URL \"http:///x\": missing or invalid host"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, false, "http://h_x", "endpoint URL \"http://h_x\": missing or invalid host"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, false, "http://-h", "endpoint URL \"http://-h\": missing or invalid host"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, false, "http://h-", "endpoint URL \"http://h-\": missing or invalid host"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, false, "http://a..b", "endpoint URL \"http://a..b\": missing or invalid host"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, false, "http://u@h", "endpoint URL \"http://u@h\": user information is not allowed"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, false, "http://h:0", "endpoint URL \"http://h:0\": invalid port"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, false, "http://h:65536", "endpoint URL \"http://h:65536\": invalid port"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, false, "http://h:", "endpoint URL \"http://h:\": invalid port"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, false, "http://h:8x", "endpoint URL \"http://h:8x\": invalid port"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, false, "http://h:-1", "endpoint URL \"http://h:-1\": invalid port"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, false, "http://[::1", "endpoint URL \"http://[::1\": malformed IPv6 address"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, false, "http://[zz::1]", "endpoint URL \"http://[zz::1]\": malformed IPv6 address"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, false, "http://[::1]x", "endpoint URL \"http://[::1]x\": missing or invalid host"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, false, "http://h/x?y=1", "endpoint URL \"http://h/x?y=1\": only scheme://host[:port][/path] is allowed (no spaces, query or fragment)"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, false, "http://h#f", "endpoint URL \"http://h#f\": only scheme://host[:port][/path] is allowed (no spaces, query or fragment)"},
        {SM_SERVICE_SAGEMAKER, "eu-west-1", false, false, "http://h /x", "endpoint URL \"http://h /x\": only scheme://host[:port][/path] is allowed (no spaces, query or fragment)"},
};
/* clang-format on */

START_TEST(test_errors)
{
        const error_case *c = &error_cases[_i];
        sm_endpoint_settings s = {.region = c->region,
                                  .use_fips = c->fips,
                                  .use_dualstack = c->dualstack,
                                  .override_url = c->override};
        sm_endpoint e = {0};
        char *error = NULL;

        ck_assert_int_eq(sm_endpoint_resolve(sm_aws_service_get(c->svc), &s, &e, &error), -EINVAL);
        ck_assert_ptr_nonnull(error);
        ck_assert_str_eq(error, c->error);
        /* Nothing is written on failure. */
        ck_assert_ptr_null(e.url);
        ck_assert_ptr_null(e.host);
        free(error);
}
END_TEST

START_TEST(test_errors_without_message)
{
        sm_endpoint_settings s = {.region = NULL};
        sm_endpoint e = {0};

        ck_assert_int_eq(sm_endpoint_resolve(sm_aws_service_get(SM_SERVICE_STS), &s, &e, NULL),
                         -EINVAL);
        ck_assert_int_eq(sm_endpoint_resolve(NULL, &s, &e, NULL), -EINVAL);
        sm_endpoint_done(&e);
        sm_endpoint_done(NULL);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("endpoint");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_service_table);
        tcase_add_test(tc, test_service_by_name);
        tcase_add_loop_test(tc, test_region_partition, 0, ELEMENTSOF(partition_cases));
        tcase_add_test(tc, test_region_partition_null);
        tcase_add_test(tc, test_region_is_valid);
        tcase_add_loop_test(tc, test_resolve, 0, ELEMENTSOF(resolve_cases));
        tcase_add_loop_test(tc, test_override, 0, ELEMENTSOF(override_cases));
        tcase_add_loop_test(tc, test_errors, 0, ELEMENTSOF(error_cases));
        tcase_add_test(tc, test_errors_without_message);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
