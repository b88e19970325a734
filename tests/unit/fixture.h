/* SPDX-License-Identifier: Apache-2.0 */
/* Shared support for Check suites: private temp dirs, loopback servers and
 * running a libuv loop until something happens (never sleeping to wait). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

/* A fresh private directory under $TMPDIR (mode 0700); malloc'ed path.
 * Aborts the test on failure. */
char *sm_test_tmpdir(void);

/* Remove a file or a directory tree. 0, or negative errno. */
int sm_test_rm_rf(const char *path);

/* Run loop until *flag becomes true or timeout_ms pass (a uv timer, no
 * sleeping). 0 when the flag was set, -ETIMEDOUT otherwise. */
int sm_test_run_until(uv_loop_t *loop, bool *flag, unsigned timeout_ms);

/* Run loop until it has nothing left to do (no active referenced handles or
 * requests), e.g. after sm_http_free(), or timeout_ms pass. 0 or -ETIMEDOUT.
 * Afterwards uv_loop_close() succeeds only if every handle was closed. */
int sm_test_run_drain(uv_loop_t *loop, unsigned timeout_ms);

/* A scripted loopback HTTP(S) server: tests/helpers/httpfixture.py run by
 * $SM_PYTHON (python3 when unset) from $SM_SOURCE_ROOT. See the top of that
 * file for the script format (rules of method, path and responses with
 * status, headers, body, delay_ms, reset, ...) and the request log fields. */
typedef struct sm_fixture {
        pid_t pid;
        unsigned port;
        bool tls;
        char *dir;      /* private: script.json, port, requests.jsonl */
        char *log_path; /* one JSON object per request, flushed before each answer */
        char url[64];   /* "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT" */
} sm_fixture;

/* Start a server with script_json (a JSON list of rules, as text); TLS when
 * tls_cert and tls_key (PEM files) are given. Returns once it listens (bounded
 * wait), 0 or negative errno (-ECHILD: the server exited at once, e.g. on a
 * bad script; its complaint is on stderr); *ret is written only on success.
 * Also sets no_proxy so loopback URLs never go through a proxy from the
 * environment. */
int sm_fixture_start(const char *script_json, const char *tls_cert, const char *tls_key,
                     sm_fixture *ret);

/* "http://127.0.0.1:PORT" ("https://..." with TLS), no trailing slash. */
const char *sm_fixture_url(const sm_fixture *f);

/* The requests received so far, oldest first: a new reference to a JSON
 * array of {method, path, query, headers (lower-cased names), body, conn,
 * seq, in_flight, time, rule, response}; NULL on error. Every request whose
 * answer a client has seen is in it. Bodies may hold NULs: use
 * json_string_length(). */
json_t *sm_fixture_requests(const sm_fixture *f);

/* Number of requests received so far (lines in the log). */
size_t sm_fixture_count(const sm_fixture *f);

/* Run loop until the server has received at least n requests (watching the
 * log with uv_fs_event) or timeout_ms pass. 0 or -ETIMEDOUT. For tests that
 * must act while a request is in the server's hands. */
int sm_fixture_wait_requests(const sm_fixture *f, uv_loop_t *loop, size_t n, unsigned timeout_ms);

/* SIGTERM the server, reap it (SIGKILL after a deadline), remove its temp
 * dir and reset *f. Accepts a never-started (zeroed) or stopped fixture. */
void sm_fixture_stop(sm_fixture *f);

/* tests/emulator/awsemu run by $SM_PYTHON from $SM_SOURCE_ROOT on a
 * kernel-picked loopback port, with extra_args (NULL-terminated, may be
 * NULL) appended. Fills the same struct: pid, port, url and a private dir;
 * log_path is the emulator's output (not a request log: read its counters
 * through the admin API). Returns once it listens (bounded wait), 0 or
 * negative errno; stop it with sm_fixture_stop(). */
int sm_test_start_awsemu(char *const extra_args[], sm_fixture *ret);

/* The client stack the engine's suites drive the emulator (or a scripted
 * fixture) with. */
typedef struct sm_test_aws {
        struct sm_aws_settings *settings;
        struct sm_http *http;
        struct sm_creds_provider *creds;
        struct sm_aws_client *client;
} sm_test_aws;

/* The emulator's access key and secret (tests/emulator/awsemu's default). */
#define SM_TEST_AWSEMU_KEY_ID "AKIDEXAMPLE"
#define SM_TEST_AWSEMU_SECRET "awsemu/EXAMPLE/secret/key/0123456789abc"

/* A client on loop with every service at url, the emulator's static key,
 * region us-east-1, no shared config or credentials file, set through the
 * overrides the daemon config feeds (the environment cannot leak in);
 * max_attempts 0 keeps the SDK default. Fails the test on error. */
void sm_test_aws_start(uv_loop_t *loop, const char *url, unsigned max_attempts, sm_test_aws *a);
/* Free the client (what is in flight is cancelled), drain the loop within
 * drain_ms, then free the rest; the caller closes the loop. */
void sm_test_aws_stop(uv_loop_t *loop, sm_test_aws *a, unsigned drain_ms);

/* Make a throwaway CA and a server certificate for 127.0.0.1 and localhost,
 * signed by it, with the openssl command-line tool, in dir (which must
 * exist). Returns 0 and malloc'ed paths of the CA certificate, the server
 * certificate and the server key (PEM), or negative errno. */
int sm_fixture_make_tls(const char *dir, char **ret_ca, char **ret_cert, char **ret_key);

/* One call to a fixture's unsigned admin API (the emulator's /_emu/...),
 * blocking: the server is another process. body may be NULL. Aborts the
 * test unless the answer's status is want; returns the parsed JSON answer. */
json_t *sm_fixture_admin(const sm_fixture *f, const char *method, const char *path,
                         const char *body, long want);
