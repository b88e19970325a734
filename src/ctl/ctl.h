/* SPDX-License-Identifier: Apache-2.0 */
/* smstudioctl's own pieces (not part of the core library): options shared
 * by every verb, the one output path (text or JSON) and the verbs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "smstudio/macro.h"

/* Exit codes: 0 success, 1 the command failed, 64 usage error (sysexits). */
#define EXIT_USAGE 64

typedef struct ctl_options {
        bool json;
        const char *profile;
        const char *region;
        const char *config; /* --config FILE, or NULL for the default */
        int verbose;
} ctl_options;

/* One labelled value of a record rendered as text ("Label:  value") or as
 * one JSON object ({"Label": "value"}). */
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

/* Verbs: argv[0] is the verb's name, the rest its arguments. */
int ctl_verb_whoami(const ctl_options *o, int argc, char **argv);
int ctl_verb_validate(const ctl_options *o, int argc, char **argv);
int ctl_verb_import_seedfarmer(const ctl_options *o, int argc, char **argv);
