/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "smstudio/client.h"
#include "smstudio/creds.h"
#include "smstudio/http.h"
#include "smstudio/settings.h"
#include "smstudio/strbuf.h"

/* How long an external process (python, openssl) may take to start or stop.
 * Generous: the CI machines are shared and sanitizer builds are slow. */
#define SPAWN_DEADLINE_MS 30000
#define STOP_DEADLINE_MS  10000
/* Between looks at an external process's progress (a port file, an exit). */
#define PROCESS_POLL_NS (10 * 1000 * 1000)

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

static int make_tmpdir(char **ret)
{
        const char *base = getenv("TMPDIR");
        char *path = NULL;

        if (!base || !*base)
                base = "/tmp";
        if (asprintf(&path, "%s/smstudio-fixture-XXXXXX", base) < 0)
                return -ENOMEM;
        if (!mkdtemp(path)) {
                int r = -errno;
                free(path);
                return r;
        }
        *ret = path;
        return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        (void)st;
        (void)type;
        (void)ftw;
        if (remove(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int sm_test_rm_rf(const char *path)
{
        int r;

        if (!path)
                return 0;
        r = nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        if (r < 0)
                return errno == ENOENT ? 0 : -errno;
        return r;
}

static unsigned long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}

static void nap(void)
{
        struct timespec ts = {.tv_sec = 0, .tv_nsec = PROCESS_POLL_NS};

        nanosleep(&ts, NULL);
}

/* --- running a loop until something happens --- */

typedef struct closer {
        union {
                uv_handle_t handle;
                uv_timer_t timer;
                uv_fs_event_t fs_event;
                uv_prepare_t prepare;
        } u;
        bool closed;
        bool fired;
        bool *flag; /* for the prepare watcher */
} closer;

static void on_closer_closed(uv_handle_t *handle)
{
        closer *c = handle->data;

        c->closed = true;
}

/* Close a handle living on the caller's stack and wait for its close
 * callback, so the stack frame can go. */
static void close_and_wait(uv_loop_t *loop, closer *c)
{
        c->u.handle.data = c;
        uv_close(&c->u.handle, on_closer_closed);
        while (!c->closed)
                uv_run(loop, UV_RUN_NOWAIT);
}

static void on_deadline(uv_timer_t *t)
{
        closer *c = t->data;

        c->fired = true;
}

/* libuv (1.44) runs due timers before it polls, and a UV_RUN_ONCE whose
 * timer callback set the flag would then block in the poll until the next
 * timer, the deadline. Stopping the loop from a prepare watcher when the flag
 * is set makes that poll return at once. */
static void on_prepare_check_flag(uv_prepare_t *p)
{
        closer *c = p->data;

        if (*c->flag)
                uv_stop(p->loop);
}

int sm_test_run_until(uv_loop_t *loop, bool *flag, unsigned timeout_ms)
{
        closer deadline = {0}, watcher = {.flag = flag};

        ck_assert_int_eq(uv_prepare_init(loop, &watcher.u.prepare), 0);
        watcher.u.prepare.data = &watcher;
        ck_assert_int_eq(uv_prepare_start(&watcher.u.prepare, on_prepare_check_flag), 0);
        uv_unref(&watcher.u.handle);
        ck_assert_int_eq(uv_timer_init(loop, &deadline.u.timer), 0);
        deadline.u.timer.data = &deadline;
        ck_assert_int_eq(uv_timer_start(&deadline.u.timer, on_deadline, timeout_ms, 0), 0);
        /* The deadline timer keeps the loop alive, so UV_RUN_ONCE never
         * returns early for lack of work and never blocks past the deadline. */
        while (!*flag && !deadline.fired)
                uv_run(loop, UV_RUN_ONCE);
        close_and_wait(loop, &deadline);
        close_and_wait(loop, &watcher);
        return *flag ? 0 : -ETIMEDOUT;
}

int sm_test_run_drain(uv_loop_t *loop, unsigned timeout_ms)
{
        closer deadline = {0};
        bool alive = true;

        ck_assert_int_eq(uv_timer_init(loop, &deadline.u.timer), 0);
        deadline.u.timer.data = &deadline;
        ck_assert_int_eq(uv_timer_start(&deadline.u.timer, on_deadline, timeout_ms, 0), 0);
        /* Unreferenced, the deadline does not count as work, yet it still
         * bounds how long the loop blocks in its poll phase. */
        uv_unref(&deadline.u.handle);
        while (alive && !deadline.fired)
                alive = uv_run(loop, UV_RUN_ONCE) != 0;
        close_and_wait(loop, &deadline);
        return alive ? -ETIMEDOUT : 0;
}

/* --- the loopback server --- */

static int write_file(const char *path, const char *text)
{
        size_t len = strlen(text);
        FILE *f = fopen(path, "we");
        int r = 0;

        if (!f)
                return -errno;
        if (fwrite(text, 1, len, f) != len)
                r = -EIO;
        if (fclose(f) != 0 && r == 0)
                r = -errno;
        return r;
}

/* Read a whole file; NULL with errno set on failure. */
static char *read_file(const char *path, size_t *ret_len)
{
        FILE *f = fopen(path, "re");
        char *data = NULL;
        size_t len = 0, cap = 0;

        if (!f)
                return NULL;
        for (;;) {
                size_t n;

                if (cap - len < 4096) {
                        char *p = realloc(data, cap + 65536);

                        if (!p) {
                                free(data);
                                fclose(f);
                                errno = ENOMEM;
                                return NULL;
                        }
                        data = p;
                        cap += 65536;
                }
                n = fread(data + len, 1, cap - len - 1, f);
                len += n;
                if (n == 0)
                        break;
        }
        fclose(f);
        data[len] = '\0';
        if (ret_len)
                *ret_len = len;
        return data;
}

/* fork + exec with stdin from /dev/null and, when out_path is set, stdout and
 * stderr to that file. The child gets SIGTERM when the forking thread dies,
 * so a test killed by Check's timeout leaves no server behind (an orphan
 * holding the test's stdout would also keep meson waiting). */
static int spawn(char *const argv[], bool search_path, const char *out_path, pid_t *ret)
{
        pid_t parent = getpid();
        pid_t pid;

        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int fd;

                if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                        _exit(127);
                fd = open("/dev/null", O_RDONLY);
                if (fd >= 0 && fd != STDIN_FILENO) {
                        dup2(fd, STDIN_FILENO);
                        close(fd);
                }
                if (out_path) {
                        fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
                        if (fd >= 0) {
                                dup2(fd, STDOUT_FILENO);
                                dup2(fd, STDERR_FILENO);
                                if (fd > STDERR_FILENO)
                                        close(fd);
                        }
                }
                if (search_path)
                        execvp(argv[0], argv);
                else
                        execv(argv[0], argv);
                _exit(127);
        }
        *ret = pid;
        return 0;
}

/* Wait for pid with a deadline: 0 and the exit status, or -ETIMEDOUT. */
static int wait_exit(pid_t pid, unsigned timeout_ms, int *ret_status)
{
        unsigned long long deadline = now_ms() + timeout_ms;

        for (;;) {
                int status;
                pid_t r = waitpid(pid, &status, WNOHANG);

                if (r == pid) {
                        *ret_status = status;
                        return 0;
                }
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (now_ms() >= deadline)
                        return -ETIMEDOUT;
                nap();
        }
}

static int read_port(const char *path, unsigned *ret)
{
        char *text = read_file(path, NULL);
        char *end;
        unsigned long port;

        if (!text)
                return -errno;
        errno = 0;
        port = strtoul(text, &end, 10);
        if (errno != 0 || end == text || port == 0 || port > 65535) {
                free(text);
                return -EINVAL;
        }
        free(text);
        *ret = (unsigned)port;
        return 0;
}

static void fixture_reset(sm_fixture *f)
{
        free(f->dir);
        free(f->log_path);
        memset(f, 0, sizeof(*f));
}

void sm_fixture_stop(sm_fixture *f)
{
        int status;

        if (!f)
                return;
        if (f->pid > 0) {
                kill(f->pid, SIGTERM);
                if (wait_exit(f->pid, STOP_DEADLINE_MS, &status) < 0) {
                        kill(f->pid, SIGKILL);
                        while (waitpid(f->pid, &status, 0) < 0 && errno == EINTR)
                                ;
                }
        }
        if (f->dir)
                sm_test_rm_rf(f->dir);
        fixture_reset(f);
}

int sm_fixture_start(const char *script_json, const char *tls_cert, const char *tls_key,
                     sm_fixture *ret)
{
        sm_fixture f = {0};
        char *script_path = NULL, *port_path = NULL, *helper = NULL;
        const char *python = getenv("SM_PYTHON");
        const char *root = getenv("SM_SOURCE_ROOT");
        unsigned long long deadline;
        int r;

        if (!script_json || !ret || (!tls_cert != !tls_key))
                return -EINVAL;
        if (!root || !*root)
                return -ENOENT;
        if (!python || !*python)
                python = "python3";

        /* Loopback only: a proxy from the environment would break every test. */
        setenv("no_proxy", "127.0.0.1,localhost", 1);
        setenv("NO_PROXY", "127.0.0.1,localhost", 1);

        r = make_tmpdir(&f.dir);
        if (r < 0)
                return r;
        if (asprintf(&script_path, "%s/script.json", f.dir) < 0 ||
            asprintf(&port_path, "%s/port", f.dir) < 0 ||
            asprintf(&f.log_path, "%s/requests.jsonl", f.dir) < 0 ||
            asprintf(&helper, "%s/tests/helpers/httpfixture.py", root) < 0) {
                r = -ENOMEM;
                goto fail;
        }
        r = write_file(script_path, script_json);
        if (r < 0)
                goto fail;
        /* Created here so sm_fixture_requests() and watchers find it at once. */
        r = write_file(f.log_path, "");
        if (r < 0)
                goto fail;

        {
                char *argv[] = {
                        (char *)python,
                        helper,
                        "--port-file",
                        port_path,
                        "--script",
                        script_path,
                        "--log",
                        f.log_path,
                        "--remove-on-exit",
                        f.dir,
                        /* Last: without TLS the list ends here. */
                        tls_cert ? "--tls-cert" : NULL,
                        (char *)tls_cert,
                        "--tls-key",
                        (char *)tls_key,
                        NULL,
                };

                r = spawn(argv, strchr(python, '/') == NULL, NULL, &f.pid);
                if (r < 0)
                        goto fail;
        }

        /* An external process start: look for the port file until a deadline. */
        deadline = now_ms() + SPAWN_DEADLINE_MS;
        for (;;) {
                int status;
                pid_t w = waitpid(f.pid, &status, WNOHANG);

                if (w == f.pid) {
                        f.pid = 0;
                        r = -ECHILD; /* the server died: bad script or certificate */
                        goto fail;
                }
                if (read_port(port_path, &f.port) == 0)
                        break;
                if (now_ms() >= deadline) {
                        r = -ETIMEDOUT;
                        goto fail;
                }
                nap();
        }

        f.tls = tls_cert != NULL;
        snprintf(f.url, sizeof(f.url), "%s://127.0.0.1:%u", f.tls ? "https" : "http", f.port);
        free(script_path);
        free(port_path);
        free(helper);
        *ret = f;
        return 0;

fail:
        free(script_path);
        free(port_path);
        free(helper);
        sm_fixture_stop(&f);
        return r;
}

int sm_test_start_awsemu(char *const extra_args[], sm_fixture *ret)
{
        sm_fixture f = {0};
        char *port_path = NULL, *emu = NULL;
        char *argv[32];
        const char *python = getenv("SM_PYTHON");
        const char *root = getenv("SM_SOURCE_ROOT");
        unsigned long long deadline;
        size_t n = 0;
        int r;

        if (!ret)
                return -EINVAL;
        if (!root || !*root)
                return -ENOENT;
        if (!python || !*python)
                python = "python3";
        setenv("no_proxy", "127.0.0.1,localhost", 1);
        setenv("NO_PROXY", "127.0.0.1,localhost", 1);

        r = make_tmpdir(&f.dir);
        if (r < 0)
                return r;
        if (asprintf(&port_path, "%s/port", f.dir) < 0 ||
            asprintf(&f.log_path, "%s/awsemu.log", f.dir) < 0 ||
            asprintf(&emu, "%s/tests/emulator/awsemu", root) < 0) {
                r = -ENOMEM;
                goto fail;
        }
        argv[n++] = (char *)python;
        argv[n++] = emu;
        argv[n++] = "--listen";
        argv[n++] = "127.0.0.1:0";
        argv[n++] = "--port-file";
        argv[n++] = port_path;
        for (size_t i = 0; extra_args && extra_args[i]; i++) {
                if (n + 1 >= sizeof(argv) / sizeof(argv[0])) {
                        r = -E2BIG;
                        goto fail;
                }
                argv[n++] = extra_args[i];
        }
        argv[n] = NULL;
        r = spawn(argv, strchr(python, '/') == NULL, f.log_path, &f.pid);
        if (r < 0)
                goto fail;

        deadline = now_ms() + SPAWN_DEADLINE_MS;
        for (;;) {
                int status;
                pid_t w = waitpid(f.pid, &status, WNOHANG);

                if (w == f.pid) {
                        f.pid = 0;
                        r = -ECHILD;
                        goto fail;
                }
                if (read_port(port_path, &f.port) == 0)
                        break;
                if (now_ms() >= deadline) {
                        r = -ETIMEDOUT;
                        goto fail;
                }
                nap();
        }
        snprintf(f.url, sizeof(f.url), "http://127.0.0.1:%u", f.port);
        free(port_path);
        free(emu);
        *ret = f;
        return 0;

fail:
        free(port_path);
        free(emu);
        sm_fixture_stop(&f);
        return r;
}

const char *sm_fixture_url(const sm_fixture *f)
{
        return f->url;
}

json_t *sm_fixture_requests(const sm_fixture *f)
{
        json_t *list = json_array();
        char *text, *line, *nl;

        if (!list)
                return NULL;
        text = read_file(f->log_path, NULL);
        if (!text) {
                json_decref(list);
                return NULL;
        }
        /* A line without its newline is still being written: not yet a request. */
        for (line = text; (nl = strchr(line, '\n')); line = nl + 1) {
                json_error_t err;
                json_t *entry;

                *nl = '\0';
                if (!*line)
                        continue;
                entry = json_loads(line, JSON_ALLOW_NUL, &err);
                if (!entry || json_array_append_new(list, entry) < 0) {
                        json_decref(list);
                        list = NULL;
                        break;
                }
        }
        free(text);
        return list;
}

size_t sm_fixture_count(const sm_fixture *f)
{
        char *text = read_file(f->log_path, NULL);
        size_t n = 0;

        if (!text)
                return 0;
        for (const char *p = text; (p = strchr(p, '\n')); p++)
                n++;
        free(text);
        return n;
}

typedef struct log_watch {
        closer c; /* first: the handle's data points at the closer */
        const sm_fixture *fixture;
        size_t want;
        bool reached;
} log_watch;

static void on_log_changed(uv_fs_event_t *handle, const char *filename, int events, int status)
{
        log_watch *w = handle->data;

        (void)filename;
        (void)events;
        (void)status;
        if (sm_fixture_count(w->fixture) >= w->want)
                w->reached = true;
}

int sm_fixture_wait_requests(const sm_fixture *f, uv_loop_t *loop, size_t n, unsigned timeout_ms)
{
        log_watch w = {.fixture = f, .want = n};
        int r;

        ck_assert_int_eq(uv_fs_event_init(loop, &w.c.u.fs_event), 0);
        w.c.u.fs_event.data = &w;
        ck_assert_int_eq(uv_fs_event_start(&w.c.u.fs_event, on_log_changed, f->log_path, 0), 0);
        /* Counted after the watch starts: a line written in between is seen
         * either here or as an event. */
        w.reached = sm_fixture_count(f) >= n;
        r = sm_test_run_until(loop, &w.reached, timeout_ms);
        close_and_wait(loop, &w.c);
        return r;
}

/* --- throwaway TLS material --- */

static const char ca_conf[] = "[req]\n"
                              "distinguished_name = dn\n"
                              "prompt = no\n"
                              "x509_extensions = v3_ca\n"
                              "[dn]\n"
                              "CN = smstudio test CA\n"
                              "[v3_ca]\n"
                              "basicConstraints = critical,CA:TRUE\n"
                              "keyUsage = critical,keyCertSign,cRLSign\n"
                              "subjectKeyIdentifier = hash\n";

static const char server_conf[] = "[req]\n"
                                  "distinguished_name = dn\n"
                                  "prompt = no\n"
                                  "[dn]\n"
                                  "CN = 127.0.0.1\n"
                                  "[v3_server]\n"
                                  "basicConstraints = critical,CA:FALSE\n"
                                  "keyUsage = critical,digitalSignature,keyEncipherment\n"
                                  "extendedKeyUsage = serverAuth\n"
                                  "subjectAltName = IP:127.0.0.1,DNS:localhost\n"
                                  "subjectKeyIdentifier = hash\n"
                                  "authorityKeyIdentifier = keyid\n";

static int run_openssl(char *const argv[], const char *log_path)
{
        pid_t pid = 0; /* set by spawn(); initialised for GCC -O3's -Wmaybe-uninitialized */
        int status, r;

        r = spawn(argv, true, log_path, &pid);
        if (r < 0)
                return r;
        r = wait_exit(pid, SPAWN_DEADLINE_MS, &status);
        if (r < 0) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                return r;
        }
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

int sm_fixture_make_tls(const char *dir, char **ret_ca, char **ret_cert, char **ret_key)
{
        char *ca_cnf = NULL, *srv_cnf = NULL, *ca_key = NULL, *ca = NULL, *csr = NULL;
        char *cert = NULL, *key = NULL, *log = NULL;
        int r;

        if (!dir || !ret_ca || !ret_cert || !ret_key)
                return -EINVAL;
        if (asprintf(&ca_cnf, "%s/ca.cnf", dir) < 0 ||
            asprintf(&srv_cnf, "%s/server.cnf", dir) < 0 ||
            asprintf(&ca_key, "%s/ca.key", dir) < 0 || asprintf(&ca, "%s/ca.pem", dir) < 0 ||
            asprintf(&csr, "%s/server.csr", dir) < 0 || asprintf(&cert, "%s/server.pem", dir) < 0 ||
            asprintf(&key, "%s/server.key", dir) < 0 || asprintf(&log, "%s/openssl.log", dir) < 0) {
                r = -ENOMEM;
                goto out;
        }
        r = write_file(ca_cnf, ca_conf);
        if (r < 0)
                goto out;
        r = write_file(srv_cnf, server_conf);
        if (r < 0)
                goto out;

        {
                /* P-256 keys: quick to make, and any TLS stack accepts them. */
                char *make_ca[] = {"openssl", "req",      "-x509",
                                   "-config", ca_cnf,     "-newkey",
                                   "ec",      "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                   "-nodes",  "-keyout",  ca_key,
                                   "-out",    ca,         "-days",
                                   "2",       NULL};
                char *make_csr[] = {"openssl", "req",      "-new",
                                    "-config", srv_cnf,    "-newkey",
                                    "ec",      "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                    "-nodes",  "-keyout",  key,
                                    "-out",    csr,        NULL};
                char *sign[] = {"openssl",     "x509",      "-req",   "-in",      csr,
                                "-CA",         ca,          "-CAkey", ca_key,     "-set_serial",
                                "2",           "-days",     "2",      "-extfile", srv_cnf,
                                "-extensions", "v3_server", "-out",   cert,       NULL};

                r = run_openssl(make_ca, log);
                if (r < 0)
                        goto out;
                r = run_openssl(make_csr, log);
                if (r < 0)
                        goto out;
                r = run_openssl(sign, log);
                if (r < 0)
                        goto out;
        }

        *ret_ca = ca;
        *ret_cert = cert;
        *ret_key = key;
        ca = cert = key = NULL;
out:
        free(ca_cnf);
        free(srv_cnf);
        free(ca_key);
        free(ca);
        free(csr);
        free(cert);
        free(key);
        free(log);
        return r;
}

static size_t on_admin_body(char *data, size_t size, size_t n, void *userdata)
{
        return sm_buf_append(userdata, data, size * n) == 0 ? size * n : 0;
}

json_t *sm_fixture_admin(const sm_fixture *f, const char *method, const char *path,
                         const char *body, long want)
{
        CURL *curl = curl_easy_init();
        sm_buf out = {0};
        char *url = sm_strf("%s%s", sm_fixture_url(f), path);
        long status = 0;
        json_t *v;

        ck_assert_ptr_nonnull(curl);
        ck_assert_ptr_nonnull(url);
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_admin_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out);
        if (body)
                curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        ck_assert_int_eq(curl_easy_perform(curl), CURLE_OK);
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(curl);
        if (status != want)
                ck_abort_msg("%s %s: status %ld, want %ld: %s", method, path, status, want,
                             out.data ? out.data : "");
        v = json_loads(out.data ? out.data : "{}", 0, NULL);
        ck_assert_ptr_nonnull(v);
        sm_buf_done(&out);
        free(url);
        return v;
}

void sm_test_aws_start(uv_loop_t *loop, const char *url, unsigned max_attempts, sm_test_aws *a)
{
        sm_aws_overrides ov;
        sm_credentials *c;
        char *error = NULL;

        *a = (sm_test_aws){0};
        unsetenv("AWS_ENDPOINT_URL");
        unsetenv("AWS_MAX_ATTEMPTS");
        unsetenv("AWS_PROFILE");
        setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
        setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
        sm_aws_overrides_init(&ov);
        ov.region = "us-east-1";
        ov.max_attempts = max_attempts;
        for (int i = 0; i < _SM_SERVICE_MAX; i++)
                ov.endpoint_url[i] = url;
        ck_assert_int_eq(sm_aws_settings_resolve(&ov, &a->settings, &error), 0);
        ck_assert_int_eq(sm_http_new(loop, NULL, &a->http), 0);
        c = sm_credentials_new(SM_TEST_AWSEMU_KEY_ID, SM_TEST_AWSEMU_SECRET, NULL, 0, "static");
        ck_assert_ptr_nonnull(c);
        ck_assert_int_eq(sm_creds_provider_new_static(loop, c, &a->creds), 0);
        sm_credentials_unref(c);
        ck_assert_int_eq(sm_aws_client_new(loop, a->http, a->settings, a->creds, &a->client), 0);
}

void sm_test_aws_stop(uv_loop_t *loop, sm_test_aws *a, unsigned drain_ms)
{
        sm_aws_client_free(a->client);
        sm_creds_provider_free(a->creds);
        sm_http_free(a->http);
        ck_assert_int_eq(sm_test_run_drain(loop, drain_ms), 0);
        sm_aws_settings_free(a->settings);
        *a = (sm_test_aws){0};
}
