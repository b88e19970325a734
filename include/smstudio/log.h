/* SPDX-License-Identifier: Apache-2.0 */
/* The one logging module: structured journald records when stderr is the
 * journal (or when asked), plain "level: message" lines on stderr otherwise.
 * Library code logs at debug at most; callers log once, with the cause. */
#pragma once

#include <stddef.h>
#include <syslog.h>

#include "smstudio/macro.h"

typedef enum sm_log_target {
        SM_LOG_TARGET_AUTO, /* journal when $JOURNAL_STREAM names our stderr */
        SM_LOG_TARGET_JOURNAL,
        SM_LOG_TARGET_STDERR,
} sm_log_target;

/* An extra journal field ("SMSTUDIO_RESOURCE", "user-profile/alice"). */
typedef struct sm_log_field {
        const char *name;
        const char *value; /* NULL fields are skipped */
} sm_log_field;

void sm_log_set_target(sm_log_target t);
/* Messages above this syslog priority are dropped (default LOG_INFO). */
void sm_log_set_max_level(int priority);
int sm_log_get_max_level(void);
/* "debug", "info", "notice", "warning", "err"/"error", "crit", "alert", "emerg"
 * -> syslog priority, or -EINVAL. */
int sm_log_level_from_string(const char *s);
const char *sm_log_level_to_string(int priority);
/* Whether a message at priority would be written (skip costly formatting). */
int sm_log_enabled(int priority);

/* Write one record. message_id is a 32-hex-digit id of the event type or
 * NULL. Returns nothing: logging never fails the caller. */
void sm_log_fields(int priority, const char *message_id, const sm_log_field *fields,
                   size_t n_fields, const char *fmt, ...) _printf_(5, 6);

#define sm_log(priority, ...) sm_log_fields((priority), NULL, NULL, 0, __VA_ARGS__)
#define sm_log_debug(...)     sm_log(LOG_DEBUG, __VA_ARGS__)
#define sm_log_info(...)      sm_log(LOG_INFO, __VA_ARGS__)
#define sm_log_notice(...)    sm_log(LOG_NOTICE, __VA_ARGS__)
#define sm_log_warning(...)   sm_log(LOG_WARNING, __VA_ARGS__)
#define sm_log_error(...)     sm_log(LOG_ERR, __VA_ARGS__)
