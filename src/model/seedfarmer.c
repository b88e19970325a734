/* SPDX-License-Identifier: Apache-2.0 */
/* seed-farmer manifest of the original module -> smstudio manifest. The
 * input is read with the same YAML reader as manifests (limits, places);
 * the output's scalars, lists and mappings are rendered by libyaml's emitter
 * one `key: value` chunk at a time, because the comments that make the
 * result usable (TODO markers, what was left behind) are outside what an
 * emitter can write, and quoting is exactly what is easy to get wrong by
 * hand. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <jansson.h>
#include <yaml.h>

#include "smstudio/macro.h"
#include "smstudio/seedfarmer.h"
#include "smstudio/spell.h"
#include "smstudio/yamlnode.h"

typedef enum vtype {
        VT_STRING,
        VT_BOOL,
        VT_INT,
        VT_LIST,
        VT_MAP,
} vtype;

/* The Domain document's keys in the order they are written: the manifest
 * reference's (manifest.c's domain_fields, docs/smstudio.d.5). */
enum {
        S_NAME,
        S_VPC_ID,
        S_SUBNET_IDS,
        S_AUTH_MODE,
        S_STUDIO_BUCKET_NAME,
        S_ROLE_PATH,
        S_PERMISSIONS_BOUNDARY,
        S_APP_IMAGE_CONFIG_NAME,
        S_IMAGE_NAME,
        S_RETAIN_EFS,
        S_ENABLE_CUSTOM_SAGEMAKER_PROJECTS,
        S_ENABLE_DOMAIN_RESOURCE_ISOLATION,
        S_ENABLE_JUPYTERLAB_APP,
        S_ENABLE_JUPYTERLAB_APP_SHARING,
        S_ENABLE_DOCKER_ACCESS,
        S_VPC_ONLY_TRUSTED_ACCOUNTS,
        S_JUPYTERLAB_APP_INSTANCE_TYPE,
        S_IDLE_TIMEOUT,
        S_MIN_IDLE_TIMEOUT,
        S_MAX_IDLE_TIMEOUT,
        S_MLFLOW_ENABLED,
        S_MLFLOW_SERVER_NAME,
        S_MLFLOW_SERVER_VERSION,
        S_MLFLOW_SERVER_SIZE,
        S_MLFLOW_BUCKET_NAME,
        S_MLFLOW_BUCKET_PREFIX,
        S_SERVER_LIFECYCLE_NAME,
        S_TAGS,
        /* Written only while a placeholder: else they become User documents. */
        S_DATA_SCIENCE_USERS,
        S_LEAD_DATA_SCIENCE_USERS,
        /* Folded into other keys before writing. */
        S_CUSTOM_TAGS,
        S_PERMISSIONS_BOUNDARY_ARN,
        S_MAX,
};

typedef struct slot_def {
        const char *key; /* the smstudio key */
        vtype type;
} slot_def;

static const slot_def slot_defs[S_MAX] = {
        [S_NAME] = {"name", VT_STRING},
        [S_VPC_ID] = {"vpc_id", VT_STRING},
        [S_SUBNET_IDS] = {"subnet_ids", VT_LIST},
        [S_AUTH_MODE] = {"auth_mode", VT_STRING},
        [S_STUDIO_BUCKET_NAME] = {"studio_bucket_name", VT_STRING},
        [S_ROLE_PATH] = {"role_path", VT_STRING},
        [S_PERMISSIONS_BOUNDARY] = {"permissions_boundary", VT_STRING},
        [S_APP_IMAGE_CONFIG_NAME] = {"app_image_config_name", VT_STRING},
        [S_IMAGE_NAME] = {"image_name", VT_STRING},
        [S_RETAIN_EFS] = {"retain_efs", VT_BOOL},
        [S_ENABLE_CUSTOM_SAGEMAKER_PROJECTS] = {"enable_custom_sagemaker_projects", VT_BOOL},
        [S_ENABLE_DOMAIN_RESOURCE_ISOLATION] = {"enable_domain_resource_isolation", VT_BOOL},
        [S_ENABLE_JUPYTERLAB_APP] = {"enable_jupyterlab_app", VT_BOOL},
        [S_ENABLE_JUPYTERLAB_APP_SHARING] = {"enable_jupyterlab_app_sharing", VT_BOOL},
        [S_ENABLE_DOCKER_ACCESS] = {"enable_docker_access", VT_BOOL},
        [S_VPC_ONLY_TRUSTED_ACCOUNTS] = {"vpc_only_trusted_accounts", VT_LIST},
        [S_JUPYTERLAB_APP_INSTANCE_TYPE] = {"jupyterlab_app_instance_type", VT_STRING},
        [S_IDLE_TIMEOUT] = {"idle_timeout_in_minutes", VT_INT},
        [S_MIN_IDLE_TIMEOUT] = {"min_idle_timeout_in_minutes", VT_INT},
        [S_MAX_IDLE_TIMEOUT] = {"max_idle_timeout_in_minutes", VT_INT},
        [S_MLFLOW_ENABLED] = {"mlflow_enabled", VT_BOOL},
        [S_MLFLOW_SERVER_NAME] = {"mlflow_server_name", VT_STRING},
        [S_MLFLOW_SERVER_VERSION] = {"mlflow_server_version", VT_STRING},
        [S_MLFLOW_SERVER_SIZE] = {"mlflow_server_size", VT_STRING},
        [S_MLFLOW_BUCKET_NAME] = {"mlflow_artifact_store_bucket_name", VT_STRING},
        [S_MLFLOW_BUCKET_PREFIX] = {"mlflow_artifact_store_bucket_prefix", VT_STRING},
        [S_SERVER_LIFECYCLE_NAME] = {"server_lifecycle_name", VT_STRING},
        [S_TAGS] = {"tags", VT_MAP},
        [S_DATA_SCIENCE_USERS] = {"data_science_users", VT_LIST},
        [S_LEAD_DATA_SCIENCE_USERS] = {"lead_data_science_users", VT_LIST},
        [S_CUSTOM_TAGS] = {"custom_tags", VT_MAP},
        [S_PERMISSIONS_BOUNDARY_ARN] = {"permissions_boundary", VT_STRING},
};

/* The module's parameters (settings.py, deployspec.yaml and the README's
 * older names) and where each goes. */
typedef struct param_def {
        const char *name;
        int slot;        /* -1: not carried over */
        const char *why; /* when not carried over */
} param_def;

#define CDK_SYNTH "a CDK synthesizer setting, and smstudio does not deploy with CDK"

static const param_def params[] = {
        {"vpc_id", S_VPC_ID, NULL},
        {"subnet_ids", S_SUBNET_IDS, NULL},
        {"studio_domain_name", S_NAME, NULL},
        {"studio_bucket_name", S_STUDIO_BUCKET_NAME, NULL},
        {"app_image_config_name", S_APP_IMAGE_CONFIG_NAME, NULL},
        {"image_name", S_IMAGE_NAME, NULL},
        {"enable_custom_sagemaker_projects", S_ENABLE_CUSTOM_SAGEMAKER_PROJECTS, NULL},
        {"enable_domain_resource_isolation", S_ENABLE_DOMAIN_RESOURCE_ISOLATION, NULL},
        {"enable_jupyterlab_app", S_ENABLE_JUPYTERLAB_APP, NULL},
        {"enable_jupyterlab_app_sharing", S_ENABLE_JUPYTERLAB_APP_SHARING, NULL},
        {"enable_docker_access", S_ENABLE_DOCKER_ACCESS, NULL},
        {"vpc_only_trusted_accounts", S_VPC_ONLY_TRUSTED_ACCOUNTS, NULL},
        {"jupyterlab_app_instance_type", S_JUPYTERLAB_APP_INSTANCE_TYPE, NULL},
        {"auth_mode", S_AUTH_MODE, NULL},
        {"role_path", S_ROLE_PATH, NULL},
        {"permissions_boundary_name", S_PERMISSIONS_BOUNDARY, NULL},
        {"permissions_boundary_arn", S_PERMISSIONS_BOUNDARY_ARN, NULL},
        {"data_science_users", S_DATA_SCIENCE_USERS, NULL},
        {"lead_data_science_users", S_LEAD_DATA_SCIENCE_USERS, NULL},
        {"idle_timeout_in_minutes", S_IDLE_TIMEOUT, NULL},
        {"min_idle_timeout_in_minutes", S_MIN_IDLE_TIMEOUT, NULL},
        {"max_idle_timeout_in_minutes", S_MAX_IDLE_TIMEOUT, NULL},
        {"mlflow_enabled", S_MLFLOW_ENABLED, NULL},
        {"mlflow_server_name", S_MLFLOW_SERVER_NAME, NULL},
        {"mlflow_server_version", S_MLFLOW_SERVER_VERSION, NULL},
        {"mlflow_server_size", S_MLFLOW_SERVER_SIZE, NULL},
        {"mlflow_artifact_store_bucket_name", S_MLFLOW_BUCKET_NAME, NULL},
        {"mlflow_artifact_store_bucket_prefix", S_MLFLOW_BUCKET_PREFIX, NULL},
        {"tags", S_TAGS, NULL},
        {"custom_tags", S_CUSTOM_TAGS, NULL},
        {"retain_efs", S_RETAIN_EFS, NULL},
        {"server_lifecycle_name", S_SERVER_LIFECYCLE_NAME, NULL},
        {"qualifier", -1, CDK_SYNTH},
        {"cloud_formation_execution_role", -1, CDK_SYNTH},
        {"deploy_role_arn", -1, CDK_SYNTH},
        {"file_asset_publishing_role_arn", -1, CDK_SYNTH},
        {"image_asset_publishing_role_arn", -1, CDK_SYNTH},
        {"lookup_role_arn", -1, CDK_SYNTH},
};

/* One converted value. A placeholder (todo != NULL) keeps the slot's type
 * in shape (a list stays a list) so the only thing wrong with the output is
 * the marked value. */
typedef struct slotval {
        bool set;
        char *todo;    /* why a value is needed (the TODO comment) */
        unsigned line; /* of the parameter entry */
        unsigned column;
        char *s;
        bool b;
        int64_t i;
        char **v; /* VT_LIST: items; VT_MAP: key, value, key, value... */
        size_t n; /* items (VT_MAP: pairs) */
} slotval;

typedef struct user_entry {
        const char *name; /* borrowed from the slot's list */
        int group;        /* S_DATA_SCIENCE_USERS, S_LEAD_DATA_SCIENCE_USERS or -1: both */
} user_entry;

typedef struct conv {
        const char *path;
        sm_diags *notes;
        sm_diags *errors;
        unsigned n_todo;
} conv;

typedef struct module {
        const sm_yaml_node *doc;
        unsigned line;
        const char *name;        /* the seed-farmer module's name, or NULL */
        const char *source_path; /* its path: */
        slotval slots[S_MAX];
        unsigned seen_line[ELEMENTSOF(params)];
        sm_buf leftovers; /* commented-out parameters, for the end of the Domain */
        sm_buf notes;     /* comments for the top of the Domain */
} module;

static void slotval_done(slotval *sv)
{
        free(sv->todo);
        free(sv->s);
        for (size_t i = 0; sv->v && sv->v[i]; i++)
                free(sv->v[i]);
        free(sv->v);
        *sv = (slotval){0};
}

static void module_done(module *m)
{
        for (size_t i = 0; i < S_MAX; i++)
                slotval_done(&m->slots[i]);
        sm_buf_done(&m->leftovers);
        sm_buf_done(&m->notes);
}

/* ---- small text helpers ---- */

/* Append to a NULL-terminated vector (items counted by *n). */
static int strv_push(char ***v, size_t *n, char *s)
{
        char **p;

        if (!s)
                return -ENOMEM;
        p = realloc(*v, (*n + 2) * sizeof(*p));
        if (!p) {
                free(s);
                return -ENOMEM;
        }
        p[(*n)++] = s;
        p[*n] = NULL;
        *v = p;
        return 0;
}

static char *strndup_trim(const char *s, size_t n)
{
        while (n > 0 && isspace((unsigned char)*s)) {
                s++;
                n--;
        }
        while (n > 0 && isspace((unsigned char)s[n - 1]))
                n--;
        return strndup(s, n);
}

static bool strcaseeq_any(const char *s, const char *const *words)
{
        for (size_t i = 0; words[i]; i++)
                if (strcasecmp(s, words[i]) == 0)
                        return true;
        return false;
}

/* seed-farmer turns a parameter name into SEEDFARMER_PARAMETER_<UPPER_SNAKE>
 * (camelCase split at case changes, '-' and ' ' as '_') and the module's
 * settings read those case-insensitively; so lower snake_case is the one
 * spelling every accepted variant maps to. */
static char *normalize_name(const char *s)
{
        size_t n = strlen(s);
        sm_buf b = {0};
        int r = 0;

        for (size_t i = 0; i < n && r >= 0; i++) {
                unsigned char c = (unsigned char)s[i];

                if (c == '-' || c == ' ' || c == '.') {
                        r = sm_buf_putc(&b, '_');
                        continue;
                }
                if (isupper(c) && i > 0 && b.len > 0 && b.data[b.len - 1] != '_') {
                        unsigned char p = (unsigned char)s[i - 1];
                        unsigned char nx = i + 1 < n ? (unsigned char)s[i + 1] : 0;

                        if (islower(p) || isdigit(p) || (isupper(p) && islower(nx)))
                                r = sm_buf_putc(&b, '_');
                }
                if (r >= 0)
                        r = sm_buf_putc(&b, (char)tolower(c));
        }
        if (r < 0) {
                sm_buf_done(&b);
                return NULL;
        }
        return sm_buf_steal(&b);
}

/* Comments hold text from the input: one line, no control characters, so a
 * newline in a value can never end the comment and start YAML. */
_printf_(2, 3) static int put_comment(sm_buf *out, const char *fmt, ...)
{
        sm_buf t = {0};
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = sm_buf_vprintf(&t, fmt, ap);
        va_end(ap);
        if (r < 0)
                goto done;
        for (size_t i = 0; i < t.len; i++)
                if ((unsigned char)t.data[i] < 0x20 || t.data[i] == 0x7f)
                        t.data[i] = ' ';
        r = sm_buf_puts(out, t.len ? "# " : "#");
        if (r >= 0)
                r = sm_buf_puts(out, t.data);
        if (r >= 0)
                r = sm_buf_putc(out, '\n');
done:
        sm_buf_done(&t);
        return r;
}

/* Every line of text as a comment. */
static int comment_out(sm_buf *out, const char *text)
{
        const char *p = text;

        while (*p) {
                size_t l = strcspn(p, "\n");
                int r = sm_buf_puts(out, "# ");

                if (r >= 0)
                        r = sm_buf_append(out, p, l);
                if (r >= 0)
                        r = sm_buf_putc(out, '\n');
                if (r < 0)
                        return r;
                p += l;
                if (*p == '\n')
                        p++;
        }
        return 0;
}

/* ---- YAML output through libyaml's emitter ---- */

static int emit_write(void *data, unsigned char *buffer, size_t size)
{
        return sm_buf_append(data, buffer, size) >= 0;
}

static int emit(yaml_emitter_t *e, yaml_event_t *ev, int ok)
{
        /* yaml_emitter_emit owns the event whatever happens; an event that
         * failed to initialise owns nothing. */
        if (!ok)
                return -ENOMEM;
        if (!yaml_emitter_emit(e, ev))
                return e->error == YAML_MEMORY_ERROR ? -ENOMEM : -EINVAL;
        return 0;
}

/* Safe as a plain scalar read back as the same string by any YAML reader,
 * 1.1 or 1.2: starts with a letter, '_' or '/', only name-like characters
 * after, and not a word some reader takes for a boolean or null. Everything
 * else is double-quoted (the emitter escapes what needs it). */
static bool plain_safe(const char *s)
{
        static const char *const words[] = {"null", "true", "false", "yes", "no",
                                            "on",   "off",  "y",     "n",   NULL};

        if (!(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == '/'))
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char)*p) && !strchr("_-./@", *p))
                        return false;
        return !strcaseeq_any(s, words);
}

static int emit_string(yaml_emitter_t *e, const char *s)
{
        yaml_event_t ev;
        bool plain = plain_safe(s);

        return emit(e, &ev,
                    yaml_scalar_event_initialize(
                            &ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), plain, 1,
                            plain ? YAML_PLAIN_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE));
}

/* A value that is meant to be typed (true, 60): plain. */
static int emit_typed(yaml_emitter_t *e, const char *s)
{
        yaml_event_t ev;

        return emit(e, &ev,
                    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s),
                                                 1, 0, YAML_PLAIN_SCALAR_STYLE));
}

static int emit_seq_start(yaml_emitter_t *e)
{
        yaml_event_t ev;

        return emit(
                e, &ev,
                yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_FLOW_SEQUENCE_STYLE));
}

static int emit_seq_end(yaml_emitter_t *e)
{
        yaml_event_t ev;

        return emit(e, &ev, yaml_sequence_end_event_initialize(&ev));
}

static int emit_map_start(yaml_emitter_t *e, bool flow)
{
        yaml_event_t ev;

        return emit(e, &ev,
                    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                                        flow ? YAML_FLOW_MAPPING_STYLE
                                                             : YAML_BLOCK_MAPPING_STYLE));
}

static int emit_map_end(yaml_emitter_t *e)
{
        yaml_event_t ev;

        return emit(e, &ev, yaml_mapping_end_event_initialize(&ev));
}

/* An input node as it was written, on one line (flow collections); for the
 * parameters left as comments. Plain scalars stay plain so 'True' and True
 * still look different. */
static int emit_node(yaml_emitter_t *e, const sm_yaml_node *n)
{
        int r = 0;

        switch (n->kind) {
        case SM_YAML_SCALAR: {
                bool ctl = false;

                for (size_t i = 0; i < n->len; i++)
                        if ((unsigned char)n->value[i] < 0x20)
                                ctl = true;
                if (n->plain && !ctl && n->len > 0)
                        return emit_typed(e, n->value);
                if (n->plain && n->len == 0)
                        return emit_typed(e, "null");
                yaml_event_t ev;
                return emit(e, &ev,
                            yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)n->value,
                                                         (int)n->len, 0, 1,
                                                         YAML_DOUBLE_QUOTED_SCALAR_STYLE));
        }
        case SM_YAML_SEQUENCE:
                r = emit_seq_start(e);
                for (size_t i = 0; r >= 0 && i < n->n_items; i++)
                        r = emit_node(e, n->items[i]);
                return r < 0 ? r : emit_seq_end(e);
        case SM_YAML_MAPPING:
                r = emit_map_start(e, true);
                for (size_t i = 0; r >= 0 && i < n->n_pairs; i++) {
                        r = emit_node(e, n->pairs[i].key);
                        if (r >= 0)
                                r = emit_node(e, n->pairs[i].value);
                }
                return r < 0 ? r : emit_map_end(e);
        }
        return -EINVAL;
}

typedef int (*emit_value_fn)(yaml_emitter_t *e, const void *userdata);

/* One "key: value" chunk as a document of its own: a one-pair mapping,
 * implicit document start and end, so nothing but the pair is written. */
static int emit_pair(sm_buf *out, const char *key, emit_value_fn fn, const void *userdata)
{
        yaml_emitter_t e;
        yaml_event_t ev;
        int r;

        if (!yaml_emitter_initialize(&e))
                return -ENOMEM;
        yaml_emitter_set_output(&e, emit_write, out);
        yaml_emitter_set_unicode(&e, 1);
        yaml_emitter_set_width(&e, -1); /* never fold a long line */
        yaml_emitter_set_indent(&e, 2);
        yaml_emitter_set_break(&e, YAML_LN_BREAK);
        r = emit(&e, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
        if (r >= 0)
                r = emit(&e, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
        if (r >= 0)
                r = emit_map_start(&e, false);
        if (r >= 0)
                r = emit_string(&e, key);
        if (r >= 0)
                r = fn(&e, userdata);
        if (r >= 0)
                r = emit_map_end(&e);
        if (r >= 0)
                r = emit(&e, &ev, yaml_document_end_event_initialize(&ev, 1));
        if (r >= 0)
                r = emit(&e, &ev, yaml_stream_end_event_initialize(&ev));
        if (r >= 0 && !yaml_emitter_flush(&e))
                r = -ENOMEM;
        yaml_emitter_delete(&e);
        return r;
}

static int emit_string_fn(yaml_emitter_t *e, const void *userdata)
{
        return emit_string(e, userdata);
}

static int emit_typed_fn(yaml_emitter_t *e, const void *userdata)
{
        return emit_typed(e, userdata);
}

static int emit_node_fn(yaml_emitter_t *e, const void *userdata)
{
        return emit_node(e, userdata);
}

typedef struct emit_slot_args {
        const slotval *sv;
        vtype type;
        bool flow;
} emit_slot_args;

static int emit_slot_fn(yaml_emitter_t *e, const void *userdata)
{
        const emit_slot_args *a = userdata;
        const slotval *sv = a->sv;
        char num[32];
        int r;

        switch (a->type) {
        case VT_STRING:
                return emit_string(e, sv->todo ? SM_SEEDFARMER_TODO : sv->s);
        case VT_BOOL:
                if (sv->todo)
                        return emit_string(e, SM_SEEDFARMER_TODO);
                return emit_typed(e, sv->b ? "true" : "false");
        case VT_INT:
                if (sv->todo)
                        return emit_string(e, SM_SEEDFARMER_TODO);
                snprintf(num, sizeof(num), "%" PRId64, sv->i);
                return emit_typed(e, num);
        case VT_LIST:
                r = emit_seq_start(e);
                if (sv->todo && r >= 0)
                        r = emit_string(e, SM_SEEDFARMER_TODO);
                for (size_t i = 0; !sv->todo && r >= 0 && i < sv->n; i++)
                        r = emit_string(e, sv->v[i]);
                return r < 0 ? r : emit_seq_end(e);
        case VT_MAP:
                r = emit_map_start(e, a->flow || sv->todo || sv->n == 0);
                for (size_t i = 0; sv->todo && r >= 0 && i < 2; i++)
                        r = emit_string(e, SM_SEEDFARMER_TODO);
                for (size_t i = 0; !sv->todo && r >= 0 && i < 2 * sv->n; i++)
                        r = emit_string(e, sv->v[i]);
                return r < 0 ? r : emit_map_end(e);
        }
        return -EINVAL;
}

/* ---- reading parameter values ---- */

_printf_(2, 3) static int set_todo(slotval *sv, const char *fmt, ...)
{
        va_list ap;
        char *s;

        va_start(ap, fmt);
        s = sm_vstrf(fmt, ap);
        va_end(ap);
        if (!s)
                return -ENOMEM;
        free(sv->todo);
        sv->todo = s;
        sv->set = true;
        return 0;
}

static const char *const true_words[] = {"true", "t", "yes", "y", "on", "1", NULL};
static const char *const false_words[] = {"false", "f", "no", "n", "off", "0", NULL};

/* How a value looks in a message: the text of a scalar, else its kind. */
static const char *shown(const sm_yaml_node *v)
{
        return v->kind == SM_YAML_SCALAR ? v->value : sm_yaml_describe(v);
}

/* Booleans the way the module's settings read them (pydantic): the word in
 * any case, seed-farmer having turned a YAML true into "true" and kept a
 * string 'True' as it was. */
static int read_bool(const sm_yaml_node *v, slotval *sv)
{
        _cleanup_free_ char *t = NULL;

        if (v->kind == SM_YAML_SCALAR) {
                t = strndup_trim(v->value, v->len);
                if (!t)
                        return -ENOMEM;
                if (strcaseeq_any(t, true_words) || strcaseeq_any(t, false_words)) {
                        sv->b = strcaseeq_any(t, true_words);
                        sv->set = true;
                        return 0;
                }
        }
        return set_todo(sv, "was \"%s\", which the module would refuse: set true or false",
                        shown(v));
}

static int read_int(const sm_yaml_node *v, slotval *sv)
{
        _cleanup_free_ char *t = NULL;

        if (v->kind == SM_YAML_SCALAR) {
                char *end = NULL;
                long long x;

                t = strndup_trim(v->value, v->len);
                if (!t)
                        return -ENOMEM;
                errno = 0;
                x = strtoll(t, &end, 10);
                if (*t && !isspace((unsigned char)*t) && end && *end == '\0' && errno == 0) {
                        sv->i = x;
                        sv->set = true;
                        return 0;
                }
        }
        return set_todo(sv, "was \"%s\", not a whole number: set the number of minutes", shown(v));
}

static int read_string(const sm_yaml_node *v, slotval *sv)
{
        if (v->kind != SM_YAML_SCALAR)
                return set_todo(sv, "was %s, not a string: set the value", sm_yaml_describe(v));
        sv->s = strdup(v->value);
        if (!sv->s)
                return -ENOMEM;
        sv->set = true;
        return 0;
}

/* A JSON scalar as the string the module would have got, or NULL. */
static char *json_scalar_text(const json_t *j)
{
        char num[32];

        if (json_is_string(j))
                return strdup(json_string_value(j));
        if (json_is_integer(j)) {
                snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
                return strdup(num);
        }
        return NULL;
}

static int read_list(conv *c, const sm_yaml_node *v, slotval *sv, const char *key)
{
        _cleanup_free_ char *t = NULL;
        json_t *j = NULL;
        int r = 0;

        if (v->kind == SM_YAML_SEQUENCE) {
                for (size_t i = 0; i < v->n_items; i++) {
                        const sm_yaml_node *it = v->items[i];

                        if (it->kind != SM_YAML_SCALAR || sm_yaml_is_null(it))
                                goto bad;
                        r = strv_push(&sv->v, &sv->n, strdup(it->value));
                        if (r < 0)
                                return r;
                }
                sv->set = true;
                return 0;
        }
        if (v->kind != SM_YAML_SCALAR)
                goto bad;
        t = strndup_trim(v->value, v->len);
        if (!t)
                return -ENOMEM;
        if (t[0] == '[') {
                /* What seed-farmer made of a YAML list, or what a person wrote
                 * as the module's settings expect it: JSON. */
                j = json_loads(t, 0, NULL);
                if (!json_is_array(j))
                        goto bad;
                for (size_t i = 0; i < json_array_size(j); i++) {
                        char *s = json_scalar_text(json_array_get(j, i));

                        if (!s)
                                goto bad;
                        r = strv_push(&sv->v, &sv->n, s);
                        if (r < 0)
                                goto fail;
                }
                json_decref(j);
                sv->set = true;
                return 0;
        }
        /* Not JSON: the module would have failed on it; commas are the only
         * reading a person could have meant. */
        for (char *p = t, *tok; (tok = strsep(&p, ",")) != NULL;) {
                char *s = strndup_trim(tok, strlen(tok));

                if (!s)
                        return -ENOMEM;
                if (!*s) {
                        free(s);
                        continue;
                }
                r = strv_push(&sv->v, &sv->n, s);
                if (r < 0)
                        return r;
        }
        if (!sv->v) {
                sv->v = calloc(1, sizeof(char *));
                if (!sv->v)
                        return -ENOMEM;
        }
        sv->set = true;
        if (sv->n > 0) {
                r = sm_diags_add(c->notes, c->path, v->line, v->column,
                                 "%s: \"%s\" is not a JSON list (the module would have refused "
                                 "it); read as a comma-separated list",
                                 key, v->value);
                if (r < 0)
                        return r;
        }
        return 0;
bad:
        json_decref(j);
        for (size_t i = 0; i < sv->n; i++)
                free(sv->v[i]);
        free(sv->v);
        sv->v = NULL;
        sv->n = 0;
        return set_todo(sv, "was %s, not a list of strings: set the list",
                        v->kind == SM_YAML_SCALAR ? "a string" : sm_yaml_describe(v));
fail:
        json_decref(j);
        return r;
}

static int read_map(const sm_yaml_node *v, slotval *sv)
{
        _cleanup_free_ char *t = NULL;
        json_t *j = NULL;
        int r;

        if (v->kind == SM_YAML_MAPPING) {
                for (size_t i = 0; i < v->n_pairs; i++) {
                        const sm_yaml_node *val = v->pairs[i].value;

                        if (val->kind != SM_YAML_SCALAR)
                                goto bad;
                        r = strv_push(&sv->v, &sv->n, strdup(v->pairs[i].key->value));
                        if (r >= 0)
                                r = strv_push(&sv->v, &sv->n, strdup(val->value));
                        if (r < 0)
                                return r;
                }
                sv->n /= 2;
                sv->set = true;
                return 0;
        }
        if (v->kind != SM_YAML_SCALAR)
                goto bad;
        t = strndup_trim(v->value, v->len);
        if (!t)
                return -ENOMEM;
        if (t[0] != '{')
                goto bad;
        j = json_loads(t, JSON_PRESERVE_ORDER, NULL);
        if (!json_is_object(j))
                goto bad;
        {
                const char *k;
                json_t *val;
                size_t n = 0;

                json_object_foreach(j, k, val)
                {
                        char *s = json_scalar_text(val);

                        if (!s)
                                goto bad;
                        r = strv_push(&sv->v, &n, strdup(k));
                        if (r >= 0)
                                r = strv_push(&sv->v, &n, s);
                        else
                                free(s);
                        if (r < 0) {
                                sv->n = n;
                                json_decref(j);
                                return r;
                        }
                }
                sv->n = n / 2;
        }
        json_decref(j);
        sv->set = true;
        return 0;
bad:
        json_decref(j);
        for (size_t i = 0; sv->v && sv->v[i]; i++)
                free(sv->v[i]);
        free(sv->v);
        sv->v = NULL;
        sv->n = 0;
        return set_todo(sv, "was %s, not a mapping of strings: set the tags",
                        v->kind == SM_YAML_SCALAR ? "a string" : sm_yaml_describe(v));
}

/* An enum the module passed through as written: fix only the case. */
static int fix_enum_case(conv *c, const sm_yaml_node *v, slotval *sv, const char *key,
                         const char *const *names)
{
        for (size_t i = 0; names[i]; i++) {
                if (streq(sv->s, names[i]))
                        return 0;
                if (strcasecmp(sv->s, names[i]) == 0) {
                        int r = sm_diags_add(c->notes, c->path, v->line, v->column,
                                             "%s: \"%s\" written as \"%s\"", key, sv->s, names[i]);
                        if (r < 0)
                                return r;
                        return sm_strdup_replace(&sv->s, names[i]);
                }
        }
        sm_buf list = {0};
        int r = 0;

        for (size_t i = 0; names[i] && r >= 0; i++)
                r = sm_buf_printf(&list, "%s%s", i ? ", " : "", names[i]);
        if (r >= 0)
                r = set_todo(sv, "was \"%s\", which the module would refuse: set one of %s", sv->s,
                             list.data);
        sm_buf_done(&list);
        free(sv->s);
        sv->s = NULL;
        return r;
}

static const char *const auth_modes[] = {"IAM", "SSO", NULL};
static const char *const mlflow_sizes[] = {"Small", "Medium", "Large", NULL};

/* "moduleMetadata base/networking VpcId", or NULL when valueFrom is not a
 * form seed-farmer knows. */
static char *describe_value_from(const sm_yaml_node *vf)
{
        static const char *const simple[] = {"envVariable", "parameterStore", "secretsManager",
                                             "parameterValue", NULL};
        const sm_yaml_node *mm;

        if (vf->kind != SM_YAML_MAPPING || vf->n_pairs != 1)
                return NULL;
        mm = sm_yaml_get(vf, "moduleMetadata");
        if (mm) {
                const sm_yaml_node *g = sm_yaml_get(mm, "group"), *n = sm_yaml_get(mm, "name"),
                                   *k = sm_yaml_get(mm, "key");
                sm_buf b = {0};

                if (mm->kind != SM_YAML_MAPPING || !g || !n || g->kind != SM_YAML_SCALAR ||
                    n->kind != SM_YAML_SCALAR || (k && k->kind != SM_YAML_SCALAR))
                        return NULL;
                if (sm_buf_printf(&b, "moduleMetadata %s/%s%s%s", g->value, n->value, k ? " " : "",
                                  k ? k->value : "") < 0) {
                        sm_buf_done(&b);
                        return NULL;
                }
                return sm_buf_steal(&b);
        }
        for (size_t i = 0; simple[i]; i++) {
                const sm_yaml_node *s = sm_yaml_get(vf, simple[i]);
                sm_buf b = {0};

                if (!s)
                        continue;
                if (s->kind != SM_YAML_SCALAR ||
                    sm_buf_printf(&b, "%s %s", simple[i], s->value) < 0) {
                        sm_buf_done(&b);
                        return NULL;
                }
                return sm_buf_steal(&b);
        }
        return NULL;
}

static const param_def *find_param(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(params); i++)
                if (streq(params[i].name, name))
                        return &params[i];
        return NULL;
}

static const char *const *param_names(void)
{
        static const char *names[ELEMENTSOF(params) + 1];

        if (!names[0])
                for (size_t i = 0; i < ELEMENTSOF(params); i++)
                        names[i] = params[i].name;
        return names;
}

/* A parameter the Domain will not carry: written at its end as a comment
 * (reason above the commented-out entry). */
_printf_(5, 6) static int leave_behind(module *m, const char *name, const sm_yaml_node *value,
                                       const char *value_from, const char *fmt, ...)
{
        sm_buf chunk = {0}, reason = {0};
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = sm_buf_vprintf(&reason, fmt, ap);
        va_end(ap);
        if (r >= 0)
                r = put_comment(&m->leftovers, "%s:", reason.data);
        sm_buf_done(&reason);
        if (r < 0)
                return r;
        if (value_from)
                return put_comment(&m->leftovers, "%s: (valueFrom %s)", name, value_from);
        if (!value)
                return put_comment(&m->leftovers, "%s:", name);
        r = emit_pair(&chunk, name, emit_node_fn, value);
        if (r >= 0)
                r = comment_out(&m->leftovers, chunk.data);
        sm_buf_done(&chunk);
        return r;
}

static int read_parameter(conv *c, module *m, const sm_yaml_node *entry)
{
        static const char *const entry_keys[] = {"name", "value", "valueFrom", NULL};
        const sm_yaml_node *name, *value, *vf;
        _cleanup_free_ char *norm = NULL, *from = NULL, *dym = NULL;
        const param_def *p;
        slotval *sv;
        size_t idx;
        int r;

        if (entry->kind != SM_YAML_MAPPING)
                return sm_diags_add(c->errors, c->path, entry->line, entry->column,
                                    "a parameter must be a mapping with name and value (or "
                                    "valueFrom), not %s",
                                    sm_yaml_describe(entry));
        name = sm_yaml_get(entry, "name");
        if (!name || name->kind != SM_YAML_SCALAR || sm_yaml_is_null(name))
                return sm_diags_add(c->errors, c->path, entry->line, entry->column,
                                    "a parameter without a name");
        sm_yaml_check_keys(c->path, entry, entry_keys, "a parameter", c->notes);
        value = sm_yaml_get(entry, "value");
        vf = sm_yaml_get(entry, "valueFrom");
        if (value && vf) {
                r = sm_diags_add(c->notes, c->path, vf->line, vf->column,
                                 "%s has both value and valueFrom: value used", name->value);
                if (r < 0)
                        return r;
                vf = NULL;
        }
        if (vf) {
                from = describe_value_from(vf);
                if (!from)
                        from = strdup("of an unknown form");
                if (!from)
                        return -ENOMEM;
        }

        norm = normalize_name(name->value);
        if (!norm)
                return -ENOMEM;
        p = find_param(norm);
        if (!p) {
                const char *best = sm_spell_closest(norm, param_names());

                if (best) {
                        dym = malloc(strlen(best) + 32);
                        if (!dym)
                                return -ENOMEM;
                        sprintf(dym, " (did you mean %s?)", best);
                }
                r = sm_diags_add(c->notes, c->path, name->line, name->column,
                                 "unknown parameter %s: the module ignored it, so it is left as "
                                 "a comment%s",
                                 name->value, dym ? dym : "");
                if (r >= 0)
                        r = leave_behind(m, name->value, value, from,
                                         "unknown parameter, ignored by the module%s",
                                         dym ? dym : "");
                return r;
        }
        idx = (size_t)(p - params);
        if (m->seen_line[idx]) {
                r = sm_diags_add(c->notes, c->path, name->line, name->column,
                                 "parameter %s given again (first on line %u): this one is used",
                                 p->name, m->seen_line[idx]);
                if (r < 0)
                        return r;
        }
        m->seen_line[idx] = name->line;
        if (p->slot < 0) {
                r = sm_diags_add(c->notes, c->path, name->line, name->column,
                                 "parameter %s is not carried over: %s; left as a comment", p->name,
                                 p->why);
                if (r >= 0)
                        r = leave_behind(m, name->value, value, from, "%s", p->why);
                return r;
        }

        sv = &m->slots[p->slot];
        slotval_done(sv);
        sv->line = entry->line;
        sv->column = entry->column;
        if (from) {
                r = set_todo(sv, "was valueFrom %s: set the value", from);
                if (r >= 0)
                        r = sm_diags_add(c->notes, c->path, vf->line, vf->column,
                                         "%s needs a value: it was valueFrom %s",
                                         slot_defs[p->slot].key, from);
                return r;
        }
        if (!value || sm_yaml_is_null(value)) {
                return sm_diags_add(c->notes, c->path, name->line, name->column,
                                    "parameter %s has no value: left out", p->name);
        }
        switch (slot_defs[p->slot].type) {
        case VT_STRING:
                r = read_string(value, sv);
                if (r >= 0 && sv->s && p->slot == S_AUTH_MODE)
                        r = fix_enum_case(c, value, sv, "auth_mode", auth_modes);
                if (r >= 0 && sv->s && p->slot == S_MLFLOW_SERVER_SIZE)
                        r = fix_enum_case(c, value, sv, "mlflow_server_size", mlflow_sizes);
                break;
        case VT_BOOL:
                r = read_bool(value, sv);
                break;
        case VT_INT:
                r = read_int(value, sv);
                break;
        case VT_LIST:
                r = read_list(c, value, sv, slot_defs[p->slot].key);
                break;
        case VT_MAP:
                r = read_map(value, sv);
                break;
        default:
                r = -EINVAL;
        }
        /* The module granted its roles "<studio_bucket_name>*": a pattern
         * such as "mlops-*" was a family of buckets. smstudio names one
         * bucket, so a person has to say which. */
        if (r >= 0 && p->slot == S_STUDIO_BUCKET_NAME && sv->s && strchr(sv->s, '*')) {
                r = set_todo(sv,
                             "was \"%s\", a pattern (the module granted access to every "
                             "bucket it matches): set the one bucket name",
                             sv->s);
                free(sv->s);
                sv->s = NULL;
        }
        if (r >= 0 && sv->todo)
                r = sm_diags_add(c->notes, c->path, value->line, value->column,
                                 "%s needs a value: it %s", slot_defs[p->slot].key, sv->todo);
        return r;
}

/* ---- folding, users, writing ---- */

static int fold_slots(conv *c, module *m)
{
        slotval *pb = &m->slots[S_PERMISSIONS_BOUNDARY],
                *arn = &m->slots[S_PERMISSIONS_BOUNDARY_ARN];
        slotval *tags = &m->slots[S_TAGS], *custom = &m->slots[S_CUSTOM_TAGS];
        int r;

        /* The module reads permissions_boundary_name since 2026-02; the
         * README still says permissions_boundary_arn. Either is a
         * permissions_boundary (smstudio takes a name or an ARN). */
        if (arn->set && pb->set) {
                r = sm_diags_add(c->notes, c->path, arn->line, arn->column,
                                 "permissions_boundary_arn ignored: permissions_boundary_name is "
                                 "given too, and the module reads only that one");
                if (r < 0)
                        return r;
                slotval_done(arn);
        } else if (arn->set) {
                *pb = *arn;
                *arn = (slotval){0};
        }

        /* The module used a custom image only with both names; smstudio
         * refuses one without the other. */
        if (m->slots[S_IMAGE_NAME].set != m->slots[S_APP_IMAGE_CONFIG_NAME].set) {
                int s = m->slots[S_IMAGE_NAME].set ? S_IMAGE_NAME : S_APP_IMAGE_CONFIG_NAME;
                const char *other = s == S_IMAGE_NAME ? "app_image_config_name" : "image_name";
                slotval *sv = &m->slots[s];
                sm_buf chunk = {0};

                r = sm_diags_add(c->notes, c->path, sv->line, sv->column,
                                 "%s ignored: the module used a custom image only when %s was "
                                 "given too; left as a comment",
                                 slot_defs[s].key, other);
                if (r >= 0)
                        r = put_comment(&m->leftovers, "ignored by the module without %s:", other);
                if (r >= 0 && sv->s)
                        r = emit_pair(&chunk, slot_defs[s].key, emit_string_fn, sv->s);
                if (r >= 0 && sv->s)
                        r = comment_out(&m->leftovers, chunk.data);
                else if (r >= 0)
                        r = put_comment(&m->leftovers, "%s: (%s)", slot_defs[s].key, sv->todo);
                sm_buf_done(&chunk);
                if (r < 0)
                        return r;
                slotval_done(sv);
        }

        /* The module applies tags, then custom_tags: the later wins. */
        if (custom->set && tags->set && (custom->todo || tags->todo)) {
                if (!tags->todo) {
                        slotval_done(tags);
                        *tags = *custom;
                        *custom = (slotval){0};
                }
                slotval_done(custom);
        } else if (custom->set && tags->set) {
                for (size_t i = 0; i < custom->n; i++) {
                        size_t j;

                        for (j = 0; j < tags->n; j++)
                                if (streq(tags->v[2 * j], custom->v[2 * i]))
                                        break;
                        if (j < tags->n) {
                                r = sm_diags_add(c->notes, c->path, custom->line, custom->column,
                                                 "tag \"%s\" is in tags and custom_tags: the "
                                                 "custom_tags value is used, as the module did",
                                                 custom->v[2 * i]);
                                if (r < 0)
                                        return r;
                                r = sm_strdup_replace(&tags->v[2 * j + 1], custom->v[2 * i + 1]);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        r = strv_push(&tags->v, &(size_t){2 * tags->n}, strdup(custom->v[2 * i]));
                        if (r >= 0)
                                r = strv_push(&tags->v, &(size_t){2 * tags->n + 1},
                                              strdup(custom->v[2 * i + 1]));
                        if (r < 0)
                                return r;
                        tags->n++;
                }
                slotval_done(custom);
        } else if (custom->set) {
                *tags = *custom;
                *custom = (slotval){0};
        }
        return 0;
}

static int write_slot(conv *c, sm_buf *out, module *m, int slot)
{
        const slotval *sv = &m->slots[slot];
        emit_slot_args a = {.sv = sv, .type = slot_defs[slot].type};
        int r;

        if (!sv->set)
                return 0;
        if (sv->todo) {
                r = put_comment(out, "TODO: %s", sv->todo);
                if (r < 0)
                        return r;
                c->n_todo++;
        }
        return emit_pair(out, slot_defs[slot].key, emit_slot_fn, &a);
}

static ssize_t find_user(const user_entry *u, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (streq(u[i].name, name))
                        return (ssize_t)i;
        return -1;
}

static int collect_users(conv *c, module *m, user_entry **ret, size_t *ret_n)
{
        static const int groups[] = {S_DATA_SCIENCE_USERS, S_LEAD_DATA_SCIENCE_USERS};
        user_entry *u = NULL;
        size_t n = 0;
        int r = 0;

        for (size_t g = 0; g < ELEMENTSOF(groups); g++) {
                const slotval *sv = &m->slots[groups[g]];

                if (!sv->set || sv->todo)
                        continue;
                for (size_t i = 0; i < sv->n; i++) {
                        ssize_t k = find_user(u, n, sv->v[i]);

                        if (k >= 0 && u[k].group == groups[g]) {
                                r = sm_diags_add(c->notes, c->path, sv->line, sv->column,
                                                 "user \"%s\" is listed twice in %s: one User "
                                                 "document written",
                                                 sv->v[i], slot_defs[groups[g]].key);
                        } else if (k >= 0) {
                                if (u[k].group != -1)
                                        r = sm_diags_add(
                                                c->notes, c->path, sv->line, sv->column,
                                                "user \"%s\" needs a value: it is in both "
                                                "data_science_users and lead_data_science_users "
                                                "(smstudio allows one group): choose its group",
                                                sv->v[i]);
                                u[k].group = -1;
                        } else {
                                user_entry *p = realloc(u, (n + 1) * sizeof(*p));

                                if (!p) {
                                        r = -ENOMEM;
                                        break;
                                }
                                u = p;
                                u[n++] = (user_entry){.name = sv->v[i], .group = groups[g]};
                        }
                        if (r < 0)
                                break;
                }
                if (r < 0)
                        break;
        }
        if (r < 0) {
                free(u);
                return r;
        }
        *ret = u;
        *ret_n = n;
        return 0;
}

static int write_users(conv *c, sm_buf *out, module *m)
{
        _cleanup_free_ user_entry *u = NULL;
        const slotval *dom = &m->slots[S_NAME];
        size_t n = 0;
        int r;

        r = collect_users(c, m, &u, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++) {
                r = sm_buf_puts(out, "---\n");
                if (r >= 0)
                        r = emit_pair(out, "kind", emit_string_fn, "User");
                if (r >= 0)
                        r = emit_pair(out, "name", emit_string_fn, u[i].name);
                if (r >= 0 && u[i].group < 0) {
                        r = put_comment(out, "TODO: was in both data_science_users and "
                                             "lead_data_science_users: choose one group");
                        c->n_todo++;
                }
                if (r >= 0)
                        r = emit_pair(out, "group", emit_string_fn,
                                      u[i].group < 0 ? SM_SEEDFARMER_TODO
                                                     : slot_defs[u[i].group].key);
                if (r >= 0 && dom->set && !dom->todo)
                        r = emit_pair(out, "domain", emit_string_fn, dom->s);
                if (r >= 0)
                        r = emit_pair(out, "adopt", emit_typed_fn, "true");
        }
        return r;
}

/* The last component of a seed-farmer module path: a local directory, a
 * git::URL//dir?ref=x or an archive URL with ?module=dir. */
static bool path_is_studio(const char *path)
{
        _cleanup_free_ char *p = NULL;
        const char *q, *base;
        size_t l;

        q = strstr(path, "?module=");
        if (!q)
                q = strstr(path, "&module=");
        p = strdup(q ? q + strlen("?module=") : path);
        if (!p)
                return false;
        p[strcspn(p, q ? "&" : "?")] = '\0';
        l = strlen(p);
        while (l > 0 && p[l - 1] == '/')
                p[--l] = '\0';
        base = strrchr(p, '/');
        base = base ? base + 1 : p;
        return streq(base, "sagemaker-studio");
}

static int convert_module(conv *c, module *m, sm_buf *out)
{
        const sm_yaml_node *params_node = sm_yaml_get(m->doc, "parameters");
        size_t n_errors = c->errors->n;
        int r = 0;

        if (params_node && params_node->kind == SM_YAML_SEQUENCE)
                for (size_t i = 0; i < params_node->n_items && r >= 0; i++)
                        r = read_parameter(c, m, params_node->items[i]);
        else if (params_node && !sm_yaml_is_null(params_node))
                r = sm_diags_add(c->errors, c->path, params_node->line, params_node->column,
                                 "parameters must be a list of name/value entries, not %s",
                                 sm_yaml_describe(params_node));
        if (r < 0)
                return r;
        /* A file that is not what it should be gets its errors, and nothing
         * more: guesses about the rest of it would only bury them. */
        if (c->errors->n > n_errors)
                return 0;
        r = fold_slots(c, m);
        if (r < 0)
                return r;

        /* What the module required, or named by itself, and smstudio needs
         * written down. */
        if (!m->slots[S_NAME].set) {
                r = set_todo(&m->slots[S_NAME],
                             "studio_domain_name was not set, so the module chose the name: set "
                             "the StudioDomainName of the module's metadata");
                if (r >= 0)
                        r = sm_diags_add(c->notes, c->path, m->line, 1,
                                         "name needs a value: studio_domain_name was not set (the "
                                         "module's StudioDomainName output has it)");
                if (r < 0)
                        return r;
        }
        for (int s = S_VPC_ID; s <= S_SUBNET_IDS; s++) {
                if (m->slots[s].set)
                        continue;
                r = set_todo(&m->slots[s], "%s is required and was not given: set it",
                             slot_defs[s].key);
                if (r >= 0)
                        r = sm_diags_add(c->notes, c->path, m->line, 1,
                                         "%s needs a value: the module requires it and it was "
                                         "not given",
                                         slot_defs[s].key);
                if (r < 0)
                        return r;
        }
        /* The module built the artifact store as "s3://" + bucket + prefix,
         * so "mlflow/" meant s3://BUCKETmlflow/; smstudio joins with '/'. */
        if (m->slots[S_MLFLOW_BUCKET_PREFIX].s && m->slots[S_MLFLOW_BUCKET_PREFIX].s[0] != '/') {
                const slotval *sv = &m->slots[S_MLFLOW_BUCKET_PREFIX];

                r = sm_diags_add(c->notes, c->path, sv->line, sv->column,
                                 "mlflow_artifact_store_bucket_prefix \"%s\": the module joined "
                                 "bucket and prefix without a '/' (s3://BUCKET%s), smstudio "
                                 "writes s3://BUCKET/%s; an adopted tracking server's artifact "
                                 "store changes",
                                 sv->s, sv->s, sv->s);
                if (r < 0)
                        return r;
        }
        if (!m->slots[S_STUDIO_BUCKET_NAME].set) {
                r = sm_diags_add(c->notes, c->path, m->line, 1,
                                 "studio_bucket_name was not set: the module granted its roles "
                                 "a bucket named after the project and deployment; set "
                                 "studio_bucket_name to keep that access");
                if (r < 0)
                        return r;
        }

        if (m->name)
                r = put_comment(out, "seed-farmer module \"%s\" (%s)", m->name,
                                m->source_path ? m->source_path : "no path");
        else
                r = put_comment(out, "seed-farmer module without a name (%s)",
                                m->source_path ? m->source_path : "no path");
        if (r >= 0 && m->notes.len)
                r = sm_buf_puts(out, m->notes.data);
        if (r >= 0)
                r = emit_pair(out, "kind", emit_string_fn, "Domain");
        for (int s = 0; s < S_CUSTOM_TAGS && r >= 0; s++) {
                if (s == S_DATA_SCIENCE_USERS || s == S_LEAD_DATA_SCIENCE_USERS) {
                        /* A list that is known becomes User documents. */
                        if (!m->slots[s].todo)
                                continue;
                }
                r = write_slot(c, out, m, s);
        }
        if (r >= 0)
                r = put_comment(out, "The module created this domain: take it over (it has no "
                                     "smstudio tag yet) rather than create another.");
        if (r >= 0)
                r = emit_pair(out, "adopt", emit_typed_fn, "true");
        if (r >= 0 && m->leftovers.len) {
                r = put_comment(out, "%s", "");
                if (r >= 0)
                        r = put_comment(out, "Not carried over from the seed-farmer manifest:");
                if (r >= 0)
                        r = sm_buf_puts(out, m->leftovers.data);
        }
        if (r >= 0)
                r = write_users(c, out, m);
        return r;
}

/* Top-level keys of a module manifest and what becomes of them. */
static int read_module_keys(conv *c, module *m)
{
        for (size_t i = 0; i < m->doc->n_pairs; i++) {
                const sm_yaml_node *k = m->doc->pairs[i].key, *v = m->doc->pairs[i].value;
                int r = 0;

                if (streq(k->value, "name") || streq(k->value, "path")) {
                        if (v->kind != SM_YAML_SCALAR)
                                r = sm_diags_add(c->errors, c->path, v->line, v->column,
                                                 "%s must be a string, not %s", k->value,
                                                 sm_yaml_describe(v));
                        else if (streq(k->value, "name"))
                                m->name = v->value;
                        else
                                m->source_path = v->value;
                } else if (streq(k->value, "parameters")) {
                        continue;
                } else if (streq(k->value, "targetAccount") || streq(k->value, "targetRegion")) {
                        const char *what = streq(k->value, "targetAccount")
                                                   ? "the account of its credentials"
                                                   : "the region of its configuration";

                        r = sm_diags_add(c->notes, c->path, k->line, k->column,
                                         "%s \"%s\" is not carried over: smstudiod manages %s",
                                         k->value, shown(v), what);
                        if (r >= 0)
                                r = put_comment(&m->notes,
                                                "seed-farmer %s was %s: smstudiod "
                                                "manages %s.",
                                                k->value, shown(v), what);
                } else {
                        r = sm_diags_add(c->notes, c->path, k->line, k->column,
                                         "seed-farmer setting %s is not carried over", k->value);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Whether a document is a studio module: by its path, or, when it has
 * none or a forked one, by parameters only the studio module has. */
static bool doc_is_studio(const sm_yaml_node *doc, bool *by_params)
{
        static const char *const own[] = {"studio_domain_name", "data_science_users",
                                          "lead_data_science_users", "enable_jupyterlab_app", NULL};
        const sm_yaml_node *path = sm_yaml_get(doc, "path");
        const sm_yaml_node *ps = sm_yaml_get(doc, "parameters");

        *by_params = false;
        if (path && path->kind == SM_YAML_SCALAR && path_is_studio(path->value))
                return true;
        if (!path && ps)
                return true;
        for (size_t i = 0; ps && ps->kind == SM_YAML_SEQUENCE && i < ps->n_items; i++) {
                const sm_yaml_node *n = sm_yaml_get(ps->items[i], "name");
                _cleanup_free_ char *norm = NULL;

                if (ps->items[i]->kind != SM_YAML_MAPPING || !n || n->kind != SM_YAML_SCALAR)
                        continue;
                norm = normalize_name(n->value);
                if (norm && strcaseeq_any(norm, own)) {
                        *by_params = true;
                        return true;
                }
        }
        return false;
}

static int write_header(conv *c, sm_buf *out, size_t n_modules)
{
        int r;

        r = put_comment(out, "smstudio manifest converted by `smstudioctl import-seedfarmer` from");
        if (r >= 0)
                r = put_comment(out, "%s (%zu sagemaker-studio module%s).", c->path, n_modules,
                                n_modules == 1 ? "" : "s");
        if (r >= 0)
                r = put_comment(out, "%s", "");
        if (r >= 0)
                r = put_comment(out, "A Domain document, then one User document per person of "
                                     "data_science_users and");
        if (r >= 0)
                r = put_comment(out, "lead_data_science_users: onboard someone later with a User "
                                     "document of their");
        if (r >= 0)
                r = put_comment(out, "own (one file per person in /etc/smstudio.d), offboard them "
                                     "by removing it.");
        if (r >= 0 && c->n_todo > 0) {
                r = put_comment(out, "%s", "");
                if (r >= 0)
                        r = put_comment(out,
                                        "%u value%s to fill in: search for TODO (\"%s\" is "
                                        "accepted nowhere).",
                                        c->n_todo, c->n_todo == 1 ? "" : "s", SM_SEEDFARMER_TODO);
        }
        return r < 0 ? r : sm_buf_putc(out, '\n');
}

int sm_seedfarmer_import(const char *path, const void *data, size_t len, sm_buf *out,
                         sm_diags *notes, sm_diags *errors)
{
        sm_yaml_stream *s = NULL;
        sm_diags parse_diags = {0}, my_notes = {0}, my_errors = {0};
        conv c = {.path = path, .notes = &my_notes, .errors = &my_errors};
        sm_buf body = {0}, head = {0};
        size_t n_modules = 0;
        int r;

        r = sm_yaml_parse(path, data, len, NULL, &s, &parse_diags);
        if (r < 0) {
                sm_diags_take(errors, &parse_diags);
                sm_diags_done(&parse_diags);
                return r;
        }
        for (size_t d = 0; d < s->n_docs && r >= 0; d++) {
                const sm_yaml_node *root = s->docs[d].root;
                module m = {0};
                bool by_params;

                if (!root)
                        continue;
                if (root->kind != SM_YAML_MAPPING) {
                        r = sm_diags_add(&my_errors, path, root->line, root->column,
                                         "a seed-farmer module manifest is a mapping (name, "
                                         "path, parameters), not %s",
                                         sm_yaml_describe(root));
                        continue;
                }
                if (sm_yaml_get(root, "groups") || sm_yaml_get(root, "targetAccountMappings")) {
                        r = sm_diags_add(&my_errors, path, root->line, root->column,
                                         "this is a seed-farmer deployment manifest: convert the "
                                         "module manifest its groups name (the file with the "
                                         "sagemaker-studio module's parameters)");
                        continue;
                }
                m.doc = root;
                m.line = root->line;
                if (!doc_is_studio(root, &by_params)) {
                        const sm_yaml_node *n = sm_yaml_get(root, "name"),
                                           *p = sm_yaml_get(root, "path");

                        r = sm_diags_add(&my_notes, path, root->line, root->column,
                                         "module \"%s\" (%s) is not the sagemaker-studio "
                                         "module: skipped",
                                         n ? shown(n) : "?", p ? shown(p) : "no path");
                        continue;
                }
                if (by_params) {
                        const sm_yaml_node *p = sm_yaml_get(root, "path");

                        r = sm_diags_add(&my_notes, path, root->line, root->column,
                                         "module path \"%s\" is not sagemaker-studio: converted "
                                         "because its parameters are the studio module's",
                                         p ? shown(p) : "");
                        if (r < 0)
                                break;
                }
                r = read_module_keys(&c, &m);
                if (r >= 0) {
                        if (n_modules > 0)
                                r = sm_buf_puts(&body, "---\n");
                        n_modules++;
                }
                if (r >= 0)
                        r = convert_module(&c, &m, &body);
                module_done(&m);
        }
        if (r >= 0 && my_errors.n == 0 && n_modules == 0)
                r = sm_diags_add(&my_errors, path, 0, 0,
                                 "no sagemaker-studio module in this file (a module manifest "
                                 "with its parameters was expected)");
        if (r >= 0 && my_errors.n > 0)
                r = -EINVAL;
        if (r >= 0)
                r = write_header(&c, &head, n_modules);
        if (r >= 0)
                r = sm_buf_append(&head, body.data, body.len);
        if (r >= 0)
                r = sm_buf_append(out, head.data, head.len);

        sm_diags_sort(&my_notes);
        sm_diags_sort(&my_errors);
        if (sm_diags_take(notes, &my_notes) < 0 || sm_diags_take(errors, &my_errors) < 0)
                r = -ENOMEM;
        sm_diags_done(&my_notes);
        sm_diags_done(&my_errors);
        sm_diags_done(&parse_diags);
        sm_buf_done(&body);
        sm_buf_done(&head);
        sm_yaml_stream_free(s);
        return r < 0 ? r : (int)c.n_todo;
}

static void report_diags(sm_buf *out, const sm_diags *d, const char *kind, int *r)
{
        for (size_t i = 0; i < d->n && *r >= 0; i++) {
                const sm_diag *x = &d->items[i];

                *r = sm_buf_puts(out, x->path);
                if (*r >= 0 && x->line)
                        *r = sm_buf_printf(out, ":%u", x->line);
                if (*r >= 0 && x->line && x->column)
                        *r = sm_buf_printf(out, ":%u", x->column);
                if (*r >= 0)
                        *r = sm_buf_printf(out, ": %s: %s\n", kind, x->message);
        }
}

int sm_seedfarmer_report(const char *path, int result, const sm_diags *notes,
                         const sm_diags *errors, sm_buf *out)
{
        int r = 0;

        report_diags(out, errors, "error", &r);
        report_diags(out, notes, "warning", &r);
        if (r < 0)
                return r;
        if (result < 0)
                return sm_buf_printf(out, "%s: not converted\n", path);
        if (result > 0)
                return sm_buf_printf(out, "%s: converted; %d value%s to fill in (marked TODO)\n",
                                     path, result, result == 1 ? "" : "s");
        return 0;
}
