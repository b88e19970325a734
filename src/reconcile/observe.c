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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smstudio/fileio.h"
#include "smstudio/iam.h"
#include "smstudio/macro.h"
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
/* 2: one JSON object per line, describes pruned (version 1 was one
 * object holding everything, which had to be parsed whole). */
#define CACHE_VERSION      2
#define PORTFOLIO_PROVIDER "Amazon SageMaker"

/* Hash-consed JSON values: equal values are one shared, never modified
 * json_t. Thousands of profiles made from one manifest template have the
 * same settings; sharing them is what keeps a 5,000-user cache small. */
typedef struct intern_table {
        json_t **slots; /* open addressing, linear probing; each holds a reference */
        size_t cap, n;  /* cap is 0 or a power of two; n <= 3/4 cap */
} intern_table;

/* The cache is the last observation's model, given back after planning
 * (sm_observe_cache_keep()), so nothing is held twice: an observation
 * moves what is still current out of it into the new model, resource by
 * resource, and what is left goes. */
struct sm_observe_cache {
        sm_observed *model; /* sorted; NULL when empty */
        sm_observed *seeds; /* seeded since, unsorted; NULL when none */
        intern_table intern;
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
        sm_observed *prev; /* the cache's model, taken over for this observation */
        bool *taken;       /* per prev resource: moved into the new model */
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

/* A model's status: the common ones shared (sm_observed_strdup()). */
static int dup_status(char **dst, const char *s)
{
        *dst = sm_observed_strdup(s);
        return !s || *dst ? 0 : -ENOMEM;
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
        tag.key = sm_observed_strdup(key);
        tag.value = sm_observed_strdup(value ? value : "");
        items = tag.key && tag.value ? realloc(t->items, (t->n + 1) * sizeof(*items)) : NULL;
        if (!items) {
                sm_observed_strfree(tag.key);
                sm_observed_strfree(tag.value);
                return -ENOMEM;
        }
        t->items = items;
        t->items[t->n++] = tag;
        return 0;
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

/* ---- interning ------------------------------------------------------------ */

static uint64_t mix(uint64_t h, uint64_t v)
{
        h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
        return h;
}

static uint64_t hash_bytes(const char *p, size_t n)
{
        uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

        for (size_t i = 0; i < n; i++) {
                h ^= (unsigned char)p[i];
                h *= 0x100000001b3ULL;
        }
        return h;
}

/* The hash of a value whose members are interned already: containers by
 * the identity of their members, which is what makes it cheap. */
static uint64_t node_hash(json_t *v)
{
        const char *key;
        json_t *m;
        size_t i;
        uint64_t h = (uint64_t)json_typeof(v) + 1;
        double d;

        switch (json_typeof(v)) {
        case JSON_OBJECT: {
                uint64_t sum = 0;

                /* Member order does not make two objects different. */
                json_object_foreach(v, key, m) sum +=
                        mix(hash_bytes(key, strlen(key)), (uint64_t)(uintptr_t)m);
                return mix(h, sum);
        }
        case JSON_ARRAY:
                json_array_foreach(v, i, m) h = mix(h, (uint64_t)(uintptr_t)m);
                return h;
        case JSON_STRING:
                return mix(h, hash_bytes(json_string_value(v), json_string_length(v)));
        case JSON_INTEGER:
                return mix(h, (uint64_t)json_integer_value(v));
        case JSON_REAL:
                d = json_real_value(v);
                return mix(h, hash_bytes((const char *)&d, sizeof(d)));
        default:
                return mix(h, (uint64_t)(uintptr_t)v); /* true, false, null: singletons */
        }
}

static bool node_same(json_t *a, json_t *b)
{
        const char *key;
        json_t *m;
        size_t i;

        if (a == b)
                return true;
        if (json_typeof(a) != json_typeof(b))
                return false;
        switch (json_typeof(a)) {
        case JSON_OBJECT:
                if (json_object_size(a) != json_object_size(b))
                        return false;
                json_object_foreach(a, key, m) if (json_object_get(b, key) != m) return false;
                return true;
        case JSON_ARRAY:
                if (json_array_size(a) != json_array_size(b))
                        return false;
                json_array_foreach(a, i, m) if (json_array_get(b, i) != m) return false;
                return true;
        default:
                return json_equal(a, b);
        }
}

static void intern_done(intern_table *t)
{
        for (size_t i = 0; i < t->cap; i++)
                json_decref(t->slots[i]);
        free(t->slots);
        *t = (intern_table){0};
}

/* Place v (its reference moves in) in a table that has room. */
static void intern_place(intern_table *t, json_t *v)
{
        size_t i = (size_t)node_hash(v) & (t->cap - 1);

        while (t->slots[i])
                i = (i + 1) & (t->cap - 1);
        t->slots[i] = v;
        t->n++;
}

/* Rebuild with room for want values, dropping (drop_unused) those only
 * the table holds: nobody can ask for them again. Hashes are recomputed,
 * not stored: that halves the table, and hashing a value whose members
 * are shared is cheap. */
static int intern_rehash(intern_table *t, size_t want, bool drop_unused)
{
        intern_table nt = {0};
        size_t cap = 64;

        if (drop_unused) {
                want = 0;
                for (size_t i = 0; i < t->cap; i++)
                        want += t->slots[i] && t->slots[i]->refcount > 1;
        }
        while (cap * 3 < want * 4)
                cap *= 2;
        nt.cap = cap;
        nt.slots = calloc(cap, sizeof(*nt.slots));
        if (!nt.slots)
                return -ENOMEM;
        for (size_t i = 0; i < t->cap; i++) {
                json_t *v = t->slots[i];

                if (!v)
                        continue;
                if (drop_unused && v->refcount == 1)
                        json_decref(v);
                else
                        intern_place(&nt, v);
        }
        free(t->slots);
        *t = nt;
        return 0;
}

/* The shared copy of v, a new reference; v's reference is taken over. v
 * must be a tree nobody else holds (a fresh parse or a deep copy): its
 * members are replaced by their shared copies in place. NULL on -ENOMEM. */
static json_t *intern(intern_table *t, json_t *v)
{
        const char *key;
        json_t *m;
        size_t i;
        uint64_t h;

        if (!v)
                return NULL;
        if (json_is_object(v)) {
                json_object_foreach(v, key, m)
                {
                        json_t *c = intern(t, json_incref(m));

                        if (!c || json_object_set_new(v, key, c) < 0)
                                goto oom;
                }
        } else if (json_is_array(v)) {
                json_array_foreach(v, i, m)
                {
                        json_t *c = intern(t, json_incref(m));

                        if (!c || json_array_set_new(v, i, c) < 0)
                                goto oom;
                }
        }
        h = node_hash(v);
        if (t->cap)
                for (size_t j = (size_t)h & (t->cap - 1); t->slots[j]; j = (j + 1) & (t->cap - 1))
                        if (node_same(t->slots[j], v)) {
                                json_t *found = json_incref(t->slots[j]);

                                json_decref(v);
                                return found;
                        }
        if ((t->n + 1) * 4 > t->cap * 3 && intern_rehash(t, t->cap + 1, false) < 0)
                goto oom;
        intern_place(t, json_incref(v));
        return v;
oom:
        json_decref(v);
        return NULL;
}

/* Drop what no cache entry or model holds any more; members of what goes
 * may go in turn, hence the loop (as deep as the JSON). */
static void intern_sweep(intern_table *t)
{
        for (;;) {
                size_t before = t->n;

                if (t->cap == 0 || intern_rehash(t, t->n, true) < 0 || t->n == before)
                        return;
        }
}

/* What of a Describe the cache keeps (and the model shows) for the kinds
 * that come by the thousand. The planner compares the fields its requests
 * set; no request sets a resource's identity (domain, name), its ARN,
 * Status (both kept beside it), times or EFS uid, and those are what would
 * make two profiles' outputs differ and so unshareable. FailureReason
 * stays. The pruned, interned copy, or NULL on -ENOMEM. */
static json_t *prune_describe(intern_table *t, sm_resource_kind kind, const json_t *describe)
{
        static const char *const dropped[] = {
                "CreationTime", "LastModifiedTime", "HomeEfsFileSystemUid",
                "DomainId",     "Status",           "UserProfileName",
                "SpaceName",    "AppName",          "UserProfileArn",
                "SpaceArn",     "AppArn",
        };
        json_t *v = json_deep_copy(describe);

        if (!v)
                return NULL;
        if (kind == SM_RESOURCE_USER_PROFILE || kind == SM_RESOURCE_SPACE ||
            kind == SM_RESOURCE_APP)
                for (size_t i = 0; i < ELEMENTSOF(dropped); i++)
                        json_object_del(v, dropped[i]);
        return intern(t, v);
}

/* ---- the cached model ------------------------------------------------------ */

/* Same resource: kind, domain, name and, for apps, owner and type. */
static bool same_resource(const sm_observed_resource *a, const sm_observed_resource *b)
{
        return a->kind == b->kind && streq_ptr(a->domain_id, b->domain_id) &&
               streq_ptr(a->name, b->name) && streq_ptr(a->app_user_profile, b->app_user_profile) &&
               streq_ptr(a->app_space, b->app_space) && streq_ptr(a->app_type, b->app_type);
}

/* like's counterpart among the first n resources of o (sorted), or NULL. */
static sm_observed_resource *model_find(sm_observed *o, size_t n, const sm_observed_resource *like)
{
        size_t saved;
        const sm_observed_resource *r;

        if (!o || n == 0)
                return NULL;
        /* The lookup searches o->n_resources: only the sorted head counts. */
        saved = o->n_resources;
        o->n_resources = n;
        r = sm_observed_find(o, like->kind, like->domain_id, like->name);
        o->n_resources = saved;
        /* Apps share names across owners: the run of equal names follows. */
        for (; r && r < o->resources + n && r->kind == like->kind &&
               streq_ptr(r->domain_id, like->domain_id) && streq_ptr(r->name, like->name);
             r++)
                if (same_resource(r, like))
                        return (sm_observed_resource *)r;
        return NULL;
}

/* Only resources are cached: roles and the portfolio are read every time. */
static void model_strip(sm_observed *o)
{
        for (size_t i = 0; i < o->n_roles; i++)
                sm_observed_role_done(&o->roles[i]);
        free(o->roles);
        o->roles = NULL;
        o->n_roles = 0;
        free(o->portfolio.portfolio_id);
        for (size_t i = 0; i < o->portfolio.n_principals; i++)
                free(o->portfolio.principal_arns[i]);
        free(o->portfolio.principal_arns);
        o->portfolio = (sm_observed_portfolio){0};
}

/* Fold the seeds into the model: a seed replaces the entry it names. */
static int cache_settle(sm_observe_cache *c)
{
        size_t n_sorted;

        if (!c->seeds || c->seeds->n_resources == 0)
                return 0;
        if (!c->model && !(c->model = sm_observed_new()))
                return -ENOMEM;
        n_sorted = c->model->n_resources;
        for (size_t i = 0; i < c->seeds->n_resources; i++) {
                sm_observed_resource *seed = &c->seeds->resources[i];
                sm_observed_resource *m = model_find(c->model, n_sorted, seed);

                if (m) {
                        sm_observed_resource_done(m);
                        *m = *seed;
                        *seed = (sm_observed_resource){0};
                } else if (sm_observed_add_resource(c->model, seed) < 0) {
                        return -ENOMEM;
                }
        }
        c->seeds = sm_observed_free(c->seeds);
        sm_observed_sort(c->model);
        return 0;
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
        sm_observed_resource *old = NULL;
        bool need_describe, need_tags;

        if (!ob->full_sweep && ob->prev)
                old = model_find(ob->prev, ob->prev->n_resources, res);
        /* Current: same LastModifiedTime and Status as the List shows. What
         * it knows moves over: the old model is on its way out. */
        if (old && !ob->taken[old - ob->prev->resources] &&
            old->last_modified == res->last_modified && streq_ptr(old->status, res->status)) {
                ob->taken[old - ob->prev->resources] = true;
                if (old->describe) {
                        res->describe = TAKE_PTR(old->describe);
                        if (!res->arn)
                                res->arn = TAKE_PTR(old->arn);
                }
                if (old->tags_known) {
                        res->tags = old->tags;
                        old->tags = (sm_tags){0};
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
            dup_status(&res.status, str_of(item, status)) < 0 ||
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
        if (!res->arn && dup_to(&res->arn, str_of(r->output, arn_members[res->kind])) < 0) {
                oom(ob);
                return false;
        }
        json_decref(res->describe);
        res->describe = prune_describe(&ob->cache->intern, res->kind, r->output);
        if (!res->describe) {
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
                sm_observed_tags_done(&res->tags);
                return false;
        }
        if (tags_add_list(&res->tags, json_object_get(r->output, "Tags")) < 0) {
                oom(ob);
                return false;
        }
        if (next_page(ob, p, r->output, "NextToken", "NextToken", &bad))
                return true;
        if (bad)
                sm_observed_tags_done(&res->tags);
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

static bool kind_named(const char *name, sm_resource_kind *ret)
{
        for (int k = 0; k < _SM_RESOURCE_KIND_MAX; k++)
                if (streq_ptr(name, sm_resource_kind_to_string(k))) {
                        *ret = k;
                        return true;
                }
        return false;
}

/* What the cache keeps until the model comes back: the old entries of
 * kinds whose List failed (not seeing them proves nothing). */
static int cache_leftovers(observation *ob)
{
        sm_observe_cache *c = ob->cache;
        sm_observed *prev = ob->prev;

        if (!prev)
                return 0;
        c->model = sm_observed_new();
        if (!c->model)
                return -ENOMEM;
        for (size_t i = 0; i < prev->n_resources; i++)
                if (!ob->taken[i] && ob->o->incomplete[prev->resources[i].kind] &&
                    sm_observed_add_resource(c->model, &prev->resources[i]) < 0)
                        return -ENOMEM;
        ob->prev = sm_observed_free(ob->prev);
        return 0;
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
        return cache_leftovers(ob);
}

static void observation_free(observation *ob)
{
        while (ob->head) {
                op *p = ob->head;

                ob->head = p->next;
                op_free(p);
        }
        sm_observed_free(ob->o);
        /* An observation that failed leaves the cache as it found it (less
         * what it moved out: only a cost). */
        if (ob->prev && !ob->cache->model)
                ob->cache->model = TAKE_PTR(ob->prev);
        sm_observed_free(ob->prev);
        free(ob->taken);
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
        if (cache_settle(cache) < 0)
                goto oom;
        ob->prev = TAKE_PTR(cache->model);
        if (ob->prev && !(ob->taken = calloc(ob->prev->n_resources + 1, sizeof(bool)))) {
                cache->model = TAKE_PTR(ob->prev);
                goto oom;
        }
        /* An estate mostly stays what it was: room for as many resources as
         * last time, rather than doubling past them while the old model is
         * still held. */
        if (ob->prev && sm_observed_reserve(ob->o, ob->prev->n_resources) < 0)
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
        return calloc(1, sizeof(sm_observe_cache));
}

static void cache_clear(sm_observe_cache *c)
{
        c->model = sm_observed_free(c->model);
        c->seeds = sm_observed_free(c->seeds);
        intern_sweep(&c->intern);
}

sm_observe_cache *sm_observe_cache_free(sm_observe_cache *c)
{
        if (!c)
                return NULL;
        cache_clear(c);
        intern_done(&c->intern);
        free(c);
        return NULL;
}

int sm_observe_cache_keep(sm_observe_cache *c, sm_observed *o)
{
        size_t n;
        int r = 0;

        if (!c || !o) {
                sm_observed_free(o);
                return -EINVAL;
        }
        model_strip(o);
        n = o->n_resources;
        /* What the cache held meanwhile: entries of kinds not listed. */
        for (size_t i = 0; c->model && i < c->model->n_resources && r == 0; i++)
                if (!model_find(o, n, &c->model->resources[i]))
                        r = sm_observed_add_resource(o, &c->model->resources[i]);
        sm_observed_free(c->model);
        sm_observed_sort(o);
        c->model = o;
        intern_sweep(&c->intern);
        return r;
}

/* One line of the file into r; false when it is not one. */
static bool resource_from_json(intern_table *t, json_t *line, sm_observed_resource *r,
                               bool *ret_oom)
{
        json_t *lm = json_object_get(line, "last_modified");
        json_t *describe = json_object_get(line, "describe");
        json_t *tags = json_object_get(line, "tags");

        *r = (sm_observed_resource){0};
        if (!json_is_object(line) || !json_is_number(lm) || !str_of(line, "name") ||
            !kind_named(json_string_value(json_object_get(line, "kind")), &r->kind) ||
            (describe && !json_is_object(describe)) || (tags && !json_is_array(tags)))
                return false;
        r->last_modified = json_number_value(lm);
        if (dup_to(&r->name, str_of(line, "name")) < 0 ||
            dup_to(&r->domain_id, str_of(line, "domain_id")) < 0 ||
            dup_to(&r->arn, str_of(line, "arn")) < 0 ||
            dup_status(&r->status, str_of(line, "status")) < 0 ||
            dup_to(&r->app_user_profile, str_of(line, "app_user_profile")) < 0 ||
            dup_to(&r->app_space, str_of(line, "app_space")) < 0 ||
            dup_to(&r->app_type, str_of(line, "app_type")) < 0)
                goto oom;
        /* Fresh from the parser, so it may be interned in place. */
        if (describe && !(r->describe = intern(t, json_incref(describe))))
                goto oom;
        if (tags) {
                if (tags_add_list(&r->tags, tags) < 0)
                        goto oom;
                r->tags_known = true;
        }
        return true;
oom:
        *ret_oom = true;
        return false;
}

/* The header says which version; a version 1 file is a single line that
 * would have to be parsed whole (tens of MiB for thousands of users) only
 * to be thrown away, so only its start is read. 0 or -errno. */
static int read_header(FILE *f)
{
        char head[256];
        const char *v;
        int version = -1;

        if (!fgets(head, sizeof(head), f))
                return ferror(f) ? -EIO : -EBADMSG;
        v = strstr(head, "\"version\"");
        if (!v || sscanf(v + strlen("\"version\""), " : %d", &version) != 1)
                return -EBADMSG;
        if (version != CACHE_VERSION)
                return -EPROTONOSUPPORT;
        return strchr(head, '\n') ? 0 : -EBADMSG;
}

int sm_observe_cache_load(sm_observe_cache *c, const char *path)
{
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        FILE *f;
        ssize_t len;
        int r;

        if (!c || !path)
                return -EINVAL;
        cache_clear(c);
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? 0 : -errno;
        r = read_header(f);
        if (r < 0)
                goto out;
        c->model = sm_observed_new();
        c->seeds = sm_observed_new();
        if (!c->model || !c->seeds) {
                r = -ENOMEM;
                goto out;
        }
        while ((len = getline(&line, &size, f)) >= 0) {
                json_t *v = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES, NULL);
                sm_observed_resource res;
                bool nomem = false;

                if (!resource_from_json(&c->intern, v, &res, &nomem)) {
                        json_decref(v);
                        sm_observed_resource_done(&res);
                        r = nomem ? -ENOMEM : -EBADMSG;
                        goto out;
                }
                r = sm_observed_add_resource(
                        json_is_true(json_object_get(v, "seed")) ? c->seeds : c->model, &res);
                json_decref(v);
                if (r < 0) {
                        sm_observed_resource_done(&res);
                        goto out;
                }
        }
        r = ferror(f) ? -EIO : 0;
        if (r == 0) {
                sm_observed_sort(c->model);
                r = cache_settle(c);
        }
out:
        fclose(f);
        if (r < 0)
                cache_clear(c); /* all or nothing */
        return r;
}

static int set_str_member(json_t *o, const char *key, const char *s)
{
        return s ? json_object_set_new(o, key, json_string(s)) : 0;
}

static int write_resource(FILE *f, const sm_observed_resource *r, bool seed)
{
        json_t *v = json_pack("{s:s,s:s,s:f}", "kind", sm_resource_kind_to_string(r->kind), "name",
                              r->name, "last_modified", r->last_modified);
        int k = 0;

        if (!v)
                return -ENOMEM;
        k |= set_str_member(v, "domain_id", r->domain_id);
        k |= set_str_member(v, "arn", r->arn);
        k |= set_str_member(v, "status", r->status);
        k |= set_str_member(v, "app_user_profile", r->app_user_profile);
        k |= set_str_member(v, "app_space", r->app_space);
        k |= set_str_member(v, "app_type", r->app_type);
        if (r->describe)
                k |= json_object_set(v, "describe", r->describe);
        if (r->tags_known)
                k |= json_object_set_new(v, "tags", tags_to_json(&r->tags));
        if (seed)
                k |= json_object_set_new(v, "seed", json_true());
        if (k == 0 && (json_dumpf(v, f, JSON_COMPACT) < 0 || fputc('\n', f) == EOF))
                k = -EIO;
        json_decref(v);
        return k < 0 ? (k == -EIO ? -EIO : -ENOMEM) : 0;
}

static int write_cache(FILE *f, void *userdata)
{
        const sm_observe_cache *c = userdata;
        int r = 0;

        if (fprintf(f, "{\"version\":%d}\n", CACHE_VERSION) < 0)
                return -EIO;
        for (size_t i = 0; c->model && i < c->model->n_resources && r == 0; i++)
                r = write_resource(f, &c->model->resources[i], false);
        for (size_t i = 0; c->seeds && i < c->seeds->n_resources && r == 0; i++)
                r = write_resource(f, &c->seeds->resources[i], true);
        return r;
}

int sm_observe_cache_save(const sm_observe_cache *c, const char *path)
{
        if (!c || !path)
                return -EINVAL;
        /* Written line by line: as one buffer the file would briefly cost as
         * much memory as everything else. Mode 0600: describes name roles
         * and subnets. */
        return sm_write_file_atomic_with(AT_FDCWD, path, write_cache, (void *)c);
}

int sm_observe_cache_seed(sm_observe_cache *c, const char *operation, const json_t *params,
                          const json_t *listed)
{
        sm_observed_resource res = {0};
        json_t *describe = NULL, *tags;
        const char *name_member;
        int r = -ENOMEM;

        if (!c || !operation || !json_is_object(params) || !json_is_object(listed))
                return -EINVAL;
        if (streq(operation, "CreateUserProfile")) {
                res.kind = SM_RESOURCE_USER_PROFILE;
                name_member = "UserProfileName";
        } else if (streq(operation, "CreateSpace")) {
                res.kind = SM_RESOURCE_SPACE;
                name_member = "SpaceName";
        } else {
                return -EINVAL;
        }
        if (!str_of(params, "DomainId") || !str_of(params, name_member) ||
            !str_of(listed, "Status"))
                return -EINVAL;
        res.last_modified = time_of(json_object_get(listed, "LastModifiedTime"));
        if (dup_to(&res.domain_id, str_of(params, "DomainId")) < 0 ||
            dup_to(&res.name, str_of(params, name_member)) < 0 ||
            dup_status(&res.status, str_of(listed, "Status")) < 0 ||
            dup_to(&res.arn, str_of(listed, arn_members[res.kind])) < 0)
                goto out;
        /* What Describe would say of the fields the request set: the request
         * itself, as the List shows it settled. */
        describe = json_deep_copy(params);
        if (!describe)
                goto out;
        (void)json_object_del(describe, "Tags");
        res.describe = prune_describe(&c->intern, res.kind, describe);
        if (!res.describe)
                goto out;
        tags = json_object_get(params, "Tags");
        if (tags && tags_add_list(&res.tags, tags) < 0)
                goto out;
        res.tags_known = true;
        if (!c->seeds && !(c->seeds = sm_observed_new()))
                goto out;
        r = sm_observed_add_resource(c->seeds, &res);
out:
        json_decref(describe);
        sm_observed_resource_done(&res);
        return r;
}
