/* SPDX-License-Identifier: Apache-2.0 */
/* varlink-echo: a tiny varlink service on sm_varlink_server, so that an
 * independent peer (tests/integration/test_varlink_peer.py, raw sockets in
 * Python) can check our wire format.
 *
 *   varlink-echo SOCKET_PATH
 *
 * Serves org.example.Echo (see `idl` below) with a 4 KiB request limit and
 * prints "READY" on stdout once it listens. SIGTERM or SIGINT: exit 0. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "smstudio/macro.h"
#include "smstudio/varlink.h"

#define MAX_REQUEST_BYTES 4096

static const char idl[] = "# A test interface: echoes, fails and answers late on request.\n"
                          "interface org.example.Echo\n"
                          "\n"
                          "# Returns its parameters unchanged.\n"
                          "method Echo(value: ?object) -> (value: ?object)\n"
                          "\n"
                          "# Always fails with Failed.\n"
                          "method Fail(reason: string) -> ()\n"
                          "\n"
                          "# Answers {ms} after ms milliseconds.\n"
                          "method Slow(ms: int) -> (ms: int)\n"
                          "\n"
                          "# Only for root.\n"
                          "method Private() -> ()\n"
                          "\n"
                          "error Failed (reason: string)\n";

static uv_loop_t *loop;

static void m_echo(sm_varlink_call *call, const json_t *params, void *userdata)
{
        sm_varlink_reply(call, json_deep_copy(params));
}

static void m_fail(sm_varlink_call *call, const json_t *params, void *userdata)
{
        json_t *reason = json_object_get(params, "reason");

        sm_varlink_error(call, "org.example.Echo.Failed",
                         json_pack("{sO}", "reason", reason ? reason : json_null()));
}

typedef struct slow {
        uv_timer_t timer;
        sm_varlink_call *call;
        json_int_t ms;
} slow;

static void on_slow_closed(uv_handle_t *h)
{
        free(h->data);
}

static void on_slow(uv_timer_t *t)
{
        slow *s = t->data;

        sm_varlink_reply(s->call, json_pack("{sI}", "ms", s->ms));
        uv_close((uv_handle_t *)t, on_slow_closed);
}

static void m_slow(sm_varlink_call *call, const json_t *params, void *userdata)
{
        json_int_t ms = json_integer_value(json_object_get(params, "ms"));
        slow *s;

        if (ms < 0 || ms > 60000) {
                sm_varlink_error(call, "org.varlink.service.InvalidParameter",
                                 json_pack("{ss}", "parameter", "ms"));
                return;
        }
        s = calloc(1, sizeof(*s));
        if (!s) {
                sm_varlink_error(call, "org.example.Echo.Failed",
                                 json_pack("{ss}", "reason", "out of memory"));
                return;
        }
        s->call = call;
        s->ms = ms;
        s->timer.data = s;
        uv_timer_init(loop, &s->timer);
        uv_timer_start(&s->timer, on_slow, (uint64_t)ms, 0);
}

static void m_private(sm_varlink_call *call, const json_t *params, void *userdata)
{
        sm_varlink_reply(call, NULL);
}

static const sm_varlink_method methods[] = {
        {"org.example.Echo.Echo", false, m_echo},
        {"org.example.Echo.Fail", false, m_fail},
        {"org.example.Echo.Slow", false, m_slow},
        {"org.example.Echo.Private", true, m_private},
};

static const sm_varlink_interface interfaces[] = {
        {"org.example.Echo", idl, methods, ELEMENTSOF(methods)},
};

static sm_varlink_server *server;

static void on_signal(uv_signal_t *h, int signum)
{
        server = sm_varlink_server_free(server);
}

int main(int argc, char **argv)
{
        sm_varlink_server_options opts = {
                .listen_fd = -1,
                .group = (gid_t)-1,
                .max_request_bytes = MAX_REQUEST_BYTES,
                .vendor = "smstudio",
                .product = "varlink-echo",
                .version = "0.0.1",
                .url = "https://example.invalid/varlink-echo",
        };
        uv_loop_t l;
        uv_signal_t term, intr;
        int r;

        if (argc != 2) {
                fprintf(stderr, "usage: %s SOCKET_PATH\n", argv[0]);
                return 2;
        }
        /* libuv writes with write(): a client gone must not kill us. */
        signal(SIGPIPE, SIG_IGN);
        opts.path = argv[1];
        loop = &l;
        if (uv_loop_init(loop) < 0)
                return 1;
        r = sm_varlink_server_new(loop, interfaces, ELEMENTSOF(interfaces), &opts, &server);
        if (r < 0) {
                fprintf(stderr, "varlink-echo: %s: %s\n", argv[1], strerror(-r));
                return 1;
        }
        uv_signal_init(loop, &term);
        uv_signal_init(loop, &intr);
        uv_signal_start(&term, on_signal, SIGTERM);
        uv_signal_start(&intr, on_signal, SIGINT);
        /* The signal watchers do not keep the loop: the server does, until a
         * signal frees it. */
        uv_unref((uv_handle_t *)&intr);
        uv_unref((uv_handle_t *)&term);
        printf("READY\n");
        fflush(stdout);
        uv_run(loop, UV_RUN_DEFAULT);
        uv_close((uv_handle_t *)&term, NULL);
        uv_close((uv_handle_t *)&intr, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
        return uv_loop_close(loop) == 0 ? 0 : 1;
}
