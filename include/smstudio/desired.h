/* SPDX-License-Identifier: Apache-2.0 */
/* The desired model: what the manifests ask for, as plain C structs owned by
 * one reconcile pass. No HTTP, YAML or libuv in here; manifest.c fills it,
 * the planner reads it. Every object remembers where it was written, so an
 * error found late (by AWS, minutes later) still points at the manifest.
 *
 * Optional fields carry their effective value (the default when the
 * manifest is silent) and a bit in `set` telling whether the manifest set
 * them: the planner compares only what a manifest set, so a setting made by
 * hand in the console survives until someone writes it down. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where an object (or a value) was written. file is owned. */
typedef struct sm_source {
        char *file;
        unsigned line;   /* 1-based; 0 unknown */
        unsigned column; /* 1-based; 0 unknown */
} sm_source;

typedef struct sm_tag {
        char *key;
        char *value;
} sm_tag;

/* Tags in manifest order (keys unique: the YAML loader refuses duplicate keys). */
typedef struct sm_tags {
        sm_tag *items;
        size_t n;
} sm_tags;

typedef enum sm_auth_mode {
        SM_AUTH_IAM,
        SM_AUTH_SSO,
} sm_auth_mode;

typedef enum sm_mlflow_size {
        SM_MLFLOW_SMALL,
        SM_MLFLOW_MEDIUM,
        SM_MLFLOW_LARGE,
} sm_mlflow_size;

typedef enum sm_user_group {
        SM_GROUP_DATA_SCIENTIST, /* data_science_users */
        SM_GROUP_LEAD,           /* lead_data_science_users */
} sm_user_group;

typedef enum sm_sharing {
        SM_SHARING_PRIVATE,
        SM_SHARING_SHARED,
} sm_sharing;

typedef enum sm_app_type {
        SM_APP_JUPYTERLAB,
        SM_APP_CODE_EDITOR,
} sm_app_type;

/* Bits of sm_domain.set: which optional keys the manifest wrote. */
enum {
        SM_DOMAIN_AUTH_MODE,
        SM_DOMAIN_SECURITY_GROUP_IDS,
        SM_DOMAIN_STUDIO_BUCKET_NAME,
        SM_DOMAIN_ROLE_PATH,
        SM_DOMAIN_PERMISSIONS_BOUNDARY,
        SM_DOMAIN_APP_IMAGE_CONFIG_NAME,
        SM_DOMAIN_IMAGE_NAME,
        SM_DOMAIN_RETAIN_EFS,
        SM_DOMAIN_ENABLE_CUSTOM_SAGEMAKER_PROJECTS,
        SM_DOMAIN_ENABLE_DOMAIN_RESOURCE_ISOLATION,
        SM_DOMAIN_ENABLE_JUPYTERLAB_APP,
        SM_DOMAIN_ENABLE_JUPYTERLAB_APP_SHARING,
        SM_DOMAIN_ENABLE_DOCKER_ACCESS,
        SM_DOMAIN_VPC_ONLY_TRUSTED_ACCOUNTS,
        SM_DOMAIN_JUPYTERLAB_APP_INSTANCE_TYPE,
        SM_DOMAIN_IDLE_TIMEOUT_IN_MINUTES,
        SM_DOMAIN_MIN_IDLE_TIMEOUT_IN_MINUTES,
        SM_DOMAIN_MAX_IDLE_TIMEOUT_IN_MINUTES,
        SM_DOMAIN_MLFLOW_ENABLED,
        SM_DOMAIN_MLFLOW_SERVER_NAME,
        SM_DOMAIN_MLFLOW_SERVER_VERSION,
        SM_DOMAIN_MLFLOW_SERVER_SIZE,
        SM_DOMAIN_MLFLOW_ARTIFACT_STORE_BUCKET_NAME,
        SM_DOMAIN_MLFLOW_ARTIFACT_STORE_BUCKET_PREFIX,
        SM_DOMAIN_SERVER_LIFECYCLE_NAME,
        SM_DOMAIN_TAGS,
        SM_DOMAIN_ADOPT,
};

typedef struct sm_domain {
        sm_source source;
        uint64_t set; /* 1 << SM_DOMAIN_* */
        char *name;
        char *vpc_id;
        char **subnet_ids; /* NULL-terminated */
        int auth_mode;     /* sm_auth_mode; default IAM */
        char **security_group_ids;
        char *studio_bucket_name;
        char *role_path;
        char *permissions_boundary; /* a policy name or a policy ARN */
        char *app_image_config_name;
        char *image_name;
        bool retain_efs; /* default true */
        bool enable_custom_sagemaker_projects;
        bool enable_domain_resource_isolation; /* default true */
        bool enable_jupyterlab_app;
        bool enable_jupyterlab_app_sharing;
        bool enable_docker_access;
        char **vpc_only_trusted_accounts;
        char *jupyterlab_app_instance_type; /* default ml.t3.medium */
        int64_t idle_timeout_in_minutes;    /* 0 when not set */
        int64_t min_idle_timeout_in_minutes;
        int64_t max_idle_timeout_in_minutes;
        bool mlflow_enabled;
        char *mlflow_server_name; /* default "mlflow" */
        char *mlflow_server_version;
        int mlflow_server_size; /* sm_mlflow_size; default Small (the API's) */
        char *mlflow_artifact_store_bucket_name;
        char *mlflow_artifact_store_bucket_prefix; /* default "/" */
        char *server_lifecycle_name;
        sm_tags tags;
        bool adopt; /* take over an existing untagged domain of this name */
} sm_domain;

enum {
        SM_USER_DOMAIN,
        SM_USER_SPACE,
        SM_USER_INSTANCE_TYPE,
        SM_USER_TAGS,
        SM_USER_ADOPT,
        SM_USER_SSO_USER_VALUE,
};

typedef struct sm_user {
        sm_source source; /* the User document, or the item of a Domain's user list */
        uint64_t set;     /* 1 << SM_USER_* */
        char *name;
        int group;    /* sm_user_group */
        char *domain; /* NULL in a file when not written; always set in a built model */
        sm_source domain_source;
        bool space; /* effective in a built model: the override, else enable_jupyterlab_app */
        char *instance_type;
        sm_tags tags;
        bool adopt;
        char *sso_user_value; /* SSO domains only; the user name when not written */
        sm_source sso_user_value_source;
        bool from_domain_list; /* came from data_science_users / lead_data_science_users */
} sm_user;

enum {
        SM_SPACE_DOMAIN,
        SM_SPACE_OWNER,
        SM_SPACE_SHARING,
        SM_SPACE_APP_TYPE,
        SM_SPACE_INSTANCE_TYPE,
        SM_SPACE_TAGS,
        SM_SPACE_ADOPT,
};

typedef struct sm_space {
        sm_source source;
        uint64_t set; /* 1 << SM_SPACE_* */
        char *name;
        char *domain; /* NULL in a file when not written; always set in a built model */
        sm_source domain_source;
        char *owner; /* a user of the domain; required for Private */
        sm_source owner_source;
        int sharing;         /* sm_sharing; default Shared */
        int app_type;        /* sm_app_type; default JupyterLab */
        char *instance_type; /* NULL: the domain's default */
        sm_tags tags;
        bool adopt;
        bool generated; /* a user's own JupyterLab space (source = the user's) */
} sm_space;

typedef struct sm_desired {
        sm_domain *domains; /* sorted by name */
        size_t n_domains;
        sm_user *users; /* sorted by domain, then name */
        size_t n_users;
        sm_space *spaces; /* sorted by domain, then name; includes generated ones */
        size_t n_spaces;
} sm_desired;

typedef struct sm_desired_summary {
        size_t domains;
        size_t users;
        size_t spaces;           /* all spaces, generated included */
        size_t generated_spaces; /* the per-user JupyterLab spaces */
        size_t mlflow_servers;
} sm_desired_summary;

/* The name of a user's own JupyterLab space: "<user>-JupyterLab-space",
 * the original module's, so spaces it made are found again. */
#define SM_USER_SPACE_SUFFIX "-JupyterLab-space"
/* SageMaker names (domain, user profile, space, app image config, LCC). */
#define SM_NAME_MAX 63

sm_desired *sm_desired_new(void);
sm_desired *sm_desired_free(sm_desired *d);

/* Destructors for objects not (or not yet) in a model; accept NULL. The
 * object is left zeroed. */
void sm_desired_domain_done(sm_domain *d);
void sm_desired_user_done(sm_user *u);
void sm_desired_space_done(sm_space *s);
void sm_desired_source_done(sm_source *s);
void sm_desired_tags_done(sm_tags *t);

/* Objects with their defaults in place (owned strings; -ENOMEM). */
int sm_desired_domain_init(sm_domain *d);
void sm_desired_user_init(sm_user *u);
void sm_desired_space_init(sm_space *s);

/* Deep copies into zeroed *dst: 0 or -ENOMEM (dst left zeroed). */
int sm_desired_domain_copy(sm_domain *dst, const sm_domain *src);
int sm_desired_user_copy(sm_user *dst, const sm_user *src);
int sm_desired_space_copy(sm_space *dst, const sm_space *src);
int sm_desired_source_copy(sm_source *dst, const sm_source *src);
int sm_desired_tags_copy(sm_tags *dst, const sm_tags *src);

/* Append (moving *obj in, which is zeroed): 0 or -ENOMEM (obj untouched). */
int sm_desired_add_domain(sm_desired *d, sm_domain *obj);
int sm_desired_add_user(sm_desired *d, sm_user *obj);
int sm_desired_add_space(sm_desired *d, sm_space *obj);

/* Sort into the canonical order the lookups rely on. */
void sm_desired_sort(sm_desired *d);

/* Lookups in a sorted model: NULL when absent. */
const sm_domain *sm_desired_domain(const sm_desired *d, const char *name);
const sm_user *sm_desired_user(const sm_desired *d, const char *domain, const char *name);
const sm_space *sm_desired_space(const sm_desired *d, const char *domain, const char *name);

void sm_desired_summarize(const sm_desired *d, sm_desired_summary *ret);

/* The canonical dump: domains, users, spaces in model order, every field
 * with its effective value, "set" listing the keys the manifest wrote and
 * "source" as "file:line:column". Dump with JSON_SORT_KEYS for stable text
 * (sm_desired_dump does). NULL on -ENOMEM. */
json_t *sm_desired_to_json(const sm_desired *d);
/* json_dumps(sm_desired_to_json(d), JSON_SORT_KEYS | JSON_INDENT(2)) + "\n". */
char *sm_desired_dump(const sm_desired *d);

/* Enum names as manifests spell them ("IAM", "Small", "Shared", ...). */
const char *sm_auth_mode_to_string(int v);
const char *sm_mlflow_size_to_string(int v);
const char *sm_user_group_to_string(int v);
const char *sm_sharing_to_string(int v);
const char *sm_app_type_to_string(int v);
extern const char *const sm_auth_mode_names[];   /* NULL-terminated, index = value */
extern const char *const sm_mlflow_size_names[]; /* likewise */
extern const char *const sm_user_group_names[];
extern const char *const sm_sharing_names[];
extern const char *const sm_app_type_names[];

/* The value rules of the model, shared by the manifest checks and the tests.
 * Each is true when s is acceptable. */
bool sm_desired_name_valid(const char *s);          /* [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62} */
bool sm_desired_vpc_id_valid(const char *s);        /* vpc-<8 or 17 lower-case hex> */
bool sm_desired_subnet_id_valid(const char *s);     /* subnet-<8 or 17 hex> */
bool sm_desired_sg_id_valid(const char *s);         /* sg-<8 or 17 hex> */
bool sm_desired_account_id_valid(const char *s);    /* 12 digits */
bool sm_desired_instance_type_valid(const char *s); /* ml.<family>.<size> */
bool sm_desired_role_path_valid(const char *s);     /* "/" or "/<printable ASCII>/", <= 512 */
bool sm_desired_bucket_name_valid(const char *s);   /* S3 bucket naming rules */
bool sm_desired_permissions_boundary_valid(const char *s); /* policy name or policy ARN */
bool sm_desired_image_name_valid(const char *s);           /* [a-zA-Z0-9]([-.]?[a-zA-Z0-9]){0,62} */
bool sm_desired_mlflow_name_valid(const char *s);          /* [a-zA-Z0-9](-*[a-zA-Z0-9]){0,255} */
bool sm_desired_mlflow_version_valid(const char *s);       /* 1-3 dot-separated numbers, <= 16 */
bool sm_desired_bucket_prefix_valid(const char *s);        /* <= 1000 bytes, printable, no "//" */
bool sm_desired_sso_user_value_valid(const char *s);       /* 1-256 characters, no control chars */
/* AWS tag rules, and smstudio's own reservations. NULL when fine, else why
 * not (a phrase: "starts with the reserved prefix \"aws:\""). */
const char *sm_desired_tag_key_problem(const char *key);
const char *sm_desired_tag_value_problem(const char *value);
/* AWS allows 50 tags a resource; smstudio adds its ownership tag. */
#define SM_TAGS_MAX             49
#define SM_TAG_MANAGED_BY       "smstudio:managed-by"
#define SM_SUBNETS_MAX          16
#define SM_SECURITY_GROUPS_MAX  5
#define SM_TRUSTED_ACCOUNTS_MAX 20
#define SM_IDLE_MIN             60
#define SM_IDLE_MAX             525600
