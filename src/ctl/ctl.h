/* SPDX-License-Identifier: Apache-2.0 */
/* smstudioctl's own pieces (not part of the core library): options shared
 * by every verb, the one output path (text or JSON) and the verbs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>
#include <uv.h>

#include "smstudio/client.h"
#include "smstudio/daemonconfig.h"
#include "smstudio/imds.h"
#include "smstudio/macro.h"
#include "smstudio/manifestdir.h"

/* Exit codes: 0 success, 1 the command failed, 64 usage error (sysexits).
 * outputs: 3 when a desired resource does not exist in AWS yet; status: 3
 * when something is failing; reconcile --wait: 3 when the pass failed. 4 the
 * daemon refused a privileged call, 5 the daemon could not be reached. */
#define EXIT_USAGE       64
#define EXIT_NOT_CREATED 3
#define EXIT_FAILING     3
#define EXIT_DENIED      4
#define EXIT_NO_DAEMON   5

typedef struct ctl_options {
        bool json;
        const char *profile;
        const char *region;
        const char *config; /* --config FILE, or NULL for the default */
        int verbose;
        const char *socket;  /* -s PATH; NULL: the daemon config's socket.path */
        uint64_t timeout_ms; /* --timeout; 0: the verb's own default */
        bool wait;           /* reconcile --wait */
        bool from_daemon;    /* outputs --from-daemon */
} ctl_options;

/* One labelled value of a record rendered as text ("Label  value", the
 * values aligned in one column) or as one JSON object ({"Label": "value"}). */
typedef struct ctl_field {
        const char *label;
        const char *value;
} ctl_field;

void ctl_print_record(const ctl_options *o, const ctl_field *fields, size_t n);
/* A whole JSON document (for --json output that is more than one flat
 * record), indented, keys in insertion order, on stdout. */
void ctl_print_json(const ctl_options *o, const json_t *v);
/* An error: "smstudioctl: message" on stderr, and with --json also
 * {"error": {"code", "message"}} on stdout. */
void ctl_print_error(const ctl_options *o, const char *code, const char *message);
/* ctl_print_error() whose JSON error object also gets extra's members
 * (borrowed; may be NULL). */
void ctl_print_error_with(const ctl_options *o, const char *code, const char *message,
                          const json_t *extra);

/* Whether text may carry ANSI colours: stdout is a terminal, NO_COLOR is
 * unset or empty and TERM is not "dumb". */
bool ctl_use_colour(void);
/* The colour of a resource phase ("converged", "failing"...): an ANSI
 * sequence, or "" for an unknown phase or when colour is off. */
const char *ctl_phase_colour(const char *phase);
/* The sequence ending a colour ("" when colour is off). */
const char *ctl_colour_end(void);
/* An aligned text table: a header line, then rows of n_cols cells each
 * (cells[row * n_cols + col], NULL shown as "-"); colours, when not NULL, is
 * laid out as cells and wraps a cell in that ANSI sequence. The last column
 * is not padded. */
void ctl_print_table(const char *const *headers, size_t n_cols, const char *const *cells,
                     const char *const *colours, size_t n_rows);

/* The daemon config: --config FILE (which must exist), else the default
 * file when there is one. NULL after reporting the problems. */
sm_daemon_config *ctl_load_config(const ctl_options *o);
/* Whom the manifest trust checks accept besides root, as the daemon would. */
uid_t ctl_daemon_trusted_uid(void);
/* The manifest directory the config names, loaded as validate loads it (no
 * last good copies). 0 and *ret (problems of files that did not load shown
 * on stderr), or -errno after reporting that no model could be built. */
int ctl_load_manifests(const ctl_options *o, const sm_daemon_config *config,
                       sm_manifest_load **ret);

/* The AWS client stack of one verb, built as the daemon builds it. */
typedef struct ctl_aws ctl_aws;
typedef void (*ctl_aws_ready_fn)(ctl_aws *a, void *userdata);
struct ctl_aws {
        const ctl_options *opts;
        uv_loop_t loop;
        sm_http *http;
        sm_aws_settings *settings;
        sm_creds_provider *creds;
        sm_aws_client *client;
        sm_imds *imds;
        ctl_aws_ready_fn ready;
        void *userdata;
        bool ready_ran;
};

/* Resolve the settings (config, then the flags), build the stack (asking
 * EC2 instance metadata for the region when nothing else names one), call
 * ready from the loop with a->client usable, run the loop until
 * ctl_aws_stop() and tear everything down. 0 when ready ran, else -errno
 * after reporting why. */
int ctl_aws_run(ctl_aws *a, const ctl_options *o, const sm_daemon_config *config,
                ctl_aws_ready_fn ready, void *userdata);
/* End ctl_aws_run()'s loop (from a callback). */
void ctl_aws_stop(ctl_aws *a);
/* A failed call as the sentence an operator acts on (malloc'ed, NULL on
 * -ENOMEM): expired or refused credentials, TLS, an unreachable endpoint. */
char *ctl_aws_error_message(const ctl_aws *a, sm_service_id service, const char *operation,
                            const sm_aws_error *e);
/* ctl_print_error() of that sentence, with the AWS error code. */
void ctl_aws_report_error(ctl_aws *a, sm_service_id service, const char *operation,
                          const sm_aws_error *e);

/* Verbs: argv[0] is the verb's name, the rest its arguments. */
int ctl_verb_whoami(const ctl_options *o, int argc, char **argv);
int ctl_verb_validate(const ctl_options *o, int argc, char **argv);
int ctl_verb_import_seedfarmer(const ctl_options *o, int argc, char **argv);
int ctl_verb_outputs(const ctl_options *o, int argc, char **argv);

/* Verbs asking smstudiod over its control socket (ctl-daemon.c). */
int ctl_verb_status(const ctl_options *o, int argc, char **argv);
int ctl_verb_resources(const ctl_options *o, int argc, char **argv);
int ctl_verb_plan(const ctl_options *o, int argc, char **argv);
int ctl_verb_reconcile(const ctl_options *o, int argc, char **argv);
int ctl_verb_pause(const ctl_options *o, int argc, char **argv);
int ctl_verb_resume(const ctl_options *o, int argc, char **argv);
int ctl_verb_approve(const ctl_options *o, int argc, char **argv);
int ctl_verb_metrics(const ctl_options *o, int argc, char **argv);
int ctl_verb_log_level(const ctl_options *o, int argc, char **argv);
/* outputs --from-daemon: io.smstudio.Outputs for domain (NULL: the only
 * one), printed as the live outputs are. An exit status. */
int ctl_daemon_outputs(const ctl_options *o, const char *domain);
