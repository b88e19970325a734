/* SPDX-License-Identifier: Apache-2.0 */
/* Settings precedence: overrides > environment > profile (credentials file
 * over config file) > defaults, for every setting, with every error message.
 * Each test starts from an environment without AWS_* variables and with
 * private config files; Check forks per test, so nothing leaks between them. */
#include <check.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "smstudio/macro.h"
#include "smstudio/settings.h"
#include "testmain.h"

extern char **environ;

static char *tmp;
static char *config_path;
static char *credentials_path;

static void setup(void)
{
        /* Unset every AWS_ variable (restart: unsetenv reshuffles environ). */
        for (bool again = true; again;) {
                again = false;
                for (char **e = environ; *e; e++)
                        if (strncmp(*e, "AWS_", 4) == 0) {
                                char *name = strndup(*e, strcspn(*e, "="));

                                ck_assert_ptr_nonnull(name);
                                unsetenv(name);
                                free(name);
                                again = true;
                                break;
                        }
        }
        tmp = sm_test_tmpdir();
        ck_assert_int_gt(asprintf(&config_path, "%s/config", tmp), 0);
        ck_assert_int_gt(asprintf(&credentials_path, "%s/credentials", tmp), 0);
        setenv("HOME", tmp, 1);
        setenv("AWS_CONFIG_FILE", config_path, 1);
        setenv("AWS_SHARED_CREDENTIALS_FILE", credentials_path, 1);
}

static void teardown(void)
{
        sm_test_rm_rf(tmp);
        free(tmp);
        free(config_path);
        free(credentials_path);
}

static void write_file(const char *path, const char *content)
{
        FILE *f = fopen(path, "w");

        ck_assert_ptr_nonnull(f);
        fputs(content, f);
        ck_assert_int_eq(fclose(f), 0);
}

static void config(const char *content)
{
        write_file(config_path, content);
}

static void credentials(const char *content)
{
        write_file(credentials_path, content);
}

static sm_aws_settings *resolve_ok(const sm_aws_overrides *o)
{
        sm_aws_settings *s = NULL;
        char *error = NULL;
        int r;

        r = sm_aws_settings_resolve(o, &s, &error);
        ck_assert_msg(r == 0, "resolve: %d %s", r, error ? error : "");
        ck_assert_ptr_nonnull(s);
        return s;
}

/* The error, with the temp dir written as "T". */
static char *resolve_error(const sm_aws_overrides *o)
{
        sm_aws_settings *s = NULL;
        char *error = NULL, *out;
        size_t n = strlen(tmp), len = 0;

        ck_assert_int_eq(sm_aws_settings_resolve(o, &s, &error), -EINVAL);
        ck_assert_ptr_null(s);
        ck_assert_ptr_nonnull(error);
        out = calloc(strlen(error) + 1, 1);
        ck_assert_ptr_nonnull(out);
        for (const char *p = error; *p;) {
                if (strncmp(p, tmp, n) == 0) {
                        out[len++] = 'T';
                        p += n;
                } else {
                        out[len++] = *p++;
                }
        }
        free(error);
        return out;
}

#define assert_error(o, expected)                                                                  \
        do {                                                                                       \
                _cleanup_free_ char *_e = resolve_error(o);                                        \
                ck_assert_str_eq(_e, expected);                                                    \
        } while (0)

START_TEST(test_overrides_init)
{
        sm_aws_overrides o;

        memset(&o, 0x5a, sizeof(o));
        sm_aws_overrides_init(&o);
        ck_assert_ptr_null(o.profile);
        ck_assert_ptr_null(o.region);
        ck_assert_ptr_null(o.ca_bundle);
        ck_assert_ptr_null(o.retry_mode);
        for (int i = 0; i < _SM_SERVICE_MAX; i++)
                ck_assert_ptr_null(o.endpoint_url[i]);
        ck_assert_uint_eq(o.max_attempts, 0);
        ck_assert_int_eq(o.use_fips, -1);
        ck_assert_int_eq(o.use_dualstack, -1);
}
END_TEST

START_TEST(test_defaults)
{
        sm_aws_settings *s = resolve_ok(NULL);

        ck_assert_str_eq(s->profile, "default");
        ck_assert(!s->profile_explicit);
        ck_assert_ptr_null(s->region);
        ck_assert_ptr_null(s->region_source);
        ck_assert_ptr_null(s->ca_bundle);
        ck_assert(!s->use_fips);
        ck_assert(!s->use_dualstack);
        ck_assert_int_eq(s->retry.mode, SM_RETRY_STANDARD);
        ck_assert_uint_eq(s->retry.max_attempts, 3);
        ck_assert(s->retry.rules_2026);
        for (int i = 0; i < _SM_SERVICE_MAX; i++) {
                ck_assert_ptr_null(s->endpoint_url[i]);
                ck_assert_ptr_null(s->endpoint_source[i]);
        }
        ck_assert(!s->imds_disabled);
        ck_assert_ptr_nonnull(s->files);
        ck_assert_str_eq(sm_aws_config_config_path(s->files), config_path);
        ck_assert_str_eq(sm_aws_config_credentials_path(s->files), credentials_path);
        sm_aws_settings_free(s);
        ck_assert_ptr_null(sm_aws_settings_free(NULL));
}
END_TEST

/* Profile: override > AWS_PROFILE > AWS_DEFAULT_PROFILE > "default"; only the
 * override is explicit (botocore: an instance variable, not AWS_PROFILE). */
static const struct {
        const char *override, *aws_profile, *aws_default_profile;
        const char *profile;
        bool is_explicit;
} profile_cases[] = {
        {NULL, NULL, NULL, "default", false}, {NULL, NULL, "c", "c", false},
        {NULL, "b", "c", "b", false},         {"a", "b", "c", "a", true},
        {"a", NULL, NULL, "a", true},         {"", "b", NULL, "b", false},
        {NULL, "", "c", "c", false},          {NULL, NULL, "default", "default", false},
};

START_TEST(test_profile_precedence)
{
        sm_aws_overrides o;
        sm_aws_settings *s;

        config("[profile a]\n[profile b]\n[profile c]\n");
        sm_aws_overrides_init(&o);
        o.profile = profile_cases[_i].override;
        if (profile_cases[_i].aws_profile)
                setenv("AWS_PROFILE", profile_cases[_i].aws_profile, 1);
        if (profile_cases[_i].aws_default_profile)
                setenv("AWS_DEFAULT_PROFILE", profile_cases[_i].aws_default_profile, 1);
        s = resolve_ok(&o);
        ck_assert_str_eq(s->profile, profile_cases[_i].profile);
        ck_assert_int_eq(s->profile_explicit, profile_cases[_i].is_explicit);
        sm_aws_settings_free(s);
}
END_TEST

START_TEST(test_profile_missing)
{
        sm_aws_overrides o;
        sm_aws_settings *s;

        config("[profile inconfig]\n");
        credentials("[increds]\n");
        sm_aws_overrides_init(&o);

        setenv("AWS_PROFILE", "nope", 1);
        assert_error(NULL, "profile \"nope\" (from AWS_PROFILE) is not in T/config or "
                           "T/credentials");
        unsetenv("AWS_PROFILE");
        setenv("AWS_DEFAULT_PROFILE", "nope", 1);
        assert_error(NULL, "profile \"nope\" (from AWS_DEFAULT_PROFILE) is not in T/config or "
                           "T/credentials");
        o.profile = "gone";
        assert_error(&o, "profile \"gone\" (from the daemon config) is not in T/config or "
                         "T/credentials");

        /* Either file will do; "default" may be absent. */
        o.profile = "inconfig";
        s = resolve_ok(&o);
        sm_aws_settings_free(s);
        o.profile = "increds";
        s = resolve_ok(&o);
        sm_aws_settings_free(s);
        o.profile = "default";
        s = resolve_ok(&o);
        ck_assert(s->profile_explicit);
        sm_aws_settings_free(s);
}
END_TEST

/* Region: override > AWS_REGION > AWS_DEFAULT_REGION > profile. */
static const struct {
        const char *override, *aws_region, *aws_default_region;
        const char *region, *source;
} region_cases[] = {
        {NULL, NULL, NULL, "eu-central-1", "profile dev"},
        {NULL, NULL, "us-west-1", "us-west-1", "AWS_DEFAULT_REGION"},
        {NULL, "us-west-2", "us-west-1", "us-west-2", "AWS_REGION"},
        {"ap-south-1", "us-west-2", "us-west-1", "ap-south-1", "the daemon config"},
        {"", "", "", "eu-central-1", "profile dev"},
};

START_TEST(test_region_precedence)
{
        sm_aws_overrides o;
        sm_aws_settings *s;

        config("[default]\nregion = us-east-1\n[profile dev]\nregion = eu-central-1\n");
        setenv("AWS_PROFILE", "dev", 1);
        sm_aws_overrides_init(&o);
        o.region = region_cases[_i].override;
        if (region_cases[_i].aws_region)
                setenv("AWS_REGION", region_cases[_i].aws_region, 1);
        if (region_cases[_i].aws_default_region)
                setenv("AWS_DEFAULT_REGION", region_cases[_i].aws_default_region, 1);
        s = resolve_ok(&o);
        ck_assert_str_eq(s->region, region_cases[_i].region);
        ck_assert_str_eq(s->region_source, region_cases[_i].source);
        sm_aws_settings_free(s);
}
END_TEST

START_TEST(test_region_credentials_file_wins)
{
        sm_aws_settings *s;

        /* botocore merges a profile's credentials-file keys over its
         * config-file keys. */
        config("[default]\nregion = us-east-1\nretry_mode = adaptive\n");
        credentials("[default]\nregion = eu-west-3\n");
        s = resolve_ok(NULL);
        ck_assert_str_eq(s->region, "eu-west-3");
        ck_assert_str_eq(s->region_source, "profile default");
        ck_assert_int_eq(s->retry.mode, SM_RETRY_ADAPTIVE);
        sm_aws_settings_free(s);
}
END_TEST

START_TEST(test_region_errors)
{
        sm_aws_overrides o;

        sm_aws_overrides_init(&o);
        setenv("AWS_REGION", "EU_WEST_1", 1);
        assert_error(NULL, "AWS_REGION=\"EU_WEST_1\": not an AWS region name (like eu-west-1: "
                           "lower-case letters, digits and '-')");
        unsetenv("AWS_REGION");
        config("[default]\n\nregion = eu west\n");
        assert_error(NULL, "T/config:3: region = eu west in profile default: not an AWS region "
                           "name (like eu-west-1: lower-case letters, digits and '-')");
        credentials("[default]\nregion = Eu-West-1\n");
        assert_error(NULL, "T/credentials:2: region = Eu-West-1 in profile default: not an AWS "
                           "region name (like eu-west-1: lower-case letters, digits and '-')");
        o.region = "eu-west-1.";
        assert_error(&o, "daemon config: region \"eu-west-1.\": not an AWS region name (like "
                         "eu-west-1: lower-case letters, digits and '-')");
}
END_TEST

START_TEST(test_ca_bundle)
{
        sm_aws_overrides o;
        sm_aws_settings *s;

        config("[default]\nca_bundle = /etc/profile-ca.pem\n");
        sm_aws_overrides_init(&o);
        s = resolve_ok(&o);
        ck_assert_str_eq(s->ca_bundle, "/etc/profile-ca.pem");
        sm_aws_settings_free(s);

        setenv("AWS_CA_BUNDLE", "/etc/env-ca.pem", 1);
        s = resolve_ok(&o);
        ck_assert_str_eq(s->ca_bundle, "/etc/env-ca.pem");
        sm_aws_settings_free(s);

        o.ca_bundle = "/etc/daemon-ca.pem";
        s = resolve_ok(&o);
        ck_assert_str_eq(s->ca_bundle, "/etc/daemon-ca.pem");
        sm_aws_settings_free(s);
}
END_TEST

START_TEST(test_retry_precedence)
{
        sm_aws_overrides o;
        sm_aws_settings *s;

        config("[default]\nretry_mode = adaptive\nmax_attempts = 7\n");
        sm_aws_overrides_init(&o);
        s = resolve_ok(&o);
        ck_assert_int_eq(s->retry.mode, SM_RETRY_ADAPTIVE);
        ck_assert_uint_eq(s->retry.max_attempts, 7);
        ck_assert(s->retry.rules_2026);
        sm_aws_settings_free(s);

        setenv("AWS_RETRY_MODE", "standard", 1);
        setenv("AWS_MAX_ATTEMPTS", "5", 1);
        setenv("AWS_NEW_RETRIES_2026", "false", 1);
        s = resolve_ok(&o);
        ck_assert_int_eq(s->retry.mode, SM_RETRY_STANDARD);
        ck_assert_uint_eq(s->retry.max_attempts, 5);
        ck_assert(!s->retry.rules_2026);
        sm_aws_settings_free(s);

        o.retry_mode = "adaptive";
        o.max_attempts = 1;
        setenv("AWS_NEW_RETRIES_2026", "TRUE", 1);
        s = resolve_ok(&o);
        ck_assert_int_eq(s->retry.mode, SM_RETRY_ADAPTIVE);
        ck_assert_uint_eq(s->retry.max_attempts, 1);
        ck_assert(s->retry.rules_2026);
        sm_aws_settings_free(s);
}
END_TEST

START_TEST(test_retry_errors)
{
        sm_aws_overrides o;

        sm_aws_overrides_init(&o);
        setenv("AWS_RETRY_MODE", "legacy", 1);
        assert_error(NULL, "AWS_RETRY_MODE=\"legacy\": the legacy retry mode is not supported; "
                           "smstudio supports standard and adaptive");
        setenv("AWS_RETRY_MODE", "Standard", 1);
        assert_error(NULL, "AWS_RETRY_MODE=\"Standard\": unknown retry mode; smstudio supports "
                           "standard and adaptive");
        unsetenv("AWS_RETRY_MODE");
        config("[default]\nretry_mode = legacy\n");
        assert_error(NULL, "T/config:2: retry_mode = legacy in profile default: the legacy retry "
                           "mode is not supported; smstudio supports standard and adaptive");
        o.retry_mode = "legacy";
        assert_error(&o, "daemon config: retry_mode \"legacy\": the legacy retry mode is not "
                         "supported; smstudio supports standard and adaptive");
        o.retry_mode = "fast";
        assert_error(&o, "daemon config: retry_mode \"fast\": unknown retry mode; smstudio "
                         "supports standard and adaptive");
}
END_TEST

static const struct {
        const char *value;
        const char *why;
} attempts_cases[] = {
        {"0", "expected an integer >= 1"},  {"-1", "expected an integer >= 1"},
        {"x", "expected an integer >= 1"},  {"3x", "expected an integer >= 1"},
        {" 3", "expected an integer >= 1"}, {"1e3", "expected an integer >= 1"},
        {"+3", "expected an integer >= 1"}, {"99999999999999999999", "too many attempts"},
        {"1000001", "too many attempts"},
};

START_TEST(test_max_attempts_errors)
{
        _cleanup_free_ char *expected = NULL, *file = NULL, *expected_file = NULL;

        setenv("AWS_MAX_ATTEMPTS", attempts_cases[_i].value, 1);
        ck_assert_int_gt(asprintf(&expected, "AWS_MAX_ATTEMPTS=\"%s\": %s",
                                  attempts_cases[_i].value, attempts_cases[_i].why),
                         0);
        assert_error(NULL, expected);

        unsetenv("AWS_MAX_ATTEMPTS");
        ck_assert_int_gt(
                asprintf(&file, "[default]\nmax_attempts = %s\n", attempts_cases[_i].value), 0);
        config(file);
        /* inih trims the value, so " 3" is fine in a file. */
        if (streq(attempts_cases[_i].value, " 3"))
                return;
        ck_assert_int_gt(asprintf(&expected_file,
                                  "T/config:2: max_attempts = %s in profile default: %s",
                                  attempts_cases[_i].value, attempts_cases[_i].why),
                         0);
        assert_error(NULL, expected_file);
}
END_TEST

START_TEST(test_max_attempts_file_value_trimmed)
{
        sm_aws_settings *s;

        config("[default]\nmax_attempts =  12  \n");
        s = resolve_ok(NULL);
        ck_assert_uint_eq(s->retry.max_attempts, 12);
        sm_aws_settings_free(s);
}
END_TEST

START_TEST(test_new_retries_errors)
{
        setenv("AWS_NEW_RETRIES_2026", "no", 1);
        assert_error(NULL, "AWS_NEW_RETRIES_2026=\"no\": expected true or false");
}
END_TEST

/* FIPS and dual-stack: override (-1 unset) > environment > profile. */
static const struct {
        int override;
        const char *env;
        const char *profile;
        bool expect;
} flag_cases[] = {
        {-1, NULL, NULL, false},      {-1, NULL, "true", true},    {-1, NULL, "False", false},
        {-1, "false", "true", false}, {-1, "TRUE", "false", true}, {0, "true", "true", false},
        {1, "false", "false", true},  {-1, "", "true", true},
};

START_TEST(test_fips_dualstack)
{
        _cleanup_free_ char *file = NULL;
        sm_aws_overrides o;
        sm_aws_settings *s;

        sm_aws_overrides_init(&o);
        o.use_fips = flag_cases[_i].override;
        o.use_dualstack = flag_cases[_i].override;
        if (flag_cases[_i].env) {
                setenv("AWS_USE_FIPS_ENDPOINT", flag_cases[_i].env, 1);
                setenv("AWS_USE_DUALSTACK_ENDPOINT", flag_cases[_i].env, 1);
        }
        if (flag_cases[_i].profile) {
                ck_assert_int_gt(asprintf(&file,
                                          "[default]\nuse_fips_endpoint = %s\n"
                                          "use_dualstack_endpoint = %s\n",
                                          flag_cases[_i].profile, flag_cases[_i].profile),
                                 0);
                config(file);
        }
        s = resolve_ok(&o);
        ck_assert_int_eq(s->use_fips, flag_cases[_i].expect);
        ck_assert_int_eq(s->use_dualstack, flag_cases[_i].expect);
        sm_aws_settings_free(s);
}
END_TEST

START_TEST(test_flag_errors)
{
        setenv("AWS_USE_FIPS_ENDPOINT", "yes", 1);
        assert_error(NULL, "AWS_USE_FIPS_ENDPOINT=\"yes\": expected true or false");
        unsetenv("AWS_USE_FIPS_ENDPOINT");
        config("[default]\nuse_fips_endpoint = false\nuse_dualstack_endpoint = 1\n");
        assert_error(NULL, "T/config:3: use_dualstack_endpoint = 1 in profile default: expected "
                           "true or false");
        config("[default]\n");
        setenv("AWS_EC2_METADATA_DISABLED", "on", 1);
        assert_error(NULL, "AWS_EC2_METADATA_DISABLED=\"on\": expected true or false");
        unsetenv("AWS_EC2_METADATA_DISABLED");
        setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "1", 1);
        assert_error(NULL, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=\"1\": expected true or false");
        unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
        config("[profile p]\nignore_configured_endpoint_urls = maybe\n");
        setenv("AWS_PROFILE", "p", 1);
        assert_error(NULL, "T/config:2: ignore_configured_endpoint_urls = maybe in profile p: "
                           "expected true or false");
}
END_TEST

START_TEST(test_imds_disabled)
{
        sm_aws_settings *s;

        setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
        s = resolve_ok(NULL);
        ck_assert(s->imds_disabled);
        sm_aws_settings_free(s);
        setenv("AWS_EC2_METADATA_DISABLED", "false", 1);
        s = resolve_ok(NULL);
        ck_assert(!s->imds_disabled);
        sm_aws_settings_free(s);
}
END_TEST

/* Endpoint URL of one service, with every source set that the case asks
 * for: override > AWS_ENDPOINT_URL_<SVC> > services section > AWS_ENDPOINT_URL
 * > profile endpoint_url. */
enum {
        SRC_OVERRIDE = 1 << 0,
        SRC_ENV_SVC = 1 << 1,
        SRC_SERVICES = 1 << 2,
        SRC_ENV_GLOBAL = 1 << 3,
        SRC_PROFILE = 1 << 4,
};

static const struct {
        unsigned sources;
        const char *url;
        const char *source;
} endpoint_cases[] = {
        {0, NULL, NULL},
        {SRC_PROFILE, "http://profile", "profile dev"},
        {SRC_PROFILE | SRC_ENV_GLOBAL, "http://env-global", "AWS_ENDPOINT_URL"},
        {SRC_PROFILE | SRC_ENV_GLOBAL | SRC_SERVICES, "http://services-%s",
         "profile dev, [services local] %s"},
        {SRC_PROFILE | SRC_ENV_GLOBAL | SRC_SERVICES | SRC_ENV_SVC, "http://env-%s",
         "AWS_ENDPOINT_URL_%s"},
        {SRC_PROFILE | SRC_ENV_GLOBAL | SRC_SERVICES | SRC_ENV_SVC | SRC_OVERRIDE,
         "http://override-%s", "config"},
        {SRC_OVERRIDE, "http://override-%s", "config"},
        {SRC_SERVICES, "http://services-%s", "profile dev, [services local] %s"},
        {SRC_ENV_SVC | SRC_PROFILE, "http://env-%s", "AWS_ENDPOINT_URL_%s"},
};

/* pattern with its "%s" (if any) replaced by arg. */
static char *subst(const char *pattern, const char *arg)
{
        const char *p = strstr(pattern, "%s");
        char *out = NULL;

        if (!p)
                return strdup(pattern);
        ck_assert_int_gt(asprintf(&out, "%.*s%s%s", (int)(p - pattern), pattern, arg, p + 2), 0);
        return out;
}

START_TEST(test_endpoint_precedence)
{
        unsigned src = endpoint_cases[_i].sources;
        sm_aws_overrides o;
        sm_aws_settings *s;
        char *urls[_SM_SERVICE_MAX] = {0};
        char *file = NULL;

        sm_aws_overrides_init(&o);
        setenv("AWS_PROFILE", "dev", 1);
        ck_assert_int_gt(
                asprintf(&file,
                         "[profile dev]\n%s%s"
                         "[services local]\n"
                         "sagemaker =\n  endpoint_url = http://services-sagemaker\n"
                         "iam =\n  endpoint_url = http://services-iam\n"
                         "sts =\n  endpoint_url = http://services-sts\n"
                         "service_catalog =\n  endpoint_url = http://services-service_catalog\n",
                         src & SRC_PROFILE ? "endpoint_url = http://profile\n" : "",
                         src & SRC_SERVICES ? "services = local\n" : ""),
                0);
        config(file);
        free(file);
        if (src & SRC_ENV_GLOBAL)
                setenv("AWS_ENDPOINT_URL", "http://env-global", 1);
        for (int i = 0; i < _SM_SERVICE_MAX; i++) {
                const sm_aws_service *svc = sm_aws_service_get((sm_service_id)i);
                char *var = NULL, *value = NULL;

                if (src & SRC_ENV_SVC) {
                        ck_assert_int_gt(asprintf(&var, "AWS_ENDPOINT_URL_%s", svc->env_suffix), 0);
                        ck_assert_int_gt(asprintf(&value, "http://env-%s", svc->env_suffix), 0);
                        setenv(var, value, 1);
                        free(var);
                        free(value);
                }
                if (src & SRC_OVERRIDE) {
                        ck_assert_int_gt(asprintf(&urls[i], "http://override-%s", svc->name), 0);
                        o.endpoint_url[i] = urls[i];
                }
        }

        s = resolve_ok(&o);
        for (int i = 0; i < _SM_SERVICE_MAX; i++) {
                const sm_aws_service *svc = sm_aws_service_get((sm_service_id)i);
                /* Each source names the service its own way. */
                const char *arg = src & SRC_OVERRIDE   ? svc->name
                                  : src & SRC_ENV_SVC  ? svc->env_suffix
                                  : src & SRC_SERVICES ? svc->config_key
                                                       : "";
                char *url = NULL, *source = NULL;
                sm_endpoint_settings es;

                if (!endpoint_cases[_i].url) {
                        ck_assert_ptr_null(s->endpoint_url[i]);
                        ck_assert_ptr_null(s->endpoint_source[i]);
                        continue;
                }
                url = subst(endpoint_cases[_i].url, arg);
                source = subst(endpoint_cases[_i].source, arg);
                ck_assert_str_eq(s->endpoint_url[i], url);
                ck_assert_str_eq(s->endpoint_source[i], source);

                sm_aws_settings_endpoint(s, (sm_service_id)i, &es);
                ck_assert_ptr_eq(es.override_url, s->endpoint_url[i]);
                free(url);
                free(source);
        }
        sm_aws_settings_free(s);
        for (int i = 0; i < _SM_SERVICE_MAX; i++)
                free(urls[i]);
}
END_TEST

START_TEST(test_endpoint_ignore_configured)
{
        sm_aws_overrides o;
        sm_aws_settings *s;

        config("[default]\nendpoint_url = http://profile\nservices = nowhere\n"
               "ignore_configured_endpoint_urls = true\n");
        setenv("AWS_ENDPOINT_URL", "http://env-global", 1);
        setenv("AWS_ENDPOINT_URL_STS", "http://env-sts", 1);
        sm_aws_overrides_init(&o);
        o.endpoint_url[SM_SERVICE_IAM] = "http://daemon-iam";

        /* Ignoring also skips the check of the services section. */
        s = resolve_ok(&o);
        ck_assert_str_eq(s->endpoint_url[SM_SERVICE_IAM], "http://daemon-iam");
        ck_assert_str_eq(s->endpoint_source[SM_SERVICE_IAM], "config");
        ck_assert_ptr_null(s->endpoint_url[SM_SERVICE_STS]);
        ck_assert_ptr_null(s->endpoint_url[SM_SERVICE_SAGEMAKER]);
        sm_aws_settings_free(s);

        /* The environment decides before the profile. */
        config("[default]\nendpoint_url = http://profile\n"
               "ignore_configured_endpoint_urls = true\n");
        setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false", 1);
        s = resolve_ok(&o);
        ck_assert_str_eq(s->endpoint_url[SM_SERVICE_STS], "http://env-sts");
        ck_assert_str_eq(s->endpoint_url[SM_SERVICE_SAGEMAKER], "http://env-global");
        sm_aws_settings_free(s);

        config("[default]\nendpoint_url = http://profile\n");
        setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
        s = resolve_ok(&o);
        ck_assert_str_eq(s->endpoint_url[SM_SERVICE_IAM], "http://daemon-iam");
        ck_assert_ptr_null(s->endpoint_url[SM_SERVICE_SAGEMAKER]);
        ck_assert_ptr_null(s->endpoint_url[SM_SERVICE_SERVICECATALOG]);
        sm_aws_settings_free(s);
}
END_TEST

START_TEST(test_endpoint_services_section_missing)
{
        sm_aws_settings *s;

        config("[default]\nservices = nope\n[services other]\n");
        assert_error(NULL, "T/config:2: services = nope in profile default: there is no "
                           "[services nope] section in T/config");

        /* A section that exists but has nothing for a service is fine. */
        config("[default]\nservices = other\n[services other]\n");
        s = resolve_ok(NULL);
        ck_assert_ptr_null(s->endpoint_url[SM_SERVICE_SAGEMAKER]);
        sm_aws_settings_free(s);
}
END_TEST

START_TEST(test_endpoint_settings)
{
        sm_aws_settings *s;
        sm_endpoint_settings es;

        config("[default]\nregion = eu-west-1\nuse_fips_endpoint = true\n");
        setenv("AWS_ENDPOINT_URL_IAM", "http://localhost:4566", 1);
        s = resolve_ok(NULL);
        sm_aws_settings_endpoint(s, SM_SERVICE_IAM, &es);
        ck_assert_str_eq(es.region, "eu-west-1");
        ck_assert(es.use_fips);
        ck_assert(!es.use_dualstack);
        ck_assert_str_eq(es.override_url, "http://localhost:4566");
        sm_aws_settings_endpoint(s, SM_SERVICE_STS, &es);
        ck_assert_ptr_null(es.override_url);
        sm_aws_settings_endpoint(s, _SM_SERVICE_MAX, &es);
        ck_assert_ptr_null(es.override_url);
        sm_aws_settings_free(s);
}
END_TEST

START_TEST(test_malformed_file)
{
        config("[default]\nregion\n");
        assert_error(NULL, "T/config:2: expected \"name = value\", a [section] header or a "
                           "comment");
        config("[default]\n");
        credentials("[default]\n[default]\n");
        assert_error(NULL, "T/credentials:2: duplicate section [default] (first at line 1)");
}
END_TEST

START_TEST(test_without_home)
{
        struct passwd *pw = getpwuid(geteuid());
        char *expected = NULL;
        sm_aws_settings *s;

        /* A service without $HOME and without AWS_CONFIG_FILE: the passwd
         * entry's home. */
        ck_assert_ptr_nonnull(pw);
        unsetenv("HOME");
        unsetenv("AWS_CONFIG_FILE");
        s = resolve_ok(NULL);
        ck_assert_int_gt(asprintf(&expected, "%s/.aws/config", pw->pw_dir), 0);
        ck_assert_str_eq(sm_aws_config_config_path(s->files), expected);
        ck_assert_str_eq(sm_aws_config_credentials_path(s->files), credentials_path);
        free(expected);
        sm_aws_settings_free(s);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("settings");
        TCase *tc = tcase_create("core");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_overrides_init);
        tcase_add_test(tc, test_defaults);
        tcase_add_loop_test(tc, test_profile_precedence, 0, ELEMENTSOF(profile_cases));
        tcase_add_test(tc, test_profile_missing);
        tcase_add_loop_test(tc, test_region_precedence, 0, ELEMENTSOF(region_cases));
        tcase_add_test(tc, test_region_credentials_file_wins);
        tcase_add_test(tc, test_region_errors);
        tcase_add_test(tc, test_ca_bundle);
        tcase_add_test(tc, test_retry_precedence);
        tcase_add_test(tc, test_retry_errors);
        tcase_add_loop_test(tc, test_max_attempts_errors, 0, ELEMENTSOF(attempts_cases));
        tcase_add_test(tc, test_max_attempts_file_value_trimmed);
        tcase_add_test(tc, test_new_retries_errors);
        tcase_add_loop_test(tc, test_fips_dualstack, 0, ELEMENTSOF(flag_cases));
        tcase_add_test(tc, test_flag_errors);
        tcase_add_test(tc, test_imds_disabled);
        tcase_add_loop_test(tc, test_endpoint_precedence, 0, ELEMENTSOF(endpoint_cases));
        tcase_add_test(tc, test_endpoint_ignore_configured);
        tcase_add_test(tc, test_endpoint_services_section_missing);
        tcase_add_test(tc, test_endpoint_settings);
        tcase_add_test(tc, test_malformed_file);
        tcase_add_test(tc, test_without_home);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
