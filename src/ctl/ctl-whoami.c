/* SPDX-License-Identifier: Apache-2.0 */
/* smstudioctl whoami: the AWS identity the daemon would act as. It builds
 * the same client stack as the daemon (ctl_aws_run), so what it prints is
 * what the daemon sees. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "smstudio/creds.h"
#include "smstudio/strbuf.h"
#include "smstudio/sts.h"

typedef struct whoami_state {
        const ctl_options *opts;
        int exit_code;
} whoami_state;

static void whoami_print_identity(ctl_aws *a, whoami_state *w, const sm_aws_response *r)
{
        sm_sts_identity id = {0};
        const sm_endpoint *ep;
        char *region = NULL;

        if (r->error) {
                ctl_aws_report_error(a, SM_SERVICE_STS, "GetCallerIdentity", r->error);
                return;
        }
        if (sm_sts_identity_from_output(r->output, &id) < 0) {
                ctl_print_error(w->opts, "MalformedResponse",
                                "STS answered GetCallerIdentity without Account, Arn or UserId");
                return;
        }
        ep = sm_aws_client_endpoint(a->client, SM_SERVICE_STS, NULL);
        if (!w->opts->json)
                region = sm_strf("%s (from %s)", a->settings->region, a->settings->region_source);
        {
                const ctl_field fields[] = {
                        {"Account", id.account},
                        {"Arn", id.arn},
                        {"UserId", id.user_id},
                        {"Provider", sm_creds_provider_name(a->creds)},
                        {"Region", region ? region : a->settings->region},
                        {"Endpoint", ep ? ep->url : NULL},
                };

                ctl_print_record(w->opts, fields, ELEMENTSOF(fields));
        }
        free(region);
        sm_sts_identity_done(&id);
        w->exit_code = EXIT_SUCCESS;
}

static void on_caller_identity(const sm_aws_response *r, void *userdata)
{
        ctl_aws *a = userdata;

        /* One answer is all whoami waits for: the teardown runs after the loop. */
        ctl_aws_stop(a);
        whoami_print_identity(a, a->userdata, r);
}

static void whoami_ready(ctl_aws *a, void *userdata)
{
        whoami_state *w = userdata;
        int r;

        r = sm_aws_call(a->client, SM_SERVICE_STS, "GetCallerIdentity", NULL, on_caller_identity,
                        a);
        if (r < 0) {
                ctl_print_error(w->opts, "InternalError", strerror(-r));
                ctl_aws_stop(a);
        }
}

int ctl_verb_whoami(const ctl_options *o, int argc, char **argv)
{
        _cleanup_(sm_daemon_config_freep) sm_daemon_config *config = NULL;
        whoami_state w = {.opts = o, .exit_code = EXIT_FAILURE};
        ctl_aws a;

        if (argc > 1) {
                fprintf(stderr, "smstudioctl: whoami takes no arguments\n");
                return EXIT_USAGE;
        }
        config = ctl_load_config(o);
        if (!config)
                return EXIT_FAILURE;
        (void)ctl_aws_run(&a, o, config, whoami_ready, &w);
        return w.exit_code;
}
