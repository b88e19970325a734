/* SPDX-License-Identifier: Apache-2.0 */
/* io.smstudio on the varlink server: each method asks the daemon
 * (daemon.h) and answers; nothing here formats for humans (smstudioctl
 * does). Group names are resolved once, at start: NSS lookups may block,
 * and a call must never wait on them. Outputs is the one method that asks
 * AWS (outputs.h): its answer comes when the reads do, from the loop. */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "config.h"
#include "smstudio/control.h"
#include "smstudio/log.h"
#include "smstudio/outputs.h"
#include "smstudio/strbuf.h"
#include "smstudio/varlink.h"

#define IFACE "io.smstudio."

typedef struct outputs_call outputs_call;

struct sm_control {
        sm_daemon *daemon;
        uv_loop_t *loop;
        sm_varlink_server *server;
        bool have_admin_gid;
        gid_t admin_gid;

        outputs_call *outputs; /* in flight */
};

/* One Outputs call reading AWS. */
struct outputs_call {
        sm_control *control;
        sm_varlink_call *call;
        sm_outputs_read *read;
        outputs_call *next;
};

/* The daemon and the control, for the handlers (the server's userdata). */
static sm_control *control_of(void *userdata)
{
        return userdata;
}

static bool peer_in_group(const sm_varlink_peer *peer, gid_t gid)
{
        if (peer->gid == gid)
                return true;
        for (size_t i = 0; i < peer->n_groups; i++)
                if (peer->groups && peer->groups[i] == gid)
                        return true;
        return false;
}

static bool authorize(const sm_varlink_peer *peer, void *userdata)
{
        sm_control *c = control_of(userdata);
        char uid[16];
        const sm_log_field fields[] = {{SM_LOG_FIELD_CLIENT_UID, uid}};

        if (peer->uid == 0 || (c->have_admin_gid && peer_in_group(peer, c->admin_gid)))
                return true;
        snprintf(uid, sizeof(uid), "%u", (unsigned)peer->uid);
        sm_log_fields(LOG_NOTICE, SM_MESSAGE_CLIENT_REFUSED, fields, ELEMENTSOF(fields),
                      "refused a privileged call from uid %u (pid %ld): not root nor in the "
                      "admin group",
                      (unsigned)peer->uid, (long)peer->pid);
        return false;
}

/* Privileged calls that get this far were authorized: say who made them. */
static void log_privileged(sm_varlink_call *call, const char *method, const char *detail)
{
        const sm_varlink_peer *peer = sm_varlink_call_peer(call);
        char uid[16];
        const sm_log_field fields[] = {{SM_LOG_FIELD_CLIENT_UID, uid}};

        snprintf(uid, sizeof(uid), "%u", peer ? (unsigned)peer->uid : 0u);
        sm_log_fields(LOG_NOTICE, NULL, fields, ELEMENTSOF(fields), "%s from uid %s%s%s", method,
                      uid, detail ? ": " : "", detail ? detail : "");
}

static void reply_busy(sm_varlink_call *call, const char *reason)
{
        sm_varlink_error(call, IFACE "Busy", json_pack("{s:s}", "reason", reason));
}

static void reply_internal(sm_varlink_call *call, int r)
{
        /* No error of the interface fits an internal failure: Busy says
         * "try again", which is what a failed allocation calls for. */
        reply_busy(call, strerror(-r));
}

static void invalid_parameter(sm_varlink_call *call, const char *name)
{
        sm_varlink_error(call, "org.varlink.service.InvalidParameter",
                         json_pack("{s:s}", "parameter", name));
}

/* An optional string parameter: NULL when absent or null, -EINVAL when of
 * another type. */
static int opt_string(const json_t *parameters, const char *name, const char **ret)
{
        const json_t *v = json_object_get(parameters, name);

        if (!v || json_is_null(v)) {
                *ret = NULL;
                return 0;
        }
        if (!json_is_string(v))
                return -EINVAL;
        *ret = json_string_value(v);
        return 0;
}

static void method_status(sm_varlink_call *call, const json_t *parameters, void *userdata)
{
        json_t *o = sm_daemon_status_json(control_of(userdata)->daemon);

        if (!o) {
                reply_internal(call, -ENOMEM);
                return;
        }
        sm_varlink_reply(call, o);
}

static void method_resources(sm_varlink_call *call, const json_t *parameters, void *userdata)
{
        json_t *list = NULL;
        const char *name;
        int r;

        if (opt_string(parameters, "name", &name) < 0) {
                invalid_parameter(call, "name");
                return;
        }
        r = sm_daemon_resources_json(control_of(userdata)->daemon, name, &list);
        if (r == -ENOENT) {
                sm_varlink_error(call, IFACE "NoSuchResource", json_pack("{s:s}", "name", name));
                return;
        }
        if (r < 0) {
                reply_internal(call, r);
                return;
        }
        sm_varlink_reply(call, json_pack("{s:o}", "resources", list));
}

static void on_plan(int r, unsigned changes, const char *diff, const json_t *plan, void *userdata)
{
        sm_varlink_call *call = userdata;

        if (r == -ECANCELED) {
                reply_busy(call, "the daemon is stopping");
                return;
        }
        if (r < 0) {
                reply_busy(call, "the dry run could not run: see the daemon's log");
                return;
        }
        sm_varlink_reply(call, json_pack("{s:I, s:s, s:O}", "changes", (json_int_t)changes, "diff",
                                         diff, "plan", plan));
}

static void method_plan(sm_varlink_call *call, const json_t *parameters, void *userdata)
{
        int r = sm_daemon_plan(control_of(userdata)->daemon, on_plan, call);

        if (r == -EBUSY) {
                reply_busy(call, "a pass is running");
                return;
        }
        if (r < 0) {
                reply_busy(call, "the dry run could not start: see the daemon's log");
                return;
        }
}

static void on_reconciled(const json_t *pass, void *userdata)
{
        sm_varlink_call *call = userdata;

        if (!pass) {
                reply_busy(call, "the daemon is stopping");
                return;
        }
        sm_varlink_reply(call, json_pack("{s:O}", "pass", pass));
}

static void busy_reason(sm_control *c, sm_varlink_call *call)
{
        const json_t *paused;
        _cleanup_(json_decrefp) json_t *status = sm_daemon_status_json(c->daemon);
        _cleanup_free_ char *why = NULL;

        paused = json_object_get(status, "paused");
        if (json_is_true(paused)) {
                const char *reason = json_string_value(json_object_get(status, "pause_reason"));

                why = sm_strf("paused: %s", reason ? reason : "");
                {
                        reply_busy(call, why ? why : "paused");
                        return;
                }
        }
        reply_busy(call, "the daemon is stopping");
}

static void method_reconcile(sm_varlink_call *call, const json_t *parameters, void *userdata)
{
        sm_control *c = control_of(userdata);
        const json_t *wait = json_object_get(parameters, "wait");
        int r;

        if (wait && !json_is_boolean(wait) && !json_is_null(wait)) {
                invalid_parameter(call, "wait");
                return;
        }
        log_privileged(call, "Reconcile", json_is_true(wait) ? "waiting for the pass" : NULL);
        r = sm_daemon_reconcile(c->daemon, "reconcile", json_is_true(wait) ? on_reconciled : NULL,
                                call);
        if (r == -EBUSY) {
                busy_reason(c, call);
                return;
        }
        if (r < 0) {
                reply_internal(call, r);
                return;
        }
        if (!json_is_true(wait))
                sm_varlink_reply(call, json_pack("{s:n}", "pass"));
}

static void method_pause(sm_varlink_call *call, const json_t *parameters, void *userdata)
{
        const json_t *reason = json_object_get(parameters, "reason");
        int r;

        if (!json_is_string(reason)) {
                invalid_parameter(call, "reason");
                return;
        }
        log_privileged(call, "Pause", json_string_value(reason));
        r = sm_daemon_pause(control_of(userdata)->daemon, json_string_value(reason));
        if (r < 0) {
                reply_internal(call, r);
                return;
        }
        sm_varlink_reply(call, NULL);
}

static void method_resume(sm_varlink_call *call, const json_t *parameters, void *userdata)
{
        int r;

        log_privileged(call, "Resume", NULL);
        r = sm_daemon_resume(control_of(userdata)->daemon);
        if (r < 0) {
                reply_internal(call, r);
                return;
        }
        sm_varlink_reply(call, NULL);
}

static void method_approve(sm_varlink_call *call, const json_t *parameters, void *userdata)
{
        sm_control *c = control_of(userdata);
        unsigned n = 0;
        int r;

        log_privileged(call, "Approve", NULL);
        r = sm_daemon_approve(c->daemon, &n);
        if (r == -ENOENT) {
                sm_varlink_error(call, IFACE "NothingToApprove", NULL);
                return;
        }
        if (r == -EBUSY) {
                busy_reason(c, call);
                return;
        }
        if (r < 0) {
                reply_internal(call, r);
                return;
        }
        sm_varlink_reply(call, json_pack("{s:I}", "deletions", (json_int_t)n));
}

static void outputs_unlink(outputs_call *oc)
{
        for (outputs_call **p = &oc->control->outputs; *p; p = &(*p)->next)
                if (*p == oc) {
                        *p = oc->next;
                        break;
                }
        free(oc);
}

static void on_outputs(const sm_outputs_result *res, void *userdata)
{
        outputs_call *oc = userdata;
        json_t *values, *missing;

        if (res->error_code && res->aws_error) {
                sm_varlink_error(oc->call, IFACE "AwsCallFailed",
                                 json_pack("{s:s, s:s, s:s?, s:s?}", "operation",
                                           res->aws_operation, "code", res->error_code, "message",
                                           res->aws_error->message, "request_id",
                                           res->aws_error->request_id));
        } else if (res->error_code) {
                /* A malformed answer or no memory: nothing the caller did. */
                reply_busy(oc->call, res->error_message ? res->error_message : res->error_code);
        } else if (res->n_missing > 0) {
                missing = json_array();
                for (size_t i = 0; missing && i < res->n_missing; i++)
                        json_array_append_new(missing, json_string(res->missing[i]));
                sm_varlink_error(oc->call, IFACE "NotCreated",
                                 json_pack("{s:s, s:o?}", "domain",
                                           res->values[SM_OUTPUT_DOMAIN_NAME], "missing", missing));
        } else {
                values = json_object();
                for (size_t i = 0; values && i < _SM_OUTPUT_MAX; i++)
                        json_object_set_new(values, sm_output_label(i),
                                            res->values[i] ? json_string(res->values[i])
                                                           : json_null());
                if (values)
                        sm_varlink_reply(oc->call, json_pack("{s:o}", "outputs", values));
                else
                        reply_internal(oc->call, -ENOMEM);
        }
        outputs_unlink(oc);
}

static void no_such_domain(sm_varlink_call *call, const sm_desired *desired, const char *domain)
{
        json_t *names = json_array();

        for (size_t i = 0; names && desired && i < desired->n_domains; i++)
                json_array_append_new(names, json_string(desired->domains[i].name));
        sm_varlink_error(call, IFACE "NoSuchDomain",
                         json_pack("{s:s?, s:o?}", "domain", domain, "domains", names));
}

static void method_outputs(sm_varlink_call *call, const json_t *parameters, void *userdata)
{
        sm_control *c = control_of(userdata);
        const sm_desired *desired;
        const sm_domain *dom;
        sm_aws_client *client;
        const char *domain;
        outputs_call *oc;
        int r;

        if (opt_string(parameters, "domain", &domain) < 0) {
                invalid_parameter(call, "domain");
                return;
        }
        /* The daemon's own model and client: what its passes see, and the
         * reads count in its metrics. The read copies what it needs from
         * the domain, so a reload during it is harmless. */
        desired = sm_daemon_get_desired(c->daemon);
        if (!desired) {
                reply_busy(call, "no usable manifests: see the daemon's log");
                return;
        }
        dom = sm_outputs_pick(desired, domain);
        if (!dom) {
                no_such_domain(call, desired, domain);
                return;
        }
        client = sm_daemon_get_client(c->daemon);
        if (!client) {
                reply_busy(call, "the AWS client is not set up yet (it is before the first pass "
                                 "takes the region from instance metadata, or just after a "
                                 "config reload)");
                return;
        }
        oc = calloc(1, sizeof(*oc));
        if (!oc) {
                reply_internal(call, -ENOMEM);
                return;
        }
        *oc = (outputs_call){.control = c, .call = call, .next = c->outputs};
        r = sm_outputs_read_start(client, dom, on_outputs, oc, &oc->read);
        if (r < 0) {
                free(oc);
                reply_internal(call, r);
                return;
        }
        c->outputs = oc;
}

static void method_metrics(sm_varlink_call *call, const json_t *parameters, void *userdata)
{
        _cleanup_free_ char *text = sm_daemon_metrics_text(control_of(userdata)->daemon);

        if (!text) {
                reply_internal(call, -ENOMEM);
                return;
        }
        sm_varlink_reply(call, json_pack("{s:s}", "text", text));
}

static void method_set_log_level(sm_varlink_call *call, const json_t *parameters, void *userdata)
{
        const json_t *level = json_object_get(parameters, "level");
        int priority;

        if (!json_is_string(level)) {
                invalid_parameter(call, "level");
                return;
        }
        priority = sm_log_level_from_string(json_string_value(level));
        if (priority < 0) {
                sm_varlink_error(call, IFACE "InvalidLogLevel",
                                 json_pack("{s:s}", "level", json_string_value(level)));
                return;
        }
        log_privileged(call, "SetLogLevel", sm_log_level_to_string(priority));
        sm_log_set_max_level(priority);
        sm_varlink_reply(call, NULL);
}

static const sm_varlink_method methods[] = {
        {IFACE "Status", false, method_status},   {IFACE "Resources", false, method_resources},
        {IFACE "Plan", false, method_plan},       {IFACE "Reconcile", true, method_reconcile},
        {IFACE "Pause", true, method_pause},      {IFACE "Resume", true, method_resume},
        {IFACE "Approve", true, method_approve},  {IFACE "Outputs", false, method_outputs},
        {IFACE "Metrics", false, method_metrics}, {IFACE "SetLogLevel", true, method_set_log_level},
};

static const sm_varlink_interface interfaces[] = {
        {"io.smstudio", sm_control_idl, methods, ELEMENTSOF(methods)},
};

/* A group's id, looked up once; false (said) when it does not exist. */
static bool group_id(const char *name, const char *what, gid_t *ret)
{
        struct group *g;

        if (isempty(name))
                return false;
        errno = 0;
        g = getgrnam(name);
        if (!g) {
                sm_log_warning("%s group \"%s\" not found%s", what, name,
                               streq(what, "admin") ? ": only root may change anything"
                                                    : ": the socket keeps its group");
                return false;
        }
        *ret = g->gr_gid;
        return true;
}

/* The socket's directory, for a path outside /run/smstudio (which
 * systemd's RuntimeDirectory= makes): root-owned 0755, so that the socket's
 * own mode decides who may connect. */
static void make_socket_dir(const char *path)
{
        _cleanup_free_ char *dir = strdup(path);
        char *slash = dir ? strrchr(dir, '/') : NULL;

        if (!slash || slash == dir)
                return;
        *slash = '\0';
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                sm_log_debug("cannot create %s: %s", dir, strerror(errno));
}

int sm_control_new(uv_loop_t *loop, sm_daemon *d, sm_control **ret)
{
        const sm_daemon_config *config = sm_daemon_get_config(d);
        sm_varlink_server_options opts = {
                .path = config->socket_path,
                .listen_fd = -1,
                .group = (gid_t)-1,
                .vendor = "smstudio",
                .product = "smstudiod",
                .version = SM_VERSION,
                .url = "https://github.com/smstudio/smstudio",
                .authorize = authorize,
        };
        sm_control *c;
        gid_t gid;
        int n, r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->daemon = d;
        c->loop = loop;
        c->have_admin_gid = group_id(config->admin_group, "admin", &c->admin_gid);
        if (group_id(config->socket_group, "socket", &gid))
                opts.group = gid;
        opts.userdata = c;

        /* Socket activation: systemd passes the listening socket (one). */
        n = sd_listen_fds(true);
        if (n > 1)
                sm_log_warning("%d sockets passed by systemd: using the first", n);
        if (n >= 1) {
                if (sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) <= 0) {
                        sm_log_error("the socket systemd passed is not a listening Unix stream "
                                     "socket");
                        free(c);
                        return -EINVAL;
                }
                opts.listen_fd = SD_LISTEN_FDS_START;
        } else {
                make_socket_dir(config->socket_path);
        }
        r = sm_varlink_server_new(loop, interfaces, ELEMENTSOF(interfaces), &opts, &c->server);
        if (r < 0) {
                sm_log_error("cannot listen on %s: %s",
                             opts.listen_fd >= 0 ? "the socket systemd passed"
                                                 : config->socket_path,
                             strerror(-r));
                free(c);
                return r;
        }
        sm_log_info("control socket %s",
                    opts.listen_fd >= 0 ? "passed by systemd" : config->socket_path);
        *ret = c;
        return 0;
}

sm_control *sm_control_free(sm_control *c)
{
        if (!c)
                return NULL;
        /* Reads still out end unheard: their calls go with the server. */
        while (c->outputs) {
                sm_outputs_read_abandon(c->outputs->read);
                c->outputs->read = NULL;
                outputs_unlink(c->outputs);
        }
        sm_varlink_server_free(c->server);
        free(c);
        return NULL;
}
