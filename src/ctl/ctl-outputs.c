/* SPDX-License-Identifier: Apache-2.0 */
/* smstudioctl outputs: the original module's outputs (its CfnOutput
 * "metadata", original-module.md §2.10) for one domain of the manifests,
 * read live from AWS, so consumers of the seed-farmer metadata keep working.
 *
 * The reads are outputs.h's (the daemon answers io.smstudio.Outputs with
 * the same module): a desired resource that does not exist yet is an
 * answer of its own (exit EXIT_NOT_CREATED, naming what is missing), not a
 * value made up from the account and the name. --from-daemon asks the
 * daemon instead (ctl-daemon.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "smstudio/desired.h"
#include "smstudio/outputs.h"
#include "smstudio/strbuf.h"

typedef struct outputs_state {
        const ctl_options *opts;
        ctl_aws *aws;
        const sm_domain *domain;
        int exit_code;
} outputs_state;

/* Report what AWS does not have yet. */
static void outputs_missing(outputs_state *st, const sm_outputs_result *res)
{
        sm_buf b = {0};
        int r = 0;

        for (size_t i = 0; r >= 0 && i < res->n_missing; i++)
                r = sm_buf_printf(&b, "%s%s", i ? ", " : "", res->missing[i]);
        if (r >= 0) {
                char *msg = sm_strf("not created in AWS yet: %s (a pass of smstudiod creates "
                                    "them)",
                                    b.data);

                ctl_print_error(st->opts, "NotCreated", msg ? msg : b.data);
                free(msg);
        } else {
                ctl_print_error(st->opts, "InternalError", strerror(-r));
        }
        sm_buf_done(&b);
}

static void outputs_done(const sm_outputs_result *res, void *userdata)
{
        outputs_state *st = userdata;
        ctl_field fields[_SM_OUTPUT_MAX];

        ctl_aws_stop(st->aws);
        st->exit_code = EXIT_FAILURE;
        if (res->error_code) {
                char *msg = res->aws_error
                                    ? ctl_aws_error_message(st->aws, res->aws_service,
                                                            res->aws_operation, res->aws_error)
                                    : NULL;

                ctl_print_error(st->opts, res->error_code,
                                msg                  ? msg
                                : res->error_message ? res->error_message
                                                     : strerror(ENOMEM));
                free(msg);
                return;
        }
        if (res->n_missing > 0) {
                outputs_missing(st, res);
                st->exit_code = EXIT_NOT_CREATED;
                return;
        }
        for (size_t i = 0; i < _SM_OUTPUT_MAX; i++)
                fields[i] = (ctl_field){sm_output_label(i), res->values[i]};
        ctl_print_record(st->opts, fields, _SM_OUTPUT_MAX);
        st->exit_code = EXIT_SUCCESS;
}

static void outputs_ready(ctl_aws *a, void *userdata)
{
        outputs_state *st = userdata;
        int r;

        st->aws = a;
        r = sm_outputs_read_start(a->client, st->domain, outputs_done, st, NULL);
        if (r < 0) {
                ctl_print_error(st->opts, "InternalError", strerror(-r));
                ctl_aws_stop(a);
        }
}

/* The domain to report: the one named, or the only one. NULL after saying
 * why not. */
static const sm_domain *outputs_pick(const ctl_options *o, const sm_desired *d, const char *name,
                                     const char *dir)
{
        const sm_domain *dom = sm_outputs_pick(d, name);
        sm_buf names = {0};
        char *msg = NULL;

        if (dom)
                return dom;
        for (size_t i = 0; i < d->n_domains; i++)
                (void)sm_buf_printf(&names, "%s%s", i ? ", " : "", d->domains[i].name);
        if (d->n_domains == 0)
                msg = sm_strf("the manifests of %s declare no domain", dir);
        else if (name)
                msg = sm_strf("no domain \"%s\" in the manifests of %s (domains: %s)", name, dir,
                              names.data ? names.data : "");
        else
                msg = sm_strf("the manifests of %s declare %zu domains: name one of %s", dir,
                              d->n_domains, names.data ? names.data : "");
        ctl_print_error(o, "NoSuchDomain", msg ? msg : "no such domain");
        free(msg);
        sm_buf_done(&names);
        return NULL;
}

int ctl_verb_outputs(const ctl_options *o, int argc, char **argv)
{
        _cleanup_(sm_daemon_config_freep) sm_daemon_config *config = NULL;
        _cleanup_(sm_manifest_load_freep) sm_manifest_load *load = NULL;
        outputs_state st = {.opts = o, .exit_code = EXIT_FAILURE};
        const char *name = NULL;
        ctl_aws a;

        for (int i = 1; i < argc; i++) {
                if (argv[i][0] == '-') {
                        fprintf(stderr, "smstudioctl: outputs: unknown option \"%s\"\n", argv[i]);
                        return EXIT_USAGE;
                }
                if (name) {
                        fprintf(stderr, "smstudioctl: outputs takes at most one domain\n");
                        return EXIT_USAGE;
                }
                name = argv[i];
        }
        if (o->from_daemon)
                return ctl_daemon_outputs(o, name);
        config = ctl_load_config(o);
        if (!config || ctl_load_manifests(o, config, &load) < 0)
                return EXIT_FAILURE;
        st.domain = outputs_pick(o, load->desired, name, config->manifest_dir);
        if (!st.domain)
                return EXIT_FAILURE;
        (void)ctl_aws_run(&a, o, config, outputs_ready, &st);
        return st.exit_code;
}
