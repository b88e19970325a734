/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's own settings: /etc/smstudio/smstudiod.yaml (smstudiod.yaml(5)).
 * Loaded all or nothing into a fresh struct, every problem reported as
 * path:line:column, so a reload that fails keeps the running config. The
 * AWS settings in it feed sm_aws_settings_resolve() as overrides. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

#include "smstudio/diag.h"
#include "smstudio/endpoint.h"
#include "smstudio/retry.h"
#include "smstudio/settings.h"

#define SM_DAEMON_CONFIG_PATH "/etc/smstudio/smstudiod.yaml"

/* The built-in defaults, also documented in smstudiod.yaml(5) and shown in
 * the shipped config/smstudiod.yaml. */
#define SM_DAEMON_DEFAULT_MANIFEST_DIR   "/etc/smstudio.d"
#define SM_DAEMON_DEFAULT_SOCKET_PATH    "/run/smstudio/smstudiod.sock"
#define SM_DAEMON_DEFAULT_SOCKET_GROUP   "smstudio"
#define SM_DAEMON_DEFAULT_STATE_DIR      "/var/lib/smstudio"
#define SM_DAEMON_DEFAULT_INTERVAL_SEC   300u
#define SM_DAEMON_DEFAULT_SPLAY_SEC      30u
#define SM_DAEMON_DEFAULT_INSTANCE       "smstudio"
#define SM_DAEMON_DEFAULT_CONCURRENCY    8u
#define SM_DAEMON_DEFAULT_GUARD_COUNT    5u
#define SM_DAEMON_DEFAULT_GUARD_SHARE_BP 1000u /* 10% */
#define SM_DAEMON_DEFAULT_SWEEP_EVERY    12u
#define SM_DAEMON_DEFAULT_LOG_LEVEL      LOG_INFO
/* Where packages install config/lifecycle/idle-shutdown.sh. */
#define SM_DAEMON_DEFAULT_LIFECYCLE_SCRIPT "/usr/share/smstudio/lifecycle/idle-shutdown.sh"

/* Bounds enforced by the loader. */
#define SM_DAEMON_INTERVAL_MIN_SEC 10u    /* faster only spends the API quotas on reads */
#define SM_DAEMON_INTERVAL_MAX_SEC 86400u /* a day: drift must not outlive it */
#define SM_DAEMON_CONCURRENCY_MAX  64u
#define SM_DAEMON_ATTEMPTS_MAX     10u
#define SM_DAEMON_SWEEP_EVERY_MAX  10000u
#define SM_DAEMON_INSTANCE_MAX     63u
/* StudioLifecycleConfigContent takes at most 16384 base64 characters. */
#define SM_DAEMON_LIFECYCLE_SCRIPT_MAX 12288u

typedef struct sm_daemon_config {
        char *path;         /* the file it came from; NULL for the built-in defaults */
        char *region;       /* NULL: AWS_REGION, the profile, EC2 instance metadata */
        char *profile;      /* NULL: AWS_PROFILE, else "default" */
        char *manifest_dir; /* absolute */
        char *socket_path;  /* absolute, fits sockaddr_un */
        char *socket_group; /* may read (Status, Plan, ...) */
        char *admin_group;  /* may also change things; NULL: root only */
        char *state_dir;    /* absolute */
        uint64_t interval_sec;
        uint64_t splay_sec;                  /* 0 <= splay <= interval */
        char *instance;                      /* the smstudio:managed-by tag value */
        char *endpoint_url[_SM_SERVICE_MAX]; /* NULL: AWS_ENDPOINT_URL_*, the profile, AWS's */
        char *ca_bundle;                     /* absolute; NULL: AWS_CA_BUNDLE, the system store */
        unsigned concurrency;                /* AWS calls in flight, 1..64 */
        bool retry_mode_set;                 /* false: AWS_RETRY_MODE, the profile, standard */
        sm_retry_mode retry_mode;
        unsigned max_attempts; /* 1..10; 0 = unset: AWS_MAX_ATTEMPTS, the profile, 3 */
        bool dry_run;
        unsigned guard_max_count;      /* deletions one pass may make unapproved */
        unsigned guard_max_share_bp;   /* ... and their share of managed resources, in basis
                                        * points (1/100 of a percent: 1000 = 10%), so the
                                        * guard's comparison is exact integer arithmetic */
        unsigned describe_sweep_every; /* a full Describe sweep every N passes */
        int log_level;                 /* syslog priority */
        char *lifecycle_script;        /* absolute: the JupyterLab lifecycle config content */
} sm_daemon_config;

/* A new config holding the built-in defaults. 0 or -ENOMEM. */
int sm_daemon_config_default(sm_daemon_config **ret);

/* Load path (SM_DAEMON_CONFIG_PATH when NULL). A file that does not exist
 * is the defaults unless must_exist (an explicit --config): then -ENOENT
 * with a diagnostic. -EINVAL with every problem in diags ("path:line:column:
 * message"), other negative errno when the file cannot be read (also in
 * diags), -ENOMEM. *ret is written only on success. */
int sm_daemon_config_load(const char *path, bool must_exist, sm_daemon_config **ret,
                          sm_diags *diags);

/* Parse content already read from path (path is used only in messages and
 * kept in the result). Same results as sm_daemon_config_load. */
int sm_daemon_config_parse(const char *path, const void *data, size_t len, sm_daemon_config **ret,
                           sm_diags *diags);

sm_daemon_config *sm_daemon_config_free(sm_daemon_config *c);
DEFINE_POINTER_CLEANUP(sm_daemon_config, sm_daemon_config_free)

/* The AWS settings the config sets, as overrides (origin "the daemon
 * config"); unset ones stay unset so the environment and profile apply.
 * Borrows c's strings: c must outlive ret. */
void sm_daemon_config_aws_overrides(const sm_daemon_config *c, sm_aws_overrides *ret);

/* The lifecycle_script file as base64, the StudioLifecycleConfigContent of
 * every domain that sets server_lifecycle_name. 0; or -errno with *ret_error
 * one sentence naming the key and the path (unreadable, empty, or over
 * SM_DAEMON_LIFECYCLE_SCRIPT_MAX bytes: -EFBIG). */
int sm_daemon_config_lifecycle_b64(const sm_daemon_config *c, char **ret, char **ret_error);

/* Every key with its value, shaped like the file: durations in seconds,
 * max_share as a percentage string ("10%", as the file accepts it), unset
 * keys null. New reference, NULL on -ENOMEM. */
json_t *sm_daemon_config_to_json(const sm_daemon_config *c);

/* "90s", "5m", "1h", "1h30m", "2d" or a plain number of seconds. 0, or
 * -EINVAL for anything else, -ERANGE past 100 years. */
int sm_daemon_config_parse_duration(const char *s, uint64_t *ret);
