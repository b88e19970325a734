/* SPDX-License-Identifier: Apache-2.0 */
/* Decoding of the STS answers smstudio uses. The Query/XML decoder has
 * already turned the <...Result> element into JSON (children -> members, text
 * -> strings), so this is only picking members and checking they are there. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smstudio/macro.h"
#include "smstudio/sts.h"
#include "smstudio/timeutil.h"

/* A non-empty string member, or NULL. */
static const char *member_string(const json_t *obj, const char *key)
{
        const char *s;

        if (!json_is_object(obj))
                return NULL;
        s = json_string_value(json_object_get(obj, key));
        return isempty(s) ? NULL : s;
}

int sm_sts_identity_from_output(const json_t *output, sm_sts_identity *ret)
{
        const char *account = member_string(output, "Account");
        const char *arn = member_string(output, "Arn");
        const char *user_id = member_string(output, "UserId");
        sm_sts_identity id = {0};

        if (!account || !arn || !user_id)
                return -EBADMSG;
        id.account = strdup(account);
        id.arn = strdup(arn);
        id.user_id = strdup(user_id);
        if (!id.account || !id.arn || !id.user_id) {
                sm_sts_identity_done(&id);
                return -ENOMEM;
        }
        *ret = id;
        return 0;
}

void sm_sts_identity_done(sm_sts_identity *id)
{
        if (!id)
                return;
        free(id->account);
        free(id->arn);
        free(id->user_id);
        *id = (sm_sts_identity){0};
}

/* The account of "arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION": the
 * fifth colon-separated field, twelve digits. NULL when the ARN has another
 * shape: the account is a convenience, not worth failing the credentials. */
static char *account_from_arn(const char *arn)
{
        const char *p = arn;
        size_t len;
        int i;

        if (!arn || strncmp(arn, "arn:", 4) != 0)
                return NULL;
        for (i = 0; i < 4; i++) {
                p = strchr(p, ':');
                if (!p)
                        return NULL;
                p++;
        }
        len = strcspn(p, ":");
        if (len != 12 || p[len] != ':' || strspn(p, "0123456789") < 12)
                return NULL;
        return strndup(p, len);
}

int sm_sts_credentials_from_output(const json_t *output, const char *provider, sm_credentials **ret)
{
        const json_t *cred = json_is_object(output) ? json_object_get(output, "Credentials") : NULL;
        const json_t *user =
                json_is_object(output) ? json_object_get(output, "AssumedRoleUser") : NULL;
        const char *key = member_string(cred, "AccessKeyId");
        const char *secret = member_string(cred, "SecretAccessKey");
        const char *token = member_string(cred, "SessionToken");
        const char *expiration = member_string(cred, "Expiration");
        sm_credentials *c;
        int64_t exp;

        /* STS credentials are always temporary: all four members must be there. */
        if (!key || !secret || !token || !expiration)
                return -EBADMSG;
        if (sm_parse_iso8601(expiration, &exp) < 0 || exp <= 0)
                return -EBADMSG;
        c = sm_credentials_new(key, secret, token, exp, provider);
        if (!c)
                return -ENOMEM;
        c->account_id = account_from_arn(member_string(user, "Arn"));
        *ret = c;
        return 0;
}
