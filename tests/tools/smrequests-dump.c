/* SPDX-License-Identifier: Apache-2.0 */
/* smrequests-dump: build every SageMaker request smstudio would send for the
 * estate of a manifest directory and print one JSON line per request:
 *   {"variant": "iam", "operation": "CreateDomain", "params": {...}}
 * so tests/integration/test_smrequests_botocore.py can check each against
 * botocore's input shapes (and send them to the emulator).
 *
 * Variants: "iam" (the manifests as written), "sso" (the same domains in SSO
 * mode) and "full" (SSO plus every optional setting the model has: security
 * groups, custom images, trusted accounts, an MLflow version, a lifecycle
 * config, and a shared Code Editor space).
 *
 * With --diff it instead reads lines {"request": {...}, "observed": {...}}
 * on stdin and prints, per line, {"diffs": [{"path", "observed",
 * "desired", "immutable"}, ...]} from sm_request_diff(), so the test can
 * check that what it created shows no diff in the emulator's Describe
 * output.
 *
 * Usage: smrequests-dump <manifest-dir> | smrequests-dump --diff.
 * Exit 0, or 1 with a message. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smstudio/desired.h"
#include "smstudio/diag.h"
#include "smstudio/macro.h"
#include "smstudio/manifest.h"
#include "smstudio/smrequests.h"

/* base64 of "#!/bin/bash\necho idle\n": any content will do. */
#define LCC_CONTENT "IyEvYmluL2Jhc2gKZWNobyBpZGxlCg=="
#define ARN_PREFIX  "arn:aws:iam::111122223333:role/"

static int emit(const char *variant, const char *op, json_t *params, int r)
{
        json_t *line;
        char *text;

        if (r < 0) {
                fprintf(stderr, "smrequests-dump: %s %s: %s\n", variant, op, strerror(-r));
                return r;
        }
        line = json_pack("{s:s,s:s,s:o}", "variant", variant, "operation", op, "params", params);
        text = line ? json_dumps(line, JSON_COMPACT) : NULL;
        json_decref(line);
        if (!text)
                return -ENOMEM;
        r = puts(text) < 0 ? -EIO : 0;
        free(text);
        return r;
}

static char *read_all(const char *path, size_t *ret_len)
{
        FILE *f = fopen(path, "rb");
        char *buf = NULL;
        size_t len = 0;

        if (!f)
                return NULL;
        for (;;) {
                char *n = realloc(buf, len + 4097);
                size_t got;

                if (!n) {
                        free(buf);
                        fclose(f);
                        return NULL;
                }
                buf = n;
                got = fread(buf + len, 1, 4096, f);
                len += got;
                if (got < 4096)
                        break;
        }
        fclose(f);
        buf[len] = '\0';
        *ret_len = len;
        return buf;
}

static bool is_yaml(const char *name)
{
        size_t n = strlen(name);

        return name[0] != '.' && n > 5 && streq(name + n - 5, ".yaml");
}

static int load(const char *dir, sm_desired **ret)
{
        sm_manifest_file *files[256];
        struct dirent **ents = NULL;
        sm_diags diags = {0};
        size_t n_files = 0;
        int n, r = 0;

        n = scandir(dir, &ents, NULL, alphasort);
        if (n < 0)
                return -errno;
        for (int i = 0; i < n; i++) {
                if (r == 0 && is_yaml(ents[i]->d_name) && n_files < ELEMENTSOF(files)) {
                        _cleanup_free_ char *path = NULL, *text = NULL;
                        size_t len = 0;

                        if (asprintf(&path, "%s/%s", dir, ents[i]->d_name) < 0)
                                path = NULL;
                        text = path ? read_all(path, &len) : NULL;
                        if (!text)
                                r = -EIO;
                        else
                                r = sm_manifest_file_parse(ents[i]->d_name, text, len,
                                                           &files[n_files], &diags);
                        if (r == 0)
                                n_files++;
                }
                free(ents[i]);
        }
        free(ents);
        if (r == 0)
                r = sm_desired_build(files, n_files, ret, &diags);
        for (size_t i = 0; i < diags.n; i++)
                fprintf(stderr, "smrequests-dump: %s\n", diags.items[i].message);
        for (size_t i = 0; i < n_files; i++)
                sm_manifest_file_free(files[i]);
        sm_diags_done(&diags);
        return r;
}

static char **strv1(const char *s)
{
        char **v = calloc(2, sizeof(*v));

        if (v && !(v[0] = strdup(s))) {
                free(v);
                v = NULL;
        }
        return v;
}

#define BIT(b) (UINT64_C(1) << (b))

/* Every optional setting of the model, on each domain. */
static int make_full(sm_desired *d)
{
        for (size_t i = 0; i < d->n_domains; i++) {
                sm_domain *x = &d->domains[i];

                x->auth_mode = SM_AUTH_SSO;
                if (!(x->security_group_ids = strv1("sg-0a1b2c3d4e5f60718")) ||
                    !(x->vpc_only_trusted_accounts = strv1("444455556666")) ||
                    sm_strdup_replace(&x->app_image_config_name, "echo-kernel-app-config") < 0 ||
                    sm_strdup_replace(&x->image_name, "echo") < 0 ||
                    sm_strdup_replace(&x->mlflow_server_version, "2.16") < 0 ||
                    sm_strdup_replace(&x->mlflow_artifact_store_bucket_name, "mlops-artifacts") < 0)
                        return -ENOMEM;
                x->mlflow_enabled = true;
                x->mlflow_server_size = SM_MLFLOW_MEDIUM;
                x->set |= BIT(SM_DOMAIN_AUTH_MODE) | BIT(SM_DOMAIN_SECURITY_GROUP_IDS) |
                          BIT(SM_DOMAIN_VPC_ONLY_TRUSTED_ACCOUNTS) |
                          BIT(SM_DOMAIN_APP_IMAGE_CONFIG_NAME) | BIT(SM_DOMAIN_IMAGE_NAME) |
                          BIT(SM_DOMAIN_MLFLOW_SERVER_VERSION) | BIT(SM_DOMAIN_MLFLOW_SERVER_SIZE) |
                          BIT(SM_DOMAIN_ENABLE_DOCKER_ACCESS) |
                          BIT(SM_DOMAIN_IDLE_TIMEOUT_IN_MINUTES) |
                          BIT(SM_DOMAIN_JUPYTERLAB_APP_INSTANCE_TYPE);
                if (x->idle_timeout_in_minutes == 0)
                        x->idle_timeout_in_minutes = 60;
        }
        for (size_t i = 0; i < d->n_spaces; i++) {
                sm_space *s = &d->spaces[i];

                /* One shared Code Editor space without owner per model. */
                if (i == 0) {
                        s->sharing = SM_SHARING_SHARED;
                        s->app_type = SM_APP_CODE_EDITOR;
                        free(s->owner);
                        s->owner = NULL;
                }
        }
        return 0;
}

/* Evaluate a builder writing p, then print its result: two steps, since
 * the order in which a call's arguments are evaluated is unspecified. */
#define EMIT(op, call) (p = NULL, r = (call), r = emit(variant, op, p, r))

/* AddTags as used to adopt a resource or repair its tags. */
static int add_tags(const sm_domain *dom, json_t **ret)
{
        json_t *tags = NULL;
        int r;

        r = sm_request_tags(&dom->tags, "smstudio-test", &tags);
        if (r < 0)
                return r;
        *ret = json_pack("{s:s,s:o}", "ResourceArn",
                         "arn:aws:sagemaker:eu-west-1:111122223333:domain/d-abc123def456", "Tags",
                         tags);
        return *ret ? 0 : -ENOMEM;
}

static int dump_variant(const sm_desired *d, const char *variant, bool with_lcc)
{
        int r = 0;

        for (size_t i = 0; i < d->n_domains && r == 0; i++) {
                const sm_domain *dom = &d->domains[i];
                _cleanup_free_ char *lcc_name = NULL, *lcc_arn = NULL;
                sm_request_refs refs = {
                        .instance = "smstudio-test",
                        .domain_id = "d-abc123def456",
                        .execution_role_arn = ARN_PREFIX "studio",
                        .data_scientist_role_arn = ARN_PREFIX "data-scientist",
                        .lead_data_scientist_role_arn = ARN_PREFIX "lead-data-scientist",
                        .mlflow_role_arn = ARN_PREFIX "mlflow",
                };
                json_t *p = NULL;

                if (with_lcc || dom->server_lifecycle_name) {
                        r = sm_lifecycle_config_name(dom->server_lifecycle_name
                                                             ? dom->server_lifecycle_name
                                                             : "studio-auto-shutdown",
                                                     LCC_CONTENT, &lcc_name);
                        if (r == 0)
                                EMIT("CreateStudioLifecycleConfig",
                                     sm_request_create_lifecycle_config(dom, lcc_name, LCC_CONTENT,
                                                                        &refs, &p));
                        if (r == 0 && asprintf(&lcc_arn,
                                               "arn:aws:sagemaker:eu-west-1:111122223333:"
                                               "studio-lifecycle-config/%s",
                                               lcc_name) < 0) {
                                lcc_arn = NULL;
                                r = -ENOMEM;
                        }
                        refs.lifecycle_config_arn = lcc_arn;
                }
                if (r == 0)
                        EMIT("CreateDomain", sm_request_create_domain(dom, &refs, &p));
                if (r == 0)
                        EMIT("UpdateDomain", sm_request_update_domain(dom, &refs, &p));
                for (size_t j = 0; j < d->n_users && r == 0; j++) {
                        if (!streq_ptr(d->users[j].domain, dom->name))
                                continue;
                        EMIT("CreateUserProfile",
                             sm_request_create_user_profile(dom, &d->users[j], &refs, &p));
                        if (r == 0)
                                EMIT("UpdateUserProfile",
                                     sm_request_update_user_profile(dom, &d->users[j], &refs, &p));
                }
                for (size_t j = 0; j < d->n_spaces && r == 0; j++) {
                        if (!streq_ptr(d->spaces[j].domain, dom->name))
                                continue;
                        EMIT("CreateSpace", sm_request_create_space(dom, &d->spaces[j], &refs, &p));
                        if (r == 0)
                                EMIT("UpdateSpace",
                                     sm_request_update_space(dom, &d->spaces[j], &refs, &p));
                }
                if (r == 0 && dom->mlflow_enabled) {
                        EMIT("CreateMlflowTrackingServer",
                             sm_request_create_mlflow(dom, &refs, &p));
                        if (r == 0)
                                EMIT("UpdateMlflowTrackingServer",
                                     sm_request_update_mlflow(dom, &refs, &p));
                }
                if (r == 0)
                        EMIT("AddTags", add_tags(dom, &p));
        }
        return r;
}

static int diff_line(const char *line)
{
        sm_field_diff *diffs = NULL;
        json_t *in, *list = NULL, *out;
        size_t n = 0;
        char *text;
        int r;

        in = json_loads(line, 0, NULL);
        r = sm_request_diff(json_object_get(in, "request"), json_object_get(in, "observed"), &diffs,
                            &n);
        json_decref(in);
        if (r < 0)
                return r;
        list = json_array();
        for (size_t i = 0; list && i < n; i++)
                if (json_array_append_new(
                            list, json_pack("{s:s,s:O?,s:O,s:b}", "path", diffs[i].path, "observed",
                                            diffs[i].observed, "desired", diffs[i].desired,
                                            "immutable", diffs[i].immutable)) < 0) {
                        json_decref(list);
                        list = NULL;
                }
        sm_field_diffs_free(diffs, n);
        out = list ? json_pack("{s:o}", "diffs", list) : NULL;
        text = out ? json_dumps(out, JSON_COMPACT) : NULL;
        json_decref(out);
        if (!text)
                return -ENOMEM;
        r = puts(text) < 0 ? -EIO : 0;
        free(text);
        return r;
}

static int diff_stdin(void)
{
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        int r = 0;

        while (r == 0 && getline(&line, &cap, stdin) > 0)
                r = diff_line(line);
        return r;
}

int main(int argc, char **argv)
{
        sm_desired *d = NULL;
        int r;

        if (argc == 2 && streq(argv[1], "--diff")) {
                r = diff_stdin();
                if (r < 0)
                        fprintf(stderr, "smrequests-dump: %s\n", strerror(-r));
                return r < 0 || fflush(stdout) != 0 ? 1 : 0;
        }
        if (argc != 2) {
                fprintf(stderr, "usage: smrequests-dump <manifest-dir>\n");
                return 1;
        }
        r = load(argv[1], &d);
        if (r == 0)
                r = dump_variant(d, "iam", false);
        for (size_t i = 0; r == 0 && i < d->n_domains; i++)
                d->domains[i].auth_mode = SM_AUTH_SSO;
        if (r == 0)
                r = dump_variant(d, "sso", false);
        if (r == 0)
                r = make_full(d);
        if (r == 0)
                r = dump_variant(d, "full", true);
        sm_desired_free(d);
        if (r < 0) {
                fprintf(stderr, "smrequests-dump: %s\n", strerror(-r));
                return 1;
        }
        return fflush(stdout) == 0 ? 0 : 1;
}
