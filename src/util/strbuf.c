/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "smstudio/strbuf.h"

int sm_strdup_replace(char **p, const char *s)
{
        char *copy = NULL;

        if (s) {
                copy = strdup(s);
                if (!copy)
                        return -ENOMEM;
        }
        free(*p);
        *p = copy;
        return 0;
}

static int buf_reserve(sm_buf *b, size_t extra)
{
        size_t need, cap;
        char *p;

        if (extra > ((size_t)-1) / 2 - b->len)
                return -ENOMEM;
        need = b->len + extra + 1;
        if (need <= b->cap)
                return 0;
        cap = b->cap ? b->cap : 64;
        while (cap < need)
                cap *= 2;
        p = realloc(b->data, cap);
        if (!p)
                return -ENOMEM;
        b->data = p;
        b->cap = cap;
        return 0;
}

int sm_buf_append(sm_buf *b, const void *p, size_t n)
{
        int r = buf_reserve(b, n);

        if (r < 0)
                return r;
        if (n)
                memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
}

int sm_buf_puts(sm_buf *b, const char *s)
{
        return sm_buf_append(b, s, strlen(s));
}

int sm_buf_putc(sm_buf *b, char c)
{
        return sm_buf_append(b, &c, 1);
}

int sm_buf_vprintf(sm_buf *b, const char *fmt, va_list ap)
{
        va_list copy;
        int n, r;

        va_copy(copy, ap);
        n = vsnprintf(NULL, 0, fmt, copy);
        va_end(copy);
        if (n < 0)
                return -EINVAL;
        r = buf_reserve(b, (size_t)n);
        if (r < 0)
                return r;
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        b->len += (size_t)n;
        return 0;
}

int sm_buf_printf(sm_buf *b, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = sm_buf_vprintf(b, fmt, ap);
        va_end(ap);
        return r;
}

char *sm_vstrf(const char *fmt, va_list ap)
{
        sm_buf b = {0};

        if (sm_buf_vprintf(&b, fmt, ap) < 0) {
                sm_buf_done(&b);
                return NULL;
        }
        return sm_buf_steal(&b);
}

char *sm_strf(const char *fmt, ...)
{
        va_list ap;
        char *s;

        va_start(ap, fmt);
        s = sm_vstrf(fmt, ap);
        va_end(ap);
        return s;
}

void sm_buf_clear(sm_buf *b)
{
        b->len = 0;
        if (b->data)
                b->data[0] = '\0';
}

void sm_buf_done(sm_buf *b)
{
        free(b->data);
        *b = (sm_buf){0};
}

char *sm_buf_steal(sm_buf *b)
{
        char *p;

        if (!b->data)
                return strdup("");
        p = b->data;
        *b = (sm_buf){0};
        return p;
}

static bool is_unreserved(unsigned char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.' || c == '~';
}

int sm_buf_put_uri_encoded(sm_buf *b, const char *s, size_t n, bool keep_slash)
{
        static const char hex[] = "0123456789ABCDEF";
        int r = buf_reserve(b, n * 3);

        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];

                if (is_unreserved(c) || (keep_slash && c == '/')) {
                        b->data[b->len++] = (char)c;
                } else {
                        b->data[b->len++] = '%';
                        b->data[b->len++] = hex[c >> 4];
                        b->data[b->len++] = hex[c & 15];
                }
        }
        b->data[b->len] = '\0';
        return 0;
}

int sm_hex_digit_value(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int sm_uri_decode(const char *s, size_t n, bool plus_is_space, char **ret)
{
        char *out = malloc(n + 1), *o = out;

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '%') {
                        int hi, lo;

                        if (n - i < 3) {
                                free(out);
                                return -EINVAL;
                        }
                        hi = sm_hex_digit_value(s[i + 1]);
                        lo = sm_hex_digit_value(s[i + 2]);
                        if (hi < 0 || lo < 0) {
                                free(out);
                                return -EINVAL;
                        }
                        *o++ = (char)(hi << 4 | lo);
                        i += 2;
                } else if (plus_is_space && s[i] == '+') {
                        *o++ = ' ';
                } else {
                        *o++ = s[i];
                }
        }
        *o = '\0';
        *ret = out;
        return 0;
}

void sm_hex_encode(const unsigned char *p, size_t n, char *out)
{
        static const char hex[] = "0123456789abcdef";

        for (size_t i = 0; i < n; i++) {
                out[2 * i] = hex[p[i] >> 4];
                out[2 * i + 1] = hex[p[i] & 15];
        }
        out[2 * n] = '\0';
}

void sm_secure_zero(void *p, size_t n)
{
        if (p && n)
                OPENSSL_cleanse(p, n);
}
