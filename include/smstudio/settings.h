/* SPDX-License-Identifier: Apache-2.0 */
/* Every AWS client setting, resolved once with the SDKs' precedence: the
 * daemon's own config (or command-line flags) first, then the environment,
 * then the selected profile of the shared config files, then defaults.
 * `smstudioctl whoami` and the daemon both go through here, so they agree. */
#pragma once

#include <stdbool.h>

#include "smstudio/awsconfig.h"
#include "smstudio/endpoint.h"
#include "smstudio/retry.h"

/* What the daemon config or command line sets explicitly; NULL / 0 = unset. */
typedef struct sm_aws_overrides {
        /* Where these come from, for error messages; NULL = "the daemon config". */
        const char *origin;
        const char *profile;
        const char *region;
        const char *ca_bundle;
        const char *endpoint_url[_SM_SERVICE_MAX];
        const char *retry_mode; /* "standard" | "adaptive" */
        unsigned max_attempts;  /* 0 = unset */
        int use_fips;           /* -1 unset, 0, 1 */
        int use_dualstack;      /* -1 unset, 0, 1 */
} sm_aws_overrides;

/* Where a setting came from, for `whoami` and logs. */
typedef struct sm_aws_settings {
        char *profile;         /* never NULL: "default" when nothing chose one */
        bool profile_explicit; /* chosen by the override, not AWS_PROFILE */
        char *region;          /* NULL when no local source had one (IMDS may) */
        const char *region_source;
        char *ca_bundle; /* NULL = system store */
        bool use_fips;
        bool use_dualstack;
        sm_retry_config retry;
        char *endpoint_url[_SM_SERVICE_MAX]; /* chosen override or NULL */
        const char *endpoint_source[_SM_SERVICE_MAX];
        bool imds_disabled;   /* AWS_EC2_METADATA_DISABLED=true */
        sm_aws_config *files; /* owned */
} sm_aws_settings;

/* Initialise overrides to "nothing set". */
void sm_aws_overrides_init(sm_aws_overrides *o);

/* Resolve settings from overrides (may be NULL), the process environment and
 * the shared files. Returns 0, or -EINVAL with *ret_error naming the bad
 * variable, file:line or value (a malformed AWS_MAX_ATTEMPTS, a profile that
 * was named but does not exist, ...). */
int sm_aws_settings_resolve(const sm_aws_overrides *o, sm_aws_settings **ret, char **ret_error);

sm_aws_settings *sm_aws_settings_free(sm_aws_settings *s);

/* The endpoint settings for one service, borrowing from s. */
void sm_aws_settings_endpoint(const sm_aws_settings *s, sm_service_id id,
                              sm_endpoint_settings *ret);
