/* SPDX-License-Identifier: Apache-2.0 */
/* smstudioctl outputs: the original module's outputs (its CfnOutput
 * "metadata", original-module.md §2.10) for one domain of the manifests,
 * read live from AWS, so consumers of the seed-farmer metadata keep working.
 *
 * Everything is read, never guessed: the domain by ListDomains then
 * DescribeDomain (ARN, home EFS id), the three role ARNs by GetRole on the
 * names sm_role_name() gives, the MLflow ARN by ListMlflowTrackingServers.
 * A desired resource that does not exist yet is an answer of its own (exit
 * EXIT_NOT_CREATED, naming what is missing), not a value made up from the
 * account and the name. The reads run in parallel; the daemon's socket
 * (issue 6) may later answer the same question without them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "smstudio/desired.h"
#include "smstudio/roles.h"
#include "smstudio/strbuf.h"

/* SageMaker List calls page at 10 by default; the API allows 100. */
#define OUTPUTS_PAGE_SIZE 100

/* The keys in the original's order (M/app.py). */
typedef enum output_key {
        OUT_DOMAIN_NAME,
        OUT_EFS_ID,
        OUT_DOMAIN_ID,
        OUT_DOMAIN_ARN,
        OUT_BUCKET,
        OUT_DATA_SCIENTIST_ROLE,
        OUT_LEAD_ROLE,
        OUT_EXECUTION_ROLE,
        OUT_MLFLOW,
        _OUT_MAX,
} output_key;

static const char *const output_labels[_OUT_MAX] = {
        [OUT_DOMAIN_NAME] = "StudioDomainName",
        [OUT_EFS_ID] = "StudioDomainEFSId",
        [OUT_DOMAIN_ID] = "StudioDomainId",
        [OUT_DOMAIN_ARN] = "StudioDomainArn",
        [OUT_BUCKET] = "StudioBucketName",
        [OUT_DATA_SCIENTIST_ROLE] = "DataScientistRoleArn",
        [OUT_LEAD_ROLE] = "LeadDataScientistRoleArn",
        [OUT_EXECUTION_ROLE] = "SageMakerExecutionRoleArn",
        [OUT_MLFLOW] = "MlflowTrackingServerArn",
};

typedef struct outputs_state outputs_state;

/* One GetRole in flight. */
typedef struct role_read {
        outputs_state *st;
        output_key key;
        char *name;
        bool missing;
} role_read;

/* One paged List lookup in flight. */
typedef struct list_find {
        outputs_state *st;
        const char *operation; /* "ListDomains" */
        const char *member;    /* "Domains" */
        const char *name_key;  /* "DomainName" */
        const char *name;
        void (*found)(outputs_state *st, const json_t *summary);
        bool missing; /* the pages ended without it */
} list_find;

struct outputs_state {
        const ctl_options *opts;
        ctl_aws *aws;
        const sm_domain *domain;
        role_read roles[3];
        list_find domain_find;
        list_find mlflow_find;
        char *values[_OUT_MAX];
        char *error_code;
        char *error_message; /* the first failure: one error, one JSON document */
        unsigned pending;
        int exit_code;
};

/* Report what AWS does not have yet, in dependency order whatever order
 * the answers came in. false when nothing is missing. */
static bool outputs_missing(outputs_state *st)
{
        sm_buf b = {0};
        int r = 0;

        if (st->domain_find.missing)
                r = sm_buf_printf(&b, ", domain %s", st->domain->name);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(st->roles); i++)
                if (st->roles[i].missing)
                        r = sm_buf_printf(&b, ", IAM role %s", st->roles[i].name);
        if (r >= 0 && st->mlflow_find.missing)
                r = sm_buf_printf(&b, ", MLflow tracking server %s",
                                  st->domain->mlflow_server_name);
        if (r >= 0 && b.len == 0)
                return false;
        if (r >= 0) {
                char *msg = sm_strf("not created in AWS yet: %s (a pass of smstudiod creates "
                                    "them)",
                                    b.data + 2);

                ctl_print_error(st->opts, "NotCreated", msg ? msg : b.data + 2);
                free(msg);
        } else {
                ctl_print_error(st->opts, "InternalError", strerror(-r));
        }
        sm_buf_done(&b);
        return true;
}

static void outputs_finish(outputs_state *st)
{
        ctl_field fields[_OUT_MAX];

        if (st->error_message) {
                ctl_print_error(st->opts, st->error_code ? st->error_code : "InternalError",
                                st->error_message);
                st->exit_code = EXIT_FAILURE;
                return;
        }
        if (outputs_missing(st)) {
                st->exit_code = EXIT_NOT_CREATED;
                return;
        }
        for (size_t i = 0; i < _OUT_MAX; i++)
                fields[i] = (ctl_field){output_labels[i], st->values[i]};
        ctl_print_record(st->opts, fields, _OUT_MAX);
        st->exit_code = EXIT_SUCCESS;
}

/* One answer in: the last one ends the loop and prints. */
static void outputs_settle(outputs_state *st)
{
        if (--st->pending > 0)
                return;
        ctl_aws_stop(st->aws);
        outputs_finish(st);
}

static void outputs_fail(outputs_state *st, const char *code, char *message)
{
        if (!st->error_message) {
                st->error_code = strdup(code);
                st->error_message = message ? message : strdup(strerror(ENOMEM));
                message = NULL;
        }
        free(message);
}

static void outputs_fail_call(outputs_state *st, sm_service_id service, const char *operation,
                              const sm_aws_error *e)
{
        outputs_fail(st, e->code ? e->code : "UnknownError",
                     ctl_aws_error_message(st->aws, service, operation, e));
}

/* Copy a string member of an answer into a value; a member AWS left out is
 * an answer we cannot use. */
static void outputs_take(outputs_state *st, output_key key, const json_t *obj, const char *member,
                         const char *operation)
{
        const char *s = json_string_value(json_object_get(obj, member));

        if (!s) {
                outputs_fail(st, "MalformedResponse",
                             sm_strf("%s answered without %s", operation, member));
                return;
        }
        free(st->values[key]);
        st->values[key] = strdup(s);
        if (!st->values[key])
                outputs_fail(st, "InternalError", NULL);
}

/* Send one call; on a local failure the answer is counted as in. */
static void outputs_call(outputs_state *st, sm_service_id service, const char *operation,
                         json_t *params, sm_aws_done_fn done, void *userdata)
{
        int r;

        st->pending++;
        r = sm_aws_call(st->aws->client, service, operation, params, done, userdata);
        if (r < 0) {
                outputs_fail(st, "InternalError",
                             sm_strf("cannot send %s: %s", operation, strerror(-r)));
                outputs_settle(st);
        }
}

static void on_describe_domain(const sm_aws_response *r, void *userdata)
{
        outputs_state *st = userdata;

        if (r->error)
                outputs_fail_call(st, SM_SERVICE_SAGEMAKER, "DescribeDomain", r->error);
        else {
                outputs_take(st, OUT_DOMAIN_ARN, r->output, "DomainArn", "DescribeDomain");
                /* A domain still being created may not have its file system yet. */
                if (json_object_get(r->output, "HomeEfsFileSystemId"))
                        outputs_take(st, OUT_EFS_ID, r->output, "HomeEfsFileSystemId",
                                     "DescribeDomain");
        }
        outputs_settle(st);
}

static json_t *page_params(const char *next)
{
        return next ? json_pack("{s:i, s:s}", "MaxResults", OUTPUTS_PAGE_SIZE, "NextToken", next)
                    : json_pack("{s:i}", "MaxResults", OUTPUTS_PAGE_SIZE);
}

/* Page through a SageMaker List call until its summary named name turns
 * up (found then takes it over) or the pages end (missing). */
static void on_list_page(const sm_aws_response *r, void *userdata)
{
        list_find *lf = userdata;
        outputs_state *st = lf->st;
        const json_t *item;
        const char *next;
        size_t i;

        if (r->error) {
                outputs_fail_call(st, SM_SERVICE_SAGEMAKER, lf->operation, r->error);
                outputs_settle(st);
                return;
        }
        json_array_foreach(json_object_get(r->output, lf->member), i, item)
        {
                const char *s = json_string_value(json_object_get(item, lf->name_key));

                if (s && streq(s, lf->name)) {
                        lf->found(st, item);
                        outputs_settle(st);
                        return;
                }
        }
        next = json_string_value(json_object_get(r->output, "NextToken"));
        if (next)
                outputs_call(st, SM_SERVICE_SAGEMAKER, lf->operation, page_params(next),
                             on_list_page, lf);
        else
                lf->missing = true;
        outputs_settle(st);
}

static void found_domain(outputs_state *st, const json_t *summary)
{
        outputs_take(st, OUT_DOMAIN_ID, summary, "DomainId", "ListDomains");
        /* The summary has no file system id: DescribeDomain has. */
        if (st->values[OUT_DOMAIN_ID])
                outputs_call(st, SM_SERVICE_SAGEMAKER, "DescribeDomain",
                             json_pack("{s:s}", "DomainId", st->values[OUT_DOMAIN_ID]),
                             on_describe_domain, st);
}

static void found_mlflow(outputs_state *st, const json_t *summary)
{
        outputs_take(st, OUT_MLFLOW, summary, "TrackingServerArn", "ListMlflowTrackingServers");
}

static void on_get_role(const sm_aws_response *r, void *userdata)
{
        role_read *rr = userdata;
        outputs_state *st = rr->st;

        if (r->error && r->error->code && streq(r->error->code, "NoSuchEntity"))
                rr->missing = true;
        else if (r->error)
                outputs_fail_call(st, SM_SERVICE_IAM, "GetRole", r->error);
        else
                outputs_take(st, rr->key, json_object_get(r->output, "Role"), "Arn", "GetRole");
        outputs_settle(st);
}

static void outputs_ready(ctl_aws *a, void *userdata)
{
        outputs_state *st = userdata;

        st->aws = a;
        /* Held while the calls go out, so an early answer cannot end the run. */
        st->pending++;
        st->domain_find = (list_find){.st = st,
                                      .operation = "ListDomains",
                                      .member = "Domains",
                                      .name_key = "DomainName",
                                      .name = st->domain->name,
                                      .found = found_domain};
        outputs_call(st, SM_SERVICE_SAGEMAKER, "ListDomains", page_params(NULL), on_list_page,
                     &st->domain_find);
        for (size_t i = 0; i < ELEMENTSOF(st->roles); i++)
                outputs_call(st, SM_SERVICE_IAM, "GetRole",
                             json_pack("{s:s}", "RoleName", st->roles[i].name), on_get_role,
                             &st->roles[i]);
        st->mlflow_find = (list_find){.st = st,
                                      .operation = "ListMlflowTrackingServers",
                                      .member = "TrackingServerSummaries",
                                      .name_key = "TrackingServerName",
                                      .name = st->domain->mlflow_server_name,
                                      .found = found_mlflow};
        if (st->domain->mlflow_enabled)
                outputs_call(st, SM_SERVICE_SAGEMAKER, "ListMlflowTrackingServers",
                             page_params(NULL), on_list_page, &st->mlflow_find);
        outputs_settle(st);
}

/* The domain to report: the one named, or the only one. NULL after saying
 * why not. */
static const sm_domain *outputs_pick(const ctl_options *o, const sm_desired *d, const char *name,
                                     const char *dir)
{
        const sm_domain *dom = NULL;
        sm_buf names = {0};
        char *msg = NULL;

        if (name)
                dom = sm_desired_domain(d, name);
        else if (d->n_domains == 1)
                dom = &d->domains[0];
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
        static const struct {
                sm_role_kind kind;
                output_key key;
        } role_keys[] = {
                {SM_ROLE_DATA_SCIENTIST, OUT_DATA_SCIENTIST_ROLE},
                {SM_ROLE_LEAD_DATA_SCIENTIST, OUT_LEAD_ROLE},
                {SM_ROLE_EXECUTION, OUT_EXECUTION_ROLE},
        };
        _cleanup_(sm_daemon_config_freep) sm_daemon_config *config = NULL;
        _cleanup_(sm_manifest_load_freep) sm_manifest_load *load = NULL;
        outputs_state st = {.opts = o, .exit_code = EXIT_FAILURE};
        const char *name = NULL;
        ctl_aws a;
        int r;

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

        st.values[OUT_DOMAIN_NAME] = strdup(st.domain->name);
        if (st.domain->studio_bucket_name)
                st.values[OUT_BUCKET] = strdup(st.domain->studio_bucket_name);
        r = st.values[OUT_DOMAIN_NAME] && (!st.domain->studio_bucket_name || st.values[OUT_BUCKET])
                    ? 0
                    : -ENOMEM;
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(role_keys); i++) {
                st.roles[i] = (role_read){.st = &st, .key = role_keys[i].key};
                r = sm_role_name(st.domain->name, role_keys[i].kind, &st.roles[i].name);
        }
        if (r < 0)
                ctl_print_error(o, "InternalError", strerror(-r));
        else
                (void)ctl_aws_run(&a, o, config, outputs_ready, &st);

        for (size_t i = 0; i < ELEMENTSOF(st.roles); i++)
                free(st.roles[i].name);
        for (size_t i = 0; i < _OUT_MAX; i++)
                free(st.values[i]);
        free(st.error_code);
        free(st.error_message);
        return st.exit_code;
}
