/* SPDX-License-Identifier: Apache-2.0 */
/* smstudiod: the reconcile daemon. Today it runs one pass and exits
 * (`--once`); the daemon loop (issue 6) will run the same sm_pass on every
 * trigger. The client stack is built exactly as `smstudioctl whoami` builds
 * it, so whoami shows the identity this pass acts as. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "config.h"
#include "smstudio/client.h"
#include "smstudio/creds.h"
#include "smstudio/daemonconfig.h"
#include "smstudio/fileio.h"
#include "smstudio/http.h"
#include "smstudio/imds.h"
#include "smstudio/log.h"
#include "smstudio/manifestdir.h"
#include "smstudio/observe.h"
#include "smstudio/pass.h"
#include "smstudio/settings.h"
#include "smstudio/strbuf.h"

#define EXIT_USAGE_OR_CONFIG 1

/* Settle timeouts and poll pacing of the executor (apply.h's defaults). */
#define ONCE_SETTLE_TIMEOUT_MS (30u * 60u * 1000u)
#define ONCE_MLFLOW_TIMEOUT_MS (60u * 60u * 1000u)
#define ONCE_POLL_INITIAL_MS   1000u
#define ONCE_POLL_MAX_MS       30000u

typedef struct once_args {
        bool once;
        bool dry_run;
        bool approve_deletions;
        bool json;
        int verbose;
        const char *config; /* NULL: the default path, which may be missing */
} once_args;

typedef struct once_state {
        const once_args *args;
        uv_loop_t *loop;
        bool finished;
        int exit_code;
} once_state;

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: smstudiod --once [--dry-run] [--config FILE] [--approve-deletions]\n"
                "                 [--json] [-v]\n"
                "       smstudiod --version\n"
                "\n"
                "Keep AWS SageMaker Studio equal to the manifests of manifest_dir.\n"
                "\n"
                "  --once               run one reconcile pass, then exit\n"
                "  --dry-run            plan only: make no change in AWS\n"
                "  --config FILE        daemon config (default %s)\n"
                "  --approve-deletions  let this pass delete past the deletion guard\n"
                "  --json               print the pass report as JSON on stdout\n"
                "  -v, --verbose        log debug messages\n"
                "\n"
                "Exit status of --once: 0 nothing to do, 2 changes made (or planned with\n"
                "--dry-run), 4 failures, 6 changes and failures, 1 usage or config error.\n",
                SM_DAEMON_CONFIG_PATH);
}

static int parse_args(int argc, char **argv, once_args *a)
{
        enum { OPT_ONCE = 0x100, OPT_DRY_RUN, OPT_CONFIG, OPT_APPROVE, OPT_JSON, OPT_VERSION };
        static const struct option options[] = {
                {"once", no_argument, NULL, OPT_ONCE},
                {"dry-run", no_argument, NULL, OPT_DRY_RUN},
                {"config", required_argument, NULL, OPT_CONFIG},
                {"approve-deletions", no_argument, NULL, OPT_APPROVE},
                {"json", no_argument, NULL, OPT_JSON},
                {"verbose", no_argument, NULL, 'v'},
                {"version", no_argument, NULL, OPT_VERSION},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "vh", options, NULL)) >= 0) {
                switch (c) {
                case OPT_ONCE:
                        a->once = true;
                        break;
                case OPT_DRY_RUN:
                        a->dry_run = true;
                        break;
                case OPT_CONFIG:
                        a->config = optarg;
                        break;
                case OPT_APPROVE:
                        a->approve_deletions = true;
                        break;
                case OPT_JSON:
                        a->json = true;
                        break;
                case 'v':
                        a->verbose++;
                        break;
                case OPT_VERSION:
                        printf("smstudiod %s\n", SM_VERSION);
                        return 0;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "smstudiod: unexpected argument '%s'\n", argv[optind]);
                usage(stderr);
                return -EINVAL;
        }
        return 1;
}

static void print_diags(const sm_diags *d)
{
        sm_buf text = {0};

        if (d->n == 0)
                return;
        if (sm_diags_format(d, &text) >= 0 && text.len > 0)
                fwrite(text.data, 1, text.len, stderr);
        sm_buf_done(&text);
}

static sm_daemon_config *load_config(const once_args *a)
{
        sm_daemon_config *c = NULL;
        sm_diags diags = {0};
        int r;

        /* A named file must exist; the default one may be missing (defaults). */
        r = sm_daemon_config_load(a->config, a->config != NULL, &c, &diags);
        if (r < 0) {
                if (diags.n > 0)
                        print_diags(&diags);
                else
                        sm_log_error("cannot load the daemon config %s: %s",
                                     a->config ? a->config : SM_DAEMON_CONFIG_PATH, strerror(-r));
                c = NULL;
        }
        sm_diags_done(&diags);
        return c;
}

/* mkdir -p, parents 0755 and the directory itself private: it holds the
 * last good manifests and the observed cache. */
/* Passes counted in state_dir/pass-count, so that every
 * describe_sweep_every-th pass Describes everything again (tag changes do
 * not move LastModifiedTime; only a sweep sees them). Best effort: a
 * counter that cannot be read or written only costs or skips a sweep. */
static unsigned next_pass_number(const char *state_dir)
{
        _cleanup_free_ char *path = sm_strf("%s/pass-count", state_dir);
        unsigned long n = 0;
        FILE *f;

        if (!path)
                return 1;
        f = fopen(path, "re");
        if (f) {
                if (fscanf(f, "%lu", &n) != 1)
                        n = 0;
                fclose(f);
        }
        return (unsigned)(n % 1000000000UL) + 1;
}

static void save_pass_number(const char *state_dir, unsigned n)
{
        _cleanup_free_ char *path = sm_strf("%s/pass-count", state_dir);
        char text[16];

        if (!path)
                return;
        snprintf(text, sizeof(text), "%u\n", n);
        (void)sm_write_file_atomic_at(AT_FDCWD, path, text, strlen(text));
}

static int make_state_dir(const char *dir)
{
        _cleanup_free_ char *p = strdup(dir);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* The idle shutdown script, base64, when some domain names a lifecycle
 * config (server_lifecycle_name); *ret stays NULL otherwise, so a host
 * without the script runs estates that do not use it. Read once per pass:
 * an edited script is a new content-addressed config on the next pass. */
static int lifecycle_content(const sm_daemon_config *config, const sm_desired *desired, char **ret)
{
        char *error = NULL;
        int r;

        for (size_t i = 0; i < desired->n_domains; i++) {
                if (!desired->domains[i].server_lifecycle_name)
                        continue;
                r = sm_daemon_config_lifecycle_b64(config, ret, &error);
                if (r < 0) {
                        sm_log_error("%s (domain %s sets server_lifecycle_name; set "
                                     "lifecycle_script in %s)",
                                     error ? error : strerror(-r), desired->domains[i].name,
                                     config->path ? config->path : SM_DAEMON_CONFIG_PATH);
                        free(error);
                }
                return r;
        }
        return 0;
}

static void on_round(unsigned round, const sm_plan *plan, const sm_apply_report *report,
                     void *userdata)
{
        const once_state *st = userdata;
        sm_buf text = {0};

        if (!report) {
                sm_log_info("round %u: %zu actions planned", round, plan->n_actions);
                if (st->args->json)
                        return;
                printf("round %u: %zu actions\n", round, plan->n_actions);
                if (sm_plan_format(plan, &text) >= 0 && text.len > 0)
                        fwrite(text.data, 1, text.len, stdout);
                sm_buf_done(&text);
                fflush(stdout);
                return;
        }
        sm_log_info("round %u: %u applied, %u already, %u skipped, %u blocked, %u failed, "
                    "%u timed out",
                    round, report->applied, report->already, report->skipped, report->blocked,
                    report->failed, report->timed_out);
        for (size_t i = 0; i < report->n_results && i < plan->n_actions; i++) {
                const sm_action_result *res = &report->results[i];
                const sm_action *a = &plan->actions[i];
                const sm_log_field fields[] = {
                        {"SMSTUDIO_RESOURCE", a->resource},
                        {"AWS_REQUEST_ID", res->error.request_id},
                };

                if (res->outcome == SM_OUTCOME_APPLIED || res->outcome == SM_OUTCOME_ALREADY)
                        continue;
                sm_log_fields(res->outcome == SM_OUTCOME_BLOCKED ? LOG_NOTICE : LOG_ERR, NULL,
                              fields, ELEMENTSOF(fields), "%s %s: %s%s%s%s%s%s%s", a->resource,
                              a->operation, sm_action_outcome_to_string(res->outcome),
                              res->error.code ? ": " : "", res->error.code ? res->error.code : "",
                              res->error.message ? ": " : "",
                              res->error.message ? res->error.message : "",
                              res->failure_reason ? ": " : "",
                              res->failure_reason ? res->failure_reason : "");
        }
}

static void on_pass_done(sm_pass_result *result, void *userdata)
{
        once_state *st = userdata;

        st->finished = true;
        /* The HTTP engine's idle handles would keep the loop running. */
        uv_stop(st->loop);
        if (result->r < 0)
                sm_log_error("the pass could not run: %s", strerror(-result->r));
        if (st->args->json) {
                if (result->report)
                        json_dumpf(result->report, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
                fputc('\n', stdout);
        } else {
                printf("pass: %u rounds, %u changes, %u failures\n", result->rounds,
                       result->changes, result->failures);
        }
        fflush(stdout);
        st->exit_code = sm_pass_exit_code(result);
        sm_pass_result_done(result);
}

typedef struct once_stack {
        uv_loop_t loop;
        bool loop_ok;
        sm_aws_settings *settings;
        sm_http *http;
        sm_imds *imds;
        sm_creds_provider *creds;
        sm_aws_client *client;
        sm_observe_cache *cache;
        sm_pass *pass;
        /* What starting the pass needs once the region is known. */
        sm_pass_options popts;
        once_state *st;
} once_stack;

static void once_stack_done(once_stack *s)
{
        /* Dependents first, then let the loop close their handles. */
        sm_pass_free(s->pass);
        sm_aws_client_free(s->client);
        sm_creds_provider_free(s->creds);
        sm_imds_free(s->imds);
        sm_http_free(s->http);
        if (s->loop_ok) {
                uv_run(&s->loop, UV_RUN_DEFAULT);
                uv_loop_close(&s->loop);
        }
        sm_observe_cache_free(s->cache);
        sm_aws_settings_free(s->settings);
}

/* Credentials, client and the pass, once settings have a region. */
static int once_start(once_stack *s)
{
        int r;

        r = sm_creds_provider_new_chain(&s->loop, s->http, s->settings, &s->creds);
        if (r >= 0)
                r = sm_aws_client_new(&s->loop, s->http, s->settings, s->creds, &s->client);
        if (r < 0)
                return r;
        s->popts.policy.region = s->settings->region;
        return sm_pass_start(&s->loop, s->client, s->cache, &s->popts, on_pass_done, s->st,
                             &s->pass);
}

static void no_region(const once_stack *s, const char *imds_error)
{
        sm_log_error("no AWS region configured: set region in the daemon config, AWS_REGION, or "
                     "the profile \"%s\"%s%s%s",
                     s->settings->profile, imds_error ? " (EC2 instance metadata: " : "",
                     imds_error ? imds_error : "", imds_error ? ")" : "");
}

/* What IMDS answers must look like a region before it names endpoints. */
static bool region_name_valid(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
                        return false;
        return true;
}

/* No region anywhere local: the instance's own, as the SDKs do (and
 * `smstudioctl whoami`). Failing that is a configuration error. */
static void on_imds_region(int r, const char *body, size_t len, const char *error, void *userdata)
{
        once_stack *s = userdata;
        char *region = NULL;

        if (r == -ECANCELED)
                return;
        if (r >= 0 && len > 0 && len <= 64)
                region = strndup(body, len);
        if (!region || !region_name_valid(region)) {
                no_region(s, r < 0 ? (error ? error : strerror(-r)) : "not a region name");
                free(region);
                s->st->exit_code = EXIT_USAGE_OR_CONFIG;
                uv_stop(&s->loop);
                return;
        }
        free(s->settings->region);
        s->settings->region = region;
        s->settings->region_source = "EC2 instance metadata";
        sm_log_info("AWS region %s, from EC2 instance metadata", region);
        r = once_start(s);
        if (r < 0) {
                sm_log_error("cannot run the pass: %s", strerror(-r));
                s->st->exit_code = 4;
                uv_stop(&s->loop);
        }
}

static int run_once(const once_args *a)
{
        _cleanup_(sm_daemon_config_freep) sm_daemon_config *config = NULL;
        _cleanup_(sm_manifest_load_freep) sm_manifest_load *load = NULL;
        _cleanup_free_ char *cache_path = NULL, *lifecycle_b64 = NULL;
        sm_manifest_dir_options mopts;
        sm_aws_overrides ov;
        sm_http_options hopts = {0};
        once_stack s = {0};
        once_state st = {.args = a, .exit_code = EXIT_USAGE_OR_CONFIG};
        char *error = NULL;
        unsigned pass_number;
        int r;

        s.st = &st;
        config = load_config(a);
        if (!config)
                return EXIT_USAGE_OR_CONFIG;
        if (a->verbose == 0)
                sm_log_set_max_level(config->log_level);
        r = make_state_dir(config->state_dir);
        if (r < 0) {
                sm_log_error("cannot create the state directory %s: %s", config->state_dir,
                             strerror(-r));
                return EXIT_USAGE_OR_CONFIG;
        }

        sm_manifest_dir_options_init(&mopts, config->manifest_dir);
        mopts.state_dir = config->state_dir;
        mopts.trusted_uid = geteuid();
        r = sm_manifest_dir_load(&mopts, &load);
        if (r < 0) {
                sm_log_error("cannot load the manifests of %s: %s", config->manifest_dir,
                             strerror(-r));
                return EXIT_USAGE_OR_CONFIG;
        }
        /* Every problem is shown, even those a last good copy covers. */
        print_diags(&load->diags);
        if (!load->desired) {
                sm_log_error("no usable manifests in %s: nothing to reconcile",
                             config->manifest_dir);
                return EXIT_USAGE_OR_CONFIG;
        }
        if (!load->complete)
                sm_log_warning("some manifests of %s are not in force: this pass deletes "
                               "nothing",
                               config->manifest_dir);

        r = lifecycle_content(config, load->desired, &lifecycle_b64);
        if (r < 0)
                return EXIT_USAGE_OR_CONFIG;

        sm_daemon_config_aws_overrides(config, &ov);
        r = sm_aws_settings_resolve(&ov, &s.settings, &error);
        if (r < 0) {
                sm_log_error("invalid AWS settings: %s", error ? error : strerror(-r));
                free(error);
                goto out;
        }
        if (isempty(s.settings->region) && s.settings->imds_disabled) {
                no_region(&s, NULL);
                goto out;
        }

        s.cache = sm_observe_cache_new();
        cache_path = sm_strf("%s/observed-cache.json", config->state_dir);
        if (!s.cache || !cache_path) {
                r = -ENOMEM;
                goto fail;
        }
        r = sm_observe_cache_load(s.cache, cache_path);
        if (r < 0)
                /* Only a cost: everything gets described again. */
                sm_log_warning("ignoring the observed cache %s: %s", cache_path, strerror(-r));

        r = uv_loop_init(&s.loop);
        if (r < 0)
                goto fail;
        s.loop_ok = true;
        st.loop = &s.loop;
        hopts.ca_bundle = s.settings->ca_bundle;
        hopts.max_in_flight = config->concurrency;
        r = sm_http_new(&s.loop, &hopts, &s.http);
        if (r < 0)
                goto fail;

        s.popts.desired = load->desired;
        s.popts.policy = (sm_plan_policy){
                .instance = config->instance,
                .load_complete = load->complete,
                .guard_max_count = config->guard_max_count,
                .guard_max_share_bp = config->guard_max_share_bp,
                .deletions_approved = a->approve_deletions,
                .lifecycle_content_b64 = lifecycle_b64,
                /* One pass of --once: the clock when it starts is close
                 * enough to judge what has been stuck for an hour. */
                .now = (double)time(NULL),
        };
        s.popts.apply = (sm_apply_options){
                .concurrency = config->concurrency,
                .settle_timeout_ms = ONCE_SETTLE_TIMEOUT_MS,
                .mlflow_timeout_ms = ONCE_MLFLOW_TIMEOUT_MS,
                .poll_initial_ms = ONCE_POLL_INITIAL_MS,
                .poll_max_ms = ONCE_POLL_MAX_MS,
        };
        pass_number = next_pass_number(config->state_dir);
        s.popts.full_sweep = config->describe_sweep_every <= 1 ||
                             pass_number % config->describe_sweep_every == 0;
        s.popts.dry_run = a->dry_run || config->dry_run;
        s.popts.on_round = on_round;
        s.popts.round_userdata = &st;
        if (isempty(s.settings->region)) {
                r = sm_imds_new(&s.loop, s.http, NULL, 0, &s.imds);
                if (r >= 0)
                        r = sm_imds_get(s.imds, "/latest/meta-data/placement/region",
                                        on_imds_region, &s);
        } else {
                r = once_start(&s);
        }
        if (r < 0)
                goto fail;
        uv_run(&s.loop, UV_RUN_DEFAULT);
        if (!s.pass)
                /* The region could not be found: reported, nothing ran. */
                goto out;
        if (!st.finished) {
                sm_log_error("the pass ended without a result");
                st.exit_code = 4;
        }
        r = sm_observe_cache_save(s.cache, cache_path);
        if (r < 0)
                sm_log_warning("cannot save the observed cache %s: %s", cache_path, strerror(-r));
        if (!s.popts.dry_run)
                save_pass_number(config->state_dir, pass_number);
        goto out;
fail:
        sm_log_error("cannot run the pass: %s", strerror(-r));
        st.exit_code = 4;
out:
        once_stack_done(&s);
        return st.exit_code;
}

int main(int argc, char **argv)
{
        once_args a = {0};
        int r;

        sm_log_set_target(SM_LOG_TARGET_STDERR);
        r = parse_args(argc, argv, &a);
        if (r == 0)
                return EXIT_SUCCESS;
        if (r < 0)
                return EXIT_USAGE_OR_CONFIG;
        if (a.verbose > 0)
                sm_log_set_max_level(LOG_DEBUG);
        if (!a.once) {
                fprintf(stderr, "smstudiod: the daemon loop is not built yet (issue 6); use "
                                "--once\n");
                return EXIT_USAGE_OR_CONFIG;
        }
        return run_once(&a);
}
