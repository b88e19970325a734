/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smstudio/desired.h"
#include "smstudio/macro.h"

const char *const sm_auth_mode_names[] = {"IAM", "SSO", NULL};
const char *const sm_mlflow_size_names[] = {"Small", "Medium", "Large", NULL};
const char *const sm_user_group_names[] = {"data_science_users", "lead_data_science_users", NULL};
const char *const sm_sharing_names[] = {"Private", "Shared", NULL};
const char *const sm_app_type_names[] = {"JupyterLab", "CodeEditor", NULL};

static const char *enum_name(const char *const *names, size_t n, int v)
{
        if (v < 0 || (size_t)v >= n)
                return "?";
        return names[v];
}

const char *sm_auth_mode_to_string(int v)
{
        return enum_name(sm_auth_mode_names, ELEMENTSOF(sm_auth_mode_names) - 1, v);
}

const char *sm_mlflow_size_to_string(int v)
{
        return enum_name(sm_mlflow_size_names, ELEMENTSOF(sm_mlflow_size_names) - 1, v);
}

const char *sm_user_group_to_string(int v)
{
        return enum_name(sm_user_group_names, ELEMENTSOF(sm_user_group_names) - 1, v);
}

const char *sm_sharing_to_string(int v)
{
        return enum_name(sm_sharing_names, ELEMENTSOF(sm_sharing_names) - 1, v);
}

const char *sm_app_type_to_string(int v)
{
        return enum_name(sm_app_type_names, ELEMENTSOF(sm_app_type_names) - 1, v);
}

/* ---- freeing ---------------------------------------------------------- */

static char **strv_free_(char **v)
{
        if (!v)
                return NULL;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
        return NULL;
}

void sm_desired_source_done(sm_source *s)
{
        if (!s)
                return;
        free(s->file);
        *s = (sm_source){0};
}

void sm_desired_tags_done(sm_tags *t)
{
        if (!t)
                return;
        for (size_t i = 0; i < t->n; i++) {
                free(t->items[i].key);
                free(t->items[i].value);
        }
        free(t->items);
        *t = (sm_tags){0};
}

void sm_desired_domain_done(sm_domain *d)
{
        if (!d)
                return;
        sm_desired_source_done(&d->source);
        free(d->name);
        free(d->vpc_id);
        strv_free_(d->subnet_ids);
        strv_free_(d->security_group_ids);
        free(d->studio_bucket_name);
        free(d->role_path);
        free(d->permissions_boundary);
        free(d->app_image_config_name);
        free(d->image_name);
        strv_free_(d->vpc_only_trusted_accounts);
        free(d->jupyterlab_app_instance_type);
        free(d->mlflow_server_name);
        free(d->mlflow_server_version);
        free(d->mlflow_artifact_store_bucket_name);
        free(d->mlflow_artifact_store_bucket_prefix);
        free(d->server_lifecycle_name);
        sm_desired_tags_done(&d->tags);
        *d = (sm_domain){0};
}

void sm_desired_user_done(sm_user *u)
{
        if (!u)
                return;
        sm_desired_source_done(&u->source);
        sm_desired_source_done(&u->domain_source);
        sm_desired_source_done(&u->sso_user_value_source);
        free(u->name);
        free(u->domain);
        free(u->instance_type);
        sm_desired_tags_done(&u->tags);
        free(u->sso_user_value);
        *u = (sm_user){0};
}

void sm_desired_space_done(sm_space *s)
{
        if (!s)
                return;
        sm_desired_source_done(&s->source);
        sm_desired_source_done(&s->domain_source);
        sm_desired_source_done(&s->owner_source);
        free(s->name);
        free(s->domain);
        free(s->owner);
        free(s->instance_type);
        sm_desired_tags_done(&s->tags);
        *s = (sm_space){0};
}

sm_desired *sm_desired_new(void)
{
        return calloc(1, sizeof(sm_desired));
}

sm_desired *sm_desired_free(sm_desired *d)
{
        if (!d)
                return NULL;
        for (size_t i = 0; i < d->n_domains; i++)
                sm_desired_domain_done(&d->domains[i]);
        for (size_t i = 0; i < d->n_users; i++)
                sm_desired_user_done(&d->users[i]);
        for (size_t i = 0; i < d->n_spaces; i++)
                sm_desired_space_done(&d->spaces[i]);
        free(d->domains);
        free(d->users);
        free(d->spaces);
        free(d);
        return NULL;
}

/* ---- defaults --------------------------------------------------------- */

int sm_desired_domain_init(sm_domain *d)
{
        *d = (sm_domain){
                .auth_mode = SM_AUTH_IAM,
                .retain_efs = true,
                .enable_domain_resource_isolation = true,
                .mlflow_server_size = SM_MLFLOW_SMALL,
                .jupyterlab_app_instance_type = strdup("ml.t3.medium"),
                .mlflow_server_name = strdup("mlflow"),
                .mlflow_artifact_store_bucket_prefix = strdup("/"),
        };
        if (!d->jupyterlab_app_instance_type || !d->mlflow_server_name ||
            !d->mlflow_artifact_store_bucket_prefix) {
                sm_desired_domain_done(d);
                return -ENOMEM;
        }
        return 0;
}

void sm_desired_user_init(sm_user *u)
{
        *u = (sm_user){.group = SM_GROUP_DATA_SCIENTIST};
}

void sm_desired_space_init(sm_space *s)
{
        /* The Space kind exists for spaces beyond each user's own, which
         * are mostly shared ones. */
        *s = (sm_space){.sharing = SM_SHARING_SHARED, .app_type = SM_APP_JUPYTERLAB};
}

/* ---- copying ---------------------------------------------------------- */

static int dup_str(char **dst, const char *src)
{
        *dst = NULL;
        if (!src)
                return 0;
        *dst = strdup(src);
        return *dst ? 0 : -ENOMEM;
}

static int dup_strv(char ***dst, char *const *src)
{
        size_t n = 0;
        char **v;

        *dst = NULL;
        if (!src)
                return 0;
        while (src[n])
                n++;
        v = calloc(n + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                v[i] = strdup(src[i]);
                if (!v[i]) {
                        strv_free_(v);
                        return -ENOMEM;
                }
        }
        *dst = v;
        return 0;
}

int sm_desired_source_copy(sm_source *dst, const sm_source *src)
{
        *dst = *src;
        return dup_str(&dst->file, src->file);
}

int sm_desired_tags_copy(sm_tags *dst, const sm_tags *src)
{
        *dst = (sm_tags){0};
        if (src->n == 0)
                return 0;
        dst->items = calloc(src->n, sizeof(sm_tag));
        if (!dst->items)
                return -ENOMEM;
        for (size_t i = 0; i < src->n; i++) {
                dst->n++;
                if (dup_str(&dst->items[i].key, src->items[i].key) < 0 ||
                    dup_str(&dst->items[i].value, src->items[i].value) < 0) {
                        sm_desired_tags_done(dst);
                        return -ENOMEM;
                }
        }
        return 0;
}

int sm_desired_domain_copy(sm_domain *dst, const sm_domain *src)
{
        /* Scalars first, then every owned pointer replaced by its copy; a
         * failure leaves the rest NULL, which done() copes with. */
        *dst = *src;
        dst->source.file = NULL;
        dst->tags = (sm_tags){0};
        int r = 0;
        r |= sm_desired_source_copy(&dst->source, &src->source);
        r |= dup_str(&dst->name, src->name);
        r |= dup_str(&dst->vpc_id, src->vpc_id);
        r |= dup_strv(&dst->subnet_ids, src->subnet_ids);
        r |= dup_strv(&dst->security_group_ids, src->security_group_ids);
        r |= dup_str(&dst->studio_bucket_name, src->studio_bucket_name);
        r |= dup_str(&dst->role_path, src->role_path);
        r |= dup_str(&dst->permissions_boundary, src->permissions_boundary);
        r |= dup_str(&dst->app_image_config_name, src->app_image_config_name);
        r |= dup_str(&dst->image_name, src->image_name);
        r |= dup_strv(&dst->vpc_only_trusted_accounts, src->vpc_only_trusted_accounts);
        r |= dup_str(&dst->jupyterlab_app_instance_type, src->jupyterlab_app_instance_type);
        r |= dup_str(&dst->mlflow_server_name, src->mlflow_server_name);
        r |= dup_str(&dst->mlflow_server_version, src->mlflow_server_version);
        r |= dup_str(&dst->mlflow_artifact_store_bucket_name,
                     src->mlflow_artifact_store_bucket_name);
        r |= dup_str(&dst->mlflow_artifact_store_bucket_prefix,
                     src->mlflow_artifact_store_bucket_prefix);
        r |= dup_str(&dst->server_lifecycle_name, src->server_lifecycle_name);
        r |= sm_desired_tags_copy(&dst->tags, &src->tags);
        if (r) {
                sm_desired_domain_done(dst);
                return -ENOMEM;
        }
        return 0;
}

int sm_desired_user_copy(sm_user *dst, const sm_user *src)
{
        *dst = *src;
        dst->source.file = dst->domain_source.file = dst->sso_user_value_source.file = NULL;
        dst->tags = (sm_tags){0};
        int r = 0;
        r |= sm_desired_source_copy(&dst->source, &src->source);
        r |= sm_desired_source_copy(&dst->domain_source, &src->domain_source);
        r |= sm_desired_source_copy(&dst->sso_user_value_source, &src->sso_user_value_source);
        r |= dup_str(&dst->name, src->name);
        r |= dup_str(&dst->domain, src->domain);
        r |= dup_str(&dst->instance_type, src->instance_type);
        r |= dup_str(&dst->sso_user_value, src->sso_user_value);
        r |= sm_desired_tags_copy(&dst->tags, &src->tags);
        if (r) {
                sm_desired_user_done(dst);
                return -ENOMEM;
        }
        return 0;
}

int sm_desired_space_copy(sm_space *dst, const sm_space *src)
{
        *dst = *src;
        dst->source.file = dst->domain_source.file = dst->owner_source.file = NULL;
        dst->tags = (sm_tags){0};
        int r = 0;
        r |= sm_desired_source_copy(&dst->source, &src->source);
        r |= sm_desired_source_copy(&dst->domain_source, &src->domain_source);
        r |= sm_desired_source_copy(&dst->owner_source, &src->owner_source);
        r |= dup_str(&dst->name, src->name);
        r |= dup_str(&dst->domain, src->domain);
        r |= dup_str(&dst->owner, src->owner);
        r |= dup_str(&dst->instance_type, src->instance_type);
        r |= sm_desired_tags_copy(&dst->tags, &src->tags);
        if (r) {
                sm_desired_space_done(dst);
                return -ENOMEM;
        }
        return 0;
}

/* ---- building --------------------------------------------------------- */

static int grow(void **items, size_t n, size_t size)
{
        /* Grow in powers of two: n is a power of two exactly when full. */
        if (n != 0 && (n & (n - 1)) != 0)
                return 0;
        size_t cap = n ? n * 2 : 4;
        void *p = realloc(*items, cap * size);

        if (!p)
                return -ENOMEM;
        *items = p;
        return 0;
}

int sm_desired_add_domain(sm_desired *d, sm_domain *obj)
{
        if (grow((void **)&d->domains, d->n_domains, sizeof(sm_domain)) < 0)
                return -ENOMEM;
        d->domains[d->n_domains++] = *obj;
        *obj = (sm_domain){0};
        return 0;
}

int sm_desired_add_user(sm_desired *d, sm_user *obj)
{
        if (grow((void **)&d->users, d->n_users, sizeof(sm_user)) < 0)
                return -ENOMEM;
        d->users[d->n_users++] = *obj;
        *obj = (sm_user){0};
        return 0;
}

int sm_desired_add_space(sm_desired *d, sm_space *obj)
{
        if (grow((void **)&d->spaces, d->n_spaces, sizeof(sm_space)) < 0)
                return -ENOMEM;
        d->spaces[d->n_spaces++] = *obj;
        *obj = (sm_space){0};
        return 0;
}

static int cmp_domain(const void *a, const void *b)
{
        const sm_domain *x = a, *y = b;

        return strcmp(x->name, y->name);
}

/* Domain, then name; NULL domains (an unbuilt file) first. */
static int cmp_pair(const char *da, const char *na, const char *db, const char *nb)
{
        int c = strcmp(da ? da : "", db ? db : "");

        return c ? c : strcmp(na, nb);
}

static int cmp_user(const void *a, const void *b)
{
        const sm_user *x = a, *y = b;

        return cmp_pair(x->domain, x->name, y->domain, y->name);
}

static int cmp_space(const void *a, const void *b)
{
        const sm_space *x = a, *y = b;

        return cmp_pair(x->domain, x->name, y->domain, y->name);
}

void sm_desired_sort(sm_desired *d)
{
        if (d->n_domains)
                qsort(d->domains, d->n_domains, sizeof(sm_domain), cmp_domain);
        if (d->n_users)
                qsort(d->users, d->n_users, sizeof(sm_user), cmp_user);
        if (d->n_spaces)
                qsort(d->spaces, d->n_spaces, sizeof(sm_space), cmp_space);
}

const sm_domain *sm_desired_domain(const sm_desired *d, const char *name)
{
        sm_domain key = {.name = (char *)name};

        if (!d || !name || d->n_domains == 0)
                return NULL;
        return bsearch(&key, d->domains, d->n_domains, sizeof(sm_domain), cmp_domain);
}

const sm_user *sm_desired_user(const sm_desired *d, const char *domain, const char *name)
{
        sm_user key = {.domain = (char *)domain, .name = (char *)name};

        if (!d || !domain || !name || d->n_users == 0)
                return NULL;
        return bsearch(&key, d->users, d->n_users, sizeof(sm_user), cmp_user);
}

const sm_space *sm_desired_space(const sm_desired *d, const char *domain, const char *name)
{
        sm_space key = {.domain = (char *)domain, .name = (char *)name};

        if (!d || !domain || !name || d->n_spaces == 0)
                return NULL;
        return bsearch(&key, d->spaces, d->n_spaces, sizeof(sm_space), cmp_space);
}

void sm_desired_summarize(const sm_desired *d, sm_desired_summary *ret)
{
        sm_desired_summary s = {0};

        if (d) {
                s.domains = d->n_domains;
                s.users = d->n_users;
                s.spaces = d->n_spaces;
                for (size_t i = 0; i < d->n_spaces; i++)
                        s.generated_spaces += d->spaces[i].generated;
                for (size_t i = 0; i < d->n_domains; i++)
                        s.mlflow_servers += d->domains[i].mlflow_enabled;
        }
        *ret = s;
}

/* ---- JSON ------------------------------------------------------------- */

/* jansson's *_new functions take NULL and return NULL, and json_object_set_new
 * consumes even on failure, so a chain of sets needs one check at the end:
 * any failure is remembered in *ok. */
static void put(json_t *o, const char *key, json_t *v, bool *ok)
{
        if (!v || json_object_set_new(o, key, v) < 0)
                *ok = false;
}

static json_t *str_or_null(const char *s)
{
        return s ? json_string(s) : json_null();
}

static json_t *strv_json(char *const *v)
{
        json_t *a = json_array();

        if (!a)
                return NULL;
        for (size_t i = 0; v && v[i]; i++)
                if (json_array_append_new(a, json_string(v[i])) < 0)
                        return json_decref(a), NULL;
        return a;
}

static json_t *tags_json(const sm_tags *t)
{
        json_t *o = json_object();
        bool ok = true;

        if (!o)
                return NULL;
        for (size_t i = 0; i < t->n; i++)
                put(o, t->items[i].key, json_string(t->items[i].value), &ok);
        if (!ok)
                return json_decref(o), NULL;
        return o;
}

static json_t *source_json(const sm_source *s)
{
        char *txt = NULL;
        json_t *j;

        if (!s->file)
                return json_null();
        if (asprintf(&txt, "%s:%u:%u", s->file, s->line, s->column) < 0)
                return NULL;
        j = json_string(txt);
        free(txt);
        return j;
}

static json_t *int_or_null(bool set, int64_t v)
{
        return set ? json_integer(v) : json_null();
}

/* The key names of the set bits, in bit order (the keys a manifest wrote). */
static json_t *set_json(uint64_t set, const char *const *names, size_t n)
{
        json_t *a = json_array();

        if (!a)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if ((set & (UINT64_C(1) << i)) && json_array_append_new(a, json_string(names[i])))
                        return json_decref(a), NULL;
        return a;
}

static const char *const domain_set_names[] = {
        "auth_mode",
        "security_group_ids",
        "studio_bucket_name",
        "role_path",
        "permissions_boundary",
        "app_image_config_name",
        "image_name",
        "retain_efs",
        "enable_custom_sagemaker_projects",
        "enable_domain_resource_isolation",
        "enable_jupyterlab_app",
        "enable_jupyterlab_app_sharing",
        "enable_docker_access",
        "vpc_only_trusted_accounts",
        "jupyterlab_app_instance_type",
        "idle_timeout_in_minutes",
        "min_idle_timeout_in_minutes",
        "max_idle_timeout_in_minutes",
        "mlflow_enabled",
        "mlflow_server_name",
        "mlflow_server_version",
        "mlflow_server_size",
        "mlflow_artifact_store_bucket_name",
        "mlflow_artifact_store_bucket_prefix",
        "server_lifecycle_name",
        "tags",
        "adopt",
};

static const char *const user_set_names[] = {
        "domain", "space", "instance_type", "tags", "adopt", "sso_user_value",
};

static const char *const space_set_names[] = {
        "domain", "owner", "sharing", "app_type", "instance_type", "tags", "adopt",
};

#define IS_SET(o, bit) (((o)->set & (UINT64_C(1) << (bit))) != 0)

static json_t *domain_json(const sm_domain *d)
{
        json_t *o = json_object();
        bool ok = true;

        if (!o)
                return NULL;
        put(o, "source", source_json(&d->source), &ok);
        put(o, "set", set_json(d->set, domain_set_names, ELEMENTSOF(domain_set_names)), &ok);
        put(o, "name", json_string(d->name), &ok);
        put(o, "vpc_id", str_or_null(d->vpc_id), &ok);
        put(o, "subnet_ids", strv_json(d->subnet_ids), &ok);
        put(o, "auth_mode", json_string(sm_auth_mode_to_string(d->auth_mode)), &ok);
        put(o, "security_group_ids", strv_json(d->security_group_ids), &ok);
        put(o, "studio_bucket_name", str_or_null(d->studio_bucket_name), &ok);
        put(o, "role_path", str_or_null(d->role_path), &ok);
        put(o, "permissions_boundary", str_or_null(d->permissions_boundary), &ok);
        put(o, "app_image_config_name", str_or_null(d->app_image_config_name), &ok);
        put(o, "image_name", str_or_null(d->image_name), &ok);
        put(o, "retain_efs", json_boolean(d->retain_efs), &ok);
        put(o, "enable_custom_sagemaker_projects",
            json_boolean(d->enable_custom_sagemaker_projects), &ok);
        put(o, "enable_domain_resource_isolation",
            json_boolean(d->enable_domain_resource_isolation), &ok);
        put(o, "enable_jupyterlab_app", json_boolean(d->enable_jupyterlab_app), &ok);
        put(o, "enable_jupyterlab_app_sharing", json_boolean(d->enable_jupyterlab_app_sharing),
            &ok);
        put(o, "enable_docker_access", json_boolean(d->enable_docker_access), &ok);
        put(o, "vpc_only_trusted_accounts", strv_json(d->vpc_only_trusted_accounts), &ok);
        put(o, "jupyterlab_app_instance_type", str_or_null(d->jupyterlab_app_instance_type), &ok);
        put(o, "idle_timeout_in_minutes",
            int_or_null(IS_SET(d, SM_DOMAIN_IDLE_TIMEOUT_IN_MINUTES), d->idle_timeout_in_minutes),
            &ok);
        put(o, "min_idle_timeout_in_minutes",
            int_or_null(IS_SET(d, SM_DOMAIN_MIN_IDLE_TIMEOUT_IN_MINUTES),
                        d->min_idle_timeout_in_minutes),
            &ok);
        put(o, "max_idle_timeout_in_minutes",
            int_or_null(IS_SET(d, SM_DOMAIN_MAX_IDLE_TIMEOUT_IN_MINUTES),
                        d->max_idle_timeout_in_minutes),
            &ok);
        put(o, "mlflow_enabled", json_boolean(d->mlflow_enabled), &ok);
        put(o, "mlflow_server_name", str_or_null(d->mlflow_server_name), &ok);
        put(o, "mlflow_server_version", str_or_null(d->mlflow_server_version), &ok);
        put(o, "mlflow_server_size", json_string(sm_mlflow_size_to_string(d->mlflow_server_size)),
            &ok);
        put(o, "mlflow_artifact_store_bucket_name",
            str_or_null(d->mlflow_artifact_store_bucket_name), &ok);
        put(o, "mlflow_artifact_store_bucket_prefix",
            str_or_null(d->mlflow_artifact_store_bucket_prefix), &ok);
        put(o, "server_lifecycle_name", str_or_null(d->server_lifecycle_name), &ok);
        put(o, "tags", tags_json(&d->tags), &ok);
        put(o, "adopt", json_boolean(d->adopt), &ok);
        if (!ok)
                return json_decref(o), NULL;
        return o;
}

static json_t *user_json(const sm_user *u)
{
        json_t *o = json_object();
        bool ok = true;

        if (!o)
                return NULL;
        put(o, "source", source_json(&u->source), &ok);
        put(o, "set", set_json(u->set, user_set_names, ELEMENTSOF(user_set_names)), &ok);
        put(o, "name", json_string(u->name), &ok);
        put(o, "group", json_string(sm_user_group_to_string(u->group)), &ok);
        put(o, "domain", str_or_null(u->domain), &ok);
        put(o, "space", json_boolean(u->space), &ok);
        put(o, "instance_type", str_or_null(u->instance_type), &ok);
        put(o, "tags", tags_json(&u->tags), &ok);
        put(o, "adopt", json_boolean(u->adopt), &ok);
        put(o, "sso_user_value", str_or_null(u->sso_user_value), &ok);
        put(o, "from_domain_list", json_boolean(u->from_domain_list), &ok);
        if (!ok)
                return json_decref(o), NULL;
        return o;
}

static json_t *space_json(const sm_space *s)
{
        json_t *o = json_object();
        bool ok = true;

        if (!o)
                return NULL;
        put(o, "source", source_json(&s->source), &ok);
        put(o, "set", set_json(s->set, space_set_names, ELEMENTSOF(space_set_names)), &ok);
        put(o, "name", json_string(s->name), &ok);
        put(o, "domain", str_or_null(s->domain), &ok);
        put(o, "owner", str_or_null(s->owner), &ok);
        put(o, "sharing", json_string(sm_sharing_to_string(s->sharing)), &ok);
        put(o, "app_type", json_string(sm_app_type_to_string(s->app_type)), &ok);
        put(o, "instance_type", str_or_null(s->instance_type), &ok);
        put(o, "tags", tags_json(&s->tags), &ok);
        put(o, "adopt", json_boolean(s->adopt), &ok);
        put(o, "generated", json_boolean(s->generated), &ok);
        if (!ok)
                return json_decref(o), NULL;
        return o;
}

json_t *sm_desired_to_json(const sm_desired *d)
{
        json_t *o = json_object(), *domains = json_array(), *users = json_array(),
               *spaces = json_array(), *summary = json_object();
        sm_desired_summary s;
        bool ok = o && domains && users && spaces && summary;

        if (!ok)
                goto fail;
        for (size_t i = 0; ok && i < d->n_domains; i++)
                ok = json_array_append_new(domains, domain_json(&d->domains[i])) == 0;
        for (size_t i = 0; ok && i < d->n_users; i++)
                ok = json_array_append_new(users, user_json(&d->users[i])) == 0;
        for (size_t i = 0; ok && i < d->n_spaces; i++)
                ok = json_array_append_new(spaces, space_json(&d->spaces[i])) == 0;
        sm_desired_summarize(d, &s);
        put(summary, "domains", json_integer((json_int_t)s.domains), &ok);
        put(summary, "users", json_integer((json_int_t)s.users), &ok);
        put(summary, "spaces", json_integer((json_int_t)s.spaces), &ok);
        put(summary, "generated_spaces", json_integer((json_int_t)s.generated_spaces), &ok);
        put(summary, "mlflow_servers", json_integer((json_int_t)s.mlflow_servers), &ok);
        put(o, "domains", domains, &ok);
        put(o, "users", users, &ok);
        put(o, "spaces", spaces, &ok);
        put(o, "summary", summary, &ok);
        if (!ok)
                return json_decref(o), NULL;
        return o;
fail:
        json_decref(o);
        json_decref(domains);
        json_decref(users);
        json_decref(spaces);
        json_decref(summary);
        return NULL;
}

char *sm_desired_dump(const sm_desired *d)
{
        json_t *j = sm_desired_to_json(d);
        char *txt, *out = NULL;

        if (!j)
                return NULL;
        txt = json_dumps(j, JSON_SORT_KEYS | JSON_INDENT(2));
        json_decref(j);
        if (txt && asprintf(&out, "%s\n", txt) < 0)
                out = NULL;
        free(txt);
        return out;
}

/* ---- value rules ------------------------------------------------------ */

static bool is_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* [a-zA-Z0-9](-*[a-zA-Z0-9]){0,max-1}: alphanumerics with single or runs of
 * hyphens between them, never at either end. */
static bool hyphen_name_valid(const char *s, size_t max)
{
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > max || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!is_alnum(s[i]) && s[i] != '-')
                        return false;
        return true;
}

bool sm_desired_name_valid(const char *s)
{
        return hyphen_name_valid(s, SM_NAME_MAX);
}

bool sm_desired_mlflow_name_valid(const char *s)
{
        return hyphen_name_valid(s, 256);
}

static bool prefixed_hex_id(const char *s, const char *prefix)
{
        size_t p = strlen(prefix), n;

        if (!s || strncmp(s, prefix, p) != 0)
                return false;
        s += p;
        n = strlen(s);
        if (n != 8 && n != 17)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

bool sm_desired_vpc_id_valid(const char *s)
{
        return prefixed_hex_id(s, "vpc-");
}

bool sm_desired_subnet_id_valid(const char *s)
{
        return prefixed_hex_id(s, "subnet-");
}

bool sm_desired_sg_id_valid(const char *s)
{
        return prefixed_hex_id(s, "sg-");
}

bool sm_desired_account_id_valid(const char *s)
{
        if (!s || strlen(s) != 12)
                return false;
        for (size_t i = 0; i < 12; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

static bool lower_alnum_run(const char **p)
{
        const char *s = *p;

        while ((**p >= 'a' && **p <= 'z') || (**p >= '0' && **p <= '9'))
                (*p)++;
        return *p > s;
}

bool sm_desired_instance_type_valid(const char *s)
{
        /* ml.<family>.<size>: ml.t3.medium, ml.g5.12xlarge, ml.p4de.24xlarge.
         * The list of types changes every few months; the shape does not. */
        if (!s || strncmp(s, "ml.", 3) != 0 || strlen(s) > 64)
                return false;
        s += 3;
        if (!lower_alnum_run(&s) || *s++ != '.' || !lower_alnum_run(&s))
                return false;
        return *s == '\0';
}

bool sm_desired_role_path_valid(const char *s)
{
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > 512 || s[0] != '/' || s[n - 1] != '/')
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] < 0x21 || s[i] > 0x7e)
                        return false;
        return true;
}

bool sm_desired_bucket_name_valid(const char *s)
{
        size_t n = s ? strlen(s) : 0;

        if (n < 3 || n > 63)
                return false;
        if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
                return false;
        if (!((s[n - 1] >= 'a' && s[n - 1] <= 'z') || (s[n - 1] >= '0' && s[n - 1] <= '9')))
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];

                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
                        return false;
                if (c == '.' && (s[i + 1] == '.' || s[i + 1] == '-' || (i && s[i - 1] == '-')))
                        return false;
        }
        return true;
}

/* IAM names: [\w+=,.@-]. */
static bool iam_name_char(char c)
{
        return is_alnum(c) || strchr("_+=,.@-", c) != NULL;
}

bool sm_desired_permissions_boundary_valid(const char *s)
{
        const char *p;
        size_t n;

        if (!s || !*s)
                return false;
        if (strncmp(s, "arn:", 4) != 0) {
                /* A managed policy name, as the original module took it. */
                n = strlen(s);
                if (n > 128)
                        return false;
                for (size_t i = 0; i < n; i++)
                        if (!iam_name_char(s[i]))
                                return false;
                return true;
        }
        /* arn:<partition>:iam::<account or "aws">:policy/<path/>name */
        p = s + 4;
        if (strncmp(p, "aws", 3) != 0)
                return false;
        p += 3;
        while ((*p >= 'a' && *p <= 'z') || *p == '-')
                p++;
        if (strncmp(p, ":iam::", 6) != 0)
                return false;
        p += 6;
        if (strncmp(p, "aws:", 4) == 0)
                p += 4;
        else {
                for (int i = 0; i < 12; i++, p++)
                        if (*p < '0' || *p > '9')
                                return false;
                if (*p++ != ':')
                        return false;
        }
        if (strncmp(p, "policy/", 7) != 0)
                return false;
        p += 7;
        n = strlen(p);
        if (n == 0 || n > 640 || p[n - 1] == '/')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!iam_name_char(p[i]) && p[i] != '/')
                        return false;
        return true;
}

bool sm_desired_image_name_valid(const char *s)
{
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
                return false;
        for (size_t i = 1; i < n; i++) {
                if (is_alnum(s[i]))
                        continue;
                /* one separator between alphanumerics */
                if ((s[i] != '-' && s[i] != '.') || !is_alnum(s[i - 1]))
                        return false;
        }
        return true;
}

bool sm_desired_mlflow_version_valid(const char *s)
{
        size_t n = s ? strlen(s) : 0, parts = 1;

        if (n == 0 || n > 16 || s[0] == '.' || s[n - 1] == '.')
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '.') {
                        if (s[i + 1] == '.' || ++parts > 3)
                                return false;
                } else if (s[i] < '0' || s[i] > '9')
                        return false;
        }
        return true;
}

bool sm_desired_bucket_prefix_valid(const char *s)
{
        size_t n = s ? strlen(s) : 0;

        if (n > 1000 || strstr(s ? s : "", "//"))
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                        return false;
        return true;
}

/* Characters, not bytes: AWS counts Unicode code points. */
static size_t utf8_length(const char *s)
{
        size_t n = 0;

        for (; *s; s++)
                if (((unsigned char)*s & 0xc0) != 0x80)
                        n++;
        return n;
}

bool sm_desired_sso_user_value_valid(const char *s)
{
        size_t n = s ? utf8_length(s) : 0;

        if (n == 0 || n > 256)
                return false;
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

/* The tag pattern [\p{L}\p{Z}\p{N}_.:/=+\-@]*: ASCII letters, digits, space
 * and those punctuation marks; any non-ASCII character is let through
 * (telling Unicode letters from Unicode punctuation needs tables this
 * daemon does not carry; AWS has the last word). */
static bool tag_chars_ok(const char *s)
{
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;

                if (c >= 0x80 || is_alnum((char)c) || strchr(" _.:/=+-@", c))
                        continue;
                return false;
        }
        return true;
}

const char *sm_desired_tag_key_problem(const char *key)
{
        size_t n = utf8_length(key);

        if (n == 0)
                return "is empty";
        if (n > 128)
                return "is longer than 128 characters";
        if (!tag_chars_ok(key))
                return "has characters other than letters, digits, spaces and _ . : / = + - @";
        if (strncasecmp(key, "aws:", 4) == 0)
                return "starts with \"aws:\", which AWS reserves";
        if (streq(key, SM_TAG_MANAGED_BY))
                return "is smstudio's own ownership tag";
        return NULL;
}

const char *sm_desired_tag_value_problem(const char *value)
{
        if (utf8_length(value) > 256)
                return "is longer than 256 characters";
        if (!tag_chars_ok(value))
                return "has characters other than letters, digits, spaces and _ . : / = + - @";
        return NULL;
}
