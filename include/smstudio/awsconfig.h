/* SPDX-License-Identifier: Apache-2.0 */
/* The AWS shared config and credentials files (~/.aws/config and
 * ~/.aws/credentials), parsed with inih. Read-only once loaded. */
#pragma once

#include <stdbool.h>

typedef struct sm_aws_config sm_aws_config;

/* Where the files are: AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE, else
 * ~/.aws/config and ~/.aws/credentials, with ~ from $HOME or, for a service
 * that has none, the passwd entry of the effective uid. Returns malloc'ed
 * paths (never NULL on success), 0 or -ENOMEM / -ENOENT (no home at all). */
int sm_aws_config_default_paths(char **ret_config, char **ret_credentials);

/* Load both files. NULL paths mean the defaults above. A missing file is an
 * empty one; an unreadable or malformed file fails with -EINVAL and
 * *ret_error "path:line: what is wrong". */
int sm_aws_config_load(const char *config_path, const char *credentials_path, sm_aws_config **ret,
                       char **ret_error);

sm_aws_config *sm_aws_config_free(sm_aws_config *c);

/* The paths actually used (for "looked in ..." messages). */
const char *sm_aws_config_config_path(const sm_aws_config *c);
const char *sm_aws_config_credentials_path(const sm_aws_config *c);

/* A key of a profile in the config file ([default] or [profile NAME]);
 * NULL when absent. Keys are matched case-sensitively, as the SDKs do. */
const char *sm_aws_config_profile_get(const sm_aws_config *c, const char *profile, const char *key);

/* A key of a profile in the credentials file ([NAME]); NULL when absent. */
const char *sm_aws_config_credentials_get(const sm_aws_config *c, const char *profile,
                                          const char *key);

/* Whether the profile exists in either file. */
bool sm_aws_config_has_profile(const sm_aws_config *c, const char *profile);

/* A nested key of a [services NAME] section:
 *   [services my-services]
 *   sagemaker =
 *     endpoint_url = http://127.0.0.1:4566
 * sm_aws_config_services_get(c, "my-services", "sagemaker", "endpoint_url"). */
const char *sm_aws_config_services_get(const sm_aws_config *c, const char *section,
                                       const char *service_key, const char *key);

/* Parse an SDK boolean ("true"/"false", case-insensitive). -EINVAL otherwise. */
int sm_parse_aws_bool(const char *s, bool *ret);

/* Whether the config file has a [services NAME] section. */
bool sm_aws_config_has_services(const sm_aws_config *c, const char *section);

/* A key of an [sso-session NAME] section of the config file; NULL when absent. */
const char *sm_aws_config_sso_session_get(const sm_aws_config *c, const char *session,
                                          const char *key);

/* A nested key of a profile in the config file ("s3 =" followed by indented
 * "addressing_style = path"); NULL when absent. */
const char *sm_aws_config_profile_get_nested(const sm_aws_config *c, const char *profile,
                                             const char *key, const char *sub_key);

/* Where a profile key was set, for "path:line: ..." messages: in the config
 * file, or in the credentials file when credentials_file. 0, or -ENOENT when
 * the key is not there. *ret_path is borrowed from c. */
int sm_aws_config_key_origin(const sm_aws_config *c, bool credentials_file, const char *profile,
                             const char *key, const char **ret_path, unsigned *ret_line);

/* Where a nested key of a [services NAME] section was set; 0 or -ENOENT. */
int sm_aws_config_services_origin(const sm_aws_config *c, const char *section,
                                  const char *service_key, const char *key, const char **ret_path,
                                  unsigned *ret_line);
