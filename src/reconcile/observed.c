/* SPDX-License-Identifier: Apache-2.0 */
/* The observed model (see observed.h): plain data, its canonical order and
 * the lookups the planner makes. The order is what makes the lookups cheap
 * (a steady pass over thousands of profiles must not go quadratic) and the
 * JSON dump stable. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smstudio/macro.h"
#include "smstudio/observed.h"

static const char *const kind_names[_SM_RESOURCE_KIND_MAX] = {
        [SM_RESOURCE_DOMAIN] = "domain", [SM_RESOURCE_USER_PROFILE] = "user-profile",
        [SM_RESOURCE_SPACE] = "space",   [SM_RESOURCE_APP] = "app",
        [SM_RESOURCE_MLFLOW] = "mlflow", [SM_RESOURCE_LIFECYCLE_CONFIG] = "lifecycle-config",
};

static const char *const owner_names[] = {
        [SM_OWNER_NONE] = "none",
        [SM_OWNER_US] = "us",
        [SM_OWNER_OTHER] = "other",
};

const char *sm_resource_kind_to_string(sm_resource_kind k)
{
        if ((unsigned)k >= _SM_RESOURCE_KIND_MAX)
                return NULL;
        return kind_names[k];
}

const char *sm_tags_get(const sm_tags *tags, const char *key)
{
        if (!tags || !key)
                return NULL;
        for (size_t i = 0; i < tags->n; i++)
                if (streq_ptr(tags->items[i].key, key))
                        return tags->items[i].value;
        return NULL;
}

sm_ownership sm_ownership_of(const sm_tags *tags, const char *instance)
{
        const char *v = sm_tags_get(tags, SM_TAG_MANAGED_BY);

        if (!v)
                return SM_OWNER_NONE;
        /* A tag naming another instance is foreign too: two daemons sharing
         * an account must never fight over (or delete) each other's work. */
        return instance && streq(v, instance) ? SM_OWNER_US : SM_OWNER_OTHER;
}

/* ---- shared strings ------------------------------------------------------ */

/* Strings nearly every resource has, shared rather than copied: a model of
 * thousands of profiles (kept between passes as the observer's cache)
 * would otherwise hold thousands of copies of "InService" and of our tag's
 * key. Recognised by address when freeing. */
static const char *const shared_strings[] = {
        SM_TAG_MANAGED_BY, "InService", "Pending",       "Updating",      "Deleting",
        "Deleted",         "Failed",    "Update_Failed", "Delete_Failed", "Creating",
        "Created",         "Updated",   "Starting",      "Stopping",      "Stopped",
};

static bool is_shared(const char *s)
{
        for (size_t i = 0; i < ELEMENTSOF(shared_strings); i++)
                if (s == shared_strings[i])
                        return true;
        return false;
}

void sm_observed_strfree(char *s)
{
        if (!is_shared(s))
                free(s);
}

char *sm_observed_strdup(const char *s)
{
        if (!s)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(shared_strings); i++)
                if (streq(s, shared_strings[i]))
                        return (char *)shared_strings[i];
        return strdup(s);
}

/* ---- lifetime ---------------------------------------------------------- */

static void strv_free_(char **v)
{
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

void sm_observed_tags_done(sm_tags *t)
{
        for (size_t i = 0; i < t->n; i++) {
                sm_observed_strfree(t->items[i].key);
                sm_observed_strfree(t->items[i].value);
        }
        free(t->items);
        *t = (sm_tags){0};
}

void sm_observed_role_done(sm_observed_role *r)
{
        if (!r)
                return;
        free(r->name);
        free(r->arn);
        free(r->path);
        free(r->permissions_boundary_arn);
        json_decref(r->trust_policy);
        strv_free_(r->managed_policy_arns);
        for (size_t i = 0; i < r->n_inline; i++) {
                free(r->inline_policies[i].name);
                json_decref(r->inline_policies[i].document);
        }
        free(r->inline_policies);
        sm_observed_tags_done(&r->tags);
        *r = (sm_observed_role){0};
}

void sm_observed_resource_done(sm_observed_resource *r)
{
        if (!r)
                return;
        free(r->name);
        free(r->domain_id);
        free(r->arn);
        sm_observed_strfree(r->status);
        free(r->app_user_profile);
        free(r->app_space);
        free(r->app_type);
        json_decref(r->describe);
        sm_observed_tags_done(&r->tags);
        *r = (sm_observed_resource){0};
}

sm_observed *sm_observed_new(void)
{
        return calloc(1, sizeof(sm_observed));
}

sm_observed *sm_observed_free(sm_observed *o)
{
        if (!o)
                return NULL;
        free(o->account_id);
        free(o->partition);
        free(o->region);
        for (size_t i = 0; i < o->n_roles; i++)
                sm_observed_role_done(&o->roles[i]);
        free(o->roles);
        for (size_t i = 0; i < o->n_resources; i++)
                sm_observed_resource_done(&o->resources[i]);
        free(o->resources);
        free(o->portfolio.portfolio_id);
        strv_free_(o->portfolio.principal_arns);
        free(o);
        return NULL;
}

/* Make room for element n+1 of an array that holds n. The capacity is
 * implied by n (the smallest power of two >= max(n, 4)), so the struct needs
 * no field for it; arrays must therefore grow only through the add
 * functions. */
static int grow(void **items, size_t n, size_t size)
{
        size_t cap = 4;
        void *p;

        while (cap < n)
                cap *= 2;
        if (*items && n < cap)
                return 0;
        if (*items)
                cap *= 2;
        p = realloc(*items, cap * size);
        if (!p)
                return -ENOMEM;
        *items = p;
        return 0;
}

int sm_observed_add_role(sm_observed *o, sm_observed_role *obj)
{
        void *items;
        int r;

        if (!o || !obj)
                return -EINVAL;
        items = o->roles;
        r = grow(&items, o->n_roles, sizeof(*o->roles));
        if (r < 0)
                return r;
        o->roles = items;
        o->roles[o->n_roles++] = *obj;
        *obj = (sm_observed_role){0};
        return 0;
}

int sm_observed_reserve(sm_observed *o, size_t n)
{
        sm_observed_resource *v;

        if (!o)
                return -EINVAL;
        if (n <= o->resources_cap)
                return 0;
        v = realloc(o->resources, n * sizeof(*v));
        if (!v)
                return -ENOMEM;
        o->resources = v;
        o->resources_cap = n;
        return 0;
}

int sm_observed_add_resource(sm_observed *o, sm_observed_resource *obj)
{
        if (!o || !obj || (unsigned)obj->kind >= _SM_RESOURCE_KIND_MAX)
                return -EINVAL;
        /* An explicit capacity, unlike roles: sm_observed_sort() trims it. */
        if (o->n_resources >= o->resources_cap) {
                size_t cap = o->n_resources < 4 ? 8 : 2 * o->n_resources;
                sm_observed_resource *v = realloc(o->resources, cap * sizeof(*v));

                if (!v)
                        return -ENOMEM;
                o->resources = v;
                o->resources_cap = cap;
        }
        o->resources[o->n_resources++] = *obj;
        *obj = (sm_observed_resource){0};
        return 0;
}

/* ---- order and lookups ------------------------------------------------- */

/* NULL sorts before any string: kinds without a domain come first. */
static int strcmp_null(const char *a, const char *b)
{
        if (!a || !b)
                return (a != NULL) - (b != NULL);
        return strcmp(a, b);
}

static int role_cmp(const void *a, const void *b)
{
        return strcmp_null(((const sm_observed_role *)a)->name,
                           ((const sm_observed_role *)b)->name);
}

static int key_cmp(sm_resource_kind ka, const char *da, const char *na, sm_resource_kind kb,
                   const char *db, const char *nb)
{
        int c;

        if (ka != kb)
                return ka < kb ? -1 : 1;
        c = strcmp_null(da, db);
        if (c != 0)
                return c;
        return strcmp_null(na, nb);
}

static int resource_cmp(const void *pa, const void *pb)
{
        const sm_observed_resource *a = pa, *b = pb;
        int c;

        c = key_cmp(a->kind, a->domain_id, a->name, b->kind, b->domain_id, b->name);
        if (c != 0)
                return c;
        /* Apps share names ("default") across owners. */
        c = strcmp_null(a->app_user_profile, b->app_user_profile);
        if (c != 0)
                return c;
        c = strcmp_null(a->app_space, b->app_space);
        if (c != 0)
                return c;
        return strcmp_null(a->app_type, b->app_type);
}

void sm_observed_sort(sm_observed *o)
{
        if (!o)
                return;
        if (o->n_roles > 1)
                qsort(o->roles, o->n_roles, sizeof(*o->roles), role_cmp);
        if (o->n_resources > 1)
                qsort(o->resources, o->n_resources, sizeof(*o->resources), resource_cmp);
        if (o->n_resources > 0 && o->n_resources < o->resources_cap) {
                sm_observed_resource *v =
                        realloc(o->resources, o->n_resources * sizeof(*o->resources));

                if (v) {
                        o->resources = v;
                        o->resources_cap = o->n_resources;
                }
        }
}

/* Index of the first resource not ordered before (kind, domain_id, name). */
static size_t lower_bound(const sm_observed *o, sm_resource_kind kind, const char *domain_id,
                          const char *name)
{
        size_t lo = 0, hi = o->n_resources;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                const sm_observed_resource *r = &o->resources[mid];

                if (key_cmp(r->kind, r->domain_id, r->name, kind, domain_id, name) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

const sm_observed_resource *sm_observed_find(const sm_observed *o, sm_resource_kind kind,
                                             const char *domain_id, const char *name)
{
        size_t i;

        if (!o || !name)
                return NULL;
        i = lower_bound(o, kind, domain_id, name);
        if (i < o->n_resources) {
                const sm_observed_resource *r = &o->resources[i];

                if (r->kind == kind && streq_ptr(r->domain_id, domain_id) &&
                    streq_ptr(r->name, name))
                        return r;
        }
        return NULL;
}

size_t sm_observed_range(const sm_observed *o, sm_resource_kind kind, const char *domain_id,
                         const sm_observed_resource **ret_first)
{
        size_t i, j;

        *ret_first = NULL;
        if (!o)
                return 0;
        /* The empty name sorts first, NULL domain first: lower bounds. */
        i = lower_bound(o, kind, domain_id, NULL);
        for (j = i; j < o->n_resources; j++) {
                const sm_observed_resource *r = &o->resources[j];

                if (r->kind != kind || (domain_id && !streq_ptr(r->domain_id, domain_id)))
                        break;
        }
        if (j == i)
                return 0;
        *ret_first = &o->resources[i];
        return j - i;
}

const sm_observed_resource *sm_observed_domain_by_name(const sm_observed *o, const char *name)
{
        const sm_observed_resource *first, *found = NULL;
        size_t n;

        if (!name)
                return NULL;
        /* Domains are keyed by id; names are few, so scan them. AWS lets
         * two domains share a name: prefer ours, so a foreign twin never
         * hides the one we manage. */
        n = sm_observed_range(o, SM_RESOURCE_DOMAIN, NULL, &first);
        for (size_t i = 0; i < n; i++) {
                if (!streq_ptr(first[i].name, name))
                        continue;
                if (!found || (first[i].owner == SM_OWNER_US && found->owner != SM_OWNER_US))
                        found = &first[i];
        }
        return found;
}

const sm_observed_role *sm_observed_role_find(const sm_observed *o, const char *name)
{
        sm_observed_role key = {.name = (char *)name};

        if (!o || !name || o->n_roles == 0)
                return NULL;
        return bsearch(&key, o->roles, o->n_roles, sizeof(*o->roles), role_cmp);
}

/* ---- JSON -------------------------------------------------------------- */

static int set_new(json_t *obj, const char *key, json_t *v)
{
        /* json_object_set_new steals v even on failure. */
        if (!v || json_object_set_new(obj, key, v) < 0)
                return -ENOMEM;
        return 0;
}

static int set_str(json_t *obj, const char *key, const char *s)
{
        return set_new(obj, key, s ? json_string(s) : json_null());
}

static json_t *strv_json(char *const *v)
{
        json_t *a = json_array();

        if (!a)
                return NULL;
        for (; v && *v; v++)
                if (json_array_append_new(a, json_string(*v)) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

static json_t *tags_json(const sm_tags *t)
{
        json_t *o = json_object();

        if (!o)
                return NULL;
        for (size_t i = 0; i < t->n; i++)
                if (set_str(o, t->items[i].key, t->items[i].value) < 0) {
                        json_decref(o);
                        return NULL;
                }
        return o;
}

static json_t *role_json(const sm_observed_role *r)
{
        json_t *o = json_object(), *inl = json_object();
        int k = 0;

        if (!o || !inl)
                goto fail;
        for (size_t i = 0; i < r->n_inline; i++)
                if (set_new(inl, r->inline_policies[i].name,
                            json_incref(r->inline_policies[i].document
                                                ? r->inline_policies[i].document
                                                : json_null())) < 0)
                        goto fail;
        k |= set_str(o, "name", r->name);
        k |= set_str(o, "arn", r->arn);
        k |= set_str(o, "path", r->path);
        k |= set_str(o, "permissions_boundary_arn", r->permissions_boundary_arn);
        k |= set_new(o, "trust_policy",
                     json_incref(r->trust_policy ? r->trust_policy : json_null()));
        k |= set_new(o, "managed_policy_arns", strv_json(r->managed_policy_arns));
        k |= set_new(o, "inline_policies", inl);
        inl = NULL;
        k |= set_new(o, "tags", tags_json(&r->tags));
        k |= set_str(o, "owner", owner_names[r->owner]);
        if (k)
                goto fail;
        return o;
fail:
        json_decref(inl);
        json_decref(o);
        return NULL;
}

static json_t *resource_json(const sm_observed_resource *r)
{
        json_t *o = json_object();
        int k = 0;

        if (!o)
                return NULL;
        k |= set_str(o, "kind", sm_resource_kind_to_string(r->kind));
        k |= set_str(o, "name", r->name);
        k |= set_str(o, "domain_id", r->domain_id);
        k |= set_str(o, "arn", r->arn);
        k |= set_str(o, "status", r->status);
        k |= set_new(o, "last_modified", json_real(r->last_modified));
        if (r->kind == SM_RESOURCE_APP) {
                k |= set_str(o, "app_user_profile", r->app_user_profile);
                k |= set_str(o, "app_space", r->app_space);
                k |= set_str(o, "app_type", r->app_type);
        }
        k |= set_new(o, "describe", json_incref(r->describe ? r->describe : json_null()));
        k |= set_new(o, "tags", r->tags_known ? tags_json(&r->tags) : json_null());
        k |= set_str(o, "owner", owner_names[r->owner]);
        if (k) {
                json_decref(o);
                return NULL;
        }
        return o;
}

json_t *sm_observed_to_json(const sm_observed *o)
{
        json_t *root = NULL, *roles = NULL, *res = NULL, *inc = NULL, *pf = NULL;
        int k = 0;

        if (!o)
                return NULL;
        root = json_object();
        roles = json_array();
        res = json_array();
        inc = json_array();
        pf = json_object();
        if (!root || !roles || !res || !inc || !pf)
                goto fail;
        for (size_t i = 0; i < o->n_roles; i++)
                if (json_array_append_new(roles, role_json(&o->roles[i])) < 0)
                        goto fail;
        for (size_t i = 0; i < o->n_resources; i++)
                if (json_array_append_new(res, resource_json(&o->resources[i])) < 0)
                        goto fail;
        if (o->roles_incomplete && json_array_append_new(inc, json_string("role")) < 0)
                goto fail;
        for (int kind = 0; kind < _SM_RESOURCE_KIND_MAX; kind++)
                if (o->incomplete[kind] &&
                    json_array_append_new(inc, json_string(kind_names[kind])) < 0)
                        goto fail;
        k |= set_new(pf, "status_known", json_boolean(o->portfolio.status_known));
        k |= set_new(pf, "enabled", json_boolean(o->portfolio.enabled));
        k |= set_str(pf, "portfolio_id", o->portfolio.portfolio_id);
        k |= set_new(pf, "principal_arns", strv_json(o->portfolio.principal_arns));
        k |= set_str(root, "account_id", o->account_id);
        k |= set_str(root, "partition", o->partition);
        k |= set_str(root, "region", o->region);
        k |= set_new(root, "roles", roles);
        roles = NULL;
        k |= set_new(root, "resources", res);
        res = NULL;
        k |= set_new(root, "incomplete", inc);
        inc = NULL;
        k |= set_new(root, "portfolio", pf);
        pf = NULL;
        if (k)
                goto fail;
        return root;
fail:
        json_decref(roles);
        json_decref(res);
        json_decref(inc);
        json_decref(pf);
        json_decref(root);
        return NULL;
}
