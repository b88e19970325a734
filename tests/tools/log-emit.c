/* SPDX-License-Identifier: Apache-2.0 */
/* LOG_EMIT_SECRET=SECRET log-emit TAG [auto]: through the log module's
 * journal target (with "auto": the target it picks itself from
 * $JOURNAL_STREAM), one record per event type (sm_log_messages()) with every
 * standard field set, one without a MESSAGE_ID, and first a debug record
 * below the level (info); on every record, two fields try to smuggle SECRET
 * in under names the module must refuse. Prints one JSON object per record
 * to stdout ({"absent": true} for the one that must not reach the journal),
 * for integration/test_journald.py to look for. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smstudio/log.h"
#include "smstudio/strbuf.h"

static const char *const field_names[] = {
        SM_LOG_FIELD_RESOURCE,       SM_LOG_FIELD_MANIFEST,      SM_LOG_FIELD_ACTION,
        SM_LOG_FIELD_RESULT,         SM_LOG_FIELD_PASS,          SM_LOG_FIELD_CLIENT_UID,
        SM_LOG_FIELD_AWS_SERVICE,    SM_LOG_FIELD_AWS_OPERATION, SM_LOG_FIELD_AWS_REQUEST_ID,
        SM_LOG_FIELD_AWS_ERROR_CODE,
};

static int emit_one(const char *tag, const char *secret, size_t i, int priority,
                    const sm_log_message *m)
{
        sm_log_field fields[ELEMENTSOF(field_names) + 2];
        char *values[ELEMENTSOF(field_names)];
        json_t *expect = json_object(), *jf = json_object();
        char *message = sm_strf("%s %s record %zu", tag, m->name, i);

        if (!expect || !jf || !message)
                return -1;
        for (size_t f = 0; f < ELEMENTSOF(field_names); f++) {
                values[f] = sm_strf("%s-%s-%zu-%zu", tag, m->name, i, f);
                if (!values[f])
                        return -1;
                fields[f] = (sm_log_field){field_names[f], values[f]};
                json_object_set_new(jf, field_names[f], json_string(values[f]));
        }
        fields[ELEMENTSOF(field_names)] = (sm_log_field){"aws_secret_access_key", secret};
        fields[ELEMENTSOF(field_names) + 1] = (sm_log_field){"AWS_SECRET_ACCESS_KEY", secret};
        sm_log_fields(priority, m->id, fields, ELEMENTSOF(fields), "%s", message);

        json_object_set_new(expect, "MESSAGE", json_string(message));
        if (m->id)
                json_object_set_new(expect, "MESSAGE_ID", json_string(m->id));
        json_object_set_new(expect, "PRIORITY", json_sprintf("%d", priority));
        json_object_set_new(expect, "fields", jf);
        json_object_set_new(expect, "absent", json_boolean(!sm_log_enabled(priority)));
        json_dumpf(expect, stdout, JSON_COMPACT | JSON_SORT_KEYS);
        fputc('\n', stdout);
        json_decref(expect);
        for (size_t f = 0; f < ELEMENTSOF(field_names); f++)
                free(values[f]);
        free(message);
        return 0;
}

int main(int argc, char **argv)
{
        static const int priorities[] = {LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO};
        static const sm_log_message below = {"below-level", SM_MESSAGE_PASS_STARTED};
        static const sm_log_message plain = {"plain", NULL};
        size_t n;
        const sm_log_message *m = sm_log_messages(&n);

        /* Not an argument: journald records the command line (_CMDLINE). */
        const char *secret = getenv("LOG_EMIT_SECRET");

        if (!secret || argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "auto") != 0)) {
                fprintf(stderr, "usage: LOG_EMIT_SECRET=SECRET %s TAG [auto]\n", argv[0]);
                return 2;
        }
        sm_log_set_target(argc == 3 ? SM_LOG_TARGET_AUTO : SM_LOG_TARGET_JOURNAL);
        sm_log_set_max_level(LOG_INFO);
        /* First, so that the others arriving proves it was never sent. */
        if (emit_one(argv[1], secret, n, LOG_DEBUG, &below) < 0)
                return 1;
        for (size_t i = 0; i < n; i++) {
                int priority = priorities[i % ELEMENTSOF(priorities)];

                if (emit_one(argv[1], secret, i, priority, &m[i]) < 0)
                        return 1;
        }
        /* And one without a MESSAGE_ID, as most records are. */
        if (emit_one(argv[1], secret, n + 1, LOG_INFO, &plain) < 0)
                return 1;
        return fflush(stdout) == 0 ? 0 : 1;
}
