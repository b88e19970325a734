/* SPDX-License-Identifier: Apache-2.0 */
/* The main() of every Check suite: `SM_CHECK_MAIN(make_suite)`. */
#pragma once

#include <check.h>
#include <stdlib.h>

#define SM_CHECK_MAIN(make_suite)                                                                  \
        int main(void)                                                                             \
        {                                                                                          \
                SRunner *sr = srunner_create(make_suite());                                        \
                int failed;                                                                        \
                srunner_run_all(sr, CK_NORMAL);                                                    \
                failed = srunner_ntests_failed(sr);                                                \
                srunner_free(sr);                                                                  \
                return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;                                  \
        }
