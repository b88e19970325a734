/* SPDX-License-Identifier: Apache-2.0 */
/* The verbs that ask smstudiod over its control socket (io.smstudio, see
 * src/daemon/io.smstudio.varlink). Each is one blocking varlink call: with
 * --json the reply's parameters as they came, else a text rendering. What a
 * failure means to a script is the exit status (ctl.h), what it means to a
 * person the message, which names the socket, the method and the error. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "smstudio/daemonconfig.h"
#include "smstudio/outputs.h"
#include "smstudio/strbuf.h"
#include "smstudio/timeutil.h"
#include "smstudio/varlink.h"

/* How long a call may take unless --timeout says otherwise: answers from
 * memory come at once; Plan observes the whole estate (minutes with
 * thousands of users); Reconcile --wait lasts a whole pass. */
#define TIMEOUT_READ_MS  (30 * 1000ULL)
#define TIMEOUT_PLAN_MS  (600 * 1000ULL)
#define TIMEOUT_WAIT_MS  (3600 * 1000ULL)
#define INTERFACE_PREFIX "io.smstudio."

static const char *str_or(const json_t *obj, const char *key, const char *fallback)
{
        const char *s = json_string_value(json_object_get(obj, key));

        return s ? s : fallback;
}

static json_int_t int_of(const json_t *obj, const char *key)
{
        return json_integer_value(json_object_get(obj, key));
}

/* The socket to call: -s, else the daemon config's socket.path. A config
 * that does not load keeps smstudioctl usable (a daemon with a broken file
 * on disk still runs its last good config, and status is how one finds
 * out), unless --config named it. NULL after reporting (*ret_exit set). */
static char *socket_path(const ctl_options *o, int *ret_exit)
{
        _cleanup_(sm_daemon_config_freep) sm_daemon_config *c = NULL;
        sm_diags diags = {0};
        char *path;
        int r;

        if (o->socket)
                path = strdup(o->socket);
        else if (o->config) {
                c = ctl_load_config(o);
                if (!c) {
                        *ret_exit = EXIT_FAILURE;
                        return NULL;
                }
                path = strdup(c->socket_path);
        } else {
                r = sm_daemon_config_load(NULL, false, &c, &diags);
                if (r < 0) {
                        fprintf(stderr,
                                "smstudioctl: warning: ignoring %s (%s); trying the default "
                                "socket %s\n",
                                SM_DAEMON_CONFIG_PATH,
                                diags.n > 0 ? diags.items[0].message : strerror(-r),
                                SM_DAEMON_DEFAULT_SOCKET_PATH);
                        path = strdup(SM_DAEMON_DEFAULT_SOCKET_PATH);
                } else
                        path = strdup(c->socket_path);
                sm_diags_done(&diags);
        }
        if (!path) {
                ctl_print_error(o, "InternalError", strerror(ENOMEM));
                *ret_exit = EXIT_FAILURE;
        }
        return path;
}

/* Why the call could not be made, as an operator reads it. */
static int report_call_failure(const ctl_options *o, const char *path, const char *method,
                               uint64_t timeout_ms, int r)
{
        _cleanup_free_ char *msg = NULL;
        const char *code = "DaemonUnreachable";
        int ret = EXIT_NO_DAEMON;

        switch (r) {
        case -ENOENT:
                msg = sm_strf("cannot reach smstudiod: %s does not exist (is smstudiod "
                              "running? -s names another socket)",
                              path);
                break;
        case -ECONNREFUSED:
                msg = sm_strf("cannot reach smstudiod: %s refused the connection (smstudiod "
                              "is not running, or is restarting)",
                              path);
                break;
        case -EACCES:
        case -EPERM:
                msg = sm_strf("cannot reach smstudiod: permission denied on %s (the socket "
                              "is open to root and its group only)",
                              path);
                break;
        case -ETIMEDOUT:
                code = "Timeout";
                ret = EXIT_FAILURE;
                msg = sm_strf("%s: smstudiod at %s did not answer within %" PRIu64
                              " s (--timeout sets the limit)",
                              method, path, timeout_ms / 1000);
                break;
        case -EBADMSG:
        case -EMSGSIZE:
                code = "BadReply";
                ret = EXIT_FAILURE;
                msg = sm_strf("%s: %s did not answer in the varlink format (%s)", method, path,
                              strerror(-r));
                break;
        default:
                msg = sm_strf("cannot reach smstudiod at %s: %s", path, strerror(-r));
                break;
        }
        ctl_print_error(o, code, msg ? msg : strerror(-r));
        return ret;
}

/* prefix, the strings of list joined by ", ", suffix. */
static char *list_sentence(const char *prefix, const json_t *list, const char *suffix)
{
        sm_buf b = {0};
        const json_t *v;
        size_t i;
        int r;

        r = sm_buf_printf(&b, "%s", prefix);
        json_array_foreach(list, i, v)
        {
                const char *item = json_string_value(v);

                if (r >= 0)
                        r = sm_buf_printf(&b, "%s%s", i ? ", " : "", item ? item : "?");
        }
        if (r >= 0)
                r = sm_buf_printf(&b, "%s", suffix);
        if (r < 0) {
                sm_buf_done(&b);
                return NULL;
        }
        return sm_buf_steal(&b);
}

/* NoSuchDomain: the one named, or the need to name one. */
static char *domain_sentence(const json_t *p)
{
        const json_t *domains = json_object_get(p, "domains");

        if (json_is_string(json_object_get(p, "domain")))
                return sm_strf("no domain \"%s\"", str_or(p, "domain", "?"));
        if (json_array_size(domains) == 0)
                return strdup("the manifests declare no domain");
        return list_sentence("the manifests declare several domains: name one of ", domains, "");
}

/* The sentence for a varlink error the daemon answered. */
static char *error_sentence(const char *method, const char *error, const json_t *p)
{
        const char *short_name = error;
        _cleanup_free_ char *detail = NULL;

        if (strncmp(error, INTERFACE_PREFIX, strlen(INTERFACE_PREFIX)) == 0)
                short_name = error + strlen(INTERFACE_PREFIX);
        if (streq(error, SM_VARLINK_ERROR_PERMISSION_DENIED))
                detail = strdup("only root and members of the daemon's admin_group may call it");
        else if (streq(short_name, "NoSuchResource"))
                detail = sm_strf("no resource \"%s\"", str_or(p, "name", "?"));
        else if (streq(short_name, "NoSuchDomain"))
                detail = domain_sentence(p);
        else if (streq(short_name, "NotCreated"))
                detail = list_sentence("not created in AWS yet: ", json_object_get(p, "missing"),
                                       " (a pass of smstudiod creates them)");
        else if (streq(short_name, "AwsCallFailed"))
                detail = sm_strf("%s answered %s: %s%s%s", str_or(p, "operation", "?"),
                                 str_or(p, "code", "?"), str_or(p, "message", ""),
                                 json_is_string(json_object_get(p, "request_id")) ? "; request id "
                                                                                  : "",
                                 str_or(p, "request_id", ""));
        else if (streq(short_name, "Busy"))
                detail = sm_strf("busy: %s", str_or(p, "reason", "a pass is running"));
        else if (streq(short_name, "InvalidLogLevel"))
                detail = sm_strf("no log level \"%s\" (emerg, alert, crit, err, warning, notice, "
                                 "info, debug)",
                                 str_or(p, "level", "?"));
        else if (streq(short_name, "NothingToApprove"))
                detail = strdup("no deletions are held");
        else if (streq(error, "org.varlink.service.MethodNotFound"))
                detail = strdup("this smstudiod does not offer it (an older version?)");
        else if (json_object_size(p) > 0)
                detail = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
        if (detail)
                return sm_strf("%s failed: %s (%s)", method, detail, error);
        return sm_strf("%s failed: %s", method, error);
}

/* Call io.smstudio.<name>. 0 with *ret (the reply's parameters), or the
 * exit status after reporting the failure. Takes params (NULL: {}). */
static int daemon_call(const ctl_options *o, const char *name, json_t *params,
                       uint64_t default_timeout_ms, json_t **ret)
{
        _cleanup_(json_decrefp) json_t *p = params ? params : json_object();
        _cleanup_(json_decrefp) json_t *reply = NULL;
        _cleanup_free_ char *path = NULL, *method = NULL, *error = NULL;
        uint64_t timeout_ms = o->timeout_ms ? o->timeout_ms : default_timeout_ms;
        int r, ret_exit = EXIT_FAILURE;

        path = socket_path(o, &ret_exit);
        if (!path)
                return ret_exit;
        method = sm_strf(INTERFACE_PREFIX "%s", name);
        if (!p || !method) {
                ctl_print_error(o, "InternalError", strerror(ENOMEM));
                return EXIT_FAILURE;
        }
        r = sm_varlink_call_sync(path, method, p, timeout_ms, &reply, &error);
        if (r < 0)
                return report_call_failure(o, path, method, timeout_ms, r);
        if (error) {
                _cleanup_free_ char *msg = error_sentence(method, error, reply);
                _cleanup_(json_decrefp) json_t *extra = json_pack(
                        "{s:s,s:O}", "method", method, "parameters", reply ? reply : json_null());

                ctl_print_error_with(o, error, msg ? msg : error, extra);
                if (streq(error, SM_VARLINK_ERROR_PERMISSION_DENIED))
                        return EXIT_DENIED;
                /* As the live outputs verb says it. */
                if (streq(error, INTERFACE_PREFIX "NotCreated"))
                        return EXIT_NOT_CREATED;
                return EXIT_FAILURE;
        }
        if (!json_is_object(reply)) {
                ctl_print_error(o, "BadReply", "smstudiod answered without parameters");
                return EXIT_FAILURE;
        }
        *ret = TAKE_PTR(reply);
        return 0;
}

static bool result_failed(const char *result)
{
        return streq_ptr(result, "failed") || streq_ptr(result, "changed-and-failed") ||
               streq_ptr(result, "error");
}

/* An RFC 3339 time with its fraction of a second, as a double. */
static int parse_time(const char *s, double *ret)
{
        const char *dot;
        int64_t t;
        double frac = 0, scale = 0.1;

        if (!s || sm_parse_iso8601(s, &t) < 0)
                return -EINVAL;
        dot = strchr(s, '.');
        if (dot)
                for (const char *p = dot + 1; *p >= '0' && *p <= '9'; p++, scale /= 10)
                        frac += (*p - '0') * scale;
        *ret = (double)t + frac;
        return 0;
}

/* "0.4 s", "12 s", "3m 05s", "2h 10m", "3d 04h". */
static void format_duration(double sec, char *out, size_t n)
{
        uint64_t s;

        if (sec < 0)
                sec = 0;
        if (sec < 10) {
                snprintf(out, n, "%.1f s", sec);
                return;
        }
        s = (uint64_t)(sec + 0.5);
        if (s < 60)
                snprintf(out, n, "%" PRIu64 " s", s);
        else if (s < 3600)
                snprintf(out, n, "%" PRIu64 "m %02" PRIu64 "s", s / 60, s % 60);
        else if (s < 86400)
                snprintf(out, n, "%" PRIu64 "h %02" PRIu64 "m", s / 3600, s / 60 % 60);
        else
                snprintf(out, n, "%" PRIu64 "d %02" PRIu64 "h", s / 86400, s / 3600 % 24);
}

/* "#7 (timer) changed: 3 changes, 0 failures, 41 API calls, 2.1 s" and,
 * for a pass that could not run, why. */
static char *pass_summary(const json_t *pass)
{
        const char *result = str_or(pass, "result", "?");
        const char *colour = "", *error = str_or(pass, "error", NULL);
        double start, end;
        char took[32] = "";
        sm_buf b = {0};
        int r;

        if (result_failed(result))
                colour = ctl_phase_colour("failing");
        else if (streq(result, "running"))
                colour = ctl_phase_colour("pending");
        if (parse_time(str_or(pass, "started", NULL), &start) >= 0 &&
            parse_time(str_or(pass, "finished", NULL), &end) >= 0)
                format_duration(end - start, took, sizeof(took));
        r = sm_buf_printf(&b,
                          "#%" JSON_INTEGER_FORMAT " (%s) %s%s%s: %" JSON_INTEGER_FORMAT
                          " changes, %" JSON_INTEGER_FORMAT " failures, %" JSON_INTEGER_FORMAT
                          " API calls",
                          int_of(pass, "number"), str_or(pass, "trigger", "?"), colour, result,
                          *colour ? ctl_colour_end() : "", int_of(pass, "changes"),
                          int_of(pass, "failures"), int_of(pass, "api_calls"));
        if (r >= 0 && *took)
                r = sm_buf_printf(&b, ", %s", took);
        else if (r >= 0)
                r = sm_buf_printf(&b, " so far, since %s", str_or(pass, "started", "?"));
        if (r >= 0 && error)
                r = sm_buf_printf(&b, " (%s)", error);
        if (r < 0) {
                sm_buf_done(&b);
                return NULL;
        }
        return sm_buf_steal(&b);
}

static char *counts_line(const json_t *counts)
{
        static const char *const phases[] = {"converged", "pending", "failing", "conflict", "held"};
        sm_buf b = {0};
        int r = 0;

        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(phases); i++) {
                json_int_t n = int_of(counts, phases[i]);
                /* Zero counts stay plain so the eye goes to what is not. */
                const char *on = n ? ctl_phase_colour(phases[i]) : "";

                r = sm_buf_printf(&b, "%s%s%" JSON_INTEGER_FORMAT " %s%s", i ? ", " : "", on, n,
                                  phases[i], *on ? ctl_colour_end() : "");
        }
        if (r < 0) {
                sm_buf_done(&b);
                return NULL;
        }
        return sm_buf_steal(&b);
}

static char *next_pass_line(const json_t *st)
{
        const char *next = str_or(st, "next_pass", NULL);
        char in[32];
        double t;

        if (!next)
                return strdup(json_is_true(json_object_get(st, "paused")) ? "- (paused)" : "-");
        if (parse_time(next, &t) < 0)
                return strdup(next);
        if (t <= (double)sm_now_unix())
                return sm_strf("%s (due now)", next);
        format_duration(t - (double)sm_now_unix(), in, sizeof(in));
        return sm_strf("%s (in %s)", next, in);
}

/* Whether status should exit 3: see EXIT STATUS in smstudioctl(1). */
static bool status_failing(const json_t *st)
{
        const json_t *counts = json_object_get(st, "counts");
        const json_t *last = json_object_get(st, "last_pass");

        return int_of(counts, "failing") > 0 || int_of(counts, "conflict") > 0 ||
               json_is_false(json_object_get(st, "manifests_complete")) ||
               result_failed(str_or(last, "result", NULL));
}

static void print_status_text(const json_t *st)
{
        _cleanup_free_ char *config = NULL, *manifests = NULL, *state = NULL, *counts = NULL,
                            *running = NULL, *last = NULL, *next = NULL, *held = NULL;
        const json_t *running_pass = json_object_get(st, "running");
        const json_t *last_pass = json_object_get(st, "last_pass");
        json_int_t n_held = int_of(st, "deletions_held");
        bool complete = !json_is_false(json_object_get(st, "manifests_complete"));

        config = sm_strf("%s (generation %" JSON_INTEGER_FORMAT ")", str_or(st, "config_path", "-"),
                         int_of(st, "config_generation"));
        manifests =
                sm_strf("generation %" JSON_INTEGER_FORMAT "%s", int_of(st, "manifest_generation"),
                        complete ? ""
                                 : ", incomplete: a manifest failed to load, "
                                   "nothing is deleted");
        if (json_is_true(json_object_get(st, "paused")))
                state = sm_strf("%spaused%s: %s", ctl_phase_colour("held"), ctl_colour_end(),
                                str_or(st, "pause_reason", "no reason given"));
        else
                state = strdup("active");
        counts = counts_line(json_object_get(st, "counts"));
        if (json_is_object(running_pass))
                running = pass_summary(running_pass);
        if (json_is_object(last_pass))
                last = pass_summary(last_pass);
        next = next_pass_line(st);
        if (n_held > 0)
                held = sm_strf("%s%" JSON_INTEGER_FORMAT "%s (run \"smstudioctl approve\" to let "
                               "the next pass make them)",
                               ctl_phase_colour("held"), n_held, ctl_colour_end());
        else
                held = strdup("0");
        {
                const ctl_field fields[] = {
                        {"Version", str_or(st, "version", NULL)},
                        {"Instance", str_or(st, "instance", NULL)},
                        {"Config", config},
                        {"Manifests", manifests},
                        {"State", state},
                        {"Resources", counts},
                        {"Running pass", running},
                        {"Last pass", last},
                        {"Next pass", next},
                        {"Deletions held", held},
                };
                const ctl_options text = {0};

                ctl_print_record(&text, fields, ELEMENTSOF(fields));
        }
}

/* Renders a reply as text; returns the exit status. userdata is the
 * verb's. */
typedef int (*render_fn)(const ctl_options *o, const json_t *reply, void *userdata);

/* One verb's call: io.smstudio.<name>(params), then the reply printed as
 * text by render, or as JSON; verdict, when not NULL, turns the reply into
 * the exit status in both cases (render's is used for text otherwise). */
static int run_call(const ctl_options *o, const char *name, json_t *params, uint64_t timeout_ms,
                    render_fn render, render_fn verdict, void *userdata)
{
        _cleanup_(json_decrefp) json_t *reply = NULL;
        int r;

        r = daemon_call(o, name, params, timeout_ms, &reply);
        if (r != 0)
                return r;
        if (o->json)
                ctl_print_json(o, reply);
        else
                r = render(o, reply, userdata);
        if (verdict)
                return verdict(o, reply, userdata);
        return r;
}

/* Verbs that take nothing but the options. */
static bool no_args(const char *verb, int argc)
{
        if (argc > 1) {
                fprintf(stderr, "smstudioctl: %s takes no arguments\n", verb);
                return false;
        }
        return true;
}

/* A render printing the sentence userdata. */
static int render_sentence(const ctl_options *o, const json_t *reply, void *userdata)
{
        printf("%s\n", (const char *)userdata);
        return EXIT_SUCCESS;
}

static int render_status(const ctl_options *o, const json_t *st, void *userdata)
{
        print_status_text(st);
        return EXIT_SUCCESS;
}

static int status_verdict(const ctl_options *o, const json_t *st, void *userdata)
{
        return status_failing(st) ? EXIT_FAILING : EXIT_SUCCESS;
}

int ctl_verb_status(const ctl_options *o, int argc, char **argv)
{
        if (!no_args(argv[0], argc))
                return EXIT_USAGE;
        return run_call(o, "Status", NULL, TIMEOUT_READ_MS, render_status, status_verdict, NULL);
}

static void print_resource_text(const json_t *res)
{
        const json_t *err = json_object_get(res, "last_error");
        const char *phase = str_or(res, "phase", NULL);
        _cleanup_free_ char *phase_text = NULL, *action = NULL, *error = NULL, *drift = NULL;

        phase_text = sm_strf("%s%s%s", ctl_phase_colour(phase), phase ? phase : "-",
                             *ctl_phase_colour(phase) ? ctl_colour_end() : "");
        if (json_is_string(json_object_get(res, "last_action")))
                action = sm_strf("%s (%s)", str_or(res, "last_action", ""),
                                 str_or(res, "last_action_time", "time unknown"));
        if (json_is_object(err))
                error = sm_strf("%s%s%s", str_or(err, "code", "?"),
                                json_is_string(json_object_get(err, "message")) ? ": " : "",
                                str_or(err, "message", ""));
        drift = sm_strf("%" JSON_INTEGER_FORMAT, int_of(res, "drift_repaired"));
        {
                const ctl_field fields[] = {
                        {"Name", str_or(res, "name", NULL)},
                        {"Kind", str_or(res, "kind", NULL)},
                        {"Phase", phase_text},
                        {"Message", str_or(res, "message", NULL)},
                        {"Manifest", str_or(res, "manifest", NULL)},
                        {"Last action", action},
                        {"Last error", error},
                        {"Request id", str_or(err, "request_id", NULL)},
                        {"Error time", str_or(err, "time", NULL)},
                        {"Drift repaired", drift},
                };
                const ctl_options text = {0};

                ctl_print_record(&text, fields, ELEMENTSOF(fields));
        }
}

static int print_resources_table(const ctl_options *o, const json_t *list)
{
        static const char *const headers[] = {"NAME", "PHASE", "LAST-ACTION", "MESSAGE"};
        size_t n = json_array_size(list), i;
        _cleanup_free_ const char **cells = NULL, **colours = NULL;
        const json_t *res;

        if (n == 0) {
                printf("No resources.\n");
                return EXIT_SUCCESS;
        }
        cells = calloc(n * ELEMENTSOF(headers), sizeof(*cells));
        colours = calloc(n * ELEMENTSOF(headers), sizeof(*colours));
        if (!cells || !colours) {
                ctl_print_error(o, "InternalError", strerror(ENOMEM));
                return EXIT_FAILURE;
        }
        json_array_foreach(list, i, res)
        {
                const char **row = cells + i * ELEMENTSOF(headers);

                row[0] = str_or(res, "name", NULL);
                row[1] = str_or(res, "phase", NULL);
                row[2] = str_or(res, "last_action", NULL);
                row[3] = str_or(res, "message", NULL);
                colours[i * ELEMENTSOF(headers) + 1] = ctl_phase_colour(row[1]);
        }
        ctl_print_table(headers, ELEMENTSOF(headers), cells, colours, n);
        return EXIT_SUCCESS;
}

static int render_resources(const ctl_options *o, const json_t *reply, void *userdata)
{
        const json_t *list = json_object_get(reply, "resources");

        if (!userdata)
                return print_resources_table(o, list);
        for (size_t i = 0; i < json_array_size(list); i++) {
                if (i > 0)
                        putchar('\n');
                print_resource_text(json_array_get(list, i));
        }
        return EXIT_SUCCESS;
}

int ctl_verb_resources(const ctl_options *o, int argc, char **argv)
{
        const char *name = argc == 2 ? argv[1] : NULL;

        if (argc > 2) {
                fprintf(stderr, "smstudioctl: resources takes at most one resource name\n");
                return EXIT_USAGE;
        }
        return run_call(o, "Resources", json_pack("{s:s*}", "name", name), TIMEOUT_READ_MS,
                        render_resources, NULL, (void *)name);
}

static int render_plan(const ctl_options *o, const json_t *reply, void *userdata)
{
        const char *diff = str_or(reply, "diff", "");

        if (isempty(diff) && int_of(reply, "changes") == 0)
                printf("No changes.\n");
        else
                printf("%s%s", diff, !isempty(diff) && diff[strlen(diff) - 1] == '\n' ? "" : "\n");
        return EXIT_SUCCESS;
}

int ctl_verb_plan(const ctl_options *o, int argc, char **argv)
{
        if (!no_args(argv[0], argc))
                return EXIT_USAGE;
        return run_call(o, "Plan", NULL, TIMEOUT_PLAN_MS, render_plan, NULL, NULL);
}

static int render_pass(const ctl_options *o, const json_t *reply, void *userdata)
{
        const json_t *pass = json_object_get(reply, "pass");
        _cleanup_free_ char *summary = NULL;

        if (!o->wait)
                printf("A pass is starting (\"smstudioctl status\" follows it).\n");
        else if (json_is_object(pass)) {
                summary = pass_summary(pass);
                printf("Pass %s\n", summary ? summary : "?");
        }
        return EXIT_SUCCESS;
}

/* reconcile --wait: 3 when the pass failed, 1 when no pass came back. */
static int pass_verdict(const ctl_options *o, const json_t *reply, void *userdata)
{
        const json_t *pass = json_object_get(reply, "pass");

        if (!o->wait)
                return EXIT_SUCCESS;
        if (!json_is_object(pass)) {
                ctl_print_error(o, "NoPass", "io.smstudio.Reconcile answered without the pass");
                return EXIT_FAILURE;
        }
        return result_failed(str_or(pass, "result", NULL)) ? EXIT_FAILING : EXIT_SUCCESS;
}

int ctl_verb_reconcile(const ctl_options *o, int argc, char **argv)
{
        if (!no_args(argv[0], argc))
                return EXIT_USAGE;
        return run_call(o, "Reconcile", json_pack("{s:b}", "wait", o->wait),
                        o->wait ? TIMEOUT_WAIT_MS : TIMEOUT_READ_MS, render_pass, pass_verdict,
                        NULL);
}

static int render_paused(const ctl_options *o, const json_t *reply, void *userdata)
{
        printf("Paused: %s\nNo pass starts, across restarts too, until \"smstudioctl resume\".\n",
               (const char *)userdata);
        return EXIT_SUCCESS;
}

int ctl_verb_pause(const ctl_options *o, int argc, char **argv)
{
        _cleanup_free_ char *reason = NULL;
        sm_buf b = {0};
        int r = 0;

        /* The reason is the rest of the line, so it needs no quoting. */
        for (int i = 1; r >= 0 && i < argc; i++)
                r = sm_buf_printf(&b, "%s%s", i > 1 ? " " : "", argv[i]);
        reason = r >= 0 ? sm_buf_steal(&b) : NULL;
        sm_buf_done(&b);
        if (!reason) {
                ctl_print_error(o, "InternalError", strerror(ENOMEM));
                return EXIT_FAILURE;
        }
        if (reason[strspn(reason, " \t")] == '\0') {
                fprintf(stderr, "smstudioctl: pause needs a REASON (shown by status and kept "
                                "across restarts)\n");
                return EXIT_USAGE;
        }
        return run_call(o, "Pause", json_pack("{s:s}", "reason", reason), TIMEOUT_READ_MS,
                        render_paused, NULL, reason);
}

int ctl_verb_resume(const ctl_options *o, int argc, char **argv)
{
        if (!no_args(argv[0], argc))
                return EXIT_USAGE;
        return run_call(o, "Resume", NULL, TIMEOUT_READ_MS, render_sentence, NULL,
                        "Resumed: passes start again.");
}

static int render_approved(const ctl_options *o, const json_t *reply, void *userdata)
{
        json_int_t n = int_of(reply, "deletions");

        printf("Approved %" JSON_INTEGER_FORMAT " %s; a pass is starting to make %s.\n", n,
               n == 1 ? "deletion" : "deletions", n == 1 ? "it" : "them");
        return EXIT_SUCCESS;
}

int ctl_verb_approve(const ctl_options *o, int argc, char **argv)
{
        if (!no_args(argv[0], argc))
                return EXIT_USAGE;
        return run_call(o, "Approve", NULL, TIMEOUT_READ_MS, render_approved, NULL, NULL);
}

static int render_metrics(const ctl_options *o, const json_t *reply, void *userdata)
{
        fputs(str_or(reply, "text", ""), stdout);
        return EXIT_SUCCESS;
}

int ctl_verb_metrics(const ctl_options *o, int argc, char **argv)
{
        if (!no_args(argv[0], argc))
                return EXIT_USAGE;
        return run_call(o, "Metrics", NULL, TIMEOUT_READ_MS, render_metrics, NULL, NULL);
}

static int render_log_level(const ctl_options *o, const json_t *reply, void *userdata)
{
        printf("smstudiod now logs at %s and above.\n", (const char *)userdata);
        return EXIT_SUCCESS;
}

int ctl_verb_log_level(const ctl_options *o, int argc, char **argv)
{
        if (argc != 2) {
                fprintf(stderr, "smstudioctl: log-level takes one LEVEL (emerg, alert, crit, err, "
                                "warning, notice, info, debug)\n");
                return EXIT_USAGE;
        }
        return run_call(o, "SetLogLevel", json_pack("{s:s}", "level", argv[1]), TIMEOUT_READ_MS,
                        render_log_level, NULL, argv[1]);
}

static bool known_output(const char *key)
{
        for (size_t i = 0; i < _SM_OUTPUT_MAX; i++)
                if (streq(key, sm_output_label(i)))
                        return true;
        return false;
}

int ctl_daemon_outputs(const ctl_options *o, const char *domain)
{
        _cleanup_(json_decrefp) json_t *reply = NULL;
        _cleanup_free_ ctl_field *fields = NULL;
        const json_t *outputs, *v;
        const char *key;
        size_t n = 0;
        int r;

        r = daemon_call(o, "Outputs", json_pack("{s:s*}", "domain", domain), TIMEOUT_READ_MS,
                        &reply);
        if (r != 0)
                return r;
        outputs = json_object_get(reply, "outputs");
        /* The flat object the live verb prints, so its consumers need not
         * know where the values came from. */
        if (o->json) {
                ctl_print_json(o, json_is_object(outputs) ? outputs : reply);
                return EXIT_SUCCESS;
        }
        fields = calloc(json_object_size(outputs) + 1, sizeof(*fields));
        if (!fields) {
                ctl_print_error(o, "InternalError", strerror(ENOMEM));
                return EXIT_FAILURE;
        }
        /* The original's order first, then anything a newer daemon adds. */
        for (size_t i = 0; i < _SM_OUTPUT_MAX; i++)
                if (json_object_get(outputs, sm_output_label(i)))
                        fields[n++] = (ctl_field){
                                sm_output_label(i),
                                json_string_value(json_object_get(outputs, sm_output_label(i)))};
        json_object_foreach((json_t *)outputs, key, v)
        {
                if (!known_output(key))
                        fields[n++] = (ctl_field){key, json_string_value(v)};
        }
        ctl_print_record(o, fields, n);
        return EXIT_SUCCESS;
}
