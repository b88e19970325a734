/* SPDX-License-Identifier: Apache-2.0 */
/* The one logging module: structured journald records when stderr is the
 * journal (or when asked), plain "level: message" lines on stderr otherwise.
 * Library code logs at debug at most; callers log once, with the cause.
 *
 * Never a secret. No secret access key, session token, signature,
 * Authorization header, presigned URL or request body that may carry one is
 * ever passed to this module, neither in the message nor in a field: the
 * journal is readable by the adm group and is shipped off the host. Log the
 * name of a credential source, never its material. As a second line of
 * defence, a field whose name is not one of the SM_LOG_FIELD_* names below
 * and not a plain journal field name ([A-Z][A-Z0-9_]*, at most 64 bytes) or
 * that names a secret (contains SECRET, TOKEN, PASSWORD, CREDENTIAL,
 * SIGNATURE, AUTHORIZATION or PRIVATE) is dropped, with a debug note; the
 * message text is always passed as the one MESSAGE field, never formatted
 * into field names. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

#include "smstudio/macro.h"

typedef enum sm_log_target {
        SM_LOG_TARGET_AUTO, /* journal when $JOURNAL_STREAM names our stderr */
        SM_LOG_TARGET_JOURNAL,
        SM_LOG_TARGET_STDERR,
} sm_log_target;

/* The MESSAGE_ID of each event type: fixed forever (journalctl MESSAGE_ID=...
 * and alerting rules match on them), each with an entry in
 * docs/smstudio.catalog. Add new ones with `systemd-id128 new`. */
#define SM_MESSAGE_DAEMON_STARTED     "9ce5db7a1d4947189f62d5484b134387"
#define SM_MESSAGE_DAEMON_STOPPING    "e21e4e5b36a140f1b4bcb7c79f510b75"
#define SM_MESSAGE_CONFIG_LOADED      "3e34b6b236904b0cb4bfc135f6302bbb"
#define SM_MESSAGE_CONFIG_REJECTED    "1d7dc4be748d4b929943cec7187e0b4d"
#define SM_MESSAGE_MANIFESTS_LOADED   "883c7f5512b54165bc95acfb98992d68"
#define SM_MESSAGE_MANIFEST_REJECTED  "dfd9e814f0404c17b3eabf6c8174c568"
#define SM_MESSAGE_PASS_STARTED       "561aebf04360414d861aa7da63ee7b7a"
#define SM_MESSAGE_PASS_FINISHED      "ea29dc8203f6458fa3f1083695ea54d0"
#define SM_MESSAGE_ACTION_APPLIED     "b1edcf9aae3941ccb4a03b5782fdfb4d"
#define SM_MESSAGE_ACTION_FAILED      "35853620576c41ed8f76f045ffcfb1e7"
#define SM_MESSAGE_DRIFT_REPAIRED     "a11ed5893df645f4b4ed072baa49c0a7"
#define SM_MESSAGE_DELETION_GUARD     "95b4b54a764d462dbd9a9a9707424287"
#define SM_MESSAGE_CONFLICT           "a87d0455d0314ad6bc68410e14309e37"
#define SM_MESSAGE_PAUSED             "634266b9e48946d58bb2649a668086fd"
#define SM_MESSAGE_RESUMED            "791629d1aef94a86ae5c7b127cf7a4ad"
#define SM_MESSAGE_DELETIONS_APPROVED "c1a60523c5284336b566df8083daa744"
#define SM_MESSAGE_CLIENT_REFUSED     "0a0bda2ac7864eb38ddcf69f54b7c6a3"
#define SM_MESSAGE_AWS_CALL_FAILED    "ec2817e1d4af4e02b75cb3e4254e741c"

/* The structured fields every record about a resource or an AWS call
 * carries (STYLE.md 6): `journalctl SMSTUDIO_RESOURCE=user-profile/d/alice`
 * tells one object's story. Use these names, never string literals. */
#define SM_LOG_FIELD_RESOURCE       "SMSTUDIO_RESOURCE"   /* "user-profile/d/alice" */
#define SM_LOG_FIELD_MANIFEST       "SMSTUDIO_MANIFEST"   /* "users/alice.yaml:3" */
#define SM_LOG_FIELD_ACTION         "SMSTUDIO_ACTION"     /* "create", "update", ... */
#define SM_LOG_FIELD_RESULT         "SMSTUDIO_RESULT"     /* "applied", "failed", ... */
#define SM_LOG_FIELD_PASS           "SMSTUDIO_PASS"       /* pass number, decimal */
#define SM_LOG_FIELD_CLIENT_UID     "SMSTUDIO_CLIENT_UID" /* control peer, decimal */
#define SM_LOG_FIELD_AWS_SERVICE    "AWS_SERVICE"         /* "sagemaker" */
#define SM_LOG_FIELD_AWS_OPERATION  "AWS_OPERATION"       /* "CreateUserProfile" */
#define SM_LOG_FIELD_AWS_REQUEST_ID "AWS_REQUEST_ID"
#define SM_LOG_FIELD_AWS_ERROR_CODE "AWS_ERROR_CODE" /* "ThrottlingException" */

/* An extra journal field ({SM_LOG_FIELD_RESOURCE, "user-profile/d/alice"}). */
typedef struct sm_log_field {
        const char *name;
        const char *value; /* NULL fields are skipped */
} sm_log_field;

/* One event type: a short name ("pass-started") and its MESSAGE_ID. */
typedef struct sm_log_message {
        const char *name;
        const char *id;
} sm_log_message;

/* Every SM_MESSAGE_* of this header, in order; *ret_n gets the count. */
const sm_log_message *sm_log_messages(size_t *ret_n);

void sm_log_set_target(sm_log_target t);
/* Messages above this syslog priority are dropped (default LOG_INFO). One
 * relaxed atomic store: cheap, and safe from any handler or thread. */
void sm_log_set_max_level(int priority);
int sm_log_get_max_level(void);
/* "debug", "info", "notice", "warning", "err"/"error", "crit", "alert", "emerg"
 * -> syslog priority, or -EINVAL. */
int sm_log_level_from_string(const char *s);
const char *sm_log_level_to_string(int priority);
/* Whether a message at priority would be written (skip costly formatting). */
int sm_log_enabled(int priority);
/* Whether a field of this name may be written (see the top of this file). */
bool sm_log_field_name_ok(const char *name);

/* Write one record; use sm_log_fields(), which adds the code location.
 * message_id is a SM_MESSAGE_* or NULL. On stderr the SMSTUDIO_RESOURCE
 * value, when set, prefixes the message. Returns nothing: logging never
 * fails the caller, and errno is preserved. */
void sm_log_internal(int priority, const char *file, int line, const char *func,
                     const char *message_id, const sm_log_field *fields, size_t n_fields,
                     const char *fmt, ...) _printf_(8, 9);

#define sm_log_fields(priority, message_id, fields, n_fields, ...)                                 \
        sm_log_internal((priority), __FILE__, __LINE__, __func__, (message_id), (fields),          \
                        (n_fields), __VA_ARGS__)
#define sm_log(priority, ...)        sm_log_fields((priority), NULL, NULL, 0, __VA_ARGS__)
#define sm_log_id(priority, id, ...) sm_log_fields((priority), (id), NULL, 0, __VA_ARGS__)
#define sm_log_debug(...)            sm_log(LOG_DEBUG, __VA_ARGS__)
#define sm_log_info(...)             sm_log(LOG_INFO, __VA_ARGS__)
#define sm_log_notice(...)           sm_log(LOG_NOTICE, __VA_ARGS__)
#define sm_log_warning(...)          sm_log(LOG_WARNING, __VA_ARGS__)
#define sm_log_error(...)            sm_log(LOG_ERR, __VA_ARGS__)
