/* SPDX-License-Identifier: Apache-2.0 */
/* Time formats AWS uses and the two clocks smstudio reads. */
#pragma once

#include <stdint.h>
#include <time.h>

/* Parse an ISO 8601 / RFC 3339 timestamp as AWS sends them
 * ("2026-11-26T14:13:58Z", "...58.123Z", "...58+00:00") into Unix seconds.
 * Returns 0 or -EINVAL. */
int sm_parse_iso8601(const char *s, int64_t *ret);

/* Parse an RFC 7231 HTTP date ("Thu, 26 Nov 2026 14:13:58 GMT"). 0 or -EINVAL. */
int sm_parse_http_date(const char *s, int64_t *ret);

/* Format Unix seconds as "2026-11-26T14:13:58Z" into out (21 bytes). */
void sm_format_iso8601(int64_t t, char out[21]);

/* Wall clock, Unix seconds. */
int64_t sm_now_unix(void);

/* Monotonic clock in milliseconds and in seconds (double). */
uint64_t sm_now_monotonic_ms(void);
double sm_now_monotonic_s(void);
