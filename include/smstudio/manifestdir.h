/* SPDX-License-Identifier: Apache-2.0 */
/* The manifest directory (/etc/smstudio.d): which files count, whether they
 * can be trusted, and the desired model they add up to. A file that stops
 * loading never makes its objects look deleted: its last good content stays
 * in force (remembered under state_dir across restarts), or, when there is
 * none, the load says it is incomplete so the engine deletes nothing.
 *
 * Files: regular `*.yaml` / `*.yml` directly in the directory, in sorted
 * name order; dotfiles, editor and package-manager leftovers are ignored
 * (and listed as such). With check_trust the directory and every file (for
 * a symlink: its target and the target's directory) must be owned by root
 * or trusted_uid and not writable by group or others, as sudoers.d does.
 * Files over SM_MANIFEST_MAX_BYTES are not read.
 *
 * Last good: state_dir/manifests/last-good/<name> holds the bytes of the
 * version of <name> that was last part of a successful build (written
 * atomically, and only once the whole directory built), so a copy there is
 * always content that once worked together with the rest.
 *
 * Cross-file errors (sm_desired_build fails on the files that parse): the
 * conflict comes from what changed since the last good build, so the files
 * whose current content differs from their last good copy are held back in
 * two steps: first the changed files the errors name, then every changed
 * file (their last good copy, if any, stays in force). If the build still
 * fails (or there is no state_dir to fall back on) the load has no model
 * and the caller keeps the one it has. Every error of the first attempt is
 * reported either way. A held-back file without a last good copy counts as
 * failed (the load is incomplete). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "smstudio/desired.h"
#include "smstudio/diag.h"
#include "smstudio/macro.h"

#define SM_MANIFEST_MAX_BYTES (1024u * 1024u)

typedef struct sm_manifest_dir_options {
        const char *dir;       /* the manifest directory */
        const char *state_dir; /* NULL: no last good copies (smstudioctl validate) */
        uid_t trusted_uid;     /* besides root; sm_manifest_dir_options_init: geteuid() */
        bool check_trust;      /* owner and mode checks (on by default) */
} sm_manifest_dir_options;

/* Defaults: trusted_uid = geteuid(), check_trust = true, no state_dir. */
void sm_manifest_dir_options_init(sm_manifest_dir_options *o, const char *dir);

typedef enum sm_manifest_file_status {
        SM_MANIFEST_FILE_OK,             /* its current content is in force */
        SM_MANIFEST_FILE_KEPT_LAST_GOOD, /* unusable now; its last good copy is in force */
        SM_MANIFEST_FILE_FAILED,         /* unusable, no last good copy: contributes nothing */
        SM_MANIFEST_FILE_REFUSED,        /* failed the trust checks, no last good copy */
        SM_MANIFEST_FILE_IGNORED,        /* not a manifest by its name (reason says why) */
        SM_MANIFEST_FILE_REMOVED,        /* gone since the last good build: a deletion request */
        _SM_MANIFEST_FILE_STATUS_MAX,
} sm_manifest_file_status;

/* "ok", "kept-last-good", "failed", "refused", "ignored", "removed". */
const char *sm_manifest_file_status_to_string(sm_manifest_file_status s);

typedef struct sm_manifest_dir_file {
        char *name; /* the entry's name in the directory */
        char *path; /* directory/name, as errors name it */
        sm_manifest_file_status status;
        char *reason;           /* one line when status is not ok; NULL otherwise */
        char *last_good_path;   /* the copy in force when kept-last-good, else NULL */
        int64_t last_good_time; /* when that copy was recorded (Unix seconds), or 0 */
        sm_diags diags;         /* this file's own problems */
} sm_manifest_dir_file;

typedef struct sm_manifest_load {
        char *dir;
        sm_desired *desired; /* NULL when no model could be built: keep the previous one */
        /* Every problem, sorted by place: the files', the directory's and the
         * cross-file ones. */
        sm_diags diags;
        sm_manifest_dir_file *files; /* by name: candidates, ignored and removed entries */
        size_t n_files;
        /* False when some file present in the directory is in force with
         * neither its current nor a last good content (or there is no model):
         * objects missing from the model may still be wanted, so nothing may
         * be deleted on its account. */
        bool complete;
        /* Every present manifest loaded as it is now and the model built from
         * it: what `smstudioctl validate` reports. */
        bool valid;
} sm_manifest_load;

/* Load the directory. Problems with the directory or its files are not
 * errors of this call: they are in the result (a missing directory gives a
 * result with no model). 0 and *ret, or -ENOMEM / -EINVAL (bad options). */
int sm_manifest_dir_load(const sm_manifest_dir_options *o, sm_manifest_load **ret);

sm_manifest_load *sm_manifest_load_free(sm_manifest_load *l);
DEFINE_POINTER_CLEANUP(sm_manifest_load, sm_manifest_load_free)

/* Whether a directory entry's name is a manifest candidate; when it is not,
 * *reason (static text) says why ("a dotfile", "an editor leftover", ...).
 * The daemon's directory watch uses it to skip events for ignored names. */
bool sm_manifest_dir_name_is_candidate(const char *name, const char **reason);

/* Files with a given status. */
size_t sm_manifest_load_count(const sm_manifest_load *l, sm_manifest_file_status s);

/* {"directory", "valid", "complete", "files": [{"name", "path", "status",
 * "reason", "last_good": {"path", "time"} | null, "diagnostics": [...]}],
 * "diagnostics": [...]}. New reference, NULL on -ENOMEM. */
json_t *sm_manifest_load_to_json(const sm_manifest_load *l);
