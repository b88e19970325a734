/* SPDX-License-Identifier: Apache-2.0 */
/* AWS credentials and the SDK default provider chain, with refresh ahead of
 * expiry: advisory 15 min before (old credentials kept if it fails),
 * mandatory 10 min before, one refresh in flight. Secrets never reach a log,
 * an error text or the output; they are wiped when the last reference goes. */
#pragma once

#include <stdint.h>
#include <uv.h>

#include "smstudio/http.h"
#include "smstudio/settings.h"

typedef struct sm_credentials {
        unsigned n_ref;
        char *access_key_id;
        char *secret_access_key;
        char *session_token;  /* NULL for long-term keys */
        int64_t expiration;   /* Unix seconds; 0 = does not expire */
        const char *provider; /* static: "environment", "shared-credentials-file",
                               * "config-file", "assume-role", "credential-process",
                               * "web-identity", "container", "imds", "static" */
        char *account_id;     /* when the source says (credential_process, STS), else NULL */
} sm_credentials;

/* New credentials with one reference. token may be NULL. provider must be a
 * static string. NULL on -ENOMEM or missing key/secret. */
sm_credentials *sm_credentials_new(const char *access_key_id, const char *secret_access_key,
                                   const char *session_token, int64_t expiration,
                                   const char *provider);
sm_credentials *sm_credentials_ref(sm_credentials *c);
/* Drop a reference; the last one wipes the secrets. Accepts NULL; returns NULL. */
sm_credentials *sm_credentials_unref(sm_credentials *c);

#define SM_CREDS_ADVISORY_REFRESH_S  (15 * 60)
#define SM_CREDS_MANDATORY_REFRESH_S (10 * 60)

typedef struct sm_creds_provider sm_creds_provider;

/* Called once per get, from the loop. On success r == 0 and creds is
 * borrowed (take a reference to keep it). On failure creds is NULL and error
 * says what was tried and why it failed (never a secret). */
typedef void (*sm_creds_done_fn)(int r, sm_credentials *creds, const char *error, void *userdata);

/* A provider that always hands out c (takes a reference). */
int sm_creds_provider_new_static(uv_loop_t *loop, sm_credentials *c, sm_creds_provider **ret);

/* Credentials with this provider name are not signed: the client sends the
 * request without Authorization (STS AssumeRoleWithWebIdentity). */
#define SM_CREDS_PROVIDER_ANONYMOUS "anonymous"

/* A provider that hands out anonymous credentials (empty keys, provider
 * SM_CREDS_PROVIDER_ANONYMOUS). */
int sm_creds_provider_new_anonymous(uv_loop_t *loop, sm_creds_provider **ret);

/* The SDK default chain for settings (borrowed: must outlive the provider).
 * Order: environment (unless a profile was chosen explicitly), assume-role
 * profile, web identity, shared credentials file, credential_process, config
 * file keys, container, IMDS. The first provider that is configured wins and
 * is kept for refreshes. */
int sm_creds_provider_new_chain(uv_loop_t *loop, sm_http *http, const sm_aws_settings *settings,
                                sm_creds_provider **ret);

/* Cancel pending gets (their callbacks run with -ECANCELED) and free the
 * provider once its I/O is closed; keep running the loop until it drains.
 * Accepts NULL; returns NULL. */
sm_creds_provider *sm_creds_provider_free(sm_creds_provider *p);

/* Credentials usable now, without I/O: NULL when none are cached or they are
 * inside the mandatory window. Inside the advisory window it starts a
 * background refresh and still returns the cached ones. Borrowed. */
sm_credentials *sm_creds_provider_peek(sm_creds_provider *p);

/* Get credentials, resolving or refreshing as needed. done never runs inside
 * this call. Returns 0 or -ENOMEM. */
int sm_creds_provider_get(sm_creds_provider *p, sm_creds_done_fn done, void *userdata);

/* Forget cached credentials (AWS said they expired or are invalid). */
void sm_creds_provider_invalidate(sm_creds_provider *p);

/* Name of the provider that produced the current credentials, or of the
 * chain ("chain") before the first resolution. */
const char *sm_creds_provider_name(const sm_creds_provider *p);

/* Tests: replace the wall clock used for expiry decisions. */
void sm_creds_provider_set_clock(sm_creds_provider *p, int64_t (*now)(void *), void *userdata);

/* How long a credential_process may run before it is killed (its whole
 * process group) and the fetch fails; 0 restores the default, 60000 ms (the
 * Go v2 SDK's). Takes effect for sources chosen after the call, so set it
 * before the first get. */
void sm_creds_provider_set_process_timeout(sm_creds_provider *p, long timeout_ms);

/* Tests: replace "http://169.254.170.2", the base that
 * AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is appended to. NULL restores it.
 * Set before the first get. 0 or -ENOMEM. */
int sm_creds_provider_set_container_base(sm_creds_provider *p, const char *base_url);
