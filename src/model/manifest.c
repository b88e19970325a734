/* SPDX-License-Identifier: Apache-2.0 */
/* Manifest documents (kind Domain, User, Space) into desired objects.
 *
 * Two passes, as the header promises: sm_manifest_file_parse() checks what
 * one file can tell on its own (types, enums, name shapes, the rules
 * between keys of one document) and reports all of it; sm_desired_build()
 * checks what needs every file (which domain a user belongs to, who is
 * defined twice, owners, the generated space names). Keys are read through
 * one table per kind, so the key list, the unknown-key check and the
 * did-you-mean all come from the same place. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smstudio/desired.h"
#include "smstudio/diag.h"
#include "smstudio/macro.h"
#include "smstudio/manifest.h"
#include "smstudio/spell.h"
#include "smstudio/strbuf.h"
#include "smstudio/yamlnode.h"

struct sm_manifest_file {
        char *path;
        /* The file's objects in document order, not sorted, users' and
         * spaces' domain NULL where the manifest left it out. */
        sm_desired *objs;
};

/* ---- diagnostics ------------------------------------------------------ */

#define N_SCRATCH 4
#define QUOTE_MAX 80

typedef struct ctx {
        const char *path;
        sm_diags *diags;
        size_t n_errors;
        int oom;
        /* esc() hands out these in turn, so up to N_SCRATCH quoted values
         * can appear in one message. */
        sm_buf scratch[N_SCRATCH];
        unsigned next;
} ctx;

static void ctx_done(ctx *c)
{
        for (unsigned i = 0; i < N_SCRATCH; i++)
                sm_buf_done(&c->scratch[i]);
}

/* A user-written value quoted for a message: escapes for anything that
 * could break the one-line "path:line:column: message" format, and cut
 * short, since the place already tells which value it is. */
static const char *esc(ctx *c, const char *s)
{
        sm_buf *b = &c->scratch[c->next++ % N_SCRATCH];
        size_t n = 0;
        int r;

        sm_buf_clear(b);
        r = sm_buf_putc(b, '"');
        for (; r >= 0 && s && *s; s++, n++) {
                unsigned char ch = (unsigned char)*s;

                if (n == QUOTE_MAX) {
                        r = sm_buf_puts(b, "...");
                        break;
                }
                if (ch == '"' || ch == '\\')
                        r = sm_buf_printf(b, "\\%c", ch);
                else if (ch < 0x20 || ch == 0x7f)
                        r = sm_buf_printf(b, "\\x%02x", ch);
                else
                        r = sm_buf_putc(b, (char)ch);
        }
        if (r >= 0)
                r = sm_buf_putc(b, '"');
        if (r < 0) {
                c->oom = -ENOMEM;
                return "\"?\"";
        }
        return b->data;
}

static void err_at(ctx *c, const char *path, unsigned line, unsigned column, const char *fmt, ...)
        _printf_(5, 6);
static void err_at(ctx *c, const char *path, unsigned line, unsigned column, const char *fmt, ...)
{
        sm_buf msg = {0};
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = sm_buf_vprintf(&msg, fmt, ap);
        va_end(ap);
        if (r >= 0)
                r = sm_diags_add(c->diags, path, line, column, "%s", msg.data);
        sm_buf_done(&msg);
        if (r < 0)
                c->oom = -ENOMEM;
        c->n_errors++;
}

#define err(c, node, ...)    err_at((c), (c)->path, (node)->line, (node)->column, __VA_ARGS__)
#define err_src(c, src, ...) err_at((c), (src)->file, (src)->line, (src)->column, __VA_ARGS__)

/* A getter from yamlnode.h reported a problem: count it. */
static void getter_failed(ctx *c, int r)
{
        if (r == -ENOMEM)
                c->oom = -ENOMEM;
        else
                c->n_errors++;
}

/* ---- key tables ------------------------------------------------------- */

typedef enum ftype {
        F_STRING,
        F_STRV,
        F_BOOL,
        F_INT,
        F_ENUM,
        F_TAGS,
        F_USERS, /* Domain: a list of user names becoming User objects */
} ftype;

typedef struct field {
        const char *key;
        ftype type;
        size_t offset; /* into the object; F_USERS: the group */
        int bit;       /* in the object's set; -1 for required keys */
        bool required;
        bool (*valid)(const char *s); /* F_STRING, F_STRV items */
        const char *rule;             /* "is not <rule>" */
        const char *const *names;     /* F_ENUM */
        int64_t min, max;             /* F_INT range; F_STRV number of items */
} field;

static const char rule_name[] =
        "a valid SageMaker name (1-63 letters, digits and hyphens, starting and ending with a "
        "letter or digit)";
static const char rule_instance[] = "an ML instance type such as ml.t3.medium";

#define D(m) offsetof(sm_domain, m)
#define U(m) offsetof(sm_user, m)
#define S(m) offsetof(sm_space, m)

static const field domain_fields[] = {
        {"name", F_STRING, D(name), -1, true, sm_desired_name_valid, rule_name, NULL, 0, 0},
        {"vpc_id", F_STRING, D(vpc_id), -1, true, sm_desired_vpc_id_valid,
         "a VPC id (vpc- and 8 or 17 hex digits)", NULL, 0, 0},
        {"subnet_ids", F_STRV, D(subnet_ids), -1, true, sm_desired_subnet_id_valid,
         "a subnet id (subnet- and 8 or 17 hex digits)", NULL, 1, SM_SUBNETS_MAX},
        {"auth_mode", F_ENUM, D(auth_mode), SM_DOMAIN_AUTH_MODE, false, NULL, NULL,
         sm_auth_mode_names, 0, 0},
        {"security_group_ids", F_STRV, D(security_group_ids), SM_DOMAIN_SECURITY_GROUP_IDS, false,
         sm_desired_sg_id_valid, "a security group id (sg- and 8 or 17 hex digits)", NULL, 0,
         SM_SECURITY_GROUPS_MAX},
        {"studio_bucket_name", F_STRING, D(studio_bucket_name), SM_DOMAIN_STUDIO_BUCKET_NAME, false,
         sm_desired_bucket_name_valid,
         "a valid S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)", NULL, 0, 0},
        {"role_path", F_STRING, D(role_path), SM_DOMAIN_ROLE_PATH, false,
         sm_desired_role_path_valid, "an IAM path (\"/\" or \"/text/\", at most 512 characters)",
         NULL, 0, 0},
        {"permissions_boundary", F_STRING, D(permissions_boundary), SM_DOMAIN_PERMISSIONS_BOUNDARY,
         false, sm_desired_permissions_boundary_valid, "an IAM managed policy name or policy ARN",
         NULL, 0, 0},
        {"app_image_config_name", F_STRING, D(app_image_config_name),
         SM_DOMAIN_APP_IMAGE_CONFIG_NAME, false, sm_desired_name_valid, rule_name, NULL, 0, 0},
        {"image_name", F_STRING, D(image_name), SM_DOMAIN_IMAGE_NAME, false,
         sm_desired_image_name_valid,
         "a valid SageMaker image name (1-63 letters and digits, single - or . between them)", NULL,
         0, 0},
        {"retain_efs", F_BOOL, D(retain_efs), SM_DOMAIN_RETAIN_EFS, false, NULL, NULL, NULL, 0, 0},
        {"enable_custom_sagemaker_projects", F_BOOL, D(enable_custom_sagemaker_projects),
         SM_DOMAIN_ENABLE_CUSTOM_SAGEMAKER_PROJECTS, false, NULL, NULL, NULL, 0, 0},
        {"enable_domain_resource_isolation", F_BOOL, D(enable_domain_resource_isolation),
         SM_DOMAIN_ENABLE_DOMAIN_RESOURCE_ISOLATION, false, NULL, NULL, NULL, 0, 0},
        {"enable_jupyterlab_app", F_BOOL, D(enable_jupyterlab_app), SM_DOMAIN_ENABLE_JUPYTERLAB_APP,
         false, NULL, NULL, NULL, 0, 0},
        {"enable_jupyterlab_app_sharing", F_BOOL, D(enable_jupyterlab_app_sharing),
         SM_DOMAIN_ENABLE_JUPYTERLAB_APP_SHARING, false, NULL, NULL, NULL, 0, 0},
        {"enable_docker_access", F_BOOL, D(enable_docker_access), SM_DOMAIN_ENABLE_DOCKER_ACCESS,
         false, NULL, NULL, NULL, 0, 0},
        {"vpc_only_trusted_accounts", F_STRV, D(vpc_only_trusted_accounts),
         SM_DOMAIN_VPC_ONLY_TRUSTED_ACCOUNTS, false, sm_desired_account_id_valid,
         "an AWS account id (12 digits)", NULL, 0, SM_TRUSTED_ACCOUNTS_MAX},
        {"jupyterlab_app_instance_type", F_STRING, D(jupyterlab_app_instance_type),
         SM_DOMAIN_JUPYTERLAB_APP_INSTANCE_TYPE, false, sm_desired_instance_type_valid,
         rule_instance, NULL, 0, 0},
        {"idle_timeout_in_minutes", F_INT, D(idle_timeout_in_minutes),
         SM_DOMAIN_IDLE_TIMEOUT_IN_MINUTES, false, NULL, NULL, NULL, SM_IDLE_MIN, SM_IDLE_MAX},
        {"min_idle_timeout_in_minutes", F_INT, D(min_idle_timeout_in_minutes),
         SM_DOMAIN_MIN_IDLE_TIMEOUT_IN_MINUTES, false, NULL, NULL, NULL, SM_IDLE_MIN, SM_IDLE_MAX},
        {"max_idle_timeout_in_minutes", F_INT, D(max_idle_timeout_in_minutes),
         SM_DOMAIN_MAX_IDLE_TIMEOUT_IN_MINUTES, false, NULL, NULL, NULL, SM_IDLE_MIN, SM_IDLE_MAX},
        {"mlflow_enabled", F_BOOL, D(mlflow_enabled), SM_DOMAIN_MLFLOW_ENABLED, false, NULL, NULL,
         NULL, 0, 0},
        {"mlflow_server_name", F_STRING, D(mlflow_server_name), SM_DOMAIN_MLFLOW_SERVER_NAME, false,
         sm_desired_mlflow_name_valid,
         "a valid MLflow tracking server name (1-256 letters, digits and hyphens)", NULL, 0, 0},
        {"mlflow_server_version", F_STRING, D(mlflow_server_version),
         SM_DOMAIN_MLFLOW_SERVER_VERSION, false, sm_desired_mlflow_version_valid,
         "an MLflow version such as 2.16 or 2.16.2", NULL, 0, 0},
        {"mlflow_server_size", F_ENUM, D(mlflow_server_size), SM_DOMAIN_MLFLOW_SERVER_SIZE, false,
         NULL, NULL, sm_mlflow_size_names, 0, 0},
        {"mlflow_artifact_store_bucket_name", F_STRING, D(mlflow_artifact_store_bucket_name),
         SM_DOMAIN_MLFLOW_ARTIFACT_STORE_BUCKET_NAME, false, sm_desired_bucket_name_valid,
         "a valid S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)", NULL, 0, 0},
        {"mlflow_artifact_store_bucket_prefix", F_STRING, D(mlflow_artifact_store_bucket_prefix),
         SM_DOMAIN_MLFLOW_ARTIFACT_STORE_BUCKET_PREFIX, false, sm_desired_bucket_prefix_valid,
         "an S3 key prefix (printable, at most 1000 characters, no \"//\")", NULL, 0, 0},
        {"server_lifecycle_name", F_STRING, D(server_lifecycle_name),
         SM_DOMAIN_SERVER_LIFECYCLE_NAME, false, sm_desired_name_valid, rule_name, NULL, 0, 0},
        {"tags", F_TAGS, D(tags), SM_DOMAIN_TAGS, false, NULL, NULL, NULL, 0, 0},
        {"adopt", F_BOOL, D(adopt), SM_DOMAIN_ADOPT, false, NULL, NULL, NULL, 0, 0},
        {"data_science_users", F_USERS, SM_GROUP_DATA_SCIENTIST, -1, false, NULL, NULL, NULL, 0, 0},
        {"lead_data_science_users", F_USERS, SM_GROUP_LEAD, -1, false, NULL, NULL, NULL, 0, 0},
        {0},
};

static const field user_fields[] = {
        {"name", F_STRING, U(name), -1, true, sm_desired_name_valid, rule_name, NULL, 0, 0},
        {"group", F_ENUM, U(group), -1, true, NULL, NULL, sm_user_group_names, 0, 0},
        {"domain", F_STRING, U(domain), SM_USER_DOMAIN, false, sm_desired_name_valid, rule_name,
         NULL, 0, 0},
        {"space", F_BOOL, U(space), SM_USER_SPACE, false, NULL, NULL, NULL, 0, 0},
        {"instance_type", F_STRING, U(instance_type), SM_USER_INSTANCE_TYPE, false,
         sm_desired_instance_type_valid, rule_instance, NULL, 0, 0},
        {"tags", F_TAGS, U(tags), SM_USER_TAGS, false, NULL, NULL, NULL, 0, 0},
        {"adopt", F_BOOL, U(adopt), SM_USER_ADOPT, false, NULL, NULL, NULL, 0, 0},
        {"sso_user_value", F_STRING, U(sso_user_value), SM_USER_SSO_USER_VALUE, false,
         sm_desired_sso_user_value_valid,
         "a valid SSO user value (1-256 characters, no control characters)", NULL, 0, 0},
        {0},
};

static const field space_fields[] = {
        {"name", F_STRING, S(name), -1, true, sm_desired_name_valid, rule_name, NULL, 0, 0},
        {"domain", F_STRING, S(domain), SM_SPACE_DOMAIN, false, sm_desired_name_valid, rule_name,
         NULL, 0, 0},
        {"owner", F_STRING, S(owner), SM_SPACE_OWNER, false, sm_desired_name_valid, rule_name, NULL,
         0, 0},
        {"sharing", F_ENUM, S(sharing), SM_SPACE_SHARING, false, NULL, NULL, sm_sharing_names, 0,
         0},
        {"app_type", F_ENUM, S(app_type), SM_SPACE_APP_TYPE, false, NULL, NULL, sm_app_type_names,
         0, 0},
        {"instance_type", F_STRING, S(instance_type), SM_SPACE_INSTANCE_TYPE, false,
         sm_desired_instance_type_valid, rule_instance, NULL, 0, 0},
        {"tags", F_TAGS, S(tags), SM_SPACE_TAGS, false, NULL, NULL, NULL, 0, 0},
        {"adopt", F_BOOL, S(adopt), SM_SPACE_ADOPT, false, NULL, NULL, NULL, 0, 0},
        {0},
};

/* Other spellings accepted for a key: the original module's parameter
 * names, so its manifests carry over. permissions_boundary_arn is what its
 * README called the key before it became permissions_boundary_name. */
typedef struct alias {
        const char *alias;
        const char *key;
} alias;

static const alias domain_aliases[] = {
        {"studio_domain_name", "name"},
        {"permissions_boundary_name", "permissions_boundary"},
        {"permissions_boundary_arn", "permissions_boundary"},
        {0},
};

static const alias no_aliases[] = {{0}};

typedef enum kind {
        KIND_DOMAIN,
        KIND_USER,
        KIND_SPACE,
        _KIND_MAX,
} kind;

static const char *const kind_names[] = {"Domain", "User", "Space", NULL};

typedef struct kind_info {
        const field *fields;
        const alias *aliases;
} kind_info;

static const kind_info kinds[_KIND_MAX] = {
        [KIND_DOMAIN] = {domain_fields, domain_aliases},
        [KIND_USER] = {user_fields, no_aliases},
        [KIND_SPACE] = {space_fields, no_aliases},
};

/* The allowed keys of a kind, NULL-terminated, for sm_yaml_check_keys. */
static const char **allowed_keys(kind k)
{
        size_t n = 1, i = 0;
        const char **v;

        for (const field *f = kinds[k].fields; f->key; f++)
                n++;
        for (const alias *a = kinds[k].aliases; a->alias; a++)
                n++;
        v = calloc(n + 1, sizeof(char *));
        if (!v)
                return NULL;
        v[i++] = "kind";
        for (const field *f = kinds[k].fields; f->key; f++)
                v[i++] = f->key;
        for (const alias *a = kinds[k].aliases; a->alias; a++)
                v[i++] = a->alias;
        return v;
}

/* ---- values ----------------------------------------------------------- */

static char **slot_str(void *obj, const field *f)
{
        return (char **)((char *)obj + f->offset);
}

/* Did-you-mean for a value among names (NULL-terminated): " (did you mean
 * \"X\"?)" or ", one of A, B, C" when nothing is close. */
static const char *enum_hint(ctx *c, const char *word, const char *const *names)
{
        sm_buf *b = &c->scratch[c->next++ % N_SCRATCH];
        const char *guess = sm_spell_closest(word, names);
        int r;

        sm_buf_clear(b);
        if (guess)
                r = sm_buf_printf(b, " (did you mean \"%s\"?)", guess);
        else {
                r = sm_buf_puts(b, " (one of");
                for (size_t i = 0; r >= 0 && names[i]; i++)
                        r = sm_buf_printf(b, "%s %s", i ? "," : "", names[i]);
                if (r >= 0)
                        r = sm_buf_putc(b, ')');
        }
        if (r < 0) {
                c->oom = -ENOMEM;
                return "";
        }
        return b->data;
}

static int read_tags(ctx *c, const sm_yaml_node *v, const char *key, sm_tags *ret)
{
        sm_tags t = {0};
        size_t before = c->n_errors;

        if (v->kind != SM_YAML_MAPPING) {
                err(c, v, "%s must be a mapping of tag keys to values, not %s", key,
                    sm_yaml_describe(v));
                return -EINVAL;
        }
        if (v->n_pairs > SM_TAGS_MAX)
                err(c, v,
                    "%s has %zu tags; at most %d (AWS allows 50, one is smstudio's "
                    "ownership tag)",
                    key, v->n_pairs, SM_TAGS_MAX);
        t.items = calloc(v->n_pairs ? v->n_pairs : 1, sizeof(sm_tag));
        if (!t.items)
                return c->oom = -ENOMEM;
        for (size_t i = 0; i < v->n_pairs; i++) {
                const sm_yaml_node *k = v->pairs[i].key, *val = v->pairs[i].value;
                const char *why;

                why = sm_desired_tag_key_problem(k->value);
                if (why)
                        err(c, k, "tag key %s %s", esc(c, k->value), why);
                /* A tag value is text whatever it looks like: "cost-center:
                 * 1234" means the string 1234. */
                if (val->kind != SM_YAML_SCALAR || sm_yaml_is_null(val)) {
                        err(c, val, "tag %s must have a string value, not %s", esc(c, k->value),
                            sm_yaml_describe(val));
                        continue;
                }
                why = sm_desired_tag_value_problem(val->value);
                if (why)
                        err(c, val, "value of tag %s %s", esc(c, k->value), why);
                t.items[t.n].key = strdup(k->value);
                t.items[t.n].value = strdup(val->value);
                t.n++;
                if (!t.items[t.n - 1].key || !t.items[t.n - 1].value) {
                        sm_desired_tags_done(&t);
                        return c->oom = -ENOMEM;
                }
        }
        sm_desired_tags_done(ret);
        *ret = t;
        return c->n_errors == before ? 0 : -EINVAL;
}

static int read_strv(ctx *c, const sm_yaml_node *v, const field *f, char ***ret)
{
        size_t before = c->n_errors, n;
        char **list = NULL;
        int r;

        r = sm_yaml_get_string_list(c->path, v, f->key, &list, &n, c->diags);
        if (r < 0) {
                getter_failed(c, r);
                return r;
        }
        if ((int64_t)n < f->min || (int64_t)n > f->max) {
                if (f->min == 0)
                        err(c, v, "%s has %zu items; at most %" PRId64 " are allowed", f->key, n,
                            f->max);
                else
                        err(c, v, "%s needs %" PRId64 " to %" PRId64 " items, not %zu", f->key,
                            f->min, f->max, n);
        }
        for (size_t i = 0; i < n; i++) {
                const sm_yaml_node *item = v->items[i];

                if (f->valid && !f->valid(list[i]))
                        err(c, item, "%s %s is not %s", f->key, esc(c, list[i]), f->rule);
                for (size_t j = 0; j < i; j++)
                        if (streq(list[i], list[j])) {
                                err(c, item, "%s lists %s twice (first at line %u)", f->key,
                                    esc(c, list[i]), v->items[j]->line);
                                break;
                        }
        }
        sm_strv_free(*ret);
        *ret = list;
        return c->n_errors == before ? 0 : -EINVAL;
}

/* The users of a Domain's data_science_users / lead_data_science_users:
 * each becomes a User of this domain placed at its list item, so a clash
 * found later points at the very line. */
static void read_domain_users(ctx *c, const sm_yaml_node *v, const field *f, const char *domain,
                              sm_desired *objs)
{
        char **list = NULL;
        size_t n;
        int r;

        r = sm_yaml_get_string_list(c->path, v, f->key, &list, &n, c->diags);
        if (r < 0) {
                getter_failed(c, r);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                const sm_yaml_node *item = v->items[i];
                sm_user u;

                if (!sm_desired_name_valid(list[i])) {
                        err(c, item, "user name %s in %s is not %s", esc(c, list[i]), f->key,
                            rule_name);
                        continue;
                }
                sm_desired_user_init(&u);
                u.group = (int)f->offset;
                u.from_domain_list = true;
                u.set = UINT64_C(1) << SM_USER_DOMAIN;
                u.source = (sm_source){strdup(c->path), item->line, item->column};
                u.domain_source = (sm_source){strdup(c->path), item->line, item->column};
                u.name = TAKE_PTR(list[i]);
                u.domain = domain ? strdup(domain) : NULL;
                if (!u.source.file || !u.domain_source.file || (domain && !u.domain) ||
                    sm_desired_add_user(objs, &u) < 0) {
                        sm_desired_user_done(&u);
                        c->oom = -ENOMEM;
                        break;
                }
        }
        /* Names taken above left NULL holes: free item by item. */
        for (size_t i = 0; i < n; i++)
                free(list[i]);
        free(list);
}

/* Read the keys of one document into obj by the kind's table. found[i] is
 * the value node of fields[i] (NULL when absent or null). */
static void read_fields(ctx *c, const sm_yaml_node *map, kind k, void *obj, uint64_t *set,
                        const sm_yaml_node **found, const sm_yaml_node **found_key)
{
        const field *fields = kinds[k].fields;

        for (size_t p = 0; p < map->n_pairs; p++) {
                const sm_yaml_node *key = map->pairs[p].key, *v = map->pairs[p].value;
                const char *name = key->value;
                size_t i;
                int r = 0;

                for (const alias *a = kinds[k].aliases; a->alias; a++)
                        if (streq(name, a->alias)) {
                                name = a->key;
                                break;
                        }
                for (i = 0; fields[i].key; i++)
                        if (streq(fields[i].key, name))
                                break;
                if (!fields[i].key)
                        continue; /* "kind", or unknown and already reported */
                if (found_key[i]) {
                        err(c, key, "%s and %s set the same thing; keep one", esc(c, key->value),
                            esc(c, found_key[i]->value));
                        continue;
                }
                found_key[i] = key;
                /* "key:" with no value reads as not written, so a template
                 * can leave optional keys empty. */
                if (sm_yaml_is_null(v))
                        continue;
                found[i] = v;

                const field *f = &fields[i];
                switch (f->type) {
                case F_STRING: {
                        char *s = NULL;

                        r = sm_yaml_get_string(c->path, v, f->key, &s, c->diags);
                        if (r < 0) {
                                getter_failed(c, r);
                                break;
                        }
                        if (f->valid && !f->valid(s))
                                err(c, v, "%s %s is not %s", f->key, esc(c, s), f->rule);
                        free(*slot_str(obj, f));
                        *slot_str(obj, f) = s;
                        break;
                }
                case F_STRV:
                        r = read_strv(c, v, f, (char ***)((char *)obj + f->offset));
                        break;
                case F_BOOL:
                        r = sm_yaml_get_bool(c->path, v, f->key, (bool *)((char *)obj + f->offset),
                                             c->diags);
                        if (r < 0)
                                getter_failed(c, r);
                        break;
                case F_INT:
                        r = sm_yaml_get_int(c->path, v, f->key, f->min, f->max,
                                            (int64_t *)((char *)obj + f->offset), c->diags);
                        if (r < 0)
                                getter_failed(c, r);
                        break;
                case F_ENUM: {
                        _cleanup_free_ char *s = NULL;
                        size_t e;

                        r = sm_yaml_get_string(c->path, v, f->key, &s, c->diags);
                        if (r < 0) {
                                getter_failed(c, r);
                                break;
                        }
                        for (e = 0; f->names[e]; e++)
                                if (streq(f->names[e], s))
                                        break;
                        if (!f->names[e]) {
                                err(c, v, "%s %s is not valid%s", f->key, esc(c, s),
                                    enum_hint(c, s, f->names));
                                r = -EINVAL;
                                break;
                        }
                        *(int *)((char *)obj + f->offset) = (int)e;
                        break;
                }
                case F_TAGS:
                        r = read_tags(c, v, f->key, (sm_tags *)((char *)obj + f->offset));
                        break;
                case F_USERS:
                        /* after the loop: they need the domain's name */
                        break;
                }
                if (r == 0 && f->bit >= 0)
                        *set |= UINT64_C(1) << f->bit;
        }
        for (size_t i = 0; fields[i].key; i++)
                if (fields[i].required && !found[i]) {
                        if (found_key[i])
                                err(c, found_key[i], "%s must have a value", fields[i].key);
                        else
                                err(c, map, "%s needs %s", kind_names[k], esc(c, fields[i].key));
                }
}

static size_t field_index(kind k, const char *key)
{
        size_t i;

        for (i = 0; kinds[k].fields[i].key; i++)
                if (streq(kinds[k].fields[i].key, key))
                        break;
        return i;
}

static void set_source(ctx *c, sm_source *s, const sm_yaml_node *n)
{
        s->file = strdup(c->path);
        s->line = n->line;
        s->column = n->column;
        if (!s->file)
                c->oom = -ENOMEM;
}

/* Room for the found[] arrays of read_fields(): every table must fit. */
#define N_FIELDS_MAX 40
_Static_assert(ELEMENTSOF(domain_fields) <= N_FIELDS_MAX, "domain_fields too long");
_Static_assert(ELEMENTSOF(user_fields) <= N_FIELDS_MAX, "user_fields too long");
_Static_assert(ELEMENTSOF(space_fields) <= N_FIELDS_MAX, "space_fields too long");

static void parse_domain(ctx *c, const sm_yaml_node *map, sm_desired *objs)
{
        const sm_yaml_node *found[N_FIELDS_MAX] = {0}, *found_key[N_FIELDS_MAX] = {0};
        const sm_yaml_node *idle, *mn, *mx;
        sm_domain d;

        if (sm_desired_domain_init(&d) < 0) {
                c->oom = -ENOMEM;
                return;
        }
        set_source(c, &d.source, map);
        read_fields(c, map, KIND_DOMAIN, &d, &d.set, found, found_key);

#define FOUND(key) found[field_index(KIND_DOMAIN, key)]
        /* A custom image is a pair: SageMaker needs both names. */
        if (!FOUND("app_image_config_name") != !FOUND("image_name")) {
                if (FOUND("app_image_config_name"))
                        err(c, FOUND("app_image_config_name"),
                            "app_image_config_name needs image_name as well (a custom image "
                            "takes both)");
                else
                        err(c, FOUND("image_name"),
                            "image_name needs app_image_config_name as well (a custom image "
                            "takes both)");
        }

        /* The original module's rule: bounds without the timeout itself
         * make no sense; and SageMaker wants min <= idle <= max. */
        idle = FOUND("idle_timeout_in_minutes");
        mn = FOUND("min_idle_timeout_in_minutes");
        mx = FOUND("max_idle_timeout_in_minutes");
        if (!idle) {
                if (mn)
                        err(c, mn, "min_idle_timeout_in_minutes needs idle_timeout_in_minutes");
                if (mx)
                        err(c, mx, "max_idle_timeout_in_minutes needs idle_timeout_in_minutes");
        } else {
                uint64_t all = (UINT64_C(1) << SM_DOMAIN_IDLE_TIMEOUT_IN_MINUTES) |
                               (UINT64_C(1) << SM_DOMAIN_MIN_IDLE_TIMEOUT_IN_MINUTES);
                if (mn && (d.set & all) == all &&
                    d.min_idle_timeout_in_minutes > d.idle_timeout_in_minutes)
                        err(c, mn,
                            "min_idle_timeout_in_minutes (%" PRId64 ") is more than "
                            "idle_timeout_in_minutes (%" PRId64 ")",
                            d.min_idle_timeout_in_minutes, d.idle_timeout_in_minutes);
                all = (UINT64_C(1) << SM_DOMAIN_IDLE_TIMEOUT_IN_MINUTES) |
                      (UINT64_C(1) << SM_DOMAIN_MAX_IDLE_TIMEOUT_IN_MINUTES);
                if (mx && (d.set & all) == all &&
                    d.max_idle_timeout_in_minutes < d.idle_timeout_in_minutes)
                        err(c, mx,
                            "max_idle_timeout_in_minutes (%" PRId64 ") is less than "
                            "idle_timeout_in_minutes (%" PRId64 ")",
                            d.max_idle_timeout_in_minutes, d.idle_timeout_in_minutes);
        }

        if (d.mlflow_enabled && !FOUND("mlflow_artifact_store_bucket_name"))
                err(c, FOUND("mlflow_enabled"),
                    "mlflow_enabled needs mlflow_artifact_store_bucket_name (where the MLflow "
                    "server keeps its artifacts)");

        for (size_t i = 0; domain_fields[i].key; i++)
                if (domain_fields[i].type == F_USERS && found[i])
                        read_domain_users(c, found[i], &domain_fields[i],
                                          sm_desired_name_valid(d.name) ? d.name : NULL, objs);
#undef FOUND
        if (sm_desired_add_domain(objs, &d) < 0) {
                sm_desired_domain_done(&d);
                c->oom = -ENOMEM;
        }
}

static void parse_user(ctx *c, const sm_yaml_node *map, sm_desired *objs)
{
        const sm_yaml_node *found[N_FIELDS_MAX] = {0}, *found_key[N_FIELDS_MAX] = {0};
        const sm_yaml_node *n;
        sm_user u;

        sm_desired_user_init(&u);
        set_source(c, &u.source, map);
        read_fields(c, map, KIND_USER, &u, &u.set, found, found_key);
        n = found[field_index(KIND_USER, "domain")];
        if (n)
                set_source(c, &u.domain_source, n);
        n = found[field_index(KIND_USER, "sso_user_value")];
        if (n)
                set_source(c, &u.sso_user_value_source, n);
        if (sm_desired_add_user(objs, &u) < 0) {
                sm_desired_user_done(&u);
                c->oom = -ENOMEM;
        }
}

static void parse_space(ctx *c, const sm_yaml_node *map, sm_desired *objs)
{
        const sm_yaml_node *found[N_FIELDS_MAX] = {0}, *found_key[N_FIELDS_MAX] = {0};
        const sm_yaml_node *n;
        sm_space s;

        sm_desired_space_init(&s);
        set_source(c, &s.source, map);
        read_fields(c, map, KIND_SPACE, &s, &s.set, found, found_key);
        n = found[field_index(KIND_SPACE, "domain")];
        if (n)
                set_source(c, &s.domain_source, n);
        n = found[field_index(KIND_SPACE, "owner")];
        if (n)
                set_source(c, &s.owner_source, n);
        /* A private space is somebody's: SageMaker needs the owner. */
        if (s.sharing == SM_SHARING_PRIVATE && !s.owner)
                err(c, found[field_index(KIND_SPACE, "sharing")],
                    "a Private space needs \"owner\"");
        if (sm_desired_add_space(objs, &s) < 0) {
                sm_desired_space_done(&s);
                c->oom = -ENOMEM;
        }
}

static void parse_document(ctx *c, const sm_yaml_doc *doc, sm_desired *objs)
{
        const sm_yaml_node *root = doc->root, *kn;
        _cleanup_free_ char *kname = NULL;
        _cleanup_free_ const char **allowed = NULL;
        size_t k;
        int r;

        /* An empty document ("---" at the end, a file of comments) says
         * nothing and is no error. */
        if (!root)
                return;
        if (root->kind != SM_YAML_MAPPING) {
                err(c, root, "a manifest document must be a mapping with \"kind\", not %s",
                    sm_yaml_describe(root));
                return;
        }
        kn = sm_yaml_get(root, "kind");
        if (!kn || sm_yaml_is_null(kn)) {
                err(c, root, "document has no \"kind\" (Domain, User or Space)");
                return;
        }
        r = sm_yaml_get_string(c->path, kn, "kind", &kname, c->diags);
        if (r < 0) {
                getter_failed(c, r);
                return;
        }
        for (k = 0; k < _KIND_MAX; k++)
                if (streq(kind_names[k], kname))
                        break;
        if (k == _KIND_MAX) {
                /* Without the kind, the keys cannot be judged: stop here. */
                err(c, kn, "unknown kind %s%s", esc(c, kname), enum_hint(c, kname, kind_names));
                return;
        }
        allowed = allowed_keys(k);
        if (!allowed) {
                c->oom = -ENOMEM;
                return;
        }
        c->n_errors += sm_yaml_check_keys(c->path, root, allowed, kind_names[k], c->diags);
        switch (k) {
        case KIND_DOMAIN:
                parse_domain(c, root, objs);
                break;
        case KIND_USER:
                parse_user(c, root, objs);
                break;
        case KIND_SPACE:
                parse_space(c, root, objs);
                break;
        default:
                break;
        }
}

sm_manifest_file *sm_manifest_file_free(sm_manifest_file *f)
{
        if (!f)
                return NULL;
        free(f->path);
        sm_desired_free(f->objs);
        free(f);
        return NULL;
}

DEFINE_POINTER_CLEANUP(sm_manifest_file, sm_manifest_file_free);
DEFINE_POINTER_CLEANUP(sm_yaml_stream, sm_yaml_stream_free);

const char *sm_manifest_file_path(const sm_manifest_file *f)
{
        return f ? f->path : NULL;
}

int sm_manifest_file_parse(const char *path, const void *data, size_t len, sm_manifest_file **ret,
                           sm_diags *diags)
{
        _cleanup_(sm_yaml_stream_freep) sm_yaml_stream *stream = NULL;
        _cleanup_(sm_manifest_file_freep) sm_manifest_file *f = NULL;
        sm_diags mine = {0};
        ctx c = {.path = path, .diags = &mine};
        int r;

        r = sm_yaml_parse(path, data, len, NULL, &stream, &mine);
        if (r < 0)
                goto done;
        f = calloc(1, sizeof(*f));
        if (!f || !(f->path = strdup(path)) || !(f->objs = sm_desired_new())) {
                r = -ENOMEM;
                goto done;
        }
        for (size_t i = 0; i < stream->n_docs && !c.oom; i++)
                parse_document(&c, &stream->docs[i], f->objs);
        if (c.oom)
                r = -ENOMEM;
        else if (c.n_errors > 0 || mine.n > 0)
                r = -EINVAL;
done:
        ctx_done(&c);
        /* In place order, so a person reads the file top to bottom. */
        sm_diags_sort(&mine);
        if (sm_diags_take(diags, &mine) < 0 && r == 0)
                r = -ENOMEM;
        sm_diags_done(&mine);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(f);
        return 0;
}

/* ---- across files ----------------------------------------------------- */

/* Indexes into an array sorted by a key, ties in input order: the first of
 * equal keys is the one written first (by file order, then line), which is
 * the one a "defined twice" error names as the original. */
typedef struct ref {
        const char *domain;
        const char *name;
        size_t index;
} ref;

static int cmp_ref(const void *a, const void *b)
{
        const ref *x = a, *y = b;
        int r = strcmp(x->domain ? x->domain : "", y->domain ? y->domain : "");

        if (r == 0)
                r = strcmp(x->name, y->name);
        if (r == 0)
                r = x->index < y->index ? -1 : x->index > y->index;
        return r;
}

static bool same_key(const ref *x, const ref *y)
{
        return streq_ptr(x->domain, y->domain) && streq(x->name, y->name);
}

typedef struct build {
        ctx c;
        sm_desired *d;
        const char **domain_names; /* NULL-terminated, for did-you-mean */
} build;

static const sm_domain *find_domain(build *b, const char *name)
{
        for (size_t i = 0; i < b->d->n_domains; i++)
                if (streq(b->d->domains[i].name, name))
                        return &b->d->domains[i];
        return NULL;
}

/* Resolve the domain of a User or Space; false when it has none. */
static bool resolve_domain(build *b, const char *what, const char *name, char **domain,
                           const sm_source *domain_source, const sm_source *source)
{
        ctx *c = &b->c;

        if (*domain) {
                const char *guess;

                if (find_domain(b, *domain))
                        return true;
                guess = sm_spell_closest(*domain, b->domain_names);
                if (guess)
                        err_src(c, domain_source,
                                "%s %s names domain %s, which no manifest defines (did you mean "
                                "\"%s\"?)",
                                what, esc(c, name), esc(c, *domain), guess);
                else
                        err_src(c, domain_source,
                                "%s %s names domain %s, which no manifest defines", what,
                                esc(c, name), esc(c, *domain));
                return false;
        }
        if (b->d->n_domains == 1) {
                *domain = strdup(b->d->domains[0].name);
                if (!*domain)
                        c->oom = -ENOMEM;
                return *domain != NULL;
        }
        if (b->d->n_domains == 0)
                err_src(c, source, "%s %s has no domain to belong to: no manifest defines a Domain",
                        what, esc(c, name));
        else
                err_src(c, source, "%s %s needs \"domain\": there are %zu domains to choose from",
                        what, esc(c, name), b->d->n_domains);
        return false;
}

static ref *make_refs(size_t n)
{
        return calloc(n ? n : 1, sizeof(ref));
}

static void check_domains(build *b)
{
        sm_desired *d = b->d;
        _cleanup_free_ ref *refs = make_refs(d->n_domains);

        if (!refs) {
                b->c.oom = -ENOMEM;
                return;
        }
        for (size_t i = 0; i < d->n_domains; i++)
                refs[i] = (ref){NULL, d->domains[i].name, i};
        qsort(refs, d->n_domains, sizeof(ref), cmp_ref);
        for (size_t i = 1; i < d->n_domains; i++)
                if (same_key(&refs[i], &refs[i - 1])) {
                        const sm_source *first = &d->domains[refs[i - 1].index].source;

                        err_src(&b->c, &d->domains[refs[i].index].source,
                                "domain %s is defined twice (first at %s:%u:%u)",
                                esc(&b->c, refs[i].name), first->file, first->line, first->column);
                }
}

static void check_users(build *b)
{
        sm_desired *d = b->d;
        ctx *c = &b->c;
        _cleanup_free_ ref *refs = make_refs(d->n_users);
        size_t n = 0;

        if (!refs) {
                c->oom = -ENOMEM;
                return;
        }
        for (size_t i = 0; i < d->n_users; i++) {
                sm_user *u = &d->users[i];
                const sm_domain *dom;

                if (!resolve_domain(b, "user", u->name, &u->domain, &u->domain_source, &u->source))
                        continue;
                refs[n++] = (ref){u->domain, u->name, i};
                dom = find_domain(b, u->domain);
                if (!(u->set & (UINT64_C(1) << SM_USER_SPACE)))
                        u->space = dom->enable_jupyterlab_app;
                if (dom->auth_mode == SM_AUTH_SSO) {
                        if (!u->sso_user_value && !(u->sso_user_value = strdup(u->name)))
                                c->oom = -ENOMEM;
                } else if (u->set & (UINT64_C(1) << SM_USER_SSO_USER_VALUE))
                        err_src(c, &u->sso_user_value_source,
                                "sso_user_value is only for domains with auth_mode SSO; domain %s "
                                "uses IAM",
                                esc(c, dom->name));
                if (u->space && strlen(u->name) + strlen(SM_USER_SPACE_SUFFIX) > SM_NAME_MAX)
                        err_src(c, &u->source,
                                "user %s is too long to have a JupyterLab space: "
                                "\"%s" SM_USER_SPACE_SUFFIX "\" would be %zu characters, over "
                                "SageMaker's %d (at most %zu for a user with a space)",
                                esc(c, u->name), u->name,
                                strlen(u->name) + strlen(SM_USER_SPACE_SUFFIX), SM_NAME_MAX,
                                SM_NAME_MAX - strlen(SM_USER_SPACE_SUFFIX));
        }
        qsort(refs, n, sizeof(ref), cmp_ref);
        for (size_t i = 1; i < n; i++) {
                const sm_user *u = &d->users[refs[i].index], *first;

                if (!same_key(&refs[i], &refs[i - 1]))
                        continue;
                first = &d->users[refs[i - 1].index];
                if (u->group != first->group)
                        err_src(c, &u->source,
                                "user %s of domain %s is both a data scientist and a lead data "
                                "scientist (also at %s:%u:%u); pick one group",
                                esc(c, u->name), esc(c, u->domain), first->source.file,
                                first->source.line, first->source.column);
                else
                        err_src(c, &u->source,
                                "user %s of domain %s is defined twice (first at %s:%u:%u)",
                                esc(c, u->name), esc(c, u->domain), first->source.file,
                                first->source.line, first->source.column);
        }
}

static bool user_exists(build *b, const char *domain, const char *name)
{
        for (size_t i = 0; i < b->d->n_users; i++)
                if (streq_ptr(b->d->users[i].domain, domain) && streq(b->d->users[i].name, name))
                        return true;
        return false;
}

/* Every user with a space gets "<user>-JupyterLab-space", as the original
 * module made them, so its spaces are found and kept. */
static int generate_spaces(build *b)
{
        sm_desired *d = b->d;
        size_t n_users = d->n_users;

        for (size_t i = 0; i < n_users; i++) {
                const sm_user *u = &d->users[i];
                const sm_domain *dom;
                sm_space s;
                int r = 0;

                if (!u->space || !u->domain)
                        continue;
                dom = find_domain(b, u->domain);
                sm_desired_space_init(&s);
                s.generated = true;
                s.sharing =
                        dom->enable_jupyterlab_app_sharing ? SM_SHARING_SHARED : SM_SHARING_PRIVATE;
                s.app_type = SM_APP_JUPYTERLAB;
                s.set = (UINT64_C(1) << SM_SPACE_DOMAIN) | (UINT64_C(1) << SM_SPACE_OWNER) |
                        (UINT64_C(1) << SM_SPACE_SHARING) | (UINT64_C(1) << SM_SPACE_APP_TYPE) |
                        (UINT64_C(1) << SM_SPACE_INSTANCE_TYPE);
                if (u->set & (UINT64_C(1) << SM_USER_TAGS))
                        s.set |= UINT64_C(1) << SM_SPACE_TAGS;
                s.adopt = u->adopt;
                if (asprintf(&s.name, "%s" SM_USER_SPACE_SUFFIX, u->name) < 0)
                        s.name = NULL;
                s.domain = strdup(u->domain);
                s.owner = strdup(u->name);
                s.instance_type = strdup(u->instance_type ? u->instance_type
                                                          : dom->jupyterlab_app_instance_type);
                if (!s.name || !s.domain || !s.owner || !s.instance_type)
                        r = -ENOMEM;
                if (r == 0)
                        r = sm_desired_source_copy(&s.source, &u->source);
                if (r == 0)
                        r = sm_desired_source_copy(&s.owner_source, &u->source);
                if (r == 0)
                        r = sm_desired_tags_copy(&s.tags, &u->tags);
                if (r == 0)
                        r = sm_desired_add_space(d, &s);
                if (r < 0) {
                        sm_desired_space_done(&s);
                        return -ENOMEM;
                }
        }
        return 0;
}

static void check_spaces(build *b, size_t n_declared)
{
        sm_desired *d = b->d;
        ctx *c = &b->c;
        _cleanup_free_ ref *refs = make_refs(d->n_spaces);
        size_t n = 0;

        if (!refs) {
                c->oom = -ENOMEM;
                return;
        }
        for (size_t i = 0; i < d->n_spaces; i++) {
                sm_space *s = &d->spaces[i];

                if (i < n_declared) {
                        if (!resolve_domain(b, "space", s->name, &s->domain, &s->domain_source,
                                            &s->source))
                                continue;
                        if (s->owner && !user_exists(b, s->domain, s->owner))
                                err_src(c, &s->owner_source,
                                        "owner %s of space %s is not a user of domain %s",
                                        esc(c, s->owner), esc(c, s->name), esc(c, s->domain));
                }
                refs[n++] = (ref){s->domain, s->name, i};
        }
        qsort(refs, n, sizeof(ref), cmp_ref);
        for (size_t i = 1; i < n; i++) {
                const sm_space *s = &d->spaces[refs[i].index],
                               *first = &d->spaces[refs[i - 1].index];

                if (!same_key(&refs[i], &refs[i - 1]))
                        continue;
                /* Two generated ones mean a user defined twice: said already. */
                if (s->generated && first->generated)
                        continue;
                if (s->generated || first->generated) {
                        const sm_space *decl = s->generated ? first : s;
                        const sm_space *gen = s->generated ? s : first;

                        err_src(c, &decl->source,
                                "space %s of domain %s has the name of user %s's own JupyterLab "
                                "space (user at %s:%u:%u)",
                                esc(c, decl->name), esc(c, decl->domain), esc(c, gen->owner),
                                gen->source.file, gen->source.line, gen->source.column);
                } else
                        err_src(c, &s->source,
                                "space %s of domain %s is defined twice (first at %s:%u:%u)",
                                esc(c, s->name), esc(c, s->domain), first->source.file,
                                first->source.line, first->source.column);
        }
}

static int copy_files(sm_manifest_file *const *files, size_t n_files, sm_desired *d)
{
        for (size_t i = 0; i < n_files; i++) {
                const sm_desired *o = files[i]->objs;

                for (size_t j = 0; j < o->n_domains; j++) {
                        sm_domain x;

                        if (sm_desired_domain_copy(&x, &o->domains[j]) < 0)
                                return -ENOMEM;
                        if (sm_desired_add_domain(d, &x) < 0)
                                return sm_desired_domain_done(&x), -ENOMEM;
                }
                for (size_t j = 0; j < o->n_users; j++) {
                        sm_user x;

                        if (sm_desired_user_copy(&x, &o->users[j]) < 0)
                                return -ENOMEM;
                        if (sm_desired_add_user(d, &x) < 0)
                                return sm_desired_user_done(&x), -ENOMEM;
                }
                for (size_t j = 0; j < o->n_spaces; j++) {
                        sm_space x;

                        if (sm_desired_space_copy(&x, &o->spaces[j]) < 0)
                                return -ENOMEM;
                        if (sm_desired_add_space(d, &x) < 0)
                                return sm_desired_space_done(&x), -ENOMEM;
                }
        }
        return 0;
}

DEFINE_POINTER_CLEANUP(sm_desired, sm_desired_free);

int sm_desired_build(sm_manifest_file *const *files, size_t n_files, sm_desired **ret,
                     sm_diags *diags)
{
        _cleanup_(sm_desired_freep) sm_desired *d = sm_desired_new();
        sm_diags mine = {0};
        build b = {.c = {.diags = &mine}};
        size_t n_declared;
        int r = 0;

        if (!d)
                return -ENOMEM;
        b.d = d;
        r = copy_files(files, n_files, d);
        if (r < 0)
                goto done;
        b.domain_names = calloc(d->n_domains + 1, sizeof(char *));
        if (!b.domain_names) {
                r = -ENOMEM;
                goto done;
        }
        for (size_t i = 0; i < d->n_domains; i++)
                b.domain_names[i] = d->domains[i].name;

        check_domains(&b);
        check_users(&b);
        n_declared = d->n_spaces;
        if (!b.c.oom && generate_spaces(&b) < 0)
                b.c.oom = -ENOMEM;
        check_spaces(&b, n_declared);
        if (b.c.oom)
                r = -ENOMEM;
        else if (b.c.n_errors > 0)
                r = -EINVAL;
done:
        free(b.domain_names);
        ctx_done(&b.c);
        sm_diags_sort(&mine);
        if (sm_diags_take(diags, &mine) < 0 && r == 0)
                r = -ENOMEM;
        sm_diags_done(&mine);
        if (r < 0)
                return r;
        sm_desired_sort(d);
        *ret = TAKE_PTR(d);
        return 0;
}
