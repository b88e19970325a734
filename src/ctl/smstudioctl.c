/* SPDX-License-Identifier: Apache-2.0 */
/* smstudioctl: the command-line face of smstudio. Verbs that need AWS build
 * the same client stack as the daemon (settings -> credentials chain ->
 * endpoints -> signed calls), so what they print is what the daemon sees. */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "config.h"
#include "smstudio/client.h"
#include "smstudio/creds.h"
#include "smstudio/http.h"
#include "smstudio/imds.h"
#include "smstudio/log.h"
#include "smstudio/settings.h"
#include "smstudio/strbuf.h"
#include "smstudio/sts.h"

/* Exit codes: 0 success, 1 the command failed, 64 usage error (sysexits). */
#define EXIT_USAGE 64

typedef struct ctl_options {
        bool json;
        const char *profile;
        const char *region;
        int verbose;
} ctl_options;

/* One labelled value of a record rendered as text ("Label:  value") or as
 * one JSON object ({"Label": "value"}). */
typedef struct ctl_field {
        const char *label;
        const char *value;
} ctl_field;

static void print_record(const ctl_options *o, const ctl_field *fields, size_t n)
{
        if (o->json) {
                json_t *obj = json_object();
                char *s;

                for (size_t i = 0; i < n; i++)
                        json_object_set_new(obj, fields[i].label,
                                            fields[i].value ? json_string(fields[i].value)
                                                            : json_null());
                s = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                if (s)
                        puts(s);
                free(s);
                json_decref(obj);
                return;
        }
        for (size_t i = 0; i < n; i++)
                printf("%-10s %s\n", fields[i].label, fields[i].value ? fields[i].value : "-");
}

static void print_error(const ctl_options *o, const char *code, const char *message)
{
        if (o->json) {
                json_t *obj = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
                char *s = obj ? json_dumps(obj, JSON_INDENT(2)) : NULL;

                if (s)
                        puts(s);
                free(s);
                json_decref(obj);
        }
        fprintf(stderr, "smstudioctl: %s\n", message);
}

/* printf into a new string; NULL when out of memory. */
static char *strf(const char *fmt, ...) _printf_(1, 2);
static char *strf(const char *fmt, ...)
{
        sm_buf b = {0};
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = sm_buf_vprintf(&b, fmt, ap);
        va_end(ap);
        if (r < 0) {
                sm_buf_done(&b);
                return NULL;
        }
        return sm_buf_steal(&b);
}

/* --- whoami -------------------------------------------------------------- */

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
                msg = strf("%s", e->message);
        else if (streq(code, "ExpiredToken") || streq(code, "ExpiredTokenException") ||
                 streq(code, "RequestExpired"))
                msg = strf("the AWS credentials from %s have expired: %s",
                           sm_creds_provider_name(w->creds), e->message ? e->message : code);
        else if (streq(code, "AccessDenied") || streq(code, "AccessDeniedException") ||
                 streq(code, "InvalidClientTokenId") || streq(code, "SignatureDoesNotMatch") ||
                 streq(code, "UnrecognizedClientException") || streq(code, "IncompleteSignature"))
                msg = strf("access denied by STS (%s) for credentials from %s: %s", code,
                           sm_creds_provider_name(w->creds), e->message ? e->message : "");
        else if (streq(code, "TLSError"))
                msg = strf("TLS failure talking to %s: %s (check ca_bundle / AWS_CA_BUNDLE)", url,
                           e->message ? e->message : "");
        else if (streq(code, "ConnectionError") || streq(code, "Timeout"))
                msg = strf("cannot reach the STS endpoint %s: %s", url,
                           e->message ? e->message : code);
        else if (streq(code, "InvalidEndpoint"))
                msg = strf("no usable STS endpoint: %s", e->message ? e->message : "");
        else
                msg = strf("STS GetCallerIdentity failed: %s: %s%s%s%s", code,
                           e->message ? e->message : "", e->request_id ? " (request id " : "",
                           e->request_id ? e->request_id : "", e->request_id ? ")" : "");
        print_error(w->opts, code, msg ? msg : code);
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
                print_error(w->opts, "MalformedResponse",
                            "STS answered GetCallerIdentity without Account, Arn or UserId");
                w->exit_code = EXIT_FAILURE;
                return;
        }
        ep = sm_aws_client_endpoint(w->client, SM_SERVICE_STS, NULL);
        if (!w->opts->json)
                region = strf("%s (from %s)", w->settings->region, w->settings->region_source);
        {
                const ctl_field fields[] = {
                        {"Account", id.account},
                        {"Arn", id.arn},
                        {"UserId", id.user_id},
                        {"Provider", sm_creds_provider_name(w->creds)},
                        {"Region", region ? region : w->settings->region},
                        {"Endpoint", ep ? ep->url : NULL},
                };

                print_record(w->opts, fields, ELEMENTSOF(fields));
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
                msg = strf("no AWS region configured: set region in the daemon config, AWS_REGION, "
                           "or the profile \"%s\" (EC2 instance metadata: %s)",
                           w->settings->profile, error ? error : "no answer");
                print_error(w->opts, "NoRegion", msg ? msg : "no AWS region configured");
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
                print_error(w->opts, "InternalError", strerror(-r));
                w->exit_code = EXIT_FAILURE;
                uv_stop(&w->loop);
        }
}

static int verb_whoami(const ctl_options *o)
{
        whoami_state w = {.opts = o, .exit_code = EXIT_FAILURE};
        sm_aws_overrides ov;
        sm_http_options hopts = {0};
        char *error = NULL;
        int r;

        sm_aws_overrides_init(&ov);
        ov.origin = "the command line";
        ov.profile = o->profile;
        ov.region = o->region;
        r = sm_aws_settings_resolve(&ov, &w.settings, &error);
        if (r < 0) {
                print_error(o, "InvalidConfiguration", error ? error : strerror(-r));
                free(error);
                return EXIT_FAILURE;
        }
        uv_loop_init(&w.loop);
        hopts.ca_bundle = w.settings->ca_bundle;
        r = sm_http_new(&w.loop, &hopts, &w.http);
        if (r < 0) {
                print_error(o, "InternalError", strerror(-r));
                goto out;
        }
        if (w.settings->region) {
                whoami_call(&w);
        } else if (w.settings->imds_disabled) {
                char *msg = NULL;

                msg = strf("no AWS region configured: set region in the daemon config, AWS_REGION, "
                           "or the profile \"%s\"",
                           w.settings->profile);
                print_error(o, "NoRegion", msg ? msg : "no AWS region configured");
                free(msg);
                goto out;
        } else {
                r = sm_imds_new(&w.loop, w.http, NULL, 0, &w.imds);
                if (r >= 0)
                        r = sm_imds_get(w.imds, "/latest/meta-data/placement/region",
                                        on_imds_region, &w);
                if (r < 0) {
                        print_error(o, "InternalError", strerror(-r));
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

/* --- main ---------------------------------------------------------------- */

typedef struct ctl_verb {
        const char *name;
        int (*run)(const ctl_options *o);
        const char *help;
} ctl_verb;

static const ctl_verb verbs[] = {
        {"whoami", verb_whoami, "show the AWS identity, credential source, region and endpoint"},
};

static void usage(FILE *f)
{
        fprintf(f, "Usage: smstudioctl [OPTIONS] VERB\n"
                   "\n"
                   "Verbs:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].help);
        fprintf(f, "\n"
                   "Options:\n"
                   "  --json            print JSON instead of text\n"
                   "  --profile NAME    AWS profile (default: AWS_PROFILE, else \"default\")\n"
                   "  --region REGION   AWS region (default: AWS_REGION, the profile, EC2 IMDS)\n"
                   "  -v, --verbose     debug messages on stderr\n"
                   "  -h, --help        this help\n"
                   "      --version     print the version\n"
                   "\n"
                   "Exit status: 0 success, 1 failure, 64 usage error.\n");
}

int main(int argc, char **argv)
{
        enum { OPT_JSON = 256, OPT_PROFILE, OPT_REGION, OPT_VERSION };
        static const struct option longopts[] = {
                {"json", no_argument, NULL, OPT_JSON},
                {"profile", required_argument, NULL, OPT_PROFILE},
                {"region", required_argument, NULL, OPT_REGION},
                {"verbose", no_argument, NULL, 'v'},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, OPT_VERSION},
                {0},
        };
        ctl_options o = {0};
        int c;

        sm_log_set_target(SM_LOG_TARGET_STDERR);
        sm_log_set_max_level(LOG_WARNING);
        while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) >= 0) {
                switch (c) {
                case OPT_JSON:
                        o.json = true;
                        break;
                case OPT_PROFILE:
                        o.profile = optarg;
                        break;
                case OPT_REGION:
                        o.region = optarg;
                        break;
                case 'v':
                        o.verbose++;
                        sm_log_set_max_level(LOG_DEBUG);
                        break;
                case 'h':
                        usage(stdout);
                        return EXIT_SUCCESS;
                case OPT_VERSION:
                        printf("smstudioctl %s\n", SM_VERSION);
                        return EXIT_SUCCESS;
                default:
                        usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return EXIT_USAGE;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(argv[optind], verbs[i].name)) {
                        if (optind + 1 < argc) {
                                fprintf(stderr, "smstudioctl: %s takes no arguments\n",
                                        verbs[i].name);
                                return EXIT_USAGE;
                        }
                        return verbs[i].run(&o);
                }
        fprintf(stderr, "smstudioctl: unknown verb \"%s\" (see --help)\n", argv[optind]);
        return EXIT_USAGE;
}
