/* SPDX-License-Identifier: Apache-2.0 */
/* query-encode: encode requests read as JSON lines on stdin with
 * sm_protocol_encode() for the AWS Query protocol and print each form body,
 * so that tests/integration/test_query_botocore.py can compare our encoding
 * with botocore's serializer.
 *
 * Input, one object per line:
 *   {"id": any, "action": "CreateRole", "version": "2010-05-08", "params": {...}}
 * Output, one object per line:
 *   {"id": ..., "body": "Action=CreateRole&Version=..."}
 *   or {"id": ..., "error": "message", "errno": N} when the line is not a
 *   request or our encoder refuses the parameters. The exit status is
 *   non-zero only when stdin or stdout fail. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smstudio/macro.h"
#include "smstudio/protocol.h"

static int print_json(json_t *o)
{
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        int r = -ENOMEM;

        if (text && puts(text) >= 0 && fflush(stdout) == 0)
                r = 0;
        free(text);
        json_decref(o);
        return r;
}

static int handle(const char *line)
{
        sm_encoded_request req = {0};
        sm_aws_service svc = {.protocol = SM_AWS_PROTOCOL_QUERY, .name = "query-encode"};
        json_error_t jerr;
        json_t *in, *id, *params;
        const char *action;
        int r;

        in = json_loads(line, 0, &jerr);
        if (!json_is_object(in)) {
                json_decref(in);
                return print_json(json_pack("{sn ss si}", "id", "error", "not a JSON object",
                                            "errno", EINVAL));
        }
        id = json_object_get(in, "id");
        action = json_string_value(json_object_get(in, "action"));
        svc.api_version = json_string_value(json_object_get(in, "version"));
        params = json_object_get(in, "params");

        r = sm_protocol_encode(&svc, action, params, &req);
        if (r < 0)
                r = print_json(
                        json_pack("{sO* ss si}", "id", id, "error", strerror(-r), "errno", -r));
        else
                r = print_json(
                        json_pack("{sO* ss%}", "id", id, "body", req.body.data, req.body.len));
        sm_encoded_request_done(&req);
        json_decref(in);
        return r;
}

int main(void)
{
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;

        while ((n = getline(&line, &cap, stdin)) >= 0) {
                if (n > 0 && line[n - 1] == '\n')
                        line[n - 1] = '\0';
                if (!line[0])
                        continue;
                if (handle(line) < 0) {
                        free(line);
                        return EXIT_FAILURE;
                }
        }
        free(line);
        return ferror(stdin) ? EXIT_FAILURE : EXIT_SUCCESS;
}
