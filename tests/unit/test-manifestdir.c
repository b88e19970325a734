/* SPDX-License-Identifier: Apache-2.0 */
/* The manifest directory: which files count, trust (owner, mode, symlink
 * targets), last good copies across restarts, removal as deletion, the
 * incomplete flag and the cross-file conflict policy. Runs as root in CI
 * (chown); the ownership cases are skipped otherwise. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "smstudio/desired.h"
#include "smstudio/manifestdir.h"
#include "testmain.h"

#define DOMAIN_YAML                                                                                \
        "kind: Domain\n"                                                                           \
        "name: studio\n"                                                                           \
        "vpc_id: vpc-0abc1234\n"                                                                   \
        "subnet_ids: [subnet-0abc1234]\n"

#define USER_YAML(name)                                                                            \
        "kind: User\n"                                                                             \
        "name: " name "\n"                                                                         \
        "group: data_science_users\n"

/* A misspelt key on line 3: the file alone fails. */
#define BROKEN_USER_YAML(name)                                                                     \
        "kind: User\n"                                                                             \
        "name: " name "\n"                                                                         \
        "groop: data_science_users\n"

/* Each test works in its own temp dir: d/ the manifests, s/ the state, t/
 * symlink targets. */
typedef struct env {
        char *root;
        char *dir;
        char *state;
        char *targets;
} env;

static char *join(const char *a, const char *b)
{
        char *s;

        ck_assert_int_ge(asprintf(&s, "%s/%s", a, b), 0);
        return s;
}

static void make_dir(const char *path, mode_t mode)
{
        ck_assert_msg(mkdir(path, mode) == 0 || errno == EEXIST, "mkdir %s: %s", path,
                      strerror(errno));
        /* Explicit, so the umask cannot decide a trust test. */
        ck_assert_int_eq(chmod(path, mode), 0);
}

static void env_init(env *e)
{
        e->root = sm_test_tmpdir();
        e->dir = join(e->root, "d");
        e->state = join(e->root, "s");
        e->targets = join(e->root, "t");
        make_dir(e->dir, 0755);
        make_dir(e->state, 0700);
        make_dir(e->targets, 0755);
}

static void env_done(env *e)
{
        sm_test_rm_rf(e->root);
        free(e->root);
        free(e->dir);
        free(e->state);
        free(e->targets);
}

static void write_file_at(const char *dir, const char *name, const char *content, mode_t mode)
{
        char *p = join(dir, name);
        FILE *f = fopen(p, "w");

        ck_assert_msg(f != NULL, "%s: %s", p, strerror(errno));
        fputs(content, f);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(chmod(p, mode), 0);
        free(p);
}

static void write_file(const env *e, const char *name, const char *content)
{
        write_file_at(e->dir, name, content, 0644);
}

static void remove_file(const env *e, const char *name)
{
        char *p = join(e->dir, name);

        ck_assert_int_eq(unlink(p), 0);
        free(p);
}

static sm_manifest_load *load(const env *e, bool with_state)
{
        sm_manifest_dir_options o;
        sm_manifest_load *l = NULL;

        sm_manifest_dir_options_init(&o, e->dir);
        o.state_dir = with_state ? e->state : NULL;
        ck_assert_int_eq(sm_manifest_dir_load(&o, &l), 0);
        ck_assert_ptr_nonnull(l);
        return l;
}

static const sm_manifest_dir_file *find(const sm_manifest_load *l, const char *name)
{
        for (size_t i = 0; i < l->n_files; i++)
                if (streq(l->files[i].name, name))
                        return &l->files[i];
        ck_abort_msg("no entry for %s", name);
        return NULL;
}

static sm_manifest_file_status status_of(const sm_manifest_load *l, const char *name)
{
        return find(l, name)->status;
}

/* Whether some diagnostic of l contains text (and, if path, is about it). */
static bool has_diag(const sm_manifest_load *l, const char *path_suffix, const char *text)
{
        for (size_t i = 0; i < l->diags.n; i++) {
                const sm_diag *d = &l->diags.items[i];
                size_t n = strlen(d->path), m = path_suffix ? strlen(path_suffix) : 0;

                if (path_suffix && (n < m || !streq(d->path + n - m, path_suffix)))
                        continue;
                if (strstr(d->message, text))
                        return true;
        }
        return false;
}

static size_t users(const sm_manifest_load *l)
{
        sm_desired_summary s;

        ck_assert_ptr_nonnull(l->desired);
        sm_desired_summarize(l->desired, &s);
        return s.users;
}

static void dump_diags(const sm_manifest_load *l)
{
        for (size_t i = 0; i < l->diags.n; i++)
                fprintf(stderr, "  %s:%u:%u: %s\n", l->diags.items[i].path, l->diags.items[i].line,
                        l->diags.items[i].column, l->diags.items[i].message);
}

static void base_set(const env *e)
{
        write_file(e, "00-domain.yaml", DOMAIN_YAML);
        write_file(e, "alice.yaml", USER_YAML("alice"));
        write_file(e, "bob.yml", USER_YAML("bob"));
}

START_TEST(test_names)
{
        static const char *const yes[] = {"alice.yaml", "bob.yml", "a.b.yaml", "x~y.yaml"};
        static const char *const no[] = {
                ".alice.yaml",
                ".alice.yaml.swp",
                "alice.yaml~",
                "alice.yaml.swp",
                "alice.yaml.dpkg-old",
                "alice.yaml.dpkg-new",
                "alice.yaml.dpkg-dist",
                "alice.yaml.rpmnew",
                "alice.yaml.rpmsave",
                "README",
                "alice.json",
                "alice.yaml.bak",
                ".yaml",
        };
        const char *why;

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                ck_assert_msg(sm_manifest_dir_name_is_candidate(yes[i], &why), "%s: %s", yes[i],
                              why);
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                why = NULL;
                ck_assert_msg(!sm_manifest_dir_name_is_candidate(no[i], &why), "%s", no[i]);
                ck_assert_ptr_nonnull(why);
        }
        ck_assert(!sm_manifest_dir_name_is_candidate("alice.yaml~", &why));
        ck_assert_str_eq(why, "an editor leftover");
        ck_assert(!sm_manifest_dir_name_is_candidate("a.yaml.dpkg-new", &why));
        ck_assert_str_eq(why, "a package manager leftover");
}
END_TEST

START_TEST(test_loads_and_ignores)
{
        env e;
        sm_manifest_load *l;
        char *sub;

        env_init(&e);
        base_set(&e);
        /* Everything below is ignored: dotfiles, leftovers, other names. */
        write_file(&e, ".hidden.yaml", BROKEN_USER_YAML("h"));
        write_file(&e, "alice.yaml~", BROKEN_USER_YAML("x"));
        write_file(&e, ".alice.yaml.swp", "\x01\x02");
        write_file(&e, "bob.yml.dpkg-old", BROKEN_USER_YAML("y"));
        write_file(&e, "bob.yml.rpmnew", BROKEN_USER_YAML("z"));
        write_file(&e, "README", "not yaml at all: [");
        /* No recursion: a subdirectory's manifests are not read. */
        sub = join(e.dir, "nested");
        make_dir(sub, 0755);
        write_file_at(sub, "carol.yaml", USER_YAML("carol"), 0644);

        l = load(&e, false);
        if (!l->valid)
                dump_diags(l);
        ck_assert(l->valid);
        ck_assert(l->complete);
        ck_assert_uint_eq(l->diags.n, 0);
        ck_assert_uint_eq(users(l), 2);
        ck_assert_uint_eq(sm_manifest_load_count(l, SM_MANIFEST_FILE_OK), 3);
        ck_assert_int_eq(status_of(l, ".hidden.yaml"), SM_MANIFEST_FILE_IGNORED);
        ck_assert_int_eq(status_of(l, "alice.yaml~"), SM_MANIFEST_FILE_IGNORED);
        ck_assert_int_eq(status_of(l, ".alice.yaml.swp"), SM_MANIFEST_FILE_IGNORED);
        ck_assert_int_eq(status_of(l, "bob.yml.dpkg-old"), SM_MANIFEST_FILE_IGNORED);
        ck_assert_int_eq(status_of(l, "bob.yml.rpmnew"), SM_MANIFEST_FILE_IGNORED);
        ck_assert_int_eq(status_of(l, "README"), SM_MANIFEST_FILE_IGNORED);
        ck_assert_int_eq(status_of(l, "nested"), SM_MANIFEST_FILE_IGNORED);
        ck_assert_str_eq(find(l, "README")->reason, "not named *.yaml or *.yml");
        /* Stable, sorted order. */
        for (size_t i = 1; i < l->n_files; i++)
                ck_assert_int_lt(strcmp(l->files[i - 1].name, l->files[i].name), 0);
        /* Paths are the directory as given plus the name. */
        ck_assert_str_eq(find(l, "alice.yaml")->path + strlen(e.dir), "/alice.yaml");
        sm_manifest_load_free(l);
        free(sub);
        env_done(&e);
}
END_TEST

START_TEST(test_parse_errors_located)
{
        env e;
        sm_manifest_load *l;
        const sm_manifest_dir_file *f;

        env_init(&e);
        base_set(&e);
        write_file(&e, "carol.yaml", BROKEN_USER_YAML("carol"));
        l = load(&e, false);
        f = find(l, "carol.yaml");
        ck_assert_int_eq(f->status, SM_MANIFEST_FILE_FAILED);
        ck_assert(!l->valid);
        ck_assert(!l->complete);
        ck_assert_uint_ge(f->diags.n, 1);
        /* The misspelt key is named at its place. */
        {
                bool seen = false;

                for (size_t i = 0; i < f->diags.n; i++)
                        if (strstr(f->diags.items[i].message, "\"groop\"")) {
                                ck_assert_uint_eq(f->diags.items[i].line, 3);
                                ck_assert_uint_eq(f->diags.items[i].column, 1);
                                ck_assert(strstr(f->diags.items[i].message, "did you mean"));
                                seen = true;
                        }
                ck_assert(seen);
        }
        ck_assert_str_eq(f->diags.items[0].path, f->path);
        ck_assert(strstr(f->reason, "error"));
        /* The good files still build (validate counts them). */
        ck_assert_uint_eq(users(l), 2);
        sm_manifest_load_free(l);
        env_done(&e);
}
END_TEST

START_TEST(test_trust_owner)
{
        env e;
        sm_manifest_load *l;
        sm_manifest_dir_options o;
        char *p;

        if (geteuid() != 0)
                return; /* chown needs root; CI is root */
        env_init(&e);
        base_set(&e);
        p = join(e.dir, "alice.yaml");
        ck_assert_int_eq(chown(p, 65534, 65534), 0);

        l = load(&e, false);
        ck_assert_int_eq(status_of(l, "alice.yaml"), SM_MANIFEST_FILE_REFUSED);
        ck_assert(strstr(find(l, "alice.yaml")->reason, "owned by uid 65534"));
        ck_assert(has_diag(l, "/alice.yaml", "refused: owned by uid 65534"));
        ck_assert(!l->valid);
        ck_assert(!l->complete);
        sm_manifest_load_free(l);

        /* The daemon's own user is trusted like root. */
        sm_manifest_dir_options_init(&o, e.dir);
        o.trusted_uid = 65534;
        ck_assert_int_eq(sm_manifest_dir_load(&o, &l), 0);
        ck_assert_int_eq(status_of(l, "alice.yaml"), SM_MANIFEST_FILE_OK);
        ck_assert(l->valid);
        sm_manifest_load_free(l);

        /* And trust checks can be turned off. */
        sm_manifest_dir_options_init(&o, e.dir);
        o.check_trust = false;
        ck_assert_int_eq(sm_manifest_dir_load(&o, &l), 0);
        ck_assert(l->valid);
        sm_manifest_load_free(l);

        /* A directory owned by someone else is refused as a whole. */
        ck_assert_int_eq(chown(e.dir, 65534, 65534), 0);
        l = load(&e, false);
        ck_assert_ptr_null(l->desired);
        ck_assert(!l->valid);
        ck_assert(!l->complete);
        ck_assert(has_diag(l, "/d", "refusing the manifest directory"));
        sm_manifest_load_free(l);
        free(p);
        env_done(&e);
}
END_TEST

START_TEST(test_trust_mode)
{
        env e;
        sm_manifest_load *l;
        char *p;

        env_init(&e);
        base_set(&e);
        p = join(e.dir, "alice.yaml");
        ck_assert_int_eq(chmod(p, 0664), 0);
        l = load(&e, false);
        ck_assert_int_eq(status_of(l, "alice.yaml"), SM_MANIFEST_FILE_REFUSED);
        ck_assert_str_eq(find(l, "alice.yaml")->reason, "writable by group (mode 0664)");
        ck_assert(has_diag(l, "/alice.yaml", "refused: writable by group (mode 0664)"));
        sm_manifest_load_free(l);

        ck_assert_int_eq(chmod(p, 0646), 0);
        l = load(&e, false);
        ck_assert_str_eq(find(l, "alice.yaml")->reason, "writable by others (mode 0646)");
        sm_manifest_load_free(l);

        ck_assert_int_eq(chmod(p, 0666), 0);
        l = load(&e, false);
        ck_assert_str_eq(find(l, "alice.yaml")->reason, "writable by group and others (mode 0666)");
        sm_manifest_load_free(l);

        /* Read-only for everyone is fine. */
        ck_assert_int_eq(chmod(p, 0444), 0);
        l = load(&e, false);
        ck_assert(l->valid);
        sm_manifest_load_free(l);

        ck_assert_int_eq(chmod(e.dir, 0775), 0);
        l = load(&e, false);
        ck_assert_ptr_null(l->desired);
        ck_assert(!l->complete);
        ck_assert(has_diag(l, "/d", "writable by group (mode 0775)"));
        ck_assert_uint_eq(l->n_files, 0);
        sm_manifest_load_free(l);

        ck_assert_int_eq(chmod(e.dir, 01777), 0);
        l = load(&e, false);
        ck_assert_ptr_null(l->desired);
        sm_manifest_load_free(l);
        free(p);
        env_done(&e);
}
END_TEST

static void symlink_to(const env *e, const char *target, const char *name)
{
        char *p = join(e->dir, name);

        ck_assert_int_eq(symlink(target, p), 0);
        free(p);
}

START_TEST(test_symlinks)
{
        env e;
        sm_manifest_load *l;
        char *good, *loose, *fifo, *baddir, *baddir_file;

        env_init(&e);
        base_set(&e);
        write_file_at(e.targets, "carol.yaml", USER_YAML("carol"), 0644);
        write_file_at(e.targets, "dave.yaml", USER_YAML("dave"), 0664);
        good = join(e.targets, "carol.yaml");
        loose = join(e.targets, "dave.yaml");
        fifo = join(e.targets, "fifo");
        ck_assert_int_eq(mkfifo(fifo, 0644), 0);
        baddir = join(e.root, "open");
        make_dir(baddir, 0777);
        write_file_at(baddir, "erin.yaml", USER_YAML("erin"), 0644);
        baddir_file = join(baddir, "erin.yaml");

        symlink_to(&e, good, "carol.yaml");
        symlink_to(&e, "../t/carol.yaml", "carol-relative.yaml.bak"); /* ignored by name */
        symlink_to(&e, loose, "dave.yaml");
        symlink_to(&e, baddir_file, "erin.yaml");
        symlink_to(&e, "/nonexistent/frank.yaml", "frank.yaml");
        symlink_to(&e, e.targets, "gina.yaml");
        symlink_to(&e, fifo, "hank.yaml");

        l = load(&e, false);
        ck_assert_int_eq(status_of(l, "carol.yaml"), SM_MANIFEST_FILE_OK);
        ck_assert_int_eq(status_of(l, "carol-relative.yaml.bak"), SM_MANIFEST_FILE_IGNORED);
        ck_assert_int_eq(status_of(l, "dave.yaml"), SM_MANIFEST_FILE_REFUSED);
        ck_assert(strstr(find(l, "dave.yaml")->reason, "writable by group (mode 0664)"));
        ck_assert(strstr(find(l, "dave.yaml")->reason, "symlink target"));
        ck_assert_int_eq(status_of(l, "erin.yaml"), SM_MANIFEST_FILE_REFUSED);
        ck_assert(strstr(find(l, "erin.yaml")->reason, "writable by group and others"));
        ck_assert(strstr(find(l, "erin.yaml")->reason, "/open"));
        ck_assert_int_eq(status_of(l, "frank.yaml"), SM_MANIFEST_FILE_REFUSED);
        ck_assert_int_eq(status_of(l, "gina.yaml"), SM_MANIFEST_FILE_REFUSED);
        ck_assert(strstr(find(l, "gina.yaml")->reason, "a directory"));
        ck_assert_int_eq(status_of(l, "hank.yaml"), SM_MANIFEST_FILE_REFUSED);
        ck_assert(strstr(find(l, "hank.yaml")->reason, "a FIFO"));
        /* carol (through the good symlink) is in the model with alice and bob. */
        ck_assert_uint_eq(users(l), 3);
        ck_assert(!l->complete);
        sm_manifest_load_free(l);

        /* A FIFO in the directory itself never blocks the loader. */
        {
                char *p = join(e.dir, "ivan.yaml");

                ck_assert_int_eq(mkfifo(p, 0644), 0);
                free(p);
        }
        l = load(&e, false);
        ck_assert_int_eq(status_of(l, "ivan.yaml"), SM_MANIFEST_FILE_REFUSED);
        sm_manifest_load_free(l);

        free(good);
        free(loose);
        free(fifo);
        free(baddir);
        free(baddir_file);
        env_done(&e);
}
END_TEST

START_TEST(test_size_limit)
{
        env e;
        sm_manifest_load *l;
        char *big, *p;
        FILE *f;

        env_init(&e);
        base_set(&e);
        big = malloc(SM_MANIFEST_MAX_BYTES + 2);
        ck_assert_ptr_nonnull(big);
        memset(big, '#', SM_MANIFEST_MAX_BYTES + 1);
        big[SM_MANIFEST_MAX_BYTES + 1] = '\0';
        p = join(e.dir, "huge.yaml");
        f = fopen(p, "w");
        ck_assert_ptr_nonnull(f);
        fputs(big, f);
        fclose(f);
        chmod(p, 0644);
        l = load(&e, false);
        ck_assert_int_eq(status_of(l, "huge.yaml"), SM_MANIFEST_FILE_FAILED);
        ck_assert(strstr(find(l, "huge.yaml")->reason, "too large"));
        ck_assert(has_diag(l, "/huge.yaml", "the limit is 1024 KiB"));
        sm_manifest_load_free(l);
        free(big);
        free(p);
        env_done(&e);
}
END_TEST

static char *read_all(const char *path)
{
        FILE *f = fopen(path, "r");
        char *buf = calloc(1, 65536);
        size_t n;

        if (!f) {
                free(buf);
                return NULL;
        }
        n = fread(buf, 1, 65535, f);
        buf[n] = '\0';
        fclose(f);
        return buf;
}

START_TEST(test_last_good_survives_restart)
{
        env e;
        sm_manifest_load *l;
        char *copy, *content;
        const sm_manifest_dir_file *f;

        env_init(&e);
        base_set(&e);
        l = load(&e, true);
        ck_assert(l->valid);
        ck_assert_uint_eq(l->diags.n, 0);
        sm_manifest_load_free(l);
        copy = join(e.state, "manifests/last-good/alice.yaml");
        content = read_all(copy);
        ck_assert_ptr_nonnull(content);
        ck_assert_str_eq(content, USER_YAML("alice"));
        free(content);

        /* alice.yaml breaks: her last good version stays in force. */
        write_file(&e, "alice.yaml", BROKEN_USER_YAML("alice"));
        l = load(&e, true);
        f = find(l, "alice.yaml");
        ck_assert_int_eq(f->status, SM_MANIFEST_FILE_KEPT_LAST_GOOD);
        ck_assert_str_eq(f->last_good_path, copy);
        ck_assert_int_gt(f->last_good_time, 0);
        ck_assert(has_diag(l, "/d/alice.yaml", "keeping the last good version from 20"));
        ck_assert(has_diag(l, "/d/alice.yaml", "groop"));
        ck_assert(l->complete);
        ck_assert(!l->valid);
        ck_assert_uint_eq(users(l), 2);
        sm_manifest_load_free(l);

        /* A restart is a new load with the same state_dir. */
        l = load(&e, true);
        ck_assert_int_eq(status_of(l, "alice.yaml"), SM_MANIFEST_FILE_KEPT_LAST_GOOD);
        ck_assert_uint_eq(users(l), 2);
        sm_manifest_load_free(l);
        content = read_all(copy);
        ck_assert_str_eq(content, USER_YAML("alice")); /* the broken bytes never recorded */
        free(content);

        /* Refused (made group-writable) also keeps the last good version. */
        write_file(&e, "alice.yaml", USER_YAML("alice"));
        {
                char *p = join(e.dir, "alice.yaml");

                ck_assert_int_eq(chmod(p, 0664), 0);
                l = load(&e, true);
                ck_assert_int_eq(status_of(l, "alice.yaml"), SM_MANIFEST_FILE_KEPT_LAST_GOOD);
                ck_assert(has_diag(l, "/d/alice.yaml", "refused: writable by group"));
                ck_assert(l->complete);
                sm_manifest_load_free(l);
                ck_assert_int_eq(chmod(p, 0644), 0);
                free(p);
        }

        /* Fixed: in force again, and a new version is recorded. */
        write_file(&e, "alice.yaml", "# fixed\n" USER_YAML("alice"));
        l = load(&e, true);
        ck_assert_int_eq(status_of(l, "alice.yaml"), SM_MANIFEST_FILE_OK);
        ck_assert(l->valid);
        sm_manifest_load_free(l);
        content = read_all(copy);
        ck_assert_str_eq(content, "# fixed\n" USER_YAML("alice"));
        free(content);
        free(copy);
        env_done(&e);
}
END_TEST

START_TEST(test_failed_without_last_good_is_incomplete)
{
        env e;
        sm_manifest_load *l;

        env_init(&e);
        base_set(&e);
        write_file(&e, "carol.yaml", BROKEN_USER_YAML("carol"));
        l = load(&e, true);
        ck_assert_int_eq(status_of(l, "carol.yaml"), SM_MANIFEST_FILE_FAILED);
        ck_assert(!l->complete);
        ck_assert_ptr_nonnull(l->desired);
        ck_assert(has_diag(l, "/d/carol.yaml", "no last good version"));
        sm_manifest_load_free(l);
        env_done(&e);
}
END_TEST

START_TEST(test_removal_is_deletion)
{
        env e;
        sm_manifest_load *l;
        char *copy;

        env_init(&e);
        base_set(&e);
        l = load(&e, true);
        ck_assert_uint_eq(users(l), 2);
        sm_manifest_load_free(l);
        copy = join(e.state, "manifests/last-good/bob.yml");
        ck_assert_int_eq(access(copy, F_OK), 0);

        remove_file(&e, "bob.yml");
        l = load(&e, true);
        ck_assert_int_eq(status_of(l, "bob.yml"), SM_MANIFEST_FILE_REMOVED);
        ck_assert(l->complete); /* a deletion request, not a failure */
        ck_assert(l->valid);
        ck_assert_uint_eq(users(l), 1);
        sm_manifest_load_free(l);
        ck_assert_int_eq(access(copy, F_OK), -1);

        /* Reported once: the next load no longer knows bob.yml. */
        l = load(&e, true);
        for (size_t i = 0; i < l->n_files; i++)
                ck_assert_str_ne(l->files[i].name, "bob.yml");
        sm_manifest_load_free(l);

        /* Renamed to a leftover name (what dpkg does) also removes it. */
        {
                char *a = join(e.dir, "alice.yaml"), *b = join(e.dir, "alice.yaml.dpkg-old");

                ck_assert_int_eq(rename(a, b), 0);
                l = load(&e, true);
                ck_assert_int_eq(status_of(l, "alice.yaml"), SM_MANIFEST_FILE_REMOVED);
                ck_assert_uint_eq(users(l), 0);
                sm_manifest_load_free(l);
                free(a);
                free(b);
        }
        free(copy);
        env_done(&e);
}
END_TEST

START_TEST(test_cross_file_conflict)
{
        env e;
        sm_manifest_load *l;
        sm_manifest_dir_file const *f;
        char *copy, *content;

        env_init(&e);
        base_set(&e);
        l = load(&e, true);
        ck_assert(l->valid);
        sm_manifest_load_free(l);

        /* bob.yml now redefines alice: bob.yml is held back on its last
         * good version, the rest applies, nothing looks deleted. */
        write_file(&e, "bob.yml", USER_YAML("alice"));
        write_file(&e, "carol.yaml", USER_YAML("carol"));
        l = load(&e, true);
        if (!l->desired)
                dump_diags(l);
        ck_assert_ptr_nonnull(l->desired);
        f = find(l, "bob.yml");
        ck_assert_int_eq(f->status, SM_MANIFEST_FILE_KEPT_LAST_GOOD);
        ck_assert_str_eq(f->reason, "conflicts with other manifests");
        ck_assert(has_diag(l, NULL, "alice"));
        ck_assert(has_diag(l, "/d/bob.yml", "not applied: it conflicts with other manifests"));
        ck_assert_int_eq(status_of(l, "carol.yaml"), SM_MANIFEST_FILE_OK);
        ck_assert_uint_eq(users(l), 3); /* alice, bob (last good), carol */
        ck_assert(l->complete);
        ck_assert(!l->valid);
        sm_manifest_load_free(l);
        /* The conflicting version was not recorded as good. */
        copy = join(e.state, "manifests/last-good/bob.yml");
        content = read_all(copy);
        ck_assert_str_eq(content, USER_YAML("bob"));
        free(content);
        free(copy);

        /* A new file that conflicts has no last good version: held back,
         * failed, and the load is incomplete. */
        write_file(&e, "bob.yml", USER_YAML("bob"));
        write_file(&e, "zed.yaml", USER_YAML("carol"));
        l = load(&e, true);
        ck_assert_ptr_nonnull(l->desired);
        ck_assert_int_eq(status_of(l, "zed.yaml"), SM_MANIFEST_FILE_FAILED);
        ck_assert_int_eq(status_of(l, "bob.yml"), SM_MANIFEST_FILE_OK);
        ck_assert(!l->complete);
        ck_assert_uint_eq(users(l), 3);
        sm_manifest_load_free(l);

        /* Without state (validate) there is nothing to fall back on: no model. */
        l = load(&e, false);
        ck_assert_ptr_null(l->desired);
        ck_assert(!l->complete);
        ck_assert(!l->valid);
        ck_assert(has_diag(l, NULL, "carol"));
        sm_manifest_load_free(l);
        env_done(&e);
}
END_TEST

/* When even the last good copies do not build together (rules changed
 * under them), there is no model: the caller keeps the one it has, and no
 * state is touched. */
START_TEST(test_no_model_when_fallback_fails)
{
        env e;
        sm_manifest_load *l;
        char *lg, *copy;

        env_init(&e);
        base_set(&e);
        lg = join(e.state, "manifests");
        make_dir(lg, 0700);
        free(lg);
        lg = join(e.state, "manifests/last-good");
        make_dir(lg, 0700);
        write_file_at(lg, "x.yaml", USER_YAML("alice"), 0600);
        write_file_at(lg, "y.yaml", USER_YAML("alice"), 0600);
        write_file_at(lg, "gone.yaml", USER_YAML("zoe"), 0600);
        write_file(&e, "x.yaml", BROKEN_USER_YAML("x"));
        write_file(&e, "y.yaml", BROKEN_USER_YAML("y"));

        l = load(&e, true);
        ck_assert_ptr_null(l->desired);
        ck_assert(!l->complete);
        ck_assert(!l->valid);
        ck_assert_int_eq(status_of(l, "x.yaml"), SM_MANIFEST_FILE_KEPT_LAST_GOOD);
        ck_assert_int_eq(status_of(l, "gone.yaml"), SM_MANIFEST_FILE_REMOVED);
        /* The conflict is reported against the copies that hold it. */
        ck_assert(has_diag(l, "last-good/y.yaml", "defined twice") ||
                  has_diag(l, "last-good/x.yaml", "defined twice"));
        sm_manifest_load_free(l);
        copy = join(lg, "gone.yaml");
        ck_assert_int_eq(access(copy, F_OK), 0);
        free(copy);
        free(lg);
        env_done(&e);
}
END_TEST

/* Copies in a directory others can write are not put in force. */
START_TEST(test_untrusted_last_good_dir)
{
        env e;
        sm_manifest_load *l;
        char *lg;

        env_init(&e);
        base_set(&e);
        l = load(&e, true);
        ck_assert(l->valid);
        sm_manifest_load_free(l);
        lg = join(e.state, "manifests/last-good");
        ck_assert_int_eq(chmod(lg, 0777), 0);
        write_file(&e, "alice.yaml", BROKEN_USER_YAML("alice"));
        l = load(&e, true);
        ck_assert_int_eq(status_of(l, "alice.yaml"), SM_MANIFEST_FILE_FAILED);
        ck_assert(!l->complete);
        ck_assert(has_diag(l, "last-good", "not using the last good copies"));
        sm_manifest_load_free(l);
        free(lg);
        env_done(&e);
}
END_TEST

START_TEST(test_missing_dir)
{
        sm_manifest_dir_options o;
        sm_manifest_load *l;

        sm_manifest_dir_options_init(&o, "/nonexistent/smstudio.d");
        ck_assert_int_eq(sm_manifest_dir_load(&o, &l), 0);
        ck_assert_ptr_null(l->desired);
        ck_assert(!l->complete);
        ck_assert(!l->valid);
        ck_assert_uint_eq(l->diags.n, 1);
        ck_assert(strstr(l->diags.items[0].message, "No such file or directory"));
        sm_manifest_load_free(l);
        ck_assert_int_eq(sm_manifest_dir_load(NULL, &l), -EINVAL);
}
END_TEST

START_TEST(test_empty_dir_is_empty_model)
{
        env e;
        sm_manifest_load *l;

        env_init(&e);
        l = load(&e, true);
        ck_assert_ptr_nonnull(l->desired);
        ck_assert(l->complete);
        ck_assert(l->valid);
        ck_assert_uint_eq(l->n_files, 0);
        sm_manifest_load_free(l);
        env_done(&e);
}
END_TEST

START_TEST(test_json)
{
        env e;
        sm_manifest_load *l;
        json_t *j, *files, *alice;

        env_init(&e);
        base_set(&e);
        l = load(&e, true);
        sm_manifest_load_free(l);
        write_file(&e, "alice.yaml", BROKEN_USER_YAML("alice"));
        write_file(&e, "notes.txt", "x");
        l = load(&e, true);
        j = sm_manifest_load_to_json(l);
        ck_assert_ptr_nonnull(j);
        ck_assert(json_is_false(json_object_get(j, "valid")));
        ck_assert(json_is_true(json_object_get(j, "complete")));
        files = json_object_get(j, "files");
        ck_assert_uint_eq(json_array_size(files), 4);
        alice = json_array_get(files, 1);
        ck_assert_str_eq(json_string_value(json_object_get(alice, "name")), "alice.yaml");
        ck_assert_str_eq(json_string_value(json_object_get(alice, "status")), "kept-last-good");
        ck_assert(json_is_string(json_object_get(json_object_get(alice, "last_good"), "time")));
        ck_assert_uint_ge(json_array_size(json_object_get(alice, "diagnostics")), 2);
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(files, 3), "status")),
                         "ignored");
        ck_assert_uint_ge(json_array_size(json_object_get(j, "diagnostics")), 2);
        json_decref(j);
        sm_manifest_load_free(l);
        env_done(&e);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("manifestdir");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_names);
        tcase_add_test(tc, test_loads_and_ignores);
        tcase_add_test(tc, test_parse_errors_located);
        tcase_add_test(tc, test_trust_owner);
        tcase_add_test(tc, test_trust_mode);
        tcase_add_test(tc, test_symlinks);
        tcase_add_test(tc, test_size_limit);
        tcase_add_test(tc, test_last_good_survives_restart);
        tcase_add_test(tc, test_failed_without_last_good_is_incomplete);
        tcase_add_test(tc, test_removal_is_deletion);
        tcase_add_test(tc, test_cross_file_conflict);
        tcase_add_test(tc, test_no_model_when_fallback_fails);
        tcase_add_test(tc, test_untrusted_last_good_dir);
        tcase_add_test(tc, test_missing_dir);
        tcase_add_test(tc, test_empty_dir_is_empty_model);
        tcase_add_test(tc, test_json);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
