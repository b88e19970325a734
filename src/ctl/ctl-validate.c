/* SPDX-License-Identifier: Apache-2.0 */
/* smstudioctl validate: the daemon config and the manifest directory
 * checked offline, through the very loaders the daemon runs (daemon config,
 * then the manifest directory with its trust checks), minus the last good
 * copies: validate says whether the files as they are now are right. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "smstudio/daemonconfig.h"
#include "smstudio/desired.h"
#include "smstudio/diag.h"
#include "smstudio/manifestdir.h"
#include "smstudio/strbuf.h"

static const char *plural(size_t n, const char *one, const char *many)
{
        return n == 1 ? one : many;
}

/* How many distinct files the diagnostics name (they are sorted by path). */
static size_t diags_files(const sm_diags *d)
{
        size_t n = 0;

        for (size_t i = 0; i < d->n; i++)
                if (i == 0 || !streq(d->items[i].path, d->items[i - 1].path))
                        n++;
        return n;
}

typedef struct validate_result {
        bool valid;
        size_t files; /* manifests present (ignored names not counted) */
        bool have_dir;
        bool have_model;
        sm_desired_summary model;
        size_t errors;
        size_t error_files;
} validate_result;

static char *summary_line(const validate_result *v)
{
        sm_buf b = {0};
        size_t shared = v->model.spaces - v->model.generated_spaces;
        int r;

        /* Without a directory (the config that names it did not load) there
         * are no files to count: say what was checked. */
        if (v->have_dir)
                r = sm_buf_printf(&b, "%zu %s", v->files, plural(v->files, "file", "files"));
        else
                r = sm_buf_puts(&b, "daemon config");
        if (r >= 0 && v->have_model)
                r = sm_buf_printf(&b, ", %zu %s, %zu %s, %zu %s", v->model.domains,
                                  plural(v->model.domains, "domain", "domains"), v->model.users,
                                  plural(v->model.users, "user", "users"), shared,
                                  plural(shared, "space", "spaces"));
        if (r >= 0 && v->valid)
                r = sm_buf_puts(&b, ": valid");
        else if (r >= 0 && v->errors)
                r = sm_buf_printf(&b, ": %zu %s in %zu %s", v->errors,
                                  plural(v->errors, "error", "errors"), v->error_files,
                                  plural(v->error_files, "file", "files"));
        else if (r >= 0)
                r = sm_buf_puts(&b, ": invalid");
        if (r < 0) {
                sm_buf_done(&b);
                return NULL;
        }
        return sm_buf_steal(&b);
}

static json_t *result_json(const validate_result *v, const char *config, const char *dir,
                           const sm_manifest_load *load, const sm_diags *diags)
{
        json_t *files = NULL, *d = NULL, *summary;

        if (load) {
                json_t *lj = sm_manifest_load_to_json(load);

                files = lj ? json_incref(json_object_get(lj, "files")) : NULL;
                json_decref(lj);
        } else
                files = json_array();
        d = sm_diags_to_json(diags);
        summary =
                json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "files", (json_int_t)v->files, "domains",
                          (json_int_t)v->model.domains, "users", (json_int_t)v->model.users,
                          "spaces", (json_int_t)(v->model.spaces - v->model.generated_spaces),
                          "generated_spaces", (json_int_t)v->model.generated_spaces, "errors",
                          (json_int_t)v->errors, "files_with_errors", (json_int_t)v->error_files);
        if (!files || !d || !summary) {
                json_decref(files);
                json_decref(d);
                json_decref(summary);
                return NULL;
        }
        return json_pack("{s:b,s:s?,s:s?,s:o,s:o,s:o}", "valid", v->valid, "config", config,
                         "directory", dir, "files", files, "diagnostics", d, "summary", summary);
}

int ctl_verb_validate(const ctl_options *o, int argc, char **argv)
{
        _cleanup_(sm_daemon_config_freep) sm_daemon_config *cfg = NULL;
        _cleanup_(sm_manifest_load_freep) sm_manifest_load *load = NULL;
        sm_manifest_dir_options mo;
        validate_result v = {0};
        sm_diags diags = {0};
        const char *dir = NULL;
        bool config_ok = true;
        char *summary = NULL;
        int r, ret = EXIT_FAILURE;

        for (int i = 1; i < argc; i++) {
                if (argv[i][0] == '-' && argv[i][1]) {
                        fprintf(stderr, "smstudioctl: validate: unknown option \"%s\"\n", argv[i]);
                        return EXIT_USAGE;
                }
                if (dir) {
                        fprintf(stderr, "smstudioctl: validate takes at most one directory\n");
                        return EXIT_USAGE;
                }
                dir = argv[i];
        }

        /* The daemon config names the directory; with a DIR of its own the
         * config is checked only when named explicitly. */
        if (o->config || !dir) {
                r = sm_daemon_config_load(o->config, o->config != NULL, &cfg, &diags);
                if (r == -ENOMEM)
                        goto oom;
                config_ok = r >= 0;
                if (!config_ok && diags.n == 0 &&
                    sm_diags_add(&diags, o->config ? o->config : SM_DAEMON_CONFIG_PATH, 0, 0,
                                 "cannot load: %s", strerror(-r)) < 0)
                        goto oom;
        }
        if (!dir && cfg)
                dir = cfg->manifest_dir;

        if (dir) {
                sm_manifest_dir_options_init(&mo, dir);
                mo.trusted_uid = ctl_daemon_trusted_uid();
                r = sm_manifest_dir_load(&mo, &load);
                if (r < 0)
                        goto oom;
                v.have_dir = true;
                if (sm_diags_take(&diags, &load->diags) < 0)
                        goto oom;
                for (size_t i = 0; i < load->n_files; i++) {
                        const sm_manifest_dir_file *f = &load->files[i];

                        if (f->status == SM_MANIFEST_FILE_IGNORED) {
                                if (o->verbose)
                                        fprintf(stderr, "smstudioctl: note: ignoring %s (%s)\n",
                                                f->path, f->reason ? f->reason : "");
                                continue;
                        }
                        v.files++;
                }
                if (load->desired) {
                        v.have_model = true;
                        sm_desired_summarize(load->desired, &v.model);
                }
        }
        sm_diags_sort(&diags);
        v.valid = config_ok && load && load->valid;
        v.errors = diags.n;
        v.error_files = diags_files(&diags);

        if (o->json) {
                json_t *j = result_json(&v, cfg ? cfg->path : o->config, dir, load, &diags);

                if (!j)
                        goto oom;
                ctl_print_json(o, j);
                json_decref(j);
        } else {
                sm_buf text = {0};

                summary = summary_line(&v);
                if (!summary || sm_diags_format(&diags, &text) < 0) {
                        sm_buf_done(&text);
                        goto oom;
                }
                fputs(text.data ? text.data : "", stdout);
                printf("%s\n", summary);
                sm_buf_done(&text);
        }
        ret = v.valid ? EXIT_SUCCESS : EXIT_FAILURE;
        goto out;
oom:
        ctl_print_error(o, "InternalError", strerror(ENOMEM));
        ret = EXIT_FAILURE;
out:
        free(summary);
        sm_diags_done(&diags);
        return ret;
}
