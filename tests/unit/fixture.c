/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

char *sm_test_tmpdir(void)
{
        const char *base = getenv("TMPDIR");
        char *path = NULL;

        if (!base || !*base)
                base = "/tmp";
        ck_assert_int_gt(asprintf(&path, "%s/smstudio-test-XXXXXX", base), 0);
        ck_assert_ptr_nonnull(mkdtemp(path));
        return path;
}
