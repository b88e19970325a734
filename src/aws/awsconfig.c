/* SPDX-License-Identifier: Apache-2.0 */
/* The shared config and credentials files, parsed by inih.
 *
 * Debian builds libinih (r55) with the library's defaults: multi-line
 * entries on (an indented line continues the previous key, as in Python's
 * configparser, which botocore uses), inline comments after whitespace with
 * ';' (but not on continuation lines), a 200-byte line buffer on the stack
 * (a longer line is cut short and the rest reported as an error), section
 * names cut at 49 bytes, no callback for a section without keys. The files
 * the SDKs write break the last three: session tokens are 400 to 1500
 * characters long, and `aws configure sso` names profiles after long role
 * names. Rather than depending on how a distribution built the library, we
 * feed inih through our own line reader (ini_parse_stream), which:
 *
 *  - hands inih a long line in pieces: the first as is, every further one
 *    indented so that inih sees a continuation; the handler joins those
 *    pieces without a separator (pieces are cut between two non-blank bytes,
 *    never before a comment character, so inih's trimming loses nothing);
 *  - follows every [section] line by a marker entry and the same line again:
 *    the marker tells the handler a section starts (with its full name and
 *    line, even when it is long or has no keys), the repeated header makes
 *    inih forget the marker as "previous key" so continuation rules are
 *    unchanged;
 *  - records the physical line of every line it hands out, so errors name
 *    the line in the file, not inih's count.
 *
 * The handler mirrors inih's notion of "previous key" to tell a continuation
 * from a new key, so it never relies on the truncated names inih passes. */
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smstudio/awsconfig.h"
#include "smstudio/macro.h"

/* Far beyond any real file; keeps a mistaken path (a log, a device) from
 * being read into memory. */
#define MAX_FILE_SIZE (4u * 1024 * 1024)

typedef enum section_kind {
        SECTION_PROFILE,     /* config [default] / [profile X], credentials [X] */
        SECTION_SSO_SESSION, /* [sso-session X] */
        SECTION_SERVICES,    /* [services X] */
        SECTION_OTHER,       /* anything else; kept, never looked up */
} section_kind;

typedef struct entry {
        char *key;
        char *value; /* continuation lines joined with '\n' */
        unsigned line;
        bool nested; /* "key =" followed by indented "sub = value" lines */
        struct entry *subs;
        size_t n_subs;
} entry;

typedef struct section {
        char *header; /* the text between the brackets */
        char *name;   /* the profile, sso-session or services name */
        section_kind kind;
        unsigned line;
        entry *entries;
        size_t n_entries;
} section;

typedef struct ini_file {
        char *path;
        section *sections;
        size_t n_sections;
} ini_file;

struct sm_aws_config {
        ini_file config;
        ini_file credentials;
};

/* What the reader handed to inih last; inih calls the handler for that line
 * before it reads the next, so the handler can trust this. */
typedef enum piece_kind {
        PIECE_LINE,   /* a whole line of the file */
        PIECE_JOIN,   /* a further piece of a long line */
        PIECE_MARKER, /* synthetic: a section starts */
        PIECE_HEADER, /* synthetic: the header again */
} piece_kind;

typedef struct parse_ctx {
        ini_file *file;
        bool is_config;

        /* reader */
        const char *buf;
        size_t len;
        size_t pos;
        unsigned phys;    /* physical line of the current piece */
        const char *rest; /* the long line being handed out in pieces */
        size_t rest_len;
        char *header_name; /* of the header line just handed out */
        bool header_pending;
        piece_kind kind;
        bool indented;
        unsigned *map; /* inih line number - 1 -> physical line */
        size_t n_map;
        size_t cap_map;

        /* handler */
        bool in_key;      /* inih has a "previous key": indented lines continue it */
        long cur_section; /* index, -1 before the first header */
        long cur_entry;   /* index in the section, -1 when the key was refused */
        long cur_sub;     /* index of the last nested entry, -1 when none */

        unsigned err_line; /* 0 = no error yet */
        char *err_msg;
        bool oom;
} parse_ctx;

static void entry_done(entry *e)
{
        free(e->key);
        free(e->value);
        for (size_t i = 0; i < e->n_subs; i++)
                entry_done(&e->subs[i]);
        free(e->subs);
}

static void ini_file_done(ini_file *f)
{
        for (size_t i = 0; i < f->n_sections; i++) {
                section *s = &f->sections[i];

                for (size_t j = 0; j < s->n_entries; j++)
                        entry_done(&s->entries[j]);
                free(s->entries);
                free(s->header);
                free(s->name);
        }
        free(f->sections);
        free(f->path);
        *f = (ini_file){0};
}

sm_aws_config *sm_aws_config_free(sm_aws_config *c)
{
        if (!c)
                return NULL;
        ini_file_done(&c->config);
        ini_file_done(&c->credentials);
        free(c);
        return NULL;
}
DEFINE_POINTER_CLEANUP(sm_aws_config, sm_aws_config_free)

/* Keep the first error in file order; inih's own (syntax) error is only
 * known at the end and competes by line number too. */
static void fail(parse_ctx *ctx, unsigned line, const char *fmt, ...) _printf_(3, 4);
static void fail(parse_ctx *ctx, unsigned line, const char *fmt, ...)
{
        va_list ap;
        char *msg = NULL;

        if (ctx->err_line && ctx->err_line <= line)
                return;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0) {
                msg = NULL;
                ctx->oom = true;
        }
        va_end(ap);
        if (!msg)
                return;
        free(ctx->err_msg);
        ctx->err_msg = msg;
        ctx->err_line = line;
}

static bool is_blank(char c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' || c == '\n';
}

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
        size_t c;
        void *q;

        if (n < *cap)
                return 0;
        c = *cap ? *cap * 2 : 8;
        q = reallocarray(*p, c, size);
        if (!q)
                return -ENOMEM;
        *p = q;
        *cap = c;
        return 0;
}

/* Append one piece to the line buffer inih gave us. */
static char *emit(parse_ctx *ctx, char *str, const char *prefix, const char *s, size_t n,
                  piece_kind kind)
{
        size_t p = strlen(prefix);

        if (grow((void **)&ctx->map, &ctx->cap_map, ctx->n_map, sizeof(*ctx->map)) < 0) {
                ctx->oom = true;
                return NULL;
        }
        ctx->map[ctx->n_map++] = ctx->phys;
        memcpy(str, prefix, p);
        memcpy(str + p, s, n);
        str[p + n] = '\n';
        str[p + n + 1] = '\0';
        ctx->kind = kind;
        return str;
}

/* Where inih's inline comment starts in s[0..n) (blank then ';'), or n. */
static size_t comment_start(const char *s, size_t n)
{
        for (size_t i = 1; i < n; i++)
                if (s[i] == ';' && is_blank(s[i - 1]))
                        return i - 1;
        return n;
}

/* The name of a header line as inih reads it: after optional blanks, '[',
 * then up to the first ']' unless an inline comment comes first. NULL when
 * inih would refuse the line (it reports that itself). */
static char *header_name(const char *s, size_t n)
{
        size_t i = 0, end;

        while (i < n && is_blank(s[i]))
                i++;
        if (i >= n || s[i] != '[')
                return NULL;
        i++;
        end = i + comment_start(s + i, n - i);
        for (size_t j = i; j < end; j++)
                if (s[j] == ']')
                        return strndup(s + i, j - i);
        return NULL;
}

/* Cut a long line: the largest piece of at most cap bytes that ends on a
 * non-blank byte and leaves a next piece starting with a byte inih will not
 * trim or take for a comment. 0 when there is none. */
static size_t split_point(const char *s, size_t n, size_t cap)
{
        if (n <= cap)
                return n;
        for (size_t p = cap; p > 0; p--)
                if (!is_blank(s[p - 1]) && !is_blank(s[p]) && s[p] != ';' && s[p] != '#')
                        return p;
        return 0;
}

/* The ini_reader: fgets() over the file in memory, with the framing
 * described at the top. num is inih's buffer size (INI_MAX_LINE). */
static char *reader(char *str, int num, void *stream)
{
        parse_ctx *ctx = stream;
        const char *line, *nl;
        size_t n, cap, cut, first;

        if (num < 16 || ctx->oom)
                return NULL;
        /* Room for a one-byte indent, the newline and the NUL. */
        cap = (size_t)num - 3;

        if (ctx->header_pending) {
                /* The marker is a plain key line; its name never reaches
                 * the data, the handler recognises it by ctx->kind. */
                ctx->header_pending = false;
                return emit(ctx, str, "", "smstudio-section=1", 18, PIECE_MARKER);
        }
        if (ctx->kind == PIECE_MARKER) {
                /* The header again: inih forgets the marker as previous key. */
                line = ctx->rest;
                ctx->rest = NULL;
                return emit(ctx, str, "", line, ctx->rest_len, PIECE_HEADER);
        }
        if (ctx->rest) {
                cut = split_point(ctx->rest, ctx->rest_len, cap);
                if (cut == 0) {
                        fail(ctx, ctx->phys, "line too long to read (no place to split it)");
                        ctx->rest = NULL;
                        return emit(ctx, str, "", "#", 1, PIECE_LINE);
                }
                line = ctx->rest;
                if (cut < ctx->rest_len) {
                        ctx->rest += cut;
                        ctx->rest_len -= cut;
                } else {
                        ctx->rest = NULL;
                }
                return emit(ctx, str, " ", line, cut, PIECE_JOIN);
        }

        if (ctx->pos >= ctx->len)
                return NULL;
        line = ctx->buf + ctx->pos;
        nl = memchr(line, '\n', ctx->len - ctx->pos);
        n = nl ? (size_t)(nl - line) : ctx->len - ctx->pos;
        ctx->pos += n + (nl ? 1 : 0);
        ctx->phys++;
        if (ctx->phys == 1 && n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
                line += 3;
                n -= 3;
        }
        ctx->indented = n > 0 && is_blank(line[0]);
        if (memchr(line, '\0', n)) {
                fail(ctx, ctx->phys, "NUL byte in the line");
                return emit(ctx, str, "", "#", 1, PIECE_LINE);
        }

        first = 0;
        while (first < n && is_blank(line[first]))
                first++;
        /* A header (an indented '[' line is one only when no key precedes). */
        if (first < n && line[first] == '[' && (!ctx->indented || !ctx->in_key)) {
                if (n > cap) {
                        fail(ctx, ctx->phys, "section header longer than %zu characters", cap);
                        return emit(ctx, str, "", "#", 1, PIECE_LINE);
                }
                free(ctx->header_name);
                ctx->header_name = header_name(line, n);
                if (ctx->header_name) {
                        ctx->header_pending = true;
                        ctx->rest = line;
                        ctx->rest_len = n;
                }
                return emit(ctx, str, "", line, n, PIECE_LINE);
        }
        if (n <= cap)
                return emit(ctx, str, "", line, n, PIECE_LINE);

        /* A long line. A comment is dropped whole. */
        if (first < n && (line[first] == ';' || line[first] == '#'))
                return emit(ctx, str, "", "#", 1, PIECE_LINE);
        if (!ctx->indented || !ctx->in_key) {
                /* A new key: inih ends its value at an inline comment; do
                 * that before cutting, so no piece holds comment text. The
                 * '=' (or ':') must be in the first piece, after a name. */
                size_t sep;

                n = comment_start(line, n);
                while (n > 0 && is_blank(line[n - 1]))
                        n--;
                if (n <= cap)
                        return emit(ctx, str, "", line, n, PIECE_LINE);
                for (sep = 0; sep < n && line[sep] != '=' && line[sep] != ':'; sep++)
                        ;
                cut = split_point(line, n, cap);
                if (sep >= cut || sep == first) {
                        fail(ctx, ctx->phys, "line too long (%zu characters) before its '='", n);
                        return emit(ctx, str, "", "#", 1, PIECE_LINE);
                }
        } else {
                cut = split_point(line, n, cap);
        }
        if (cut == 0) {
                fail(ctx, ctx->phys, "line too long to read (no place to split it)");
                return emit(ctx, str, "", "#", 1, PIECE_LINE);
        }
        ctx->rest = line + cut;
        ctx->rest_len = n - cut;
        return emit(ctx, str, "", line, cut, PIECE_LINE);
}

/* What a config file header means (botocore's build_profile_map): [default],
 * [profile NAME], [sso-session NAME], [services NAME]; NAME may be quoted. A
 * header with one of these prefixes but no usable name is an error (botocore
 * quietly ignores it, and then "profile not found" points nowhere). */
static int classify(parse_ctx *ctx, const char *header, unsigned line, section_kind *ret_kind,
                    char **ret_name)
{
        static const struct {
                const char *prefix;
                section_kind kind;
        } prefixes[] = {
                {"profile", SECTION_PROFILE},
                {"sso-session", SECTION_SSO_SESSION},
                {"services", SECTION_SERVICES},
        };
        const char *s;
        size_t n;

        if (!ctx->is_config) {
                *ret_kind = SECTION_PROFILE;
                *ret_name = strdup(header);
                return *ret_name ? 0 : -ENOMEM;
        }
        if (streq(header, "default")) {
                *ret_kind = SECTION_PROFILE;
                *ret_name = strdup(header);
                return *ret_name ? 0 : -ENOMEM;
        }
        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++) {
                size_t p = strlen(prefixes[i].prefix);

                if (strncmp(header, prefixes[i].prefix, p) != 0 ||
                    (header[p] && !is_blank(header[p])))
                        continue;
                s = header + p;
                while (is_blank(*s))
                        s++;
                n = strlen(s);
                while (n > 0 && is_blank(s[n - 1]))
                        n--;
                if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
                        s++;
                        n -= 2;
                } else {
                        for (size_t j = 0; j < n; j++)
                                if (is_blank(s[j]) || s[j] == '"') {
                                        n = 0;
                                        break;
                                }
                }
                if (n == 0 || memchr(s, '"', n)) {
                        fail(ctx, line, "malformed section header [%s]: expected [%s NAME]", header,
                             prefixes[i].prefix);
                        return -EINVAL;
                }
                *ret_kind = prefixes[i].kind;
                *ret_name = strndup(s, n);
                return *ret_name ? 0 : -ENOMEM;
        }
        *ret_kind = SECTION_OTHER;
        *ret_name = strdup(header);
        return *ret_name ? 0 : -ENOMEM;
}

static int start_section(parse_ctx *ctx)
{
        ini_file *f = ctx->file;
        const char *header = ctx->header_name;
        _cleanup_free_ char *name = NULL;
        section_kind kind;
        section *s;
        int r;

        ctx->in_key = false;
        ctx->cur_entry = -1;
        ctx->cur_sub = -1;
        ctx->cur_section = -1;

        /* configparser refuses a repeated section, so botocore does too. */
        for (size_t i = 0; i < f->n_sections; i++)
                if (streq(f->sections[i].header, header)) {
                        fail(ctx, ctx->phys, "duplicate section [%s] (first at line %u)", header,
                             f->sections[i].line);
                        return 0;
                }
        r = classify(ctx, header, ctx->phys, &kind, &name);
        if (r == -EINVAL)
                return 0;
        if (r < 0)
                return r;

        s = reallocarray(f->sections, f->n_sections + 1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        f->sections = s;
        s = &f->sections[f->n_sections];
        *s = (section){
                .header = strdup(header),
                .name = TAKE_PTR(name),
                .kind = kind,
                .line = ctx->phys,
        };
        if (!s->header) {
                free(s->name);
                return -ENOMEM;
        }
        ctx->cur_section = (long)f->n_sections++;
        return 0;
}

static int new_entry(parse_ctx *ctx, const char *name, const char *value)
{
        section *s;
        entry *e;

        ctx->in_key = true;
        ctx->cur_entry = -1;
        ctx->cur_sub = -1;
        if (ctx->cur_section < 0) {
                /* Before any header, or under one we refused (reported). */
                if (ctx->file->n_sections == 0)
                        fail(ctx, ctx->phys, "\"%s\" is outside any [section]", name);
                return 0;
        }
        s = &ctx->file->sections[ctx->cur_section];
        if (!*name) {
                fail(ctx, ctx->phys, "missing name before '='");
                ctx->in_key = false;
                return 0;
        }
        for (size_t i = 0; i < s->n_entries; i++)
                if (streq(s->entries[i].key, name)) {
                        fail(ctx, ctx->phys, "duplicate key \"%s\" in [%s] (first at line %u)",
                             name, s->header, s->entries[i].line);
                        return 0;
                }
        e = reallocarray(s->entries, s->n_entries + 1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        s->entries = e;
        e = &s->entries[s->n_entries];
        *e = (entry){.key = strdup(name), .value = strdup(value), .line = ctx->phys};
        if (!e->key || !e->value) {
                free(e->key);
                free(e->value);
                return -ENOMEM;
        }
        ctx->cur_entry = (long)s->n_entries++;
        return 0;
}

static int append(char **p, const char *sep, const char *s)
{
        char *n = NULL;

        if (asprintf(&n, "%s%s%s", *p, sep, s) < 0)
                return -ENOMEM;
        free(*p);
        *p = n;
        return 0;
}

/* An indented line under a key. "key =" (empty) followed by "sub = value"
 * lines is a nested section (botocore's _parse_nested: [services] and s3
 * settings); otherwise the line extends the value. */
static int continue_entry(parse_ctx *ctx, const char *value)
{
        entry *e, *sub;
        const char *eq;
        size_t klen;

        if (ctx->cur_section < 0 || ctx->cur_entry < 0)
                return 0;
        e = &ctx->file->sections[ctx->cur_section].entries[ctx->cur_entry];
        if (!e->nested && *e->value)
                return append(&e->value, "\n", value);

        e->nested = true;
        ctx->cur_sub = -1;
        eq = strchr(value, '=');
        klen = eq ? (size_t)(eq - value) : 0;
        while (klen > 0 && is_blank(value[klen - 1]))
                klen--;
        if (!eq || klen == 0) {
                fail(ctx, ctx->phys, "expected \"name = value\" under \"%s\"", e->key);
                return 0;
        }
        eq++;
        while (is_blank(*eq))
                eq++;
        sub = reallocarray(e->subs, e->n_subs + 1, sizeof(*sub));
        if (!sub)
                return -ENOMEM;
        e->subs = sub;
        sub = &e->subs[e->n_subs];
        *sub = (entry){.key = strndup(value, klen), .value = strdup(eq), .line = ctx->phys};
        if (!sub->key || !sub->value) {
                free(sub->key);
                free(sub->value);
                return -ENOMEM;
        }
        ctx->cur_sub = (long)e->n_subs++;
        return 0;
}

/* A further piece of a long line: glue it on without a separator. */
static int join_piece(parse_ctx *ctx, const char *value)
{
        entry *e;

        if (ctx->cur_section < 0 || ctx->cur_entry < 0)
                return 0;
        e = &ctx->file->sections[ctx->cur_section].entries[ctx->cur_entry];
        if (e->nested) {
                if (ctx->cur_sub < 0)
                        return 0;
                return append(&e->subs[ctx->cur_sub].value, "", value);
        }
        return append(&e->value, "", value);
}

static int handler(void *user, const char *section_name, const char *name, const char *value)
{
        parse_ctx *ctx = user;
        int r;

        (void)section_name;
        if (ctx->oom)
                return 0;
        /* Builds with INI_CALL_HANDLER_ON_NEW_SECTION announce sections
         * with a NULL name; the marker already does that for us. */
        if (!name || !value)
                return 1;
        switch (ctx->kind) {
        case PIECE_MARKER:
                r = start_section(ctx);
                break;
        case PIECE_JOIN:
                r = join_piece(ctx, value);
                break;
        case PIECE_HEADER:
                r = 0;
                break;
        case PIECE_LINE:
        default:
                if (ctx->indented && ctx->in_key)
                        r = continue_entry(ctx, value);
                else
                        r = new_entry(ctx, name, value);
                break;
        }
        if (r < 0) {
                ctx->oom = true;
                return 0;
        }
        /* Errors are collected in ctx; telling inih would only make it note
         * the same line again. */
        return 1;
}

/* Read a whole file. A missing file (or a missing directory on the way) is
 * an empty one, as in the SDKs. */
static int read_file(const char *path, char **ret, size_t *ret_len, char **ret_error)
{
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0, cap;
        int fd, r = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT || errno == ENOTDIR) {
                        *ret = NULL;
                        *ret_len = 0;
                        return 0;
                }
                r = -errno;
                goto fail;
        }
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto fail;
        }
        if (S_ISDIR(st.st_mode)) {
                r = -EISDIR;
                goto fail;
        }
        if (S_ISREG(st.st_mode) && st.st_size > (off_t)MAX_FILE_SIZE) {
                r = -EFBIG;
                goto fail;
        }
        /* The size is a hint (it may change, or be 0 for a pipe); one byte
         * more than expected tells us we reached the end. */
        cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 4096;
        buf = malloc(cap + 1);
        if (!buf) {
                close(fd);
                return -ENOMEM;
        }
        for (;;) {
                ssize_t n;

                if (len == cap) {
                        char *b;

                        cap = cap * 2 > MAX_FILE_SIZE + 1 ? MAX_FILE_SIZE + 1 : cap * 2;
                        b = realloc(buf, cap + 1);
                        if (!b) {
                                close(fd);
                                return -ENOMEM;
                        }
                        buf = b;
                }
                n = read(fd, buf + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto fail;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > MAX_FILE_SIZE) {
                        r = -EFBIG;
                        goto fail;
                }
        }
        close(fd);
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;

fail:
        if (fd >= 0)
                close(fd);
        if (r == -EFBIG) {
                if (asprintf(ret_error, "%s: larger than %u bytes, not an AWS config file", path,
                             MAX_FILE_SIZE) < 0)
                        return -ENOMEM;
        } else if (asprintf(ret_error, "%s: cannot read: %s", path, strerror(-r)) < 0) {
                return -ENOMEM;
        }
        return -EINVAL;
}

/* A line inih refused, explained (inih only says which). */
static const char *explain_line(const char *buf, size_t len, unsigned line)
{
        const char *s = buf, *end = buf + len;

        for (unsigned i = 1; i < line && s < end; i++) {
                const char *nl = memchr(s, '\n', end - s);

                s = nl ? nl + 1 : end;
        }
        while (s < end && is_blank(*s) && *s != '\n')
                s++;
        if (s < end && *s == '[')
                return "section header without a closing ']'";
        return "expected \"name = value\", a [section] header or a comment";
}

static int parse_file(const char *path, bool is_config, ini_file *ret, char **ret_error)
{
        _cleanup_free_ char *buf = NULL;
        parse_ctx ctx = {0};
        ini_file f = {0};
        size_t len = 0;
        int r;

        f.path = strdup(path);
        if (!f.path)
                return -ENOMEM;
        r = read_file(path, &buf, &len, ret_error);
        if (r < 0)
                goto fail;

        if (buf) {
                ctx = (parse_ctx){
                        .file = &f,
                        .is_config = is_config,
                        .buf = buf,
                        .len = len,
                        .cur_section = -1,
                        .cur_entry = -1,
                        .cur_sub = -1,
                };
                r = ini_parse_stream(reader, &ctx, handler, &ctx);
                if (ctx.oom || r == -2) {
                        r = -ENOMEM;
                        goto fail;
                }
                if (r > 0) {
                        unsigned line = (size_t)r <= ctx.n_map ? ctx.map[r - 1] : ctx.phys;

                        fail(&ctx, line, "%s", explain_line(buf, len, line));
                } else if (r < 0) {
                        fail(&ctx, ctx.phys, "cannot parse (inih error %d)", r);
                }
                if (ctx.oom) {
                        r = -ENOMEM;
                        goto fail;
                }
                if (ctx.err_msg) {
                        if (asprintf(ret_error, "%s:%u: %s", path, ctx.err_line, ctx.err_msg) < 0) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        r = -EINVAL;
                        goto fail;
                }
        }
        free(ctx.map);
        free(ctx.err_msg);
        free(ctx.header_name);
        *ret = f;
        return 0;

fail:
        free(ctx.map);
        free(ctx.err_msg);
        free(ctx.header_name);
        ini_file_done(&f);
        return r;
}

static int home_dir(char **ret)
{
        const char *home = getenv("HOME");
        struct passwd pw, *result = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t size = 1024;
        int r;

        if (!isempty(home)) {
                *ret = strdup(home);
                return *ret ? 0 : -ENOMEM;
        }
        /* A system service often has no $HOME; its passwd entry still says
         * where its files are (also for DynamicUser= via nss-systemd). */
        for (;;) {
                char *b = realloc(buf, size);

                if (!b)
                        return -ENOMEM;
                buf = b;
                r = getpwuid_r(geteuid(), &pw, buf, size, &result);
                if (r != ERANGE || size >= 1024 * 1024)
                        break;
                size *= 2;
        }
        if (r != 0 || !result || isempty(result->pw_dir))
                return -ENOENT;
        *ret = strdup(result->pw_dir);
        return *ret ? 0 : -ENOMEM;
}

/* One of the two paths: the variable if set (with a leading "~/" expanded,
 * as botocore's expanduser does), else ~/.aws/<name>. */
static int file_path(const char *var, const char *name, char **ret)
{
        const char *v = getenv(var);
        _cleanup_free_ char *home = NULL;
        int r;

        if (!isempty(v) && !(v[0] == '~' && (v[1] == '/' || v[1] == '\0'))) {
                *ret = strdup(v);
                return *ret ? 0 : -ENOMEM;
        }
        r = home_dir(&home);
        if (r < 0)
                return r;
        if (!isempty(v))
                r = asprintf(ret, "%s%s", home, v + 1);
        else
                r = asprintf(ret, "%s/.aws/%s", home, name);
        if (r < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

int sm_aws_config_default_paths(char **ret_config, char **ret_credentials)
{
        _cleanup_free_ char *config = NULL, *credentials = NULL;
        int r;

        r = file_path("AWS_CONFIG_FILE", "config", &config);
        if (r < 0)
                return r;
        r = file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials", &credentials);
        if (r < 0)
                return r;
        *ret_config = TAKE_PTR(config);
        *ret_credentials = TAKE_PTR(credentials);
        return 0;
}

int sm_aws_config_load(const char *config_path, const char *credentials_path, sm_aws_config **ret,
                       char **ret_error)
{
        _cleanup_(sm_aws_config_freep) sm_aws_config *c = NULL;
        _cleanup_free_ char *config = NULL, *credentials = NULL, *error = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;

        /* Without any home a default file cannot exist: it is then an
         * empty one with no path, like a missing file. */
        if (!config_path) {
                r = file_path("AWS_CONFIG_FILE", "config", &config);
                if (r < 0 && r != -ENOENT)
                        return r;
                config_path = config;
        }
        if (!credentials_path) {
                r = file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials", &credentials);
                if (r < 0 && r != -ENOENT)
                        return r;
                credentials_path = credentials;
        }
        if (config_path) {
                r = parse_file(config_path, true, &c->config, &error);
                if (r < 0)
                        goto fail;
        }
        if (credentials_path) {
                r = parse_file(credentials_path, false, &c->credentials, &error);
                if (r < 0)
                        goto fail;
        }
        *ret = TAKE_PTR(c);
        return 0;

fail:
        if (ret_error && error)
                *ret_error = TAKE_PTR(error);
        return r;
}

const char *sm_aws_config_config_path(const sm_aws_config *c)
{
        return c ? c->config.path : NULL;
}

const char *sm_aws_config_credentials_path(const sm_aws_config *c)
{
        return c ? c->credentials.path : NULL;
}

/* The section a profile lives in. When both [default] and [profile default]
 * exist the later one wins, as in botocore (it keeps the last it reads). */
static const section *find_section(const ini_file *f, section_kind kind, const char *name)
{
        if (!f || !name)
                return NULL;
        for (size_t i = f->n_sections; i > 0; i--) {
                const section *s = &f->sections[i - 1];

                if (s->kind == kind && streq(s->name, name))
                        return s;
        }
        return NULL;
}

static const entry *find_entry(const section *s, const char *key)
{
        if (!s || !key)
                return NULL;
        for (size_t i = 0; i < s->n_entries; i++)
                if (streq(s->entries[i].key, key))
                        return &s->entries[i];
        return NULL;
}

const char *sm_aws_config_profile_get(const sm_aws_config *c, const char *profile, const char *key)
{
        const entry *e;

        if (!c)
                return NULL;
        e = find_entry(find_section(&c->config, SECTION_PROFILE, profile), key);
        /* A nested key ("s3 =" with sub-keys) has no value of its own. */
        return e && !e->nested ? e->value : NULL;
}

const char *sm_aws_config_credentials_get(const sm_aws_config *c, const char *profile,
                                          const char *key)
{
        const entry *e;

        if (!c)
                return NULL;
        e = find_entry(find_section(&c->credentials, SECTION_PROFILE, profile), key);
        return e && !e->nested ? e->value : NULL;
}

bool sm_aws_config_has_profile(const sm_aws_config *c, const char *profile)
{
        if (!c)
                return false;
        return find_section(&c->config, SECTION_PROFILE, profile) ||
               find_section(&c->credentials, SECTION_PROFILE, profile);
}

static const entry *find_sub(const entry *e, const char *key)
{
        if (!e || !e->nested || !key)
                return NULL;
        /* A repeated sub-key: the last one wins, like a dict update. */
        for (size_t i = e->n_subs; i > 0; i--)
                if (streq(e->subs[i - 1].key, key))
                        return &e->subs[i - 1];
        return NULL;
}

const char *sm_aws_config_services_get(const sm_aws_config *c, const char *section_name,
                                       const char *service_key, const char *key)
{
        const entry *sub;

        if (!c)
                return NULL;
        sub = find_sub(
                find_entry(find_section(&c->config, SECTION_SERVICES, section_name), service_key),
                key);
        return sub ? sub->value : NULL;
}

bool sm_aws_config_has_services(const sm_aws_config *c, const char *section_name)
{
        return c && find_section(&c->config, SECTION_SERVICES, section_name);
}

const char *sm_aws_config_sso_session_get(const sm_aws_config *c, const char *session,
                                          const char *key)
{
        const entry *e;

        if (!c)
                return NULL;
        e = find_entry(find_section(&c->config, SECTION_SSO_SESSION, session), key);
        return e && !e->nested ? e->value : NULL;
}

const char *sm_aws_config_profile_get_nested(const sm_aws_config *c, const char *profile,
                                             const char *key, const char *sub_key)
{
        const entry *sub;

        if (!c)
                return NULL;
        sub = find_sub(find_entry(find_section(&c->config, SECTION_PROFILE, profile), key),
                       sub_key);
        return sub ? sub->value : NULL;
}

int sm_aws_config_key_origin(const sm_aws_config *c, bool credentials_file, const char *profile,
                             const char *key, const char **ret_path, unsigned *ret_line)
{
        const ini_file *f;
        const entry *e;

        if (!c)
                return -ENOENT;
        f = credentials_file ? &c->credentials : &c->config;
        e = find_entry(find_section(f, SECTION_PROFILE, profile), key);
        if (!e)
                return -ENOENT;
        if (ret_path)
                *ret_path = f->path;
        if (ret_line)
                *ret_line = e->line;
        return 0;
}

int sm_aws_config_services_origin(const sm_aws_config *c, const char *section_name,
                                  const char *service_key, const char *key, const char **ret_path,
                                  unsigned *ret_line)
{
        const entry *sub;

        if (!c)
                return -ENOENT;
        sub = find_sub(
                find_entry(find_section(&c->config, SECTION_SERVICES, section_name), service_key),
                key);
        if (!sub)
                return -ENOENT;
        if (ret_path)
                *ret_path = c->config.path;
        if (ret_line)
                *ret_line = sub->line;
        return 0;
}

int sm_parse_aws_bool(const char *s, bool *ret)
{
        if (!s)
                return -EINVAL;
        if (strcasecmp(s, "true") == 0) {
                *ret = true;
                return 0;
        }
        if (strcasecmp(s, "false") == 0) {
                *ret = false;
                return 0;
        }
        return -EINVAL;
}
