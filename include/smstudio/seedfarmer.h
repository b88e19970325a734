/* SPDX-License-Identifier: Apache-2.0 */
/* Moving over from the original CDK module: a seed-farmer module manifest
 * of it (`parameters: - name: X, value: Y | valueFrom: ...`) turned into the
 * equivalent smstudio manifest text. Pure: no file system access (the
 * caller reads the file), no network (valueFrom cannot be resolved here).
 *
 * The output, per sagemaker-studio module found in the file:
 *   - one `kind: Domain` document with the module's parameters under the
 *     smstudio key names, in the manifest reference order, and `adopt: true`
 *     (the domain the module created has no smstudio tag yet);
 *   - one `kind: User` document per person of data_science_users and
 *     lead_data_science_users (so a person is added or removed later by a
 *     document, or a file, of their own).
 * Values seed-farmer gives as strings are typed the way the module read
 * them: 'True'/'false'/'yes'... become booleans, '["a","b"]' (JSON) lists,
 * '{"k":"v"}' (JSON) mappings, '60' integers. Parameter names match the way
 * seed-farmer and the module did: kebab-case and camelCase as snake_case,
 * case-insensitively.
 *
 * Whatever cannot be converted offline (valueFrom, a missing required
 * value, a value the module would have refused, a user in both groups)
 * gets the placeholder string "<TODO>" (which no smstudio check accepts, so
 * such a manifest never loads by accident) and a "# TODO: ..." comment
 * above it, and is reported in notes. Parameters smstudio has no use for,
 * and parameters the module did not know (with a "did you mean"), are left
 * as comments at the end of the Domain document and reported. */
#pragma once

#include <stddef.h>

#include "smstudio/diag.h"
#include "smstudio/strbuf.h"

/* The placeholder of every value left to fill in. */
#define SM_SEEDFARMER_TODO "<TODO>"

/* Convert data (len bytes, read from path; path is used in the output's
 * header and in diagnostics). The YAML text is appended to out. notes gets
 * warnings and the values to fill in (every one with its place); errors
 * gets why the file could not be converted.
 *
 * Returns the number of values left to fill in (>= 0; 0 means the output is
 * complete) after appending the manifest to out; -EINVAL when the file is
 * not a seed-farmer manifest of the module or not YAML (errors say why, out
 * is unchanged); -ENOMEM. */
int sm_seedfarmer_import(const char *path, const void *data, size_t len, sm_buf *out,
                         sm_diags *notes, sm_diags *errors);

/* What to tell a person about a conversion (stderr of smstudioctl): every
 * error and note as "path:line:column: error|warning: message", then, when
 * result (sm_seedfarmer_import's return) is not 0, one line
 * "path: not converted" or "path: converted; N values to fill in (marked
 * TODO)". Appended to out; 0 or -ENOMEM. */
int sm_seedfarmer_report(const char *path, int result, const sm_diags *notes,
                         const sm_diags *errors, sm_buf *out);
