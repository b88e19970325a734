/* SPDX-License-Identifier: Apache-2.0 */
/* Growable byte buffers and the text encodings every AWS protocol needs
 * (RFC 3986 percent-encoding, lower-case hex). */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "smstudio/macro.h"

/* A growable, always NUL-terminated byte buffer. Zero-initialise to start
 * ({0} is an empty buffer); sm_buf_done() frees it. */
typedef struct sm_buf {
        char *data;
        size_t len;
        size_t cap;
} sm_buf;

/* Append n bytes; returns 0 or -ENOMEM (the buffer is unchanged on failure). */
int sm_buf_append(sm_buf *b, const void *p, size_t n);
/* Append a NUL-terminated string. */
int sm_buf_puts(sm_buf *b, const char *s);
int sm_buf_putc(sm_buf *b, char c);
/* Append formatted text. */
int sm_buf_printf(sm_buf *b, const char *fmt, ...) _printf_(2, 3);
int sm_buf_vprintf(sm_buf *b, const char *fmt, va_list ap) _printf_(2, 0);
/* printf into a new malloc'ed string; NULL when out of memory. */
char *sm_strf(const char *fmt, ...) _printf_(1, 2);
char *sm_vstrf(const char *fmt, va_list ap) _printf_(1, 0);

/* Forget the content, keep the allocation. */
void sm_buf_clear(sm_buf *b);
/* Free the content; the buffer is empty and reusable afterwards. */
void sm_buf_done(sm_buf *b);
/* Hand the content over as a malloc'ed NUL-terminated string (never NULL on
 * success: an empty buffer yields ""); the buffer is left empty. */
char *sm_buf_steal(sm_buf *b);

/* Append s[0..n) percent-encoded per RFC 3986: unreserved characters
 * (A-Z a-z 0-9 - _ . ~) pass, everything else becomes %XX (upper-case hex).
 * With keep_slash, '/' passes too (for URI paths). */
int sm_buf_put_uri_encoded(sm_buf *b, const char *s, size_t n, bool keep_slash);

/* Decode %XX escapes (and '+' as space when plus_is_space) from s[0..n)
 * into a new string. Returns 0, -EINVAL on a malformed escape, -ENOMEM. */
int sm_uri_decode(const char *s, size_t n, bool plus_is_space, char **ret);

/* The value of one hex digit (either case), or -1. */
int sm_hex_digit_value(char c);

/* Write 2*n lower-case hex digits and a NUL into out (2*n+1 bytes). */
void sm_hex_encode(const unsigned char *p, size_t n, char *out);

/* Wipe a secret from memory in a way the compiler may not elide. */
void sm_secure_zero(void *p, size_t n);
