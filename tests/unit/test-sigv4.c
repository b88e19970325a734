/* SPDX-License-Identifier: Apache-2.0 */
/* SigV4: the AWS test-suite vectors in tests/data/sigv4 (every vector found
 * there, so a fuller copy of the suite is picked up as is), plus the edge
 * cases the vectors do not reach. */

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "smstudio/macro.h"
#include "smstudio/sigv4.h"
#include "smstudio/strbuf.h"
#include "testmain.h"

/* The suite's published example credentials and scope (tests/data/sigv4/README.md). */
#define AKID         "AKIDEXAMPLE"
#define SECRET       "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define REGION       "us-east-1"
#define SERVICE      "service"
#define AMZ_DATE     "20150830T123600Z"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

#define MAX_VECTORS 256

/* Vector directories (absolute), found by make_suite() before the runner
 * forks, so each vector is its own loop iteration and fails on its own. */
static char *vectors[MAX_VECTORS];
static size_t n_vectors;

/* A malloc'ed path built from a format; paths here have no length limit. */
static char *pathf(const char *fmt, ...) _printf_(1, 2);
static char *pathf(const char *fmt, ...)
{
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        /* Also used by make_suite(), outside any test: no ck_assert here. */
        if (r < 0)
                abort();
        return s;
}

static char *read_file(const char *path, size_t *ret_len)
{
        FILE *f = fopen(path, "rb");
        sm_buf b = {0};
        char chunk[4096];
        size_t n;

        if (!f)
                return NULL;
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                ck_assert_int_eq(sm_buf_append(&b, chunk, n), 0);
        fclose(f);
        if (ret_len)
                *ret_len = b.len;
        return sm_buf_steal(&b);
}

/* The expected-output files have no final newline, but tolerate one. */
static char *read_expected(const char *dir, const char *name, const char *ext)
{
        _cleanup_free_ char *path = pathf("%s/%s.%s", dir, name, ext);
        size_t len;
        char *s;

        s = read_file(path, &len);
        ck_assert_msg(s, "%s: cannot read", path);
        if (len > 0 && s[len - 1] == '\n')
                s[len - 1] = '\0';
        return s;
}

static bool is_vector_dir(const char *dir)
{
        const char *name = strrchr(dir, '/') + 1;
        _cleanup_free_ char *path = pathf("%s/%s.req", dir, name);
        struct stat st;

        return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Vectors are <dir>/<name>/<name>.req at any depth (normalize-path/ and
 * post-sts-token/ group some). */
static void scan_vectors(const char *dir)
{
        struct dirent **ents;
        int n = scandir(dir, &ents, NULL, alphasort);

        if (n < 0)
                return;
        for (int i = 0; i < n; i++) {
                if (ents[i]->d_name[0] != '.') {
                        char *path = pathf("%s/%s", dir, ents[i]->d_name);
                        struct stat st;

                        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
                                scan_vectors(path);
                                if (is_vector_dir(path) && n_vectors < MAX_VECTORS)
                                        vectors[n_vectors++] = TAKE_PTR(path);
                        }
                        free(path);
                }
                free(ents[i]);
        }
        free(ents);
}

typedef struct parsed_req {
        char *raw;  /* the file as read */
        char *text; /* a copy, cut up by the parser */
        char *method;
        char *path;
        char *query;
        sm_header headers[64];
        size_t n_headers;
        const char *body;
        size_t body_len;
} parsed_req;

/* Parse a .req: "METHOD target HTTP/1.1", then "Name:value" lines where a
 * line starting with white space continues the previous value (obs-fold,
 * kept raw with its line break: folding it is the signer's job), then
 * optionally a blank line and the body. The target is shown unencoded and
 * may contain spaces, so it ends at the last " HTTP/". */
static void parse_req(const char *file, parsed_req *p)
{
        char *line, *next, *sp, *proto, *q;
        size_t len;

        *p = (parsed_req){0};
        p->raw = read_file(file, &len);
        ck_assert_msg(p->raw, "%s: cannot read", file);
        p->text = strdup(p->raw);
        ck_assert_ptr_nonnull(p->text);

        line = p->text;
        next = strchr(line, '\n');
        ck_assert_msg(next, "%s: no header lines", file);
        *next = '\0';
        sp = strchr(line, ' ');
        proto = strstr(line, " HTTP/");
        for (char *s = proto; s; s = strstr(s + 1, " HTTP/"))
                proto = s;
        ck_assert_msg(sp && proto && proto > sp, "%s: bad request line", file);
        *sp = '\0';
        *proto = '\0';
        p->method = line;
        p->path = sp + 1;
        q = strchr(p->path, '?');
        if (q) {
                *q = '\0';
                p->query = q + 1;
        }

        line = next + 1;
        while (line < p->text + len) {
                next = strchr(line, '\n');
                if (line[0] == '\n') {
                        /* Blank line: everything after it is the body, verbatim. */
                        p->body = line + 1;
                        p->body_len = (size_t)(p->text + len - p->body);
                        break;
                }
                if (next)
                        *next = '\0';
                if (line[0] == ' ' || line[0] == '\t') {
                        sm_header *h;
                        char *v;

                        ck_assert_msg(p->n_headers > 0, "%s: continuation first", file);
                        h = &p->headers[p->n_headers - 1];
                        ck_assert(asprintf(&v, "%s\n%s", h->value, line) >= 0);
                        free(h->value);
                        h->value = v;
                } else {
                        char *colon = strchr(line, ':');

                        ck_assert_msg(colon, "%s: header without ':': %s", file, line);
                        ck_assert(p->n_headers < ELEMENTSOF(p->headers));
                        *colon = '\0';
                        p->headers[p->n_headers].name = line;
                        p->headers[p->n_headers].value = strdup(colon + 1);
                        p->n_headers++;
                }
                if (!next)
                        break;
                line = next + 1;
        }
}

static void parsed_req_done(parsed_req *p)
{
        for (size_t i = 0; i < p->n_headers; i++)
                free(p->headers[i].value);
        free(p->text);
        free(p->raw);
}

static const char *amz_date_of(const parsed_req *p)
{
        for (size_t i = 0; i < p->n_headers; i++)
                if (strcasecmp(p->headers[i].name, "X-Amz-Date") == 0)
                        return p->headers[i].value;
        return AMZ_DATE;
}

START_TEST(test_vector)
{
        const char *dir = vectors[_i], *name = strrchr(dir, '/') + 1;
        _cleanup_free_ char *creq = NULL, *sts = NULL, *authz = NULL, *sreq = NULL;
        _cleanup_free_ char *auth_line = NULL;
        _cleanup_free_ char *req_path = pathf("%s/%s.req", dir, name);
        _cleanup_free_ char *sreq_path = pathf("%s/%s.sreq", dir, name);
        sm_sigv4_signature sig = {0};
        sm_sigv4_request req;
        parsed_req p;
        size_t sreq_len;

        parse_req(req_path, &p);
        req = (sm_sigv4_request){
                .method = p.method,
                .path = p.path,
                .query = p.query,
                .headers = p.headers,
                .n_headers = p.n_headers,
                .payload = p.body,
                .payload_len = p.body_len,
                .normalize_path = true,
        };
        ck_assert_int_eq(
                sm_sigv4_sign(NULL, &req, AKID, SECRET, REGION, SERVICE, amz_date_of(&p), &sig), 0);

        creq = read_expected(dir, name, "creq");
        sts = read_expected(dir, name, "sts");
        authz = read_expected(dir, name, "authz");
        ck_assert_msg(streq(sig.canonical_request, creq), "%s: canonical request\n%s\n--- want\n%s",
                      name, sig.canonical_request, creq);
        ck_assert_msg(streq(sig.string_to_sign, sts), "%s: string to sign\n%s\n--- want\n%s", name,
                      sig.string_to_sign, sts);
        ck_assert_msg(streq(sig.authorization, authz), "%s: authorization\n%s\n--- want\n%s", name,
                      sig.authorization, authz);
        ck_assert_int_eq(strlen(sig.signature), 64);
        ck_assert_ptr_nonnull(strstr(authz, sig.signature));

        /* The .sreq is the request with our Authorization line added (other
         * lines, such as a token added after signing, may come with it):
         * check the request line and that line, not the layout. */
        sreq = read_file(sreq_path, &sreq_len);
        if (sreq) {
                size_t first = strcspn(p.raw, "\n");
                const char *at;

                ck_assert_msg(sreq_len > first && strncmp(sreq, p.raw, first + 1) == 0,
                              "%s: .sreq has another request line", name);
                ck_assert(asprintf(&auth_line, "\nAuthorization: %s", sig.authorization) >= 0);
                at = strstr(sreq, auth_line);
                ck_assert_msg(
                        at && (at[strlen(auth_line)] == '\0' || at[strlen(auth_line)] == '\n'),
                        "%s: .sreq lacks our Authorization line", name);
        }

        sm_sigv4_signature_done(&sig);
        parsed_req_done(&p);
}
END_TEST

START_TEST(test_vectors_present)
{
        /* 19 in the subset kept here; the full upstream suite has 34. */
        ck_assert_msg(n_vectors >= 19, "found only %zu vectors (SM_SOURCE_ROOT=%s)", n_vectors,
                      getenv("SM_SOURCE_ROOT"));
}
END_TEST

/* Sign a request built from a few fields and return the canonical request. */
static char *creq_of(const char *method, const char *path, const char *query,
                     const sm_header *headers, size_t n_headers, bool normalize)
{
        sm_sigv4_request req = {
                .method = method,
                .path = path,
                .query = query,
                .headers = headers,
                .n_headers = n_headers,
                .normalize_path = normalize,
        };
        sm_sigv4_signature sig = {0};
        char *creq;

        ck_assert_int_eq(sm_sigv4_sign(NULL, &req, AKID, SECRET, REGION, SERVICE, AMZ_DATE, &sig),
                         0);
        creq = strdup(sig.canonical_request);
        sm_sigv4_signature_done(&sig);
        return creq;
}

/* Line n (0-based) of a canonical request, as a new string. */
static char *line_of(const char *s, int n)
{
        for (; n > 0; n--) {
                s = strchr(s, '\n');
                ck_assert_ptr_nonnull(s);
                s++;
        }
        return strndup(s, strcspn(s, "\n"));
}

static sm_header host_hdr[] = {
        {(char *)"Host", (char *)"example.amazonaws.com"},
        {(char *)"X-Amz-Date", (char *)AMZ_DATE},
};

static void check_query(const char *query, const char *want)
{
        _cleanup_free_ char *creq = creq_of("GET", "/", query, host_hdr, 2, true);
        _cleanup_free_ char *line = line_of(creq, 2);

        ck_assert_msg(streq(line, want), "query %s: got %s, want %s", query ? query : "(null)",
                      line, want);
}

START_TEST(test_query)
{
        check_query(NULL, "");
        check_query("", "");
        check_query("&", "");
        /* Repeated keys: by key, then by value, both in byte order. */
        check_query("b=2&a=z&a=y&a=Y", "a=Y&a=y&a=z&b=2");
        check_query("Param2=value2&Param1=value1", "Param1=value1&Param2=value2");
        check_query("key", "key=");
        check_query("key=", "key=");
        check_query("a=1&&b=2&", "a=1&b=2");
        /* One canonical spelling whatever the caller sent. */
        check_query("a=b c", "a=b%20c");
        check_query("a=b%20c", "a=b%20c");
        check_query("a=b+c", "a=b%20c");
        check_query("a=%2b", "a=%2B");
        check_query("a=%7E%41", "a=~A");
        check_query("x=/:@!$'()*,;=", "x=%2F%3A%40%21%24%27%28%29%2A%2C%3B%3D");
        check_query("n=%00", "n=%00");
        check_query("k%3Dx=v", "k%3Dx=v");
        /* Sorting happens on the encoded form: '%' (0x25) sorts before 'A'. */
        check_query("A=1&%2A=2", "%2A=2&A=1");
        check_query("%E1%88%B4=bar", "%E1%88%B4=bar");
}
END_TEST

static void check_path(const char *path, bool normalize, const char *want)
{
        _cleanup_free_ char *creq = creq_of("GET", path, NULL, host_hdr, 2, normalize);
        _cleanup_free_ char *line = line_of(creq, 1);

        ck_assert_msg(streq(line, want), "path %s: got %s, want %s", path, line, want);
}

START_TEST(test_path)
{
        check_path("", true, "/");
        check_path("/", true, "/");
        check_path("//", true, "/");
        check_path("//example//", true, "/example/");
        check_path("/a//b/./c/../d/", true, "/a/b/d/");
        check_path("/a/.", true, "/a");
        check_path("/../..", true, "/");
        check_path("/a/b/../../../c", true, "/c");
        check_path("/...", true, "/...");
        /* The wire path is encoded once already: encode it again. */
        check_path("/a%20b/%2F", true, "/a%2520b/%252F");
        check_path("/$x/:y", true, "/%24x/%3Ay");
        /* S3 style: verbatim, escapes kept (hex upper-cased), strays encoded. */
        check_path("/a//b/./../%2fc d", false, "/a//b/./../%2Fc%20d");
        check_path("/k%20x~", false, "/k%20x~");
        check_path("", false, "/");
}
END_TEST

START_TEST(test_headers)
{
        sm_header h[] = {
                {(char *)"X-Amz-Date", (char *)AMZ_DATE},
                {(char *)"my-header", (char *)"  a \t b\r\n   c  "},
                {(char *)"Host", (char *)"example.amazonaws.com"},
                {(char *)"My-Header", (char *)"second"},
                {(char *)"x-amz", (char *)""},
                {(char *)"MY-HEADER", (char *)"   "},
        };
        _cleanup_free_ char *creq = creq_of("POST", "/", NULL, h, ELEMENTSOF(h), true);

        /* Sorted by name only: "x-amz" before "x-amz-date", although
         * "x-amz-date:" sorts before "x-amz:" as a line. */
        ck_assert_str_eq(creq, "POST\n/\n\n"
                               "host:example.amazonaws.com\n"
                               "my-header:a b c,second,\n"
                               "x-amz:\n"
                               "x-amz-date:" AMZ_DATE "\n"
                               "\n"
                               "host;my-header;x-amz;x-amz-date\n" EMPTY_SHA256);
}
END_TEST

START_TEST(test_session_token)
{
        sm_header h[] = {
                {(char *)"Host", (char *)"sts.amazonaws.com"},
                {(char *)"X-Amz-Date", (char *)AMZ_DATE},
                {(char *)"X-Amz-Security-Token", (char *)"FQoG//token+/="},
        };
        sm_sigv4_request req = {
                .method = "POST",
                .path = "/",
                .headers = h,
                .n_headers = ELEMENTSOF(h),
                .normalize_path = true,
        };
        sm_sigv4_signature sig = {0}, plain = {0};

        ck_assert_int_eq(sm_sigv4_sign(NULL, &req, AKID, SECRET, REGION, SERVICE, AMZ_DATE, &sig),
                         0);
        ck_assert_ptr_nonnull(
                strstr(sig.canonical_request, "\nx-amz-security-token:FQoG//token+/=\n"));
        ck_assert_ptr_nonnull(
                strstr(sig.authorization, "SignedHeaders=host;x-amz-date;x-amz-security-token, "));
        req.n_headers = 2;
        ck_assert_int_eq(sm_sigv4_sign(NULL, &req, AKID, SECRET, REGION, SERVICE, AMZ_DATE, &plain),
                         0);
        ck_assert_str_ne(sig.signature, plain.signature);
        sm_sigv4_signature_done(&sig);
        sm_sigv4_signature_done(&plain);
}
END_TEST

/* A JSON 1.1 request with a body, as the daemon sends them. The expected
 * values were computed once with Python's hashlib/hmac from the spec, not
 * with this code. */
START_TEST(test_json_body)
{
        static const char body[] = "{\"MaxResults\": 10}";
        sm_header h[] = {
                {(char *)"Content-Type", (char *)"application/x-amz-json-1.1"},
                {(char *)"Host", (char *)"api.sagemaker.eu-west-1.amazonaws.com"},
                {(char *)"X-Amz-Date", (char *)"20240102T030405Z"},
                {(char *)"X-Amz-Target", (char *)"SageMaker.ListDomains"},
        };
        sm_sigv4_request req = {
                .method = "POST",
                .path = "/",
                .headers = h,
                .n_headers = ELEMENTSOF(h),
                .payload = body,
                .payload_len = strlen(body),
                .normalize_path = true,
        };
        sm_sigv4_signature sig = {0};
        char hash[65];

        sm_sha256_hex(body, strlen(body), hash);
        ck_assert_str_eq(hash, "8a9354f6dcd0e97e1f5804c376b5ed41c550757c400462c08746e820bee8250d");
        ck_assert_int_eq(sm_sigv4_sign(NULL, &req, "AKIDEXAMPLE", SECRET, "eu-west-1", "sagemaker",
                                       "20240102T030405Z", &sig),
                         0);
        ck_assert_str_eq(sig.canonical_request,
                         "POST\n/\n\n"
                         "content-type:application/x-amz-json-1.1\n"
                         "host:api.sagemaker.eu-west-1.amazonaws.com\n"
                         "x-amz-date:20240102T030405Z\n"
                         "x-amz-target:SageMaker.ListDomains\n"
                         "\n"
                         "content-type;host;x-amz-date;x-amz-target\n"
                         "8a9354f6dcd0e97e1f5804c376b5ed41c550757c400462c08746e820bee8250d");
        ck_assert_str_eq(
                sig.string_to_sign,
                "AWS4-HMAC-SHA256\n20240102T030405Z\n20240102/eu-west-1/sagemaker/aws4_request\n"
                "a0daa8aa41a5e4ef1c0bfede07dace69ba8f47d6f0d205202e55aea9ade4bdcf");
        ck_assert_str_eq(sig.signature,
                         "9548facf91c9c51474eccbd741ee4f46d3097ea6e11c449cdab5c7178b508c8e");
        ck_assert_str_eq(
                sig.authorization,
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/eu-west-1/sagemaker/"
                "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
                "Signature=9548facf91c9c51474eccbd741ee4f46d3097ea6e11c449cdab5c7178b508c8e");
        sm_sigv4_signature_done(&sig);
}
END_TEST

START_TEST(test_sha256_and_date)
{
        char hex[65], date[17];

        sm_sha256_hex("abc", 3, hex);
        ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        sm_sha256_hex(NULL, 0, hex);
        ck_assert_str_eq(hex, EMPTY_SHA256);
        sm_sigv4_format_date(1440938160, date);
        ck_assert_str_eq(date, AMZ_DATE);
        sm_sigv4_format_date(0, date);
        ck_assert_str_eq(date, "19700101T000000Z");
}
END_TEST

static void sign_with(sm_sigv4_cache *c, const char *secret, const char *region,
                      const char *service, const char *date, char out[65])
{
        sm_sigv4_request req = {
                .method = "GET",
                .path = "/",
                .headers = host_hdr,
                .n_headers = 2,
                .normalize_path = true,
        };
        sm_sigv4_signature sig = {0};

        ck_assert_int_eq(sm_sigv4_sign(c, &req, AKID, secret, region, service, date, &sig), 0);
        memcpy(out, sig.signature, 65);
        sm_sigv4_signature_done(&sig);
}

START_TEST(test_cache)
{
        sm_sigv4_cache *c = sm_sigv4_cache_new();
        char none[65], first[65], again[65], other[65], s[65];

        ck_assert_ptr_nonnull(c);
        sign_with(NULL, SECRET, REGION, SERVICE, AMZ_DATE, none);
        sign_with(c, SECRET, REGION, SERVICE, AMZ_DATE, first);
        sign_with(c, SECRET, REGION, SERVICE, AMZ_DATE, again);
        /* The get-vanilla signature, whichever way the key came. */
        ck_assert_str_eq(none, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
        ck_assert_str_eq(first, none);
        ck_assert_str_eq(again, none);

        /* Every part of the cache key matters. */
        sign_with(c, SECRET "x", REGION, SERVICE, AMZ_DATE, other);
        ck_assert_str_ne(other, none);
        sign_with(NULL, SECRET "x", REGION, SERVICE, AMZ_DATE, s);
        ck_assert_str_eq(other, s);
        sign_with(c, SECRET, "us-east-2", SERVICE, AMZ_DATE, s);
        ck_assert_str_ne(s, none);
        sign_with(c, SECRET, REGION, "service2", AMZ_DATE, s);
        ck_assert_str_ne(s, none);
        sign_with(c, SECRET, REGION, SERVICE, "20150831T123600Z", s);
        ck_assert_str_ne(s, none);
        /* No confusion between fields: ("us-east-1", "service") vs
         * ("us-east-1s", "ervice"). */
        sign_with(c, SECRET, REGION "s", "ervice", AMZ_DATE, s);
        ck_assert_str_ne(s, none);

        /* More distinct keys than slots: evicted entries are re-derived,
         * never confused. */
        for (int i = 0; i < 40; i++) {
                char region[32], want[65];

                snprintf(region, sizeof(region), "r-%d", i % 23);
                sign_with(c, SECRET, region, SERVICE, AMZ_DATE, s);
                sign_with(NULL, SECRET, region, SERVICE, AMZ_DATE, want);
                ck_assert_str_eq(s, want);
        }
        sign_with(c, SECRET, REGION, SERVICE, AMZ_DATE, again);
        ck_assert_str_eq(again, none);
        sign_with(c, SECRET "x", REGION, SERVICE, AMZ_DATE, s);
        ck_assert_str_eq(s, other);

        ck_assert_ptr_null(sm_sigv4_cache_free(c));
        ck_assert_ptr_null(sm_sigv4_cache_free(NULL));
}
END_TEST

static int sign_err(const sm_sigv4_request *req, const char *akid, const char *secret,
                    const char *region, const char *service, const char *date)
{
        sm_sigv4_signature sig = {.canonical_request = (char *)"untouched"};
        int r = sm_sigv4_sign(NULL, req, akid, secret, region, service, date, &sig);

        /* Out-parameters are written only on success. */
        if (r < 0)
                ck_assert_str_eq(sig.canonical_request, "untouched");
        else
                sm_sigv4_signature_done(&sig);
        return r;
}

START_TEST(test_invalid)
{
        sm_header bad_name[] = {{(char *)"Bad Name", (char *)"v"}};
        sm_header colon_name[] = {{(char *)"a:b", (char *)"v"}};
        sm_header null_name[] = {{NULL, (char *)"v"}};
        sm_header null_value[] = {{(char *)"a", NULL}};
        sm_header empty_name[] = {{(char *)"", (char *)"v"}};
        sm_sigv4_request ok = {.method = "GET", .path = "/", .headers = host_hdr, .n_headers = 2};
        sm_sigv4_request r;
        sm_sigv4_signature sig;

        ck_assert_int_eq(sign_err(&ok, AKID, SECRET, REGION, SERVICE, AMZ_DATE), 0);
        ck_assert_int_eq(sm_sigv4_sign(NULL, NULL, AKID, SECRET, REGION, SERVICE, AMZ_DATE, &sig),
                         -EINVAL);
        ck_assert_int_eq(sm_sigv4_sign(NULL, &ok, AKID, SECRET, REGION, SERVICE, AMZ_DATE, NULL),
                         -EINVAL);

        ck_assert_int_eq(sign_err(&ok, NULL, SECRET, REGION, SERVICE, AMZ_DATE), -EINVAL);
        ck_assert_int_eq(sign_err(&ok, "", SECRET, REGION, SERVICE, AMZ_DATE), -EINVAL);
        ck_assert_int_eq(sign_err(&ok, "AK/ID", SECRET, REGION, SERVICE, AMZ_DATE), -EINVAL);
        ck_assert_int_eq(sign_err(&ok, AKID, NULL, REGION, SERVICE, AMZ_DATE), -EINVAL);
        ck_assert_int_eq(sign_err(&ok, AKID, "", REGION, SERVICE, AMZ_DATE), -EINVAL);
        ck_assert_int_eq(sign_err(&ok, AKID, SECRET, NULL, SERVICE, AMZ_DATE), -EINVAL);
        ck_assert_int_eq(sign_err(&ok, AKID, SECRET, "us/east", SERVICE, AMZ_DATE), -EINVAL);
        ck_assert_int_eq(sign_err(&ok, AKID, SECRET, REGION, "", AMZ_DATE), -EINVAL);
        ck_assert_int_eq(sign_err(&ok, AKID, SECRET, REGION, "a b", AMZ_DATE), -EINVAL);
        ck_assert_int_eq(sign_err(&ok, AKID, SECRET, REGION, SERVICE, NULL), -EINVAL);
        ck_assert_int_eq(sign_err(&ok, AKID, SECRET, REGION, SERVICE, "20150830"), -EINVAL);
        ck_assert_int_eq(sign_err(&ok, AKID, SECRET, REGION, SERVICE, "20150830T123600"), -EINVAL);
        ck_assert_int_eq(sign_err(&ok, AKID, SECRET, REGION, SERVICE, "2015-08-30T12:36Z"),
                         -EINVAL);
        ck_assert_int_eq(sign_err(&ok, AKID, SECRET, REGION, SERVICE, "20150830T123600Z0"),
                         -EINVAL);

        r = ok, r.method = NULL;
        ck_assert_int_eq(sign_err(&r, AKID, SECRET, REGION, SERVICE, AMZ_DATE), -EINVAL);
        r = ok, r.method = "GE T";
        ck_assert_int_eq(sign_err(&r, AKID, SECRET, REGION, SERVICE, AMZ_DATE), -EINVAL);
        r = ok, r.path = NULL;
        ck_assert_int_eq(sign_err(&r, AKID, SECRET, REGION, SERVICE, AMZ_DATE), -EINVAL);
        r = ok, r.path = "/a?b=c";
        ck_assert_int_eq(sign_err(&r, AKID, SECRET, REGION, SERVICE, AMZ_DATE), -EINVAL);
        r = ok, r.path = "relative";
        ck_assert_int_eq(sign_err(&r, AKID, SECRET, REGION, SERVICE, AMZ_DATE), -EINVAL);
        r = ok, r.query = "a=%zz";
        ck_assert_int_eq(sign_err(&r, AKID, SECRET, REGION, SERVICE, AMZ_DATE), -EINVAL);
        r = ok, r.query = "a=%4&b=1";
        ck_assert_int_eq(sign_err(&r, AKID, SECRET, REGION, SERVICE, AMZ_DATE), -EINVAL);
        r = ok, r.query = "a=100%";
        ck_assert_int_eq(sign_err(&r, AKID, SECRET, REGION, SERVICE, AMZ_DATE), -EINVAL);
        r = ok, r.payload = NULL, r.payload_len = 3;
        ck_assert_int_eq(sign_err(&r, AKID, SECRET, REGION, SERVICE, AMZ_DATE), -EINVAL);
        r = ok, r.headers = NULL;
        ck_assert_int_eq(sign_err(&r, AKID, SECRET, REGION, SERVICE, AMZ_DATE), -EINVAL);
        r = ok, r.headers = bad_name, r.n_headers = 1;
        ck_assert_int_eq(sign_err(&r, AKID, SECRET, REGION, SERVICE, AMZ_DATE), -EINVAL);
        r.headers = colon_name;
        ck_assert_int_eq(sign_err(&r, AKID, SECRET, REGION, SERVICE, AMZ_DATE), -EINVAL);
        r.headers = null_name;
        ck_assert_int_eq(sign_err(&r, AKID, SECRET, REGION, SERVICE, AMZ_DATE), -EINVAL);
        r.headers = null_value;
        ck_assert_int_eq(sign_err(&r, AKID, SECRET, REGION, SERVICE, AMZ_DATE), -EINVAL);
        r.headers = empty_name;
        ck_assert_int_eq(sign_err(&r, AKID, SECRET, REGION, SERVICE, AMZ_DATE), -EINVAL);

        /* No headers at all is odd but well-defined. */
        r = ok, r.headers = NULL, r.n_headers = 0;
        ck_assert_int_eq(sign_err(&r, AKID, SECRET, REGION, SERVICE, AMZ_DATE), 0);
        sm_sigv4_signature_done(NULL);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("sigv4");
        TCase *tc = tcase_create("vectors");
        const char *root = getenv("SM_SOURCE_ROOT");
        if (root) {
                _cleanup_free_ char *dir = pathf("%s/tests/data/sigv4", root);

                scan_vectors(dir);
        }
        tcase_add_test(tc, test_vectors_present);
        tcase_add_loop_test(tc, test_vector, 0, (int)n_vectors);
        suite_add_tcase(s, tc);

        tc = tcase_create("canonical");
        tcase_add_test(tc, test_query);
        tcase_add_test(tc, test_path);
        tcase_add_test(tc, test_headers);
        tcase_add_test(tc, test_session_token);
        tcase_add_test(tc, test_json_body);
        tcase_add_test(tc, test_sha256_and_date);
        suite_add_tcase(s, tc);

        tc = tcase_create("keys");
        tcase_add_test(tc, test_cache);
        tcase_add_test(tc, test_invalid);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
