/* SPDX-License-Identifier: Apache-2.0 */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "smstudio/timeutil.h"

static int parse_digits(const char **p, int n, int *ret)
{
        int v = 0;

        for (int i = 0; i < n; i++) {
                if (!isdigit((unsigned char)(*p)[i]))
                        return -EINVAL;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += n;
        *ret = v;
        return 0;
}

int sm_parse_iso8601(const char *s, int64_t *ret)
{
        struct tm tm = {0};
        int y, mo, d, h, mi, sec, off = 0;
        const char *p = s;
        time_t t;

        if (!s)
                return -EINVAL;
        if (parse_digits(&p, 4, &y) < 0 || *p++ != '-' || parse_digits(&p, 2, &mo) < 0 ||
            *p++ != '-' || parse_digits(&p, 2, &d) < 0 || (*p != 'T' && *p != 't' && *p != ' '))
                return -EINVAL;
        p++;
        if (parse_digits(&p, 2, &h) < 0 || *p++ != ':' || parse_digits(&p, 2, &mi) < 0 ||
            *p++ != ':' || parse_digits(&p, 2, &sec) < 0)
                return -EINVAL;
        if (*p == '.') {
                p++;
                if (!isdigit((unsigned char)*p))
                        return -EINVAL;
                while (isdigit((unsigned char)*p))
                        p++;
        }
        if (*p == 'Z' || *p == 'z') {
                p++;
        } else if (*p == '+' || *p == '-') {
                int sign = *p == '-' ? -1 : 1, oh, om;

                p++;
                if (parse_digits(&p, 2, &oh) < 0)
                        return -EINVAL;
                if (*p == ':')
                        p++;
                if (parse_digits(&p, 2, &om) < 0)
                        return -EINVAL;
                off = sign * (oh * 3600 + om * 60);
        } else {
                return -EINVAL;
        }
        if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
                return -EINVAL;
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = sec;
        t = timegm(&tm);
        if (t == (time_t)-1)
                return -EINVAL;
        *ret = (int64_t)t - off;
        return 0;
}

int sm_parse_http_date(const char *s, int64_t *ret)
{
        static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
        char mon[4] = {0}, wday[4] = {0};
        struct tm tm = {0};
        const char *m;
        time_t t;
        int n = 0;

        if (!s ||
            sscanf(s, "%3s, %d %3s %d %d:%d:%d GMT%n", wday, &tm.tm_mday, mon, &tm.tm_year,
                   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 7 ||
            n == 0)
                return -EINVAL;
        m = strstr(months, mon);
        if (!m || strlen(mon) != 3 || (m - months) % 3 != 0)
                return -EINVAL;
        tm.tm_mon = (int)(m - months) / 3;
        tm.tm_year -= 1900;
        t = timegm(&tm);
        if (t == (time_t)-1)
                return -EINVAL;
        *ret = (int64_t)t;
        return 0;
}

void sm_format_iso8601(int64_t t, char out[21])
{
        time_t tt = (time_t)t;
        struct tm tm;

        gmtime_r(&tt, &tm);
        strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int64_t sm_now_unix(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec;
}

uint64_t sm_now_monotonic_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

double sm_now_monotonic_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
