/* SPDX-License-Identifier: Apache-2.0 */
/* Credentials and the default provider chain: precedence with fake
 * environments and shared files in private temp dirs, credential_process,
 * the container endpoint, IMDS, assume-role and web identity against a
 * scripted loopback server, refresh windows on a fake clock, and error
 * texts that say what was tried without ever carrying a secret. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fixture.h"
#include "smstudio/creds.h"
#include "smstudio/http.h"
#include "smstudio/macro.h"
#include "smstudio/settings.h"
#include "smstudio/timeutil.h"
#include "testmain.h"

typedef struct harness {
        uv_loop_t loop;
        char *dir;
        sm_fixture fx;
        bool fx_started;
        sm_http *http;
        sm_aws_settings *settings;
        sm_creds_provider *p;
        const char *profile; /* chosen explicitly, as --profile or the daemon config do */
} harness;

typedef struct result {
        bool done;
        int r;
        sm_credentials *creds;
        char *error;
} result;

static const char *const aws_vars[] = {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_CREDENTIAL_EXPIRATION",
        "AWS_ACCOUNT_ID",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_ROLE_SESSION_NAME",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
        "AWS_EC2_METADATA_V1_DISABLED",
        "AWS_METADATA_SERVICE_TIMEOUT",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_STS",
        "AWS_DEFAULT_REGION",
        "AWS_MAX_ATTEMPTS",
        "AWS_RETRY_MODE",
};

static char *path_in(const harness *h, const char *name)
{
        char *p = NULL;

        ck_assert_int_gt(asprintf(&p, "%s/%s", h->dir, name), 0);
        return p;
}

/* Write name in the harness directory; returns its path (malloc'ed). */
static char *write_text(const harness *h, const char *name, const char *text, mode_t mode)
{
        char *p = path_in(h, name);
        FILE *f = fopen(p, "w");

        ck_assert_ptr_nonnull(f);
        ck_assert_int_ge(fputs(text, f), 0);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(chmod(p, mode), 0);
        return p;
}

static void write_config(const harness *h, const char *text)
{
        free(write_text(h, "config", text, 0600));
}

static void write_credentials(const harness *h, const char *text)
{
        free(write_text(h, "credentials", text, 0600));
}

/* A clean slate: no AWS variable from the outside, shared files in a
 * private directory, no IMDS unless a test asks for it. */
static void harness_begin(harness *h)
{
        char *p;

        for (size_t i = 0; i < ELEMENTSOF(aws_vars); i++)
                unsetenv(aws_vars[i]);
        ck_assert_int_eq(uv_loop_init(&h->loop), 0);
        h->dir = sm_test_tmpdir();
        setenv("HOME", h->dir, 1);
        p = path_in(h, "config");
        setenv("AWS_CONFIG_FILE", p, 1);
        free(p);
        p = path_in(h, "credentials");
        setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
        free(p);
        setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
        setenv("AWS_REGION", "eu-west-1", 1);
        ck_assert_int_eq(sm_http_new(&h->loop, NULL, &h->http), 0);
}

static void harness_fixture(harness *h, json_t *script)
{
        char *text = json_dumps(script, JSON_COMPACT);

        ck_assert_ptr_nonnull(text);
        ck_assert_int_eq(sm_fixture_start(text, NULL, NULL, &h->fx), 0);
        h->fx_started = true;
        free(text);
        json_decref(script);
}

/* (Re)resolve the settings from the current environment and files and make
 * a fresh chain. */
static void harness_chain(harness *h)
{
        sm_aws_overrides o;
        char *error = NULL;

        sm_creds_provider_free(h->p);
        h->p = NULL;
        sm_aws_settings_free(h->settings);
        h->settings = NULL;
        sm_aws_overrides_init(&o);
        o.profile = h->profile;
        ck_assert_msg(sm_aws_settings_resolve(&o, &h->settings, &error) == 0, "settings: %s",
                      error ? error : "?");
        ck_assert_int_eq(sm_creds_provider_new_chain(&h->loop, h->http, h->settings, &h->p), 0);
        ck_assert_str_eq(sm_creds_provider_name(h->p), "chain");
}

static void harness_end(harness *h)
{
        sm_creds_provider_free(h->p);
        sm_http_free(h->http);
        ck_assert_int_eq(sm_test_run_drain(&h->loop, 10000), 0);
        ck_assert_int_eq(uv_loop_close(&h->loop), 0);
        sm_aws_settings_free(h->settings);
        if (h->fx_started)
                sm_fixture_stop(&h->fx);
        sm_test_rm_rf(h->dir);
        free(h->dir);
}

static void on_creds(int r, sm_credentials *creds, const char *error, void *userdata)
{
        result *res = userdata;

        ck_assert(!res->done);
        res->done = true;
        res->r = r;
        res->creds = sm_credentials_ref(creds);
        res->error = error ? strdup(error) : NULL;
        if (r == 0)
                ck_assert_ptr_nonnull(creds);
        else
                ck_assert_ptr_null(creds);
}

static void result_done(result *res)
{
        sm_credentials_unref(res->creds);
        free(res->error);
        *res = (result){0};
}

static void get_start(harness *h, result *res)
{
        *res = (result){0};
        ck_assert_int_eq(sm_creds_provider_get(h->p, on_creds, res), 0);
        ck_assert(!res->done); /* never inside the call */
}

static void get_wait(harness *h, result *res)
{
        ck_assert_int_eq(sm_test_run_until(&h->loop, &res->done, 20000), 0);
}

static void get_sync(harness *h, result *res)
{
        get_start(h, res);
        get_wait(h, res);
}

/* Get and insist on success. */
static void get_ok(harness *h, result *res)
{
        get_sync(h, res);
        ck_assert_msg(res->r == 0, "get failed: %d %s", res->r, res->error ? res->error : "");
}

/* Get and insist on failure; the message must contain want. */
static void get_fails(harness *h, const char *want)
{
        result res;

        get_sync(h, &res);
        ck_assert_int_lt(res.r, 0);
        ck_assert_ptr_nonnull(res.error);
        ck_assert_msg(strstr(res.error, want), "\"%s\" not in \"%s\"", want, res.error);
        result_done(&res);
}

/* Run the loop until pred holds (checked every few ms on a timer). */
typedef struct until {
        uv_timer_t timer;
        bool (*pred)(harness *);
        harness *h;
        bool hit;
} until;

static void on_until(uv_timer_t *t)
{
        until *u = t->data;

        if (u->pred(u->h))
                u->hit = true;
}

static void run_until_pred(harness *h, bool (*pred)(harness *))
{
        until u = {.pred = pred, .h = h};

        uv_timer_init(&h->loop, &u.timer);
        u.timer.data = &u;
        uv_timer_start(&u.timer, on_until, 5, 5);
        ck_assert_int_eq(sm_test_run_until(&h->loop, &u.hit, 20000), 0);
        uv_close((uv_handle_t *)&u.timer, NULL);
        uv_run(&h->loop, UV_RUN_NOWAIT);
}

static json_t *request_n(harness *h, size_t i)
{
        json_t *all = sm_fixture_requests(&h->fx);
        json_t *r;

        ck_assert_ptr_nonnull(all);
        r = json_incref(json_array_get(all, i));
        json_decref(all);
        ck_assert_ptr_nonnull(r);
        return r;
}

static const char *req_field(json_t *req, const char *name)
{
        return json_string_value(json_object_get(req, name));
}

static const char *req_header(json_t *req, const char *name)
{
        return json_string_value(json_object_get(json_object_get(req, "headers"), name));
}

static void assert_contains(const char *haystack, const char *needle)
{
        ck_assert_ptr_nonnull(haystack);
        ck_assert_msg(strstr(haystack, needle), "\"%s\" not in \"%s\"", needle, haystack);
}

/* One fixture rule: path -> responses. */
static json_t *rule(const char *method, const char *path, json_t *responses)
{
        json_t *r = json_pack("{s:s, s:o}", "path", path, "responses", responses);

        if (method)
                json_object_set_new(r, "method", json_string(method));
        return r;
}

static json_t *answer(int status, const char *content_type, const char *body)
{
        json_t *a = json_pack("{s:i, s:s}", "status", status, "body", body ? body : "");

        if (content_type)
                json_object_set_new(a, "headers", json_pack("{s:s}", "Content-Type", content_type));
        return a;
}

static char *creds_json(const char *key, const char *secret, const char *token_name,
                        int64_t expiration)
{
        char when[21], *s = NULL;

        sm_format_iso8601(expiration, when);
        ck_assert_int_gt(asprintf(&s,
                                  "{\"Code\": \"Success\", \"Type\": \"AWS-HMAC\", "
                                  "\"AccessKeyId\": \"%s\", \"SecretAccessKey\": \"%s\", "
                                  "\"%s\": \"token-of-%s\", \"Expiration\": \"%s\"}",
                                  key, secret, token_name, key, when),
                         0);
        return s;
}

static json_t *creds_answer(const char *key, int64_t expiration)
{
        char *body = creds_json(key, "secret-of-container", "Token", expiration);
        json_t *a = answer(200, "application/json", body);

        free(body);
        return a;
}

/* ------------------------------------------------------------------------ */

START_TEST(test_credentials_refcount)
{
        sm_credentials *c = sm_credentials_new("AKID", "SECRET", NULL, 0, "static");

        ck_assert_ptr_nonnull(c);
        ck_assert_ptr_null(c->session_token);
        ck_assert_ptr_null(c->account_id);
        ck_assert_ptr_eq(sm_credentials_ref(c), c);
        ck_assert_uint_eq(c->n_ref, 2);
        ck_assert_ptr_null(sm_credentials_unref(c));
        ck_assert_str_eq(c->secret_access_key, "SECRET");
        ck_assert_ptr_null(sm_credentials_unref(c));
        ck_assert_ptr_null(sm_credentials_unref(NULL));
        ck_assert_ptr_null(sm_credentials_new("AKID", NULL, NULL, 0, "static"));
        ck_assert_ptr_null(sm_credentials_new("", "SECRET", NULL, 0, "static"));
}
END_TEST

START_TEST(test_static_and_anonymous)
{
        harness h = {0};
        sm_credentials *c = sm_credentials_new("AKID", "SECRET", "TOKEN", 0, "static");
        result res;

        harness_begin(&h);
        ck_assert_int_eq(sm_creds_provider_new_static(&h.loop, c, &h.p), 0);
        sm_credentials_unref(c);
        ck_assert_ptr_nonnull(sm_creds_provider_peek(h.p));
        ck_assert_str_eq(sm_creds_provider_name(h.p), "static");
        get_ok(&h, &res);
        ck_assert_str_eq(res.creds->access_key_id, "AKID");
        ck_assert_str_eq(res.creds->session_token, "TOKEN");
        result_done(&res);
        /* Invalidating static credentials only drops the cache. */
        sm_creds_provider_invalidate(h.p);
        ck_assert_ptr_null(sm_creds_provider_peek(h.p));
        get_ok(&h, &res);
        ck_assert_str_eq(res.creds->access_key_id, "AKID");
        result_done(&res);
        h.p = sm_creds_provider_free(h.p);

        ck_assert_int_eq(sm_creds_provider_new_anonymous(&h.loop, &h.p), 0);
        ck_assert_str_eq(sm_creds_provider_name(h.p), SM_CREDS_PROVIDER_ANONYMOUS);
        get_ok(&h, &res);
        ck_assert_str_eq(res.creds->provider, "anonymous");
        ck_assert_str_eq(res.creds->access_key_id, "");
        result_done(&res);
        harness_end(&h);
}
END_TEST

START_TEST(test_environment)
{
        harness h = {0};
        result res;

        harness_begin(&h);
        setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
        setenv("AWS_SESSION_TOKEN", "envtoken", 1);
        setenv("AWS_CREDENTIAL_EXPIRATION", "2099-01-01T00:00:00Z", 1);
        setenv("AWS_ACCOUNT_ID", "111122223333", 1);
        /* Present but lower in the chain. */
        write_credentials(&h, "[default]\naws_access_key_id = AKIDFILE\n"
                              "aws_secret_access_key = filesecret\n");
        harness_chain(&h);
        get_ok(&h, &res);
        ck_assert_str_eq(res.creds->access_key_id, "AKIDENV");
        ck_assert_str_eq(res.creds->secret_access_key, "envsecret");
        ck_assert_str_eq(res.creds->session_token, "envtoken");
        ck_assert_int_eq(res.creds->expiration, 4070908800);
        ck_assert_str_eq(res.creds->account_id, "111122223333");
        ck_assert_str_eq(res.creds->provider, "environment");
        ck_assert_str_eq(sm_creds_provider_name(h.p), "environment");
        ck_assert_ptr_eq(sm_creds_provider_peek(h.p), res.creds);
        result_done(&res);
        harness_end(&h);
}
END_TEST

START_TEST(test_environment_partial_is_an_error)
{
        harness h = {0};

        harness_begin(&h);
        setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
        /* A configured provider that fails does not fall through. */
        write_credentials(&h, "[default]\naws_access_key_id = AKIDFILE\n"
                              "aws_secret_access_key = filesecret\n");
        harness_chain(&h);
        get_fails(&h, "AWS_SECRET_ACCESS_KEY is not");
        harness_end(&h);
}
END_TEST

START_TEST(test_explicit_profile_skips_environment)
{
        harness h = {0};
        result res;

        harness_begin(&h);
        setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
        write_credentials(&h, "[dev]\naws_access_key_id = AKIDDEV\n"
                              "aws_secret_access_key = devsecret\n"
                              "aws_session_token = devtoken\n");
        /* AWS_PROFILE selects the profile but, as in botocore, environment
         * keys still win over it. */
        setenv("AWS_PROFILE", "dev", 1);
        harness_chain(&h);
        ck_assert(!h.settings->profile_explicit);
        get_ok(&h, &res);
        ck_assert_str_eq(res.creds->access_key_id, "AKIDENV");
        ck_assert_str_eq(res.creds->provider, "environment");
        result_done(&res);
        /* A profile chosen explicitly (--profile, the daemon config) wins. */
        unsetenv("AWS_PROFILE");
        h.profile = "dev";
        harness_chain(&h);
        ck_assert(h.settings->profile_explicit);
        get_ok(&h, &res);
        ck_assert_str_eq(res.creds->access_key_id, "AKIDDEV");
        ck_assert_str_eq(res.creds->session_token, "devtoken");
        ck_assert_int_eq(res.creds->expiration, 0);
        ck_assert_str_eq(res.creds->provider, "shared-credentials-file");
        result_done(&res);

        /* With nothing in the profile, the environment is still not used,
         * and the message says so. */
        write_credentials(&h, "[dev]\nregion = eu-west-1\n");
        harness_chain(&h);
        get_fails(&h, "environment variables (skipped: profile \"dev\" was chosen explicitly)");
        harness_end(&h);
}
END_TEST

START_TEST(test_file_precedence)
{
        harness h = {0};
        result res;
        char *out, *cfg = NULL;

        harness_begin(&h);
        out = write_text(&h, "process.json",
                         "{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", "
                         "\"SecretAccessKey\": \"procsecret\"}",
                         0600);
        ck_assert_int_gt(asprintf(&cfg,
                                  "[default]\ncredential_process = cat %s\n"
                                  "aws_access_key_id = AKIDCONFIG\n"
                                  "aws_secret_access_key = configsecret\n",
                                  out),
                         0);
        write_config(&h, cfg);
        write_credentials(&h, "[default]\naws_access_key_id = AKIDFILE\n"
                              "aws_secret_access_key = filesecret\n");

        /* Shared credentials file before credential_process and config keys. */
        harness_chain(&h);
        get_ok(&h, &res);
        ck_assert_str_eq(res.creds->access_key_id, "AKIDFILE");
        ck_assert_str_eq(res.creds->provider, "shared-credentials-file");
        result_done(&res);

        /* Then credential_process before the config file's keys. */
        write_credentials(&h, "");
        harness_chain(&h);
        get_ok(&h, &res);
        ck_assert_str_eq(res.creds->access_key_id, "AKIDPROC");
        ck_assert_str_eq(res.creds->provider, "credential-process");
        result_done(&res);

        /* Then the config file's keys. */
        free(cfg);
        cfg = NULL;
        write_config(&h, "[default]\naws_access_key_id = AKIDCONFIG\n"
                         "aws_secret_access_key = configsecret\n");
        harness_chain(&h);
        get_ok(&h, &res);
        ck_assert_str_eq(res.creds->access_key_id, "AKIDCONFIG");
        ck_assert_str_eq(res.creds->provider, "config-file");
        result_done(&res);

        /* A key without its secret is an error, not a reason to go on. */
        write_config(&h, "[default]\naws_access_key_id = AKIDCONFIG\n");
        harness_chain(&h);
        get_fails(&h, "no aws_secret_access_key");
        free(out);
        harness_end(&h);
}
END_TEST

/* ---- credential_process ---- */

static void process_profile(harness *h, const char *script_body)
{
        char *script = write_text(h, "cred.sh", script_body, 0700), *cfg = NULL;

        ck_assert_int_gt(
                asprintf(&cfg, "[default]\ncredential_process = %s --flag 'a b'\n", script), 0);
        write_config(h, cfg);
        free(cfg);
        free(script);
        harness_chain(h);
}

START_TEST(test_process_success)
{
        harness h = {0};
        result res;

        harness_begin(&h);
        /* Arguments arrive split as a shell would split them. */
        process_profile(&h,
                        "#!/bin/sh\n"
                        "[ \"$2\" = 'a b' ] || exit 7\n"
                        "echo 'noise on stderr' >&2\n"
                        "cat <<EOF\n"
                        "{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\",\n"
                        " \"SecretAccessKey\": \"procsecret\", \"SessionToken\": \"proctoken\",\n"
                        " \"Expiration\": \"2099-01-01T00:00:00Z\", \"AccountId\": "
                        "\"444455556666\"}\n"
                        "EOF\n");
        get_ok(&h, &res);
        ck_assert_str_eq(res.creds->access_key_id, "AKIDPROC");
        ck_assert_str_eq(res.creds->secret_access_key, "procsecret");
        ck_assert_str_eq(res.creds->session_token, "proctoken");
        ck_assert_int_eq(res.creds->expiration, 4070908800);
        ck_assert_str_eq(res.creds->account_id, "444455556666");
        ck_assert_str_eq(sm_creds_provider_name(h.p), "credential-process");
        result_done(&res);
        harness_end(&h);
}
END_TEST

START_TEST(test_process_failure_status)
{
        harness h = {0};
        result res;

        harness_begin(&h);
        process_profile(&h, "#!/bin/sh\n"
                            "echo 'the secret is TOPSECRETSTDERR' >&2\n"
                            "echo '{\"SecretAccessKey\": \"TOPSECRETSTDOUT\"}'\n"
                            "exit 3\n");
        get_sync(&h, &res);
        ck_assert_int_lt(res.r, 0);
        ck_assert_str_eq(res.error,
                         "credential_process of profile \"default\" exited with status 3");
        result_done(&res);
        harness_end(&h);
}
END_TEST

START_TEST(test_process_timeout)
{
        harness h = {0};
        result res;
        uint64_t start;

        harness_begin(&h);
        /* A grandchild holding stdout must not keep us waiting either. */
        process_profile(&h, "#!/bin/sh\nsleep 30 &\nsleep 30\n");
        sm_creds_provider_set_process_timeout(h.p, 300);
        start = sm_now_monotonic_ms();
        get_sync(&h, &res);
        ck_assert_int_eq(res.r, -ETIMEDOUT);
        ck_assert_str_eq(res.error,
                         "credential_process of profile \"default\" timed out after 300 ms");
        ck_assert_uint_lt(sm_now_monotonic_ms() - start, 5000);
        result_done(&res);
        harness_end(&h);
}
END_TEST

START_TEST(test_process_bad_json_does_not_leak)
{
        harness h = {0};
        result res;

        harness_begin(&h);
        /* jansson's own message would quote the token near the error. */
        process_profile(&h, "#!/bin/sh\n"
                            "echo '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\",'\n"
                            "echo ' \"SecretAccessKey\": TOPSECRETVALUE}'\n");
        get_sync(&h, &res);
        ck_assert_int_eq(res.r, -EBADMSG);
        assert_contains(res.error, "credential_process of profile \"default\" printed invalid "
                                   "JSON (line 2");
        ck_assert_ptr_null(strstr(res.error, "TOPSECRET"));
        ck_assert_ptr_null(strstr(res.error, "AKIDPROC"));
        result_done(&res);

        process_profile(&h, "#!/bin/sh\n"
                            "echo '{\"Version\": 2, \"AccessKeyId\": \"AKIDPROC\", "
                            "\"SecretAccessKey\": \"TOPSECRETVALUE\"}'\n");
        get_fails(&h, "\"Version\" must be 1");

        process_profile(&h,
                        "#!/bin/sh\n"
                        "echo '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", "
                        "\"SecretAccessKey\": \"TOPSECRETVALUE\", \"Expiration\": \"soon\"}'\n");
        get_sync(&h, &res);
        ck_assert_int_lt(res.r, 0);
        assert_contains(res.error, "Expiration");
        ck_assert_ptr_null(strstr(res.error, "TOPSECRET"));
        result_done(&res);

        /* Output beyond the cap is refused, not buffered forever. */
        process_profile(&h, "#!/bin/sh\nhead -c 200000 /dev/zero | tr '\\0' x\n");
        get_fails(&h, "printed more than");
        harness_end(&h);
}
END_TEST

START_TEST(test_process_free_while_running)
{
        harness h = {0};
        result res;

        harness_begin(&h);
        process_profile(&h, "#!/bin/sh\nsleep 30\n");
        get_start(&h, &res);
        uv_run(&h.loop, UV_RUN_NOWAIT);
        /* The caller hears back at once; the process is killed and reaped
         * while harness_end() drains the loop. */
        h.p = sm_creds_provider_free(h.p);
        ck_assert(res.done);
        ck_assert_int_eq(res.r, -ECANCELED);
        result_done(&res);
        harness_end(&h);
}
END_TEST

/* ---- assume-role and web identity against a loopback STS ---- */

static const char assume_role_xml[] =
        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
        "  <AssumeRoleResult>\n"
        "    <AssumedRoleUser>\n"
        "      <Arn>arn:aws:sts::123456789012:assumed-role/demo/smstudio-test</Arn>\n"
        "      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:smstudio-test</AssumedRoleId>\n"
        "    </AssumedRoleUser>\n"
        "    <Credentials>\n"
        "      <AccessKeyId>ASIAROLEEXAMPLE</AccessKeyId>\n"
        "      <SecretAccessKey>rolesecretEXAMPLE</SecretAccessKey>\n"
        "      <SessionToken>IQoJb3JpZ2luX2VjEXAMPLE</SessionToken>\n"
        "      <Expiration>2099-01-01T00:00:00Z</Expiration>\n"
        "    </Credentials>\n"
        "    <PackedPolicySize>6</PackedPolicySize>\n"
        "  </AssumeRoleResult>\n"
        "  <ResponseMetadata>\n"
        "    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>\n"
        "  </ResponseMetadata>\n"
        "</AssumeRoleResponse>\n";

static const char web_identity_xml[] =
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
        "  <AssumeRoleWithWebIdentityResult>\n"
        "    <SubjectFromWebIdentityToken>system:serviceaccount:ml:smstudio"
        "</SubjectFromWebIdentityToken>\n"
        "    <Audience>sts.amazonaws.com</Audience>\n"
        "    <AssumedRoleUser>\n"
        "      <Arn>arn:aws:sts::123456789012:assumed-role/pod/sess</Arn>\n"
        "      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:sess</AssumedRoleId>\n"
        "    </AssumedRoleUser>\n"
        "    <Credentials>\n"
        "      <SessionToken>AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE</SessionToken>\n"
        "      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>\n"
        "      <Expiration>2099-01-01T00:00:00Z</Expiration>\n"
        "      <AccessKeyId>ASIAWEBEXAMPLE</AccessKeyId>\n"
        "    </Credentials>\n"
        "    <Provider>arn:aws:iam::123456789012:oidc-provider/oidc.example.com</Provider>\n"
        "  </AssumeRoleWithWebIdentityResult>\n"
        "  <ResponseMetadata>\n"
        "    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>\n"
        "  </ResponseMetadata>\n"
        "</AssumeRoleWithWebIdentityResponse>\n";

static const char access_denied_xml[] =
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
        "  <Error><Type>Sender</Type><Code>AccessDenied</Code>\n"
        "    <Message>User: arn:aws:iam::123456789012:user/base is not authorized to perform: "
        "sts:AssumeRole on resource: arn:aws:iam::123456789012:role/demo</Message>\n"
        "  </Error>\n"
        "  <RequestId>4a1b2c3d-0000-1111-2222-333344445555</RequestId>\n"
        "</ErrorResponse>\n";

static void sts_fixture(harness *h, const char *xml)
{
        harness_fixture(h, json_pack("[o]", rule("POST", "/",
                                                 json_pack("[o]", answer(200, "text/xml", xml)))));
        setenv("AWS_ENDPOINT_URL_STS", sm_fixture_url(&h->fx), 1);
}

START_TEST(test_assume_role_profile)
{
        harness h = {0};
        result res;
        json_t *req;
        const char *body;

        harness_begin(&h);
        sts_fixture(&h, assume_role_xml);
        setenv("AWS_PROFILE", "demo", 1);
        write_config(&h, "[profile demo]\n"
                         "role_arn = arn:aws:iam::123456789012:role/demo\n"
                         "source_profile = base\n"
                         "role_session_name = smstudio-test\n"
                         "external_id = ext-1\n"
                         "duration_seconds = 1800\n");
        write_credentials(&h, "[base]\naws_access_key_id = AKIDSOURCE\n"
                              "aws_secret_access_key = sourcesecret\n");
        harness_chain(&h);
        get_ok(&h, &res);
        ck_assert_str_eq(res.creds->access_key_id, "ASIAROLEEXAMPLE");
        ck_assert_str_eq(res.creds->secret_access_key, "rolesecretEXAMPLE");
        ck_assert_str_eq(res.creds->session_token, "IQoJb3JpZ2luX2VjEXAMPLE");
        ck_assert_int_eq(res.creds->expiration, 4070908800);
        ck_assert_str_eq(res.creds->account_id, "123456789012");
        ck_assert_str_eq(res.creds->provider, "assume-role");
        ck_assert_str_eq(sm_creds_provider_name(h.p), "assume-role");
        result_done(&res);

        ck_assert_uint_eq(sm_fixture_count(&h.fx), 1);
        req = request_n(&h, 0);
        body = req_field(req, "body");
        assert_contains(body, "Action=AssumeRole");
        assert_contains(body, "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo");
        assert_contains(body, "RoleSessionName=smstudio-test");
        assert_contains(body, "ExternalId=ext-1");
        assert_contains(body, "DurationSeconds=1800");
        /* Signed with the source profile's keys. */
        assert_contains(req_header(req, "authorization"), "Credential=AKIDSOURCE/");
        json_decref(req);
        harness_end(&h);
}
END_TEST

START_TEST(test_assume_role_chained_and_credential_source)
{
        harness h = {0};
        result res;
        json_t *req;

        harness_begin(&h);
        sts_fixture(&h, assume_role_xml);
        /* top -> middle (a role itself) -> keys: two AssumeRole calls, the
         * second signed with what the first returned. */
        setenv("AWS_PROFILE", "top", 1);
        write_config(&h, "[profile top]\n"
                         "role_arn = arn:aws:iam::123456789012:role/top\n"
                         "source_profile = middle\n"
                         "[profile middle]\n"
                         "role_arn = arn:aws:iam::123456789012:role/middle\n"
                         "source_profile = base\n"
                         "[profile base]\n"
                         "aws_access_key_id = AKIDBASE\n"
                         "aws_secret_access_key = basesecret\n"
                         "[profile fromenv]\n"
                         "role_arn = arn:aws:iam::123456789012:role/fromenv\n"
                         "credential_source = Environment\n");
        harness_chain(&h);
        get_ok(&h, &res);
        ck_assert_str_eq(res.creds->access_key_id, "ASIAROLEEXAMPLE");
        result_done(&res);
        ck_assert_uint_eq(sm_fixture_count(&h.fx), 2);
        req = request_n(&h, 0);
        assert_contains(req_field(req, "body"), "role%2Fmiddle");
        assert_contains(req_header(req, "authorization"), "Credential=AKIDBASE/");
        json_decref(req);
        req = request_n(&h, 1);
        assert_contains(req_field(req, "body"), "role%2Ftop");
        assert_contains(req_header(req, "authorization"), "Credential=ASIAROLEEXAMPLE/");
        ck_assert_str_eq(req_header(req, "x-amz-security-token"), "IQoJb3JpZ2luX2VjEXAMPLE");
        json_decref(req);

        /* credential_source = Environment reads the variables even though an
         * explicit profile switched the environment provider off. */
        h.profile = "fromenv";
        setenv("AWS_ACCESS_KEY_ID", "AKIDENVSOURCE", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
        harness_chain(&h);
        get_ok(&h, &res);
        ck_assert_str_eq(res.creds->provider, "assume-role");
        result_done(&res);
        req = request_n(&h, 2);
        assert_contains(req_header(req, "authorization"), "Credential=AKIDENVSOURCE/");
        json_decref(req);
        harness_end(&h);
}
END_TEST

START_TEST(test_assume_role_refusals)
{
        static const struct {
                const char *profile;
                const char *want;
        } cases[] = {
                {"mfa", "mfa_serial"},
                {"both", "both source_profile and credential_source"},
                {"neither", "neither source_profile nor credential_source"},
                {"loop-a", "source_profile loop: loop-a -> loop-b -> loop-a"},
                {"missing", "source_profile \"nowhere\" does not exist"},
                {"duration", "duration_seconds must be 900..43200"},
                {"badsource", "credential_source must be"},
                {"nokeys", "source_profile \"empty\" has no credentials"},
                {"sso", "IAM Identity Center"},
        };
        harness h = {0};

        harness_begin(&h);
        write_config(&h, "[profile mfa]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\n"
                         "mfa_serial = arn:aws:iam::1:mfa/me\n"
                         "[profile both]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\n"
                         "credential_source = Environment\n"
                         "[profile neither]\nrole_arn = arn:aws:iam::1:role/r\n"
                         "[profile loop-a]\nrole_arn = arn:aws:iam::1:role/a\n"
                         "source_profile = loop-b\n"
                         "[profile loop-b]\nrole_arn = arn:aws:iam::1:role/b\n"
                         "source_profile = loop-a\n"
                         "[profile missing]\nrole_arn = arn:aws:iam::1:role/r\n"
                         "source_profile = nowhere\n"
                         "[profile duration]\nrole_arn = arn:aws:iam::1:role/r\n"
                         "source_profile = base\nduration_seconds = 60\n"
                         "[profile badsource]\nrole_arn = arn:aws:iam::1:role/r\n"
                         "credential_source = Ec2\n"
                         "[profile nokeys]\nrole_arn = arn:aws:iam::1:role/r\n"
                         "source_profile = empty\n"
                         "[profile empty]\nregion = eu-west-1\n"
                         "[profile sso]\nsso_session = corp\nsso_account_id = 1\n"
                         "[profile base]\naws_access_key_id = AKIDBASE\n"
                         "aws_secret_access_key = basesecret\n");
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                setenv("AWS_PROFILE", cases[i].profile, 1);
                harness_chain(&h);
                get_fails(&h, cases[i].want);
        }
        harness_end(&h);
}
END_TEST

START_TEST(test_assume_role_denied)
{
        harness h = {0};

        harness_begin(&h);
        harness_fixture(&h, json_pack("[o]", rule("POST", "/",
                                                  json_pack("[o]", answer(403, "text/xml",
                                                                          access_denied_xml)))));
        setenv("AWS_ENDPOINT_URL_STS", sm_fixture_url(&h.fx), 1);
        setenv("AWS_PROFILE", "demo", 1);
        write_config(&h, "[profile demo]\nrole_arn = arn:aws:iam::123456789012:role/demo\n"
                         "source_profile = base\n"
                         "[profile base]\naws_access_key_id = AKIDBASE\n"
                         "aws_secret_access_key = TOPSECRETBASE\n");
        harness_chain(&h);
        get_fails(&h, "assume-role profile \"demo\" (role arn:aws:iam::123456789012:role/demo): "
                      "AssumeRole failed: AccessDenied");
        harness_end(&h);
}
END_TEST

START_TEST(test_web_identity_environment)
{
        harness h = {0};
        result res;
        json_t *req;
        char *token;

        harness_begin(&h);
        sts_fixture(&h, web_identity_xml);
        token = write_text(&h, "token", "token-one\n", 0600);
        setenv("AWS_WEB_IDENTITY_TOKEN_FILE", token, 1);
        setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/pod", 1);
        setenv("AWS_ROLE_SESSION_NAME", "sess", 1);
        /* Below web identity in the chain. */
        write_credentials(&h, "[default]\naws_access_key_id = AKIDFILE\n"
                              "aws_secret_access_key = filesecret\n");
        harness_chain(&h);
        get_ok(&h, &res);
        ck_assert_str_eq(res.creds->access_key_id, "ASIAWEBEXAMPLE");
        ck_assert_str_eq(res.creds->provider, "web-identity");
        ck_assert_str_eq(res.creds->account_id, "123456789012");
        result_done(&res);
        req = request_n(&h, 0);
        assert_contains(req_field(req, "body"), "Action=AssumeRoleWithWebIdentity");
        assert_contains(req_field(req, "body"), "WebIdentityToken=token-one");
        /* The file's trailing newline is not part of the token. */
        ck_assert_ptr_null(strstr(req_field(req, "body"), "%0A"));
        assert_contains(req_field(req, "body"), "RoleSessionName=sess");
        /* AWS takes this call unsigned: no Authorization, no key. */
        ck_assert_ptr_null(req_header(req, "authorization"));
        json_decref(req);

        /* The token file is read again on each refresh. */
        free(write_text(&h, "token", "token-two", 0600));
        sm_creds_provider_invalidate(h.p);
        get_ok(&h, &res);
        result_done(&res);
        req = request_n(&h, 1);
        assert_contains(req_field(req, "body"), "WebIdentityToken=token-two");
        json_decref(req);

        /* An unreadable token file is an error that names the file. */
        unlink(token);
        sm_creds_provider_invalidate(h.p);
        get_fails(&h, "cannot read the token file");
        free(token);
        harness_end(&h);
}
END_TEST

START_TEST(test_web_identity_profile)
{
        harness h = {0};
        result res;
        char *token, *cfg = NULL;
        json_t *req;

        harness_begin(&h);
        sts_fixture(&h, web_identity_xml);
        token = write_text(&h, "token", "profile-token", 0600);
        ck_assert_int_gt(asprintf(&cfg,
                                  "[profile pod]\nweb_identity_token_file = %s\n"
                                  "role_arn = arn:aws:iam::123456789012:role/pod\n",
                                  token),
                         0);
        write_config(&h, cfg);
        h.profile = "pod";
        /* Explicit profile: the environment's web identity is ignored. */
        setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token", 1);
        setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/other", 1);
        harness_chain(&h);
        get_ok(&h, &res);
        ck_assert_str_eq(res.creds->provider, "web-identity");
        result_done(&res);
        req = request_n(&h, 0);
        assert_contains(req_field(req, "body"), "WebIdentityToken=profile-token");
        assert_contains(req_field(req, "body"), "role%2Fpod&");
        assert_contains(req_field(req, "body"), "RoleSessionName=smstudio-");
        json_decref(req);
        free(cfg);
        free(token);
        harness_end(&h);
}
END_TEST

/* ---- container endpoint ---- */

static void container_fixture(harness *h, json_t *responses)
{
        harness_fixture(h, json_pack("[o]", rule("GET", "/creds*", responses)));
}

START_TEST(test_container_relative_uri)
{
        harness h = {0};
        result res;
        json_t *req;

        harness_begin(&h);
        container_fixture(&h, json_pack("[o]", creds_answer("ASIACONTAINER", 4070908800)));
        setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/creds/v2/abc", 1);
        setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "static-token", 1);
        harness_chain(&h);
        ck_assert_int_eq(sm_creds_provider_set_container_base(h.p, sm_fixture_url(&h.fx)), 0);
        get_ok(&h, &res);
        ck_assert_str_eq(res.creds->access_key_id, "ASIACONTAINER");
        ck_assert_str_eq(res.creds->session_token, "token-of-ASIACONTAINER");
        ck_assert_str_eq(res.creds->provider, "container");
        result_done(&res);
        req = request_n(&h, 0);
        ck_assert_str_eq(req_field(req, "path"), "/creds/v2/abc");
        ck_assert_str_eq(req_header(req, "authorization"), "static-token");
        json_decref(req);
        harness_end(&h);
}
END_TEST

START_TEST(test_container_full_uri_token_file)
{
        harness h = {0};
        result res;
        json_t *req;
        char *url = NULL, *token;

        harness_begin(&h);
        container_fixture(&h, json_pack("[o]", creds_answer("ASIACONTAINER", 4070908800)));
        ck_assert_int_gt(asprintf(&url, "%s/creds", sm_fixture_url(&h.fx)), 0);
        setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
        token = write_text(&h, "pod-token", "token-1", 0600);
        setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token, 1);
        /* The file wins over the variable. */
        setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ignored", 1);
        harness_chain(&h);
        get_ok(&h, &res);
        result_done(&res);
        free(write_text(&h, "pod-token", "token-2", 0600));
        sm_creds_provider_invalidate(h.p);
        get_ok(&h, &res);
        result_done(&res);
        req = request_n(&h, 0);
        ck_assert_str_eq(req_header(req, "authorization"), "token-1");
        json_decref(req);
        req = request_n(&h, 1);
        ck_assert_str_eq(req_header(req, "authorization"), "token-2");
        json_decref(req);

        /* A token with a line break would inject a header: refused unsent. */
        free(write_text(&h, "pod-token", "token-3\r\nX-Injected: yes", 0600));
        sm_creds_provider_invalidate(h.p);
        get_fails(&h, "contains a line break");
        ck_assert_uint_eq(sm_fixture_count(&h.fx), 2);
        free(token);
        free(url);
        harness_end(&h);
}
END_TEST

START_TEST(test_container_localhost_allowed)
{
        harness h = {0};
        result res;
        char *url = NULL;

        harness_begin(&h);
        container_fixture(&h, json_pack("[o]", creds_answer("ASIALOCAL", 4070908800)));
        ck_assert_int_gt(asprintf(&url, "http://localhost:%u/creds", h.fx.port), 0);
        setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
        harness_chain(&h);
        get_ok(&h, &res);
        ck_assert_str_eq(res.creds->access_key_id, "ASIALOCAL");
        result_done(&res);
        free(url);
        harness_end(&h);
}
END_TEST

START_TEST(test_container_disallowed_hosts)
{
        static const char *urls[] = {
                "http://192.0.2.10/creds",
                "http://[fe80::1]:8080/creds",
                "http://169.254.169.254/latest",
        };
        harness h = {0};

        harness_begin(&h);
        for (size_t i = 0; i < ELEMENTSOF(urls); i++) {
                setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", urls[i], 1);
                harness_chain(&h);
                get_fails(&h, "is refused");
        }
        setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "ftp://127.0.0.1/creds", 1);
        harness_chain(&h);
        get_fails(&h, "is not an http(s) URL");
        harness_end(&h);
}
END_TEST

START_TEST(test_container_error_answer)
{
        harness h = {0};
        char *url = NULL;

        harness_begin(&h);
        container_fixture(&h, json_pack("[o]", answer(403, NULL, "denied")));
        ck_assert_int_gt(asprintf(&url, "%s/creds", sm_fixture_url(&h.fx)), 0);
        setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
        harness_chain(&h);
        get_fails(&h, "container endpoint (host 127.0.0.1) answered HTTP 403");
        /* Not retried: a 4xx will not change. */
        ck_assert_uint_eq(sm_fixture_count(&h.fx), 1);
        free(url);
        harness_end(&h);
}
END_TEST

/* ---- IMDS ---- */

static json_t *imds_script(const char *creds_body, int token_delay_ms)
{
        json_t *tok = answer(200, NULL, "IMDS-TOKEN");

        json_object_set_new(tok, "delay_ms", json_integer(token_delay_ms));
        return json_pack("[o, o, o]", rule("PUT", "/latest/api/token", json_pack("[o]", tok)),
                         rule("GET", "/latest/meta-data/iam/security-credentials/",
                              json_pack("[o]", answer(200, NULL, "my-role\n"))),
                         rule("GET", "/latest/meta-data/iam/security-credentials/my-role",
                              json_pack("[o]", answer(200, NULL, creds_body))));
}

START_TEST(test_imds_discovery)
{
        harness h = {0};
        result res;
        char *body = creds_json("ASIAIMDS", "imdssecret", "Token", 4070908800);
        json_t *req;

        harness_begin(&h);
        harness_fixture(&h, imds_script(body, 0));
        unsetenv("AWS_EC2_METADATA_DISABLED");
        setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", sm_fixture_url(&h.fx), 1);
        harness_chain(&h);
        get_ok(&h, &res);
        ck_assert_str_eq(res.creds->access_key_id, "ASIAIMDS");
        ck_assert_str_eq(res.creds->session_token, "token-of-ASIAIMDS");
        ck_assert_str_eq(res.creds->provider, "imds");
        result_done(&res);
        ck_assert_uint_eq(sm_fixture_count(&h.fx), 3);
        req = request_n(&h, 2);
        ck_assert_str_eq(req_header(req, "x-aws-ec2-metadata-token"), "IMDS-TOKEN");
        json_decref(req);
        free(body);
        harness_end(&h);
}
END_TEST

START_TEST(test_imds_timeout_message)
{
        harness h = {0};
        result res;
        char *body = creds_json("ASIAIMDS", "imdssecret", "Token", 4070908800), *want = NULL;

        harness_begin(&h);
        harness_fixture(&h, imds_script(body, 3000));
        unsetenv("AWS_EC2_METADATA_DISABLED");
        setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", sm_fixture_url(&h.fx), 1);
        setenv("AWS_METADATA_SERVICE_TIMEOUT", "0.2", 1);
        harness_chain(&h);
        get_sync(&h, &res);
        ck_assert_int_eq(res.r, -ETIMEDOUT);
        ck_assert_int_gt(asprintf(&want,
                                  "no AWS credentials found: looked in environment variables, "
                                  "profile \"default\" in %s/credentials and %s/config, "
                                  "container endpoint (not configured), EC2 instance metadata "
                                  "(timed out after 200 ms)",
                                  h.dir, h.dir),
                         0);
        ck_assert_str_eq(res.error, want);
        result_done(&res);
        free(want);
        free(body);
        harness_end(&h);
}
END_TEST

START_TEST(test_imds_disabled_message)
{
        harness h = {0};

        harness_begin(&h);
        harness_chain(&h);
        get_fails(&h, "container endpoint (not configured), EC2 instance metadata (disabled by "
                      "AWS_EC2_METADATA_DISABLED)");
        harness_end(&h);
}
END_TEST

/* ---- refresh windows ---- */

static const int64_t T0 = 2000000000;
static int64_t fake_now;

static int64_t fake_clock(void *userdata)
{
        (void)userdata;
        return fake_now;
}

static bool two_requests_settled(harness *h)
{
        return sm_fixture_count(&h->fx) >= 2 && sm_http_pending(h->http) == 0;
}

static void container_refresh_harness(harness *h, json_t *responses)
{
        char *url = NULL;

        harness_begin(h);
        container_fixture(h, responses);
        ck_assert_int_gt(asprintf(&url, "%s/creds", sm_fixture_url(&h->fx)), 0);
        setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
        free(url);
        harness_chain(h);
        fake_now = T0;
        sm_creds_provider_set_clock(h->p, fake_clock, NULL);
}

START_TEST(test_refresh_advisory_failure_keeps_credentials)
{
        harness h = {0};
        result res, a, b;

        container_refresh_harness(&h, json_pack("[o, o, o]", creds_answer("ASIAFIRST", T0 + 3600),
                                                answer(403, NULL, "no"),
                                                creds_answer("ASIASECOND", T0 + 7200)));
        get_ok(&h, &res);
        ck_assert_str_eq(res.creds->access_key_id, "ASIAFIRST");
        result_done(&res);

        /* Advisory window (14 min left): the cached ones come back at once,
         * a background refresh fails, and they stay. */
        fake_now = T0 + 3600 - 14 * 60;
        get_ok(&h, &res);
        ck_assert_str_eq(res.creds->access_key_id, "ASIAFIRST");
        result_done(&res);
        run_until_pred(&h, two_requests_settled);
        ck_assert_ptr_nonnull(sm_creds_provider_peek(h.p));
        ck_assert_str_eq(sm_creds_provider_peek(h.p)->access_key_id, "ASIAFIRST");
        ck_assert_uint_eq(sm_fixture_count(&h.fx), 2);

        /* Mandatory window (5 min left): nothing without I/O, callers wait,
         * and two of them share one fetch. */
        fake_now = T0 + 3600 - 5 * 60;
        ck_assert_ptr_null(sm_creds_provider_peek(h.p));
        get_start(&h, &a);
        get_start(&h, &b);
        get_wait(&h, &a);
        get_wait(&h, &b);
        ck_assert_int_eq(a.r, 0);
        ck_assert_int_eq(b.r, 0);
        ck_assert_str_eq(a.creds->access_key_id, "ASIASECOND");
        ck_assert_ptr_eq(a.creds, b.creds);
        ck_assert_uint_eq(sm_fixture_count(&h.fx), 3);
        result_done(&a);
        result_done(&b);
        harness_end(&h);
}
END_TEST

START_TEST(test_refresh_mandatory_failure_is_an_error)
{
        harness h = {0};
        result res;

        container_refresh_harness(&h, json_pack("[o, o]", creds_answer("ASIAFIRST", T0 + 3600),
                                                answer(403, NULL, "no")));
        get_ok(&h, &res);
        result_done(&res);
        fake_now = T0 + 3600 - 60;
        get_fails(&h, "answered HTTP 403");
        harness_end(&h);
}
END_TEST

START_TEST(test_refresh_background_success)
{
        harness h = {0};
        result res;

        container_refresh_harness(&h, json_pack("[o, o]", creds_answer("ASIAFIRST", T0 + 3600),
                                                creds_answer("ASIASECOND", T0 + 7200)));
        get_ok(&h, &res);
        result_done(&res);
        fake_now = T0 + 3600 - 14 * 60;
        /* peek() starts the background refresh too. */
        ck_assert_str_eq(sm_creds_provider_peek(h.p)->access_key_id, "ASIAFIRST");
        run_until_pred(&h, two_requests_settled);
        ck_assert_str_eq(sm_creds_provider_peek(h.p)->access_key_id, "ASIASECOND");
        ck_assert_int_eq(sm_creds_provider_peek(h.p)->expiration, T0 + 7200);
        harness_end(&h);
}
END_TEST

START_TEST(test_refresh_single_flight_first_fetch)
{
        harness h = {0};
        result r[4];

        container_refresh_harness(&h, json_pack("[o]", creds_answer("ASIAONLY", T0 + 3600)));
        for (size_t i = 0; i < ELEMENTSOF(r); i++)
                get_start(&h, &r[i]);
        for (size_t i = 0; i < ELEMENTSOF(r); i++) {
                get_wait(&h, &r[i]);
                ck_assert_int_eq(r[i].r, 0);
                result_done(&r[i]);
        }
        ck_assert_uint_eq(sm_fixture_count(&h.fx), 1);
        harness_end(&h);
}
END_TEST

START_TEST(test_expired_answer_is_an_error)
{
        harness h = {0};

        container_refresh_harness(&h, json_pack("[o]", creds_answer("ASIAOLD", T0 - 10)));
        get_fails(&h, "returned credentials that already expired");
        harness_end(&h);
}
END_TEST

START_TEST(test_free_cancels_pending_gets)
{
        harness h = {0};
        result res;
        json_t *slow = creds_answer("ASIASLOW", 4070908800);

        json_object_set_new(slow, "delay_ms", json_integer(3000));
        container_refresh_harness(&h, json_pack("[o]", slow));
        get_start(&h, &res);
        ck_assert_int_eq(sm_fixture_wait_requests(&h.fx, &h.loop, 1, 10000), 0);
        h.p = sm_creds_provider_free(h.p);
        ck_assert(res.done);
        ck_assert_int_eq(res.r, -ECANCELED);
        result_done(&res);
        harness_end(&h);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("creds");
        TCase *basics = tcase_create("basics");
        TCase *chain = tcase_create("chain");
        TCase *process = tcase_create("credential_process");
        TCase *sts = tcase_create("sts");
        TCase *container = tcase_create("container");
        TCase *imds = tcase_create("imds");
        TCase *refresh = tcase_create("refresh");

        tcase_add_test(basics, test_credentials_refcount);
        tcase_add_test(basics, test_static_and_anonymous);
        suite_add_tcase(s, basics);

        tcase_add_test(chain, test_environment);
        tcase_add_test(chain, test_environment_partial_is_an_error);
        tcase_add_test(chain, test_explicit_profile_skips_environment);
        tcase_add_test(chain, test_file_precedence);
        suite_add_tcase(s, chain);

        tcase_add_test(process, test_process_success);
        tcase_add_test(process, test_process_failure_status);
        tcase_add_test(process, test_process_timeout);
        tcase_add_test(process, test_process_bad_json_does_not_leak);
        tcase_add_test(process, test_process_free_while_running);
        suite_add_tcase(s, process);

        tcase_add_test(sts, test_assume_role_profile);
        tcase_add_test(sts, test_assume_role_chained_and_credential_source);
        tcase_add_test(sts, test_assume_role_refusals);
        tcase_add_test(sts, test_assume_role_denied);
        tcase_add_test(sts, test_web_identity_environment);
        tcase_add_test(sts, test_web_identity_profile);
        suite_add_tcase(s, sts);

        tcase_add_test(container, test_container_relative_uri);
        tcase_add_test(container, test_container_full_uri_token_file);
        tcase_add_test(container, test_container_localhost_allowed);
        tcase_add_test(container, test_container_disallowed_hosts);
        tcase_add_test(container, test_container_error_answer);
        suite_add_tcase(s, container);

        tcase_set_timeout(imds, 30);
        tcase_add_test(imds, test_imds_discovery);
        tcase_add_test(imds, test_imds_timeout_message);
        tcase_add_test(imds, test_imds_disabled_message);
        suite_add_tcase(s, imds);

        tcase_set_timeout(refresh, 30);
        tcase_add_test(refresh, test_refresh_advisory_failure_keeps_credentials);
        tcase_add_test(refresh, test_refresh_mandatory_failure_is_an_error);
        tcase_add_test(refresh, test_refresh_background_success);
        tcase_add_test(refresh, test_refresh_single_flight_first_fetch);
        tcase_add_test(refresh, test_expired_answer_is_an_error);
        tcase_add_test(refresh, test_free_cancels_pending_gets);
        suite_add_tcase(s, refresh);
        return s;
}

SM_CHECK_MAIN(make_suite)
