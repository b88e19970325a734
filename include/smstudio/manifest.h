/* SPDX-License-Identifier: Apache-2.0 */
/* Manifests: one file's documents (kind Domain, User, Space) turned into
 * desired objects and checked on their own; then all good files together
 * checked across documents and merged into one desired model. Pure: no
 * file system access here (the directory loader reads the files). */
#pragma once

#include <stddef.h>

#include "smstudio/desired.h"
#include "smstudio/diag.h"

/* One file's desired objects; every object remembers path:line:column. */
typedef struct sm_manifest_file sm_manifest_file;

/* Parse and validate one file's content. 0 when the file is valid; -EINVAL
 * with every problem of the file in diags (nothing of an invalid file is
 * used); -ENOMEM. */
int sm_manifest_file_parse(const char *path, const void *data, size_t len, sm_manifest_file **ret,
                           sm_diags *diags);

sm_manifest_file *sm_manifest_file_free(sm_manifest_file *f);

/* The file's path as given to parse. */
const char *sm_manifest_file_path(const sm_manifest_file *f);

/* Check files across documents (a user defined twice, naming both places;
 * a User or Space naming an unknown domain; a User without domain when
 * there is more than one; two domains with one name; a user both data
 * scientist and lead; a Space whose owner is not a user of its domain;
 * generated names that collide) and merge them into one model. Files are
 * borrowed; the model is a deep copy. 0, -EINVAL with diags, -ENOMEM. */
int sm_desired_build(sm_manifest_file *const *files, size_t n_files, sm_desired **ret,
                     sm_diags *diags);
