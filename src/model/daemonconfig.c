/* SPDX-License-Identifier: Apache-2.0 */
/* smstudiod.yaml: read into a fresh struct, every key checked, every
 * problem collected with its place; the caller swaps only on success. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "smstudio/daemonconfig.h"
#include "smstudio/fileio.h"
#include "smstudio/log.h"
#include "smstudio/macro.h"
#include "smstudio/strbuf.h"
#include "smstudio/yamlnode.h"

#define MAX_FILE_BYTES (1024u * 1024u)
/* A duration past this is a typo, and keeps the arithmetic far from overflow. */
#define MAX_DURATION_SEC (100ull * 365 * 86400)

/* One load: where we are and the first error that is not the file's fault. */
typedef struct loader {
        const char *path;
        sm_diags *diags;
        int oom; /* -ENOMEM once any allocation failed */
        size_t n_bad;
} loader;

static void vbad_at(loader *l, unsigned line, unsigned column, const char *fmt, va_list ap)
        _printf_(4, 0);
static void vbad_at(loader *l, unsigned line, unsigned column, const char *fmt, va_list ap)
{
        sm_buf msg = {0};
        int r;

        l->n_bad++;
        r = sm_buf_vprintf(&msg, fmt, ap);
        if (r >= 0)
                r = sm_diags_add(l->diags, l->path, line, column, "%s", msg.data ? msg.data : "");
        if (r < 0)
                l->oom = -ENOMEM;
        sm_buf_done(&msg);
}

static void bad_at(loader *l, unsigned line, unsigned column, const char *fmt, ...) _printf_(4, 5);
static void bad_at(loader *l, unsigned line, unsigned column, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vbad_at(l, line, column, fmt, ap);
        va_end(ap);
}

/* A problem with one node, reported where the node starts. */
static void bad(loader *l, const sm_yaml_node *n, const char *fmt, ...) _printf_(3, 4);
static void bad(loader *l, const sm_yaml_node *n, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vbad_at(l, n->line, n->column, fmt, ap);
        va_end(ap);
}

/* The typed getters report their own errors; we only count them. */
static int note(loader *l, int r)
{
        if (r == -ENOMEM)
                l->oom = r;
        else if (r < 0)
                l->n_bad++;
        return r;
}

int sm_daemon_config_parse_duration(const char *s, uint64_t *ret)
{
        static const struct {
                char unit;
                uint64_t sec;
        } units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
        uint64_t total = 0;
        size_t next_unit = 0; /* units must come largest first, each at most once */
        const char *p = s;

        if (isempty(s))
                return -EINVAL;
        /* A bare number is seconds, as in the manifests' integer form. */
        if (s[strspn(s, "0123456789")] == '\0') {
                if (strlen(s) > 12)
                        return -ERANGE;
                total = strtoull(s, NULL, 10);
                if (total > MAX_DURATION_SEC)
                        return -ERANGE;
                *ret = total;
                return 0;
        }
        while (*p) {
                uint64_t n = 0;
                size_t digits = 0, u;

                for (; *p >= '0' && *p <= '9'; p++, digits++) {
                        if (digits >= 12)
                                return -ERANGE;
                        n = n * 10 + (uint64_t)(*p - '0');
                }
                if (digits == 0)
                        return -EINVAL;
                for (u = next_unit; u < ELEMENTSOF(units); u++)
                        if (*p == units[u].unit)
                                break;
                if (u == ELEMENTSOF(units))
                        return -EINVAL;
                total += n * units[u].sec;
                if (total > MAX_DURATION_SEC)
                        return -ERANGE;
                next_unit = u + 1;
                p++;
        }
        *ret = total;
        return 0;
}

/* The shortest form the parser reads back: "1h30m", "90s" is "1m30s". */
static void format_duration(uint64_t sec, char out[32])
{
        static const struct {
                char unit;
                uint64_t sec;
        } units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
        size_t len = 0;

        if (sec == 0) {
                snprintf(out, 32, "0s");
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                uint64_t n = sec / units[i].sec;

                if (n == 0)
                        continue;
                len += (size_t)snprintf(out + len, 32 - len, "%llu%c", (unsigned long long)n,
                                        units[i].unit);
                sec %= units[i].sec;
        }
}

/* "10%", "12.5%", "0.1", "0": basis points (0..10000). The integer 1 is
 * refused: it reads as "1%" to some and "everything" to others, and
 * guessing wrong here is what the guard exists to prevent. */
static int parse_share(const char *s, unsigned *ret, const char **ret_why)
{
        uint64_t whole = 0, frac = 0;
        unsigned frac_digits = 0, max_frac;
        bool percent, dot = false;
        size_t len = strlen(s);
        uint64_t bp;

        percent = len > 0 && s[len - 1] == '%';
        if (percent)
                len--;
        if (len == 0)
                goto invalid;
        /* Basis points are exact to 2 decimals of a percent, 4 of a fraction. */
        max_frac = percent ? 2 : 4;
        for (size_t i = 0; i < len; i++) {
                if (s[i] == '.' && !dot && i > 0) {
                        dot = true;
                } else if (s[i] >= '0' && s[i] <= '9') {
                        if (!dot) {
                                if (whole > 1000)
                                        goto range;
                                whole = whole * 10 + (uint64_t)(s[i] - '0');
                        } else {
                                if (++frac_digits > max_frac) {
                                        *ret_why = percent ? "at most 2 decimals of a percent"
                                                           : "at most 4 decimals of a fraction";
                                        return -EINVAL;
                                }
                                frac = frac * 10 + (uint64_t)(s[i] - '0');
                        }
                } else {
                        goto invalid;
                }
        }
        if (dot && frac_digits == 0)
                goto invalid;
        for (; frac_digits < max_frac; frac_digits++)
                frac *= 10;
        if (percent) {
                bp = whole * 100 + frac;
        } else {
                if (!dot && whole != 0) {
                        *ret_why = "a bare integer is ambiguous; write a percentage (\"10%\") or "
                                   "a fraction (0.1)";
                        return -EINVAL;
                }
                bp = whole * 10000 + frac;
        }
        if (bp > 10000)
                goto range;
        *ret = (unsigned)bp;
        return 0;
range:
        *ret_why = "a share must be between 0% and 100%";
        return -ERANGE;
invalid:
        *ret_why = "expected a percentage (\"10%\") or a fraction (0.1)";
        return -EINVAL;
}

static void format_share(unsigned bp, char out[16])
{
        if (bp % 100 == 0)
                snprintf(out, 16, "%u%%", bp / 100);
        else if (bp % 10 == 0)
                snprintf(out, 16, "%u.%u%%", bp / 100, (bp % 100) / 10);
        else
                snprintf(out, 16, "%u.%02u%%", bp / 100, bp % 100);
}

/* The value of one key as a string (null is handled by the caller). */
static int get_string(loader *l, const sm_yaml_node *v, const char *what, char **ret)
{
        return note(l, sm_yaml_get_string(l->path, v, what, ret, l->diags));
}

static int set_string(char **field, char *value)
{
        free(*field);
        *field = value;
        return 0;
}

static int key_absolute_path(loader *l, const sm_yaml_node *v, const char *what, char **field)
{
        _cleanup_free_ char *s = NULL;

        if (get_string(l, v, what, &s) < 0)
                return -EINVAL;
        if (s[0] != '/') {
                bad(l, v, "%s must be an absolute path, not \"%s\"", what, s);
                return -EINVAL;
        }
        return set_string(field, TAKE_PTR(s));
}

/* Group names as shadow-utils and systemd-sysusers accept them. */
static bool valid_group_name(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > 32)
                return false;
        if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++) {
                char c = s[i];

                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-' || c == '.'))
                        return false;
        }
        return true;
}

static int key_group(loader *l, const sm_yaml_node *v, const char *what, char **field)
{
        _cleanup_free_ char *s = NULL;

        if (get_string(l, v, what, &s) < 0)
                return -EINVAL;
        if (!valid_group_name(s)) {
                bad(l, v,
                    "%s: \"%s\" is not a group name (up to 32 letters, digits, '_', '-' or '.', "
                    "starting with a letter or '_')",
                    what, s);
                return -EINVAL;
        }
        return set_string(field, TAKE_PTR(s));
}

/* A duration given as "5m" or as an integer number of seconds. */
static int key_duration(loader *l, const sm_yaml_node *v, const char *what, uint64_t min,
                        uint64_t max, uint64_t *field)
{
        char lo[32], hi[32];
        uint64_t sec = 0;
        int64_t n;
        int r;

        if (v->kind != SM_YAML_SCALAR) {
                bad(l, v, "%s must be a duration (like 90s, 5m or 1h30m), not %s", what,
                    sm_yaml_describe(v));
                return -EINVAL;
        }
        if (v->plain && sm_yaml_as_int(v, &n) >= 0) {
                if (n < 0) {
                        bad(l, v, "%s must not be negative", what);
                        return -EINVAL;
                }
                r = (uint64_t)n > MAX_DURATION_SEC ? -ERANGE : 0;
                sec = (uint64_t)n;
        } else {
                r = sm_daemon_config_parse_duration(v->value, &sec);
                if (r == -EINVAL) {
                        bad(l, v,
                            "%s: \"%s\" is not a duration (like 90s, 5m, 1h30m or a number of "
                            "seconds)",
                            what, v->value);
                        return -EINVAL;
                }
        }
        if (r < 0 || sec < min || sec > max) {
                format_duration(min, lo);
                format_duration(max, hi);
                bad(l, v, "%s must be between %s and %s, not %s", what, lo, hi, v->value);
                return -EINVAL;
        }
        *field = sec;
        return 0;
}

static int key_uint(loader *l, const sm_yaml_node *v, const char *what, int64_t min, int64_t max,
                    unsigned *field)
{
        int64_t n;

        if (note(l, sm_yaml_get_int(l->path, v, what, min, max, &n, l->diags)) < 0)
                return -EINVAL;
        *field = (unsigned)n;
        return 0;
}

/* A loaded config, and the splay node kept to place the cross-key check. */
typedef struct parse_ctx {
        loader *l;
        sm_daemon_config *c;
        const sm_yaml_node *splay;
} parse_ctx;

typedef int (*key_fn)(parse_ctx *p, const sm_yaml_node *v, const char *what);

typedef struct key_rule {
        const char *key;
        key_fn fn;
} key_rule;

static int check_map(parse_ctx *p, const sm_yaml_node *map, const char *what, const key_rule *rules,
                     size_t n_rules);

static int key_region(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        _cleanup_free_ char *s = NULL;

        if (get_string(p->l, v, what, &s) < 0)
                return -EINVAL;
        if (!sm_region_is_valid(s)) {
                bad(p->l, v,
                    "%s: \"%s\" is not an AWS region name (like eu-west-1: lower-case letters, "
                    "digits and '-')",
                    what, s);
                return -EINVAL;
        }
        return set_string(&p->c->region, TAKE_PTR(s));
}

static int key_profile(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        _cleanup_free_ char *s = NULL;

        if (get_string(p->l, v, what, &s) < 0)
                return -EINVAL;
        /* What a [profile NAME] header of the shared config files can hold. */
        for (const char *c = s; *c; c++)
                if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '[' || *c == ']') {
                        bad(p->l, v,
                            "%s: \"%s\" is not a profile name (no spaces, brackets or control "
                            "characters)",
                            what, s);
                        return -EINVAL;
                }
        if (s[0] == '\0' || strlen(s) > 128) {
                bad(p->l, v, "%s must be 1 to 128 characters long", what);
                return -EINVAL;
        }
        return set_string(&p->c->profile, TAKE_PTR(s));
}

static int key_manifest_dir(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        return key_absolute_path(p->l, v, what, &p->c->manifest_dir);
}

static int key_state_dir(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        return key_absolute_path(p->l, v, what, &p->c->state_dir);
}

static int key_ca_bundle(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        return key_absolute_path(p->l, v, what, &p->c->ca_bundle);
}

static int key_lifecycle_script(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        return key_absolute_path(p->l, v, what, &p->c->lifecycle_script);
}

static int key_socket_path(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        size_t max = sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1;

        if (key_absolute_path(p->l, v, what, &p->c->socket_path) < 0)
                return -EINVAL;
        if (strlen(p->c->socket_path) > max) {
                bad(p->l, v, "%s is too long for a Unix socket (%zu bytes, at most %zu)", what,
                    strlen(p->c->socket_path), max);
                return -EINVAL;
        }
        return 0;
}

static int key_socket_group(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        return key_group(p->l, v, what, &p->c->socket_group);
}

static int key_admin_group(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        return key_group(p->l, v, what, &p->c->admin_group);
}

static const key_rule socket_rules[] = {
        {"path", key_socket_path},
        {"group", key_socket_group},
};

static int key_socket(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        return check_map(p, v, what, socket_rules, ELEMENTSOF(socket_rules));
}

static int key_interval(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        return key_duration(p->l, v, what, SM_DAEMON_INTERVAL_MIN_SEC, SM_DAEMON_INTERVAL_MAX_SEC,
                            &p->c->interval_sec);
}

static int key_splay(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        p->splay = v;
        return key_duration(p->l, v, what, 0, SM_DAEMON_INTERVAL_MAX_SEC, &p->c->splay_sec);
}

/* The tag value marks what this daemon owns: keep it to characters every
 * AWS tag API and every shell quote accepts as they are. */
static bool valid_instance(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > SM_DAEMON_INSTANCE_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool alnum =
                        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

                if (!alnum && (i == 0 || (c != '-' && c != '_' && c != '.')))
                        return false;
        }
        return true;
}

static int key_instance(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        _cleanup_free_ char *s = NULL;

        if (get_string(p->l, v, what, &s) < 0)
                return -EINVAL;
        if (!valid_instance(s)) {
                bad(p->l, v,
                    "%s: \"%s\" is not an instance name (1 to 63 letters, digits, '-', '_' or "
                    "'.', starting with a letter or digit)",
                    what, s);
                return -EINVAL;
        }
        return set_string(&p->c->instance, TAKE_PTR(s));
}

static int key_endpoint(parse_ctx *p, const sm_yaml_node *v, const char *what, sm_service_id id)
{
        _cleanup_free_ char *s = NULL, *error = NULL;
        sm_endpoint_settings es = {.region = "us-east-1"};
        sm_endpoint ep = {0};
        int r;

        if (get_string(p->l, v, what, &s) < 0)
                return -EINVAL;
        /* The resolver owns the rule for a usable override URL; a placeholder
         * region lets us ask it without knowing the real one yet. */
        es.override_url = s;
        r = sm_endpoint_resolve(sm_aws_service_get(id), &es, &ep, &error);
        sm_endpoint_done(&ep);
        if (r == -ENOMEM) {
                p->l->oom = r;
                return r;
        }
        if (r < 0) {
                bad(p->l, v, "%s: %s", what, error ? error : "not a usable endpoint URL");
                return -EINVAL;
        }
        return set_string(&p->c->endpoint_url[id], TAKE_PTR(s));
}

static int key_ep_sagemaker(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        return key_endpoint(p, v, what, SM_SERVICE_SAGEMAKER);
}

static int key_ep_iam(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        return key_endpoint(p, v, what, SM_SERVICE_IAM);
}

static int key_ep_sts(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        return key_endpoint(p, v, what, SM_SERVICE_STS);
}

static int key_ep_servicecatalog(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        return key_endpoint(p, v, what, SM_SERVICE_SERVICECATALOG);
}

/* Keys are the services' short names (sm_aws_service.name). */
static const key_rule endpoint_rules[] = {
        {"sagemaker", key_ep_sagemaker},
        {"iam", key_ep_iam},
        {"sts", key_ep_sts},
        {"servicecatalog", key_ep_servicecatalog},
};

static int key_endpoints(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        return check_map(p, v, what, endpoint_rules, ELEMENTSOF(endpoint_rules));
}

static int key_concurrency(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        return key_uint(p->l, v, what, 1, SM_DAEMON_CONCURRENCY_MAX, &p->c->concurrency);
}

static int key_retry_mode(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        _cleanup_free_ char *s = NULL;

        if (get_string(p->l, v, what, &s) < 0)
                return -EINVAL;
        if (sm_retry_mode_from_string(s, &p->c->retry_mode) < 0) {
                bad(p->l, v, "%s must be standard or adaptive, not \"%s\"", what, s);
                return -EINVAL;
        }
        p->c->retry_mode_set = true;
        return 0;
}

static int key_max_attempts(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        return key_uint(p->l, v, what, 1, SM_DAEMON_ATTEMPTS_MAX, &p->c->max_attempts);
}

static const key_rule retry_rules[] = {
        {"mode", key_retry_mode},
        {"max_attempts", key_max_attempts},
};

static int key_retry(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        return check_map(p, v, what, retry_rules, ELEMENTSOF(retry_rules));
}

static int key_dry_run(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        return note(p->l, sm_yaml_get_bool(p->l->path, v, what, &p->c->dry_run, p->l->diags));
}

static int key_max_count(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        return key_uint(p->l, v, what, 0, 1000000, &p->c->guard_max_count);
}

static int key_max_share(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        const char *why = NULL;

        if (v->kind != SM_YAML_SCALAR) {
                bad(p->l, v, "%s must be a percentage (\"10%%\") or a fraction (0.1), not %s", what,
                    sm_yaml_describe(v));
                return -EINVAL;
        }
        if (parse_share(v->value, &p->c->guard_max_share_bp, &why) < 0) {
                bad(p->l, v, "%s: \"%s\": %s", what, v->value, why);
                return -EINVAL;
        }
        return 0;
}

static const key_rule guard_rules[] = {
        {"max_count", key_max_count},
        {"max_share", key_max_share},
};

static int key_deletion_guard(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        return check_map(p, v, what, guard_rules, ELEMENTSOF(guard_rules));
}

static int key_sweep(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        return key_uint(p->l, v, what, 1, SM_DAEMON_SWEEP_EVERY_MAX, &p->c->describe_sweep_every);
}

static int key_log_level(parse_ctx *p, const sm_yaml_node *v, const char *what)
{
        _cleanup_free_ char *s = NULL;
        int level;

        if (get_string(p->l, v, what, &s) < 0)
                return -EINVAL;
        level = sm_log_level_from_string(s);
        if (level < 0) {
                bad(p->l, v,
                    "%s must be one of debug, info, notice, warning, error, crit, alert or "
                    "emerg, not \"%s\"",
                    what, s);
                return -EINVAL;
        }
        p->c->log_level = level;
        return 0;
}

/* Top-level keys in the order smstudiod.yaml(5) documents them. */
static const key_rule top_rules[] = {
        {"region", key_region},
        {"profile", key_profile},
        {"manifest_dir", key_manifest_dir},
        {"socket", key_socket},
        {"admin_group", key_admin_group},
        {"state_dir", key_state_dir},
        {"interval", key_interval},
        {"splay", key_splay},
        {"instance", key_instance},
        {"endpoints", key_endpoints},
        {"ca_bundle", key_ca_bundle},
        {"concurrency", key_concurrency},
        {"retry", key_retry},
        {"dry_run", key_dry_run},
        {"deletion_guard", key_deletion_guard},
        {"describe_sweep_every", key_sweep},
        {"lifecycle_script", key_lifecycle_script},
        {"log_level", key_log_level},
};

/* Check every key of one mapping (prefix names it in messages, "" at the
 * top); keys left out or null keep their defaults. Every problem is
 * reported, not just the first. */
static int check_map(parse_ctx *p, const sm_yaml_node *map, const char *prefix,
                     const key_rule *rules, size_t n_rules)
{
        const char *allowed[32];
        bool top = isempty(prefix);

        if (map->kind != SM_YAML_MAPPING) {
                if (top)
                        bad(p->l, map, "the daemon config must be a mapping of keys, not %s",
                            sm_yaml_describe(map));
                else
                        bad(p->l, map, "%s must be a mapping, not %s", prefix,
                            sm_yaml_describe(map));
                return -EINVAL;
        }
        for (size_t i = 0; i < n_rules; i++)
                allowed[i] = rules[i].key;
        allowed[n_rules] = NULL;
        p->l->n_bad += sm_yaml_check_keys(p->l->path, map, allowed,
                                          top ? "the daemon config" : prefix, p->l->diags);

        for (size_t i = 0; i < map->n_pairs; i++) {
                const sm_yaml_pair *kv = &map->pairs[i];
                _cleanup_free_ char *what = NULL;

                if (sm_yaml_is_null(kv->value))
                        continue;
                for (size_t j = 0; j < n_rules; j++) {
                        if (!streq(kv->key->value, rules[j].key))
                                continue;
                        if (top)
                                what = strdup(rules[j].key);
                        else if (asprintf(&what, "%s.%s", prefix, rules[j].key) < 0)
                                what = NULL;
                        if (!what) {
                                p->l->oom = -ENOMEM;
                                return -ENOMEM;
                        }
                        (void)rules[j].fn(p, kv->value, what);
                        break;
                }
        }
        return 0;
}

static sm_daemon_config *config_new_default(void)
{
        sm_daemon_config *c = calloc(1, sizeof(*c));

        if (!c)
                return NULL;
        c->manifest_dir = strdup(SM_DAEMON_DEFAULT_MANIFEST_DIR);
        c->socket_path = strdup(SM_DAEMON_DEFAULT_SOCKET_PATH);
        c->socket_group = strdup(SM_DAEMON_DEFAULT_SOCKET_GROUP);
        c->state_dir = strdup(SM_DAEMON_DEFAULT_STATE_DIR);
        c->instance = strdup(SM_DAEMON_DEFAULT_INSTANCE);
        c->lifecycle_script = strdup(SM_DAEMON_DEFAULT_LIFECYCLE_SCRIPT);
        if (!c->manifest_dir || !c->socket_path || !c->socket_group || !c->state_dir ||
            !c->instance || !c->lifecycle_script)
                return sm_daemon_config_free(c);
        c->interval_sec = SM_DAEMON_DEFAULT_INTERVAL_SEC;
        c->splay_sec = SM_DAEMON_DEFAULT_SPLAY_SEC;
        c->concurrency = SM_DAEMON_DEFAULT_CONCURRENCY;
        c->retry_mode = SM_RETRY_STANDARD;
        c->guard_max_count = SM_DAEMON_DEFAULT_GUARD_COUNT;
        c->guard_max_share_bp = SM_DAEMON_DEFAULT_GUARD_SHARE_BP;
        c->describe_sweep_every = SM_DAEMON_DEFAULT_SWEEP_EVERY;
        c->log_level = SM_DAEMON_DEFAULT_LOG_LEVEL;
        return c;
}

int sm_daemon_config_default(sm_daemon_config **ret)
{
        sm_daemon_config *c = config_new_default();

        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

sm_daemon_config *sm_daemon_config_free(sm_daemon_config *c)
{
        if (!c)
                return NULL;
        free(c->path);
        free(c->region);
        free(c->profile);
        free(c->manifest_dir);
        free(c->socket_path);
        free(c->socket_group);
        free(c->admin_group);
        free(c->state_dir);
        free(c->instance);
        for (size_t i = 0; i < _SM_SERVICE_MAX; i++)
                free(c->endpoint_url[i]);
        free(c->ca_bundle);
        free(c->lifecycle_script);
        free(c);
        return NULL;
}

DEFINE_POINTER_CLEANUP(sm_yaml_stream, sm_yaml_stream_free)

int sm_daemon_config_parse(const char *path, const void *data, size_t len, sm_daemon_config **ret,
                           sm_diags *diags)
{
        _cleanup_(sm_daemon_config_freep) sm_daemon_config *c = NULL;
        _cleanup_(sm_yaml_stream_freep) sm_yaml_stream *s = NULL;
        loader l = {.path = path, .diags = diags};
        parse_ctx p = {.l = &l};
        const sm_yaml_node *root = NULL;
        int r;

        c = config_new_default();
        if (!c)
                return -ENOMEM;
        c->path = strdup(path);
        if (!c->path)
                return -ENOMEM;
        p.c = c;

        r = sm_yaml_parse(path, data, len, NULL, &s, diags);
        if (r < 0)
                return r;
        /* One document; an empty file or one of comments only is all defaults. */
        if (s->n_docs > 1) {
                bad_at(&l, s->docs[1].line, 1,
                       "the daemon config must be one YAML document, not %zu", s->n_docs);
        }
        if (s->n_docs > 0)
                root = s->docs[0].root;
        if (root && !(root->kind == SM_YAML_SCALAR && sm_yaml_is_null(root)))
                (void)check_map(&p, root, "", top_rules, ELEMENTSOF(top_rules));

        /* Splay only delays a pass; past the interval it would skip passes. */
        if (p.splay && c->splay_sec > c->interval_sec) {
                char sp[32], iv[32];

                format_duration(c->splay_sec, sp);
                format_duration(c->interval_sec, iv);
                bad(&l, p.splay, "splay (%s) must not be longer than interval (%s)", sp, iv);
        }
        if (l.oom < 0)
                return l.oom;
        if (l.n_bad > 0)
                return -EINVAL;
        *ret = TAKE_PTR(c);
        return 0;
}

/* Read the whole file with a size cap; a config is small, and a huge or
 * endless file (a FIFO, /dev/zero) must not stall the daemon. The file
 * gives the daemon orders, so it must be trusted like a manifest (checked on
 * the descriptor read): -EPERM with the reason in untrusted otherwise. */
static int read_file(const char *path, char **ret, size_t *ret_len,
                     char untrusted[static SM_TRUST_WHY_MAX])
{
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;
        int fd, r = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto out;
        }
        if (!S_ISREG(st.st_mode)) {
                r = S_ISDIR(st.st_mode) ? -EISDIR : -EBADFD;
                goto out;
        }
        if (!sm_file_trusted(&st, geteuid(), untrusted, SM_TRUST_WHY_MAX)) {
                r = -EPERM;
                goto out;
        }
        if (st.st_size > (off_t)MAX_FILE_BYTES) {
                r = -EFBIG;
                goto out;
        }
        buf = malloc(MAX_FILE_BYTES + 1);
        if (!buf) {
                r = -ENOMEM;
                goto out;
        }
        for (;;) {
                ssize_t n = read(fd, buf + len, MAX_FILE_BYTES + 1 - len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto out;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > MAX_FILE_BYTES) {
                        r = -EFBIG;
                        goto out;
                }
        }
        *ret = TAKE_PTR(buf);
        *ret_len = len;
out:
        close(fd);
        return r;
}

int sm_daemon_config_load(const char *path, bool must_exist, sm_daemon_config **ret,
                          sm_diags *diags)
{
        char untrusted[SM_TRUST_WHY_MAX];
        _cleanup_free_ char *data = NULL;
        sm_daemon_config *c = NULL;
        size_t len = 0;
        int r;

        if (!path)
                path = SM_DAEMON_CONFIG_PATH;
        r = read_file(path, &data, &len, untrusted);
        if (r == -ENOENT && !must_exist) {
                /* No file is the documented way to run on the defaults. */
                r = sm_daemon_config_default(&c);
                if (r < 0)
                        return r;
                *ret = c;
                return 0;
        }
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                const char *why = r == -EFBIG    ? "larger than 1 MiB"
                                  : r == -EBADFD ? "not a regular file"
                                                 : strerror(-r);

                if (r == -EPERM) {
                        /* Like a sudoers.d file: whoever can write it owns the daemon. */
                        if (sm_diags_add(diags, path, 0, 0, "refusing the daemon config: it is %s",
                                         untrusted) < 0)
                                return -ENOMEM;
                        return r;
                }

                if (sm_diags_add(diags, path, 0, 0, "cannot read the daemon config: %s", why) < 0)
                        return -ENOMEM;
                return r;
        }
        return sm_daemon_config_parse(path, data, len, ret, diags);
}

int sm_daemon_config_lifecycle_b64(const sm_daemon_config *c, char **ret, char **ret_error)
{
        const char *path = c ? c->lifecycle_script : NULL;
        char untrusted[SM_TRUST_WHY_MAX];
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        char *b64;
        int r;

        if (isempty(path))
                return -EINVAL;
        r = read_file(path, &data, &len, untrusted);
        if (r == 0 && len == 0)
                r = -ENODATA;
        if (r == 0 && len > SM_DAEMON_LIFECYCLE_SCRIPT_MAX)
                r = -EFBIG;
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                const char *why = r == -EFBIG     ? "it is larger than 12288 bytes, which AWS's "
                                                    "16384 base64 characters allow"
                                  : r == -ENODATA ? "it is empty"
                                  : r == -EBADFD  ? "it is not a regular file"
                                  : r == -EPERM   ? untrusted
                                                  : strerror(-r);

                *ret_error = sm_strf("lifecycle_script %s cannot be used: %s", path, why);
                return *ret_error ? r : -ENOMEM;
        }
        /* 4 characters per 3 bytes, and EVP_EncodeBlock's NUL. */
        b64 = malloc(4 * ((len + 2) / 3) + 1);
        if (!b64)
                return -ENOMEM;
        (void)EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)data, (int)len);
        *ret = b64;
        return 0;
}

void sm_daemon_config_aws_overrides(const sm_daemon_config *c, sm_aws_overrides *ret)
{
        sm_aws_overrides_init(ret);
        ret->origin = "the daemon config";
        ret->region = c->region;
        ret->profile = c->profile;
        ret->ca_bundle = c->ca_bundle;
        for (size_t i = 0; i < _SM_SERVICE_MAX; i++)
                ret->endpoint_url[i] = c->endpoint_url[i];
        ret->retry_mode = c->retry_mode_set ? sm_retry_mode_to_string(c->retry_mode) : NULL;
        ret->max_attempts = c->max_attempts;
}

json_t *sm_daemon_config_to_json(const sm_daemon_config *c)
{
        json_t *endpoints, *retry;
        char share[16];

        endpoints = json_object();
        if (!endpoints)
                return NULL;
        for (size_t i = 0; i < _SM_SERVICE_MAX; i++) {
                const char *url = c->endpoint_url[i];

                if (json_object_set_new(endpoints, sm_aws_service_get((sm_service_id)i)->name,
                                        url ? json_string(url) : json_null()) < 0) {
                        json_decref(endpoints);
                        return NULL;
                }
        }
        retry = json_pack("{s:s?, s:o}", "mode",
                          c->retry_mode_set ? sm_retry_mode_to_string(c->retry_mode) : NULL,
                          "max_attempts",
                          c->max_attempts ? json_integer(c->max_attempts) : json_null());
        if (!retry) {
                json_decref(endpoints);
                return NULL;
        }
        format_share(c->guard_max_share_bp, share);
        /* "o" steals endpoints and retry even when packing fails. */
        return json_pack(
                "{s:s?, s:s?, s:s, s:{s:s, s:s}, s:s?, s:s, s:I, s:I, s:s, s:o, s:s?, "
                "s:I, s:o, s:b, s:{s:I, s:s}, s:I, s:s, s:s}",
                "region", c->region, "profile", c->profile, "manifest_dir", c->manifest_dir,
                "socket", "path", c->socket_path, "group", c->socket_group, "admin_group",
                c->admin_group, "state_dir", c->state_dir, "interval", (json_int_t)c->interval_sec,
                "splay", (json_int_t)c->splay_sec, "instance", c->instance, "endpoints", endpoints,
                "ca_bundle", c->ca_bundle, "concurrency", (json_int_t)c->concurrency, "retry",
                retry, "dry_run", (int)c->dry_run, "deletion_guard", "max_count",
                (json_int_t)c->guard_max_count, "max_share", share, "describe_sweep_every",
                (json_int_t)c->describe_sweep_every, "log_level",
                sm_log_level_to_string(c->log_level), "lifecycle_script", c->lifecycle_script);
}
