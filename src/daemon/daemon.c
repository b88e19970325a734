/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon: one libuv loop, one pass at a time.
 *
 * Triggers (start, the periodic timer, a debounced change in the manifest
 * directory or the config file's directory, SIGUSR1, SIGHUP, the control
 * socket) all go through request_pass(): with no pass running one starts at
 * once; during a pass the request only sets `pending`, so any number of
 * triggers during a pass make exactly one more pass after it. Waiters of
 * Reconcile(wait) asked during a pass belong to that next pass.
 *
 * Reloads are all or nothing: a config that fails to load keeps the running
 * one; a manifest directory that yields no model keeps the current model.
 * The AWS client stack is rebuilt on a config change only between passes.
 *
 * Terminal failures: the engine holds back, within one pass, a call AWS
 * refused as invalid. Across passes the daemon does (held_calls, through
 * sm_pass_options.hold and on_refused), keyed by resource, operation and a
 * SHA-256 of the request's canonical JSON (sorted keys): the same request
 * is held on every later pass, a changed manifest makes a new request (a
 * new key) and is tried, SIGHUP forgets every key, and a key no complete
 * pass asked about is dropped. A held call stays a failure: the status
 * store sees it FAILED with the error AWS gave (phase failing, last error
 * kept), while the log says so once, when AWS refused it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "config.h"
#include "smstudio/control.h"
#include "smstudio/daemon.h"
#include "smstudio/endpoint.h"
#include "smstudio/fileio.h"
#include "smstudio/log.h"
#include "smstudio/observe.h"
#include "smstudio/sigv4.h"
#include "smstudio/status.h"
#include "smstudio/strbuf.h"
#include "smstudio/timeutil.h"

/* A burst of writes (an editor's save, a package unpacking many files) is
 * one trigger: the first event arms this timer, later ones ride on it. */
#define DEBOUNCE_MS 150u

/* ---------------------------------------------------------------------- */
/* Shared with --once                                                      */

/* Diagnostics, one record each, worded as they are formatted
 * (path:line:column: message): what an editor or CI jumps to. Manifest
 * problems carry SMSTUDIO_MANIFEST and MANIFEST_REJECTED, so the journal
 * can be asked for one file's story. */
static void log_diags(const sm_diags *d, bool manifests)
{
        for (size_t i = 0; i < d->n; i++) {
                const sm_diag *g = &d->items[i];
                _cleanup_free_ char *place = g->line ? sm_strf("%s:%u", g->path, g->line)
                                                     : strdup(g->path ? g->path : "");
                const sm_log_field fields[] = {{SM_LOG_FIELD_MANIFEST, place}};
                sm_buf text = {0};
                sm_diags one = {.items = (sm_diag *)g, .n = 1, .cap = 1};

                /* The formatter's own wording, without its newline. */
                if (sm_diags_format(&one, &text) < 0 || !text.data) {
                        sm_buf_done(&text);
                        continue;
                }
                if (text.len > 0 && text.data[text.len - 1] == '\n')
                        text.data[--text.len] = '\0';
                sm_log_fields(LOG_ERR, manifests ? SM_MESSAGE_MANIFEST_REJECTED : NULL,
                              manifests ? fields : NULL, manifests ? ELEMENTSOF(fields) : 0, "%s",
                              text.data);
                sm_buf_done(&text);
        }
}

int sm_daemon_config_load_logged(const char *path, sm_daemon_config **ret)
{
        sm_daemon_config *c = NULL;
        sm_diags diags = {0};
        int r;

        /* A named file must exist; the default one may be missing (defaults). */
        r = sm_daemon_config_load(path, path != NULL, &c, &diags);
        if (r < 0) {
                log_diags(&diags, false);
                sm_log_id(LOG_ERR, SM_MESSAGE_CONFIG_REJECTED,
                          "cannot load the daemon config %s: %s",
                          path ? path : SM_DAEMON_CONFIG_PATH,
                          diags.n > 0 ? "see the problems above" : strerror(-r));
        } else {
                *ret = c;
        }
        sm_diags_done(&diags);
        return r;
}

int sm_daemon_state_dir_make(const char *dir)
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

int sm_daemon_manifests_load(const sm_daemon_config *config, sm_manifest_load **ret)
{
        sm_manifest_dir_options mopts;
        sm_manifest_load *load = NULL;
        int r;

        sm_manifest_dir_options_init(&mopts, config->manifest_dir);
        mopts.state_dir = config->state_dir;
        mopts.trusted_uid = geteuid();
        r = sm_manifest_dir_load(&mopts, &load);
        if (r < 0) {
                sm_log_error("cannot load the manifests of %s: %s", config->manifest_dir,
                             strerror(-r));
                return r;
        }
        /* Every problem is shown, even those a last good copy covers. */
        log_diags(&load->diags, true);
        *ret = load;
        return 0;
}

int sm_daemon_lifecycle_content(const sm_daemon_config *config, const sm_desired *desired,
                                char **ret)
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

void sm_daemon_pass_options_init(sm_pass_options *opts, const sm_daemon_config *config,
                                 const sm_manifest_load *load, const char *lifecycle_b64)
{
        *opts = (sm_pass_options){
                .desired = load->desired,
                .policy =
                        {
                                .instance = config->instance,
                                .load_complete = load->complete,
                                .guard_max_count = config->guard_max_count,
                                .guard_max_share_bp = config->guard_max_share_bp,
                                .lifecycle_content_b64 = lifecycle_b64,
                                /* The clock when the pass starts is close enough to
                                 * judge what has been stuck for an hour. */
                                .now = (double)time(NULL),
                        },
                .apply =
                        {
                                .concurrency = config->concurrency,
                                .settle_timeout_ms = SM_DAEMON_SETTLE_TIMEOUT_MS,
                                .mlflow_timeout_ms = SM_DAEMON_MLFLOW_TIMEOUT_MS,
                                .poll_initial_ms = SM_DAEMON_POLL_INITIAL_MS,
                                .poll_max_ms = SM_DAEMON_POLL_MAX_MS,
                        },
                .dry_run = config->dry_run,
        };
}

/* Passes counted in state_dir/pass-count, so that every
 * describe_sweep_every-th pass Describes everything again (tag changes do
 * not move LastModifiedTime; only a sweep sees them). Best effort: a
 * counter that cannot be read or written only costs or skips a sweep. */
unsigned sm_daemon_pass_number_next(const char *state_dir)
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

void sm_daemon_pass_number_save(const char *state_dir, unsigned n)
{
        _cleanup_free_ char *path = sm_strf("%s/pass-count", state_dir);
        char text[16];

        if (!path)
                return;
        snprintf(text, sizeof(text), "%u\n", n);
        (void)sm_write_file_atomic_at(AT_FDCWD, path, text, strlen(text));
}

void sm_daemon_log_round(unsigned pass, unsigned round, const sm_plan *plan,
                         const sm_apply_report *report, const bool *quiet)
{
        char number[16];

        snprintf(number, sizeof(number), "%u", pass);
        sm_log_info("round %u: %u applied, %u already, %u skipped, %u blocked, %u failed, "
                    "%u timed out",
                    round, report->applied, report->already, report->skipped, report->blocked,
                    report->failed, report->timed_out);
        for (size_t i = 0; i < report->n_results && i < plan->n_actions; i++) {
                const sm_action_result *res = &report->results[i];
                const sm_action *a = &plan->actions[i];
                _cleanup_free_ char *manifest =
                        a->source.file ? sm_strf("%s:%u", a->source.file, a->source.line) : NULL;
                const sm_log_field fields[] = {
                        {SM_LOG_FIELD_PASS, number},
                        {SM_LOG_FIELD_RESOURCE, a->resource},
                        {SM_LOG_FIELD_MANIFEST, manifest},
                        {SM_LOG_FIELD_ACTION, sm_verb_to_string(a->verb)},
                        {SM_LOG_FIELD_RESULT, sm_action_outcome_to_string(res->outcome)},
                        {SM_LOG_FIELD_AWS_SERVICE, sm_aws_service_get(a->service)->name},
                        {SM_LOG_FIELD_AWS_OPERATION, a->operation},
                        {SM_LOG_FIELD_AWS_REQUEST_ID,
                         res->request_id ? res->request_id : res->error.request_id},
                        {SM_LOG_FIELD_AWS_ERROR_CODE, res->error.code},
                };

                if (quiet && quiet[i]) {
                        sm_log_fields(LOG_DEBUG, NULL, fields, ELEMENTSOF(fields),
                                      "%s %s: held (refused earlier)", a->resource, a->operation);
                        continue;
                }
                if (res->outcome == SM_OUTCOME_APPLIED || res->outcome == SM_OUTCOME_ALREADY) {
                        sm_log_fields(LOG_INFO, SM_MESSAGE_ACTION_APPLIED, fields,
                                      ELEMENTSOF(fields), "%s %s: %s", a->resource, a->operation,
                                      sm_action_outcome_to_string(res->outcome));
                        continue;
                }
                /* Blocked (the next round's) and skipped (a dependency did
                 * not apply, and said so) are not failures of their own. */
                bool failed =
                        res->outcome != SM_OUTCOME_BLOCKED && res->outcome != SM_OUTCOME_SKIPPED;

                sm_log_fields(failed ? LOG_ERR : LOG_NOTICE,
                              failed ? SM_MESSAGE_ACTION_FAILED : NULL, fields, ELEMENTSOF(fields),
                              "%s %s: %s%s%s%s%s%s%s", a->resource, a->operation,
                              sm_action_outcome_to_string(res->outcome),
                              res->error.code ? ": " : "", res->error.code ? res->error.code : "",
                              res->error.message ? ": " : "",
                              res->error.message ? res->error.message : "",
                              res->failure_reason ? ": " : "",
                              res->failure_reason ? res->failure_reason : "");
        }
}

void sm_daemon_log_findings(unsigned pass, const sm_plan *plan)
{
        char number[16];

        if (!plan)
                return;
        snprintf(number, sizeof(number), "%u", pass);
        for (size_t i = 0; i < plan->n_findings; i++) {
                const sm_finding *f = &plan->findings[i];
                _cleanup_free_ char *manifest =
                        f->source.file ? sm_strf("%s:%u", f->source.file, f->source.line) : NULL;
                const sm_log_field fields[] = {
                        {SM_LOG_FIELD_PASS, number},
                        {SM_LOG_FIELD_RESOURCE, f->resource},
                        {SM_LOG_FIELD_MANIFEST, manifest},
                };
                const char *id;
                int priority;

                switch (f->kind) {
                case SM_FINDING_DELETION_GUARDED:
                        id = SM_MESSAGE_DELETION_GUARD;
                        priority = LOG_WARNING;
                        break;
                case SM_FINDING_CONFLICT:
                case SM_FINDING_REPLACE_REFUSED:
                        id = SM_MESSAGE_CONFLICT;
                        priority = LOG_WARNING;
                        break;
                default:
                        continue;
                }
                sm_log_fields(priority, id, fields, ELEMENTSOF(fields), "%s: %s", f->resource,
                              f->message ? f->message : "");
        }
}

static void no_region(const sm_aws_settings *settings, const char *imds_error)
{
        sm_log_error("no AWS region configured: set region in the daemon config, AWS_REGION, or "
                     "the profile \"%s\"%s%s%s",
                     settings->profile, imds_error ? " (EC2 instance metadata: " : "",
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

typedef struct stack_start {
        sm_aws_stack *s;
        uv_loop_t *loop;
        sm_aws_stack_ready_fn ready;
        void *userdata;
} stack_start;

static int stack_client(sm_aws_stack *s, uv_loop_t *loop)
{
        int r;

        r = sm_creds_provider_new_chain(loop, s->http, s->settings, &s->creds);
        if (r >= 0)
                r = sm_aws_client_new(loop, s->http, s->settings, s->creds, &s->client);
        if (r < 0)
                sm_log_error("cannot set up the AWS client: %s", strerror(-r));
        return r;
}

/* No region anywhere local: the instance's own, as the SDKs do (and
 * `smstudioctl whoami`). Failing that is a configuration error. */
static void on_imds_region(int r, const char *body, size_t len, const char *error, void *userdata)
{
        _cleanup_free_ stack_start *st = userdata;
        sm_aws_stack *s = st->s;
        char *region = NULL;

        if (r == -ECANCELED)
                return;
        if (r >= 0 && len > 0 && len <= 64)
                region = strndup(body, len);
        if (!region || !region_name_valid(region)) {
                no_region(s->settings,
                          r < 0 ? (error ? error : strerror(-r)) : "not a region name");
                free(region);
                st->ready(-ENXIO, st->userdata);
                return;
        }
        free(s->settings->region);
        s->settings->region = region;
        s->settings->region_source = "EC2 instance metadata";
        sm_log_info("AWS region %s, from EC2 instance metadata", region);
        st->ready(stack_client(s, st->loop), st->userdata);
}

int sm_aws_stack_start(sm_aws_stack *s, uv_loop_t *loop, const sm_daemon_config *config,
                       sm_aws_stack_ready_fn ready, void *userdata)
{
        sm_aws_overrides ov;
        sm_http_options hopts = {0};
        stack_start *st;
        char *error = NULL;
        int r;

        sm_daemon_config_aws_overrides(config, &ov);
        r = sm_aws_settings_resolve(&ov, &s->settings, &error);
        if (r < 0) {
                sm_log_error("invalid AWS settings: %s", error ? error : strerror(-r));
                free(error);
                return r == -ENOMEM ? r : -EINVAL;
        }
        if (isempty(s->settings->region) && s->settings->imds_disabled) {
                no_region(s->settings, NULL);
                return -ENXIO;
        }
        hopts.ca_bundle = s->settings->ca_bundle;
        hopts.max_in_flight = config->concurrency;
        r = sm_http_new(loop, &hopts, &s->http);
        if (r < 0) {
                sm_log_error("cannot set up HTTP: %s", strerror(-r));
                return r;
        }
        if (!isempty(s->settings->region)) {
                r = stack_client(s, loop);
                return r < 0 ? r : 1;
        }
        st = calloc(1, sizeof(*st));
        if (!st)
                return -ENOMEM;
        *st = (stack_start){.s = s, .loop = loop, .ready = ready, .userdata = userdata};
        r = sm_imds_new(loop, s->http, NULL, 0, &s->imds);
        if (r >= 0)
                r = sm_imds_get(s->imds, "/latest/meta-data/placement/region", on_imds_region, st);
        if (r < 0) {
                free(st);
                sm_log_error("cannot ask EC2 instance metadata for the region: %s", strerror(-r));
        }
        return r;
}

void sm_aws_stack_done(sm_aws_stack *s)
{
        /* Dependents first; the caller's loop then closes their handles. */
        s->client = sm_aws_client_free(s->client);
        s->creds = sm_creds_provider_free(s->creds);
        s->imds = sm_imds_free(s->imds);
        s->http = sm_http_free(s->http);
        s->settings = sm_aws_settings_free(s->settings);
}

/* ---------------------------------------------------------------------- */
/* The service                                                             */

typedef struct waiter {
        sm_daemon_pass_fn done;
        void *userdata;
        struct waiter *next;
} waiter;

struct sm_daemon {
        uv_loop_t loop;
        sm_daemon_args args;
        sm_daemon_config *config;
        unsigned config_generation;
        sm_manifest_load *load;
        unsigned manifest_generation;
        bool manifests_dirty; /* reload before the next pass */
        bool config_dirty;    /* reload the config before the next pass */
        char *lifecycle_b64;

        sm_aws_stack stack;
        bool stack_ready;
        bool stack_starting;
        sm_observe_cache *cache;
        char *cache_path;
        sm_status *status;

        sm_pass *pass;
        sm_pass_options popts;
        bool pass_is_plan;
        bool pass_approved;
        unsigned pass_number; /* of the running (or last) real pass, from 1 */
        unsigned pass_sweep_number;
        sm_daemon_plan_fn plan_done;
        void *plan_userdata;

        bool pending;
        const char *pending_trigger;
        waiter *waiters_next;    /* for the next pass to start */
        waiter *waiters_running; /* for the running pass */
        bool approve_next;

        bool paused;
        char *pause_reason;
        bool stopping;
        int lock_fd;

        uv_timer_t debounce_timer, periodic_timer, watchdog_timer, stop_timer;
        uv_fs_event_t dir_watch, config_watch;
        bool dir_watch_on, config_watch_on;
        char *config_dir, *config_base;
        uv_signal_t sig_hup, sig_term, sig_int, sig_usr1;
        const char *debounce_trigger;

        sm_control *control;

        /* Requests AWS refused as invalid: hold key -> {code, message,
         * request_id, pass (the last pass that refused or held it)}. */
        json_t *held_calls;
};

static void start_pass(sm_daemon *d, const char *trigger);
static void schedule_periodic(sm_daemon *d);
static void begin_stop(sm_daemon *d);

const sm_daemon_config *sm_daemon_get_config(const sm_daemon *d)
{
        return d->config;
}

sm_aws_client *sm_daemon_get_client(sm_daemon *d)
{
        return d->stack_ready ? d->stack.client : NULL;
}

const sm_desired *sm_daemon_get_desired(const sm_daemon *d)
{
        return d->load ? d->load->desired : NULL;
}

json_t *sm_daemon_status_json(sm_daemon *d)
{
        json_t *o;

        o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:b}", "version", SM_VERSION, "instance",
                      d->config->instance, "config_path",
                      d->config->path ? d->config->path : SM_DAEMON_CONFIG_PATH,
                      "config_generation", (json_int_t)d->config_generation, "manifest_generation",
                      (json_int_t)d->manifest_generation, "manifests_complete",
                      d->load && d->load->complete);
        if (o && sm_status_append_status_json(d->status, o) < 0)
                o = (json_decref(o), NULL);
        return o;
}

int sm_daemon_resources_json(sm_daemon *d, const char *name, json_t **ret)
{
        return sm_status_resources_to_json(d->status, name, ret);
}

char *sm_daemon_metrics_text(sm_daemon *d)
{
        sm_buf b = {0};

        if (sm_status_metrics(d->status, &b) < 0) {
                sm_buf_done(&b);
                return NULL;
        }
        return sm_buf_steal(&b);
}

/* --- notify ------------------------------------------------------------------ */

static void notify_status(sm_daemon *d)
{
        char line[SM_STATUS_SUMMARY_MAX + 1];

        sm_status_summary(d->status, line);
        sd_notifyf(false, "STATUS=%s", line);
}

static void on_watchdog(uv_timer_t *t)
{
        sd_notify(false, "WATCHDOG=1");
}

/* --- state files ------------------------------------------------------------- */

static char *state_path(const sm_daemon *d, const char *name)
{
        return sm_strf("%s/%s", d->config->state_dir, name);
}

/* One daemon per state directory: two would race on AWS and on the files
 * there. flock, so a crashed holder never leaves a stale lock behind. */
static int lock_state_dir(sm_daemon *d)
{
        _cleanup_free_ char *path = state_path(d, "lock");
        char text[32];
        int fd;

        if (!path)
                return -ENOMEM;
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
                sm_log_error("cannot open %s: %s", path, strerror(errno));
                return -errno;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int e = errno;
                ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
                long pid = 0;

                if (n > 0) {
                        text[n] = '\0';
                        pid = strtol(text, NULL, 10);
                }
                close(fd);
                if (e == EWOULDBLOCK) {
                        sm_log_error("another smstudiod holds %s (pid %ld)", path, pid);
                        return -EBUSY;
                }
                sm_log_error("cannot lock %s: %s", path, strerror(e));
                return -e;
        }
        snprintf(text, sizeof(text), "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, text, strlen(text), 0) < 0)
                sm_log_warning("cannot write the pid to %s: %s", path, strerror(errno));
        d->lock_fd = fd;
        return 0;
}

static int set_paused(sm_daemon *d, bool paused, const char *reason)
{
        char *copy = NULL;

        if (paused && !(copy = strdup(reason ? reason : "")))
                return -ENOMEM;
        if (sm_status_set_paused(d->status, paused, reason) < 0) {
                free(copy);
                return -ENOMEM;
        }
        d->paused = paused;
        free(d->pause_reason);
        d->pause_reason = copy;
        return 0;
}

static void load_pause(sm_daemon *d)
{
        _cleanup_free_ char *path = state_path(d, "paused");
        char text[1024];
        FILE *f;
        size_t n;

        if (!path)
                return;
        f = fopen(path, "re");
        if (!f)
                return;
        n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[n] = '\0';
        text[strcspn(text, "\n")] = '\0';
        if (set_paused(d, true, text) >= 0)
                sm_log_id(LOG_NOTICE, SM_MESSAGE_PAUSED,
                          "paused since before this start: %s (smstudioctl resume)", text);
}

int sm_daemon_pause(sm_daemon *d, const char *reason)
{
        _cleanup_free_ char *path = state_path(d, "paused");
        _cleanup_free_ char *text = sm_strf("%s\n", reason ? reason : "");
        int r;

        if (!path || !text)
                return -ENOMEM;
        /* Persisted first: a pause that would not survive a restart is not
         * the pause that was asked for. */
        r = sm_write_file_atomic_at(AT_FDCWD, path, text, strlen(text));
        if (r < 0)
                return r;
        r = set_paused(d, true, reason);
        if (r < 0)
                return r;
        d->pending = false;
        uv_timer_stop(&d->periodic_timer);
        sm_status_set_next_pass(d->status, 0);
        sm_log_id(LOG_NOTICE, SM_MESSAGE_PAUSED, "paused: %s", reason ? reason : "");
        notify_status(d);
        return 0;
}

int sm_daemon_resume(sm_daemon *d)
{
        _cleanup_free_ char *path = state_path(d, "paused");
        int r;

        if (!path)
                return -ENOMEM;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        if (!d->paused)
                return 0;
        r = set_paused(d, false, NULL);
        if (r < 0)
                return r;
        sm_log_id(LOG_NOTICE, SM_MESSAGE_RESUMED, "resumed");
        /* What the pause held back is due now. */
        if (d->pass)
                d->pending = true, d->pending_trigger = "reconcile";
        else
                start_pass(d, "reconcile");
        return 0;
}

/* --- loading ---------------------------------------------------------------- */

static int reload_manifests(sm_daemon *d)
{
        sm_manifest_load *load = NULL;
        char *lifecycle = NULL;
        int r;

        r = sm_daemon_manifests_load(d->config, &load);
        if (r < 0)
                return r;
        if (!load->desired) {
                sm_log_id(LOG_ERR, SM_MESSAGE_MANIFEST_REJECTED, "no usable manifests in %s: %s",
                          d->config->manifest_dir,
                          d->load ? "keeping the model in force" : "nothing to reconcile");
                sm_manifest_load_free(load);
                return -ENODATA;
        }
        if (!load->complete)
                sm_log_warning("some manifests of %s are not in force: passes delete nothing",
                               d->config->manifest_dir);
        r = sm_daemon_lifecycle_content(d->config, load->desired, &lifecycle);
        if (r < 0) {
                sm_manifest_load_free(load);
                return r;
        }
        sm_manifest_load_free(d->load);
        d->load = load;
        free(d->lifecycle_b64);
        d->lifecycle_b64 = lifecycle;
        d->manifest_generation++;
        d->manifests_dirty = false;
        sm_log_id(LOG_INFO, SM_MESSAGE_MANIFESTS_LOADED,
                  "manifests of %s loaded (generation %u, %zu files)", d->config->manifest_dir,
                  d->manifest_generation, load->n_files);
        return 0;
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status);

static void watch_start(sm_daemon *d)
{
        int r;

        if (!d->dir_watch_on) {
                r = uv_fs_event_start(&d->dir_watch, on_fs_event, d->config->manifest_dir, 0);
                if (r < 0)
                        sm_log_warning("cannot watch %s (%s): changes there wait for the "
                                       "periodic pass",
                                       d->config->manifest_dir, uv_strerror(r));
                else
                        d->dir_watch_on = true;
        }
        /* The config file's directory, not the file: editors and config
         * management replace the file by rename, which a watch on the old
         * inode would never see. */
        if (!d->config_watch_on && d->config_dir) {
                r = uv_fs_event_start(&d->config_watch, on_fs_event, d->config_dir, 0);
                if (r < 0)
                        sm_log_warning("cannot watch %s: %s", d->config_dir, uv_strerror(r));
                else
                        d->config_watch_on = true;
        }
}

static void watch_stop(sm_daemon *d)
{
        if (d->dir_watch_on)
                uv_fs_event_stop(&d->dir_watch);
        if (d->config_watch_on)
                uv_fs_event_stop(&d->config_watch);
        d->dir_watch_on = d->config_watch_on = false;
}

static int set_config_paths(sm_daemon *d)
{
        const char *path = d->config->path;
        const char *slash;

        free(d->config_dir);
        free(d->config_base);
        d->config_dir = d->config_base = NULL;
        if (!path)
                return 0;
        slash = strrchr(path, '/');
        d->config_dir = slash && slash != path ? strndup(path, (size_t)(slash - path))
                                               : strdup(slash ? "/" : ".");
        d->config_base = strdup(slash ? slash + 1 : path);
        return d->config_dir && d->config_base ? 0 : -ENOMEM;
}

/* Load the config again, only between passes (the pass borrows it). A
 * config that fails keeps the running one. What a running daemon cannot
 * change (state directory, socket) is said and waits for a restart. */
static int reload_config(sm_daemon *d)
{
        sm_daemon_config *c = NULL;
        bool dir_changed;
        int r;

        r = sm_daemon_config_load_logged(d->args.config_path, &c);
        if (r < 0) {
                sm_log_id(LOG_ERR, SM_MESSAGE_CONFIG_REJECTED,
                          "the daemon config did not load: keeping the running one "
                          "(generation %u)",
                          d->config_generation);
                return r;
        }
        if (!streq(c->state_dir, d->config->state_dir))
                sm_log_warning("state_dir changed to %s: takes effect on restart", c->state_dir);
        if (!streq(c->socket_path, d->config->socket_path) ||
            !streq_ptr(c->socket_group, d->config->socket_group) ||
            !streq_ptr(c->admin_group, d->config->admin_group))
                sm_log_warning("the socket settings changed: they take effect on restart");
        if (sm_strdup_replace(&c->state_dir, d->config->state_dir) < 0 ||
            sm_strdup_replace(&c->socket_path, d->config->socket_path) < 0 ||
            sm_strdup_replace(&c->socket_group, d->config->socket_group) < 0 ||
            sm_strdup_replace(&c->admin_group, d->config->admin_group) < 0) {
                sm_daemon_config_free(c);
                return -ENOMEM;
        }
        dir_changed = !streq(c->manifest_dir, d->config->manifest_dir);
        if (dir_changed)
                watch_stop(d);
        sm_daemon_config_free(d->config);
        d->config = c;
        d->config_generation++;
        if (!d->args.verbose)
                sm_log_set_max_level(c->log_level);
        (void)set_config_paths(d);
        watch_start(d);
        /* The AWS settings may have changed: a fresh stack for the next pass. */
        if (d->stack_ready) {
                sm_aws_stack_done(&d->stack);
                d->stack_ready = false;
        }
        d->manifests_dirty = true;
        sm_log_id(LOG_INFO, SM_MESSAGE_CONFIG_LOADED, "config generation %u loaded from %s",
                  d->config_generation, c->path ? c->path : "the built-in defaults");
        return 0;
}

/* --- passes ------------------------------------------------------------------ */

static void waiters_run(waiter **list, const json_t *pass)
{
        waiter *w = *list;

        *list = NULL;
        while (w) {
                waiter *next = w->next;

                w->done(pass, w->userdata);
                free(w);
                w = next;
        }
}

/* "resource operation sha256(canonical request)": a changed manifest
 * changes the request, hence the key. NULL when out of memory. */
static char *hold_key(const sm_action *a)
{
        _cleanup_free_ char *text = NULL;
        char digest[65];

        text = a->params ? json_dumps(a->params, JSON_SORT_KEYS | JSON_COMPACT) : strdup("{}");
        if (!text)
                return NULL;
        sm_sha256_hex(text, strlen(text), digest);
        return sm_strf("%s %s %s", a->resource, a->operation, digest);
}

static json_t *held_entry(sm_daemon *d, const sm_action *a)
{
        _cleanup_free_ char *key = NULL;

        if (json_object_size(d->held_calls) == 0 || !(key = hold_key(a)))
                return NULL;
        return json_object_get(d->held_calls, key);
}

static bool on_hold(const sm_action *a, void *userdata)
{
        sm_daemon *d = userdata;
        json_t *e = held_entry(d, a);

        if (!e)
                return false;
        json_object_set_new(e, "pass", json_integer(d->pass_number));
        return true;
}

static void on_refused(const sm_action *a, const sm_action_result *res, void *userdata)
{
        sm_daemon *d = userdata;
        _cleanup_free_ char *key = hold_key(a);
        json_t *e;

        if (!key)
                return;
        e = json_pack("{s:s?, s:s?, s:s?, s:I}", "code", res->error.code, "message",
                      res->error.message, "request_id", res->error.request_id, "pass",
                      (json_int_t)d->pass_number);
        if (!e || json_object_set_new(d->held_calls, key, e) < 0)
                return; /* only costs the same call on the next pass */
        const sm_log_field fields[] = {
                {SM_LOG_FIELD_RESOURCE, a->resource},
                {SM_LOG_FIELD_AWS_OPERATION, a->operation},
                {SM_LOG_FIELD_AWS_ERROR_CODE, res->error.code},
                {SM_LOG_FIELD_AWS_REQUEST_ID, res->error.request_id},
        };
        sm_log_fields(LOG_NOTICE, NULL, fields, ELEMENTSOF(fields),
                      "%s %s: AWS refused the request as invalid; held until its manifest "
                      "changes or SIGHUP",
                      a->resource, a->operation);
}

/* Forget what no complete pass asked about any more (the manifest changed,
 * the resource went): a stale key would only use memory. */
static void held_calls_prune(sm_daemon *d)
{
        const char *key;
        json_t *e, *tmp;

        json_object_foreach_safe(d->held_calls, tmp, key, e)
        {
                if (json_integer_value(json_object_get(e, "pass")) != (json_int_t)d->pass_number)
                        json_object_del(d->held_calls, key);
        }
}

/* The report the status store and the log see: held calls are failures
 * with the error AWS gave when it refused them, and they and what they
 * skipped are quiet in the log (said once, when refused). Returns report
 * itself when nothing was held; otherwise view, whose results (*ret_results,
 * the caller's to free) borrow from report and held_calls. */
static const sm_apply_report *held_view(sm_daemon *d, const sm_plan *plan,
                                        const sm_apply_report *report, sm_apply_report *view,
                                        sm_action_result **ret_results, bool **ret_quiet)
{
        sm_action_result *results = NULL;
        bool *quiet = NULL, any = false;

        *ret_results = NULL;
        *ret_quiet = NULL;
        if (json_object_size(d->held_calls) == 0)
                return report;
        quiet = calloc(report->n_results ? report->n_results : 1, sizeof(bool));
        results = malloc((report->n_results ? report->n_results : 1) * sizeof(*results));
        if (!quiet || !results) {
                free(quiet);
                free(results);
                return report;
        }
        *view = *report;
        view->results = results;
        memcpy(results, report->results, report->n_results * sizeof(*results));
        for (size_t i = 0; i < report->n_results && i < plan->n_actions; i++) {
                const sm_action *a = &plan->actions[i];
                json_t *e;

                if (results[i].outcome != SM_OUTCOME_SKIPPED)
                        continue;
                /* Dependencies come first in a plan: one sweep is enough. */
                for (size_t k = 0; k < a->n_deps; k++)
                        if (a->deps[k] < i && quiet[a->deps[k]])
                                quiet[i] = true;
                e = held_entry(d, a);
                if (!e)
                        continue;
                quiet[i] = any = true;
                results[i].outcome = SM_OUTCOME_FAILED;
                results[i].error = (sm_aws_error){
                        .code = (char *)json_string_value(json_object_get(e, "code")),
                        .message = (char *)json_string_value(json_object_get(e, "message")),
                        .request_id = (char *)json_string_value(json_object_get(e, "request_id")),
                        .klass = SM_AWS_ERROR_TERMINAL,
                };
                view->skipped--;
                view->failed++;
        }
        if (!any) {
                free(quiet);
                free(results);
                return report;
        }
        *ret_results = results;
        *ret_quiet = quiet;
        return view;
}

/* Which resources had drift repaired by this round, as the status store
 * counts it (before is each applied action's counter before the round). */
static void log_drift(sm_daemon *d, const sm_plan *plan, const sm_apply_report *report,
                      const unsigned *before)
{
        char number[16];

        snprintf(number, sizeof(number), "%u", d->pass_number);
        for (size_t i = 0; i < report->n_results && i < plan->n_actions; i++) {
                const sm_action *a = &plan->actions[i];
                _cleanup_free_ char *manifest = NULL;

                if (report->results[i].outcome != SM_OUTCOME_APPLIED ||
                    sm_status_resource_drift_repaired(d->status, a->resource) <= before[i])
                        continue;
                /* Once per resource, however many calls repaired it. */
                for (size_t j = i + 1; j < plan->n_actions; j++)
                        if (streq(plan->actions[j].resource, a->resource))
                                goto next;
                manifest = a->source.file ? sm_strf("%s:%u", a->source.file, a->source.line) : NULL;
                const sm_log_field fields[] = {
                        {SM_LOG_FIELD_PASS, number},
                        {SM_LOG_FIELD_RESOURCE, a->resource},
                        {SM_LOG_FIELD_MANIFEST, manifest},
                        {SM_LOG_FIELD_ACTION, sm_verb_to_string(a->verb)},
                        {SM_LOG_FIELD_RESULT, "applied"},
                };
                sm_log_fields(LOG_NOTICE, SM_MESSAGE_DRIFT_REPAIRED, fields, ELEMENTSOF(fields),
                              "%s: drift repaired", a->resource);
        next:;
        }
}

static void on_round(unsigned round, const sm_plan *plan, const sm_apply_report *report,
                     void *userdata)
{
        sm_daemon *d = userdata;
        sm_apply_report view;
        _cleanup_free_ sm_action_result *results = NULL;
        _cleanup_free_ bool *quiet = NULL;
        _cleanup_free_ unsigned *drift = NULL;
        const sm_apply_report *seen;

        /* A dry run changes nothing: the store does not hear of it. */
        if (d->pass_is_plan)
                return;
        if (!report) {
                sm_log_info("pass %u round %u: %zu actions planned", d->pass_number, round,
                            plan->n_actions);
                (void)sm_status_pass_round(d->status, round, plan, NULL, (double)sm_now_unix());
                return;
        }
        seen = held_view(d, plan, report, &view, &results, &quiet);
        sm_daemon_log_round(d->pass_number, round, plan, seen, quiet);
        drift = calloc(plan->n_actions ? plan->n_actions : 1, sizeof(unsigned));
        for (size_t i = 0; drift && i < plan->n_actions; i++)
                drift[i] = sm_status_resource_drift_repaired(d->status, plan->actions[i].resource);
        (void)sm_status_pass_round(d->status, round, plan, seen, (double)sm_now_unix());
        if (drift)
                log_drift(d, plan, report, drift);
}

static void finish_plan(sm_daemon *d, sm_pass_result *result)
{
        sm_buf diff = {0};
        _cleanup_(json_decrefp) json_t *plan_json = NULL;
        int r = result->r;

        if (r >= 0 && result->last_plan) {
                (void)sm_plan_format(result->last_plan, &diff);
                plan_json = sm_plan_to_json(result->last_plan);
        }
        if (r >= 0 && !plan_json)
                r = result->last_plan ? -ENOMEM : -EIO;
        if (d->plan_done)
                d->plan_done(r, result->changes, diff.data ? diff.data : "", plan_json,
                             d->plan_userdata);
        d->plan_done = NULL;
        sm_buf_done(&diff);
}

static void after_pass(sm_daemon *d)
{
        if (d->stopping) {
                begin_stop(d);
                return;
        }
        if (d->pending && !d->paused) {
                d->pending = false;
                start_pass(d, d->pending_trigger);
                return;
        }
        schedule_periodic(d);
        notify_status(d);
}

static void finish_waiters(sm_daemon *d)
{
        _cleanup_(json_decrefp) json_t *pass_json = sm_status_pass_to_json(d->status, false);

        waiters_run(&d->waiters_running, pass_json);
}

static void on_pass_done(sm_pass_result *result, void *userdata)
{
        sm_daemon *d = userdata;
        char number[16];
        const sm_log_field fields[] = {
                {SM_LOG_FIELD_PASS, number},
                {SM_LOG_FIELD_RESULT, sm_pass_result_name(result)},
        };
        const char *error;
        bool complete;
        int r;

        d->pass = sm_pass_free(d->pass);
        if (d->pass_is_plan) {
                d->pass_is_plan = false;
                finish_plan(d, result);
                sm_pass_result_done(result);
                after_pass(d);
                return;
        }

        error = json_string_value(json_object_get(result->report, "error"));
        complete = result->r >= 0 && !error && !d->stopping;
        (void)sm_status_pass_finished(d->status, result, NULL, complete, (double)sm_now_unix());
        sm_daemon_log_findings(d->pass_number, result->last_plan);
        if (complete)
                held_calls_prune(d);
        if (d->pass_approved && result->r >= 0)
                d->approve_next = false;
        snprintf(number, sizeof(number), "%u", d->pass_number);
        sm_log_fields(result->failures || result->r < 0 ? LOG_WARNING : LOG_INFO,
                      SM_MESSAGE_PASS_FINISHED, fields, ELEMENTSOF(fields),
                      "pass %u finished: %u rounds, %u changes, %u failures%s%s", d->pass_number,
                      result->rounds, result->changes, result->failures,
                      error || result->r < 0 ? ": " : "",
                      result->r < 0 ? strerror(-result->r) : (error ? error : ""));
        if (result->held > 0)
                sm_log_debug("pass %u held %u call(s) AWS refused before", d->pass_number,
                             result->held);
        sm_pass_result_done(result);

        r = sm_observe_cache_save(d->cache, d->cache_path);
        if (r < 0)
                sm_log_warning("cannot save the observed cache %s: %s", d->cache_path,
                               strerror(-r));
        if (!d->popts.dry_run)
                sm_daemon_pass_number_save(d->config->state_dir, d->pass_sweep_number);
        finish_waiters(d);
        /* A pass's plans and reports are freed by now; without a trim
         * glibc keeps the heap at the pass's high-water mark until the
         * next one, and the daemon idles at its biggest pass's RSS. */
        malloc_trim(0);
        after_pass(d);
}

/* A pass that could not even start still counts (Status shows why). */
static void pass_failed_to_start(sm_daemon *d, const char *trigger, const char *why)
{
        double now = (double)sm_now_unix();

        d->pass_number++;
        if (sm_status_pass_started(d->status, d->pass_number, trigger, now) >= 0)
                (void)sm_status_pass_finished(d->status, NULL, why, false, now);
        finish_waiters(d);
}

static void on_stack_ready(int r, void *userdata)
{
        sm_daemon *d = userdata;

        d->stack_starting = false;
        if (r < 0) {
                sm_aws_stack_done(&d->stack);
                if (d->pending) {
                        d->pending = false;
                        pass_failed_to_start(d, d->pending_trigger,
                                             "no AWS region (EC2 instance metadata)");
                }
                if (d->stopping)
                        begin_stop(d);
                else
                        after_pass(d);
                return;
        }
        sm_aws_client_set_observer(d->stack.client, sm_status_observe_call, d->status);
        d->stack_ready = true;
        if (d->stopping) {
                begin_stop(d);
                return;
        }
        after_pass(d);
}

/* Returns 0 when a pass started, 1 when it waits for the AWS stack,
 * -errno otherwise (already reported for real passes). */
static int start_pass_as(sm_daemon *d, const char *trigger, bool plan_only)
{
        int r;

        if (d->pass || d->stopping || d->stack_starting)
                return -EBUSY;
        uv_timer_stop(&d->periodic_timer);
        sm_status_set_next_pass(d->status, 0);
        if (!plan_only) {
                /* The changes a pending debounce stands for are read now:
                 * firing later would only make a pass with nothing new. */
                uv_timer_stop(&d->debounce_timer);
                d->debounce_trigger = NULL;
                /* Waiters asked so far are this pass's. */
                waiter **tail = &d->waiters_running;
                while (*tail)
                        tail = &(*tail)->next;
                *tail = d->waiters_next;
                d->waiters_next = NULL;
        }
        if (d->config_dirty) {
                d->config_dirty = false;
                (void)reload_config(d);
        }
        /* A manifest directory missing at start is watched once it exists. */
        watch_start(d);
        if (d->manifests_dirty || !d->load) {
                r = reload_manifests(d);
                if (r < 0 && !d->load) {
                        if (!plan_only)
                                pass_failed_to_start(d, trigger, "no usable manifests");
                        return r;
                }
        }
        if (!d->stack_ready) {
                r = sm_aws_stack_start(&d->stack, &d->loop, d->config, on_stack_ready, d);
                if (r == 0) {
                        /* The region comes from instance metadata first. */
                        d->stack_starting = true;
                        if (!plan_only) {
                                d->pending = true;
                                d->pending_trigger = trigger;
                        }
                        return 1;
                }
                if (r < 0) {
                        sm_aws_stack_done(&d->stack);
                        if (!plan_only)
                                pass_failed_to_start(d, trigger,
                                                     "the AWS client could not be set up");
                        return r;
                }
                sm_aws_client_set_observer(d->stack.client, sm_status_observe_call, d->status);
                d->stack_ready = true;
        }

        sm_daemon_pass_options_init(&d->popts, d->config, d->load, d->lifecycle_b64);
        d->popts.policy.region = d->stack.settings->region;
        d->pass_sweep_number = sm_daemon_pass_number_next(d->config->state_dir);
        d->popts.full_sweep = d->config->describe_sweep_every <= 1 ||
                              d->pass_sweep_number % d->config->describe_sweep_every == 0;
        d->pass_approved = !plan_only && d->approve_next;
        d->popts.policy.deletions_approved = d->pass_approved;
        if (plan_only)
                d->popts.dry_run = true;
        d->popts.on_round = on_round;
        d->popts.round_userdata = d;
        d->popts.hold = on_hold;
        d->popts.on_refused = on_refused;
        d->popts.hold_userdata = d;
        d->pass_is_plan = plan_only;
        r = sm_pass_start(&d->loop, d->stack.client, d->cache, &d->popts, on_pass_done, d,
                          &d->pass);
        if (r < 0) {
                d->pass = NULL;
                d->pass_is_plan = false;
                sm_log_error("cannot start a pass: %s", strerror(-r));
                if (!plan_only)
                        pass_failed_to_start(d, trigger, strerror(-r));
                return r;
        }
        if (!plan_only) {
                char number[16];

                d->pass_number++;
                snprintf(number, sizeof(number), "%u", d->pass_number);
                const sm_log_field fields[] = {{SM_LOG_FIELD_PASS, number}};
                (void)sm_status_pass_started(d->status, d->pass_number, trigger,
                                             (double)sm_now_unix());
                sm_log_fields(LOG_INFO, SM_MESSAGE_PASS_STARTED, fields, ELEMENTSOF(fields),
                              "pass %u started (%s)%s", d->pass_number, trigger,
                              d->pass_approved ? ", deletions approved" : "");
                notify_status(d);
        }
        return 0;
}

static void start_pass(sm_daemon *d, const char *trigger)
{
        if (start_pass_as(d, trigger, false) < 0 && !d->pass && !d->stopping) {
                schedule_periodic(d);
                notify_status(d);
        }
}

/* Every trigger comes here: at most one pass runs, and any number of
 * requests during it make exactly one more. */
static void request_pass(sm_daemon *d, const char *trigger)
{
        if (d->stopping)
                return;
        if (d->paused) {
                sm_log_debug("paused: %s trigger ignored", trigger);
                return;
        }
        if (d->pass || d->stack_starting) {
                if (!d->pending) {
                        d->pending = true;
                        d->pending_trigger = trigger;
                }
                return;
        }
        start_pass(d, trigger);
}

static void on_periodic(uv_timer_t *t)
{
        request_pass(t->data, "timer");
}

static void schedule_periodic(sm_daemon *d)
{
        uint64_t delay_ms;

        if (d->stopping || d->paused || d->pass || d->stack_starting)
                return;
        delay_ms = d->config->interval_sec * 1000u;
        /* Splay keeps many daemons from reading AWS in lockstep. */
        if (d->config->splay_sec > 0)
                delay_ms += (uint64_t)random() % (d->config->splay_sec * 1000u + 1);
        sm_status_set_next_pass(d->status, (double)sm_now_unix() + (double)delay_ms / 1000.0);
        uv_timer_start(&d->periodic_timer, on_periodic, delay_ms, 0);
}

static void on_debounce(uv_timer_t *t)
{
        sm_daemon *d = t->data;
        const char *trigger = d->debounce_trigger ? d->debounce_trigger : "manifest";

        d->debounce_trigger = NULL;
        request_pass(d, trigger);
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
        sm_daemon *d = h->data;
        const char *why;

        if (status < 0) {
                sm_log_warning("watch error: %s", uv_strerror(status));
                return;
        }
        sm_log_debug("watch: %s changed in %s", filename ? filename : "something",
                     h == &d->config_watch ? "the config's directory" : "the manifest directory");
        if (h == &d->config_watch) {
                if (!filename || !d->config_base || !streq(filename, d->config_base))
                        return;
                d->config_dirty = true;
                d->debounce_trigger = "config";
        } else {
                if (filename && !sm_manifest_dir_name_is_candidate(filename, &why))
                        return;
                d->manifests_dirty = true;
                if (!d->debounce_trigger)
                        d->debounce_trigger = "manifest";
        }
        if (!uv_is_active((uv_handle_t *)&d->debounce_timer))
                uv_timer_start(&d->debounce_timer, on_debounce, DEBOUNCE_MS, 0);
}

/* --- control-socket requests ------------------------------------------------- */

int sm_daemon_reconcile(sm_daemon *d, const char *trigger, sm_daemon_pass_fn done, void *userdata)
{
        if (d->stopping || d->paused)
                return -EBUSY;
        if (done) {
                waiter *w = calloc(1, sizeof(*w));
                waiter **tail = &d->waiters_next;

                if (!w)
                        return -ENOMEM;
                *w = (waiter){.done = done, .userdata = userdata};
                while (*tail)
                        tail = &(*tail)->next;
                *tail = w;
        }
        request_pass(d, trigger);
        return 0;
}

int sm_daemon_plan(sm_daemon *d, sm_daemon_plan_fn done, void *userdata)
{
        int r;

        if (d->stopping || d->pass || d->stack_starting)
                return -EBUSY;
        d->plan_done = done;
        d->plan_userdata = userdata;
        r = start_pass_as(d, "plan", true);
        if (r != 0) {
                d->plan_done = NULL;
                if (!d->pass)
                        schedule_periodic(d);
                return r > 0 ? -EBUSY : r;
        }
        return 0;
}

int sm_daemon_approve(sm_daemon *d, unsigned *ret_deletions)
{
        unsigned held;

        if (d->paused || d->stopping)
                return -EBUSY;
        held = sm_status_deletions_held(d->status);
        if (held == 0)
                return -ENOENT;
        d->approve_next = true;
        *ret_deletions = held;
        sm_log_id(LOG_NOTICE, SM_MESSAGE_DELETIONS_APPROVED,
                  "%u deletions approved for the next pass", held);
        request_pass(d, "approve");
        return 0;
}

/* --- signals and stopping ---------------------------------------------------- */

static void on_sighup(uv_signal_t *s, int signum)
{
        sm_daemon *d = s->data;
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%llu",
                   (unsigned long long)ts.tv_sec * 1000000ULL +
                           (unsigned long long)ts.tv_nsec / 1000ULL);
        sm_log_info("SIGHUP: reloading the config and the manifests");
        /* An operator's "try again": every refused request is sent anew. */
        if (json_object_size(d->held_calls) > 0) {
                sm_log_info("forgetting %zu request(s) AWS refused as invalid",
                            json_object_size(d->held_calls));
                json_object_clear(d->held_calls);
        }
        if (d->pass)
                /* The pass borrows the config: swapped when it ends. */
                d->config_dirty = true;
        else
                (void)reload_config(d);
        d->manifests_dirty = true;
        sd_notify(false, "READY=1");
        request_pass(d, "config");
}

static void on_sigusr1(uv_signal_t *s, int signum)
{
        request_pass(s->data, "signal");
}

static void on_stop_timeout(uv_timer_t *t)
{
        sm_daemon *d = t->data;

        sm_log_warning("in-flight AWS calls did not finish within %u s: cutting them",
                       SM_DAEMON_STOP_TIMEOUT_MS / 1000u);
        d->pass = sm_pass_free(d->pass);
        d->pass_is_plan = false;
        begin_stop(d);
}

/* The second half of a stop, once no pass runs: answer every waiter and
 * let uv_run() return; sm_daemon_main() closes the rest. */
static void begin_stop(sm_daemon *d)
{
        waiters_run(&d->waiters_running, NULL);
        waiters_run(&d->waiters_next, NULL);
        if (d->plan_done)
                d->plan_done(-ECANCELED, 0, "", NULL, d->plan_userdata);
        d->plan_done = NULL;
        uv_stop(&d->loop);
}

static void on_sigterm(uv_signal_t *s, int signum)
{
        sm_daemon *d = s->data;

        if (d->stopping)
                return;
        d->stopping = true;
        sm_log_id(LOG_INFO, SM_MESSAGE_DAEMON_STOPPING, "%s: stopping",
                  signum == SIGINT ? "SIGINT" : "SIGTERM");
        sd_notify(false, "STOPPING=1");
        uv_timer_stop(&d->periodic_timer);
        uv_timer_stop(&d->debounce_timer);
        watch_stop(d);
        if (d->stack_starting)
                return; /* on_stack_ready finishes the stop */
        if (!d->pass) {
                begin_stop(d);
                return;
        }
        /* No new round or call; those in flight finish within the bound. */
        sm_pass_stop(d->pass);
        uv_timer_start(&d->stop_timer, on_stop_timeout, SM_DAEMON_STOP_TIMEOUT_MS, 0);
}

/* --- main -------------------------------------------------------------------- */

static int daemon_init_handles(sm_daemon *d)
{
        uv_timer_t *timers[] = {&d->debounce_timer, &d->periodic_timer, &d->watchdog_timer,
                                &d->stop_timer};
        struct {
                uv_signal_t *h;
                uv_signal_cb cb;
                int signum;
        } sigs[] = {
                {&d->sig_hup, on_sighup, SIGHUP},
                {&d->sig_term, on_sigterm, SIGTERM},
                {&d->sig_int, on_sigterm, SIGINT},
                {&d->sig_usr1, on_sigusr1, SIGUSR1},
        };
        uint64_t watchdog_usec = 0;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(timers); i++) {
                uv_timer_init(&d->loop, timers[i]);
                timers[i]->data = d;
        }
        uv_fs_event_init(&d->loop, &d->dir_watch);
        uv_fs_event_init(&d->loop, &d->config_watch);
        d->dir_watch.data = d->config_watch.data = d;
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++) {
                uv_signal_init(&d->loop, sigs[i].h);
                sigs[i].h->data = d;
                r = uv_signal_start(sigs[i].h, sigs[i].cb, sigs[i].signum);
                if (r < 0)
                        return r;
        }
        /* The loop itself feeds the watchdog: a stuck loop starves it. */
        if (sd_watchdog_enabled(false, &watchdog_usec) > 0 && watchdog_usec > 0) {
                uint64_t ms = watchdog_usec / 2000u;

                uv_timer_start(&d->watchdog_timer, on_watchdog, ms ? ms : 1, ms ? ms : 1);
        }
        return 0;
}

static void close_own_handles(sm_daemon *d)
{
        uv_handle_t *handles[] = {
                (uv_handle_t *)&d->debounce_timer, (uv_handle_t *)&d->periodic_timer,
                (uv_handle_t *)&d->watchdog_timer, (uv_handle_t *)&d->stop_timer,
                (uv_handle_t *)&d->dir_watch,      (uv_handle_t *)&d->config_watch,
                (uv_handle_t *)&d->sig_hup,        (uv_handle_t *)&d->sig_term,
                (uv_handle_t *)&d->sig_int,        (uv_handle_t *)&d->sig_usr1,
        };

        for (size_t i = 0; i < ELEMENTSOF(handles); i++)
                if (handles[i]->loop && !uv_is_closing(handles[i]))
                        uv_close(handles[i], NULL);
}

int sm_daemon_main(const sm_daemon_args *args)
{
        sm_daemon *d;
        int r, exit_code = 1;
        bool loop_ok = false;

        d = calloc(1, sizeof(*d));
        if (!d)
                return 1;
        d->args = *args;
        d->lock_fd = -1;
        srandom((unsigned)getpid() ^ (unsigned)time(NULL));

        d->held_calls = json_object();
        if (!d->held_calls || sm_daemon_config_load_logged(args->config_path, &d->config) < 0)
                goto out;
        sm_log_id(LOG_INFO, SM_MESSAGE_CONFIG_LOADED, "config generation 1 loaded from %s",
                  d->config->path ? d->config->path : "the built-in defaults");
        if (!args->verbose)
                sm_log_set_max_level(d->config->log_level);
        r = sm_daemon_state_dir_make(d->config->state_dir);
        if (r < 0) {
                sm_log_error("cannot create the state directory %s: %s", d->config->state_dir,
                             strerror(-r));
                goto out;
        }
        if (lock_state_dir(d) < 0 || set_config_paths(d) < 0)
                goto out;
        d->status = sm_status_new();
        d->cache = sm_observe_cache_new();
        d->cache_path = state_path(d, "observed-cache.json");
        if (!d->status || !d->cache || !d->cache_path)
                goto out;
        r = sm_observe_cache_load(d->cache, d->cache_path);
        if (r < 0)
                /* Only a cost: everything gets described again. */
                sm_log_warning("ignoring the observed cache %s: %s", d->cache_path, strerror(-r));
        load_pause(d);
        d->config_generation = 1;

        r = uv_loop_init(&d->loop);
        if (r < 0)
                goto out;
        loop_ok = true;
        r = daemon_init_handles(d);
        if (r < 0) {
                sm_log_error("cannot set up signal handling: %s", uv_strerror(r));
                goto out;
        }
        r = sm_control_new(&d->loop, d, &d->control);
        if (r < 0)
                goto out;
        watch_start(d);

        /* The config loaded: what systemd waits for. Passes report through
         * STATUS=, and a failing pass is not a failed start. */
        sd_notify(false, "READY=1");
        sm_log_id(LOG_INFO, SM_MESSAGE_DAEMON_STARTED,
                  "smstudiod %s started: manifests %s, state %s, a pass every %" PRIu64
                  " s (+ up to %" PRIu64 " s)",
                  SM_VERSION, d->config->manifest_dir, d->config->state_dir,
                  d->config->interval_sec, d->config->splay_sec);
        if (d->paused)
                notify_status(d);
        else
                start_pass(d, "start");

        uv_run(&d->loop, UV_RUN_DEFAULT);
        exit_code = 0;
out:
        waiters_run(&d->waiters_running, NULL);
        waiters_run(&d->waiters_next, NULL);
        if (loop_ok) {
                d->pass = sm_pass_free(d->pass);
                d->control = sm_control_free(d->control);
                close_own_handles(d);
                sm_aws_stack_done(&d->stack);
                /* Runs until every handle above has closed; a lingering
                 * observation ends within its HTTP timeouts. */
                uv_run(&d->loop, UV_RUN_DEFAULT);
                if (uv_loop_close(&d->loop) < 0)
                        sm_log_debug("the loop still had handles at exit");
        }
        if (exit_code == 0)
                sm_log_info("stopped");
        sm_observe_cache_free(d->cache);
        sm_status_free(d->status);
        sm_manifest_load_free(d->load);
        sm_daemon_config_free(d->config);
        free(d->lifecycle_b64);
        free(d->cache_path);
        json_decref(d->held_calls);
        free(d->pause_reason);
        free(d->config_dir);
        free(d->config_base);
        if (d->lock_fd >= 0)
                close(d->lock_fd);
        free(d);
        return exit_code;
}
