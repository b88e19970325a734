/* SPDX-License-Identifier: Apache-2.0 */
/* What every smstudioctl verb that reads AWS shares: the daemon config,
 * the manifests, and the client stack built exactly as the daemon builds it
 * (settings -> credentials chain -> endpoints -> signed calls), so what a
 * verb reads is what the daemon sees. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "smstudio/creds.h"
#include "smstudio/http.h"
#include "smstudio/imds.h"
#include "smstudio/settings.h"
#include "smstudio/strbuf.h"

/* The system user smstudiod runs as (systemd/sysusers.d). */
#define DAEMON_USER "smstudio"

uid_t ctl_daemon_trusted_uid(void)
{
        const struct passwd *pw;

        /* Run as root, trust the daemon's user when it exists, so files the
         * daemon would accept are accepted here too; run as anyone else,
         * that user (a manifest checkout of their own, say), as the daemon
         * would if it ran as them. */
        if (geteuid() != 0)
                return geteuid();
        pw = getpwnam(DAEMON_USER);
        return pw ? pw->pw_uid : 0;
}

sm_daemon_config *ctl_load_config(const ctl_options *o)
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

char *ctl_aws_error_message(const ctl_aws *a, sm_service_id service, const char *operation,
                            const sm_aws_error *e)
{
        const char *name = sm_aws_service_get(service)->service_id;
        const sm_endpoint *ep = a->client ? sm_aws_client_endpoint(a->client, service, NULL) : NULL;
        const char *url = ep ? ep->url : "?";
        const char *code = e->code ? e->code : "UnknownError";
        const char *provider = a->creds ? sm_creds_provider_name(a->creds) : "?";

        if (streq(code, "NoCredentials"))
                return sm_strf("%s", e->message ? e->message : code);
        if (streq(code, "ExpiredToken") || streq(code, "ExpiredTokenException") ||
            streq(code, "RequestExpired"))
                return sm_strf("the AWS credentials from %s have expired: %s", provider,
                               e->message ? e->message : code);
        if (streq(code, "AccessDenied") || streq(code, "AccessDeniedException") ||
            streq(code, "InvalidClientTokenId") || streq(code, "SignatureDoesNotMatch") ||
            streq(code, "UnrecognizedClientException") || streq(code, "IncompleteSignature") ||
            streq(code, "InvalidSignatureException"))
                return sm_strf("access denied by %s (%s) to %s for credentials from %s: %s", name,
                               code, operation, provider, e->message ? e->message : "");
        if (streq(code, "TLSError"))
                return sm_strf("TLS failure talking to %s: %s (check ca_bundle / AWS_CA_BUNDLE)",
                               url, e->message ? e->message : "");
        if (streq(code, "ConnectionError") || streq(code, "Timeout"))
                return sm_strf("cannot reach the %s endpoint %s: %s", name, url,
                               e->message ? e->message : code);
        if (streq(code, "InvalidEndpoint"))
                return sm_strf("no usable %s endpoint: %s", name, e->message ? e->message : "");
        return sm_strf("%s %s failed: %s: %s%s%s%s", name, operation, code,
                       e->message ? e->message : "", e->request_id ? " (request id " : "",
                       e->request_id ? e->request_id : "", e->request_id ? ")" : "");
}

void ctl_aws_report_error(ctl_aws *a, sm_service_id service, const char *operation,
                          const sm_aws_error *e)
{
        char *msg = ctl_aws_error_message(a, service, operation, e);
        const char *code = e->code ? e->code : "UnknownError";

        ctl_print_error(a->opts, code, msg ? msg : code);
        free(msg);
}

static void aws_fail(ctl_aws *a, const char *code, const char *message)
{
        ctl_print_error(a->opts, code, message);
        uv_stop(&a->loop);
}

static void aws_connect(ctl_aws *a)
{
        int r;

        r = sm_creds_provider_new_chain(&a->loop, a->http, a->settings, &a->creds);
        if (r >= 0)
                r = sm_aws_client_new(&a->loop, a->http, a->settings, a->creds, &a->client);
        if (r < 0) {
                aws_fail(a, "InternalError", strerror(-r));
                return;
        }
        a->ready_ran = true;
        a->ready(a, a->userdata);
}

static void on_imds_region(int r, const char *body, size_t len, const char *error, void *userdata)
{
        ctl_aws *a = userdata;
        char *msg = NULL;

        if (r < 0 || len == 0 || len > 64) {
                msg = sm_strf(
                        "no AWS region configured: set region in the daemon config, AWS_REGION, "
                        "or the profile \"%s\" (EC2 instance metadata: %s)",
                        a->settings->profile, error ? error : "no answer");
                aws_fail(a, "NoRegion", msg ? msg : "no AWS region configured");
                free(msg);
                return;
        }
        free(a->settings->region);
        a->settings->region = strndup(body, len);
        if (!a->settings->region) {
                aws_fail(a, "InternalError", strerror(ENOMEM));
                return;
        }
        a->settings->region_source = "EC2 instance metadata";
        aws_connect(a);
}

/* Settings as the daemon would resolve them, with the command line's flags
 * on top. 0, or -EINVAL after reporting. */
static int aws_settings(ctl_aws *a, const sm_daemon_config *config)
{
        const ctl_options *o = a->opts;
        sm_aws_overrides ov;
        char *error = NULL;
        int r;

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
        r = sm_aws_settings_resolve(&ov, &a->settings, &error);
        if (r < 0) {
                ctl_print_error(o, "InvalidConfiguration", error ? error : strerror(-r));
                free(error);
                return -EINVAL;
        }
        if (!isempty(ov.region))
                a->settings->region_source = o->region ? "the command line" : "the daemon config";
        return 0;
}

int ctl_aws_run(ctl_aws *a, const ctl_options *o, const sm_daemon_config *config,
                ctl_aws_ready_fn ready, void *userdata)
{
        sm_http_options hopts = {0};
        bool started = false;
        int r;

        *a = (ctl_aws){.opts = o, .ready = ready, .userdata = userdata};
        if (aws_settings(a, config) < 0)
                return -EINVAL;
        r = uv_loop_init(&a->loop);
        if (r < 0) {
                ctl_print_error(o, "InternalError", strerror(-r));
                sm_aws_settings_free(a->settings);
                return r;
        }
        hopts.ca_bundle = a->settings->ca_bundle;
        r = sm_http_new(&a->loop, &hopts, &a->http);
        if (r < 0) {
                ctl_print_error(o, "InternalError", strerror(-r));
        } else if (a->settings->region) {
                aws_connect(a);
                started = a->ready_ran;
        } else if (a->settings->imds_disabled) {
                char *msg = sm_strf(
                        "no AWS region configured: set region in the daemon config, AWS_REGION, "
                        "or the profile \"%s\"",
                        a->settings->profile);

                ctl_print_error(o, "NoRegion", msg ? msg : "no AWS region configured");
                free(msg);
        } else {
                r = sm_imds_new(&a->loop, a->http, NULL, 0, &a->imds);
                if (r >= 0)
                        r = sm_imds_get(a->imds, "/latest/meta-data/placement/region",
                                        on_imds_region, a);
                if (r < 0)
                        ctl_print_error(o, "InternalError", strerror(-r));
                started = r >= 0;
        }
        if (started)
                uv_run(&a->loop, UV_RUN_DEFAULT);
        /* Free in dependency order, then let the loop close the handles. */
        sm_aws_client_free(a->client);
        sm_imds_free(a->imds);
        sm_creds_provider_free(a->creds);
        sm_http_free(a->http);
        uv_run(&a->loop, UV_RUN_DEFAULT);
        uv_loop_close(&a->loop);
        sm_aws_settings_free(a->settings);
        a->client = NULL;
        a->imds = NULL;
        a->creds = NULL;
        a->http = NULL;
        a->settings = NULL;
        return a->ready_ran ? 0 : -EIO;
}

void ctl_aws_stop(ctl_aws *a)
{
        uv_stop(&a->loop);
}

int ctl_load_manifests(const ctl_options *o, const sm_daemon_config *config, sm_manifest_load **ret)
{
        sm_manifest_load *load = NULL;
        sm_manifest_dir_options mo;
        sm_buf text = {0};
        int r;

        sm_manifest_dir_options_init(&mo, config->manifest_dir);
        mo.trusted_uid = ctl_daemon_trusted_uid();
        r = sm_manifest_dir_load(&mo, &load);
        if (r < 0) {
                ctl_print_error(o, "InternalError", strerror(-r));
                return r;
        }
        if (load->diags.n > 0 && sm_diags_format(&load->diags, &text) >= 0 && text.len > 0)
                text.data[text.len - 1] = '\0';
        if (!load->desired) {
                char *msg = sm_strf("no usable manifests in %s%s%s", config->manifest_dir,
                                    text.data ? ":\n" : "", text.data ? text.data : "");

                ctl_print_error(o, "InvalidManifests", msg ? msg : config->manifest_dir);
                free(msg);
                sm_buf_done(&text);
                sm_manifest_load_free(load);
                return -EINVAL;
        }
        /* What loaded stands; the rest is shown, as the daemon shows it. */
        if (text.data)
                fprintf(stderr, "%s\n", text.data);
        sm_buf_done(&text);
        *ret = load;
        return 0;
}
