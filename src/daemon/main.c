/* SPDX-License-Identifier: Apache-2.0 */
/* smstudiod: the reconcile daemon. By default it runs in the foreground
 * (systemd style: no fork, logs on stderr or to the journal) and keeps the
 * estate converged (daemon.c); `--once` runs one pass and exits. Both build
 * the client stack as `smstudioctl whoami` builds it, so whoami shows the
 * identity passes act as. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "config.h"
#include "smstudio/daemon.h"
#include "smstudio/log.h"
#include "smstudio/observe.h"
#include "smstudio/pass.h"
#include "smstudio/strbuf.h"

#define EXIT_USAGE_OR_CONFIG 1

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
        unsigned pass_number; /* the state directory's counter: SMSTUDIO_PASS */
        bool finished;
        int exit_code;
} once_state;

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: smstudiod [--config FILE] [-v]\n"
                "       smstudiod --once [--dry-run] [--config FILE] [--approve-deletions]\n"
                "                 [--json] [-v]\n"
                "       smstudiod --version\n"
                "\n"
                "Keep AWS SageMaker Studio equal to the manifests of manifest_dir. Without\n"
                "--once, run in the foreground until SIGTERM: a pass at start, on every\n"
                "change in manifest_dir or the config, every interval, on SIGUSR1 and on\n"
                "the control socket's request; SIGHUP reloads the config.\n"
                "\n"
                "  --once               run one reconcile pass, then exit\n"
                "  --dry-run            plan only: make no change in AWS\n"
                "  --config FILE        daemon config (default %s)\n"
                "  --approve-deletions  let this pass delete past the deletion guard\n"
                "  --json               print the pass report as JSON on stdout\n"
                "  -v, --verbose        log debug messages\n"
                "\n"
                "Log records go to the journal, with their fields, when systemd connected\n"
                "stderr to it ($JOURNAL_STREAM), with or without --once; else to stderr.\n"
                "\n"
                "Exit status: 0 after SIGTERM; 1 usage, config or start-up error (such as\n"
                "another smstudiod holding the state directory).\n"
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
        sm_daemon_log_round(st->pass_number, round, plan, report, NULL);
}

static void on_pass_done(sm_pass_result *result, void *userdata)
{
        once_state *st = userdata;

        char number[16];
        const sm_log_field fields[] = {
                {SM_LOG_FIELD_PASS, number},
                {SM_LOG_FIELD_RESULT, sm_pass_result_name(result)},
        };

        st->finished = true;
        /* The HTTP engine's idle handles would keep the loop running. */
        uv_stop(st->loop);
        snprintf(number, sizeof(number), "%u", st->pass_number);
        if (result->r < 0)
                sm_log_error("the pass could not run: %s", strerror(-result->r));
        sm_daemon_log_findings(st->pass_number, result->last_plan);
        sm_log_fields(result->failures || result->r < 0 ? LOG_WARNING : LOG_INFO,
                      SM_MESSAGE_PASS_FINISHED, fields, ELEMENTSOF(fields),
                      "pass %u finished: %u rounds, %u changes, %u failures", st->pass_number,
                      result->rounds, result->changes, result->failures);
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
        sm_aws_stack aws;
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
        sm_aws_stack_done(&s->aws);
        if (s->loop_ok) {
                uv_run(&s->loop, UV_RUN_DEFAULT);
                uv_loop_close(&s->loop);
        }
        sm_observe_cache_free(s->cache);
}

static int once_start(once_stack *s)
{
        char number[16];
        const sm_log_field fields[] = {{SM_LOG_FIELD_PASS, number}};
        int r;

        s->popts.policy.region = s->aws.settings->region;
        r = sm_pass_start(&s->loop, s->aws.client, s->cache, &s->popts, on_pass_done, s->st,
                          &s->pass);
        if (r < 0)
                return r;
        snprintf(number, sizeof(number), "%u", s->st->pass_number);
        sm_log_fields(LOG_INFO, SM_MESSAGE_PASS_STARTED, fields, ELEMENTSOF(fields),
                      "pass %u started (once)%s%s", s->st->pass_number,
                      s->popts.dry_run ? ", dry run" : "",
                      s->popts.policy.deletions_approved ? ", deletions approved" : "");
        return 0;
}

/* The region came from EC2 instance metadata (or could not). */
static void on_stack_ready(int r, void *userdata)
{
        once_stack *s = userdata;

        if (r < 0) {
                s->st->exit_code = r == -ENXIO ? EXIT_USAGE_OR_CONFIG : 4;
                uv_stop(&s->loop);
                return;
        }
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
        once_stack s = {0};
        once_state st = {.args = a, .exit_code = EXIT_USAGE_OR_CONFIG};
        unsigned pass_number;
        int r;

        s.st = &st;
        if (sm_daemon_config_load_logged(a->config, &config) < 0)
                return EXIT_USAGE_OR_CONFIG;
        if (a->verbose == 0)
                sm_log_set_max_level(config->log_level);
        sm_log_id(LOG_INFO, SM_MESSAGE_CONFIG_LOADED, "config loaded from %s",
                  config->path ? config->path : "the built-in defaults");
        r = sm_daemon_state_dir_make(config->state_dir);
        if (r < 0) {
                sm_log_error("cannot create the state directory %s: %s", config->state_dir,
                             strerror(-r));
                return EXIT_USAGE_OR_CONFIG;
        }

        if (sm_daemon_manifests_load(config, &load) < 0)
                return EXIT_USAGE_OR_CONFIG;
        if (!load->desired) {
                sm_log_error("no usable manifests in %s: nothing to reconcile",
                             config->manifest_dir);
                return EXIT_USAGE_OR_CONFIG;
        }
        if (!load->complete)
                sm_log_warning("some manifests of %s are not in force: this pass deletes "
                               "nothing",
                               config->manifest_dir);

        r = sm_daemon_lifecycle_content(config, load->desired, &lifecycle_b64);
        if (r < 0)
                return EXIT_USAGE_OR_CONFIG;

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

        sm_daemon_pass_options_init(&s.popts, config, load, lifecycle_b64);
        s.popts.policy.deletions_approved = a->approve_deletions;
        pass_number = sm_daemon_pass_number_next(config->state_dir);
        st.pass_number = pass_number;
        s.popts.full_sweep = config->describe_sweep_every <= 1 ||
                             pass_number % config->describe_sweep_every == 0;
        s.popts.dry_run = a->dry_run || config->dry_run;
        s.popts.on_round = on_round;
        s.popts.round_userdata = &st;
        r = sm_aws_stack_start(&s.aws, &s.loop, config, on_stack_ready, &s);
        if (r == -ENXIO || r == -EINVAL)
                /* No region, invalid AWS settings: reported, a config error. */
                goto out;
        if (r > 0)
                r = once_start(&s);
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
                sm_daemon_pass_number_save(config->state_dir, pass_number);
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
        /* From here on log lines go to the journal when systemd connected
         * stderr to it (JOURNAL_STREAM), as for a timer's oneshot --once,
         * else to stderr; usage errors above always go to stderr. */
        sm_log_set_target(SM_LOG_TARGET_AUTO);
        if (a.once)
                return run_once(&a);
        if (a.dry_run || a.approve_deletions || a.json) {
                fprintf(stderr, "smstudiod: --dry-run, --approve-deletions and --json go with "
                                "--once\n");
                return EXIT_USAGE_OR_CONFIG;
        }
        /* A long-running daemon on built-in defaults alone is almost always
         * a missing package file or a typo, not a wish: say so instead of
         * claiming /var/lib/smstudio and the default socket. */
        if (!a.config && access(SM_DAEMON_CONFIG_PATH, F_OK) < 0) {
                fprintf(stderr,
                        "smstudiod: no daemon config at %s; install one or name it with "
                        "--config (--once runs on the defaults)\n",
                        SM_DAEMON_CONFIG_PATH);
                return EXIT_USAGE_OR_CONFIG;
        }
        return sm_daemon_main(&(sm_daemon_args){.config_path = a.config, .verbose = a.verbose > 0});
}
