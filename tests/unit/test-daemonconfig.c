/* SPDX-License-Identifier: Apache-2.0 */
/* smstudiod.yaml: the defaults, the shipped file, every key, every refusal
 * with its exact "path:line:column: message", and the AWS overrides. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fixture.h"
#include "smstudio/daemonconfig.h"
#include "smstudio/macro.h"
#include "smstudio/strbuf.h"
#include "smstudio/yamlnode.h"
#include "testmain.h"

/* What the defaults dump as; smstudiod.yaml(5) documents the same. */
static const char default_json[] =
        "{\"region\": null, \"profile\": null, \"manifest_dir\": \"/etc/smstudio.d\","
        " \"socket\": {\"path\": \"/run/smstudio/smstudiod.sock\", \"group\": \"smstudio\"},"
        " \"admin_group\": null, \"state_dir\": \"/var/lib/smstudio\", \"interval\": 300,"
        " \"splay\": 30, \"instance\": \"smstudio\","
        " \"endpoints\": {\"sagemaker\": null, \"iam\": null, \"sts\": null,"
        " \"servicecatalog\": null},"
        " \"ca_bundle\": null, \"concurrency\": 8,"
        " \"retry\": {\"mode\": null, \"max_attempts\": null}, \"dry_run\": false,"
        " \"deletion_guard\": {\"max_count\": 5, \"max_share\": \"10%\"},"
        " \"describe_sweep_every\": 12, \"log_level\": \"info\","
        " \"lifecycle_script\": \"/usr/share/smstudio/lifecycle/idle-shutdown.sh\"}";

static char *read_all(const char *path)
{
        FILE *f = fopen(path, "r");
        sm_buf b = {0};
        char chunk[4096];
        size_t n;

        ck_assert_msg(f != NULL, "cannot open %s", path);
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                ck_assert_int_eq(sm_buf_append(&b, chunk, n), 0);
        fclose(f);
        return sm_buf_steal(&b);
}

static char *shipped_path(void)
{
        const char *root = getenv("SM_SOURCE_ROOT");
        char *p = NULL;

        ck_assert_ptr_nonnull(root);
        ck_assert_int_gt(asprintf(&p, "%s/config/smstudiod.yaml", root), 0);
        return p;
}

static void assert_json_eq(json_t *got, const char *want_text)
{
        json_t *want = json_loads(want_text, 0, NULL);
        char *g = json_dumps(got, JSON_SORT_KEYS);
        char *w = json_dumps(want, JSON_SORT_KEYS);

        ck_assert_ptr_nonnull(want);
        ck_assert_msg(json_equal(got, want), "got %s\nwant %s", g, w);
        free(g);
        free(w);
        json_decref(want);
}

static void assert_config_json(const sm_daemon_config *c, const char *want_text)
{
        json_t *j = sm_daemon_config_to_json(c);

        ck_assert_ptr_nonnull(j);
        assert_json_eq(j, want_text);
        json_decref(j);
}

static sm_daemon_config *parse_ok(const char *yaml)
{
        sm_daemon_config *c = NULL;
        sm_diags d = {0};
        sm_buf out = {0};
        int r;

        r = sm_daemon_config_parse("t.yaml", yaml, strlen(yaml), &c, &d);
        ck_assert_int_eq(sm_diags_format(&d, &out), 0);
        ck_assert_msg(r == 0, "parse failed (%d):\n%s", r, out.data ? out.data : "");
        ck_assert_uint_eq(d.n, 0);
        sm_buf_done(&out);
        sm_diags_done(&d);
        ck_assert_ptr_nonnull(c);
        return c;
}

/* Refused with exactly these diagnostics (sorted by place, one per line). */
static void parse_fails(const char *yaml, const char *want)
{
        sm_daemon_config *c = NULL;
        sm_diags d = {0};
        sm_buf out = {0};
        int r;

        r = sm_daemon_config_parse("t.yaml", yaml, strlen(yaml), &c, &d);
        ck_assert_msg(r == -EINVAL, "accepted (%d):\n%s", r, yaml);
        ck_assert_ptr_null(c);
        sm_diags_sort(&d);
        ck_assert_int_eq(sm_diags_format(&d, &out), 0);
        ck_assert_msg(out.data && streq(out.data, want), "for:\n%s\ngot:\n%s\nwant:\n%s", yaml,
                      out.data ? out.data : "", want);
        sm_buf_done(&out);
        sm_diags_done(&d);
}

START_TEST(test_defaults)
{
        sm_daemon_config *c = NULL;

        ck_assert_int_eq(sm_daemon_config_default(&c), 0);
        ck_assert_ptr_null(c->path);
        ck_assert_ptr_null(c->region);
        ck_assert_ptr_null(c->profile);
        ck_assert_str_eq(c->manifest_dir, "/etc/smstudio.d");
        ck_assert_str_eq(c->socket_path, "/run/smstudio/smstudiod.sock");
        ck_assert_str_eq(c->socket_group, "smstudio");
        ck_assert_ptr_null(c->admin_group);
        ck_assert_str_eq(c->state_dir, "/var/lib/smstudio");
        ck_assert_uint_eq(c->interval_sec, 300);
        ck_assert_uint_eq(c->splay_sec, 30);
        ck_assert_str_eq(c->instance, "smstudio");
        for (size_t i = 0; i < _SM_SERVICE_MAX; i++)
                ck_assert_ptr_null(c->endpoint_url[i]);
        ck_assert_ptr_null(c->ca_bundle);
        ck_assert_uint_eq(c->concurrency, 8);
        ck_assert(!c->retry_mode_set);
        ck_assert_uint_eq(c->max_attempts, 0);
        ck_assert(!c->dry_run);
        ck_assert_uint_eq(c->guard_max_count, 5);
        ck_assert_uint_eq(c->guard_max_share_bp, 1000);
        ck_assert_uint_eq(c->describe_sweep_every, 12);
        ck_assert_int_eq(c->log_level, LOG_INFO);
        assert_config_json(c, default_json);
        sm_daemon_config_free(c);
        ck_assert_ptr_null(sm_daemon_config_free(NULL));
}
END_TEST

START_TEST(test_shipped_file_is_the_defaults)
{
        _cleanup_free_ char *path = shipped_path();
        sm_daemon_config *c = NULL;
        sm_diags d = {0};

        ck_assert_int_eq(sm_daemon_config_load(path, true, &c, &d), 0);
        ck_assert_uint_eq(d.n, 0);
        ck_assert_str_eq(c->path, path);
        assert_config_json(c, default_json);
        sm_daemon_config_free(c);
}
END_TEST

/* Turn "#key: value" and "#  key: value" lines on; prose comments ("# Text")
 * stay comments. */
static char *uncomment(const char *text)
{
        sm_buf b = {0};

        for (const char *line = text; *line;) {
                const char *end = strchr(line, '\n');
                size_t len = end ? (size_t)(end - line + 1) : strlen(line);
                const char *k = line + 1;

                while (*k == ' ')
                        k++;
                if (line[0] == '#' && k < line + len && *k >= 'a' && *k <= 'z' &&
                    k[strspn(k, "abcdefghijklmnopqrstuvwxyz_")] == ':')
                        line++, len--;
                ck_assert_int_eq(sm_buf_append(&b, line, len), 0);
                line += len;
        }
        return sm_buf_steal(&b);
}

/* Every key the dump has, the shipped file lists (commented out) in the same
 * nesting; with the comment marks removed the file still yields exactly the
 * defaults, so each commented value is the true default. */
static void assert_same_keys(const sm_yaml_node *map, json_t *obj, const char *where)
{
        const char *key;
        json_t *v;

        ck_assert_msg(map && map->kind == SM_YAML_MAPPING, "%s is not a mapping", where);
        ck_assert_msg(map->n_pairs == json_object_size(obj), "%s: %zu keys in the file, %zu known",
                      where, map->n_pairs, json_object_size(obj));
        json_object_foreach(obj, key, v)
        {
                const sm_yaml_node *n = sm_yaml_get(map, key);

                ck_assert_msg(n != NULL, "the shipped file lacks %s.%s", where, key);
                if (json_is_object(v))
                        assert_same_keys(n, v, key);
        }
}

START_TEST(test_shipped_file_lists_every_key_with_its_default)
{
        _cleanup_free_ char *path = shipped_path();
        _cleanup_free_ char *text = read_all(path);
        _cleanup_free_ char *on = uncomment(text);
        sm_daemon_config *c = parse_ok(on);
        sm_yaml_stream *s = NULL;
        sm_diags d = {0};
        json_t *j;

        assert_config_json(c, default_json);
        ck_assert_int_eq(sm_yaml_parse("t.yaml", on, strlen(on), NULL, &s, &d), 0);
        ck_assert_uint_eq(s->n_docs, 1);
        j = sm_daemon_config_to_json(c);
        assert_same_keys(s->docs[0].root, j, "the top level");
        json_decref(j);
        sm_yaml_stream_free(s);
        sm_daemon_config_free(c);
}
END_TEST

/* The examples of smstudiod.yaml(5) load as they are printed. */
START_TEST(test_man_page_examples_load)
{
        const char *root = getenv("SM_SOURCE_ROOT");
        _cleanup_free_ char *path = NULL, *text = NULL;
        sm_buf ex = {0};
        bool in = false;
        size_t n_examples = 0;

        ck_assert_ptr_nonnull(root);
        ck_assert_int_gt(asprintf(&path, "%s/docs/smstudiod.yaml.5", root), 0);
        text = read_all(path);
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                if (streq(line, ".EX")) {
                        in = true;
                        sm_buf_clear(&ex);
                } else if (streq(line, ".EE")) {
                        in = false;
                        /* A shell session, not a config. */
                        if (ex.data && ex.data[0] != '$') {
                                sm_daemon_config *c = parse_ok(ex.data);

                                sm_daemon_config_free(c);
                                n_examples++;
                        }
                } else if (in) {
                        /* roff's \- is a plain '-' in the file. */
                        for (const char *c = line; *c; c++) {
                                if (c[0] == '\\' && c[1] == '-')
                                        c++;
                                ck_assert_int_eq(sm_buf_putc(&ex, *c), 0);
                        }
                        ck_assert_int_eq(sm_buf_putc(&ex, '\n'), 0);
                }
        }
        ck_assert_uint_eq(n_examples, 2);
        sm_buf_done(&ex);
}
END_TEST

static const char full_yaml[] =
        "region: eu-west-1\n"
        "profile: smstudio-prod\n"
        "manifest_dir: /srv/smstudio.d\n"
        "socket:\n"
        "  path: /run/sm/ctl.sock\n"
        "  group: mlops\n"
        "admin_group: mlops-admin\n"
        "state_dir: /srv/state\n"
        "interval: 1h30m\n"
        "splay: 90\n"
        "instance: prod-eu.1\n"
        "endpoints:\n"
        "  sagemaker: https://vpce-1.api.sagemaker.eu-west-1.vpce.amazonaws.com\n"
        "  iam: http://127.0.0.1:5000\n"
        "  sts: http://localhost:5001/sts\n"
        "  servicecatalog: https://sc.example.com\n"
        "ca_bundle: /etc/ssl/corp-ca.pem\n"
        "concurrency: 64\n"
        "retry:\n"
        "  mode: adaptive\n"
        "  max_attempts: 10\n"
        "dry_run: true\n"
        "deletion_guard:\n"
        "  max_count: 0\n"
        "  max_share: 0.025\n"
        "describe_sweep_every: 1\n"
        "lifecycle_script: /opt/smstudio/idle.sh\n"
        "log_level: debug\n";

START_TEST(test_every_key)
{
        sm_daemon_config *c = parse_ok(full_yaml);

        ck_assert_str_eq(c->path, "t.yaml");
        ck_assert_str_eq(c->region, "eu-west-1");
        ck_assert_str_eq(c->profile, "smstudio-prod");
        ck_assert_str_eq(c->manifest_dir, "/srv/smstudio.d");
        ck_assert_str_eq(c->socket_path, "/run/sm/ctl.sock");
        ck_assert_str_eq(c->socket_group, "mlops");
        ck_assert_str_eq(c->admin_group, "mlops-admin");
        ck_assert_str_eq(c->state_dir, "/srv/state");
        ck_assert_uint_eq(c->interval_sec, 5400);
        ck_assert_uint_eq(c->splay_sec, 90);
        ck_assert_str_eq(c->instance, "prod-eu.1");
        ck_assert_str_eq(c->endpoint_url[SM_SERVICE_SAGEMAKER],
                         "https://vpce-1.api.sagemaker.eu-west-1.vpce.amazonaws.com");
        ck_assert_str_eq(c->endpoint_url[SM_SERVICE_IAM], "http://127.0.0.1:5000");
        ck_assert_str_eq(c->endpoint_url[SM_SERVICE_STS], "http://localhost:5001/sts");
        ck_assert_str_eq(c->endpoint_url[SM_SERVICE_SERVICECATALOG], "https://sc.example.com");
        ck_assert_str_eq(c->ca_bundle, "/etc/ssl/corp-ca.pem");
        ck_assert_uint_eq(c->concurrency, 64);
        ck_assert(c->retry_mode_set);
        ck_assert_int_eq(c->retry_mode, SM_RETRY_ADAPTIVE);
        ck_assert_uint_eq(c->max_attempts, 10);
        ck_assert(c->dry_run);
        ck_assert_uint_eq(c->guard_max_count, 0);
        ck_assert_uint_eq(c->guard_max_share_bp, 250);
        ck_assert_uint_eq(c->describe_sweep_every, 1);
        ck_assert_int_eq(c->log_level, LOG_DEBUG);
        ck_assert_str_eq(c->lifecycle_script, "/opt/smstudio/idle.sh");
        assert_config_json(
                c, "{\"region\": \"eu-west-1\", \"profile\": \"smstudio-prod\","
                   " \"manifest_dir\": \"/srv/smstudio.d\","
                   " \"socket\": {\"path\": \"/run/sm/ctl.sock\", \"group\": \"mlops\"},"
                   " \"admin_group\": \"mlops-admin\", \"state_dir\": \"/srv/state\","
                   " \"interval\": 5400, \"splay\": 90, \"instance\": \"prod-eu.1\","
                   " \"endpoints\": {\"sagemaker\":"
                   " \"https://vpce-1.api.sagemaker.eu-west-1.vpce.amazonaws.com\","
                   " \"iam\": \"http://127.0.0.1:5000\", \"sts\": \"http://localhost:5001/sts\","
                   " \"servicecatalog\": \"https://sc.example.com\"},"
                   " \"ca_bundle\": \"/etc/ssl/corp-ca.pem\", \"concurrency\": 64,"
                   " \"retry\": {\"mode\": \"adaptive\", \"max_attempts\": 10}, \"dry_run\": true,"
                   " \"deletion_guard\": {\"max_count\": 0, \"max_share\": \"2.5%\"},"
                   " \"describe_sweep_every\": 1, \"log_level\": \"debug\","
                   " \"lifecycle_script\": \"/opt/smstudio/idle.sh\"}");
        sm_daemon_config_free(c);
}
END_TEST

START_TEST(test_null_and_empty_mean_default)
{
        static const char *const docs[] = {
                "",
                "# only a comment\n",
                "---\n",
                "~\n",
                "region:\nprofile: ~\nsocket:\nendpoints:\n  sts:\nretry: null\n",
        };

        for (size_t i = 0; i < ELEMENTSOF(docs); i++) {
                sm_daemon_config *c = parse_ok(docs[i]);

                assert_config_json(c, default_json);
                sm_daemon_config_free(c);
        }
}
END_TEST

START_TEST(test_other_accepted_forms)
{
        sm_daemon_config *c;

        c = parse_ok("interval: \"10\"\nsplay: 0\nretry:\n  mode: standard\n"
                     "deletion_guard:\n  max_share: 100%\nlog_level: error\n"
                     "region: \"us-gov-west-1\"\n");
        ck_assert_uint_eq(c->interval_sec, 10);
        ck_assert_uint_eq(c->splay_sec, 0);
        ck_assert(c->retry_mode_set);
        ck_assert_int_eq(c->retry_mode, SM_RETRY_STANDARD);
        ck_assert_uint_eq(c->guard_max_share_bp, 10000);
        ck_assert_int_eq(c->log_level, LOG_ERR);
        ck_assert_str_eq(c->region, "us-gov-west-1");
        sm_daemon_config_free(c);

        /* splay may equal the interval. */
        c = parse_ok("interval: 1d\nsplay: 24h\ndeletion_guard:\n  max_share: 0\n");
        ck_assert_uint_eq(c->interval_sec, 86400);
        ck_assert_uint_eq(c->splay_sec, 86400);
        ck_assert_uint_eq(c->guard_max_share_bp, 0);
        sm_daemon_config_free(c);
}
END_TEST

/* Each refusal: the input and every diagnostic it must produce. */
static const struct {
        const char *yaml;
        const char *want;
} refusals[] = {
        {"region: EU-WEST-1\n",
         "t.yaml:1:9: region: \"EU-WEST-1\" is not an AWS region name (like eu-west-1: "
         "lower-case letters, digits and '-')\n"},
        {"region: true\n", "t.yaml:1:9: region must be a string, not true\n"},
        {"region: [eu-west-1]\n", "t.yaml:1:9: region must be a string, not a list\n"},
        {"profile: \"my profile\"\n",
         "t.yaml:1:10: profile: \"my profile\" is not a profile name (no spaces, brackets or "
         "control characters)\n"},
        {"profile: \"\"\n", "t.yaml:1:10: profile must be 1 to 128 characters long\n"},
        {"manifest_dir: etc/smstudio.d\n",
         "t.yaml:1:15: manifest_dir must be an absolute path, not \"etc/smstudio.d\"\n"},
        {"state_dir: {a: b}\n", "t.yaml:1:12: state_dir must be a string, not a mapping\n"},
        {"ca_bundle: ca.pem\n",
         "t.yaml:1:12: ca_bundle must be an absolute path, not \"ca.pem\"\n"},
        {"lifecycle_script: idle.sh\n",
         "t.yaml:1:19: lifecycle_script must be an absolute path, not \"idle.sh\"\n"},
        {"socket: /run/x.sock\n", "t.yaml:1:9: socket must be a mapping, not a string\n"},
        {"socket:\n  path: run/x.sock\n",
         "t.yaml:2:9: socket.path must be an absolute path, not \"run/x.sock\"\n"},
        {"socket:\n  path: "
         "/run/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.sock\n",
         "t.yaml:2:9: socket.path is too long for a Unix socket (129 bytes, at most 107)\n"},
        {"socket:\n  group: \"ml ops\"\n",
         "t.yaml:2:10: socket.group: \"ml ops\" is not a group name (up to 32 letters, digits, "
         "'_', '-' or '.', starting with a letter or '_')\n"},
        {"socket:\n  gruop: mlops\n",
         "t.yaml:2:3: unknown key \"gruop\" in socket (did you mean \"group\"?)\n"},
        {"admin_group: 1wheel\n",
         "t.yaml:1:14: admin_group: \"1wheel\" is not a group name (up to 32 letters, digits, "
         "'_', '-' or '.', starting with a letter or '_')\n"},
        {"interval: 5x\n",
         "t.yaml:1:11: interval: \"5x\" is not a duration (like 90s, 5m, 1h30m or a number of "
         "seconds)\n"},
        {"interval: 30m1h\n",
         "t.yaml:1:11: interval: \"30m1h\" is not a duration (like 90s, 5m, 1h30m or a number "
         "of seconds)\n"},
        {"interval: 5s\n", "t.yaml:1:11: interval must be between 10s and 1d, not 5s\n"},
        {"interval: 2d\n", "t.yaml:1:11: interval must be between 10s and 1d, not 2d\n"},
        {"interval: 9\n", "t.yaml:1:11: interval must be between 10s and 1d, not 9\n"},
        {"interval: -60\n", "t.yaml:1:11: interval must not be negative\n"},
        {"interval: 1.5\n",
         "t.yaml:1:11: interval: \"1.5\" is not a duration (like 90s, 5m, 1h30m or a number of "
         "seconds)\n"},
        {"interval: [5m]\n",
         "t.yaml:1:11: interval must be a duration (like 90s, 5m or 1h30m), not a list\n"},
        {"splay: 10m\n", "t.yaml:1:8: splay (10m) must not be longer than interval (5m)\n"},
        {"interval: 1m\nsplay: 61\n",
         "t.yaml:2:8: splay (1m1s) must not be longer than interval (1m)\n"},
        {"instance: -prod\n",
         "t.yaml:1:11: instance: \"-prod\" is not an instance name (1 to 63 letters, digits, "
         "'-', '_' or '.', starting with a letter or digit)\n"},
        {"instance: \"a/b\"\n",
         "t.yaml:1:11: instance: \"a/b\" is not an instance name (1 to 63 letters, digits, "
         "'-', '_' or '.', starting with a letter or digit)\n"},
        {"instance: "
         "aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeeeeeeeeffffffffffgggg\n",
         "t.yaml:1:11: instance: "
         "\"aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeeeeeeeeffffffffffgggg\" is not an "
         "instance name (1 to 63 letters, digits, '-', '_' or '.', starting with a letter or "
         "digit)\n"},
        {"endpoints:\n  sts: ftp://sts.example.com\n",
         "t.yaml:2:8: endpoints.sts: endpoint URL \"ftp://sts.example.com\": scheme must be "
         "http or https\n"},
        {"endpoints:\n  iam: http://x.example.com/?a=b\n",
         "t.yaml:2:8: endpoints.iam: endpoint URL \"http://x.example.com/?a=b\": only "
         "scheme://host[:port][/path] is allowed (no spaces, query or fragment)\n"},
        {"endpoints:\n  sagemkaer: http://127.0.0.1:1\n",
         "t.yaml:2:3: unknown key \"sagemkaer\" in endpoints (did you mean \"sagemaker\"?)\n"},
        {"endpoints: http://127.0.0.1:1\n",
         "t.yaml:1:12: endpoints must be a mapping, not a string\n"},
        {"concurrency: 0\n", "t.yaml:1:14: concurrency must be between 1 and 64, not 0\n"},
        {"concurrency: 65\n", "t.yaml:1:14: concurrency must be between 1 and 64, not 65\n"},
        {"concurrency: many\n", "t.yaml:1:14: concurrency must be a whole number, not a string\n"},
        {"retry:\n  mode: legacy\n",
         "t.yaml:2:9: retry.mode must be standard or adaptive, not \"legacy\"\n"},
        {"retry:\n  max_attempts: 0\n",
         "t.yaml:2:17: retry.max_attempts must be between 1 and 10, not 0\n"},
        {"retry:\n  max_attempts: 11\n",
         "t.yaml:2:17: retry.max_attempts must be between 1 and 10, not 11\n"},
        {"retry:\n  attempts: 4\n", "t.yaml:2:3: unknown key \"attempts\" in retry\n"},
        {"dry_run: yes\n", "t.yaml:1:10: dry_run must be true or false, not a string\n"},
        {"dry_run: \"true\"\n", "t.yaml:1:10: dry_run must be true or false, not a string\n"},
        {"deletion_guard:\n  max_count: -1\n",
         "t.yaml:2:14: deletion_guard.max_count must be between 0 and 1000000, not -1\n"},
        {"deletion_guard:\n  max_share: 1\n",
         "t.yaml:2:14: deletion_guard.max_share: \"1\": a bare integer is ambiguous; write a "
         "percentage (\"10%\") or a fraction (0.1)\n"},
        {"deletion_guard:\n  max_share: 150%\n",
         "t.yaml:2:14: deletion_guard.max_share: \"150%\": a share must be between 0% and "
         "100%\n"},
        {"deletion_guard:\n  max_share: 1.5\n",
         "t.yaml:2:14: deletion_guard.max_share: \"1.5\": a share must be between 0% and "
         "100%\n"},
        {"deletion_guard:\n  max_share: 0.12345\n",
         "t.yaml:2:14: deletion_guard.max_share: \"0.12345\": at most 4 decimals of a "
         "fraction\n"},
        {"deletion_guard:\n  max_share: 12.345%\n",
         "t.yaml:2:14: deletion_guard.max_share: \"12.345%\": at most 2 decimals of a "
         "percent\n"},
        {"deletion_guard:\n  max_share: ten\n",
         "t.yaml:2:14: deletion_guard.max_share: \"ten\": expected a percentage (\"10%\") or a "
         "fraction (0.1)\n"},
        {"deletion_guard:\n  max_share: -5%\n",
         "t.yaml:2:14: deletion_guard.max_share: \"-5%\": expected a percentage (\"10%\") or a "
         "fraction (0.1)\n"},
        {"deletion_guard:\n  max_share: [10%]\n",
         "t.yaml:2:14: deletion_guard.max_share must be a percentage (\"10%\") or a fraction "
         "(0.1), not a list\n"},
        {"describe_sweep_every: 0\n",
         "t.yaml:1:23: describe_sweep_every must be between 1 and 10000, not 0\n"},
        {"log_level: verbose\n",
         "t.yaml:1:12: log_level must be one of debug, info, notice, warning, error, crit, "
         "alert or emerg, not \"verbose\"\n"},
        {"intervall: 5m\n",
         "t.yaml:1:1: unknown key \"intervall\" in the daemon config (did you mean "
         "\"interval\"?)\n"},
        {"socket_path: /run/x.sock\n",
         "t.yaml:1:1: unknown key \"socket_path\" in the daemon config\n"},
        {"- region: eu-west-1\n",
         "t.yaml:1:1: the daemon config must be a mapping of keys, not a list\n"},
        {"eu-west-1\n", "t.yaml:1:1: the daemon config must be a mapping of keys, not a string\n"},
        {"region: eu-west-1\n---\nregion: eu-west-2\n",
         "t.yaml:2:1: the daemon config must be one YAML document, not 2\n"},
};

START_TEST(test_refusals)
{
        parse_fails(refusals[_i].yaml, refusals[_i].want);
}
END_TEST

START_TEST(test_every_problem_is_reported)
{
        parse_fails("region: eu_west_1\n"
                    "profile: prod\n"
                    "concurency: 4\n"
                    "retry:\n"
                    "  mode: fast\n"
                    "  max_attempts: 99\n"
                    "deletion_guard:\n"
                    "  max_count: 5\n"
                    "  max_shares: 10%\n"
                    "log_level: loud\n",
                    "t.yaml:1:9: region: \"eu_west_1\" is not an AWS region name (like eu-west-1: "
                    "lower-case letters, digits and '-')\n"
                    "t.yaml:3:1: unknown key \"concurency\" in the daemon config (did you mean "
                    "\"concurrency\"?)\n"
                    "t.yaml:5:9: retry.mode must be standard or adaptive, not \"fast\"\n"
                    "t.yaml:6:17: retry.max_attempts must be between 1 and 10, not 99\n"
                    "t.yaml:9:3: unknown key \"max_shares\" in deletion_guard (did you mean "
                    "\"max_share\"?)\n"
                    "t.yaml:10:12: log_level must be one of debug, info, notice, warning, "
                    "error, crit, alert or emerg, not \"loud\"\n");
}
END_TEST

START_TEST(test_yaml_errors_pass_through)
{
        sm_daemon_config *c = NULL;
        sm_diags d = {0};
        const char *bad = "region: [eu-west-1\n";

        ck_assert_int_eq(sm_daemon_config_parse("t.yaml", bad, strlen(bad), &c, &d), -EINVAL);
        ck_assert_ptr_null(c);
        ck_assert_uint_ge(d.n, 1);
        ck_assert_str_eq(d.items[0].path, "t.yaml");
        ck_assert_uint_gt(d.items[0].line, 0);
        sm_diags_done(&d);
}
END_TEST

START_TEST(test_durations)
{
        static const struct {
                const char *s;
                int r;
                uint64_t sec;
        } cases[] = {
                {"0", 0, 0},
                {"90", 0, 90},
                {"90s", 0, 90},
                {"5m", 0, 300},
                {"1h", 0, 3600},
                {"1h30m", 0, 5400},
                {"2d", 0, 172800},
                {"1d2h3m4s", 0, 93784},
                {"0s", 0, 0},
                {"90m", 0, 5400},
                {"", -EINVAL, 0},
                {"m", -EINVAL, 0},
                {"5", 0, 5},
                {"5 m", -EINVAL, 0},
                {"5M", -EINVAL, 0},
                {"1m1h", -EINVAL, 0},
                {"1h1h", -EINVAL, 0},
                {"1.5h", -EINVAL, 0},
                {"-5s", -EINVAL, 0},
                {"5ms", -EINVAL, 0},
                {"1w", -EINVAL, 0},
                {"36500d", 0, 3153600000ull},
                {"36501d", -ERANGE, 0},
                {"9999999999999999999", -ERANGE, 0},
                {"99999999999999s", -ERANGE, 0},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t sec = 12345;
                int r = sm_daemon_config_parse_duration(cases[i].s, &sec);

                ck_assert_msg(r == cases[i].r, "\"%s\": %d, want %d", cases[i].s, r, cases[i].r);
                if (r == 0)
                        ck_assert_msg(sec == cases[i].sec, "\"%s\": %llu", cases[i].s,
                                      (unsigned long long)sec);
                else
                        ck_assert_uint_eq(sec, 12345); /* untouched on error */
        }
        ck_assert_int_eq(sm_daemon_config_parse_duration(NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(test_shares)
{
        static const struct {
                const char *s;
                unsigned bp;
                const char *dumped;
        } cases[] = {
                {"10%", 1000, "10%"},     {"0.1", 1000, "10%"},   {"12.5%", 1250, "12.5%"},
                {"0.125", 1250, "12.5%"}, {"0.25%", 25, "0.25%"}, {"0.0001", 1, "0.01%"},
                {"100%", 10000, "100%"},  {"1.0", 10000, "100%"}, {"0%", 0, "0%"},
                {"0", 0, "0%"},           {"0.0", 0, "0%"},       {"\"10%\"", 1000, "10%"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *yaml = NULL;
                sm_daemon_config *c;
                json_t *j;

                ck_assert_int_gt(asprintf(&yaml, "deletion_guard:\n  max_share: %s\n", cases[i].s),
                                 0);
                c = parse_ok(yaml);
                ck_assert_msg(c->guard_max_share_bp == cases[i].bp, "%s: %u", cases[i].s,
                              c->guard_max_share_bp);
                j = sm_daemon_config_to_json(c);
                ck_assert_str_eq(json_string_value(json_object_get(
                                         json_object_get(j, "deletion_guard"), "max_share")),
                                 cases[i].dumped);
                /* The dump reads back as the same value. */
                sm_daemon_config_free(c);
                free(yaml);
                yaml = NULL;
                ck_assert_int_gt(
                        asprintf(&yaml, "deletion_guard:\n  max_share: %s\n", cases[i].dumped), 0);
                c = parse_ok(yaml);
                ck_assert_uint_eq(c->guard_max_share_bp, cases[i].bp);
                sm_daemon_config_free(c);
                json_decref(j);
        }
}
END_TEST

START_TEST(test_missing_file)
{
        _cleanup_free_ char *tmp = sm_test_tmpdir();
        _cleanup_free_ char *path = NULL;
        sm_daemon_config *c = NULL;
        sm_diags d = {0};
        sm_buf out = {0};
        _cleanup_free_ char *want = NULL;

        ck_assert_int_gt(asprintf(&path, "%s/nosuch.yaml", tmp), 0);

        /* The default file may be absent: the built-in defaults apply. */
        ck_assert_int_eq(sm_daemon_config_load(path, false, &c, &d), 0);
        ck_assert_uint_eq(d.n, 0);
        ck_assert_ptr_null(c->path);
        assert_config_json(c, default_json);
        sm_daemon_config_free(c);
        c = NULL;

        /* A file named with --config must exist. */
        ck_assert_int_eq(sm_daemon_config_load(path, true, &c, &d), -ENOENT);
        ck_assert_ptr_null(c);
        ck_assert_int_eq(sm_diags_format(&d, &out), 0);
        ck_assert_int_gt(asprintf(&want,
                                  "%s: cannot read the daemon config: No such file or directory\n",
                                  path),
                         0);
        ck_assert_str_eq(out.data, want);
        sm_buf_done(&out);
        sm_diags_done(&d);

        /* A directory is refused even when the file is optional. */
        ck_assert_int_eq(sm_daemon_config_load(tmp, false, &c, &d), -EISDIR);
        ck_assert_ptr_null(c);
        ck_assert_uint_eq(d.n, 1);
        ck_assert_str_eq(d.items[0].message, "cannot read the daemon config: Is a directory");
        sm_diags_done(&d);
        sm_test_rm_rf(tmp);
}
END_TEST

/* The lifecycle script as StudioLifecycleConfigContent: base64 of the
 * bytes, and a sentence naming the key and the path when it cannot be. */
START_TEST(test_lifecycle_script)
{
        _cleanup_free_ char *tmp = sm_test_tmpdir();
        _cleanup_free_ char *path = NULL, *b64 = NULL, *error = NULL;
        sm_daemon_config *c = NULL;
        char *big;
        FILE *f;

        ck_assert_int_eq(sm_daemon_config_default(&c), 0);
        ck_assert_str_eq(c->lifecycle_script, SM_DAEMON_DEFAULT_LIFECYCLE_SCRIPT);
        ck_assert_int_gt(asprintf(&path, "%s/idle.sh", tmp), 0);
        free(c->lifecycle_script);
        c->lifecycle_script = strdup(path);

        ck_assert_int_eq(sm_daemon_config_lifecycle_b64(c, &b64, &error), -ENOENT);
        ck_assert_str_eq(error + strlen(error) - strlen("No such file or directory"),
                         "No such file or directory");
        ck_assert_ptr_nonnull(strstr(error, "lifecycle_script "));
        ck_assert_ptr_nonnull(strstr(error, path));
        free(error);
        error = NULL;

        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fclose(f);
        ck_assert_int_eq(sm_daemon_config_lifecycle_b64(c, &b64, &error), -ENODATA);
        ck_assert_ptr_nonnull(strstr(error, "it is empty"));
        free(error);
        error = NULL;

        f = fopen(path, "w");
        fputs("#!/bin/bash\necho hi\n", f);
        fclose(f);
        ck_assert_int_eq(sm_daemon_config_lifecycle_b64(c, &b64, &error), 0);
        ck_assert_str_eq(b64, "IyEvYmluL2Jhc2gKZWNobyBoaQo=");
        ck_assert_ptr_null(error);

        /* 12288 bytes is 16384 base64 characters, AWS's limit; one more is refused. */
        big = malloc(SM_DAEMON_LIFECYCLE_SCRIPT_MAX + 1);
        memset(big, '#', SM_DAEMON_LIFECYCLE_SCRIPT_MAX + 1);
        f = fopen(path, "w");
        ck_assert_uint_eq(fwrite(big, 1, SM_DAEMON_LIFECYCLE_SCRIPT_MAX, f),
                          SM_DAEMON_LIFECYCLE_SCRIPT_MAX);
        fclose(f);
        free(b64);
        b64 = NULL;
        ck_assert_int_eq(sm_daemon_config_lifecycle_b64(c, &b64, &error), 0);
        ck_assert_uint_eq(strlen(b64), 16384);
        f = fopen(path, "a");
        fputc('#', f);
        fclose(f);
        free(b64);
        b64 = NULL;
        ck_assert_int_eq(sm_daemon_config_lifecycle_b64(c, &b64, &error), -EFBIG);
        ck_assert_ptr_null(b64);
        ck_assert_ptr_nonnull(strstr(error, "larger than 12288 bytes"));
        free(error);
        error = NULL;

        /* The script runs in every user's app: trusted like the config. */
        f = fopen(path, "w");
        fputs("#!/bin/bash\necho hi\n", f);
        fclose(f);
        ck_assert_int_eq(chmod(path, 0646), 0);
        ck_assert_int_eq(sm_daemon_config_lifecycle_b64(c, &b64, &error), -EPERM);
        ck_assert_ptr_null(b64);
        ck_assert_ptr_nonnull(strstr(error, "cannot be used: writable by others (mode 0646)"));
        free(big);
        sm_daemon_config_free(c);
        sm_test_rm_rf(tmp);
}
END_TEST

START_TEST(test_load_file)
{
        _cleanup_free_ char *tmp = sm_test_tmpdir();
        _cleanup_free_ char *path = NULL, *big = NULL;
        sm_daemon_config *c = NULL;
        sm_diags d = {0};
        FILE *f;

        ck_assert_int_gt(asprintf(&path, "%s/smstudiod.yaml", tmp), 0);
        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs("region: eu-central-1\nconcurrency: nine\n", f);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(sm_daemon_config_load(path, true, &c, &d), -EINVAL);
        ck_assert_uint_eq(d.n, 1);
        ck_assert_str_eq(d.items[0].path, path);
        ck_assert_uint_eq(d.items[0].line, 2);
        ck_assert_uint_eq(d.items[0].column, 14);
        sm_diags_done(&d);

        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs("region: eu-central-1\n", f);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(sm_daemon_config_load(path, false, &c, &d), 0);
        ck_assert_str_eq(c->region, "eu-central-1");
        ck_assert_str_eq(c->path, path);
        sm_daemon_config_free(c);
        c = NULL;

        /* Over 1 MiB: refused before parsing. */
        big = malloc(1024 * 1024 + 2);
        ck_assert_ptr_nonnull(big);
        memset(big, '#', 1024 * 1024 + 1);
        big[1024 * 1024 + 1] = '\0';
        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(big, f);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(sm_daemon_config_load(path, true, &c, &d), -EFBIG);
        ck_assert_uint_eq(d.n, 1);
        ck_assert_str_eq(d.items[0].message, "cannot read the daemon config: larger than 1 MiB");
        sm_diags_done(&d);

        /* Whoever can write the config owns the daemon: a group-writable
         * one is refused, whatever it says. */
        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs("region: eu-central-1\n", f);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(chmod(path, 0664), 0);
        ck_assert_int_eq(sm_daemon_config_load(path, true, &c, &d), -EPERM);
        ck_assert_uint_eq(d.n, 1);
        ck_assert_str_eq(d.items[0].path, path);
        ck_assert_str_eq(d.items[0].message,
                         "refusing the daemon config: it is writable by group (mode 0664)");
        sm_diags_done(&d);
        sm_test_rm_rf(tmp);
}
END_TEST

START_TEST(test_aws_overrides)
{
        sm_daemon_config *c = NULL;
        sm_aws_overrides o;

        ck_assert_int_eq(sm_daemon_config_default(&c), 0);
        sm_daemon_config_aws_overrides(c, &o);
        ck_assert_str_eq(o.origin, "the daemon config");
        ck_assert_ptr_null(o.region);
        ck_assert_ptr_null(o.profile);
        ck_assert_ptr_null(o.ca_bundle);
        for (size_t i = 0; i < _SM_SERVICE_MAX; i++)
                ck_assert_ptr_null(o.endpoint_url[i]);
        /* Unset retry settings leave AWS_RETRY_MODE / AWS_MAX_ATTEMPTS in force. */
        ck_assert_ptr_null(o.retry_mode);
        ck_assert_uint_eq(o.max_attempts, 0);
        ck_assert_int_eq(o.use_fips, -1);
        ck_assert_int_eq(o.use_dualstack, -1);
        sm_daemon_config_free(c);

        c = parse_ok(full_yaml);
        sm_daemon_config_aws_overrides(c, &o);
        ck_assert_str_eq(o.origin, "the daemon config");
        ck_assert_str_eq(o.region, "eu-west-1");
        ck_assert_str_eq(o.profile, "smstudio-prod");
        ck_assert_str_eq(o.ca_bundle, "/etc/ssl/corp-ca.pem");
        ck_assert_str_eq(o.endpoint_url[SM_SERVICE_SAGEMAKER],
                         "https://vpce-1.api.sagemaker.eu-west-1.vpce.amazonaws.com");
        ck_assert_str_eq(o.endpoint_url[SM_SERVICE_IAM], "http://127.0.0.1:5000");
        ck_assert_str_eq(o.endpoint_url[SM_SERVICE_STS], "http://localhost:5001/sts");
        ck_assert_str_eq(o.endpoint_url[SM_SERVICE_SERVICECATALOG], "https://sc.example.com");
        ck_assert_str_eq(o.retry_mode, "adaptive");
        ck_assert_uint_eq(o.max_attempts, 10);
        sm_daemon_config_free(c);

        c = parse_ok("retry:\n  mode: standard\n");
        sm_daemon_config_aws_overrides(c, &o);
        ck_assert_str_eq(o.retry_mode, "standard");
        ck_assert_uint_eq(o.max_attempts, 0);
        sm_daemon_config_free(c);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("daemonconfig");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_defaults);
        tcase_add_test(tc, test_shipped_file_is_the_defaults);
        tcase_add_test(tc, test_shipped_file_lists_every_key_with_its_default);
        tcase_add_test(tc, test_every_key);
        tcase_add_test(tc, test_lifecycle_script);
        tcase_add_test(tc, test_man_page_examples_load);
        tcase_add_test(tc, test_null_and_empty_mean_default);
        tcase_add_test(tc, test_other_accepted_forms);
        tcase_add_loop_test(tc, test_refusals, 0, ELEMENTSOF(refusals));
        tcase_add_test(tc, test_every_problem_is_reported);
        tcase_add_test(tc, test_yaml_errors_pass_through);
        tcase_add_test(tc, test_durations);
        tcase_add_test(tc, test_shares);
        tcase_add_test(tc, test_missing_file);
        tcase_add_test(tc, test_load_file);
        tcase_add_test(tc, test_aws_overrides);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
