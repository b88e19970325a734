/* SPDX-License-Identifier: Apache-2.0 */
/* Service descriptors and endpoint resolution. The values are the services'
 * own model metadata and endpoint rule sets (../shared/aws-models: botocore's
 * data directory), transcribed into tables here so that resolving an endpoint
 * needs no data files at run time. tests/integration/test_endpoints_botocore.py
 * compares every table entry with botocore's rule engine reading those files. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smstudio/endpoint.h"
#include "smstudio/macro.h"

/* metadata of each service-2.json: serviceId, endpointPrefix, signingName
 * (the endpoint prefix when absent), protocol, apiVersion, targetPrefix. The
 * environment suffix and config key follow the SDKs' rule for serviceId:
 * spaces become '_', upper case for the variable, lower case for the key. */
/* clang-format off */
static const sm_aws_service services[_SM_SERVICE_MAX] = {
        [SM_SERVICE_SAGEMAKER] = {
                .id = SM_SERVICE_SAGEMAKER,
                .name = "sagemaker",
                .service_id = "SageMaker",
                .env_suffix = "SAGEMAKER",
                .config_key = "sagemaker",
                .endpoint_prefix = "api.sagemaker",
                .signing_name = "sagemaker",
                .protocol = SM_AWS_PROTOCOL_JSON_1_1,
                .api_version = "2017-07-24",
                .target_prefix = "SageMaker",
                .global = false,
        },
        [SM_SERVICE_IAM] = {
                .id = SM_SERVICE_IAM,
                .name = "iam",
                .service_id = "IAM",
                .env_suffix = "IAM",
                .config_key = "iam",
                .endpoint_prefix = "iam",
                .signing_name = "iam",
                .protocol = SM_AWS_PROTOCOL_QUERY,
                .api_version = "2010-05-08",
                .target_prefix = NULL,
                .global = true,
        },
        [SM_SERVICE_STS] = {
                .id = SM_SERVICE_STS,
                .name = "sts",
                .service_id = "STS",
                .env_suffix = "STS",
                .config_key = "sts",
                .endpoint_prefix = "sts",
                .signing_name = "sts",
                .protocol = SM_AWS_PROTOCOL_QUERY,
                .api_version = "2011-06-15",
                .target_prefix = NULL,
                .global = false,
        },
        [SM_SERVICE_SERVICECATALOG] = {
                .id = SM_SERVICE_SERVICECATALOG,
                .name = "servicecatalog",
                .service_id = "Service Catalog",
                .env_suffix = "SERVICE_CATALOG",
                .config_key = "service_catalog",
                .endpoint_prefix = "servicecatalog",
                .signing_name = "servicecatalog",
                .protocol = SM_AWS_PROTOCOL_JSON_1_1,
                .api_version = "2015-12-10",
                .target_prefix = "AWS242ServiceCatalogService",
                .global = false,
        },
};
/* clang-format on */

const sm_aws_service *sm_aws_service_get(sm_service_id id)
{
        if ((unsigned)id >= _SM_SERVICE_MAX)
                return NULL;
        return &services[id];
}

const sm_aws_service *sm_aws_service_by_name(const char *name)
{
        if (!name)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(services); i++)
                if (streq(services[i].name, name))
                        return &services[i];
        return NULL;
}

/* partitions.json. A region belongs to the first partition that lists it,
 * else to the first whose regionRegex it matches, else to "aws" (the rule
 * engine's aws.partition). Every regionRegex has the shape
 * ^PREFIX-\w+-\d+$ with PREFIX one of a few literals, so the match is written
 * out (region_matches) instead of compiling regular expressions. */
typedef struct partition {
        const char *id;
        const char *dns_suffix;
        const char *dualstack_dns_suffix;
        const char *implicit_global_region;
        bool supports_fips;
        bool supports_dualstack;
        /* botocore refuses dual-stack here although partitions.json offers
         * it: its older endpoints.json, consulted before the rule set, has
         * no dual-stack variant for these partitions (EndpointVariantError).
         * In aws-iso and aws-iso-b it lacks one too, but botocore skips
         * that table there and follows the rule set. */
        bool dualstack_refused;
        const char *const *prefixes; /* NULL-terminated */
        const char *const *regions;  /* NULL-terminated */
} partition;

static const char *const aws_prefixes[] = {"us", "eu", "ap", "sa", "ca",
                                           "me", "af", "il", "mx", NULL};
static const char *const aws_regions[] = {
        "af-south-1",     "ap-east-1",      "ap-east-2",      "ap-northeast-1",
        "ap-northeast-2", "ap-northeast-3", "ap-south-1",     "ap-south-2",
        "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
        "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "aws-global",
        "ca-central-1",   "ca-west-1",      "eu-central-1",   "eu-central-2",
        "eu-north-1",     "eu-south-1",     "eu-south-2",     "eu-west-1",
        "eu-west-2",      "eu-west-3",      "il-central-1",   "me-central-1",
        "me-south-1",     "mx-central-1",   "sa-east-1",      "us-east-1",
        "us-east-2",      "us-west-1",      "us-west-2",      NULL,
};
static const char *const cn_prefixes[] = {"cn", NULL};
static const char *const cn_regions[] = {"aws-cn-global", "cn-north-1", "cn-northwest-1", NULL};
static const char *const eusc_prefixes[] = {"eusc-de", NULL};
static const char *const eusc_regions[] = {"eusc-de-east-1", NULL};
static const char *const iso_prefixes[] = {"us-iso", NULL};
static const char *const iso_regions[] = {"aws-iso-global", "us-iso-east-1", "us-iso-west-1", NULL};
static const char *const isob_prefixes[] = {"us-isob", NULL};
static const char *const isob_regions[] = {"aws-iso-b-global", "us-isob-east-1", "us-isob-west-1",
                                           NULL};
static const char *const isoe_prefixes[] = {"eu-isoe", NULL};
static const char *const isoe_regions[] = {"aws-iso-e-global", "eu-isoe-west-1", NULL};
static const char *const isof_prefixes[] = {"us-isof", NULL};
static const char *const isof_regions[] = {"aws-iso-f-global", "us-isof-east-1", "us-isof-south-1",
                                           NULL};
static const char *const gov_prefixes[] = {"us-gov", NULL};
static const char *const gov_regions[] = {"aws-us-gov-global", "us-gov-east-1", "us-gov-west-1",
                                          NULL};

/* In the file's order, which decides between overlapping regexes. */
/* clang-format off */
static const partition partitions[] = {
        {"aws", "amazonaws.com", "api.aws", "us-east-1", true, true, false,
         aws_prefixes, aws_regions},
        {"aws-cn", "amazonaws.com.cn", "api.amazonwebservices.com.cn", "cn-northwest-1", true, true,
         false, cn_prefixes, cn_regions},
        {"aws-eusc", "amazonaws.eu", "api.amazonwebservices.eu", "eusc-de-east-1", true, true,
         false, eusc_prefixes, eusc_regions},
        {"aws-iso", "c2s.ic.gov", "api.aws.ic.gov", "us-iso-east-1", true, true, false,
         iso_prefixes, iso_regions},
        {"aws-iso-b", "sc2s.sgov.gov", "api.aws.scloud", "us-isob-east-1", true, true, false,
         isob_prefixes, isob_regions},
        {"aws-iso-e", "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk", "eu-isoe-west-1", true, true,
         true, isoe_prefixes, isoe_regions},
        {"aws-iso-f", "csp.hci.ic.gov", "api.aws.hci.ic.gov", "us-isof-south-1", true, true, true,
         isof_prefixes, isof_regions},
        {"aws-us-gov", "amazonaws.com", "api.aws", "us-gov-west-1", true, true, false,
         gov_prefixes, gov_regions},
};
/* clang-format on */

static bool is_word_char(char c)
{
        return isalnum((unsigned char)c) || c == '_';
}

/* ^PREFIX-\w+-\d+$ for one of the prefixes. \w excludes '-', so the middle
 * part runs to the next '-' and the digits must end the string. */
static bool region_matches(const char *const *prefixes, const char *region)
{
        for (const char *const *p = prefixes; *p; p++) {
                size_t n = strlen(*p);
                const char *s = region + n, *w;

                if (strncmp(region, *p, n) != 0 || *s != '-')
                        continue;
                s++;
                for (w = s; is_word_char(*s); s++)
                        ;
                if (s == w || *s != '-')
                        continue;
                s++;
                for (w = s; isdigit((unsigned char)*s); s++)
                        ;
                if (s != w && *s == '\0')
                        return true;
        }
        return false;
}

static const partition *partition_of(const char *region)
{
        for (size_t i = 0; i < ELEMENTSOF(partitions); i++)
                for (const char *const *r = partitions[i].regions; *r; r++)
                        if (streq(*r, region))
                                return &partitions[i];
        for (size_t i = 0; i < ELEMENTSOF(partitions); i++)
                if (region_matches(partitions[i].prefixes, region))
                        return &partitions[i];
        return &partitions[0];
}

const char *sm_region_partition(const char *region)
{
        if (!region)
                return partitions[0].id;
        return partition_of(region)->id;
}

/* botocore's validate_region_name (a DNS label: letters, digits and '-', at
 * most 63, no leading or trailing '-', not all digits), restricted to lower
 * case: the region becomes part of a host name and of the SigV4 credential
 * scope, and AWS only verifies scopes with the lower-case region name, so an
 * upper-case one could never work and is refused here rather than by AWS. */
bool sm_region_is_valid(const char *region)
{
        size_t n;
        bool all_digits = true;

        if (!region)
                return false;
        n = strlen(region);
        if (n == 0 || n > 63 || region[0] == '-' || region[n - 1] == '-')
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = region[i];

                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
                        return false;
                if (!isdigit((unsigned char)c))
                        all_digits = false;
        }
        return !all_digits;
}

/* One endpoint of a rule set. Rules of a service are tried in order; the
 * first whose conditions hold gives the host (and signing region) templates:
 * {region}, {dns} (dnsSuffix), {dsdns} (dualStackDnsSuffix), {global}
 * (implicitGlobalRegion). A NULL signing template means the region itself. */
typedef struct endpoint_rule {
        const char *partition; /* NULL = any */
        const char *region;    /* NULL = any */
        bool fips;
        bool dualstack;
        const char *host;
        const char *signing_region;
} endpoint_rule;

/* sagemaker/endpoint-rule-set-1.json. FIPS hosts in aws and aws-us-gov put
 * "-fips" on "api", elsewhere on "sagemaker". */
static const endpoint_rule sagemaker_rules[] = {
        {NULL, NULL, true, true, "api.sagemaker-fips.{region}.{dsdns}", NULL},
        {"aws", NULL, true, false, "api-fips.sagemaker.{region}.amazonaws.com", NULL},
        {"aws-us-gov", NULL, true, false, "api-fips.sagemaker.{region}.amazonaws.com", NULL},
        {NULL, NULL, true, false, "api.sagemaker-fips.{region}.{dns}", NULL},
        {NULL, NULL, false, true, "api.sagemaker.{region}.{dsdns}", NULL},
        {NULL, NULL, false, false, "api.sagemaker.{region}.{dns}", NULL},
};

/* iam/endpoint-rule-set-1.json: one global endpoint per partition and
 * variant, each with its own signing region; the generic rules at the end
 * cover partitions the rule set does not list by name. In aws-us-gov the
 * FIPS variants are the ordinary hosts (GovCloud IAM is FIPS already). */
static const endpoint_rule iam_rules[] = {
        {"aws", NULL, false, false, "iam.amazonaws.com", "us-east-1"},
        {"aws", NULL, true, false, "iam-fips.amazonaws.com", "us-east-1"},
        {"aws", NULL, false, true, "iam.global.api.aws", "us-east-1"},
        {"aws", NULL, true, true, "iam-fips.global.api.aws", "us-east-1"},
        {"aws-cn", NULL, false, true, "iam.global.api.amazonwebservices.com.cn", "cn-north-1"},
        {"aws-cn", NULL, true, true, "iam-fips.api.amazonwebservices.com.cn", "cn-north-1"},
        {"aws-cn", NULL, false, false, "iam.cn-north-1.amazonaws.com.cn", "cn-north-1"},
        {"aws-cn", NULL, true, false, "iam-fips.amazonaws.com.cn", "cn-north-1"},
        {"aws-us-gov", NULL, false, true, "iam.us-gov.api.aws", "us-gov-west-1"},
        {"aws-us-gov", NULL, true, true, "iam.us-gov.api.aws", "us-gov-west-1"},
        {"aws-us-gov", NULL, false, false, "iam.us-gov.amazonaws.com", "us-gov-west-1"},
        {"aws-us-gov", NULL, true, false, "iam.us-gov.amazonaws.com", "us-gov-west-1"},
        {"aws-iso", NULL, false, false, "iam.us-iso-east-1.c2s.ic.gov", "us-iso-east-1"},
        {"aws-iso", NULL, true, false, "iam-fips.us-iso-east-1.c2s.ic.gov", "us-iso-east-1"},
        {"aws-iso", NULL, false, true, "iam.api.aws.ic.gov", "us-iso-east-1"},
        {"aws-iso", NULL, true, true, "iam-fips.api.aws.ic.gov", "us-iso-east-1"},
        {"aws-iso-b", NULL, false, false, "iam.us-isob-east-1.sc2s.sgov.gov", "us-isob-east-1"},
        {"aws-iso-b", NULL, true, false, "iam-fips.us-isob-east-1.sc2s.sgov.gov", "us-isob-east-1"},
        {"aws-iso-b", NULL, false, true, "iam.api.aws.scloud", "us-isob-east-1"},
        {"aws-iso-b", NULL, true, true, "iam-fips.api.aws.scloud", "us-isob-east-1"},
        {"aws-iso-e", NULL, false, false, "iam.eu-isoe-west-1.cloud.adc-e.uk", "eu-isoe-west-1"},
        {"aws-iso-e", NULL, true, false, "iam-fips.cloud.adc-e.uk", "eu-isoe-west-1"},
        {"aws-iso-e", NULL, false, true, "iam.api.cloud-aws.adc-e.uk", "eu-isoe-west-1"},
        {"aws-iso-e", NULL, true, true, "iam-fips.api.cloud-aws.adc-e.uk", "eu-isoe-west-1"},
        {"aws-iso-f", NULL, false, false, "iam.us-isof-south-1.csp.hci.ic.gov", "us-isof-south-1"},
        {"aws-iso-f", NULL, true, false, "iam-fips.csp.hci.ic.gov", "us-isof-south-1"},
        {"aws-iso-f", NULL, false, true, "iam.api.aws.hci.ic.gov", "us-isof-south-1"},
        {"aws-iso-f", NULL, true, true, "iam-fips.api.aws.hci.ic.gov", "us-isof-south-1"},
        {"aws-eusc", NULL, false, false, "iam.eusc-de-east-1.amazonaws.eu", "eusc-de-east-1"},
        {"aws-eusc", NULL, true, false, "iam-fips.amazonaws.eu", "eusc-de-east-1"},
        {"aws-eusc", NULL, false, true, "iam.global.api.amazonwebservices.eu", "eusc-de-east-1"},
        {"aws-eusc", NULL, true, true, "iam-fips.api.amazonwebservices.eu", "eusc-de-east-1"},
        {NULL, NULL, true, true, "iam-fips.{global}.{dsdns}", "{global}"},
        {NULL, NULL, true, false, "iam-fips.{global}.{dns}", "{global}"},
        {NULL, NULL, false, true, "iam.{global}.{dsdns}", "{global}"},
        {NULL, NULL, false, false, "iam.{global}.{dns}", "{global}"},
};

/* sts/endpoint-rule-set-1.json with UseGlobalEndpoint false (botocore's and
 * the SDKs' default: regional STS). The pseudo-region aws-global still names
 * the legacy global endpoint; in GovCloud the FIPS host is the regular one. */
static const endpoint_rule sts_rules[] = {
        {NULL, NULL, true, true, "sts-fips.{region}.{dsdns}", NULL},
        {"aws-us-gov", NULL, true, false, "sts.{region}.amazonaws.com", NULL},
        {NULL, NULL, true, false, "sts-fips.{region}.{dns}", NULL},
        {NULL, NULL, false, true, "sts.{region}.{dsdns}", NULL},
        {NULL, "aws-global", false, false, "sts.amazonaws.com", "us-east-1"},
        {NULL, NULL, false, false, "sts.{region}.{dns}", NULL},
};

/* servicecatalog/endpoint-rule-set-1.json: the standard regional pattern. */
static const endpoint_rule servicecatalog_rules[] = {
        {NULL, NULL, true, true, "servicecatalog-fips.{region}.{dsdns}", NULL},
        {NULL, NULL, true, false, "servicecatalog-fips.{region}.{dns}", NULL},
        {NULL, NULL, false, true, "servicecatalog.{region}.{dsdns}", NULL},
        {NULL, NULL, false, false, "servicecatalog.{region}.{dns}", NULL},
};

/* When a rule set names no signing region, botocore signs with the
 * credentialScope its older endpoints.json gives the region, if any. These
 * are the entries of our services where that differs from the region itself
 * and no rule set authScheme decides first (FIPS pseudo-names are stripped
 * before, so "us-gov-west-1-fips-secondary" lands here too). */
static const struct {
        sm_service_id svc;
        const char *region;
        const char *signing_region;
} legacy_scopes[] = {
        {SM_SERVICE_STS, "aws-global", "us-east-1"},
        {SM_SERVICE_SAGEMAKER, "us-gov-west-1-secondary", "us-gov-west-1"},
};

typedef struct rule_table {
        const endpoint_rule *rules;
        size_t n;
} rule_table;

static const rule_table rule_tables[_SM_SERVICE_MAX] = {
        [SM_SERVICE_SAGEMAKER] = {sagemaker_rules, ELEMENTSOF(sagemaker_rules)},
        [SM_SERVICE_IAM] = {iam_rules, ELEMENTSOF(iam_rules)},
        [SM_SERVICE_STS] = {sts_rules, ELEMENTSOF(sts_rules)},
        [SM_SERVICE_SERVICECATALOG] = {servicecatalog_rules, ELEMENTSOF(servicecatalog_rules)},
};

static int set_error(char **ret_error, const char *fmt, ...) _printf_(2, 3);
static int set_error(char **ret_error, const char *fmt, ...)
{
        va_list ap;
        char *s = NULL;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        if (ret_error)
                *ret_error = s;
        else
                free(s);
        return -EINVAL;
}

/* Expand a host or signing-region template. */
static char *expand(const char *tmpl, const char *region, const partition *p)
{
        static const struct {
                const char *name;
                size_t offset;
        } vars[] = {
                {"{dns}", offsetof(partition, dns_suffix)},
                {"{dsdns}", offsetof(partition, dualstack_dns_suffix)},
                {"{global}", offsetof(partition, implicit_global_region)},
        };
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);

        if (!f)
                return NULL;
        for (const char *s = tmpl; *s;) {
                const char *value = NULL;
                size_t n = 0;

                if (*s == '{') {
                        if (strncmp(s, "{region}", 8) == 0) {
                                value = region;
                                n = 8;
                        }
                        for (size_t i = 0; !value && i < ELEMENTSOF(vars); i++) {
                                n = strlen(vars[i].name);
                                if (strncmp(s, vars[i].name, n) == 0)
                                        value = *(const char *const *)((const char *)p +
                                                                       vars[i].offset);
                        }
                }
                if (value) {
                        fputs(value, f);
                        s += n;
                } else {
                        fputc(*s++, f);
                }
        }
        if (fclose(f) != 0) {
                free(out);
                return NULL;
        }
        return out;
}

/* DNS labels of letters, digits and '-' (1-63 characters, no '-' at either
 * end) separated by dots, as botocore's is_valid_endpoint_url wants; an IPv4
 * address passes as such a name. */
static bool valid_hostname(const char *h, size_t n)
{
        size_t label = 0;

        if (n == 0 || n > 253)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = h[i];

                if (c == '.') {
                        if (label == 0 || h[i - 1] == '-')
                                return false;
                        label = 0;
                } else if (isalnum((unsigned char)c) || (c == '-' && label > 0)) {
                        if (++label > 63)
                                return false;
                } else {
                        return false;
                }
        }
        return label > 0 && h[n - 1] != '-';
}

/* Split an override URL into scheme, host[:port] and path, as the rule sets'
 * parseURL and botocore's is_valid_endpoint_url accept it: http or https, a
 * host name (DNS labels), an IPv4 address or a bracketed IPv6 address, an
 * optional port and an optional path; no user info, query or fragment, which
 * would change what is signed. Writes the normalised URL (lower-case scheme,
 * trailing '/' removed) and the Host header value. */
static int parse_override(const char *url, char **ret_url, char **ret_host, char **ret_error)
{
        _cleanup_free_ char *host = NULL, *out = NULL;
        const char *s, *h, *hend, *path;
        bool https;
        unsigned long port = 0;
        size_t plen;

        if (strncasecmp(url, "https://", 8) == 0) {
                https = true;
                s = url + 8;
        } else if (strncasecmp(url, "http://", 7) == 0) {
                https = false;
                s = url + 7;
        } else {
                return set_error(ret_error, "endpoint URL \"%s\": scheme must be http or https",
                                 url);
        }
        for (const char *c = url; *c; c++)
                if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '?' || *c == '#' || *c == '\\')
                        return set_error(ret_error,
                                         "endpoint URL \"%s\": only scheme://host[:port][/path] "
                                         "is allowed (no spaces, query or fragment)",
                                         url);

        h = s;
        if (*h == '[') {
                char addr[INET6_ADDRSTRLEN + 1];
                unsigned char buf[sizeof(struct in6_addr)];
                const char *close = strchr(h, ']');

                if (!close || (size_t)(close - h - 1) >= sizeof(addr))
                        return set_error(ret_error, "endpoint URL \"%s\": malformed IPv6 address",
                                         url);
                memcpy(addr, h + 1, close - h - 1);
                addr[close - h - 1] = '\0';
                if (inet_pton(AF_INET6, addr, buf) != 1)
                        return set_error(ret_error, "endpoint URL \"%s\": malformed IPv6 address",
                                         url);
                hend = close + 1;
        } else {
                hend = h + strcspn(h, ":/");
                if (memchr(h, '@', hend - h))
                        return set_error(ret_error,
                                         "endpoint URL \"%s\": user information is not allowed",
                                         url);
                if (!valid_hostname(h, hend - h))
                        return set_error(ret_error, "endpoint URL \"%s\": missing or invalid host",
                                         url);
        }
        path = hend;
        if (*path == ':') {
                char *end;

                if (!isdigit((unsigned char)path[1]))
                        return set_error(ret_error, "endpoint URL \"%s\": invalid port", url);
                errno = 0;
                port = strtoul(path + 1, &end, 10);
                if (errno || port == 0 || port > 65535 || (*end && *end != '/'))
                        return set_error(ret_error, "endpoint URL \"%s\": invalid port", url);
                path = end;
        }
        if (*path && *path != '/')
                return set_error(ret_error, "endpoint URL \"%s\": missing or invalid host", url);

        /* The Host header curl sends and SigV4 signs: the port only when it is
         * not the scheme's default. */
        if (port && port != (https ? 443 : 80)) {
                if (asprintf(&host, "%.*s:%lu", (int)(hend - h), h, port) < 0) {
                        host = NULL;
                        return -ENOMEM;
                }
        } else {
                host = strndup(h, hend - h);
                if (!host)
                        return -ENOMEM;
        }

        plen = strlen(path);
        while (plen > 0 && path[plen - 1] == '/')
                plen--;
        if (asprintf(&out, "%s://%.*s%.*s", https ? "https" : "http", (int)(path - h), h, (int)plen,
                     path) < 0) {
                out = NULL;
                return -ENOMEM;
        }
        *ret_url = TAKE_PTR(out);
        *ret_host = TAKE_PTR(host);
        return 0;
}

/* botocore (client.py _normalize_fips_region) still accepts the retired FIPS
 * pseudo-regions, "fips-us-gov-west-1" or "us-east-1-fips": it drops the
 * marker and turns FIPS on. We do the same so a config that works with the
 * AWS CLI works here. Returns a malloc'ed region; *fips is set when changed. */
static char *normalize_fips_region(const char *region, bool *fips)
{
        char *out = strdup(region), *p;

        if (!out)
                return NULL;
        while ((p = strstr(out, "fips-"))) {
                memmove(p, p + 5, strlen(p + 5) + 1);
                *fips = true;
        }
        while ((p = strstr(out, "-fips"))) {
                memmove(p, p + 5, strlen(p + 5) + 1);
                *fips = true;
        }
        return out;
}

int sm_endpoint_resolve(const sm_aws_service *svc, const sm_endpoint_settings *s, sm_endpoint *ret,
                        char **ret_error)
{
        _cleanup_free_ char *region = NULL, *url = NULL, *host = NULL, *signing = NULL;
        const partition *p;
        const rule_table *t;
        const endpoint_rule *rule = NULL;
        bool fips, dualstack;
        int r;

        if (!svc || (unsigned)svc->id >= _SM_SERVICE_MAX || !s || !ret)
                return -EINVAL;
        fips = s->use_fips;
        dualstack = s->use_dualstack;

        if (isempty(s->region))
                return set_error(ret_error,
                                 "no AWS region for %s: set region in the daemon config, "
                                 "AWS_REGION or the profile",
                                 svc->name);
        if (!sm_region_is_valid(s->region))
                return set_error(ret_error,
                                 "invalid AWS region \"%s\" for %s: expected a name like "
                                 "eu-west-1 (lower-case letters, digits and '-')",
                                 s->region, svc->name);
        region = normalize_fips_region(s->region, &fips);
        if (!region)
                return -ENOMEM;
        if (!sm_region_is_valid(region))
                return set_error(ret_error, "invalid AWS region \"%s\" for %s", s->region,
                                 svc->name);
        p = partition_of(region);

        if (s->override_url) {
                /* A configured endpoint is used as is. The rule sets would
                 * refuse it together with FIPS or dual-stack, but botocore
                 * never gets there: it drops both flags when an endpoint URL
                 * is set (args.py compute_endpoint_resolver_builtin_defaults),
                 * so an AWS_USE_FIPS_ENDPOINT meant for AWS does not break a
                 * local emulator. We follow botocore.
                 *
                 * The signing region is the configured region even for IAM:
                 * with an endpoint URL the rule sets return no authSchemes, so
                 * botocore signs IAM requests for, say, eu-west-1, not the
                 * us-east-1 of the global endpoint. Emulators accept either;
                 * doing what botocore does keeps us comparable with it. */
                r = parse_override(s->override_url, &url, &host, ret_error);
                if (r < 0)
                        return r;
                signing = TAKE_PTR(region);
                goto done;
        }

        t = &rule_tables[svc->id];
        for (size_t i = 0; i < t->n; i++) {
                const endpoint_rule *c = &t->rules[i];

                if (c->fips != fips || c->dualstack != dualstack)
                        continue;
                if (c->partition && !streq(c->partition, p->id))
                        continue;
                if (c->region && !streq(c->region, region))
                        continue;
                rule = c;
                break;
        }
        /* partitions.json says every partition offers both today, but
         * botocore refuses dual-stack in two of them (dualstack_refused);
         * the rule sets carry these errors for any partition that does not. */
        if (fips && dualstack &&
            (!p->supports_fips || !p->supports_dualstack || p->dualstack_refused))
                return set_error(ret_error,
                                 "%s: FIPS and dual-stack endpoints are enabled, but partition %s "
                                 "does not offer one or both",
                                 svc->name, p->id);
        if (fips && !p->supports_fips)
                return set_error(ret_error,
                                 "%s: FIPS endpoints are enabled, but partition %s has none",
                                 svc->name, p->id);
        if (dualstack && (!p->supports_dualstack || p->dualstack_refused))
                return set_error(ret_error,
                                 "%s: dual-stack endpoints are enabled, but partition %s has none",
                                 svc->name, p->id);
        if (!rule)
                return set_error(ret_error, "%s: no endpoint for region %s", svc->name, region);

        host = expand(rule->host, region, p);
        if (!host)
                return -ENOMEM;
        if (asprintf(&url, "https://%s", host) < 0) {
                url = NULL;
                return -ENOMEM;
        }
        if (rule->signing_region) {
                signing = expand(rule->signing_region, region, p);
                if (!signing)
                        return -ENOMEM;
        } else {
                for (size_t i = 0; !signing && i < ELEMENTSOF(legacy_scopes); i++)
                        if (legacy_scopes[i].svc == svc->id &&
                            streq(legacy_scopes[i].region, region)) {
                                signing = strdup(legacy_scopes[i].signing_region);
                                if (!signing)
                                        return -ENOMEM;
                        }
                if (!signing)
                        signing = TAKE_PTR(region);
        }

done:
        *ret = (sm_endpoint){
                .url = TAKE_PTR(url),
                .host = TAKE_PTR(host),
                .signing_region = TAKE_PTR(signing),
                .signing_name = svc->signing_name,
                .partition = p->id,
        };
        return 0;
}

void sm_endpoint_done(sm_endpoint *e)
{
        if (!e)
                return;
        free(e->url);
        free(e->host);
        free(e->signing_region);
        *e = (sm_endpoint){0};
}
