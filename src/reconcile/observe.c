/* SPDX-License-Identifier: Apache-2.0 */
/* The observer (see observe.h): one observation is a queue of AWS calls run
 * at most max_in_flight at a time on the client's loop. List pages add
 * resources to the model and queue the Describe / ListTags calls the cache
 * cannot answer; the observation ends when the queue is empty and nothing
 * is in flight, which is the only place the model is sorted, the cache
 * rebuilt and done called.
 *
 * Failure rule: a List that fails marks its kind incomplete and the rest
 * goes on; a Describe or ListTags that fails leaves that resource without
 * describe or tags. Only running out of memory fails the observation. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smstudio/iam.h"
#include "smstudio/macro.h"
#include "smstudio/fileio.h"
#include "smstudio/observe.h"
#include "smstudio/protocol.h"
#include "smstudio/strbuf.h"
#include "smstudio/timeutil.h"

#define DEFAULT_MAX_IN_FLIGHT 8
/* SageMaker's largest page (its default is 10: always ask for 100). */
#define SM_PAGE_SIZE 100
/* Service Catalog's page limits differ per operation. */
#define SHARES_PAGE_SIZE     100
#define PRINCIPALS_PAGE_SIZE 20
#define CACHE_VERSION        1
#define PORTFOLIO_PROVIDER   "Amazon SageMaker"

struct sm_observe_cache {
        json_t *entries; /* key -> {kind, last_modified, status, describe?, tags?} */
};

typedef enum call_class {
        CALL_LIST,
        CALL_DESCRIBE,
        CALL_OTHER,
} call_class;

typedef struct observation observation;
typedef struct op op;

/* Handle one answer; true when the op was queued again (next page). */
typedef bool (*op_handler)(observation *ob, op *p, const sm_aws_response *r);

struct op {
        op *next;
        observation *ob;
        sm_service_id service;
        const char *operation; /* static */
        json_t *params;        /* a copy is sent: pages only change the token */
        op_handler handle;
        call_class cls;
        const char *expected_error; /* an answer that is not a failure: "absent" */
        int kind;                   /* sm_resource_kind of list ops */
        size_t index;               /* resource or role the op reads for */
        bool then_tags;             /* Describe: read the tags next (the ARN comes with it) */
        char *text;                 /* role name, domain id: what the handler needs */
};

struct observation {
        sm_aws_client *client;
        sm_observe_cache *cache;
        const sm_desired *desired;
        char *instance;
        bool full_sweep;
        unsigned max_in_flight;
        sm_observe_done_fn done;
        void *userdata;

        sm_observed *o;
        sm_observe_stats stats;
        op *head, *tail;
        unsigned in_flight;
        int error;      /* -ENOMEM seen: the observation fails */
        bool starting;  /* inside sm_observe_start: never finish there */
        bool cancelled; /* the client is going away: send nothing more */
        bool finished;  /* done ran or is running */
        bool *gone;     /* per resource: Describe said ResourceNotFound */
        size_t gone_cap;
        bool portfolio_failed;
};

/* ---- small helpers ------------------------------------------------------ */

static int dup_to(char **dst, const char *s)
{
        if (!s) {
                *dst = NULL;
                return 0;
        }
        *dst = strdup(s);
        return *dst ? 0 : -ENOMEM;
}

static void oom(observation *ob)
{
        if (ob->error == 0)
                ob->error = -ENOMEM;
}

/* Epoch seconds of a JSON 1.1 timestamp: a number, or (from other servers)
 * a numeric or ISO 8601 string; 0 when absent or unreadable. */
static double time_of(const json_t *v)
{
        const char *s;
        char *end;
        double d;
        int64_t t;

        if (json_is_number(v))
                return json_number_value(v);
        s = json_string_value(v);
        if (!s || !*s)
                return 0;
        d = strtod(s, &end);
        if (end != s && *end == '\0')
                return d;
        if (sm_parse_iso8601(s, &t) == 0)
                return (double)t;
        return 0;
}

static const char *str_of(const json_t *obj, const char *key)
{
        const char *s = json_string_value(json_object_get(obj, key));

        return isempty(s) ? NULL : s;
}

static bool response_is(const sm_aws_response *r, const char *code)
{
        return r->error && r->error->code && code && streq(r->error->code, code);
}

static int tags_append(sm_tags *t, const char *key, const char *value)
{
        sm_tag *items;
        sm_tag tag = {0};

        if (!key)
                return 0;
        if (dup_to(&tag.key, key) < 0 || dup_to(&tag.value, value ? value : "") < 0) {
                free(tag.key);
                return -ENOMEM;
        }
        items = realloc(t->items, (t->n + 1) * sizeof(*items));
        if (!items) {
                free(tag.key);
                free(tag.value);
                return -ENOMEM;
        }
        t->items = items;
        t->items[t->n++] = tag;
        return 0;
}

static void tags_clear(sm_tags *t)
{
        for (size_t i = 0; i < t->n; i++) {
                free(t->items[i].key);
                free(t->items[i].value);
        }
        free(t->items);
        *t = (sm_tags){0};
}

/* Append a [{Key, Value}] list (JSON 1.1 or a decoded Query list). */
static int tags_add_list(sm_tags *t, json_t *list)
{
        json_t *arr = sm_query_list(list), *item;
        size_t i;
        int r = 0;

        if (!arr)
                return -ENOMEM;
        json_array_foreach(arr, i, item)
        {
                r = tags_append(t, str_of(item, "Key"),
                                json_string_value(json_object_get(item, "Value")));
                if (r < 0)
                        break;
        }
        json_decref(arr);
        return r;
}

static json_t *tags_to_json(const sm_tags *t)
{
        json_t *arr = json_array();

        if (!arr)
                return NULL;
        for (size_t i = 0; i < t->n; i++)
                if (json_array_append_new(arr, json_pack("{s:s,s:s}", "Key", t->items[i].key,
                                                         "Value", t->items[i].value)) < 0) {
                        json_decref(arr);
                        return NULL;
                }
        return arr;
}

/* ---- the queue ---------------------------------------------------------- */

static op *op_free(op *p)
{
        if (!p)
                return NULL;
        json_decref(p->params);
        free(p->text);
        free(p);
        return NULL;
}

/* A new op, queued; params is stolen. On failure the observation fails. */
static op *queue_op(observation *ob, sm_service_id svc, const char *operation, call_class cls,
                    op_handler handle, json_t *params)
{
        op *p;

        if (!params) {
                oom(ob);
                return NULL;
        }
        p = calloc(1, sizeof(*p));
        if (!p) {
                json_decref(params);
                oom(ob);
                return NULL;
        }
        *p = (op){.ob = ob,
                  .service = svc,
                  .operation = operation,
                  .params = params,
                  .handle = handle,
                  .cls = cls};
        if (ob->tail)
                ob->tail->next = p;
        else
                ob->head = p;
        ob->tail = p;
        return p;
}

static void requeue(observation *ob, op *p)
{
        p->next = NULL;
        if (ob->tail)
                ob->tail->next = p;
        else
                ob->head = p;
        ob->tail = p;
}

/* Queue the next page of p when the answer names one (token member out,
 * parameter in); true when queued. A server repeating the token it was
 * given would page forever: that counts as a failed list. */
static bool next_page(observation *ob, op *p, const json_t *output, const char *out_member,
                      const char *in_member, bool *ret_bad)
{
        const char *token = str_of(output, out_member);
        const char *prev = str_of(p->params, in_member);

        *ret_bad = false;
        if (!token)
                return false;
        if (prev && streq(prev, token)) {
                *ret_bad = true;
                return false;
        }
        if (json_object_set_new(p->params, in_member, json_string(token)) < 0) {
                oom(ob);
                return false;
        }
        requeue(ob, p);
        return true;
}

/* IAM pages: IsTruncated "true" and a Marker. */
static bool next_iam_page(observation *ob, op *p, const json_t *output, bool *ret_bad)
{
        const char *truncated = str_of(output, "IsTruncated");

        *ret_bad = false;
        if (!truncated || !streq(truncated, "true"))
                return false;
        if (!str_of(output, "Marker")) {
                *ret_bad = true;
                return false;
        }
        return next_page(ob, p, output, "Marker", "Marker", ret_bad);
}

static void finish(observation *ob);
static void on_call_done(const sm_aws_response *r, void *userdata);

static void count_call(observation *ob, const op *p)
{
        switch (p->cls) {
        case CALL_LIST:
                ob->stats.list_calls++;
                break;
        case CALL_DESCRIBE:
                ob->stats.describe_calls++;
                break;
        case CALL_OTHER:
                ob->stats.other_calls++;
                break;
        }
}

static void run_handler(observation *ob, op *p, const sm_aws_response *r)
{
        if (r->error && !response_is(r, p->expected_error))
                ob->stats.failed_calls++;
        if (!p->handle(ob, p, r))
                op_free(p);
}

static void pump(observation *ob)
{
        while (ob->head && ob->in_flight < ob->max_in_flight) {
                op *p = ob->head;
                json_t *params;
                int r;

                ob->head = p->next;
                if (!ob->head)
                        ob->tail = NULL;
                p->next = NULL;
                if (ob->cancelled) {
                        /* Unsent, so not counted; its kind is marked as for a failure. */
                        sm_aws_error err = {.code = (char *)"Cancelled"};
                        sm_aws_response resp = {.error = &err};

                        run_handler(ob, p, &resp);
                        continue;
                }
                count_call(ob, p);
                params = json_deep_copy(p->params);
                r = params ? sm_aws_call(ob->client, p->service, p->operation, params, on_call_done,
                                         p)
                           : -ENOMEM;
                if (r < 0) {
                        /* Refused before anything was sent: the handler sees
                         * it as any failed call, so its kind is marked. */
                        sm_aws_error err = {.code = (char *)"LocalError"};
                        sm_aws_response resp = {.error = &err};

                        if (r == -ENOMEM)
                                oom(ob);
                        run_handler(ob, p, &resp);
                        continue;
                }
                ob->in_flight++;
        }
        if (!ob->head && ob->in_flight == 0 && !ob->starting && !ob->finished)
                finish(ob);
}

static void on_call_done(const sm_aws_response *r, void *userdata)
{
        op *p = userdata;
        observation *ob = p->ob;

        ob->in_flight--;
        /* sm_aws_client_free() cancels: calling it again from here would
         * use a client on its way out. */
        if (response_is(r, "Cancelled"))
                ob->cancelled = true;
        run_handler(ob, p, r);
        pump(ob);
}

/* ---- resources and the cache -------------------------------------------- */

static const char *const describe_ops[_SM_RESOURCE_KIND_MAX] = {
        [SM_RESOURCE_DOMAIN] = "DescribeDomain",
        [SM_RESOURCE_USER_PROFILE] = "DescribeUserProfile",
        [SM_RESOURCE_SPACE] = "DescribeSpace",
        [SM_RESOURCE_APP] = "DescribeApp",
        [SM_RESOURCE_MLFLOW] = "DescribeMlflowTrackingServer",
        /* Lifecycle configs are immutable and content-addressed by name:
         * their List entry says all the planner needs. */
        [SM_RESOURCE_LIFECYCLE_CONFIG] = NULL,
};

static const char *const arn_members[_SM_RESOURCE_KIND_MAX] = {
        [SM_RESOURCE_DOMAIN] = "DomainArn",
        [SM_RESOURCE_USER_PROFILE] = "UserProfileArn",
        [SM_RESOURCE_SPACE] = "SpaceArn",
        [SM_RESOURCE_APP] = "AppArn",
        [SM_RESOURCE_MLFLOW] = "TrackingServerArn",
        [SM_RESOURCE_LIFECYCLE_CONFIG] = "StudioLifecycleConfigArn",
};

/* The cache key of a resource (observe.h). NULL on -ENOMEM. */
static char *cache_key(const sm_observed_resource *res)
{
        switch (res->kind) {
        case SM_RESOURCE_USER_PROFILE:
        case SM_RESOURCE_SPACE:
                return sm_strf("%s:%s/%s", sm_resource_kind_to_string(res->kind),
                               res->domain_id ? res->domain_id : "", res->name);
        case SM_RESOURCE_APP:
                return sm_strf("app:%s/%s:%s/%s/%s", res->domain_id ? res->domain_id : "",
                               res->app_space ? "s" : "u",
                               res->app_space
                                       ? res->app_space
                                       : (res->app_user_profile ? res->app_user_profile : ""),
                               res->app_type ? res->app_type : "", res->name);
        default:
                if (res->arn)
                        return strdup(res->arn);
                return sm_strf("%s:%s", sm_resource_kind_to_string(res->kind), res->name);
        }
}

static bool wants_tags(const sm_observed_resource *res)
{
        /* AWS forgets a Deleted app's tags and answers for its ARN as for an
         * unknown resource: asking would only fail. */
        return !(res->kind == SM_RESOURCE_APP && streq_ptr(res->status, "Deleted"));
}

static bool on_describe(observation *ob, op *p, const sm_aws_response *r);
static bool on_list_tags(observation *ob, op *p, const sm_aws_response *r);

static void queue_list_tags(observation *ob, size_t index)
{
        op *p = queue_op(ob, SM_SERVICE_SAGEMAKER, "ListTags", CALL_OTHER, on_list_tags,
                         json_pack("{s:s,s:i}", "ResourceArn", ob->o->resources[index].arn,
                                   "MaxResults", SM_PAGE_SIZE));

        if (p)
                p->index = index;
}

static json_t *describe_params(const sm_observed_resource *res)
{
        json_t *params;

        switch (res->kind) {
        case SM_RESOURCE_DOMAIN:
                return json_pack("{s:s}", "DomainId", res->domain_id);
        case SM_RESOURCE_USER_PROFILE:
                return json_pack("{s:s,s:s}", "DomainId", res->domain_id, "UserProfileName",
                                 res->name);
        case SM_RESOURCE_SPACE:
                return json_pack("{s:s,s:s}", "DomainId", res->domain_id, "SpaceName", res->name);
        case SM_RESOURCE_APP:
                params = json_pack("{s:s,s:s,s:s}", "DomainId", res->domain_id, "AppType",
                                   res->app_type ? res->app_type : "", "AppName", res->name);
                if (!params)
                        return NULL;
                /* Exactly one owner: a space's app when the list names a space. */
                if (json_object_set_new(params, res->app_space ? "SpaceName" : "UserProfileName",
                                        json_string(res->app_space ? res->app_space
                                                                   : res->app_user_profile)) < 0) {
                        json_decref(params);
                        return NULL;
                }
                return params;
        case SM_RESOURCE_MLFLOW:
                return json_pack("{s:s}", "TrackingServerName", res->name);
        default:
                return NULL;
        }
}

/* A List entry was added at index: take what the cache has that is still
 * current, and queue the reads for the rest. */
static void consider(observation *ob, size_t index)
{
        sm_observed_resource *res = &ob->o->resources[index];
        _cleanup_free_ char *key = cache_key(res);
        json_t *entry = NULL;
        bool current = false, need_describe, need_tags;

        if (!key) {
                oom(ob);
                return;
        }
        if (!ob->full_sweep)
                entry = json_object_get(ob->cache->entries, key);
        if (entry) {
                json_t *lm = json_object_get(entry, "last_modified");

                current =
                        json_is_number(lm) && json_number_value(lm) == res->last_modified &&
                        streq_ptr(json_string_value(json_object_get(entry, "status")), res->status);
        }
        if (current) {
                json_t *d = json_object_get(entry, "describe");
                json_t *t = json_object_get(entry, "tags");

                if (json_is_object(d)) {
                        res->describe = json_incref(d);
                        if (!res->arn && arn_members[res->kind] &&
                            dup_to(&res->arn, str_of(d, arn_members[res->kind])) < 0) {
                                oom(ob);
                                return;
                        }
                }
                if (json_is_array(t)) {
                        if (tags_add_list(&res->tags, t) < 0) {
                                oom(ob);
                                return;
                        }
                        res->tags_known = true;
                }
        }
        need_describe = describe_ops[res->kind] && !res->describe;
        need_tags = !res->tags_known && wants_tags(res);
        if (need_describe) {
                op *p = queue_op(ob, SM_SERVICE_SAGEMAKER, describe_ops[res->kind], CALL_DESCRIBE,
                                 on_describe, describe_params(res));

                if (!p)
                        return;
                p->index = index;
                p->expected_error = "ResourceNotFound";
                /* Profiles, spaces and apps learn their ARN from Describe. */
                p->then_tags = need_tags && !res->arn;
                if (p->then_tags)
                        return;
        }
        if (need_tags && res->arn)
                queue_list_tags(ob, index);
}

/* Add a resource from a List entry; its index through ret. */
static int add_resource(observation *ob, sm_observed_resource *res, size_t *ret)
{
        size_t n = ob->o->n_resources;
        int r;

        if (n >= ob->gone_cap) {
                size_t cap = ob->gone_cap ? ob->gone_cap * 2 : 64;
                bool *g = realloc(ob->gone, cap * sizeof(*g));

                if (!g)
                        return -ENOMEM;
                memset(g + ob->gone_cap, 0, (cap - ob->gone_cap) * sizeof(*g));
                ob->gone = g;
                ob->gone_cap = cap;
        }
        r = sm_observed_add_resource(ob->o, res);
        if (r < 0)
                return r;
        *ret = n;
        return 0;
}

/* One List entry of kind: the fields every kind has, by member names. */
static void list_entry(observation *ob, sm_resource_kind kind, const json_t *item,
                       const char *domain_id)
{
        sm_observed_resource res = {.kind = kind};
        const char *name, *status, *lm;
        size_t index;

        switch (kind) {
        case SM_RESOURCE_DOMAIN:
                name = "DomainName";
                domain_id = str_of(item, "DomainId");
                break;
        case SM_RESOURCE_USER_PROFILE:
                name = "UserProfileName";
                break;
        case SM_RESOURCE_SPACE:
                name = "SpaceName";
                break;
        case SM_RESOURCE_APP:
                name = "AppName";
                break;
        case SM_RESOURCE_MLFLOW:
                name = "TrackingServerName";
                break;
        default:
                name = "StudioLifecycleConfigName";
                break;
        }
        status = kind == SM_RESOURCE_MLFLOW ? "TrackingServerStatus" : "Status";
        /* AppDetails has no LastModifiedTime: an app is re-read when it is
         * created again (CreationTime) or its Status moves. */
        lm = kind == SM_RESOURCE_APP ? "CreationTime" : "LastModifiedTime";
        /* An entry without what keys it or names it in a Describe is
         * skipped: a malformed answer must not look like a failed List. */
        if (!str_of(item, name) ||
            (!domain_id && kind != SM_RESOURCE_MLFLOW && kind != SM_RESOURCE_LIFECYCLE_CONFIG))
                return;
        if (kind == SM_RESOURCE_APP &&
            (!str_of(item, "AppType") ||
             (!str_of(item, "SpaceName") && !str_of(item, "UserProfileName"))))
                return;
        if (dup_to(&res.name, str_of(item, name)) < 0 || dup_to(&res.domain_id, domain_id) < 0 ||
            dup_to(&res.status, str_of(item, status)) < 0 ||
            dup_to(&res.arn, arn_members[kind] ? str_of(item, arn_members[kind]) : NULL) < 0)
                goto fail;
        res.last_modified = time_of(json_object_get(item, lm));
        if (kind == SM_RESOURCE_APP) {
                if (dup_to(&res.app_user_profile, str_of(item, "UserProfileName")) < 0 ||
                    dup_to(&res.app_space, str_of(item, "SpaceName")) < 0 ||
                    dup_to(&res.app_type, str_of(item, "AppType")) < 0)
                        goto fail;
                /* A space's app may name the space's owner too; it belongs to the space. */
                if (res.app_space) {
                        free(res.app_user_profile);
                        res.app_user_profile = NULL;
                }
        }
        if (add_resource(ob, &res, &index) < 0)
                goto fail;
        consider(ob, index);
        return;
fail:
        sm_observed_resource_done(&res);
        oom(ob);
}

static bool on_describe(observation *ob, op *p, const sm_aws_response *r)
{
        sm_observed_resource *res = &ob->o->resources[p->index];

        if (response_is(r, "ResourceNotFound")) {
                /* Gone between the List and now (a delete finishing). */
                ob->gone[p->index] = true;
                return false;
        }
        if (r->error)
                return false;
        json_decref(res->describe);
        res->describe = json_incref(r->output);
        if (!res->arn && dup_to(&res->arn, str_of(r->output, arn_members[res->kind])) < 0) {
                oom(ob);
                return false;
        }
        if (p->then_tags && res->arn)
                queue_list_tags(ob, p->index);
        return false;
}

static bool on_list_tags(observation *ob, op *p, const sm_aws_response *r)
{
        sm_observed_resource *res = &ob->o->resources[p->index];
        bool bad;

        if (r->error) {
                tags_clear(&res->tags);
                return false;
        }
        if (tags_add_list(&res->tags, json_object_get(r->output, "Tags")) < 0) {
                oom(ob);
                return false;
        }
        if (next_page(ob, p, r->output, "NextToken", "NextToken", &bad))
                return true;
        if (bad)
                tags_clear(&res->tags);
        else
                res->tags_known = true;
        return false;
}

static void mark_incomplete(observation *ob, int kind)
{
        ob->o->incomplete[kind] = true;
        /* Children of domains not listed cannot have been listed either. */
        if (kind == SM_RESOURCE_DOMAIN) {
                ob->o->incomplete[SM_RESOURCE_USER_PROFILE] = true;
                ob->o->incomplete[SM_RESOURCE_SPACE] = true;
                ob->o->incomplete[SM_RESOURCE_APP] = true;
        }
}

static const char *const list_members[_SM_RESOURCE_KIND_MAX] = {
        [SM_RESOURCE_DOMAIN] = "Domains",
        [SM_RESOURCE_USER_PROFILE] = "UserProfiles",
        [SM_RESOURCE_SPACE] = "Spaces",
        [SM_RESOURCE_APP] = "Apps",
        [SM_RESOURCE_MLFLOW] = "TrackingServerSummaries",
        [SM_RESOURCE_LIFECYCLE_CONFIG] = "StudioLifecycleConfigs",
};

static bool on_list(observation *ob, op *p, const sm_aws_response *r);

static void queue_list(observation *ob, sm_resource_kind kind, const char *operation,
                       const char *domain_id)
{
        json_t *params = json_pack("{s:i}", "MaxResults", SM_PAGE_SIZE);
        op *p;

        if (params && domain_id &&
            json_object_set_new(params, "DomainIdEquals", json_string(domain_id)) < 0) {
                json_decref(params);
                params = NULL;
        }
        p = queue_op(ob, SM_SERVICE_SAGEMAKER, operation, CALL_LIST, on_list, params);
        if (!p) {
                mark_incomplete(ob, kind);
                return;
        }
        p->kind = kind;
        if (dup_to(&p->text, domain_id) < 0)
                oom(ob);
}

static bool domain_desired(const observation *ob, const char *name)
{
        return ob->desired && name && sm_desired_domain(ob->desired, name);
}

static bool on_list(observation *ob, op *p, const sm_aws_response *r)
{
        json_t *items, *item;
        size_t i;
        bool bad;

        if (r->error) {
                mark_incomplete(ob, p->kind);
                return false;
        }
        items = json_object_get(r->output, list_members[p->kind]);
        json_array_foreach(items, i, item)
        {
                list_entry(ob, p->kind, item, p->text);
                if (p->kind == SM_RESOURCE_DOMAIN &&
                    domain_desired(ob, str_of(item, "DomainName")) && str_of(item, "DomainId")) {
                        const char *id = str_of(item, "DomainId");

                        queue_list(ob, SM_RESOURCE_USER_PROFILE, "ListUserProfiles", id);
                        queue_list(ob, SM_RESOURCE_SPACE, "ListSpaces", id);
                        queue_list(ob, SM_RESOURCE_APP, "ListApps", id);
                }
        }
        if (next_page(ob, p, r->output, "NextToken", "NextToken", &bad))
                return true;
        if (bad)
                mark_incomplete(ob, p->kind);
        return false;
}

/* ---- IAM ---------------------------------------------------------------- */

static bool on_get_role(observation *ob, op *p, const sm_aws_response *r);
static bool on_attached(observation *ob, op *p, const sm_aws_response *r);
static bool on_role_policies(observation *ob, op *p, const sm_aws_response *r);
static bool on_role_policy(observation *ob, op *p, const sm_aws_response *r);
static bool on_role_tags(observation *ob, op *p, const sm_aws_response *r);

static op *queue_role_op(observation *ob, const char *operation, op_handler h, const char *role,
                         size_t index)
{
        op *p = queue_op(ob, SM_SERVICE_IAM, operation, CALL_OTHER, h,
                         json_pack("{s:s}", "RoleName", role));

        if (!p) {
                ob->o->roles_incomplete = true;
                return NULL;
        }
        p->index = index;
        if (dup_to(&p->text, role) < 0)
                oom(ob);
        return p;
}

static void role_failed(observation *ob, const sm_aws_response *r)
{
        ob->o->roles_incomplete = true;
}

static bool on_get_role(observation *ob, op *p, const sm_aws_response *r)
{
        sm_observed_role role = {0};
        json_t *out, *tags, *boundary;
        const char *doc;
        size_t index;

        if (response_is(r, "NoSuchEntity"))
                return false;
        if (r->error) {
                role_failed(ob, r);
                return false;
        }
        out = json_object_get(r->output, "Role");
        if (dup_to(&role.name, str_of(out, "RoleName") ? str_of(out, "RoleName") : p->text) < 0 ||
            dup_to(&role.arn, str_of(out, "Arn")) < 0 ||
            dup_to(&role.path, str_of(out, "Path") ? str_of(out, "Path") : "/") < 0)
                goto oom;
        boundary = json_object_get(out, "PermissionsBoundary");
        if (dup_to(&role.permissions_boundary_arn, str_of(boundary, "PermissionsBoundaryArn")) < 0)
                goto oom;
        doc = str_of(out, "AssumeRolePolicyDocument");
        if (!doc || sm_iam_policy_document_parse(doc, &role.trust_policy) < 0)
                /* Unreadable: the planner must not rewrite a trust policy it could not read. */
                ob->o->roles_incomplete = true;
        /* GetRole carries the role's tags (IAM caps them at 50, so never
         * paged): that saves a ListRoleTags per role every pass. A server
         * that leaves the member out is asked with ListRoleTags. */
        tags = json_object_get(out, "Tags");
        if (tags && tags_add_list(&role.tags, tags) < 0)
                goto oom;
        index = ob->o->n_roles;
        if (sm_observed_add_role(ob->o, &role) < 0)
                goto oom;
        queue_role_op(ob, "ListAttachedRolePolicies", on_attached, p->text, index);
        queue_role_op(ob, "ListRolePolicies", on_role_policies, p->text, index);
        if (!tags)
                queue_role_op(ob, "ListRoleTags", on_role_tags, p->text, index);
        return false;
oom:
        sm_observed_role_done(&role);
        oom(ob);
        return false;
}

static bool on_attached(observation *ob, op *p, const sm_aws_response *r)
{
        sm_observed_role *role = &ob->o->roles[p->index];
        json_t *arr, *item;
        size_t i;
        bool bad;

        if (r->error) {
                role_failed(ob, r);
                return false;
        }
        arr = sm_query_list(json_object_get(r->output, "AttachedPolicies"));
        if (!arr) {
                oom(ob);
                return false;
        }
        json_array_foreach(arr, i, item)
        {
                const char *arn = str_of(item, "PolicyArn");
                char **v;

                if (!arn)
                        continue;
                v = realloc(role->managed_policy_arns, (role->n_managed + 2) * sizeof(*v));
                if (!v) {
                        oom(ob);
                        break;
                }
                role->managed_policy_arns = v;
                v[role->n_managed] = strdup(arn);
                if (!v[role->n_managed]) {
                        oom(ob);
                        break;
                }
                v[++role->n_managed] = NULL;
        }
        json_decref(arr);
        if (next_iam_page(ob, p, r->output, &bad))
                return true;
        if (bad)
                role_failed(ob, r);
        return false;
}

static bool on_role_policies(observation *ob, op *p, const sm_aws_response *r)
{
        json_t *arr, *item;
        size_t i;
        bool bad;

        if (r->error) {
                role_failed(ob, r);
                return false;
        }
        arr = sm_query_list(json_object_get(r->output, "PolicyNames"));
        if (!arr) {
                oom(ob);
                return false;
        }
        json_array_foreach(arr, i, item)
        {
                const char *name = json_string_value(item);
                op *g;

                if (isempty(name))
                        continue;
                g = queue_op(ob, SM_SERVICE_IAM, "GetRolePolicy", CALL_OTHER, on_role_policy,
                             json_pack("{s:s,s:s}", "RoleName", p->text, "PolicyName", name));
                if (!g) {
                        ob->o->roles_incomplete = true;
                        break;
                }
                g->index = p->index;
                g->expected_error = "NoSuchEntity";
        }
        json_decref(arr);
        if (next_iam_page(ob, p, r->output, &bad))
                return true;
        if (bad)
                role_failed(ob, r);
        return false;
}

static bool on_role_policy(observation *ob, op *p, const sm_aws_response *r)
{
        sm_observed_role *role = &ob->o->roles[p->index];
        sm_inline_policy pol = {0};
        sm_inline_policy *v;
        const char *doc;

        if (response_is(r, "NoSuchEntity"))
                return false; /* deleted since it was listed */
        if (r->error) {
                role_failed(ob, r);
                return false;
        }
        doc = str_of(r->output, "PolicyDocument");
        if (!doc || sm_iam_policy_document_parse(doc, &pol.document) < 0) {
                ob->o->roles_incomplete = true;
                return false;
        }
        if (dup_to(&pol.name, str_of(p->params, "PolicyName")) < 0)
                goto oom;
        v = realloc(role->inline_policies, (role->n_inline + 1) * sizeof(*v));
        if (!v)
                goto oom;
        role->inline_policies = v;
        v[role->n_inline++] = pol;
        return false;
oom:
        free(pol.name);
        json_decref(pol.document);
        oom(ob);
        return false;
}

static bool on_role_tags(observation *ob, op *p, const sm_aws_response *r)
{
        sm_observed_role *role = &ob->o->roles[p->index];
        bool bad;

        if (r->error) {
                role_failed(ob, r);
                return false;
        }
        if (tags_add_list(&role->tags, json_object_get(r->output, "Tags")) < 0) {
                oom(ob);
                return false;
        }
        if (next_iam_page(ob, p, r->output, &bad))
                return true;
        if (bad)
                role_failed(ob, r);
        return false;
}

static void queue_roles(observation *ob)
{
        if (!ob->desired)
                return;
        for (size_t i = 0; i < ob->desired->n_domains; i++) {
                /* Every kind, MLflow's too when the manifest has none: a
                 * role left from an earlier manifest must be seen to be swept. */
                for (int k = 0; k < _SM_ROLE_KIND_MAX; k++) {
                        _cleanup_free_ char *name = NULL;
                        op *p;
                        int r = sm_role_name(ob->desired->domains[i].name, k, &name);

                        if (r == -ENOMEM) {
                                oom(ob);
                                return;
                        }
                        if (r < 0)
                                continue; /* not a SageMaker name: the manifest checks say so */
                        p = queue_role_op(ob, "GetRole", on_get_role, name, 0);
                        if (p)
                                p->expected_error = "NoSuchEntity";
                }
        }
}

/* ---- STS and the portfolio ------------------------------------------------ */

static bool on_identity(observation *ob, op *p, const sm_aws_response *r)
{
        const char *account, *arn;

        if (r->error)
                return false;
        account = str_of(r->output, "Account");
        arn = str_of(r->output, "Arn");
        if (account && !ob->o->account_id && dup_to(&ob->o->account_id, account) < 0)
                oom(ob);
        /* "arn:<partition>:sts::<account>:..." */
        if (arn && strncmp(arn, "arn:", 4) == 0) {
                const char *start = arn + 4;
                size_t len = strcspn(start, ":");

                if (len > 0 && start[len] == ':') {
                        char *part = strndup(start, len);

                        if (!part) {
                                oom(ob);
                                return false;
                        }
                        free(ob->o->partition);
                        ob->o->partition = part;
                }
        }
        return false;
}

static bool on_principals(observation *ob, op *p, const sm_aws_response *r)
{
        sm_observed_portfolio *pf = &ob->o->portfolio;
        json_t *item;
        size_t i;
        bool bad;

        if (r->error) {
                ob->portfolio_failed = true;
                return false;
        }
        json_array_foreach(json_object_get(r->output, "Principals"), i, item)
        {
                const char *arn = str_of(item, "PrincipalARN");
                char **v;

                if (!arn)
                        continue;
                v = realloc(pf->principal_arns, (pf->n_principals + 2) * sizeof(*v));
                if (!v) {
                        oom(ob);
                        return false;
                }
                pf->principal_arns = v;
                v[pf->n_principals] = strdup(arn);
                if (!v[pf->n_principals]) {
                        oom(ob);
                        return false;
                }
                v[++pf->n_principals] = NULL;
        }
        if (next_page(ob, p, r->output, "NextPageToken", "PageToken", &bad))
                return true;
        if (bad)
                ob->portfolio_failed = true;
        return false;
}

static bool on_shares(observation *ob, op *p, const sm_aws_response *r)
{
        sm_observed_portfolio *pf = &ob->o->portfolio;
        json_t *item;
        size_t i;
        bool bad;

        if (r->error) {
                ob->portfolio_failed = true;
                return false;
        }
        json_array_foreach(json_object_get(r->output, "PortfolioDetails"), i, item)
        {
                if (!streq_ptr(str_of(item, "ProviderName"), PORTFOLIO_PROVIDER) ||
                    !str_of(item, "Id"))
                        continue;
                if (dup_to(&pf->portfolio_id, str_of(item, "Id")) < 0) {
                        oom(ob);
                        return false;
                }
                queue_op(ob, SM_SERVICE_SERVICECATALOG, "ListPrincipalsForPortfolio", CALL_OTHER,
                         on_principals,
                         json_pack("{s:s,s:i}", "PortfolioId", pf->portfolio_id, "PageSize",
                                   PRINCIPALS_PAGE_SIZE));
                return false;
        }
        if (next_page(ob, p, r->output, "NextPageToken", "PageToken", &bad))
                return true;
        if (bad)
                ob->portfolio_failed = true;
        return false;
}

static bool on_portfolio_status(observation *ob, op *p, const sm_aws_response *r)
{
        if (r->error) {
                ob->portfolio_failed = true;
                return false;
        }
        ob->o->portfolio.status_known = true;
        ob->o->portfolio.enabled = streq_ptr(str_of(r->output, "Status"), "Enabled");
        return false;
}

static bool projects_wanted(const observation *ob)
{
        if (!ob->desired)
                return false;
        for (size_t i = 0; i < ob->desired->n_domains; i++)
                if (ob->desired->domains[i].enable_custom_sagemaker_projects)
                        return true;
        return false;
}

/* ---- the end ---------------------------------------------------------- */

static int strp_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int inline_cmp(const void *a, const void *b)
{
        return strcmp(((const sm_inline_policy *)a)->name, ((const sm_inline_policy *)b)->name);
}

/* Lists are sorted and NULL-terminated, never NULL. */
static int strv_finish(char ***v, size_t n)
{
        if (!*v) {
                *v = calloc(1, sizeof(char *));
                return *v ? 0 : -ENOMEM;
        }
        qsort(*v, n, sizeof(char *), strp_cmp);
        return 0;
}

static void drop_gone(observation *ob)
{
        sm_observed *o = ob->o;
        size_t j = 0;

        for (size_t i = 0; i < o->n_resources; i++) {
                if (ob->gone[i]) {
                        sm_observed_resource_done(&o->resources[i]);
                        continue;
                }
                if (i != j)
                        o->resources[j] = o->resources[i];
                j++;
        }
        o->n_resources = j;
}

static json_t *cache_entry(const sm_observed_resource *res)
{
        json_t *e = json_pack("{s:s,s:f}", "kind", sm_resource_kind_to_string(res->kind),
                              "last_modified", res->last_modified);

        if (!e)
                return NULL;
        if ((res->status && json_object_set_new(e, "status", json_string(res->status)) < 0) ||
            (res->describe && json_object_set(e, "describe", res->describe) < 0) ||
            (res->tags_known && json_object_set_new(e, "tags", tags_to_json(&res->tags)) < 0)) {
                json_decref(e);
                return NULL;
        }
        return e;
}

/* The cache after this pass: what was seen, plus the old entries of kinds
 * whose List failed (not seeing them proves nothing). */
static int cache_rebuild(observation *ob)
{
        const sm_observed *o = ob->o;
        json_t *fresh = json_object(), *old;
        const char *key;

        if (!fresh)
                return -ENOMEM;
        for (size_t i = 0; i < o->n_resources; i++) {
                _cleanup_free_ char *k = cache_key(&o->resources[i]);

                if (!k || json_object_set_new(fresh, k, cache_entry(&o->resources[i])) < 0)
                        goto fail;
        }
        json_object_foreach(ob->cache->entries, key, old)
        {
                const char *kind = json_string_value(json_object_get(old, "kind"));

                if (json_object_get(fresh, key))
                        continue;
                for (int k = 0; k < _SM_RESOURCE_KIND_MAX; k++)
                        if (o->incomplete[k] && streq_ptr(kind, sm_resource_kind_to_string(k)) &&
                            json_object_set(fresh, key, old) < 0)
                                goto fail;
        }
        json_decref(ob->cache->entries);
        ob->cache->entries = fresh;
        return 0;
fail:
        json_decref(fresh);
        return -ENOMEM;
}

static int complete_model(observation *ob)
{
        sm_observed *o = ob->o;

        drop_gone(ob);
        for (size_t i = 0; i < o->n_resources; i++) {
                sm_observed_resource *res = &o->resources[i];

                res->owner =
                        res->tags_known ? sm_ownership_of(&res->tags, ob->instance) : SM_OWNER_NONE;
        }
        for (size_t i = 0; i < o->n_roles; i++) {
                sm_observed_role *role = &o->roles[i];

                if (strv_finish(&role->managed_policy_arns, role->n_managed) < 0)
                        return -ENOMEM;
                if (role->n_inline > 1)
                        qsort(role->inline_policies, role->n_inline, sizeof(*role->inline_policies),
                              inline_cmp);
                role->owner = sm_ownership_of(&role->tags, ob->instance);
        }
        if (projects_wanted(ob) &&
            strv_finish(&o->portfolio.principal_arns, o->portfolio.n_principals) < 0)
                return -ENOMEM;
        /* The model has no flag of its own for the portfolio: any read of it
         * that failed makes its whole state unknown. */
        if (ob->portfolio_failed)
                o->portfolio.status_known = false;
        sm_observed_sort(o);
        return cache_rebuild(ob);
}

static void observation_free(observation *ob)
{
        while (ob->head) {
                op *p = ob->head;

                ob->head = p->next;
                op_free(p);
        }
        sm_observed_free(ob->o);
        free(ob->gone);
        free(ob->instance);
        free(ob);
}

static void finish(observation *ob)
{
        sm_observed *o;
        int r;

        ob->finished = true;
        r = ob->error;
        if (r == 0)
                r = complete_model(ob);
        o = r == 0 ? TAKE_PTR(ob->o) : NULL;
        ob->done(r, o, &ob->stats, ob->userdata);
        observation_free(ob);
}

int sm_observe_start(sm_aws_client *client, sm_observe_cache *cache, const sm_observe_options *opts,
                     sm_observe_done_fn done, void *userdata)
{
        const sm_endpoint *ep;
        observation *ob;
        int r;

        if (!client || !cache || !opts || !done)
                return -EINVAL;
        ob = calloc(1, sizeof(*ob));
        if (!ob)
                return -ENOMEM;
        *ob = (observation){.client = client,
                            .cache = cache,
                            .desired = opts->desired,
                            .full_sweep = opts->full_sweep,
                            .max_in_flight = opts->max_in_flight ? opts->max_in_flight
                                                                 : DEFAULT_MAX_IN_FLIGHT,
                            .done = done,
                            .userdata = userdata,
                            .starting = true};
        ob->o = sm_observed_new();
        if (!ob->o || dup_to(&ob->instance, opts->instance) < 0)
                goto oom;
        if (!cache->entries && !(cache->entries = json_object()))
                goto oom;
        ep = sm_aws_client_endpoint(client, SM_SERVICE_SAGEMAKER, NULL);
        if (ep && (dup_to(&ob->o->region, ep->signing_region) < 0 ||
                   dup_to(&ob->o->partition, ep->partition) < 0))
                goto oom;

        if (opts->account_id && opts->partition) {
                if (dup_to(&ob->o->account_id, opts->account_id) < 0)
                        goto oom;
                free(ob->o->partition);
                if (dup_to(&ob->o->partition, opts->partition) < 0)
                        goto oom;
        } else {
                queue_op(ob, SM_SERVICE_STS, "GetCallerIdentity", CALL_OTHER, on_identity,
                         json_object());
        }
        queue_list(ob, SM_RESOURCE_DOMAIN, "ListDomains", NULL);
        queue_list(ob, SM_RESOURCE_MLFLOW, "ListMlflowTrackingServers", NULL);
        queue_list(ob, SM_RESOURCE_LIFECYCLE_CONFIG, "ListStudioLifecycleConfigs", NULL);
        queue_roles(ob);
        if (projects_wanted(ob)) {
                queue_op(ob, SM_SERVICE_SAGEMAKER, "GetSagemakerServicecatalogPortfolioStatus",
                         CALL_OTHER, on_portfolio_status, json_object());
                queue_op(ob, SM_SERVICE_SERVICECATALOG, "ListAcceptedPortfolioShares", CALL_OTHER,
                         on_shares,
                         json_pack("{s:s,s:i}", "PortfolioShareType", "IMPORTED", "PageSize",
                                   SHARES_PAGE_SIZE));
        }
        if (ob->error < 0)
                goto oom;
        pump(ob);
        ob->starting = false;
        if (ob->in_flight == 0) {
                /* Nothing could be sent: fail here rather than call done from
                 * inside this function. */
                r = ob->error < 0 ? ob->error : -EIO;
                observation_free(ob);
                return r;
        }
        return 0;
oom:
        observation_free(ob);
        return -ENOMEM;
}

/* ---- the cache ------------------------------------------------------------ */

sm_observe_cache *sm_observe_cache_new(void)
{
        sm_observe_cache *c = calloc(1, sizeof(*c));

        if (!c)
                return NULL;
        c->entries = json_object();
        if (!c->entries) {
                free(c);
                return NULL;
        }
        return c;
}

sm_observe_cache *sm_observe_cache_free(sm_observe_cache *c)
{
        if (!c)
                return NULL;
        json_decref(c->entries);
        free(c);
        return NULL;
}

int sm_observe_cache_load(sm_observe_cache *c, const char *path)
{
        json_error_t err;
        json_t *root, *entries, *e;
        const char *key;
        int fd;

        if (!c || !path)
                return -EINVAL;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                if (errno != ENOENT)
                        return -errno;
                json_object_clear(c->entries);
                return 0;
        }
        root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &err);
        close(fd);
        if (!root)
                return -EBADMSG;
        entries = json_object_get(root, "entries");
        if (json_integer_value(json_object_get(root, "version")) != CACHE_VERSION ||
            !json_is_object(entries))
                goto bad;
        json_object_foreach(entries, key, e)
        {
                if (!json_is_object(e) || !json_is_number(json_object_get(e, "last_modified")))
                        goto bad;
        }
        json_decref(c->entries);
        c->entries = json_incref(entries);
        json_decref(root);
        return 0;
bad:
        json_decref(root);
        return -EBADMSG;
}

int sm_observe_cache_save(const sm_observe_cache *c, const char *path)
{
        _cleanup_free_ char *text = NULL;
        json_t *root;

        if (!c || !path)
                return -EINVAL;
        root = json_pack("{s:i,s:O}", "version", CACHE_VERSION, "entries", c->entries);
        if (!root)
                return -ENOMEM;
        text = json_dumps(root, JSON_COMPACT);
        json_decref(root);
        if (!text)
                return -ENOMEM;
        /* 0600: describes name roles and subnets. */
        return sm_write_file_atomic_at(AT_FDCWD, path, text, strlen(text));
}
