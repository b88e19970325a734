/* SPDX-License-Identifier: Apache-2.0 */

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "smstudio/log.h"
#include "smstudio/strbuf.h"

/* Both are read on every call, possibly from libuv's worker threads while a
 * control-socket handler changes them: relaxed atomics are enough, since no
 * other memory is published through them. */
static _Atomic int log_target = SM_LOG_TARGET_AUTO;
static _Atomic int log_max_level = LOG_INFO;
/* -1 until $JOURNAL_STREAM was checked, then 0 or 1. */
static _Atomic int stderr_journal = -1;

#define LOG_IDENTIFIER "smstudiod"
/* Journal field names are limited to 64 bytes (systemd's JOURNAL_FIELD_NAME_MAX). */
#define FIELD_NAME_MAX 64

static const char *const level_names[] = {
        [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",     [LOG_CRIT] = "crit",
        [LOG_ERR] = "err",     [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

static const sm_log_message messages[] = {
        {"daemon-started", SM_MESSAGE_DAEMON_STARTED},
        {"daemon-stopping", SM_MESSAGE_DAEMON_STOPPING},
        {"config-loaded", SM_MESSAGE_CONFIG_LOADED},
        {"config-rejected", SM_MESSAGE_CONFIG_REJECTED},
        {"manifests-loaded", SM_MESSAGE_MANIFESTS_LOADED},
        {"manifest-rejected", SM_MESSAGE_MANIFEST_REJECTED},
        {"pass-started", SM_MESSAGE_PASS_STARTED},
        {"pass-finished", SM_MESSAGE_PASS_FINISHED},
        {"action-applied", SM_MESSAGE_ACTION_APPLIED},
        {"action-failed", SM_MESSAGE_ACTION_FAILED},
        {"drift-repaired", SM_MESSAGE_DRIFT_REPAIRED},
        {"deletion-guard", SM_MESSAGE_DELETION_GUARD},
        {"conflict", SM_MESSAGE_CONFLICT},
        {"paused", SM_MESSAGE_PAUSED},
        {"resumed", SM_MESSAGE_RESUMED},
        {"deletions-approved", SM_MESSAGE_DELETIONS_APPROVED},
        {"client-refused", SM_MESSAGE_CLIENT_REFUSED},
        {"aws-call-failed", SM_MESSAGE_AWS_CALL_FAILED},
};

static const char *const known_fields[] = {
        SM_LOG_FIELD_RESOURCE,       SM_LOG_FIELD_MANIFEST,      SM_LOG_FIELD_ACTION,
        SM_LOG_FIELD_RESULT,         SM_LOG_FIELD_PASS,          SM_LOG_FIELD_CLIENT_UID,
        SM_LOG_FIELD_AWS_SERVICE,    SM_LOG_FIELD_AWS_OPERATION, SM_LOG_FIELD_AWS_REQUEST_ID,
        SM_LOG_FIELD_AWS_ERROR_CODE,
};

/* The fields this module writes itself: a caller's field must not shadow
 * them (a second MESSAGE or PRIORITY would confuse every reader). */
static const char *const own_fields[] = {
        "MESSAGE",   "MESSAGE_ID", "PRIORITY",  "SYSLOG_IDENTIFIER",
        "CODE_FILE", "CODE_LINE",  "CODE_FUNC",
};

/* Substrings of field names that announce secret material. */
static const char *const secret_words[] = {
        "SECRET", "TOKEN", "PASSWORD", "CREDENTIAL", "SIGNATURE", "AUTHORIZATION", "PRIVATE",
};

const sm_log_message *sm_log_messages(size_t *ret_n)
{
        *ret_n = ELEMENTSOF(messages);
        return messages;
}

void sm_log_set_target(sm_log_target t)
{
        atomic_store_explicit(&log_target, (int)t, memory_order_relaxed);
}

void sm_log_set_max_level(int priority)
{
        if (priority >= LOG_EMERG && priority <= LOG_DEBUG)
                atomic_store_explicit(&log_max_level, priority, memory_order_relaxed);
}

int sm_log_get_max_level(void)
{
        return atomic_load_explicit(&log_max_level, memory_order_relaxed);
}

int sm_log_level_from_string(const char *s)
{
        if (!s)
                return -EINVAL;
        if (strcasecmp(s, "error") == 0)
                return LOG_ERR;
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (strcasecmp(s, level_names[i]) == 0)
                        return (int)i;
        return -EINVAL;
}

const char *sm_log_level_to_string(int priority)
{
        if (priority < LOG_EMERG || priority > LOG_DEBUG)
                return "unknown";
        return level_names[priority];
}

int sm_log_enabled(int priority)
{
        return priority <= sm_log_get_max_level();
}

bool sm_log_field_name_ok(const char *name)
{
        size_t n;

        if (isempty(name))
                return false;
        for (size_t i = 0; i < ELEMENTSOF(known_fields); i++)
                if (streq(name, known_fields[i]))
                        return true;
        /* The journal's own rule, minus a leading '_' (trusted fields, which
         * only journald may set) and a leading digit. */
        if (name[0] < 'A' || name[0] > 'Z')
                return false;
        for (n = 0; name[n]; n++)
                if (!((name[n] >= 'A' && name[n] <= 'Z') || (name[n] >= '0' && name[n] <= '9') ||
                      name[n] == '_'))
                        return false;
        if (n > FIELD_NAME_MAX)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(own_fields); i++)
                if (streq(name, own_fields[i]))
                        return false;
        for (size_t i = 0; i < ELEMENTSOF(secret_words); i++)
                if (strstr(name, secret_words[i]))
                        return false;
        return true;
}

/* systemd sets JOURNAL_STREAM=dev:ino for the stream our stderr is connected
 * to; only then is the journal the right place (see systemd.exec(5)). */
static int stderr_is_journal(void)
{
        unsigned long long dev, ino;
        const char *e = getenv("JOURNAL_STREAM");
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return 0;
        if (fstat(STDERR_FILENO, &st) < 0)
                return 0;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static bool use_journal(void)
{
        int detected;

        switch (atomic_load_explicit(&log_target, memory_order_relaxed)) {
        case SM_LOG_TARGET_JOURNAL:
                return true;
        case SM_LOG_TARGET_STDERR:
                return false;
        default:
                break;
        }
        /* Two threads may both detect; they get the same answer. */
        detected = atomic_load_explicit(&stderr_journal, memory_order_relaxed);
        if (detected < 0) {
                detected = stderr_is_journal();
                atomic_store_explicit(&stderr_journal, detected, memory_order_relaxed);
        }
        return detected == 1;
}

static const char *field_value(const sm_log_field *fields, size_t n_fields, const char *name)
{
        for (size_t i = 0; i < n_fields; i++)
                if (fields[i].name && fields[i].value && streq(fields[i].name, name))
                        return fields[i].value;
        return NULL;
}

/* Returns the number of fields dropped by the name guard. */
static size_t log_to_journal(int priority, const char *file, int line, const char *func,
                             const char *message_id, const sm_log_field *fields, size_t n_fields,
                             const char *message)
{
        enum { FIXED = 7 };
        sm_buf parts[FIXED] = {{0}};
        struct iovec *iov;
        size_t n = 0, n_fixed, refused = 0;

        iov = calloc(FIXED + n_fields, sizeof(*iov));
        if (!iov)
                return 0;
        /* Each part is one "NAME=value" iovec; the message is one field
         * whatever it holds (sd_journal_sendv frames values with newlines). */
        sm_buf_printf(&parts[n++], "MESSAGE=%s", message);
        sm_buf_printf(&parts[n++], "PRIORITY=%d", priority);
        sm_buf_puts(&parts[n++], "SYSLOG_IDENTIFIER=" LOG_IDENTIFIER);
        if (message_id)
                sm_buf_printf(&parts[n++], "MESSAGE_ID=%s", message_id);
        if (file) {
                sm_buf_printf(&parts[n++], "CODE_FILE=%s", file);
                sm_buf_printf(&parts[n++], "CODE_LINE=%d", line);
        }
        if (func)
                sm_buf_printf(&parts[n++], "CODE_FUNC=%s", func);
        n_fixed = n;
        for (size_t i = 0; i < n_fixed; i++)
                iov[i] = (struct iovec){.iov_base = parts[i].data, .iov_len = parts[i].len};
        for (size_t i = 0; i < n_fields; i++) {
                char *part;

                if (!fields[i].name || !fields[i].value)
                        continue;
                if (!sm_log_field_name_ok(fields[i].name)) {
                        refused++;
                        continue;
                }
                part = sm_strf("%s=%s", fields[i].name, fields[i].value);
                if (part)
                        iov[n++] = (struct iovec){.iov_base = part, .iov_len = strlen(part)};
        }
        /* Journald may be restarting: the record is lost, as with syslog(3). */
        (void)sd_journal_sendv(iov, (int)n);
        for (size_t i = 0; i < n_fixed; i++)
                sm_buf_done(&parts[i]);
        for (size_t i = n_fixed; i < n; i++)
                free(iov[i].iov_base);
        free(iov);
        return refused;
}

static bool stderr_colour(void)
{
        const char *term = getenv("TERM");

        return isatty(STDERR_FILENO) && !getenv("NO_COLOR") && term && !streq(term, "dumb");
}

static const char *level_colour(int priority)
{
        if (priority <= LOG_ERR)
                return "\033[1;31m";
        if (priority == LOG_WARNING)
                return "\033[1;33m";
        if (priority == LOG_NOTICE)
                return "\033[1m";
        return NULL;
}

/* Control characters (say, an AWS error message with a newline or a terminal
 * escape) would break the one-line-per-record promise or rewrite the screen. */
static void put_sanitised(sm_buf *b, const char *s)
{
        for (; *s; s++)
                sm_buf_putc(b, ((unsigned char)*s < 0x20 || *s == 0x7f) ? ' ' : *s);
}

static bool starts_with_word(const char *s, const char *prefix)
{
        size_t n = strlen(prefix);

        return strncmp(s, prefix, n) == 0 && (s[n] == ':' || s[n] == ' ' || s[n] == '\0');
}

static void log_to_stderr(int priority, const sm_log_field *fields, size_t n_fields,
                          const char *message)
{
        const char *resource = field_value(fields, n_fields, SM_LOG_FIELD_RESOURCE);
        const char *colour = stderr_colour() ? level_colour(priority) : NULL;
        sm_buf line = {0};

        if (colour)
                sm_buf_printf(&line, "%s%s\033[0m: ", colour, sm_log_level_to_string(priority));
        else
                sm_buf_printf(&line, "%s: ", sm_log_level_to_string(priority));
        /* Callers that already begin with the resource keep their wording. */
        if (resource && !starts_with_word(message, resource)) {
                put_sanitised(&line, resource);
                sm_buf_puts(&line, ": ");
        }
        put_sanitised(&line, message);
        sm_buf_putc(&line, '\n');
        /* One write per record, so concurrent writers do not interleave. */
        if (line.data)
                fwrite(line.data, 1, line.len, stderr);
        sm_buf_done(&line);
}

void sm_log_internal(int priority, const char *file, int line, const char *func,
                     const char *message_id, const sm_log_field *fields, size_t n_fields,
                     const char *fmt, ...)
{
        sm_buf msg = {0};
        va_list ap;
        int saved_errno = errno;
        size_t refused = 0;

        if (!sm_log_enabled(priority))
                return;
        va_start(ap, fmt);
        sm_buf_vprintf(&msg, fmt, ap);
        va_end(ap);
        if (msg.data) {
                if (use_journal())
                        refused = log_to_journal(priority, file, line, func, message_id, fields,
                                                 n_fields, msg.data);
                else
                        log_to_stderr(priority, fields, n_fields, msg.data);
        }
        sm_buf_done(&msg);
        /* The name itself could be what leaks, so the note does not repeat it. */
        if (refused > 0)
                sm_log_internal(LOG_DEBUG, file, line, func, NULL, NULL, 0,
                                "dropped %zu log field(s) with a refused name", refused);
        errno = saved_errno;
}
