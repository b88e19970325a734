/* SPDX-License-Identifier: Apache-2.0 */
/* The contract of pass.h against the AWS emulator: the --once exit code of
 * every result, a small estate converging over rounds and a second pass
 * with nothing to do (the emulator's counters, not the pass's account, say
 * so), a failing call counted once however many rounds retry it, and a
 * pass stopped or freed while it observes. Only pass.h's public face is
 * used: observe, plan and apply have suites of their own. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "smstudio/client.h"
#include "smstudio/creds.h"
#include "smstudio/http.h"
#include "smstudio/manifest.h"
#include "smstudio/observe.h"
#include "smstudio/pass.h"
#include "smstudio/settings.h"
#include "testmain.h"

#define INSTANCE "test-pass"

/* Two data scientists, no spaces, MLflow or projects: roles, then the
 * domain, then its profiles and isolation policy, so at least three rounds. */
static const char estate[] = "kind: Domain\n"
                             "name: passdom\n"
                             "vpc_id: vpc-0a1b2c3d4e5f60718\n"
                             "subnet_ids:\n"
                             "  - subnet-0123456789abcdef0\n"
                             "enable_custom_sagemaker_projects: false\n"
                             "enable_jupyterlab_app: false\n"
                             "mlflow_enabled: false\n"
                             "data_science_users:\n"
                             "  - u1\n"
                             "  - u2\n";

typedef struct stack {
        uv_loop_t loop;
        sm_fixture emu;
        sm_test_aws aws;
        sm_observe_cache *cache;
        sm_desired *desired;
} stack;

static char *const emu_args[] = {"--async-delay-ms", "30", NULL};

static sm_desired *desired_from(const char *yaml)
{
        sm_manifest_file *f = NULL;
        sm_diags diags = {0};
        sm_desired *d = NULL;

        ck_assert_int_eq(sm_manifest_file_parse("estate.yaml", yaml, strlen(yaml), &f, &diags), 0);
        ck_assert_int_eq(sm_desired_build(&f, 1, &d, &diags), 0);
        sm_manifest_file_free(f);
        sm_diags_done(&diags);
        return d;
}

/* Every service on the emulator, through the overrides the daemon config
 * feeds (not the environment), and one attempt per call: a fault injected
 * is a failure the pass sees, not one the client retries away. */
static void stack_start(stack *s)
{
        ck_assert_int_eq(uv_loop_init(&s->loop), 0);
        ck_assert_int_eq(sm_test_start_awsemu(emu_args, &s->emu), 0);
        sm_test_aws_start(&s->loop, sm_fixture_url(&s->emu), 1, &s->aws);
        s->cache = sm_observe_cache_new();
        ck_assert_ptr_nonnull(s->cache);
        s->desired = desired_from(estate);
}

static void stack_stop(stack *s)
{
        /* Freeing the client cancels what is in flight; the loop then
         * closes every handle, a lingering pass's included. */
        sm_test_aws_stop(&s->loop, &s->aws, 10000);
        ck_assert_int_eq(uv_loop_close(&s->loop), 0);
        sm_observe_cache_free(s->cache);
        sm_desired_free(s->desired);
        sm_fixture_stop(&s->emu);
}

/* The emulator's count of calls that change something (not List, Describe
 * or Get), or of one operation when op is set ("sagemaker:CreateDomain"). */
static long emu_count(stack *s, const char *op)
{
        json_t *all = sm_fixture_admin(&s->emu, "GET", "/_emu/calls", NULL, 200), *v;
        const char *key;
        long n = 0;

        json_object_foreach(all, key, v)
        {
                const char *name = strchr(key, ':');

                if (op ? strcmp(key, op) == 0
                       : name && strncmp(name + 1, "List", 4) != 0 &&
                                    strncmp(name + 1, "Describe", 8) != 0 &&
                                    strncmp(name + 1, "Get", 3) != 0)
                        n += (long)json_integer_value(v);
        }
        json_decref(all);
        return n;
}

typedef struct pass_run {
        bool done;
        unsigned calls; /* done must run exactly once */
        sm_pass_result result;
} pass_run;

static void on_pass_done(sm_pass_result *result, void *userdata)
{
        pass_run *run = userdata;

        run->done = true;
        run->calls++;
        /* Take the result over: it is ours to free. */
        run->result = *result;
        *result = (sm_pass_result){0};
}

static sm_pass_options pass_options(const stack *s)
{
        return (sm_pass_options){
                .desired = s->desired,
                .policy = {.instance = INSTANCE,
                           .region = "us-east-1",
                           .load_complete = true,
                           .guard_max_count = 5,
                           .guard_max_share_bp = 1000},
                .apply = {.concurrency = 4,
                          .settle_timeout_ms = 20000,
                          .mlflow_timeout_ms = 20000,
                          .poll_initial_ms = 20,
                          .poll_max_ms = 200},
        };
}

/* Start a pass over the stack's estate with opts (NULL: pass_options());
 * done never runs inside the start. */
static sm_pass *start_pass_with(stack *s, pass_run *run, const sm_pass_options *opts)
{
        sm_pass_options defaults = pass_options(s);
        sm_pass *p = NULL;

        *run = (pass_run){0};
        ck_assert_int_eq(sm_pass_start(&s->loop, s->aws.client, s->cache, opts ? opts : &defaults,
                                       on_pass_done, run, &p),
                         0);
        ck_assert(!run->done);
        return p;
}

static sm_pass *start_pass(stack *s, pass_run *run)
{
        return start_pass_with(s, run, NULL);
}

/* One pass to its end; the result is the caller's (sm_pass_result_done). */
static void run_pass_with(stack *s, pass_run *run, const sm_pass_options *opts)
{
        sm_pass *p = start_pass_with(s, run, opts);

        ck_assert_int_eq(sm_test_run_until(&s->loop, &run->done, 60000), 0);
        ck_assert_uint_eq(run->calls, 1);
        sm_pass_free(p);
        ck_assert_ptr_nonnull(run->result.report);
        ck_assert_uint_eq(json_array_size(json_object_get(run->result.report, "rounds")),
                          run->result.rounds);
}

static void run_pass(stack *s, pass_run *run)
{
        run_pass_with(s, run, NULL);
}

START_TEST(test_exit_code)
{
        static const struct {
                int r;
                unsigned changes, failures;
                int want;
        } cases[] = {
                {0, 0, 0, 0},    {0, 3, 0, 2},       {0, 0, 1, 4},    {0, 2, 5, 6},
                {-EIO, 0, 0, 4}, {-ENOMEM, 1, 0, 6}, {-EIO, 0, 2, 4},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const sm_pass_result res = {
                        .r = cases[i].r,
                        .changes = cases[i].changes,
                        .failures = cases[i].failures,
                };

                ck_assert_msg(sm_pass_exit_code(&res) == cases[i].want, "case %zu: %d, want %d", i,
                              sm_pass_exit_code(&res), cases[i].want);
        }
}
END_TEST

START_TEST(test_converges_then_nothing_to_do)
{
        stack s = {0};
        pass_run run;
        long mutating;

        stack_start(&s);
        run_pass(&s, &run);
        ck_assert_int_eq(run.result.r, 0);
        ck_assert_uint_eq(run.result.failures, 0);
        ck_assert_uint_gt(run.result.changes, 0);
        /* Roles, then the domain, then what needs its id. */
        ck_assert_uint_ge(run.result.rounds, 3);
        ck_assert_int_eq(sm_pass_exit_code(&run.result), 2);
        ck_assert_int_eq(emu_count(&s, "iam:CreateRole"), 3);
        ck_assert_int_eq(emu_count(&s, "sagemaker:CreateDomain"), 1);
        ck_assert_int_eq(emu_count(&s, "sagemaker:CreateUserProfile"), 2);
        /* The pass ended because a plan was empty, not because it ran out of rounds. */
        ck_assert_ptr_nonnull(run.result.last_plan);
        ck_assert_uint_eq(run.result.last_plan->n_actions, 0);
        sm_pass_result_done(&run.result);

        mutating = emu_count(&s, NULL);
        ck_assert_int_gt(mutating, 0);
        run_pass(&s, &run);
        ck_assert_int_eq(run.result.r, 0);
        ck_assert_uint_eq(run.result.rounds, 1);
        ck_assert_uint_eq(run.result.changes, 0);
        ck_assert_uint_eq(run.result.failures, 0);
        ck_assert_int_eq(sm_pass_exit_code(&run.result), 0);
        ck_assert_int_eq(emu_count(&s, NULL), mutating);
        sm_pass_result_done(&run.result);
        stack_stop(&s);
}
END_TEST

/* The outcomes named outcome (NULL: any) of resource's calls (NULL: any),
 * only those marked held when held_only, over every round. */
static unsigned report_count(const json_t *report, const char *resource, const char *outcome,
                             bool held_only)
{
        const json_t *round, *o;
        unsigned n = 0;
        size_t i, j;

        json_array_foreach(json_object_get(report, "rounds"), i, round)
        {
                json_array_foreach(json_object_get(round, "outcomes"), j, o)
                {
                        if ((!resource ||
                             strstr(json_string_value(json_object_get(o, "resource")), resource)) &&
                            (!outcome || strcmp(json_string_value(json_object_get(o, "outcome")),
                                                outcome) == 0) &&
                            (!held_only || json_is_true(json_object_get(o, "held"))))
                                n++;
                }
        }
        return n;
}

static unsigned report_outcomes(const json_t *report, const char *resource, const char *outcome)
{
        return report_count(report, resource, outcome, false);
}

START_TEST(test_failure_counted_once)
{
        stack s = {0};
        pass_run run;

        stack_start(&s);
        /* The first profile is created, every later CreateUserProfile fails:
         * the round that made the first one progressed, so the next round
         * plans the second one again, and it fails again. */
        json_decref(sm_fixture_admin(&s.emu, "POST", "/_emu/faults",
                                     "{\"operation\": \"sagemaker:CreateUserProfile\", "
                                     "\"kind\": \"error5xx\", \"status\": 500, \"after\": 1}",
                                     200));
        run_pass(&s, &run);
        ck_assert_int_eq(run.result.r, 0);
        ck_assert_uint_ge(report_outcomes(run.result.report, "user-profile/", "failed"), 2);
        ck_assert_int_ge(emu_count(&s, "sagemaker:CreateUserProfile"), 3);
        ck_assert_uint_eq(run.result.failures, 1);
        ck_assert_uint_gt(run.result.changes, 0);
        ck_assert_int_eq(sm_pass_exit_code(&run.result), 6);
        sm_pass_result_done(&run.result);

        /* Once AWS takes the call again, a pass finishes the job: the failure
         * was not remembered past its pass. */
        json_decref(sm_fixture_admin(&s.emu, "DELETE", "/_emu/faults", NULL, 200));
        run_pass(&s, &run);
        ck_assert_uint_eq(run.result.failures, 0);
        ck_assert_int_eq(sm_pass_exit_code(&run.result), 2);
        sm_pass_result_done(&run.result);
        stack_stop(&s);
}
END_TEST

/* What on_refused heard. */
typedef struct refusals {
        unsigned n;
        char resource[128];
        char operation[64];
        char code[64];
        bool request_id;
} refusals;

static void on_refused(const sm_action *a, const sm_action_result *res, void *userdata)
{
        refusals *r = userdata;

        r->n++;
        ck_assert(sm_pass_action_refused(res));
        snprintf(r->resource, sizeof(r->resource), "%s", a->resource);
        snprintf(r->operation, sizeof(r->operation), "%s", a->operation);
        snprintf(r->code, sizeof(r->code), "%s", res->error.code ? res->error.code : "");
        r->request_id = res->error.request_id && *res->error.request_id;
}

START_TEST(test_refused_call_not_repeated_in_the_pass)
{
        stack s = {0};
        pass_run run;
        refusals heard = {0};
        sm_pass_options opts;

        stack_start(&s);
        opts = pass_options(&s);
        opts.on_refused = on_refused;
        opts.hold_userdata = &heard;
        /* As above, but AWS refuses the second profile as invalid: no later
         * round of this pass sends it again (the 5xx case above does), while
         * the rest of the estate still converges around it. */
        json_decref(sm_fixture_admin(&s.emu, "POST", "/_emu/faults",
                                     "{\"operation\": \"sagemaker:CreateUserProfile\", "
                                     "\"kind\": \"reject\", \"after\": 1}",
                                     200));
        run_pass_with(&s, &run, &opts);
        ck_assert_int_eq(run.result.r, 0);
        ck_assert_uint_ge(run.result.rounds, 3);
        ck_assert_int_eq(emu_count(&s, "sagemaker:CreateUserProfile"), 2);
        /* The caller heard of the refusal once, with what AWS said. */
        ck_assert_uint_eq(heard.n, 1);
        ck_assert_ptr_nonnull(strstr(heard.resource, "user-profile/passdom/"));
        ck_assert_str_eq(heard.operation, "CreateUserProfile");
        ck_assert_str_ne(heard.code, "");
        ck_assert(heard.request_id);
        ck_assert_uint_eq(run.result.held, 0);
        ck_assert_uint_eq(report_outcomes(run.result.report, "user-profile/", "failed"), 1);
        ck_assert_uint_eq(run.result.failures, 1);
        ck_assert_int_eq(sm_pass_exit_code(&run.result), 6);
        sm_pass_result_done(&run.result);

        /* A new pass is a new chance (the manifest may have changed). */
        json_decref(sm_fixture_admin(&s.emu, "DELETE", "/_emu/faults", NULL, 200));
        run_pass(&s, &run);
        ck_assert_int_eq(emu_count(&s, "sagemaker:CreateUserProfile"), 3);
        ck_assert_uint_eq(run.result.failures, 0);
        sm_pass_result_done(&run.result);
        stack_stop(&s);
}
END_TEST

/* A hook that holds the first CreateRole it is asked about. */
typedef struct holder {
        unsigned asked;
        char resource[128];
        /* From the round callback: the held action's outcome and its
         * dependents' (those that name it in deps). */
        unsigned held_outcomes, dependents, dependents_skipped;
} holder;

static bool hold_first_role(const sm_action *a, void *userdata)
{
        holder *h = userdata;

        h->asked++;
        if (strcmp(a->operation, "CreateRole") != 0)
                return false;
        if (!h->resource[0])
                snprintf(h->resource, sizeof(h->resource), "%s", a->resource);
        return strcmp(a->resource, h->resource) == 0;
}

static void on_round_held(unsigned round, const sm_plan *plan, const sm_apply_report *report,
                          void *userdata)
{
        holder *h = userdata;

        if (!report)
                return;
        for (size_t i = 0; i < plan->n_actions; i++) {
                const sm_action *a = &plan->actions[i];

                if (strcmp(a->resource, h->resource) == 0 &&
                    strcmp(a->operation, "CreateRole") == 0) {
                        ck_assert_int_eq(report->results[i].outcome, SM_OUTCOME_SKIPPED);
                        h->held_outcomes++;
                        for (size_t j = 0; j < plan->n_actions; j++)
                                for (size_t k = 0; k < plan->actions[j].n_deps; k++)
                                        if (plan->actions[j].deps[k] == i) {
                                                h->dependents++;
                                                h->dependents_skipped +=
                                                        report->results[j].outcome ==
                                                        SM_OUTCOME_SKIPPED;
                                        }
                }
        }
}

START_TEST(test_hook_holds_an_action_and_its_dependents)
{
        stack s = {0};
        pass_run run;
        holder h = {0};
        sm_pass_options opts;

        stack_start(&s);
        opts = pass_options(&s);
        opts.hold = hold_first_role;
        opts.hold_userdata = &h;
        opts.on_round = on_round_held;
        opts.round_userdata = &h;
        run_pass_with(&s, &run, &opts);
        ck_assert_int_eq(run.result.r, 0);
        ck_assert_uint_gt(h.asked, 0);
        ck_assert_str_ne(h.resource, "");
        /* Held in every round that planned it, never called; what needs it
         * (its policies) was skipped with it; the other roles were made. */
        ck_assert_uint_ge(h.held_outcomes, 1);
        ck_assert_uint_gt(h.dependents, 0);
        ck_assert_uint_eq(h.dependents_skipped, h.dependents);
        ck_assert_int_eq(emu_count(&s, "iam:CreateRole"), 2);
        ck_assert_uint_eq(report_count(run.result.report, NULL, "skipped", true), h.held_outcomes);
        /* One held action, one failure however many rounds held it. */
        ck_assert_uint_eq(run.result.held, 1);
        ck_assert_uint_ge(run.result.failures, 1);
        ck_assert_uint_gt(run.result.changes, 0);
        ck_assert_int_eq(sm_pass_exit_code(&run.result), 6);
        sm_pass_result_done(&run.result);

        /* Without the hook the next pass makes it. */
        run_pass(&s, &run);
        ck_assert_int_eq(emu_count(&s, "iam:CreateRole"), 3);
        ck_assert_uint_eq(run.result.held, 0);
        sm_pass_result_done(&run.result);
        stack_stop(&s);
}
END_TEST

START_TEST(test_stop_while_observing)
{
        stack s = {0};
        pass_run run;
        sm_pass *p;

        stack_start(&s);
        p = start_pass(&s, &run);
        /* The observation is in flight: done has not run and cannot yet. */
        sm_pass_stop(p);
        sm_pass_stop(p); /* idempotent */
        ck_assert(!run.done);
        ck_assert_int_eq(sm_test_run_until(&s.loop, &run.done, 30000), 0);
        ck_assert_uint_eq(run.calls, 1);
        /* The observation ran to its end; nothing after it did. */
        ck_assert_uint_eq(run.result.rounds, 1);
        ck_assert_uint_eq(run.result.changes, 0);
        ck_assert_int_eq(emu_count(&s, NULL), 0);
        sm_pass_free(p);
        sm_pass_result_done(&run.result);
        stack_stop(&s);
}
END_TEST

START_TEST(test_free_while_observing)
{
        stack s = {0};
        pass_run run;
        sm_pass *p;

        stack_start(&s);
        p = start_pass(&s, &run);
        /* Cancelled mid-observation: done never runs; the pass lingers until
         * its observation ends (here, when the client cancels its calls),
         * then frees itself. ASan's leak check and uv_loop_close() in
         * stack_stop() say whether it did. */
        ck_assert_ptr_null(sm_pass_free(p));
        stack_stop(&s);
        ck_assert(!run.done);
        ck_assert_uint_eq(run.calls, 0);
}
END_TEST

static Suite *pass_suite(void)
{
        Suite *s = suite_create("pass");
        TCase *tc = tcase_create("pass");

        tcase_set_timeout(tc, 90);
        tcase_add_test(tc, test_exit_code);
        tcase_add_test(tc, test_converges_then_nothing_to_do);
        tcase_add_test(tc, test_failure_counted_once);
        tcase_add_test(tc, test_refused_call_not_repeated_in_the_pass);
        tcase_add_test(tc, test_hook_holds_an_action_and_its_dependents);
        tcase_add_test(tc, test_stop_while_observing);
        tcase_add_test(tc, test_free_while_observing);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(pass_suite)
