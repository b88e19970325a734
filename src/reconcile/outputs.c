/* SPDX-License-Identifier: Apache-2.0 */
/* The original module's outputs, read live (outputs.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smstudio/macro.h"
#include "smstudio/outputs.h"
#include "smstudio/roles.h"
#include "smstudio/strbuf.h"

/* SageMaker List calls page at 10 by default; the API allows 100. */
#define OUTPUTS_PAGE_SIZE 100

static const char *const output_labels[_SM_OUTPUT_MAX] = {
        [SM_OUTPUT_DOMAIN_NAME] = "StudioDomainName",
        [SM_OUTPUT_EFS_ID] = "StudioDomainEFSId",
        [SM_OUTPUT_DOMAIN_ID] = "StudioDomainId",
        [SM_OUTPUT_DOMAIN_ARN] = "StudioDomainArn",
        [SM_OUTPUT_BUCKET] = "StudioBucketName",
        [SM_OUTPUT_DATA_SCIENTIST_ROLE] = "DataScientistRoleArn",
        [SM_OUTPUT_LEAD_ROLE] = "LeadDataScientistRoleArn",
        [SM_OUTPUT_EXECUTION_ROLE] = "SageMakerExecutionRoleArn",
        [SM_OUTPUT_MLFLOW] = "MlflowTrackingServerArn",
};

const char *sm_output_label(sm_output_key key)
{
        return key < _SM_OUTPUT_MAX ? output_labels[key] : NULL;
}

const sm_domain *sm_outputs_pick(const sm_desired *desired, const char *name)
{
        if (!desired)
                return NULL;
        if (name)
                return sm_desired_domain(desired, name);
        return desired->n_domains == 1 ? &desired->domains[0] : NULL;
}

/* One GetRole in flight. */
typedef struct role_read {
        sm_outputs_read *st;
        sm_output_key key;
        char *name;
        bool missing;
} role_read;

/* One paged List lookup in flight. */
typedef struct list_find {
        sm_outputs_read *st;
        const char *operation; /* "ListDomains" */
        const char *member;    /* "Domains" */
        const char *name_key;  /* "DomainName" */
        const char *name;
        void (*found)(sm_outputs_read *st, const json_t *summary);
        bool missing; /* the pages ended without it */
} list_find;

struct sm_outputs_read {
        sm_aws_client *client;
        char *domain_name;
        char *mlflow_name;
        role_read roles[3];
        list_find domain_find;
        list_find mlflow_find;
        char *values[_SM_OUTPUT_MAX];
        char *error_code; /* the first failure: one error, one answer */
        char *error_message;
        sm_aws_error aws_error;
        bool have_aws_error;
        sm_service_id aws_service;
        const char *aws_operation;
        int send_error; /* the first call that could not be sent */
        unsigned pending;
        bool started; /* done may run: sm_outputs_read_start() returned */
        sm_outputs_done_fn done;
        void *userdata;
};

static sm_outputs_read *outputs_free(sm_outputs_read *st)
{
        if (!st)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(st->roles); i++)
                free(st->roles[i].name);
        for (size_t i = 0; i < _SM_OUTPUT_MAX; i++)
                free(st->values[i]);
        free(st->domain_name);
        free(st->mlflow_name);
        free(st->error_code);
        free(st->error_message);
        sm_aws_error_clear(&st->aws_error);
        free(st);
        return NULL;
}

static void outputs_finish(sm_outputs_read *st)
{
        const char *missing[2 + ELEMENTSOF(st->roles)];
        char *texts[ELEMENTSOF(missing)] = {0};
        sm_outputs_result res = {.values = (const char *const *)st->values, .missing = missing};
        bool oom = false;

        if (!st->error_code) {
                /* Dependency order, whatever order the answers came in. */
                if (st->domain_find.missing)
                        texts[res.n_missing++] = sm_strf("domain %s", st->domain_name);
                for (size_t i = 0; i < ELEMENTSOF(st->roles); i++)
                        if (st->roles[i].missing)
                                texts[res.n_missing++] = sm_strf("IAM role %s", st->roles[i].name);
                if (st->mlflow_find.missing)
                        texts[res.n_missing++] =
                                sm_strf("MLflow tracking server %s", st->mlflow_name);
                for (size_t i = 0; i < res.n_missing; i++) {
                        missing[i] = texts[i];
                        oom = oom || !texts[i];
                }
        }
        if (st->error_code) {
                res.error_code = st->error_code;
                res.error_message = st->error_message;
                res.aws_error = st->have_aws_error ? &st->aws_error : NULL;
                res.aws_service = st->aws_service;
                res.aws_operation = st->aws_operation;
        } else if (oom) {
                res = (sm_outputs_result){.values = res.values,
                                          .error_code = "InternalError",
                                          .error_message = strerror(ENOMEM)};
        }
        if (st->done)
                st->done(&res, st->userdata);
        for (size_t i = 0; i < ELEMENTSOF(texts); i++)
                free(texts[i]);
}

/* One answer in: the last one reports and frees. */
static void outputs_settle(sm_outputs_read *st)
{
        if (--st->pending > 0 || !st->started)
                return;
        outputs_finish(st);
        outputs_free(st);
}

/* Keep the first failure only. message is taken (NULL: out of memory). */
static void outputs_fail(sm_outputs_read *st, const char *code, char *message)
{
        if (st->error_code) {
                free(message);
                return;
        }
        st->error_code = strdup(code);
        st->error_message = message;
        if (!st->error_code || !st->error_message) {
                free(st->error_code);
                free(st->error_message);
                st->error_code = strdup("InternalError");
                st->error_message = strdup(strerror(ENOMEM));
        }
}

static void outputs_fail_call(sm_outputs_read *st, sm_service_id service, const char *operation,
                              const sm_aws_error *e)
{
        if (st->error_code)
                return;
        outputs_fail(st, e->code ? e->code : "UnknownError",
                     strdup(e->message ? e->message : operation));
        if (sm_aws_error_copy(&st->aws_error, e) >= 0) {
                st->have_aws_error = true;
                st->aws_service = service;
                st->aws_operation = operation;
        }
}

/* Copy a string member of an answer into a value; a member AWS left out is
 * an answer we cannot use. */
static void outputs_take(sm_outputs_read *st, sm_output_key key, const json_t *obj,
                         const char *member, const char *operation)
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
                outputs_fail(st, "InternalError", strdup(strerror(ENOMEM)));
}

/* Send one call; on a local failure the answer is counted as in. */
static void outputs_call(sm_outputs_read *st, sm_service_id service, const char *operation,
                         json_t *params, sm_aws_done_fn done, void *userdata)
{
        int r;

        st->pending++;
        r = sm_aws_call(st->client, service, operation, params, done, userdata);
        if (r < 0) {
                if (!st->send_error)
                        st->send_error = r;
                outputs_fail(st, "InternalError",
                             sm_strf("cannot send %s: %s", operation, strerror(-r)));
                outputs_settle(st);
        }
}

static void on_describe_domain(const sm_aws_response *r, void *userdata)
{
        sm_outputs_read *st = userdata;

        if (r->error)
                outputs_fail_call(st, SM_SERVICE_SAGEMAKER, "DescribeDomain", r->error);
        else {
                outputs_take(st, SM_OUTPUT_DOMAIN_ARN, r->output, "DomainArn", "DescribeDomain");
                /* A domain still being created may not have its file system yet. */
                if (json_object_get(r->output, "HomeEfsFileSystemId"))
                        outputs_take(st, SM_OUTPUT_EFS_ID, r->output, "HomeEfsFileSystemId",
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
        sm_outputs_read *st = lf->st;
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

static void found_domain(sm_outputs_read *st, const json_t *summary)
{
        outputs_take(st, SM_OUTPUT_DOMAIN_ID, summary, "DomainId", "ListDomains");
        /* The summary has no file system id: DescribeDomain has. */
        if (st->values[SM_OUTPUT_DOMAIN_ID])
                outputs_call(st, SM_SERVICE_SAGEMAKER, "DescribeDomain",
                             json_pack("{s:s}", "DomainId", st->values[SM_OUTPUT_DOMAIN_ID]),
                             on_describe_domain, st);
}

static void found_mlflow(sm_outputs_read *st, const json_t *summary)
{
        outputs_take(st, SM_OUTPUT_MLFLOW, summary, "TrackingServerArn",
                     "ListMlflowTrackingServers");
}

static void on_get_role(const sm_aws_response *r, void *userdata)
{
        role_read *rr = userdata;
        sm_outputs_read *st = rr->st;

        if (r->error && r->error->code && streq(r->error->code, "NoSuchEntity"))
                rr->missing = true;
        else if (r->error)
                outputs_fail_call(st, SM_SERVICE_IAM, "GetRole", r->error);
        else
                outputs_take(st, rr->key, json_object_get(r->output, "Role"), "Arn", "GetRole");
        outputs_settle(st);
}

static int outputs_new(sm_aws_client *client, const sm_domain *domain, sm_outputs_read **ret)
{
        static const struct {
                sm_role_kind kind;
                sm_output_key key;
        } role_keys[] = {
                {SM_ROLE_DATA_SCIENTIST, SM_OUTPUT_DATA_SCIENTIST_ROLE},
                {SM_ROLE_LEAD_DATA_SCIENTIST, SM_OUTPUT_LEAD_ROLE},
                {SM_ROLE_EXECUTION, SM_OUTPUT_EXECUTION_ROLE},
        };
        sm_outputs_read *st;
        int r;

        _Static_assert(ELEMENTSOF(role_keys) == ELEMENTSOF(((sm_outputs_read *)0)->roles),
                       "a role read per role output");
        st = calloc(1, sizeof(*st));
        if (!st)
                return -ENOMEM;
        st->client = client;
        st->domain_name = strdup(domain->name);
        st->mlflow_name =
                domain->mlflow_server_name ? strdup(domain->mlflow_server_name) : strdup("mlflow");
        st->values[SM_OUTPUT_DOMAIN_NAME] = strdup(domain->name);
        if (domain->studio_bucket_name)
                st->values[SM_OUTPUT_BUCKET] = strdup(domain->studio_bucket_name);
        r = st->domain_name && st->mlflow_name && st->values[SM_OUTPUT_DOMAIN_NAME] &&
                            (!domain->studio_bucket_name || st->values[SM_OUTPUT_BUCKET])
                    ? 0
                    : -ENOMEM;
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(role_keys); i++) {
                st->roles[i] = (role_read){.st = st, .key = role_keys[i].key};
                r = sm_role_name(domain->name, role_keys[i].kind, &st->roles[i].name);
        }
        if (r < 0) {
                outputs_free(st);
                return r;
        }
        st->domain_find = (list_find){.st = st,
                                      .operation = "ListDomains",
                                      .member = "Domains",
                                      .name_key = "DomainName",
                                      .name = st->domain_name,
                                      .found = found_domain};
        st->mlflow_find = (list_find){.st = st,
                                      .operation = "ListMlflowTrackingServers",
                                      .member = "TrackingServerSummaries",
                                      .name_key = "TrackingServerName",
                                      .name = st->mlflow_name,
                                      .found = found_mlflow};
        *ret = st;
        return 0;
}

int sm_outputs_read_start(sm_aws_client *client, const sm_domain *domain, sm_outputs_done_fn done,
                          void *userdata, sm_outputs_read **ret)
{
        sm_outputs_read *st = NULL;
        int r;

        r = outputs_new(client, domain, &st);
        if (r < 0)
                return r;
        st->done = done;
        st->userdata = userdata;
        /* Held while the calls go out, so an early answer cannot end the read. */
        st->pending++;
        outputs_call(st, SM_SERVICE_SAGEMAKER, "ListDomains", page_params(NULL), on_list_page,
                     &st->domain_find);
        for (size_t i = 0; i < ELEMENTSOF(st->roles); i++)
                outputs_call(st, SM_SERVICE_IAM, "GetRole",
                             json_pack("{s:s}", "RoleName", st->roles[i].name), on_get_role,
                             &st->roles[i]);
        if (domain->mlflow_enabled)
                outputs_call(st, SM_SERVICE_SAGEMAKER, "ListMlflowTrackingServers",
                             page_params(NULL), on_list_page, &st->mlflow_find);
        if (--st->pending == 0) {
                /* Nothing went out: the caller hears it here, not from done. */
                r = st->send_error ? st->send_error : -ENOMEM;
                outputs_free(st);
                return r;
        }
        st->started = true;
        if (ret)
                *ret = st;
        return 0;
}

void sm_outputs_read_abandon(sm_outputs_read *read)
{
        if (read)
                read->done = NULL;
}
