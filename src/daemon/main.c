/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include "config.h"

int main(int argc, char **argv)
{
        if (argc > 1 && strcmp(argv[1], "--version") == 0) {
                printf("smstudiod %s\n", SM_VERSION);
                return 0;
        }
        fprintf(stderr, "smstudiod: the reconcile daemon is not built yet; see README.md\n");
        return 1;
}
