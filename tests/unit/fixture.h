/* SPDX-License-Identifier: Apache-2.0 */
/* Shared support for Check suites: private temp dirs and loopback servers. */
#pragma once

/* A fresh private directory under $TMPDIR (mode 0700); malloc'ed path.
 * Aborts the test on failure. */
char *sm_test_tmpdir(void);
