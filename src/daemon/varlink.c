/* SPDX-License-Identifier: Apache-2.0 */
/* The varlink server (libuv) and blocking client. See
 * include/smstudio/varlink.h for the wire format and the limits.
 *
 * Lifetime: a connection (struct conn) owns its pipe and its idle timer and
 * embeds its one call. It is freed when both handles are closed and its call
 * is not waiting for an answer; a connection closed while its call is out is
 * kept (a "zombie", off the client count) until the handler answers, so the
 * handler's pointer stays valid. The server is freed when it has been asked
 * to and its last handle (listener, deferral idle, connections) is closed;
 * zombies go with it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "smstudio/log.h"
#include "smstudio/macro.h"
#include "smstudio/varlink.h"

#define DEFAULT_MAX_REQUEST_BYTES     (64u * 1024u)
#define DEFAULT_MAX_REPLY_QUEUE_BYTES (4u * 1024u * 1024u)
#define DEFAULT_MAX_CLIENTS           256u
#define DEFAULT_IDLE_TIMEOUT_MS       60000u
/* The sync client refuses replies larger than this (the header's promise). */
#define CLIENT_MAX_REPLY_BYTES (16u * 1024u * 1024u)
/* How much one read may bring in at most: bounds the buffer of a client
 * that pipelines many requests while its first call is out. */
#define READ_CHUNK_BYTES (16u * 1024u)

#define SERVICE_INTERFACE "org.varlink.service"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Our own wording of the varlink service interface every server offers. */
static const char service_description[] =
        "# The varlink service interface: what this service is and what it offers.\n"
        "interface org.varlink.service\n"
        "\n"
        "# Who made the service, its version and the interfaces it implements.\n"
        "method GetInfo() -> (\n"
        "  vendor: string,\n"
        "  product: string,\n"
        "  version: string,\n"
        "  url: string,\n"
        "  interfaces: []string\n"
        ")\n"
        "\n"
        "# The IDL text of one of the interfaces.\n"
        "method GetInterfaceDescription(interface: string) -> (description: string)\n"
        "\n"
        "# The interface is not offered here.\n"
        "error InterfaceNotFound (interface: string)\n"
        "\n"
        "# The interface is offered, the method is not.\n"
        "error MethodNotFound (method: string)\n"
        "\n"
        "# The method is known but this service does not implement it.\n"
        "error MethodNotImplemented (method: string)\n"
        "\n"
        "# A parameter is missing or has the wrong type or value.\n"
        "error InvalidParameter (parameter: string)\n"
        "\n"
        "# The caller may not call this method.\n"
        "error PermissionDenied ()\n"
        "\n"
        "# The method must be called with more: true.\n"
        "error ExpectedMore ()\n";

struct sm_varlink_call {
        bool active;  /* dispatched, not answered yet */
        bool oneway;  /* the answer is not sent */
        bool dropped; /* the connection or the server went away: answers are no-ops */
};

typedef struct conn conn;
struct conn {
        sm_varlink_server *server;
        conn *prev, *next; /* server->conns */
        conn *defer_next;  /* server->deferred, when on it */
        bool deferred;
        uv_pipe_t pipe;
        uv_timer_t idle;
        unsigned handles_open; /* of pipe and idle, not yet through their close callback */
        bool closing;          /* uv_close asked (or a shutdown that ends in it) */
        bool counted;          /* in server->n_clients */
        bool reading;
        bool eof;           /* the client shut its writing side */
        bool shutting_down; /* after eof: sending what is queued, then closing */
        bool processing;    /* inside process(): answers made now need no deferral */
        sm_varlink_peer peer;
        gid_t *groups;
        char *in; /* received, not yet dispatched */
        size_t in_len, in_size;
        sm_varlink_call call;
        uv_shutdown_t shutdown;
};

struct sm_varlink_server {
        uv_loop_t *loop;
        const sm_varlink_interface *interfaces;
        size_t n_interfaces;
        sm_varlink_server_options opts; /* strings point at our copies below */
        char *path, *vendor, *product, *version, *url;
        bool unlink_on_free; /* we made the socket file; remove it if it is still ours */
        dev_t sock_dev;
        ino_t sock_ino;
        uv_pipe_t listener;
        uv_idle_t defer_idle; /* runs connections whose call was answered from outside */
        conn *deferred;
        conn *conns;
        unsigned n_clients;
        unsigned handles_open;
        bool freeing;
};

typedef struct write_req {
        uv_write_t req;
        char *data;
} write_req;

static void conn_close(conn *c);
static void process(conn *c);
static void on_idle_timeout(uv_timer_t *t);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

/* --- lifetime --- */

static void server_maybe_finish(sm_varlink_server *s);

static void conn_free(conn *c)
{
        sm_varlink_server *s = c->server;

        if (c->prev)
                c->prev->next = c->next;
        else
                s->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        free(c->groups);
        free(c->in);
        free(c);
}

/* A connection goes once its handles are closed and its call is not out. */
static void conn_maybe_free(conn *c)
{
        if (c->handles_open > 0 || c->call.active || c->deferred)
                return;
        conn_free(c);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
        conn *c = h->data;
        sm_varlink_server *s = c->server;

        c->handles_open--;
        if (c->handles_open == 0) {
                s->handles_open--;
                conn_maybe_free(c);
                server_maybe_finish(s);
        }
}

static void conn_close(conn *c)
{
        sm_varlink_server *s = c->server;

        if (c->closing)
                return;
        c->closing = true;
        if (c->counted) {
                c->counted = false;
                s->n_clients--;
        }
        /* A call still out stays valid for its handler; its answer goes nowhere. */
        if (c->call.active)
                c->call.dropped = true;
        uv_close((uv_handle_t *)&c->pipe, on_conn_handle_closed);
        uv_close((uv_handle_t *)&c->idle, on_conn_handle_closed);
}

static void on_server_handle_closed(uv_handle_t *h)
{
        sm_varlink_server *s = h->data;

        s->handles_open--;
        server_maybe_finish(s);
}

static void server_maybe_finish(sm_varlink_server *s)
{
        if (!s->freeing || s->handles_open > 0)
                return;
        /* Zombies: calls never answered. Answering them from now on is a
         * use after free, as the header says. */
        while (s->conns)
                conn_free(s->conns);
        free(s->path);
        free(s->vendor);
        free(s->product);
        free(s->version);
        free(s->url);
        free(s);
}

/* --- writing --- */

static void on_write_done(uv_write_t *req, int status)
{
        write_req *w = container_of(req, write_req, req);
        conn *c = req->data;

        free(w->data);
        free(w);
        if (status < 0 && !c->closing) {
                sm_log_debug("varlink: write to pid %d failed: %s", (int)c->peer.pid,
                             uv_strerror(status));
                conn_close(c);
        }
}

/* Queue message (taken) on c, NUL-terminated. */
static void conn_send(conn *c, json_t *message)
{
        sm_varlink_server *s = c->server;
        write_req *w = NULL;
        char *text;
        size_t queued;
        uv_buf_t buf;
        int r;

        text = json_dumps(message, JSON_COMPACT);
        json_decref(message);
        if (!text) {
                conn_close(c);
                return;
        }
        w = calloc(1, sizeof(*w));
        if (!w) {
                free(text);
                conn_close(c);
                return;
        }
        w->data = text;
        w->req.data = c;
        buf = uv_buf_init(text, (unsigned)strlen(text) + 1); /* the NUL is the frame end */
        r = uv_write(&w->req, (uv_stream_t *)&c->pipe, &buf, 1, on_write_done);
        if (r < 0) {
                free(text);
                free(w);
                conn_close(c);
                return;
        }
        /* A client that does not read its replies must not make us hold
         * unbounded memory. One reply alone may exceed the limit: it is what
         * the client asked for, and it goes out as the client reads. */
        queued = uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe);
        if (queued > s->opts.max_reply_queue_bytes && queued > buf.len) {
                sm_log_debug("varlink: pid %d does not read its replies (%zu bytes queued), "
                             "disconnecting",
                             (int)c->peer.pid, queued);
                conn_close(c);
        }
}

static void defer_process(conn *c);

/* End c's call with message (taken; NULL: send nothing). */
static void call_finish(sm_varlink_call *call, json_t *message)
{
        conn *c = container_of(call, conn, call);

        if (!call->active) {
                json_decref(message);
                return;
        }
        call->active = false;
        if (call->dropped || call->oneway || c->closing) {
                call->dropped = false;
                json_decref(message);
                if (c->closing) {
                        /* A zombie whose handles are gone is freed here. */
                        conn_maybe_free(c);
                        return;
                }
        } else if (message)
                conn_send(c, message);
        else
                conn_close(c);
        if (!c->closing && !c->processing)
                defer_process(c);
}

/* A reply (error NULL) or an error; parameters taken, NULL or not an object: {}. */
static void answer(sm_varlink_call *call, const char *error, json_t *parameters)
{
        json_t *m;

        if (!call) {
                json_decref(parameters);
                return;
        }
        if (!parameters || !json_is_object(parameters)) {
                json_decref(parameters);
                parameters = json_object();
        }
        if (!parameters)
                m = NULL;
        else if (error)
                m = json_pack("{ss so}", "error", error, "parameters", parameters);
        else
                m = json_pack("{so}", "parameters", parameters);
        call_finish(call, m);
}

void sm_varlink_reply(sm_varlink_call *call, json_t *parameters)
{
        answer(call, NULL, parameters);
}

void sm_varlink_error(sm_varlink_call *call, const char *error, json_t *parameters)
{
        /* A nameless error would read as a success to the client. */
        answer(call, error ? error : SERVICE_INTERFACE ".InvalidParameter", parameters);
}

const sm_varlink_peer *sm_varlink_call_peer(const sm_varlink_call *call)
{
        return call ? &container_of(call, conn, call)->peer : NULL;
}

/* --- dispatching --- */

static void error_param(sm_varlink_call *call, const char *error, const char *key,
                        const char *value)
{
        sm_varlink_error(call, error, json_pack("{ss}", key, value));
}

static const sm_varlink_interface *find_interface(sm_varlink_server *s, const char *name)
{
        for (size_t i = 0; i < s->n_interfaces; i++)
                if (streq(s->interfaces[i].name, name))
                        return &s->interfaces[i];
        return NULL;
}

static void service_get_info(sm_varlink_server *s, sm_varlink_call *call)
{
        json_t *names = json_array();

        json_array_append_new(names, json_string(SERVICE_INTERFACE));
        for (size_t i = 0; i < s->n_interfaces; i++)
                json_array_append_new(names, json_string(s->interfaces[i].name));
        sm_varlink_reply(call, json_pack("{ss ss ss ss so}", "vendor", s->opts.vendor, "product",
                                         s->opts.product, "version", s->opts.version, "url",
                                         s->opts.url, "interfaces", names));
}

static void service_get_description(sm_varlink_server *s, sm_varlink_call *call,
                                    const json_t *parameters)
{
        const char *name = json_string_value(json_object_get(parameters, "interface"));
        const sm_varlink_interface *iface;

        if (!name) {
                error_param(call, SERVICE_INTERFACE ".InvalidParameter", "parameter", "interface");
                return;
        }
        if (streq(name, SERVICE_INTERFACE)) {
                sm_varlink_reply(call, json_pack("{ss}", "description", service_description));
                return;
        }
        iface = find_interface(s, name);
        if (!iface) {
                error_param(call, SERVICE_INTERFACE ".InterfaceNotFound", "interface", name);
                return;
        }
        sm_varlink_reply(call, json_pack("{ss}", "description", iface->description));
}

static bool peer_privileged(sm_varlink_server *s, const sm_varlink_peer *peer)
{
        if (s->opts.authorize)
                return s->opts.authorize(peer, s->opts.userdata);
        return peer->uid == 0;
}

/* Check one message's shape and run its method. The call is active on
 * entry; every path answers it or hands it to a handler. */
static void dispatch(conn *c, json_t *msg)
{
        sm_varlink_server *s = c->server;
        sm_varlink_call *call = &c->call;
        json_t *method_j = json_object_get(msg, "method");
        json_t *params = json_object_get(msg, "parameters");
        json_t *oneway = json_object_get(msg, "oneway");
        json_t *more = json_object_get(msg, "more");
        _cleanup_free_ char *iface_name = NULL;
        const sm_varlink_interface *iface;
        const char *method, *dot;

        call->oneway = json_is_true(oneway);
        if (!json_is_string(method_j)) {
                error_param(call, SERVICE_INTERFACE ".InvalidParameter", "parameter", "method");
                return;
        }
        method = json_string_value(method_j);
        if (params && !json_is_object(params)) {
                error_param(call, SERVICE_INTERFACE ".InvalidParameter", "parameter", "parameters");
                return;
        }
        if ((oneway && !json_is_boolean(oneway)) || (more && !json_is_boolean(more))) {
                error_param(call, SERVICE_INTERFACE ".InvalidParameter", "parameter",
                            oneway && !json_is_boolean(oneway) ? "oneway" : "more");
                return;
        }
        /* No method here streams: a caller waiting for more would wait forever. */
        if (json_is_true(more)) {
                error_param(call, SERVICE_INTERFACE ".InvalidParameter", "parameter", "more");
                return;
        }

        _cleanup_(json_decrefp) json_t *empty = params ? NULL : json_object();
        if (!params)
                params = empty;
        if (!params) {
                call_finish(call, NULL);
                return;
        }

        if (streq(method, SERVICE_INTERFACE ".GetInfo")) {
                service_get_info(s, call);
                return;
        }
        if (streq(method, SERVICE_INTERFACE ".GetInterfaceDescription")) {
                service_get_description(s, call, params);
                return;
        }
        dot = strrchr(method, '.');
        iface = NULL;
        if (dot) {
                iface_name = strndup(method, (size_t)(dot - method));
                if (!iface_name) {
                        call_finish(call, NULL);
                        return;
                }
                iface = find_interface(s, iface_name);
        }
        for (size_t i = 0; iface && i < iface->n_methods; i++) {
                const sm_varlink_method *m = &iface->methods[i];

                if (!streq(m->name, method))
                        continue;
                if (m->privileged && !peer_privileged(s, &c->peer)) {
                        sm_varlink_error(call, SM_VARLINK_ERROR_PERMISSION_DENIED, NULL);
                        return;
                }
                m->handler(call, params, s->opts.userdata);
                return;
        }
        error_param(call, SERVICE_INTERFACE ".MethodNotFound", "method", method);
}

static void on_shutdown_done(uv_shutdown_t *req, int status)
{
        conn *c = req->data;

        (void)status;
        conn_close(c);
}

/* The client said it sends nothing more and every request of it has been
 * answered: flush the queued replies, then close. */
static void conn_finish_after_eof(conn *c)
{
        sm_varlink_server *s = c->server;

        /* Still counted, and still under the idle timeout: a client that
         * never reads would otherwise hold its replies here for ever, outside
         * max_clients. */
        c->shutting_down = true;
        if (!uv_is_active((uv_handle_t *)&c->idle))
                (void)uv_timer_start(&c->idle, on_idle_timeout, s->opts.idle_timeout_ms, 0);
        c->shutdown.data = c;
        if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->pipe, on_shutdown_done) < 0)
                conn_close(c);
}

/* Dispatch the complete requests in c's buffer, one call at a time, then
 * decide whether to read more, wait for the idle timeout or (after the
 * client's EOF) finish. */
static void process(conn *c)
{
        sm_varlink_server *s = c->server;

        if (c->closing || c->shutting_down)
                return;
        c->processing = true;
        while (!c->closing && !c->call.active) {
                char *end = c->in_len > 0 ? memchr(c->in, '\0', c->in_len) : NULL;
                size_t frame_len;
                json_error_t jerr;
                json_t *msg;

                if (!end)
                        break;
                frame_len = (size_t)(end - c->in);
                if (frame_len > s->opts.max_request_bytes) {
                        sm_log_debug("varlink: request of %zu bytes from pid %d, over the limit",
                                     frame_len, (int)c->peer.pid);
                        conn_close(c);
                        break;
                }
                (void)uv_timer_stop(&c->idle);
                msg = json_loadb(c->in, frame_len, JSON_REJECT_DUPLICATES, &jerr);
                c->in_len -= frame_len + 1;
                memmove(c->in, end + 1, c->in_len);
                if (!json_is_object(msg)) {
                        /* Not varlink at all: nothing to answer to. */
                        sm_log_debug("varlink: pid %d sent a message that is not a JSON "
                                     "object: %s",
                                     (int)c->peer.pid, msg ? "wrong type" : jerr.text);
                        json_decref(msg);
                        conn_close(c);
                        break;
                }
                c->call = (sm_varlink_call){.active = true};
                dispatch(c, msg);
                json_decref(msg);
        }
        c->processing = false;
        if (c->closing)
                return;
        if (c->in_len > s->opts.max_request_bytes && !memchr(c->in, '\0', c->in_len)) {
                sm_log_debug("varlink: partial request from pid %d over the limit",
                             (int)c->peer.pid);
                conn_close(c);
                return;
        }
        if (c->call.active) {
                /* Pipelined requests wait in the buffer; stop reading once one
                 * is complete so a client cannot make it grow without bound. */
                if (c->reading && c->in_len > 0 && memchr(c->in, '\0', c->in_len)) {
                        (void)uv_read_stop((uv_stream_t *)&c->pipe);
                        c->reading = false;
                }
                return;
        }
        if (c->eof) {
                conn_finish_after_eof(c);
                return;
        }
        if (c->in_len == 0) {
                /* An idle connection holds no buffer: many clients waiting
                 * cost little. */
                free(c->in);
                c->in = NULL;
                c->in_size = 0;
        }
        /* Idle from now: the timer runs from the last answer, not from the
         * last byte, so trickling a request byte by byte does not help. */
        if (!uv_is_active((uv_handle_t *)&c->idle))
                (void)uv_timer_start(&c->idle, on_idle_timeout, s->opts.idle_timeout_ms, 0);
        if (!c->reading) {
                if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) == 0)
                        c->reading = true;
                else
                        conn_close(c);
        }
}

static void on_defer_idle(uv_idle_t *h)
{
        sm_varlink_server *s = h->data;

        while (s->deferred) {
                conn *c = s->deferred;

                s->deferred = c->defer_next;
                c->defer_next = NULL;
                c->deferred = false;
                if (c->closing)
                        conn_maybe_free(c);
                else
                        process(c);
        }
        (void)uv_idle_stop(&s->defer_idle);
}

/* A call answered from outside process() (a timer, another callback): the
 * next pipelined request runs from the loop, not inside the answering
 * code, which may be walking its own lists. */
static void defer_process(conn *c)
{
        sm_varlink_server *s = c->server;

        if (c->deferred || s->freeing)
                return;
        c->deferred = true;
        c->defer_next = s->deferred;
        s->deferred = c;
        (void)uv_idle_start(&s->defer_idle, on_defer_idle);
}

/* --- reading --- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        conn *c = h->data;
        size_t want = c->in_len + READ_CHUNK_BYTES;

        (void)suggested;
        if (c->in_size < want) {
                char *p = realloc(c->in, want);

                if (!p) {
                        *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
                        return;
                }
                c->in = p;
                c->in_size = want;
        }
        *buf = uv_buf_init(c->in + c->in_len, READ_CHUNK_BYTES);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
        conn *c = stream->data;

        (void)buf;
        if (nread == 0)
                return;
        if (nread < 0) {
                if (nread != UV_EOF) {
                        conn_close(c);
                        return;
                }
                (void)uv_read_stop(stream);
                c->reading = false;
                c->eof = true;
                /* A trailing partial request is dropped; complete ones are answered. */
                {
                        char *last = c->in_len ? memrchr(c->in, '\0', c->in_len) : NULL;

                        c->in_len = last ? (size_t)(last - c->in) + 1 : 0;
                }
                process(c);
                return;
        }
        c->in_len += (size_t)nread;
        process(c);
}

static void on_idle_timeout(uv_timer_t *t)
{
        conn *c = t->data;

        sm_log_debug("varlink: closing idle connection of pid %d", (int)c->peer.pid);
        conn_close(c);
}

/* SO_PEERGROUPS is Linux 4.13+; without it the peer has no supplementary
 * groups as far as we know, which only ever denies. */
static void read_peer_groups(conn *c, int fd)
{
        socklen_t len = 16 * sizeof(gid_t);

        for (int attempt = 0; attempt < 3; attempt++) {
                gid_t *g = malloc(len ? len : sizeof(gid_t));
                socklen_t got = len;

                if (!g)
                        return;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &got) == 0) {
                        c->groups = g;
                        c->peer.groups = g;
                        c->peer.n_groups = got / sizeof(gid_t);
                        return;
                }
                free(g);
                if (errno != ERANGE || got <= len)
                        return;
                len = got;
        }
}

static void on_connection(uv_stream_t *listener, int status)
{
        sm_varlink_server *s = listener->data;
        struct ucred cred = {0};
        socklen_t cred_len = sizeof(cred);
        uv_os_fd_t fd;
        conn *c;

        if (status < 0) {
                sm_log_debug("varlink: accept failed: %s", uv_strerror(status));
                return;
        }
        c = calloc(1, sizeof(*c));
        if (!c)
                return; /* out of memory: libuv pauses the listener until an accept */
        c->server = s;
        c->peer.pid = -1;
        c->peer.uid = (uid_t)-1;
        c->peer.gid = (gid_t)-1;
        if (uv_pipe_init(s->loop, &c->pipe, 0) < 0 || uv_timer_init(s->loop, &c->idle) < 0) {
                /* uv_pipe_init and uv_timer_init cannot fail on Linux. */
                free(c);
                return;
        }
        c->pipe.data = c;
        c->idle.data = c;
        c->handles_open = 2;
        s->handles_open++;
        c->next = s->conns;
        if (s->conns)
                s->conns->prev = c;
        s->conns = c;
        if (uv_accept(listener, (uv_stream_t *)&c->pipe) < 0) {
                conn_close(c);
                return;
        }
        if (s->n_clients >= s->opts.max_clients) {
                sm_log_debug("varlink: %u clients already, refusing another", s->n_clients);
                conn_close(c);
                return;
        }
        c->counted = true;
        s->n_clients++;
        if (uv_fileno((uv_handle_t *)&c->pipe, &fd) == 0 &&
            getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == 0) {
                c->peer.pid = cred.pid;
                c->peer.uid = cred.uid;
                c->peer.gid = cred.gid;
                read_peer_groups(c, fd);
        }
        if (c->peer.uid == (uid_t)-1) {
                /* Without credentials nobody is anybody: refuse rather than guess. */
                conn_close(c);
                return;
        }
        (void)uv_timer_start(&c->idle, on_idle_timeout, s->opts.idle_timeout_ms, 0);
        if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) < 0) {
                conn_close(c);
                return;
        }
        c->reading = true;
}

/* --- the listener --- */

static int make_socket(sm_varlink_server *s, const char *path, int *ret_fd)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct stat st;
        mode_t old_umask;
        int fd, r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        /* Replace a stale socket, never anything else that happens to be there. */
        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return -EEXIST;
                if (unlink(path) < 0 && errno != ENOENT)
                        return -errno;
        } else if (errno != ENOENT)
                return -errno;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* bind() creates the file with the umask applied: with 0117 it is born
         * 0660, never world-accessible, not even between bind and chmod. */
        old_umask = umask(0117);
        r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        if (r < 0)
                r = -errno;
        umask(old_umask);
        if (r < 0)
                goto fail_close;
        if (s->opts.group != (gid_t)-1 && chown(path, (uid_t)-1, s->opts.group) < 0) {
                r = -errno;
                goto fail_unlink;
        }
        /* Explicit, so the mode does not depend on how bind honoured the umask. */
        if (chmod(path, 0660) < 0 || lstat(path, &st) < 0) {
                r = -errno;
                goto fail_unlink;
        }
        s->sock_dev = st.st_dev;
        s->sock_ino = st.st_ino;
        if (listen(fd, SOMAXCONN) < 0) {
                r = -errno;
                goto fail_unlink;
        }
        *ret_fd = fd;
        return 0;

fail_unlink:
        (void)unlink(path);
fail_close:
        close(fd);
        return r;
}

static int strdup_default(char **dst, const char *src, const char *fallback)
{
        *dst = strdup(src ? src : fallback);
        return *dst ? 0 : -ENOMEM;
}

int sm_varlink_server_new(uv_loop_t *loop, const sm_varlink_interface *interfaces,
                          size_t n_interfaces, const sm_varlink_server_options *opts,
                          sm_varlink_server **ret)
{
        sm_varlink_server *s;
        int fd = -1, r;

        if (!loop || !opts || !ret || (n_interfaces > 0 && !interfaces))
                return -EINVAL;
        if (opts->listen_fd < 0 && isempty(opts->path))
                return -EINVAL;
        /* libuv writes replies with write(2), which has no MSG_NOSIGNAL: a
         * client hanging up before its reply would raise SIGPIPE and kill the
         * daemon. Ignore it unless the program already chose a handler. */
        {
                struct sigaction sa;

                if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
                        (void)signal(SIGPIPE, SIG_IGN);
        }
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->loop = loop;
        s->interfaces = interfaces;
        s->n_interfaces = n_interfaces;
        s->opts = *opts;
        if (!s->opts.max_request_bytes)
                s->opts.max_request_bytes = DEFAULT_MAX_REQUEST_BYTES;
        if (!s->opts.max_reply_queue_bytes)
                s->opts.max_reply_queue_bytes = DEFAULT_MAX_REPLY_QUEUE_BYTES;
        if (!s->opts.max_clients)
                s->opts.max_clients = DEFAULT_MAX_CLIENTS;
        if (!s->opts.idle_timeout_ms)
                s->opts.idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
        if (strdup_default(&s->vendor, opts->vendor, "") < 0 ||
            strdup_default(&s->product, opts->product, "") < 0 ||
            strdup_default(&s->version, opts->version, "") < 0 ||
            strdup_default(&s->url, opts->url, "") < 0 ||
            (opts->path && strdup_default(&s->path, opts->path, "") < 0)) {
                r = -ENOMEM;
                goto fail;
        }
        s->opts.vendor = s->vendor;
        s->opts.product = s->product;
        s->opts.version = s->version;
        s->opts.url = s->url;
        s->opts.path = s->path;

        if (opts->listen_fd >= 0) {
                /* Work on a copy so that on failure the caller's fd is as it
                 * was; on success the original is closed (the server owns the
                 * socket from now on). listen() also proves it is a socket. */
                fd = fcntl(opts->listen_fd, F_DUPFD_CLOEXEC, 3);
                if (fd < 0 || listen(fd, SOMAXCONN) < 0) {
                        r = -errno;
                        goto fail_fd;
                }
        } else {
                r = make_socket(s, s->path, &fd);
                if (r < 0)
                        goto fail;
                s->unlink_on_free = true;
        }

        /* Neither init can fail on Linux. */
        (void)uv_pipe_init(loop, &s->listener, 0);
        (void)uv_idle_init(loop, &s->defer_idle);
        s->listener.data = s;
        s->defer_idle.data = s;
        s->handles_open = 2;
        r = uv_pipe_open(&s->listener, fd);
        if (r < 0)
                close(fd); /* not in the pipe yet */
        else
                r = uv_listen((uv_stream_t *)&s->listener, SOMAXCONN, on_connection);
        if (r < 0) {
                /* Not expected after our own listen(). The handles close with
                 * the server on the loop's next turn. */
                if (s->unlink_on_free)
                        (void)unlink(s->path);
                s->unlink_on_free = false;
                sm_varlink_server_free(s);
                return r;
        }
        if (opts->listen_fd >= 0)
                (void)close(opts->listen_fd);
        *ret = s;
        return 0;

fail_fd:
        if (fd >= 0)
                close(fd);
        if (s->unlink_on_free)
                (void)unlink(s->path);
fail:
        free(s->vendor);
        free(s->product);
        free(s->version);
        free(s->url);
        free(s->path);
        free(s);
        return r;
}

sm_varlink_server *sm_varlink_server_free(sm_varlink_server *s)
{
        struct stat st;

        if (!s || s->freeing)
                return NULL;
        s->freeing = true;
        /* Remove the socket file only if it is still the one we made: a
         * later instance may have replaced it. */
        if (s->unlink_on_free && lstat(s->path, &st) == 0 && st.st_dev == s->sock_dev &&
            st.st_ino == s->sock_ino)
                (void)unlink(s->path);
        for (conn *c = s->conns; c; c = c->next)
                if (c->call.active)
                        c->call.dropped = true;
        while (s->deferred) {
                conn *c = s->deferred;

                s->deferred = c->defer_next;
                c->deferred = false;
                c->defer_next = NULL;
        }
        for (conn *c = s->conns; c; c = c->next)
                conn_close(c);
        uv_close((uv_handle_t *)&s->listener, on_server_handle_closed);
        uv_close((uv_handle_t *)&s->defer_idle, on_server_handle_closed);
        return NULL;
}

unsigned sm_varlink_server_n_clients(const sm_varlink_server *s)
{
        return s ? s->n_clients : 0;
}

/* --- the blocking client --- */

static uint64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int wait_fd(int fd, short events, uint64_t deadline)
{
        for (;;) {
                struct pollfd p = {.fd = fd, .events = events};
                uint64_t now = now_ms();
                int r;

                if (now >= deadline)
                        return -ETIMEDOUT;
                r = poll(&p, 1, (int)(deadline - now > 60000 ? 60000 : deadline - now));
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (r > 0)
                        return 0;
        }
}

/* After a send or recv on fd failed: 0 to try again (interrupted, or fd is
 * ready now), or -errno (-ETIMEDOUT past deadline). */
static int wait_after(int fd, short events, uint64_t deadline)
{
        if (errno == EINTR)
                return 0;
        if (errno != EAGAIN)
                return -errno;
        return wait_fd(fd, events, deadline);
}

static void closep(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}

static int client_connect(const char *path, uint64_t timeout_ms, int *ret_fd)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct timeval tv = {.tv_sec = (time_t)(timeout_ms / 1000),
                             .tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000};
        int fd, r, flags;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* A blocking connect waits while the server's backlog is full, bounded
         * by the send timeout (the kernel then says EAGAIN). */
        if (timeout_ms > 0)
                (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        do
                r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
        while (r < 0 && errno == EINTR);
        if (r < 0) {
                r = errno == EAGAIN ? -ETIMEDOUT : -errno;
                close(fd);
                return r;
        }
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

int sm_varlink_call_sync(const char *path, const char *method, const json_t *parameters,
                         uint64_t timeout_ms, json_t **ret_parameters, char **ret_error)
{
        _cleanup_(closep) int fd = -1;
        _cleanup_free_ char *request = NULL, *reply = NULL, *error_name = NULL;
        _cleanup_(json_decrefp) json_t *msg = NULL, *reply_msg = NULL;
        uint64_t deadline = now_ms() + timeout_ms;
        size_t len, sent = 0, got = 0, size = 0;
        json_t *params, *err;
        char *end = NULL;
        int r;

        if (!path || !method || !ret_parameters || !ret_error)
                return -EINVAL;
        if (parameters && !json_is_object(parameters))
                return -EINVAL;
        msg = parameters ? json_pack("{ss sO}", "method", method, "parameters", parameters)
                         : json_pack("{ss}", "method", method);
        if (!msg)
                return -ENOMEM;
        request = json_dumps(msg, JSON_COMPACT);
        if (!request)
                return -ENOMEM;
        len = strlen(request) + 1;

        r = client_connect(path, timeout_ms, &fd);
        if (r < 0)
                return r;
        while (sent < len) {
                ssize_t n = send(fd, request + sent, len - sent, MSG_NOSIGNAL);

                if (n < 0) {
                        r = wait_after(fd, POLLOUT, deadline);
                        if (r < 0)
                                return r == -EPIPE ? -ECONNRESET : r;
                        continue;
                }
                sent += (size_t)n;
        }
        while (!end) {
                ssize_t n;

                if (size - got < 4096) {
                        size_t new_size = size ? size * 2 : 16384;
                        char *p;

                        if (new_size > CLIENT_MAX_REPLY_BYTES + 1)
                                new_size = CLIENT_MAX_REPLY_BYTES + 1;
                        if (new_size <= got)
                                return -EMSGSIZE;
                        p = realloc(reply, new_size);
                        if (!p)
                                return -ENOMEM;
                        reply = p;
                        size = new_size;
                }
                n = recv(fd, reply + got, size - got, 0);
                if (n < 0) {
                        r = wait_after(fd, POLLIN, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (n == 0)
                        return -ECONNRESET; /* closed without answering */
                end = memchr(reply + got, '\0', (size_t)n);
                got += (size_t)n;
                if (!end && got > CLIENT_MAX_REPLY_BYTES)
                        return -EMSGSIZE;
        }

        reply_msg = json_loadb(reply, (size_t)(end - reply), JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(reply_msg))
                return -EBADMSG;
        params = json_object_get(reply_msg, "parameters");
        err = json_object_get(reply_msg, "error");
        if ((params && !json_is_object(params)) || (err && !json_is_string(err)))
                return -EBADMSG;
        if (err) {
                error_name = strdup(json_string_value(err));
                if (!error_name)
                        return -ENOMEM;
        }
        params = params ? json_incref(params) : json_object();
        if (!params)
                return -ENOMEM;
        *ret_parameters = params;
        *ret_error = TAKE_PTR(error_name);
        return 0;
}
