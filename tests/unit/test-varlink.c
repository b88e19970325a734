/* SPDX-License-Identifier: Apache-2.0 */
/* The varlink server on a private socket, driven by raw clients polled on the
 * same loop (exact bytes, pipelining, stalls) and by the blocking client in
 * threads or a forked child while the loop serves. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "smstudio/macro.h"
#include "smstudio/varlink.h"
#include "testmain.h"

#define WAIT_MS           10000
#define NOBODY_UID        ((uid_t)65534)
#define NOGROUP_GID       ((gid_t)65534)
#define MANY              200
#define SUPPLEMENTARY_GID 4242 /* any: groups need not exist to be held */
#define MAX_HELD          (MANY + 8)
#define TEST_IDL          "interface org.example\nmethod Echo() -> ()\n"
#define ERR_INVALID       "org.varlink.service.InvalidParameter"

/* What the handlers and authorize() saw; fresh in every test (Check forks). */
static struct {
        sm_varlink_server *server;
        unsigned n_notes;
        bool allow; /* authorize()'s answer */
        bool authorize_called;
        sm_varlink_peer authorized; /* the peer authorize() was shown */
        gid_t authorized_groups[8];
        uid_t echo_uid; /* sm_varlink_call_peer() in Echo */
        sm_varlink_call *held[MAX_HELD];
        unsigned n_held, hold_target;
        unsigned clients_at_target;
        bool hold_reached;
        bool held_any;
} st;

static uint64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --- the interface under test --- */

static void m_echo(sm_varlink_call *call, const json_t *params, void *userdata)
{
        st.echo_uid = sm_varlink_call_peer(call)->uid;
        sm_varlink_reply(call, json_deep_copy(params));
}

typedef struct later {
        uv_timer_t timer;
        sm_varlink_call *call;
        json_t *params;
} later;

static void on_later_closed(uv_handle_t *h)
{
        later *l = h->data;

        json_decref(l->params);
        free(l);
}

static void on_later(uv_timer_t *t)
{
        later *l = t->data;

        sm_varlink_reply(l->call, json_deep_copy(l->params));
        uv_close((uv_handle_t *)t, on_later_closed);
}

/* Answers {parameters} after parameters.ms, from a timer. */
static void m_later(sm_varlink_call *call, const json_t *params, void *userdata)
{
        later *l = calloc(1, sizeof(*l));

        ck_assert_ptr_nonnull(l);
        l->call = call;
        l->params = json_deep_copy(params);
        l->timer.data = l;
        ck_assert_int_eq(uv_timer_init(userdata, &l->timer), 0);
        ck_assert_int_eq(uv_timer_start(&l->timer, on_later,
                                        (uint64_t)json_integer_value(json_object_get(params, "ms")),
                                        0),
                         0);
}

static void m_note(sm_varlink_call *call, const json_t *params, void *userdata)
{
        st.n_notes++;
        sm_varlink_reply(call, json_pack("{sb}", "noted", 1));
}

static void m_admin(sm_varlink_call *call, const json_t *params, void *userdata)
{
        sm_varlink_reply(call, json_pack("{sb}", "ok", 1));
}

/* A reply of parameters.size bytes. */
static void m_big(sm_varlink_call *call, const json_t *params, void *userdata)
{
        size_t n = (size_t)json_integer_value(json_object_get(params, "size"));
        char *s = malloc(n + 1);

        ck_assert_ptr_nonnull(s);
        memset(s, 'b', n);
        s[n] = '\0';
        sm_varlink_reply(call, json_pack("{ss}", "data", s));
        free(s);
}

static void answer_held(void)
{
        for (unsigned i = 0; i < st.n_held; i++)
                sm_varlink_reply(st.held[i], json_pack("{si}", "held", (int)i));
        st.n_held = 0;
}

/* Kept until hold_target calls are out at once, then all answered. */
static void m_hold(sm_varlink_call *call, const json_t *params, void *userdata)
{
        ck_assert_uint_lt(st.n_held, MAX_HELD);
        st.held[st.n_held++] = call;
        st.held_any = true;
        if (st.n_held == st.hold_target) {
                st.clients_at_target = sm_varlink_server_n_clients(st.server);
                st.hold_reached = true;
                answer_held();
        }
}

static const sm_varlink_method methods[] = {
        {"org.example.Echo", false, m_echo}, {"org.example.Later", false, m_later},
        {"org.example.Note", false, m_note}, {"org.example.Admin", true, m_admin},
        {"org.example.Big", false, m_big},   {"org.example.Hold", false, m_hold},
};

static const sm_varlink_interface interfaces[] = {
        {"org.example", TEST_IDL, methods, ELEMENTSOF(methods)},
};

static bool record_authorize(const sm_varlink_peer *peer, void *userdata)
{
        st.authorize_called = true;
        st.authorized = *peer;
        st.authorized.groups = NULL;
        return st.allow;
}

static bool uid0_authorize(const sm_varlink_peer *peer, void *userdata)
{
        st.authorize_called = true;
        st.authorized = *peer;
        st.authorized.groups = NULL;
        for (size_t i = 0; i < peer->n_groups && i < ELEMENTSOF(st.authorized_groups); i++)
                st.authorized_groups[i] = peer->groups[i];
        return peer->uid == 0;
}

/* --- a server on a private socket --- */

typedef struct env {
        uv_loop_t loop;
        char *dir;
        char path[200];
        sm_varlink_server_options opts;
} env;

static void env_init(env *e)
{
        memset(e, 0, sizeof(*e));
        ck_assert_int_eq(uv_loop_init(&e->loop), 0);
        e->dir = sm_test_tmpdir();
        snprintf(e->path, sizeof(e->path), "%s/test.sock", e->dir);
        e->opts = (sm_varlink_server_options){
                .path = e->path,
                .listen_fd = -1,
                .group = (gid_t)-1,
                .vendor = "smstudio tests",
                .product = "test-varlink",
                .version = "1.2.3",
                .url = "https://example.invalid/",
                .userdata = &e->loop,
        };
        memset(&st, 0, sizeof(st));
        /* SIGPIPE is left as it is: the server must cope (it ignores it). */
}

static void env_start(env *e)
{
        ck_assert_int_eq(sm_varlink_server_new(&e->loop, interfaces, ELEMENTSOF(interfaces),
                                               &e->opts, &st.server),
                         0);
}

static void env_done(env *e)
{
        st.server = sm_varlink_server_free(st.server);
        ck_assert_int_eq(sm_test_run_drain(&e->loop, WAIT_MS), 0);
        ck_assert_int_eq(uv_loop_close(&e->loop), 0);
        ck_assert_int_eq(sm_test_rm_rf(e->dir), 0);
        free(e->dir);
}

/* --- a raw client polled on the test's loop --- */

typedef struct tclient {
        int fd;
        uv_poll_t poll;
        bool reads; /* false: never read, only notice the server hanging up */
        char *buf;
        size_t len, size;
        unsigned n_replies, want;
        bool got; /* n_replies >= want */
        bool eof; /* the server closed the connection */
} tclient;

static void tc_stop(tclient *c)
{
        if (uv_is_active((uv_handle_t *)&c->poll))
                uv_poll_stop(&c->poll);
}

static void on_tc_poll(uv_poll_t *p, int status, int events)
{
        tclient *c = p->data;

        if (status < 0 || (!c->reads && (events & UV_DISCONNECT))) {
                c->eof = true;
                tc_stop(c);
                return;
        }
        for (;;) {
                ssize_t n;

                if (c->size - c->len < 65536) {
                        c->size = c->size ? c->size * 2 : 131072;
                        c->buf = realloc(c->buf, c->size);
                        ck_assert_ptr_nonnull(c->buf);
                }
                n = recv(c->fd, c->buf + c->len, c->size - c->len, 0);
                if (n < 0 && errno == EAGAIN)
                        break;
                if (n <= 0) {
                        c->eof = true;
                        tc_stop(c);
                        break;
                }
                for (ssize_t i = 0; i < n; i++)
                        if (c->buf[c->len + (size_t)i] == '\0')
                                c->n_replies++;
                c->len += (size_t)n;
        }
        if (c->n_replies >= c->want)
                c->got = true;
}

static int connect_unix(const char *path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
        strcpy(sa.sun_path, path);
        ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        return fd;
}

static void tc_connect(env *e, tclient *c, bool reads)
{
        memset(c, 0, sizeof(*c));
        c->fd = connect_unix(e->path);
        c->reads = reads;
        ck_assert_int_eq(uv_poll_init(&e->loop, &c->poll, c->fd), 0);
        c->poll.data = c;
        ck_assert_int_eq(uv_poll_start(&c->poll,
                                       reads ? UV_READABLE | UV_DISCONNECT : UV_DISCONNECT,
                                       on_tc_poll),
                         0);
}

/* A server with the default options and one reading client. */
static void env_up(env *e, tclient *c)
{
        env_init(e);
        env_start(e);
        tc_connect(e, c, true);
}

static void tc_send(tclient *c, const void *data, size_t len)
{
        ck_assert_int_eq(send(c->fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Send text plus its NUL: one message. */
static void tc_msg(tclient *c, const char *text)
{
        tc_send(c, text, strlen(text) + 1);
}

/* Wait for the client's n-th reply (counting from 1) in total. */
static void tc_wait(env *e, tclient *c, unsigned n)
{
        c->want = n;
        c->got = c->n_replies >= n;
        ck_assert_int_eq(sm_test_run_until(&e->loop, &c->got, WAIT_MS), 0);
}

static void tc_wait_eof(env *e, tclient *c)
{
        ck_assert_int_eq(sm_test_run_until(&e->loop, &c->eof, WAIT_MS), 0);
}

/* The i-th reply (from 0), parsed; a new reference. */
static json_t *tc_reply(const tclient *c, unsigned i)
{
        const char *p = c->buf;
        json_t *j;

        ck_assert_uint_lt(i, c->n_replies);
        for (unsigned k = 0; k < i; k++)
                p += strlen(p) + 1;
        j = json_loads(p, 0, NULL);
        ck_assert_ptr_nonnull(j);
        return j;
}

static void tc_close(tclient *c)
{
        uv_close((uv_handle_t *)&c->poll, NULL);
        close(c->fd);
        free(c->buf);
        c->buf = NULL;
}

/* The error name of reply i, "" for a success. */
static const char *reply_error(json_t *reply)
{
        const char *e = json_string_value(json_object_get(reply, "error"));

        return e ? e : "";
}

static const char *reply_str(json_t *reply, const char *key)
{
        const char *s =
                json_string_value(json_object_get(json_object_get(reply, "parameters"), key));

        return s ? s : "";
}

static json_int_t reply_int(json_t *reply, const char *key)
{
        return json_integer_value(json_object_get(json_object_get(reply, "parameters"), key));
}

/* --- the blocking client in threads while the loop serves --- */

typedef struct batch {
        uv_async_t async;
        atomic_uint done;
        unsigned n;
        bool all_done;
        bool closed;
} batch;

typedef struct tcall {
        batch *b;
        const char *path;
        const char *method;
        json_t *params;
        uint64_t timeout_ms;
        int r;
        json_t *reply;
        char *error;
        pthread_t thread;
} tcall;

static void on_batch_async(uv_async_t *a)
{
        batch *b = a->data;

        if (atomic_load(&b->done) >= b->n)
                b->all_done = true;
}

static void on_batch_closed(uv_handle_t *h)
{
        batch *b = h->data;

        b->closed = true;
}

static void *tcall_run(void *arg)
{
        tcall *t = arg;

        t->r = sm_varlink_call_sync(t->path, t->method, t->params, t->timeout_ms, &t->reply,
                                    &t->error);
        atomic_fetch_add(&t->b->done, 1);
        uv_async_send(&t->b->async);
        return NULL;
}

static void batch_start(env *e, batch *b, tcall *calls, unsigned n)
{
        pthread_attr_t attr;

        memset(b, 0, sizeof(*b));
        b->n = n;
        ck_assert_int_eq(uv_async_init(&e->loop, &b->async, on_batch_async), 0);
        b->async.data = b;
        ck_assert_int_eq(pthread_attr_init(&attr), 0);
        ck_assert_int_eq(pthread_attr_setstacksize(&attr, 256 * 1024), 0);
        for (unsigned i = 0; i < n; i++) {
                calls[i].b = b;
                if (!calls[i].path)
                        calls[i].path = e->path;
                if (!calls[i].timeout_ms)
                        calls[i].timeout_ms = WAIT_MS;
                ck_assert_int_eq(pthread_create(&calls[i].thread, &attr, tcall_run, &calls[i]), 0);
        }
        pthread_attr_destroy(&attr);
}

static void batch_wait(env *e, batch *b, tcall *calls)
{
        ck_assert_int_eq(sm_test_run_until(&e->loop, &b->all_done, WAIT_MS + 5000), 0);
        for (unsigned i = 0; i < b->n; i++)
                ck_assert_int_eq(pthread_join(calls[i].thread, NULL), 0);
        /* The batch may live on the caller's stack: wait for the close. */
        uv_close((uv_handle_t *)&b->async, on_batch_closed);
        ck_assert_int_eq(sm_test_run_until(&e->loop, &b->closed, WAIT_MS), 0);
}

static void tcall_clear(tcall *t)
{
        json_decref(t->params);
        json_decref(t->reply);
        free(t->error);
}

/* One call with the blocking client while the loop serves. */
static void sync_call(env *e, tcall *t)
{
        batch b;

        batch_start(e, &b, t, 1);
        batch_wait(e, &b, t);
}

/* --- tests --- */

START_TEST(test_round_trip)
{
        env e;
        tcall t = {.method = "org.example.Echo"};
        json_t *want;

        env_init(&e);
        env_start(&e);
        t.params = json_pack("{si ss s{sb}}", "n", 7, "s", "caf\xc3\xa9", "o", "x", 1);
        sync_call(&e, &t);
        ck_assert_int_eq(t.r, 0);
        ck_assert_ptr_null(t.error);
        ck_assert(json_equal(t.reply, t.params));
        ck_assert_uint_eq(st.echo_uid, getuid());
        tcall_clear(&t);

        /* Answered later, from a timer. */
        t = (tcall){.method = "org.example.Later"};
        t.params = json_pack("{si si}", "ms", 50, "i", 3);
        sync_call(&e, &t);
        ck_assert_int_eq(t.r, 0);
        ck_assert_ptr_null(t.error);
        ck_assert_int_eq(json_integer_value(json_object_get(t.reply, "i")), 3);
        tcall_clear(&t);

        /* No parameters: the handler sees {}. */
        t = (tcall){.method = "org.example.Echo"};
        sync_call(&e, &t);
        ck_assert_int_eq(t.r, 0);
        want = json_object();
        ck_assert(json_equal(t.reply, want));
        json_decref(want);
        tcall_clear(&t);

        t = (tcall){.method = "org.example.Nope"};
        sync_call(&e, &t);
        ck_assert_int_eq(t.r, 0);
        ck_assert_str_eq(t.error, "org.varlink.service.MethodNotFound");
        ck_assert_str_eq(json_string_value(json_object_get(t.reply, "method")), "org.example.Nope");
        tcall_clear(&t);
        env_done(&e);
}
END_TEST

START_TEST(test_service_interface)
{
        env e;
        tclient c;
        json_t *r;

        env_up(&e, &c);
        tc_msg(&c, "{\"method\":\"org.varlink.service.GetInfo\"}");
        tc_msg(&c, "{\"method\":\"org.varlink.service.GetInterfaceDescription\","
                   "\"parameters\":{\"interface\":\"org.example\"}}");
        tc_msg(&c, "{\"method\":\"org.varlink.service.GetInterfaceDescription\","
                   "\"parameters\":{\"interface\":\"org.varlink.service\"}}");
        tc_msg(&c, "{\"method\":\"org.varlink.service.GetInterfaceDescription\","
                   "\"parameters\":{\"interface\":\"org.nowhere\"}}");
        tc_msg(&c, "{\"method\":\"org.varlink.service.GetInterfaceDescription\"}");
        tc_msg(&c, "{\"method\":\"org.nowhere.Thing\"}");
        tc_wait(&e, &c, 6);

        r = tc_reply(&c, 0);
        ck_assert_str_eq(reply_error(r), "");
        ck_assert_str_eq(reply_str(r, "vendor"), "smstudio tests");
        ck_assert_str_eq(reply_str(r, "product"), "test-varlink");
        ck_assert_str_eq(reply_str(r, "version"), "1.2.3");
        ck_assert_str_eq(reply_str(r, "url"), "https://example.invalid/");
        {
                json_t *names = json_object_get(json_object_get(r, "parameters"), "interfaces");

                ck_assert_uint_eq(json_array_size(names), 2);
                ck_assert_str_eq(json_string_value(json_array_get(names, 0)),
                                 "org.varlink.service");
                ck_assert_str_eq(json_string_value(json_array_get(names, 1)), "org.example");
        }
        json_decref(r);
        r = tc_reply(&c, 1);
        ck_assert_str_eq(reply_str(r, "description"), TEST_IDL);
        json_decref(r);
        r = tc_reply(&c, 2);
        ck_assert_ptr_nonnull(
                strstr(reply_str(r, "description"), "interface org.varlink.service\n"));
        ck_assert_ptr_nonnull(strstr(reply_str(r, "description"), "method GetInfo()"));
        json_decref(r);
        r = tc_reply(&c, 3);
        ck_assert_str_eq(reply_error(r), "org.varlink.service.InterfaceNotFound");
        ck_assert_str_eq(reply_str(r, "interface"), "org.nowhere");
        json_decref(r);
        r = tc_reply(&c, 4);
        ck_assert_str_eq(reply_error(r), ERR_INVALID);
        ck_assert_str_eq(reply_str(r, "parameter"), "interface");
        json_decref(r);
        r = tc_reply(&c, 5);
        ck_assert_str_eq(reply_error(r), "org.varlink.service.MethodNotFound");
        json_decref(r);
        ck_assert(!c.eof);
        tc_close(&c);
        env_done(&e);
}
END_TEST

START_TEST(test_oneway)
{
        env e;
        tclient c;
        json_t *r;

        env_up(&e, &c);
        /* In one write: the oneway call must produce nothing, so the first
         * reply is the Echo's. */
        tc_send(&c,
                "{\"method\":\"org.example.Note\",\"oneway\":true}\0"
                "{\"method\":\"org.example.Echo\",\"parameters\":{\"n\":2}}",
                sizeof("{\"method\":\"org.example.Note\",\"oneway\":true}\0"
                       "{\"method\":\"org.example.Echo\",\"parameters\":{\"n\":2}}"));
        tc_wait(&e, &c, 1);
        ck_assert_uint_eq(st.n_notes, 1);
        r = tc_reply(&c, 0);
        ck_assert_int_eq(reply_int(r, "n"), 2);
        json_decref(r);
        /* The same method called normally does answer. */
        tc_msg(&c, "{\"method\":\"org.example.Note\"}");
        tc_wait(&e, &c, 2);
        r = tc_reply(&c, 1);
        ck_assert(json_is_true(json_object_get(json_object_get(r, "parameters"), "noted")));
        json_decref(r);
        ck_assert_uint_eq(c.n_replies, 2);
        tc_close(&c);
        env_done(&e);
}
END_TEST

START_TEST(test_malformed)
{
        env e;
        tclient bad_json, array, c;
        json_t *r;

        env_init(&e);
        env_start(&e);
        tc_connect(&e, &bad_json, true);
        tc_connect(&e, &array, true);
        tc_connect(&e, &c, true);
        tc_msg(&bad_json, "{\"method\": not json");
        tc_msg(&array, "[\"org.example.Echo\"]");
        /* Objects of the wrong shape get an error and the connection lives. */
        tc_msg(&c, "{\"parameters\":{}}");
        tc_msg(&c, "{\"method\":\"org.example.Echo\",\"parameters\":[1]}");
        tc_msg(&c, "{\"method\":\"org.example.Echo\",\"more\":true}");
        tc_msg(&c, "{\"method\":\"org.example.Echo\",\"oneway\":\"yes\"}");
        tc_msg(&c, "{\"method\":\"org.example.Echo\",\"parameters\":{\"a\":1,\"a\":2}}");
        tc_msg(&c, "{\"method\":\"org.example.Echo\",\"parameters\":{\"ok\":1}}");
        tc_wait_eof(&e, &bad_json);
        tc_wait_eof(&e, &array);
        ck_assert_uint_eq(bad_json.n_replies, 0);
        ck_assert_uint_eq(array.n_replies, 0);
        tc_wait(&e, &c, 4);
        /* Duplicate keys are not JSON we accept: that connection is gone
         * and its last request never answered. */
        tc_wait_eof(&e, &c);
        ck_assert_uint_eq(c.n_replies, 4);
        r = tc_reply(&c, 0);
        ck_assert_str_eq(reply_error(r), ERR_INVALID);
        ck_assert_str_eq(reply_str(r, "parameter"), "method");
        json_decref(r);
        r = tc_reply(&c, 1);
        ck_assert_str_eq(reply_str(r, "parameter"), "parameters");
        json_decref(r);
        r = tc_reply(&c, 2);
        ck_assert_str_eq(reply_str(r, "parameter"), "more");
        json_decref(r);
        r = tc_reply(&c, 3);
        ck_assert_str_eq(reply_str(r, "parameter"), "oneway");
        json_decref(r);
        tc_close(&bad_json);
        tc_close(&array);
        tc_close(&c);
        env_done(&e);
}
END_TEST

START_TEST(test_split_and_pipelined)
{
        static const char one[] = "{\"method\":\"org.example.Echo\",\"parameters\":{\"i\":0}}";
        static const char many[] = "{\"method\":\"org.example.Echo\",\"parameters\":{\"i\":1}}\0"
                                   "{\"method\":\"org.example.Later\",\"parameters\":{\"i\":2,"
                                   "\"ms\":40}}\0"
                                   "{\"method\":\"org.example.Echo\",\"parameters\":{\"i\":3}}\0"
                                   "{\"method\":\"org.example.Later\",\"parameters\":{\"i\":4,"
                                   "\"ms\":1}}\0"
                                   "{\"method\":\"org.example.Echo\",\"parameters\":{\"i\":5}}";
        env e;
        tclient c;

        env_up(&e, &c);
        /* Byte by byte, the server reading between bytes. */
        for (size_t i = 0; i < sizeof(one); i++) {
                tc_send(&c, one + i, 1);
                for (int k = 0; k < 3; k++)
                        uv_run(&e.loop, UV_RUN_NOWAIT);
                if (i + 1 < sizeof(one))
                        ck_assert_uint_eq(c.n_replies, 0);
        }
        tc_wait(&e, &c, 1);
        /* Five requests in one write, two answered from timers (the slower
         * first): answered in the order asked. */
        tc_send(&c, many, sizeof(many));
        tc_wait(&e, &c, 6);
        for (unsigned i = 0; i < 6; i++) {
                json_t *r = tc_reply(&c, i);

                ck_assert_str_eq(reply_error(r), "");
                ck_assert_int_eq(reply_int(r, "i"), i);
                json_decref(r);
        }
        tc_close(&c);
        env_done(&e);
}
END_TEST

START_TEST(test_privileged)
{
        env e;
        tclient c;
        json_t *r;

        env_init(&e);
        e.opts.authorize = record_authorize;
        env_start(&e);
        tc_connect(&e, &c, true);
        st.allow = false;
        tc_msg(&c, "{\"method\":\"org.example.Admin\"}");
        tc_wait(&e, &c, 1);
        ck_assert(st.authorize_called);
        ck_assert_int_eq(st.authorized.pid, getpid());
        ck_assert_uint_eq(st.authorized.uid, getuid());
        ck_assert_uint_eq(st.authorized.gid, getgid());
        r = tc_reply(&c, 0);
        ck_assert_str_eq(reply_error(r), SM_VARLINK_ERROR_PERMISSION_DENIED);
        json_decref(r);
        /* Reads are not asked about. */
        st.authorize_called = false;
        tc_msg(&c, "{\"method\":\"org.example.Echo\"}");
        tc_wait(&e, &c, 2);
        ck_assert(!st.authorize_called);
        st.allow = true;
        tc_msg(&c, "{\"method\":\"org.example.Admin\"}");
        tc_wait(&e, &c, 3);
        r = tc_reply(&c, 2);
        ck_assert_str_eq(reply_error(r), "");
        ck_assert(json_is_true(json_object_get(json_object_get(r, "parameters"), "ok")));
        json_decref(r);
        tc_close(&c);
        env_done(&e);

        /* Without authorize(), root only. */
        env_up(&e, &c);
        tc_msg(&c, "{\"method\":\"org.example.Admin\"}");
        tc_wait(&e, &c, 1);
        r = tc_reply(&c, 0);
        ck_assert_str_eq(reply_error(r), getuid() == 0 ? "" : SM_VARLINK_ERROR_PERMISSION_DENIED);
        json_decref(r);
        tc_close(&c);
        env_done(&e);
}
END_TEST

static void on_sigchld(uv_signal_t *h, int signum)
{
        *(bool *)h->data = true;
}

/* In the child: as nobody, a read works and a privileged call is refused.
 * The exit status says which step went wrong. */
static int child_as_nobody(const char *path)
{
        json_t *reply = NULL;
        char *error = NULL;
        int r;

        static const gid_t extra[] = {SUPPLEMENTARY_GID};

        if (setgroups(ELEMENTSOF(extra), extra) < 0 ||
            setresgid(NOGROUP_GID, NOGROUP_GID, NOGROUP_GID) < 0 ||
            setresuid(NOBODY_UID, NOBODY_UID, NOBODY_UID) < 0)
                return 10;
        r = sm_varlink_call_sync(path, "org.example.Echo", NULL, WAIT_MS, &reply, &error);
        if (r < 0)
                return 11;
        if (error)
                return 12;
        json_decref(reply);
        r = sm_varlink_call_sync(path, "org.example.Admin", NULL, WAIT_MS, &reply, &error);
        if (r < 0)
                return 13;
        if (!error || !streq(error, SM_VARLINK_ERROR_PERMISSION_DENIED))
                return 14;
        json_decref(reply);
        free(error);
        return 0;
}

START_TEST(test_peer_credentials)
{
        env e;
        uv_signal_t sigchld;
        bool exited = false;
        struct stat sb;
        int status = -1;
        pid_t pid;

        if (geteuid() != 0)
                return; /* needs to become another user; CI runs as root */
        env_init(&e);
        e.opts.authorize = uid0_authorize;
        e.opts.group = NOGROUP_GID; /* nobody reaches the socket through its group */
        ck_assert_int_eq(chmod(e.dir, 0711), 0);
        env_start(&e);
        ck_assert_int_eq(stat(e.path, &sb), 0);
        ck_assert_uint_eq(sb.st_gid, NOGROUP_GID);
        ck_assert_uint_eq(sb.st_mode & 07777, 0660);

        ck_assert_int_eq(uv_signal_init(&e.loop, &sigchld), 0);
        sigchld.data = &exited;
        ck_assert_int_eq(uv_signal_start(&sigchld, on_sigchld, SIGCHLD), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
                _exit(child_as_nobody(e.path));
        ck_assert_int_eq(sm_test_run_until(&e.loop, &exited, WAIT_MS), 0);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
        ck_assert(st.authorize_called);
        ck_assert_int_eq(st.authorized.pid, pid);
        ck_assert_uint_eq(st.authorized.uid, NOBODY_UID);
        ck_assert_uint_eq(st.authorized.gid, NOGROUP_GID);
        /* SO_PEERGROUPS: the supplementary groups the admin group rule needs. */
        ck_assert_uint_eq(st.authorized.n_groups, 1);
        ck_assert_uint_eq(st.authorized_groups[0], SUPPLEMENTARY_GID);
        ck_assert_uint_eq(st.echo_uid, NOBODY_UID);
        uv_close((uv_handle_t *)&sigchld, NULL);
        env_done(&e);
}
END_TEST

START_TEST(test_oversized_request)
{
        char big[2000];
        char frame[1600];
        env e;
        tclient ok, endless, huge;
        json_t *r;

        env_init(&e);
        e.opts.max_request_bytes = 1024;
        env_start(&e);
        tc_connect(&e, &ok, true);
        tc_connect(&e, &endless, true);
        tc_connect(&e, &huge, true);
        memset(big, 'x', sizeof(big));
        tc_send(&endless, big, sizeof(big)); /* no NUL, ever */
        snprintf(frame, sizeof(frame),
                 "{\"method\":\"org.example.Echo\",\"parameters\":{\"s\":\"%01500d\"}}", 0);
        tc_msg(&huge, frame); /* complete, but too long */
        tc_wait_eof(&e, &endless);
        tc_wait_eof(&e, &huge);
        ck_assert_uint_eq(huge.n_replies, 0);
        /* Just under the limit is fine, on the connection that was there all along. */
        snprintf(frame, sizeof(frame),
                 "{\"method\":\"org.example.Echo\",\"parameters\":{\"s\":\"%0960d\"}}", 0);
        ck_assert_uint_le(strlen(frame), 1024);
        tc_msg(&ok, frame);
        tc_wait(&e, &ok, 1);
        r = tc_reply(&ok, 0);
        ck_assert_uint_eq(strlen(reply_str(r, "s")), 960);
        json_decref(r);
        ck_assert_uint_eq(sm_varlink_server_n_clients(st.server), 1);
        /* The blocking client is told the server hung up without a reply,
         * whether its request fitted in the socket's buffer or not. */
        for (size_t len = 2000; len <= 4 * 1024 * 1024; len *= 2048) {
                tcall t = {.method = "org.example.Echo"};
                char *pad = malloc(len + 1);

                ck_assert_ptr_nonnull(pad);
                memset(pad, 'p', len);
                pad[len] = '\0';
                t.params = json_pack("{ss}", "pad", pad);
                free(pad);
                sync_call(&e, &t);
                ck_assert_int_eq(t.r, -ECONNRESET);
                tcall_clear(&t);
        }
        tc_close(&ok);
        tc_close(&endless);
        tc_close(&huge);
        env_done(&e);
}
END_TEST

START_TEST(test_many_clients)
{
        static tcall calls[MANY];
        env e;
        batch b;

        env_init(&e);
        env_start(&e);
        /* Every call is held until all MANY are in, so they are truly
         * concurrent: MANY connections open at once, then all answered. */
        st.hold_target = MANY;
        for (unsigned i = 0; i < MANY; i++)
                calls[i] = (tcall){.method = "org.example.Hold"};
        batch_start(&e, &b, calls, MANY);
        batch_wait(&e, &b, calls);
        ck_assert(st.hold_reached);
        ck_assert_uint_eq(st.clients_at_target, MANY);
        for (unsigned i = 0; i < MANY; i++) {
                ck_assert_int_eq(calls[i].r, 0);
                ck_assert_ptr_null(calls[i].error);
                ck_assert(json_is_integer(json_object_get(calls[i].reply, "held")));
                tcall_clear(&calls[i]);
        }
        env_done(&e);
}
END_TEST

START_TEST(test_staller)
{
        env e;
        tclient staller, other;
        uint64_t start;
        json_t *r;

        env_init(&e);
        e.opts.idle_timeout_ms = 300;
        env_start(&e);
        start = now_ms();
        tc_connect(&e, &staller, true);
        tc_send(&staller, "{\"method\":\"org.exa", 18); /* and nothing more */
        tc_connect(&e, &other, true);
        tc_msg(&other, "{\"method\":\"org.example.Echo\",\"parameters\":{\"x\":1}}");
        tc_wait(&e, &other, 1);
        /* Answered while the staller is still there, half a request in. */
        ck_assert(!staller.eof);
        ck_assert_uint_eq(sm_varlink_server_n_clients(st.server), 2);
        r = tc_reply(&other, 0);
        ck_assert_int_eq(reply_int(r, "x"), 1);
        json_decref(r);
        tc_wait_eof(&e, &staller);
        ck_assert_uint_ge(now_ms() - start, 290);
        ck_assert_uint_eq(staller.n_replies, 0);
        tc_close(&staller);
        tc_close(&other);
        env_done(&e);
}
END_TEST

START_TEST(test_reader_that_never_reads)
{
        static const char req[] =
                "{\"method\":\"org.example.Big\",\"parameters\":{\"size\":262144}}";
        env e;
        tclient hog, other;

        env_init(&e);
        e.opts.max_reply_queue_bytes = 64 * 1024;
        env_start(&e);
        tc_connect(&e, &hog, false);
        tc_connect(&e, &other, true);
        for (int i = 0; i < 8; i++)
                tc_msg(&hog, req);
        tc_wait_eof(&e, &hog);
        tc_msg(&other, "{\"method\":\"org.example.Echo\",\"parameters\":{\"x\":2}}");
        tc_wait(&e, &other, 1);
        ck_assert_uint_eq(sm_varlink_server_n_clients(st.server), 1);
        /* The one who reads gets a big reply whole, even over the queue limit. */
        tc_msg(&other, req);
        tc_wait(&e, &other, 2);
        {
                json_t *r = tc_reply(&other, 1);

                ck_assert_uint_eq(strlen(reply_str(r, "data")), 262144);
                json_decref(r);
        }
        tc_close(&hog);
        tc_close(&other);
        env_done(&e);
}
END_TEST

START_TEST(test_max_clients)
{
        env e;
        tclient c[4];

        env_init(&e);
        e.opts.max_clients = 2;
        env_start(&e);
        for (int i = 0; i < 3; i++)
                tc_connect(&e, &c[i], true);
        tc_wait_eof(&e, &c[2]);
        for (int i = 0; i < 2; i++) {
                tc_msg(&c[i], "{\"method\":\"org.example.Echo\"}");
                tc_wait(&e, &c[i], 1);
                ck_assert(!c[i].eof);
        }
        ck_assert_uint_eq(sm_varlink_server_n_clients(st.server), 2);
        /* A client that says it is done (shutdown of its writing side) still
         * gets its answer, then the server closes and the place is free. */
        tc_msg(&c[0], "{\"method\":\"org.example.Later\",\"parameters\":{\"ms\":20}}");
        ck_assert_int_eq(shutdown(c[0].fd, SHUT_WR), 0);
        tc_wait(&e, &c[0], 2);
        tc_wait_eof(&e, &c[0]);
        ck_assert_uint_eq(sm_varlink_server_n_clients(st.server), 1);
        tc_connect(&e, &c[3], true);
        tc_msg(&c[3], "{\"method\":\"org.example.Echo\"}");
        tc_wait(&e, &c[3], 1);
        ck_assert(!c[3].eof);
        for (int i = 0; i < 4; i++)
                tc_close(&c[i]);
        env_done(&e);
}
END_TEST

static int bind_unix(const char *path, bool do_listen)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        strcpy(sa.sun_path, path);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        if (do_listen)
                ck_assert_int_eq(listen(fd, 16), 0);
        return fd;
}

START_TEST(test_socket_file)
{
        env e;
        struct stat sb;
        tclient c;
        int fd;

        env_init(&e);
        /* A stale socket (its server gone) is replaced. */
        close(bind_unix(e.path, false));
        e.opts.group = geteuid() == 0 ? NOGROUP_GID : (gid_t)-1;
        env_start(&e);
        ck_assert_int_eq(lstat(e.path, &sb), 0);
        ck_assert(S_ISSOCK(sb.st_mode));
        ck_assert_uint_eq(sb.st_mode & 07777, 0660);
        if (geteuid() == 0)
                ck_assert_uint_eq(sb.st_gid, NOGROUP_GID);
        tc_connect(&e, &c, true);
        tc_msg(&c, "{\"method\":\"org.example.Echo\"}");
        tc_wait(&e, &c, 1);
        tc_close(&c);
        st.server = sm_varlink_server_free(st.server);
        ck_assert_int_eq(sm_test_run_drain(&e.loop, WAIT_MS), 0);
        /* Our socket file goes with the server. */
        ck_assert_int_eq(lstat(e.path, &sb), -1);
        ck_assert_int_eq(errno, ENOENT);

        /* Anything but a socket is left alone. */
        fd = open(e.path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        close(fd);
        ck_assert_int_eq(sm_varlink_server_new(&e.loop, interfaces, ELEMENTSOF(interfaces), &e.opts,
                                               &st.server),
                         -EEXIST);
        ck_assert_ptr_null(st.server);
        ck_assert_int_eq(lstat(e.path, &sb), 0);
        ck_assert(S_ISREG(sb.st_mode));
        env_done(&e);
}
END_TEST

START_TEST(test_activation)
{
        env e;
        struct stat sb;
        tclient c;
        json_t *r;
        int fd;

        env_init(&e);
        fd = bind_unix(e.path, true);
        e.opts.listen_fd = fd;
        e.opts.path = NULL;
        env_start(&e);
        /* The server owns the socket now. */
        ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
        ck_assert_int_eq(errno, EBADF);
        tc_connect(&e, &c, true);
        tc_msg(&c, "{\"method\":\"org.example.Echo\",\"parameters\":{\"via\":\"fd\"}}");
        tc_wait(&e, &c, 1);
        r = tc_reply(&c, 0);
        ck_assert_str_eq(reply_str(r, "via"), "fd");
        json_decref(r);
        tc_close(&c);
        st.server = sm_varlink_server_free(st.server);
        ck_assert_int_eq(sm_test_run_drain(&e.loop, WAIT_MS), 0);
        /* The socket file is the service manager's: never unlinked. */
        ck_assert_int_eq(lstat(e.path, &sb), 0);
        ck_assert(S_ISSOCK(sb.st_mode));

        /* Not a socket: refused, and the caller's fd is untouched. */
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        e.opts.listen_fd = fd;
        ck_assert_int_eq(sm_varlink_server_new(&e.loop, interfaces, ELEMENTSOF(interfaces), &e.opts,
                                               &st.server),
                         -ENOTSOCK);
        ck_assert_int_ge(fcntl(fd, F_GETFD), 0);
        close(fd);
        env_done(&e);
}
END_TEST

START_TEST(test_sync_client_errors)
{
        env e;
        tcall t;
        json_t *reply = NULL;
        char *error = NULL;
        char stale[256];
        uint64_t start;

        env_init(&e);
        ck_assert_int_eq(
                sm_varlink_call_sync(e.path, "org.example.Echo", NULL, 1000, &reply, &error),
                -ENOENT);
        snprintf(stale, sizeof(stale), "%s/stale.sock", e.dir);
        close(bind_unix(stale, false));
        ck_assert_int_eq(
                sm_varlink_call_sync(stale, "org.example.Echo", NULL, 1000, &reply, &error),
                -ECONNREFUSED);
        ck_assert_ptr_null(reply);
        ck_assert_ptr_null(error);

        /* A server that never answers: the client gives up in time. */
        env_start(&e);
        st.hold_target = MAX_HELD + 1;
        t = (tcall){.method = "org.example.Hold", .timeout_ms = 200};
        start = now_ms();
        sync_call(&e, &t);
        ck_assert_int_eq(t.r, -ETIMEDOUT);
        ck_assert_uint_ge(now_ms() - start, 190);
        ck_assert_uint_lt(now_ms() - start, 5000);
        ck_assert_ptr_null(t.reply);
        tcall_clear(&t);
        /* The caller is gone; answering its call is harmless. */
        ck_assert_uint_eq(st.n_held, 1);
        answer_held();
        env_done(&e);
}
END_TEST

START_TEST(test_free_with_call_out)
{
        env e;
        tclient c;

        env_init(&e);
        env_start(&e);
        st.hold_target = MAX_HELD + 1;
        tc_connect(&e, &c, true);
        tc_msg(&c, "{\"method\":\"org.example.Hold\"}");
        ck_assert_int_eq(sm_test_run_until(&e.loop, &st.held_any, WAIT_MS), 0);
        /* The server goes first; the held call may still be answered until
         * the loop has closed the server's handles. */
        st.server = sm_varlink_server_free(st.server);
        answer_held();
        tc_wait_eof(&e, &c);
        ck_assert_uint_eq(c.n_replies, 0);
        tc_close(&c);
        env_done(&e);
}
END_TEST

START_TEST(test_client_gone_during_call)
{
        char junk[2000];
        env e;
        tclient c, rude, other;

        env_init(&e);
        e.opts.max_request_bytes = 1024;
        env_start(&e);
        st.hold_target = MAX_HELD + 1;
        tc_connect(&e, &c, true);
        tc_msg(&c, "{\"method\":\"org.example.Hold\"}");
        /* Closed by the server (a request over the limit) while its call is
         * out: the call must stay valid for the handler. */
        tc_connect(&e, &rude, true);
        tc_msg(&rude, "{\"method\":\"org.example.Hold\"}");
        memset(junk, 'j', sizeof(junk));
        tc_send(&rude, junk, sizeof(junk));
        tc_wait_eof(&e, &rude);
        tc_connect(&e, &other, true);
        tc_msg(&other, "{\"method\":\"org.example.Echo\"}");
        tc_wait(&e, &other, 1);
        ck_assert_uint_eq(st.n_held, 2);
        ck_assert_uint_eq(sm_varlink_server_n_clients(st.server), 2);
        tc_close(&c);
        /* Let the server see the hang-up, then answer into the void. */
        tc_msg(&other, "{\"method\":\"org.example.Echo\"}");
        tc_wait(&e, &other, 2);
        answer_held();
        tc_msg(&other, "{\"method\":\"org.example.Echo\"}");
        tc_wait(&e, &other, 3);
        ck_assert_uint_eq(sm_varlink_server_n_clients(st.server), 1);
        ck_assert_uint_eq(rude.n_replies, 0);
        tc_close(&rude);
        tc_close(&other);
        env_done(&e);
}
END_TEST

static Suite *varlink_suite(void)
{
        Suite *s = suite_create("varlink");
        TCase *proto = tcase_create("protocol");
        TCase *auth = tcase_create("authorization");
        TCase *limits = tcase_create("limits");
        TCase *sock = tcase_create("socket");

        tcase_add_test(proto, test_round_trip);
        tcase_add_test(proto, test_service_interface);
        tcase_add_test(proto, test_oneway);
        tcase_add_test(proto, test_malformed);
        tcase_add_test(proto, test_split_and_pipelined);
        tcase_add_test(proto, test_free_with_call_out);
        tcase_add_test(proto, test_client_gone_during_call);
        suite_add_tcase(s, proto);
        tcase_add_test(auth, test_privileged);
        tcase_add_test(auth, test_peer_credentials);
        suite_add_tcase(s, auth);
        tcase_set_timeout(limits, 60);
        tcase_add_test(limits, test_oversized_request);
        tcase_add_test(limits, test_many_clients);
        tcase_add_test(limits, test_staller);
        tcase_add_test(limits, test_reader_that_never_reads);
        tcase_add_test(limits, test_max_clients);
        suite_add_tcase(s, limits);
        tcase_add_test(sock, test_socket_file);
        tcase_add_test(sock, test_activation);
        tcase_add_test(sock, test_sync_client_errors);
        suite_add_tcase(s, sock);
        return s;
}

SM_CHECK_MAIN(varlink_suite)
