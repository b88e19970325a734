/* SPDX-License-Identifier: Apache-2.0 */
/* STS: the operations smstudio calls and the decoding of their answers. */
#pragma once

#include <jansson.h>

#include "smstudio/creds.h"

typedef struct sm_sts_identity {
        char *account;
        char *arn;
        char *user_id;
} sm_sts_identity;

/* Pick Account, Arn and UserId out of a GetCallerIdentity output. 0 or
 * -EBADMSG when a member is missing. */
int sm_sts_identity_from_output(const json_t *output, sm_sts_identity *ret);
void sm_sts_identity_done(sm_sts_identity *id);

/* Turn an AssumeRole / AssumeRoleWithWebIdentity output into credentials
 * tagged with provider (static string). 0 or -EBADMSG. */
int sm_sts_credentials_from_output(const json_t *output, const char *provider,
                                   sm_credentials **ret);
