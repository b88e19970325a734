/* SPDX-License-Identifier: Apache-2.0 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "smstudio/log.h"
#include "smstudio/strbuf.h"

static sm_log_target log_target = SM_LOG_TARGET_AUTO;
static int log_max_level = LOG_INFO;

static const char *const level_names[] = {
        [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",     [LOG_CRIT] = "crit",
        [LOG_ERR] = "err",     [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

void sm_log_set_target(sm_log_target t)
{
        log_target = t;
}

void sm_log_set_max_level(int priority)
{
        if (priority >= LOG_EMERG && priority <= LOG_DEBUG)
                log_max_level = priority;
}

int sm_log_get_max_level(void)
{
        return log_max_level;
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
        return priority <= log_max_level;
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

static int use_journal(void)
{
        static int detected = -1;

        if (log_target == SM_LOG_TARGET_JOURNAL)
                return 1;
        if (log_target == SM_LOG_TARGET_STDERR)
                return 0;
        if (detected < 0)
                detected = stderr_is_journal();
        return detected;
}

static void log_to_journal(int priority, const char *message_id, const sm_log_field *fields,
                           size_t n_fields, const char *message)
{
        struct iovec iov[40];
        sm_buf parts[40] = {0};
        size_t n = 0;

        sm_buf_printf(&parts[n++], "MESSAGE=%s", message);
        sm_buf_printf(&parts[n++], "PRIORITY=%d", priority);
        sm_buf_printf(&parts[n++], "SYSLOG_IDENTIFIER=%s", program_invocation_short_name);
        if (message_id)
                sm_buf_printf(&parts[n++], "MESSAGE_ID=%s", message_id);
        for (size_t i = 0; i < n_fields && n < ELEMENTSOF(parts); i++)
                if (fields[i].name && fields[i].value)
                        sm_buf_printf(&parts[n++], "%s=%s", fields[i].name, fields[i].value);
        for (size_t i = 0; i < n; i++)
                iov[i] = (struct iovec){.iov_base = parts[i].data, .iov_len = parts[i].len};
        sd_journal_sendv(iov, (int)n);
        for (size_t i = 0; i < n; i++)
                sm_buf_done(&parts[i]);
}

void sm_log_fields(int priority, const char *message_id, const sm_log_field *fields,
                   size_t n_fields, const char *fmt, ...)
{
        sm_buf msg = {0};
        va_list ap;
        int saved_errno = errno;

        if (!sm_log_enabled(priority))
                return;
        va_start(ap, fmt);
        sm_buf_vprintf(&msg, fmt, ap);
        va_end(ap);
        if (msg.data) {
                if (use_journal())
                        log_to_journal(priority, message_id, fields, n_fields, msg.data);
                else
                        fprintf(stderr, "%s: %s\n", sm_log_level_to_string(priority), msg.data);
        }
        sm_buf_done(&msg);
        errno = saved_errno;
}
