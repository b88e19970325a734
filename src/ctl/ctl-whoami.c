/* SPDX-License-Identifier: Apache-2.0 */
/* smstudioctl whoami: the AWS identity the daemon would act as. It builds
 * the same client stack as the daemon (settings -> credentials chain ->
 * endpoints -> signed calls), so what it prints is what the daemon sees. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "ctl.h"
#include "smstudio/strbuf.h"
#include "smstudio/client.h"
#include "smstudio/creds.h"
#include "smstudio/daemonconfig.h"
#include "smstudio/http.h"
#include "smstudio/imds.h"
#include "smstudio/settings.h"
#include "smstudio/sts.h"

typedef struct whoami_state {
        const ctl_options *opts;
        uv_loop_t loop;
        sm_http *http;
        sm_aws_settings *settings;
        sm_creds_provider *creds;
        sm_aws_client *client;
        sm_imds *imds;
        int exit_code;
} whoami_state;

static void whoami_call(whoami_state *w);
static void whoami_print_identity(whoami_state *w, const sm_aws_response *r);

/* Turn an AWS or transport error into the sentence an operator acts on. */
static void whoami_report_error(whoami_state *w, const sm_aws_error *e)
{
        const sm_endpoint *ep = sm_aws_client_endpoint(w->client, SM_SERVICE_STS, NULL);
        const char *url = ep ? ep->url : "?";
        char *msg = NULL;
        const char *code = e->code ? e->code : "UnknownError";

        if (streq(code, "NoCredentials"))
                msg = sm_strf("%s", e->message);
        else if (streq(code, "ExpiredToken") || streq(code, "ExpiredTokenException") ||
                 streq(code, "RequestExpired"))
                msg = sm_strf("the AWS credentials from %s have expired: %s",
                              sm_creds_provider_name(w->creds), e->message ? e->message : code);
        else if (streq(code, "AccessDenied") || streq(code, "AccessDeniedException") ||
                 streq(code, "InvalidClientTokenId") || streq(code, "SignatureDoesNotMatch") ||
                 streq(code, "UnrecognizedClientException") || streq(code, "IncompleteSignature"))
                msg = sm_strf("access denied by STS (%s) for credentials from %s: %s", code,
                              sm_creds_provider_name(w->creds), e->message ? e->message : "");
        else if (streq(code, "TLSError"))
                msg = sm_strf("TLS failure talking to %s: %s (check ca_bundle / AWS_CA_BUNDLE)",
                              url, e->message ? e->message : "");
        else if (streq(code, "ConnectionError") || streq(code, "Timeout"))
                msg = sm_strf("cannot reach the STS endpoint %s: %s", url,
                              e->message ? e->message : code);
        else if (streq(code, "InvalidEndpoint"))
                msg = sm_strf("no usable STS endpoint: %s", e->message ? e->message : "");
        else
                msg = sm_strf("STS GetCallerIdentity failed: %s: %s%s%s%s", code,
                              e->message ? e->message : "", e->request_id ? " (request id " : "",
                              e->request_id ? e->request_id : "", e->request_id ? ")" : "");
        ctl_print_error(w->opts, code, msg ? msg : code);
        free(msg);
        w->exit_code = EXIT_FAILURE;
}

static void on_caller_identity(const sm_aws_response *r, void *userdata)
{
        whoami_state *w = userdata;

        /* One answer is all whoami waits for: the teardown runs after the loop. */
        uv_stop(&w->loop);
        whoami_print_identity(w, r);
}

static void whoami_print_identity(whoami_state *w, const sm_aws_response *r)
{
        sm_sts_identity id = {0};
        const sm_endpoint *ep;
        char *region = NULL;

        if (r->error) {
                whoami_report_error(w, r->error);
                return;
        }
        if (sm_sts_identity_from_output(r->output, &id) < 0) {
                ctl_print_error(w->opts, "MalformedResponse",
                                "STS answered GetCallerIdentity without Account, Arn or UserId");
                w->exit_code = EXIT_FAILURE;
                return;
        }
        ep = sm_aws_client_endpoint(w->client, SM_SERVICE_STS, NULL);
        if (!w->opts->json)
                region = sm_strf("%s (from %s)", w->settings->region, w->settings->region_source);
        {
                const ctl_field fields[] = {
                        {"Account", id.account},
                        {"Arn", id.arn},
                        {"UserId", id.user_id},
                        {"Provider", sm_creds_provider_name(w->creds)},
                        {"Region", region ? region : w->settings->region},
                        {"Endpoint", ep ? ep->url : NULL},
                };

                ctl_print_record(w->opts, fields, ELEMENTSOF(fields));
        }
        free(region);
        sm_sts_identity_done(&id);
        w->exit_code = EXIT_SUCCESS;
}

static void on_imds_region(int r, const char *body, size_t len, const char *error, void *userdata)
{
        whoami_state *w = userdata;

        if (r < 0 || len == 0 || len > 64) {
                char *msg = NULL;

                uv_stop(&w->loop);
                msg = sm_strf(
                        "no AWS region configured: set region in the daemon config, AWS_REGION, "
                        "or the profile \"%s\" (EC2 instance metadata: %s)",
                        w->settings->profile, error ? error : "no answer");
                ctl_print_error(w->opts, "NoRegion", msg ? msg : "no AWS region configured");
                free(msg);
                w->exit_code = EXIT_FAILURE;
                return;
        }
        free(w->settings->region);
        w->settings->region = strndup(body, len);
        w->settings->region_source = "EC2 instance metadata";
        whoami_call(w);
}

static void whoami_call(whoami_state *w)
{
        int r;

        r = sm_creds_provider_new_chain(&w->loop, w->http, w->settings, &w->creds);
        if (r >= 0)
                r = sm_aws_client_new(&w->loop, w->http, w->settings, w->creds, &w->client);
        if (r >= 0)
                r = sm_aws_call(w->client, SM_SERVICE_STS, "GetCallerIdentity", NULL,
                                on_caller_identity, w);
        if (r < 0) {
                ctl_print_error(w->opts, "InternalError", strerror(-r));
                w->exit_code = EXIT_FAILURE;
                uv_stop(&w->loop);
        }
}

/* The daemon config whoami reads: --config FILE (which must exist), else
 * the default file when there is one. NULL after reporting the problems. */
static sm_daemon_config *whoami_load_config(const ctl_options *o)
{
        sm_daemon_config *c = NULL;
        sm_diags diags = {0};
        sm_buf text = {0};
        int r;

        r = sm_daemon_config_load(o->config, o->config != NULL, &c, &diags);
        if (r < 0) {
                if (diags.n > 0 && sm_diags_format(&diags, &text) >= 0 && text.len > 0) {
                        /* One "path:line:column: message" per line, as validate prints them. */
                        text.data[text.len - 1] = '\0';
                        ctl_print_error(o, "InvalidConfiguration", text.data);
                } else {
                        ctl_print_error(o, "InvalidConfiguration", strerror(-r));
                }
                c = NULL;
        }
        sm_buf_done(&text);
        sm_diags_done(&diags);
        return c;
}

int ctl_verb_whoami(const ctl_options *o, int argc, char **argv)
{
        whoami_state w = {.opts = o, .exit_code = EXIT_FAILURE};
        _cleanup_(sm_daemon_config_freep) sm_daemon_config *config = NULL;
        sm_aws_overrides ov;
        sm_http_options hopts = {0};
        char *error = NULL;
        int r;

        if (argc > 1) {
                fprintf(stderr, "smstudioctl: whoami takes no arguments\n");
                return EXIT_USAGE;
        }
        config = whoami_load_config(o);
        if (!config)
                return EXIT_FAILURE;
        /* What the daemon would use, with the command line's flags on top. */
        sm_daemon_config_aws_overrides(config, &ov);
        if (o->profile)
                ov.profile = o->profile;
        if (o->region)
                ov.region = o->region;
        /* The settings take one origin for profile and region. Name the
         * profile's (resolve reports a missing profile by it) and put the
         * region's right below: both show in whoami's answer. */
        if (o->profile || (!ov.profile && o->region))
                ov.origin = "the command line";
        r = sm_aws_settings_resolve(&ov, &w.settings, &error);
        if (r < 0) {
                ctl_print_error(o, "InvalidConfiguration", error ? error : strerror(-r));
                free(error);
                return EXIT_FAILURE;
        }
        if (!isempty(ov.region))
                w.settings->region_source = o->region ? "the command line" : "the daemon config";
        uv_loop_init(&w.loop);
        hopts.ca_bundle = w.settings->ca_bundle;
        r = sm_http_new(&w.loop, &hopts, &w.http);
        if (r < 0) {
                ctl_print_error(o, "InternalError", strerror(-r));
                goto out;
        }
        if (w.settings->region) {
                whoami_call(&w);
        } else if (w.settings->imds_disabled) {
                char *msg = NULL;

                msg = sm_strf(
                        "no AWS region configured: set region in the daemon config, AWS_REGION, "
                        "or the profile \"%s\"",
                        w.settings->profile);
                ctl_print_error(o, "NoRegion", msg ? msg : "no AWS region configured");
                free(msg);
                goto out;
        } else {
                r = sm_imds_new(&w.loop, w.http, NULL, 0, &w.imds);
                if (r >= 0)
                        r = sm_imds_get(w.imds, "/latest/meta-data/placement/region",
                                        on_imds_region, &w);
                if (r < 0) {
                        ctl_print_error(o, "InternalError", strerror(-r));
                        goto out;
                }
        }
        uv_run(&w.loop, UV_RUN_DEFAULT);
out:
        /* Free in dependency order, then let the loop close the handles. */
        sm_aws_client_free(w.client);
        sm_imds_free(w.imds);
        sm_creds_provider_free(w.creds);
        sm_http_free(w.http);
        uv_run(&w.loop, UV_RUN_DEFAULT);
        uv_loop_close(&w.loop);
        sm_aws_settings_free(w.settings);
        return w.exit_code;
}
