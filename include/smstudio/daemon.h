/* SPDX-License-Identifier: Apache-2.0 */
/* smstudiod's long-running service: one libuv loop that runs a reconcile
 * pass on every trigger (start, the periodic timer with splay, a change in
 * the manifest directory or the config file, SIGUSR1, SIGHUP, the control
 * socket) and never two at once: triggers during a pass coalesce into
 * exactly one more. Also the pieces `smstudiod --once` shares with it: the
 * config and manifest loads, the AWS client stack and the pass options. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "smstudio/client.h"
#include "smstudio/creds.h"
#include "smstudio/daemonconfig.h"
#include "smstudio/http.h"
#include "smstudio/imds.h"
#include "smstudio/manifestdir.h"
#include "smstudio/pass.h"
#include "smstudio/settings.h"

/* Settle timeouts and poll pacing of the executor (apply.h's defaults). */
#define SM_DAEMON_SETTLE_TIMEOUT_MS (30u * 60u * 1000u)
#define SM_DAEMON_MLFLOW_TIMEOUT_MS (60u * 60u * 1000u)
#define SM_DAEMON_POLL_INITIAL_MS   1000u
#define SM_DAEMON_POLL_MAX_MS       30000u

/* How long SIGTERM lets in-flight AWS calls finish before they are cut. */
#define SM_DAEMON_STOP_TIMEOUT_MS 10000u

/* --- shared with --once ------------------------------------------------ */

/* Load the daemon config (path NULL: the default, which may be missing),
 * logging every problem. 0 or -errno. */
int sm_daemon_config_load_logged(const char *path, sm_daemon_config **ret);

/* mkdir -p, parents 0755 and the directory itself 0700. 0 or -errno. */
int sm_daemon_state_dir_make(const char *dir);

/* Load config's manifest directory (with last good copies in state_dir),
 * printing every diagnostic. 0 or -errno; a load without a model is not an
 * error of this call. */
int sm_daemon_manifests_load(const sm_daemon_config *config, sm_manifest_load **ret);

/* The lifecycle script as base64 when some domain of desired names a
 * lifecycle config, else *ret stays NULL. 0, or -errno (logged). */
int sm_daemon_lifecycle_content(const sm_daemon_config *config, const sm_desired *desired,
                                char **ret);

/* Fill opts for a pass over load (borrowed) with config's policy. */
void sm_daemon_pass_options_init(sm_pass_options *opts, const sm_daemon_config *config,
                                 const sm_manifest_load *load, const char *lifecycle_b64);

/* The persistent pass counter of state_dir (for the describe sweep). */
unsigned sm_daemon_pass_number_next(const char *state_dir);
void sm_daemon_pass_number_save(const char *state_dir, unsigned n);

/* Log a round of pass number pass: every action applied (ACTION_APPLIED)
 * or not (ACTION_FAILED; blocked ones at notice), with the journal fields.
 * quiet: NULL, or one flag per action to log at debug only (held calls and
 * what they skipped, said once when first refused). */
void sm_daemon_log_round(unsigned pass, unsigned round, const sm_plan *plan,
                         const sm_apply_report *report, const bool *quiet);

/* Log a pass's last plan's findings that want a person: deletions the
 * guard holds (DELETION_GUARD) and conflicts (CONFLICT). plan may be NULL. */
void sm_daemon_log_findings(unsigned pass, const sm_plan *plan);

/* The AWS client stack a pass runs on. */
typedef struct sm_aws_stack {
        sm_aws_settings *settings;
        sm_http *http;
        sm_imds *imds;
        sm_creds_provider *creds;
        sm_aws_client *client; /* non-NULL once ready */
} sm_aws_stack;

/* Called when the region had to come from EC2 instance metadata: r is 0
 * (stack->client is ready) or -errno (logged). */
typedef void (*sm_aws_stack_ready_fn)(int r, void *userdata);

/* Build the stack for config on loop: 1 when the client is ready now, 0
 * when ready() will run from the loop (IMDS region), or -errno (logged). */
int sm_aws_stack_start(sm_aws_stack *s, uv_loop_t *loop, const sm_daemon_config *config,
                       sm_aws_stack_ready_fn ready, void *userdata);
/* Free what the stack holds (the loop must run afterwards to close its
 * handles). */
void sm_aws_stack_done(sm_aws_stack *s);

/* --- the service -------------------------------------------------------- */

typedef struct sm_daemon sm_daemon;

typedef struct sm_daemon_args {
        const char *config_path; /* NULL: SM_DAEMON_CONFIG_PATH, which may be missing */
        bool verbose;            /* debug logging, whatever the config says */
} sm_daemon_args;

/* Run in the foreground until SIGTERM or SIGINT. The exit status: 0 after
 * a clean stop, 1 for a config or start-up error (another instance holds
 * the state directory, the socket cannot be opened...). */
int sm_daemon_main(const sm_daemon_args *args);

/* What the control socket asks of the running daemon (loop thread only). */
const sm_daemon_config *sm_daemon_get_config(const sm_daemon *d);
/* The AWS client passes use, or NULL until it is set up (region from
 * instance metadata) and between a config reload and the next pass. Calls
 * still out when the daemon replaces it are answered "Cancelled". */
sm_aws_client *sm_daemon_get_client(sm_daemon *d);
/* The desired model in force (last good copies included), or NULL before
 * the first manifests loaded. Replaced by a reload: do not keep it. */
const sm_desired *sm_daemon_get_desired(const sm_daemon *d);

/* Status's parameters (io.smstudio.Status). New reference or NULL. */
json_t *sm_daemon_status_json(sm_daemon *d);

/* Resources (all, or the one named: -ENOENT if none). 0 or -errno. */
int sm_daemon_resources_json(sm_daemon *d, const char *name, json_t **ret);

/* Prometheus text of the daemon's metrics. New string or NULL. */
char *sm_daemon_metrics_text(sm_daemon *d);

/* A pass ended: pass is its Status "Pass" object (borrowed), NULL when the
 * daemon stops before it ran. */
typedef void (*sm_daemon_pass_fn)(const json_t *pass, void *userdata);

/* Ask for a pass now (trigger: "reconcile", "approve"...); when done is
 * set it runs once that pass ends. -EBUSY while paused or stopping. */
int sm_daemon_reconcile(sm_daemon *d, const char *trigger, sm_daemon_pass_fn done, void *userdata);

/* A dry-run pass's answer: r 0 with changes, diff and plan (borrowed), or
 * -errno. */
typedef void (*sm_daemon_plan_fn)(int r, unsigned changes, const char *diff, const json_t *plan,
                                  void *userdata);

/* Start a dry-run pass now. -EBUSY while a pass runs (or stopping). */
int sm_daemon_plan(sm_daemon *d, sm_daemon_plan_fn done, void *userdata);

/* Pause (reason kept in state_dir across restarts) and resume. 0 or -errno. */
int sm_daemon_pause(sm_daemon *d, const char *reason);
int sm_daemon_resume(sm_daemon *d);

/* Let the next pass make the deletions the guard holds and start it:
 * 0 with their number, -ENOENT when nothing is held, -EBUSY when paused. */
int sm_daemon_approve(sm_daemon *d, unsigned *ret_deletions);
