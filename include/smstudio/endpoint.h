/* SPDX-License-Identifier: Apache-2.0 */
/* The AWS services smstudio calls, and where each one is: partitions,
 * regional and global endpoints, FIPS and dual-stack, and configured
 * endpoint overrides. Pure: callers pass the settings in. */
#pragma once

#include <stdbool.h>

typedef enum sm_aws_protocol {
        SM_AWS_PROTOCOL_JSON_1_1,
        SM_AWS_PROTOCOL_QUERY,
} sm_aws_protocol;

typedef enum sm_service_id {
        SM_SERVICE_SAGEMAKER,
        SM_SERVICE_IAM,
        SM_SERVICE_STS,
        SM_SERVICE_SERVICECATALOG,
        _SM_SERVICE_MAX,
} sm_service_id;

typedef struct sm_aws_service {
        sm_service_id id;
        const char *name;       /* "sagemaker": config keys, logs, metrics */
        const char *service_id; /* AWS serviceId: "SageMaker", "Service Catalog" */
        const char *env_suffix; /* AWS_ENDPOINT_URL_<suffix>: "SAGEMAKER", "SERVICE_CATALOG" */
        const char *config_key; /* key in a [services] section: "sagemaker", "service_catalog" */
        const char *endpoint_prefix; /* "api.sagemaker", "iam", "sts", "servicecatalog" */
        const char *signing_name;    /* "sagemaker", "iam", "sts", "servicecatalog" */
        sm_aws_protocol protocol;
        const char *api_version;   /* "2017-07-24", ... */
        const char *target_prefix; /* JSON X-Amz-Target prefix, NULL for Query */
        bool global;               /* one endpoint per partition (IAM) */
} sm_aws_service;

/* The descriptor of a service; never NULL for a valid id. */
const sm_aws_service *sm_aws_service_get(sm_service_id id);
/* Look up by name ("sagemaker", "iam", "sts", "servicecatalog"); NULL if unknown. */
const sm_aws_service *sm_aws_service_by_name(const char *name);

typedef struct sm_endpoint_settings {
        const char *region;
        bool use_fips;
        bool use_dualstack;
        /* A configured URL for this service, already chosen by precedence
         * (sm_aws_settings does that), or NULL for the partition default. */
        const char *override_url;
} sm_endpoint_settings;

typedef struct sm_endpoint {
        char *url;  /* "https://api.sagemaker.eu-west-1.amazonaws.com" (no trailing '/') */
        char *host; /* Host header value (with :port when not default) */
        char *signing_region; /* "us-east-1" for IAM in the aws partition */
        const char *signing_name;
        const char *partition; /* "aws", "aws-cn", "aws-us-gov", ... (static) */
} sm_endpoint;

/* Resolve where to send svc's requests. Returns 0, or -EINVAL with
 * *ret_error (malloc'ed) saying why: no region, a malformed region, an
 * override URL that is not http(s)://host[:port][/path], FIPS not offered. */
int sm_endpoint_resolve(const sm_aws_service *svc, const sm_endpoint_settings *s, sm_endpoint *ret,
                        char **ret_error);

void sm_endpoint_done(sm_endpoint *e);

/* The partition id a region belongs to ("aws" for unknown shapes). */
const char *sm_region_partition(const char *region);

/* True when region looks like an AWS region name ("eu-west-1"). */
bool sm_region_is_valid(const char *region);
