/* SPDX-License-Identifier: Apache-2.0 */
/* The varlink wire format (https://varlink.org): each message is one JSON
 * object followed by a NUL byte, over a Unix stream socket. A server on the
 * libuv loop for smstudiod's control socket, and a small blocking client
 * for smstudioctl.
 *
 * Requests are {"method": "io.smstudio.Status", "parameters": {...}} with
 * optional "oneway": true (no reply is sent) and "more" (refused: no method
 * here streams). Replies are {"parameters": {...}} or, for an error,
 * {"error": "io.smstudio.PermissionDenied", "parameters": {...}}.
 *
 * The server never lets one client stall the loop or the others: reads are
 * non-blocking and bounded (a request larger than max_request_bytes closes
 * the connection), replies are queued per connection and a client whose
 * queue exceeds max_reply_queue_bytes (it does not read) is disconnected, a
 * connection idle (no complete request) for idle_timeout_ms is closed, and
 * beyond max_clients new connections are accepted and closed at once.
 * Requests on one connection are answered in order; a connection may have
 * one call in flight at a time (pipelined requests wait their turn). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

/* Who is calling, from SO_PEERCRED / SO_PEERGROUPS at accept time. */
typedef struct sm_varlink_peer {
        pid_t pid;
        uid_t uid;
        gid_t gid;
        const gid_t *groups; /* supplementary groups (SO_PEERGROUPS); may be NULL */
        size_t n_groups;
} sm_varlink_peer;

typedef struct sm_varlink_server sm_varlink_server;
/* One call being answered. Valid from the handler's start until it is
 * answered (sm_varlink_reply / sm_varlink_error); if the client goes away
 * first, the call stays valid and answering it is a no-op. */
typedef struct sm_varlink_call sm_varlink_call;

/* A method handler. parameters is borrowed (never NULL: {} when absent).
 * Answer now or later from the loop, exactly once. */
typedef void (*sm_varlink_method_fn)(sm_varlink_call *call, const json_t *parameters,
                                     void *userdata);

typedef struct sm_varlink_method {
        const char *name; /* fully qualified: "io.smstudio.Status" */
        bool privileged;  /* only for peers authorize() accepts */
        sm_varlink_method_fn handler;
} sm_varlink_method;

/* An interface the server offers: its name and its description in the
 * varlink IDL (served by org.varlink.service.GetInterfaceDescription). */
typedef struct sm_varlink_interface {
        const char *name;        /* "io.smstudio" */
        const char *description; /* the IDL text, "interface io.smstudio\n..." */
        const sm_varlink_method *methods;
        size_t n_methods;
} sm_varlink_interface;

/* Whether peer may call privileged methods (SO_PEERCRED rule: root or a
 * member of the admin group; the daemon decides). */
typedef bool (*sm_varlink_authorize_fn)(const sm_varlink_peer *peer, void *userdata);

typedef struct sm_varlink_server_options {
        /* Listen here (created with mode 0660, an existing socket file is
         * replaced); or, when listen_fd >= 0, use that already listening
         * socket (sd_listen_fds() activation) and leave the path alone. On
         * success the server owns listen_fd (closed with the server). */
        const char *path;
        int listen_fd;
        gid_t group;                  /* chown the socket to this group; (gid_t)-1 keeps it */
        size_t max_request_bytes;     /* default 64 KiB */
        size_t max_reply_queue_bytes; /* default 4 MiB */
        unsigned max_clients;         /* default 256 */
        uint64_t idle_timeout_ms;     /* default 60000 */
        /* org.varlink.service.GetInfo */
        const char *vendor, *product, *version, *url;
        sm_varlink_authorize_fn authorize; /* NULL: only uid 0 is privileged */
        void *userdata;                    /* for authorize and the handlers */
} sm_varlink_server_options;

/* Start serving interfaces (borrowed, must outlive the server) plus
 * org.varlink.service (GetInfo, GetInterfaceDescription). A privileged
 * method called by a peer authorize() refuses gets the error named by
 * SM_VARLINK_ERROR_PERMISSION_DENIED, an unknown method
 * org.varlink.service.MethodNotFound, a malformed message
 * org.varlink.service.InvalidParameter or a closed connection.
 * SIGPIPE, if at its default, is set to ignored (replies are written with
 * write(2)). 0, or -errno (then nothing is left open). */
int sm_varlink_server_new(uv_loop_t *loop, const sm_varlink_interface *interfaces,
                          size_t n_interfaces, const sm_varlink_server_options *opts,
                          sm_varlink_server **ret);

/* Close the listener and every connection; calls not yet answered are
 * dropped (answering them later is a no-op until they are freed with the
 * server's last handle). Frees once the loop has closed the handles.
 * Accepts NULL; returns NULL. */
sm_varlink_server *sm_varlink_server_free(sm_varlink_server *s);

/* The number of connections open now (for tests and metrics). */
unsigned sm_varlink_server_n_clients(const sm_varlink_server *s);

#define SM_VARLINK_ERROR_PERMISSION_DENIED "io.smstudio.PermissionDenied"

/* The caller of call (valid while the call is). */
const sm_varlink_peer *sm_varlink_call_peer(const sm_varlink_call *call);

/* Answer call with parameters (takes ownership; NULL means {}). Ends the
 * call. */
void sm_varlink_reply(sm_varlink_call *call, json_t *parameters);

/* Answer call with error (a fully qualified error name) and its
 * parameters (takes ownership; NULL means {}). Ends the call. */
void sm_varlink_error(sm_varlink_call *call, const char *error, json_t *parameters);

/* The client, blocking, for smstudioctl: connect to path, send one call,
 * wait up to timeout_ms for its reply. On success *ret_parameters (new
 * reference) and *ret_error (NULL, or a new string with the varlink error
 * name, the parameters then being the error's). 0, or -errno: -ENOENT /
 * -ECONNREFUSED (no daemon), -EACCES (socket permissions), -ETIMEDOUT,
 * -EBADMSG (not a varlink reply), -EMSGSIZE (reply over 16 MiB),
 * -ECONNRESET (closed without a reply, e.g. a request over the limit). */
int sm_varlink_call_sync(const char *path, const char *method, const json_t *parameters,
                         uint64_t timeout_ms, json_t **ret_parameters, char **ret_error);
