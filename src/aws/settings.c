/* SPDX-License-Identifier: Apache-2.0 */
/* Settings resolution in the SDKs' order (../shared/reference/peers.md §4.4
 * and §4.6, sdkref "Shared config and credentials files" and "Service-specific
 * endpoints"): explicit overrides, then the environment, then the profile,
 * then defaults.
 *
 * Choices where the SDKs differ or are loose, made once here:
 *  - An empty environment variable counts as unset (systemd's Environment=
 *    cannot unset what a drop-in set; an empty value is the way to clear it).
 *  - AWS_PROFILE is read before AWS_DEFAULT_PROFILE (CLI v2 and the SDK
 *    reference; botocore reads them the other way round).
 *  - A profile key may sit in either file; the credentials file wins, as in
 *    botocore, which merges that file's profile over the config file's.
 *  - Booleans must be "true" or "false" (any case) and numbers plain
 *    decimal: a typo fails loudly instead of quietly meaning "false". */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smstudio/macro.h"
#include "smstudio/settings.h"

/* The public struct first, so the pointer handed out is also ours; the
 * strings the public const char * fields point at live here. */
typedef struct settings_priv {
        sm_aws_settings pub;
        char *region_source;
        char *endpoint_source[_SM_SERVICE_MAX];
} settings_priv;

void sm_aws_overrides_init(sm_aws_overrides *o)
{
        *o = (sm_aws_overrides){.use_fips = -1, .use_dualstack = -1};
}

sm_aws_settings *sm_aws_settings_free(sm_aws_settings *s)
{
        settings_priv *p = (settings_priv *)s;

        if (!s)
                return NULL;
        free(s->profile);
        free(s->region);
        free(s->ca_bundle);
        for (size_t i = 0; i < _SM_SERVICE_MAX; i++) {
                free(s->endpoint_url[i]);
                free(p->endpoint_source[i]);
        }
        free(p->region_source);
        sm_aws_config_free(s->files);
        free(p);
        return NULL;
}
DEFINE_POINTER_CLEANUP(sm_aws_settings, sm_aws_settings_free)

static const char *env(const char *name)
{
        const char *v = getenv(name);

        return isempty(v) ? NULL : v;
}

/* A setting found somewhere: its value and where, for messages. */
typedef struct found {
        const char *value;
        const char *var;  /* the environment variable, or NULL */
        bool from_file;   /* a profile key */
        bool credentials; /* ... of the credentials file */
        const char *key;
} found;

static bool profile_lookup(const sm_aws_settings *s, const char *key, found *ret)
{
        const char *v;

        v = sm_aws_config_credentials_get(s->files, s->profile, key);
        if (!isempty(v)) {
                *ret = (found){.value = v, .from_file = true, .credentials = true, .key = key};
                return true;
        }
        v = sm_aws_config_profile_get(s->files, s->profile, key);
        if (!isempty(v)) {
                *ret = (found){.value = v, .from_file = true, .key = key};
                return true;
        }
        return false;
}

/* The first of: environment variable, profile key. */
static bool lookup(const sm_aws_settings *s, const char *var, const char *key, found *ret)
{
        const char *v = var ? env(var) : NULL;

        if (v) {
                *ret = (found){.value = v, .var = var};
                return true;
        }
        return key && profile_lookup(s, key, ret);
}

/* "AWS_MAX_ATTEMPTS=\"x\"" or "/root/.aws/config:7: max_attempts = x in
 * profile dev", then ": " and the complaint. */
static int bad_value(const sm_aws_settings *s, const found *f, char **ret_error, const char *fmt,
                     ...) _printf_(4, 5);
static int bad_value(const sm_aws_settings *s, const found *f, char **ret_error, const char *fmt,
                     ...)
{
        _cleanup_free_ char *what = NULL, *why = NULL;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&why, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;

        if (f->var) {
                n = asprintf(&what, "%s=\"%s\"", f->var, f->value);
        } else if (f->from_file) {
                const char *path = NULL;
                unsigned line = 0;

                (void)sm_aws_config_key_origin(s->files, f->credentials, s->profile, f->key, &path,
                                               &line);
                n = asprintf(&what, "%s:%u: %s = %s in profile %s", path ? path : "?", line, f->key,
                             f->value, s->profile);
        } else {
                n = asprintf(&what, "daemon config: %s \"%s\"", f->key, f->value);
        }
        if (n < 0) {
                what = NULL;
                return -ENOMEM;
        }
        if (ret_error && asprintf(ret_error, "%s: %s", what, why) < 0)
                return -ENOMEM;
        return -EINVAL;
}

static int parse_bool(const sm_aws_settings *s, const found *f, bool *ret, char **ret_error)
{
        if (sm_parse_aws_bool(f->value, ret) < 0)
                return bad_value(s, f, ret_error, "expected true or false");
        return 0;
}

/* A plain decimal integer >= 1. */
static int parse_attempts(const char *v, unsigned *ret)
{
        unsigned long n = 0;

        if (isempty(v))
                return -EINVAL;
        for (const char *c = v; *c; c++) {
                if (*c < '0' || *c > '9')
                        return -EINVAL;
                n = n * 10 + (unsigned long)(*c - '0');
                if (n > 1000000)
                        return -ERANGE;
        }
        if (n < 1)
                return -EINVAL;
        *ret = (unsigned)n;
        return 0;
}

/* Like botocore, only a profile chosen by the program itself (the daemon
 * config, --profile) is "explicit" and switches the environment's keys and
 * web identity off; AWS_PROFILE merely selects the profile. */
static int resolve_profile(sm_aws_settings *s, const sm_aws_overrides *o, const char **ret_from)
{
        const char *name = NULL, *from = NULL;

        if (o && !isempty(o->profile)) {
                name = o->profile;
                from = o->origin ? o->origin : "the daemon config";
                s->profile_explicit = true;
        } else if ((name = env("AWS_PROFILE"))) {
                from = "AWS_PROFILE";
        } else if ((name = env("AWS_DEFAULT_PROFILE"))) {
                from = "AWS_DEFAULT_PROFILE";
        }
        s->profile = strdup(name ? name : "default");
        if (!s->profile)
                return -ENOMEM;
        *ret_from = from;
        return 0;
}

static int resolve_region(settings_priv *p, const sm_aws_overrides *o, char **ret_error)
{
        sm_aws_settings *s = &p->pub;
        found f = {0};

        if (o && !isempty(o->region)) {
                f = (found){.value = o->region, .key = "region"};
                s->region_source = o->origin ? o->origin : "the daemon config";
        } else if (lookup(s, "AWS_REGION", NULL, &f) ||
                   lookup(s, "AWS_DEFAULT_REGION", "region", &f)) {
                if (f.var) {
                        s->region_source = f.var;
                } else {
                        if (asprintf(&p->region_source, "profile %s", s->profile) < 0) {
                                p->region_source = NULL;
                                return -ENOMEM;
                        }
                        s->region_source = p->region_source;
                }
        } else {
                return 0;
        }
        if (!sm_region_is_valid(f.value)) {
                s->region_source = NULL;
                return bad_value(s, &f, ret_error,
                                 "not an AWS region name (like eu-west-1: lower-case letters, "
                                 "digits and '-')");
        }
        s->region = strdup(f.value);
        return s->region ? 0 : -ENOMEM;
}

static int resolve_retry(sm_aws_settings *s, const sm_aws_overrides *o, char **ret_error)
{
        found f = {0};
        int r;

        sm_retry_config_init(&s->retry);

        if (o && !isempty(o->retry_mode))
                f = (found){.value = o->retry_mode, .key = "retry_mode"};
        else
                (void)lookup(s, "AWS_RETRY_MODE", "retry_mode", &f);
        if (f.value) {
                if (sm_retry_mode_from_string(f.value, &s->retry.mode) < 0) {
                        if (streq(f.value, "legacy"))
                                return bad_value(s, &f, ret_error,
                                                 "the legacy retry mode is not supported; "
                                                 "smstudio supports standard and adaptive");
                        return bad_value(s, &f, ret_error,
                                         "unknown retry mode; smstudio supports standard and "
                                         "adaptive");
                }
        }

        if (o && o->max_attempts > 0) {
                s->retry.max_attempts = o->max_attempts;
        } else if (lookup(s, "AWS_MAX_ATTEMPTS", "max_attempts", &f)) {
                r = parse_attempts(f.value, &s->retry.max_attempts);
                if (r == -ERANGE)
                        return bad_value(s, &f, ret_error, "too many attempts");
                if (r < 0)
                        return bad_value(s, &f, ret_error, "expected an integer >= 1");
        }

        /* The SDKs' switch for their November 2026 retry rules. Those rules
         * are our default already; "false" keeps the older ones. */
        if (lookup(s, "AWS_NEW_RETRIES_2026", NULL, &f)) {
                r = parse_bool(s, &f, &s->retry.rules_2026, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int resolve_flag(const sm_aws_settings *s, int override, const char *var, const char *key,
                        bool *ret, char **ret_error)
{
        found f = {0};

        if (override >= 0) {
                *ret = override > 0;
                return 0;
        }
        *ret = false;
        if (!lookup(s, var, key, &f))
                return 0;
        return parse_bool(s, &f, ret, ret_error);
}

/* The endpoint of one service: the override, else (unless configured
 * endpoints are ignored) AWS_ENDPOINT_URL_<SVC>, the profile's services
 * section, AWS_ENDPOINT_URL, the profile's endpoint_url. */
static int resolve_endpoint(settings_priv *p, const sm_aws_overrides *o, bool ignore_configured,
                            const sm_aws_service *svc)
{
        sm_aws_settings *s = &p->pub;
        _cleanup_free_ char *var = NULL, *source = NULL;
        const char *url = NULL;
        found f = {0};

        if (o && !isempty(o->endpoint_url[svc->id])) {
                s->endpoint_url[svc->id] = strdup(o->endpoint_url[svc->id]);
                if (!s->endpoint_url[svc->id])
                        return -ENOMEM;
                s->endpoint_source[svc->id] = "config";
                return 0;
        }
        if (ignore_configured)
                return 0;

        if (asprintf(&var, "AWS_ENDPOINT_URL_%s", svc->env_suffix) < 0) {
                var = NULL;
                return -ENOMEM;
        }
        if ((url = env(var))) {
                source = TAKE_PTR(var);
        } else if (profile_lookup(s, "services", &f)) {
                url = sm_aws_config_services_get(s->files, f.value, svc->config_key,
                                                 "endpoint_url");
                if (isempty(url)) {
                        url = NULL;
                } else if (asprintf(&source, "profile %s, [services %s] %s", s->profile, f.value,
                                    svc->config_key) < 0) {
                        source = NULL;
                        return -ENOMEM;
                }
        }
        if (!url && (url = env("AWS_ENDPOINT_URL"))) {
                source = strdup("AWS_ENDPOINT_URL");
                if (!source)
                        return -ENOMEM;
        }
        if (!url && profile_lookup(s, "endpoint_url", &f)) {
                url = f.value;
                if (asprintf(&source, "profile %s", s->profile) < 0) {
                        source = NULL;
                        return -ENOMEM;
                }
        }
        if (!url)
                return 0;
        s->endpoint_url[svc->id] = strdup(url);
        if (!s->endpoint_url[svc->id])
                return -ENOMEM;
        p->endpoint_source[svc->id] = TAKE_PTR(source);
        s->endpoint_source[svc->id] = p->endpoint_source[svc->id];
        return 0;
}

/* A profile's "services = NAME" must name a section that exists: otherwise
 * every endpoint in it would silently not apply. */
static int check_services_section(const sm_aws_settings *s, char **ret_error)
{
        found f = {0};

        if (!profile_lookup(s, "services", &f) || sm_aws_config_has_services(s->files, f.value))
                return 0;
        return bad_value(s, &f, ret_error, "there is no [services %s] section in %s", f.value,
                         sm_aws_config_config_path(s->files) ? sm_aws_config_config_path(s->files)
                                                             : "the config file");
}

int sm_aws_settings_resolve(const sm_aws_overrides *o, sm_aws_settings **ret, char **ret_error)
{
        _cleanup_(sm_aws_settings_freep) sm_aws_settings *s = NULL;
        settings_priv *p;
        const char *profile_from = NULL;
        bool ignore_configured = false;
        found f = {0};
        int r;

        if (!ret)
                return -EINVAL;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        s = &p->pub;

        r = resolve_profile(s, o, &profile_from);
        if (r < 0)
                return r;
        r = sm_aws_config_load(NULL, NULL, &s->files, ret_error);
        if (r < 0)
                return r;
        if (profile_from && !streq(s->profile, "default") &&
            !sm_aws_config_has_profile(s->files, s->profile)) {
                const char *cfg = sm_aws_config_config_path(s->files);
                const char *cred = sm_aws_config_credentials_path(s->files);

                if (ret_error &&
                    asprintf(ret_error, "profile \"%s\" (from %s) is not in %s or %s", s->profile,
                             profile_from, cfg ? cfg : "the config file (no home directory)",
                             cred ? cred : "the credentials file") < 0)
                        return -ENOMEM;
                return -EINVAL;
        }

        r = resolve_region(p, o, ret_error);
        if (r < 0)
                return r;

        if (o && !isempty(o->ca_bundle)) {
                s->ca_bundle = strdup(o->ca_bundle);
                if (!s->ca_bundle)
                        return -ENOMEM;
        } else if (lookup(s, "AWS_CA_BUNDLE", "ca_bundle", &f)) {
                s->ca_bundle = strdup(f.value);
                if (!s->ca_bundle)
                        return -ENOMEM;
        }

        r = resolve_retry(s, o, ret_error);
        if (r < 0)
                return r;
        r = resolve_flag(s, o ? o->use_fips : -1, "AWS_USE_FIPS_ENDPOINT", "use_fips_endpoint",
                         &s->use_fips, ret_error);
        if (r < 0)
                return r;
        r = resolve_flag(s, o ? o->use_dualstack : -1, "AWS_USE_DUALSTACK_ENDPOINT",
                         "use_dualstack_endpoint", &s->use_dualstack, ret_error);
        if (r < 0)
                return r;
        r = resolve_flag(s, -1, "AWS_EC2_METADATA_DISABLED", NULL, &s->imds_disabled, ret_error);
        if (r < 0)
                return r;

        r = resolve_flag(s, -1, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
                         "ignore_configured_endpoint_urls", &ignore_configured, ret_error);
        if (r < 0)
                return r;
        if (!ignore_configured) {
                r = check_services_section(s, ret_error);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < _SM_SERVICE_MAX; i++) {
                r = resolve_endpoint(p, o, ignore_configured, sm_aws_service_get((sm_service_id)i));
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(s);
        return 0;
}

void sm_aws_settings_endpoint(const sm_aws_settings *s, sm_service_id id, sm_endpoint_settings *ret)
{
        *ret = (sm_endpoint_settings){
                .region = s->region,
                .use_fips = s->use_fips,
                .use_dualstack = s->use_dualstack,
                .override_url = (unsigned)id < _SM_SERVICE_MAX ? s->endpoint_url[id] : NULL,
        };
}
