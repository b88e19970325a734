/* SPDX-License-Identifier: Apache-2.0 */
/* Resolves endpoints with sm_endpoint_resolve() for
 * integration/test_endpoints_botocore.py. One case per input line:
 *
 *   SERVICE REGION FIPS DUALSTACK [URL]
 *
 * SERVICE is a descriptor name ("sagemaker"), REGION "-" for none, FIPS and
 * DUALSTACK 0 or 1, URL an optional endpoint override. One output line per
 * case, tab-separated:
 *
 *   OK <url> <signing region> <host> <partition>
 *   ERROR <message>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smstudio/endpoint.h"

int main(void)
{
        char line[4096];

        while (fgets(line, sizeof(line), stdin)) {
                char *fields[5] = {0}, *save = NULL, *tok;
                const sm_aws_service *svc;
                sm_endpoint_settings s = {0};
                sm_endpoint e = {0};
                char *error = NULL;
                size_t n = 0;
                int r;

                for (tok = strtok_r(line, " \t\r\n", &save); tok && n < 5;
                     tok = strtok_r(NULL, " \t\r\n", &save))
                        fields[n++] = tok;
                if (n < 4) {
                        fprintf(stderr, "endpoint-resolve: bad input line\n");
                        return EXIT_FAILURE;
                }
                svc = sm_aws_service_by_name(fields[0]);
                if (!svc) {
                        fprintf(stderr, "endpoint-resolve: unknown service %s\n", fields[0]);
                        return EXIT_FAILURE;
                }
                s.region = strcmp(fields[1], "-") == 0 ? NULL : fields[1];
                s.use_fips = strcmp(fields[2], "1") == 0;
                s.use_dualstack = strcmp(fields[3], "1") == 0;
                s.override_url = fields[4];

                r = sm_endpoint_resolve(svc, &s, &e, &error);
                if (r == 0)
                        printf("OK\t%s\t%s\t%s\t%s\n", e.url, e.signing_region, e.host,
                               e.partition);
                else
                        printf("ERROR\t%s\n", error ? error : strerror(-r));
                free(error);
                sm_endpoint_done(&e);
        }
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
