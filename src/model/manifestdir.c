/* SPDX-License-Identifier: Apache-2.0 */
/* The manifest directory loader. Reads are done through descriptors: the
 * directory is opened once and every entry is opened relative to it
 * (O_NOFOLLOW unless it is a symlink, whose target is then checked on its
 * own), owner and mode are checked on the descriptor that is read and the
 * size is checked before reading, so what is checked is what is read. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smstudio/manifest.h"
#include "smstudio/fileio.h"
#include "smstudio/manifestdir.h"
#include "smstudio/strbuf.h"
#include "smstudio/timeutil.h"

/* Where last good copies live under state_dir. */
#define LAST_GOOD_SUBDIR "manifests/last-good"

static const char *const status_names[_SM_MANIFEST_FILE_STATUS_MAX] = {
        [SM_MANIFEST_FILE_OK] = "ok",
        [SM_MANIFEST_FILE_KEPT_LAST_GOOD] = "kept-last-good",
        [SM_MANIFEST_FILE_FAILED] = "failed",
        [SM_MANIFEST_FILE_REFUSED] = "refused",
        [SM_MANIFEST_FILE_IGNORED] = "ignored",
        [SM_MANIFEST_FILE_REMOVED] = "removed",
};

const char *sm_manifest_file_status_to_string(sm_manifest_file_status s)
{
        if ((unsigned)s >= _SM_MANIFEST_FILE_STATUS_MAX)
                return NULL;
        return status_names[s];
}

void sm_manifest_dir_options_init(sm_manifest_dir_options *o, const char *dir)
{
        *o = (sm_manifest_dir_options){
                .dir = dir,
                .trusted_uid = geteuid(),
                .check_trust = true,
        };
}

static bool has_suffix(const char *s, const char *suffix)
{
        size_t n = strlen(s), m = strlen(suffix);

        return n >= m && streq(s + n - m, suffix);
}

bool sm_manifest_dir_name_is_candidate(const char *name, const char **reason)
{
        static const char *const package_leftovers[] = {
                ".dpkg-old", ".dpkg-new", ".dpkg-dist", ".dpkg-tmp",
                ".rpmnew",   ".rpmsave",  ".rpmorig",
        };
        const char *why = NULL;

        /* Dotfiles first: editors' swap files (".x.yaml.swp") and our own
         * temporary files are all dotfiles. */
        if (name[0] == '.')
                why = "a dotfile";
        else if (has_suffix(name, "~") || has_suffix(name, ".swp") || has_suffix(name, ".swo"))
                why = "an editor leftover";
        else
                for (size_t i = 0; i < ELEMENTSOF(package_leftovers); i++)
                        if (has_suffix(name, package_leftovers[i])) {
                                why = "a package manager leftover";
                                break;
                        }
        if (!why && !has_suffix(name, ".yaml") && !has_suffix(name, ".yml"))
                why = "not named *.yaml or *.yml";
        /* ".yaml" alone has no name before the suffix: caught as a dotfile. */
        if (reason)
                *reason = why;
        return !why;
}

/* Per candidate (a name that may hold a manifest) while loading. */
typedef struct candidate {
        size_t file; /* index into the result's files */
        char *data;  /* current bytes, when they could be read */
        size_t len;
        sm_manifest_file *cur; /* current content, when it parsed */
        bool have_lg;          /* a last good copy exists and was read */
        char *lg_data;
        size_t lg_len;
        int64_t lg_time;
        char *lg_path;
        sm_manifest_file *lg; /* the parsed last good copy, on demand */
        bool lg_tried;
        bool held; /* held back after a cross-file failure */
} candidate;

static void candidate_done(candidate *c)
{
        free(c->data);
        free(c->lg_data);
        free(c->lg_path);
        sm_manifest_file_free(c->cur);
        sm_manifest_file_free(c->lg);
        *c = (candidate){0};
}

static void dir_file_done(sm_manifest_dir_file *f)
{
        free(f->name);
        free(f->path);
        free(f->reason);
        free(f->last_good_path);
        sm_diags_done(&f->diags);
}

sm_manifest_load *sm_manifest_load_free(sm_manifest_load *l)
{
        if (!l)
                return NULL;
        free(l->dir);
        sm_desired_free(l->desired);
        sm_diags_done(&l->diags);
        for (size_t i = 0; i < l->n_files; i++)
                dir_file_done(&l->files[i]);
        free(l->files);
        free(l);
        return NULL;
}

size_t sm_manifest_load_count(const sm_manifest_load *l, sm_manifest_file_status s)
{
        size_t n = 0;

        for (size_t i = 0; i < l->n_files; i++)
                n += l->files[i].status == s;
        return n;
}

/* Why st may not be trusted, or NULL: owned by someone else than root or
 * the daemon's user, or writable by anyone but its owner. */
static const char *file_type_name(mode_t m)
{
        if (S_ISDIR(m))
                return "a directory";
        if (S_ISFIFO(m))
                return "a FIFO";
        if (S_ISSOCK(m))
                return "a socket";
        if (S_ISCHR(m) || S_ISBLK(m))
                return "a device";
        if (S_ISLNK(m))
                return "a symlink";
        return "not a regular file";
}

/* Read an open regular file of at most max bytes; -EFBIG beyond. The size
 * is checked before reading, and reading stops one byte past the limit in
 * case the file grows meanwhile. */
static int read_fd_capped(int fd, const struct stat *st, size_t max, char **ret, size_t *ret_len)
{
        size_t cap, len = 0;
        char *buf;

        if (st->st_size < 0 || (uint64_t)st->st_size > max)
                return -EFBIG;
        cap = (size_t)st->st_size + 1;
        buf = malloc(cap + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k;

                if (len == cap) {
                        char *p;

                        if (cap > max) {
                                free(buf);
                                return -EFBIG;
                        }
                        cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
                        p = realloc(buf, cap + 1);
                        if (!p) {
                                free(buf);
                                return -ENOMEM;
                        }
                        buf = p;
                }
                k = read(fd, buf + len, cap - len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        k = -errno;
                        free(buf);
                        return (int)k;
                }
                if (k == 0)
                        break;
                len += (size_t)k;
        }
        if (len > max) {
                free(buf);
                return -EFBIG;
        }
        buf[len] = '\0';
        *ret = buf;
        *ret_len = len;
        return 0;
}

/* The result of opening one candidate. */
typedef enum open_outcome {
        OPEN_OK,
        OPEN_REFUSED, /* reason set: type or trust */
        OPEN_FAILED,  /* reason set: cannot open/read */
} open_outcome;

/* Check a symlink's target: a regular file, owned and moded like the
 * entries themselves, in a directory that passes the same checks. The
 * target's path comes from the descriptor actually opened, and must still
 * name that same file once its directory is open, so a target swapped
 * during the check is refused rather than trusted. */
static open_outcome check_symlink_target(int fd, const struct stat *st, const char *fallback_path,
                                         const sm_manifest_dir_options *o, char **reason)
{
        char proc[64], target[PATH_MAX], why[SM_TRUST_WHY_MAX];
        struct stat dst, again;
        bool dir_trusted;
        char *slash;
        ssize_t k;
        int dfd;

        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        k = readlink(proc, target, sizeof(target) - 1);
        if (k > 0) {
                target[k] = '\0';
        } else if (!realpath(fallback_path, target)) {
                if (asprintf(reason, "cannot resolve the symlink: %s", strerror(errno)) < 0)
                        *reason = NULL;
                return OPEN_REFUSED;
        }
        if (!S_ISREG(st->st_mode)) {
                if (asprintf(reason, "symlink target %s is %s", target,
                             file_type_name(st->st_mode)) < 0)
                        *reason = NULL;
                return OPEN_REFUSED;
        }
        if (!o->check_trust)
                return OPEN_OK;
        if (!sm_file_trusted(st, o->trusted_uid, why, sizeof(why))) {
                if (asprintf(reason, "symlink target %s is %s", target, why) < 0)
                        *reason = NULL;
                return OPEN_REFUSED;
        }
        slash = strrchr(target, '/');
        if (!slash || target[0] != '/') {
                if (asprintf(reason, "cannot resolve symlink target %s", target) < 0)
                        *reason = NULL;
                return OPEN_REFUSED;
        }
        if (slash == target)
                dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        else {
                *slash = '\0';
                dfd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                *slash = '/';
        }
        if (dfd < 0 || fstat(dfd, &dst) < 0) {
                if (asprintf(reason, "cannot check the directory of symlink target %s: %s", target,
                             strerror(errno)) < 0)
                        *reason = NULL;
                if (dfd >= 0)
                        close(dfd);
                return OPEN_REFUSED;
        }
        dir_trusted = sm_file_trusted(&dst, o->trusted_uid, why, sizeof(why));
        if (dir_trusted && (fstatat(dfd, slash + 1, &again, AT_SYMLINK_NOFOLLOW) < 0 ||
                            again.st_dev != st->st_dev || again.st_ino != st->st_ino)) {
                close(dfd);
                if (asprintf(reason, "symlink target %s was replaced while being checked", target) <
                    0)
                        *reason = NULL;
                return OPEN_REFUSED;
        }
        close(dfd);
        if (!dir_trusted) {
                *slash = '\0';
                if (asprintf(reason, "the directory %s of symlink target %s/%s is %s",
                             slash == target ? "/" : target, target, slash + 1, why) < 0)
                        *reason = NULL;
                return OPEN_REFUSED;
        }
        return OPEN_OK;
}

/* Open name in the directory dfd and read it, applying every rule: only a
 * regular file (or a symlink to one whose target passes the checks), the
 * trust checks, the size limit. */
static open_outcome read_candidate(int dfd, const char *name, const char *path,
                                   const sm_manifest_dir_options *o, char **data, size_t *len,
                                   char **reason)
{
        struct stat lst, st;
        open_outcome out;
        int fd, r;

        if (fstatat(dfd, name, &lst, AT_SYMLINK_NOFOLLOW) < 0) {
                if (asprintf(reason, "cannot read: %s", strerror(errno)) < 0)
                        *reason = NULL;
                return OPEN_FAILED;
        }
        if (!S_ISREG(lst.st_mode) && !S_ISLNK(lst.st_mode)) {
                if (asprintf(reason, "%s, not a regular file", file_type_name(lst.st_mode)) < 0)
                        *reason = NULL;
                return OPEN_REFUSED;
        }
        /* O_NONBLOCK: a FIFO swapped in after the check must not hang the
         * loader in open(); it is refused by the fstat below. */
        fd = openat(dfd, name,
                    O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
                            (S_ISLNK(lst.st_mode) ? 0 : O_NOFOLLOW));
        if (fd < 0) {
                r = errno;
                if (r == ELOOP) {
                        *reason = strdup("replaced by a symlink while being read");
                        return OPEN_REFUSED;
                }
                if (asprintf(reason, "cannot open%s: %s",
                             S_ISLNK(lst.st_mode) ? " the symlink's target" : "", strerror(r)) < 0)
                        *reason = NULL;
                return S_ISLNK(lst.st_mode) ? OPEN_REFUSED : OPEN_FAILED;
        }
        if (fstat(fd, &st) < 0) {
                if (asprintf(reason, "cannot read: %s", strerror(errno)) < 0)
                        *reason = NULL;
                close(fd);
                return OPEN_FAILED;
        }
        if (S_ISLNK(lst.st_mode)) {
                out = check_symlink_target(fd, &st, path, o, reason);
                if (out != OPEN_OK) {
                        close(fd);
                        if (!*reason)
                                *reason = strdup("untrusted symlink target");
                        return out;
                }
        } else {
                char why[SM_TRUST_WHY_MAX];

                if (!S_ISREG(st.st_mode) || st.st_dev != lst.st_dev || st.st_ino != lst.st_ino) {
                        close(fd);
                        *reason = strdup("replaced while being read");
                        return OPEN_REFUSED;
                }
                if (o->check_trust && !sm_file_trusted(&st, o->trusted_uid, why, sizeof(why))) {
                        close(fd);
                        *reason = strdup(why);
                        return OPEN_REFUSED;
                }
        }
        r = read_fd_capped(fd, &st, SM_MANIFEST_MAX_BYTES, data, len);
        close(fd);
        if (r == -EFBIG) {
                if (asprintf(reason, "too large (%lld bytes; the limit is %u KiB)",
                             (long long)st.st_size, SM_MANIFEST_MAX_BYTES / 1024) < 0)
                        *reason = NULL;
                return OPEN_FAILED;
        }
        if (r < 0) {
                if (asprintf(reason, "cannot read: %s", strerror(-r)) < 0)
                        *reason = NULL;
                return OPEN_FAILED;
        }
        return OPEN_OK;
}

static int cmp_strp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **strv_free_n(char **v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
        return NULL;
}

/* Every name in the directory but "." and "..", sorted. */
static int list_dir(int dfd, char ***ret, size_t *ret_n)
{
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        DIR *d;
        int fd, r = 0;

        fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                close(fd);
                return r;
        }
        for (;;) {
                errno = 0;
                de = readdir(d);
                if (!de) {
                        r = -errno;
                        break;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (n == cap) {
                        size_t c = cap ? cap * 2 : 32;
                        char **p = realloc(names, c * sizeof(*p));

                        if (!p) {
                                r = -ENOMEM;
                                break;
                        }
                        names = p;
                        cap = c;
                }
                names[n] = strdup(de->d_name);
                if (!names[n]) {
                        r = -ENOMEM;
                        break;
                }
                n++;
        }
        closedir(d);
        if (r < 0) {
                strv_free_n(names, n);
                return r;
        }
        if (n > 1)
                qsort(names, n, sizeof(*names), cmp_strp);
        *ret = names;
        *ret_n = n;
        return 0;
}

static bool sorted_contains(char *const *names, size_t n, const char *name)
{
        return n && bsearch(&name, names, n, sizeof(*names), cmp_strp);
}

/* A growing result. */
static int add_file(sm_manifest_load *l, size_t *cap, const char *name, const char *path,
                    sm_manifest_file_status status, const char *reason, size_t *ret_index)
{
        sm_manifest_dir_file *f;

        if (l->n_files == *cap) {
                size_t c = *cap ? *cap * 2 : 16;
                sm_manifest_dir_file *p = realloc(l->files, c * sizeof(*p));

                if (!p)
                        return -ENOMEM;
                l->files = p;
                *cap = c;
        }
        f = &l->files[l->n_files];
        *f = (sm_manifest_dir_file){
                .name = strdup(name),
                .path = strdup(path),
                .status = status,
                .reason = reason ? strdup(reason) : NULL,
        };
        if (!f->name || !f->path || (reason && !f->reason)) {
                dir_file_done(f);
                return -ENOMEM;
        }
        if (ret_index)
                *ret_index = l->n_files;
        l->n_files++;
        return 0;
}

static char *path_join(const char *dir, const char *name)
{
        size_t n = strlen(dir);
        char *s;

        /* Keep the directory as the user spelt it, without doubling a '/'. */
        while (n > 1 && dir[n - 1] == '/')
                n--;
        if (asprintf(&s, "%.*s%s%s", (int)n, dir, n == 1 && dir[0] == '/' ? "" : "/", name) < 0)
                return NULL;
        return s;
}

/* The last good copies' directory, opened for reading; -ENOENT when there
 * is none yet. Refused (-EPERM, a diagnostic in extra) when untrusted:
 * its content is put in force without further checks. */
static int open_last_good_dir(const sm_manifest_dir_options *o, const char *lg_dir, bool create,
                              sm_diags *extra)
{
        char why[SM_TRUST_WHY_MAX];
        struct stat st;
        int fd, r;

        if (create) {
                /* mkdir -p state_dir/manifests/last-good, private to us. */
                char *p = strdup(lg_dir);

                if (!p)
                        return -ENOMEM;
                for (char *s = p + 1; *s; s++) {
                        if (*s != '/')
                                continue;
                        *s = '\0';
                        if (mkdir(p, 0700) < 0 && errno != EEXIST) {
                                r = -errno;
                                free(p);
                                return r;
                        }
                        *s = '/';
                }
                free(p);
                if (mkdir(lg_dir, 0700) < 0 && errno != EEXIST)
                        return -errno;
        }
        fd = open(lg_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (!o->check_trust)
                return fd;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        if (!sm_file_trusted(&st, o->trusted_uid, why, sizeof(why))) {
                close(fd);
                r = sm_diags_add(extra, lg_dir, 0, 0,
                                 "not using the last good copies kept here: the directory is %s",
                                 why);
                return r < 0 ? r : -EPERM;
        }
        return fd;
}

/* Read the last good copy of c (if any) from lgfd. Copies are written only
 * by us, so an unreadable one just counts as absent. */
static int read_last_good(int lgfd, const char *lg_dir, const char *name, candidate *c)
{
        struct stat st;
        int fd, r;

        if (lgfd < 0)
                return 0;
        fd = openat(lgfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return 0;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return 0;
        }
        r = read_fd_capped(fd, &st, SM_MANIFEST_MAX_BYTES, &c->lg_data, &c->lg_len);
        close(fd);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0;
        c->lg_path = path_join(lg_dir, name);
        if (!c->lg_path)
                return -ENOMEM;
        c->lg_time = (int64_t)st.st_mtime;
        c->have_lg = true;
        return 0;
}

/* Parse c's last good copy once. A copy that no longer loads (the rules
 * became stricter since it was recorded) is not used; the file says so. */
static int parse_last_good(candidate *c, sm_manifest_dir_file *f)
{
        sm_diags d = {0};
        int r;

        if (!c->have_lg || c->lg_tried)
                return 0;
        c->lg_tried = true;
        r = sm_manifest_file_parse(c->lg_path, c->lg_data, c->lg_len, &c->lg, &d);
        if (r == -ENOMEM) {
                sm_diags_done(&d);
                return r;
        }
        if (r < 0) {
                r = sm_diags_add(
                        &f->diags, f->path, 0, 0,
                        "its last good copy %s no longer loads (%zu problems); not using it",
                        c->lg_path, d.n);
                sm_diags_done(&d);
                c->lg = NULL;
                return r < 0 ? r : 0;
        }
        sm_diags_done(&d);
        return 0;
}

static bool candidate_changed(const candidate *c)
{
        return c->cur &&
               (!c->have_lg || c->lg_len != c->len || memcmp(c->lg_data, c->data, c->len) != 0);
}

/* The content of c in force: current unless held back, else the last good. */
static sm_manifest_file *in_force(const candidate *c)
{
        if (c->cur && !c->held)
                return c->cur;
        return c->lg;
}

static int try_build(candidate *cands, size_t n, sm_desired **ret, sm_diags *diags)
{
        sm_manifest_file **files;
        size_t k = 0;
        int r;

        files = calloc(n ? n : 1, sizeof(*files));
        if (!files)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (in_force(&cands[i]))
                        files[k++] = in_force(&cands[i]);
        r = sm_desired_build(files, k, ret, diags);
        free(files);
        return r;
}

static bool diags_name(const sm_diags *d, const char *path)
{
        for (size_t i = 0; i < d->n; i++)
                if (streq(d->items[i].path, path))
                        return true;
        return false;
}

/* Sort and drop exact repeats (a fallback build can report what the first
 * one did). */
static void diags_sort_unique(sm_diags *d)
{
        size_t k = 0;

        sm_diags_sort(d);
        for (size_t i = 0; i < d->n; i++) {
                sm_diag *x = &d->items[i];

                if (k > 0) {
                        sm_diag *p = &d->items[k - 1];

                        if (streq(p->path, x->path) && p->line == x->line &&
                            p->column == x->column && streq(p->message, x->message)) {
                                free(x->path);
                                free(x->message);
                                continue;
                        }
                }
                d->items[k++] = *x;
        }
        d->n = k;
}

static int diags_copy_one(sm_diags *dst, const sm_diag *x)
{
        return sm_diags_add(dst, x->path, x->line, x->column, "%s", x->message);
}

/* File the cross-file diagnostics of a build under the file they name
 * (current or last good copy), the rest under extra. */
static int distribute_diags(sm_manifest_load *l, candidate *cands, size_t n, const sm_diags *d,
                            sm_diags *extra)
{
        for (size_t i = 0; i < d->n; i++) {
                const sm_diag *x = &d->items[i];
                sm_diags *to = extra;
                int r;

                for (size_t j = 0; j < n; j++) {
                        sm_manifest_dir_file *f = &l->files[cands[j].file];

                        if (streq(f->path, x->path) ||
                            (cands[j].lg_path && streq(cands[j].lg_path, x->path))) {
                                to = &f->diags;
                                break;
                        }
                }
                r = diags_copy_one(to, x);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Replace the last good copy of name with data: a temporary file in the
 * same directory, synced, then renamed over, so a crash leaves either the
 * old copy or the new one. */
static int write_last_good(int lgfd, const char *name, const char *data, size_t len)
{
        if (strlen(name) + 9 > NAME_MAX)
                return -ENAMETOOLONG;
        return sm_write_file_atomic_at(lgfd, name, data, len);
}

/* After a successful build: remember every file in force with its current
 * content, forget removed files. Failures here do not undo the load (the
 * model is right); they are reported, and the previous copies stay. */
static int persist_last_good(const sm_manifest_dir_options *o, const char *lg_dir,
                             sm_manifest_load *l, candidate *cands, size_t n, sm_diags *extra)
{
        bool dirty = false;
        int lgfd, r;

        for (size_t i = 0; i < n && !dirty; i++)
                dirty = in_force(&cands[i]) == cands[i].cur && candidate_changed(&cands[i]);
        for (size_t i = 0; i < l->n_files && !dirty; i++)
                dirty = l->files[i].status == SM_MANIFEST_FILE_REMOVED;
        if (!dirty)
                return 0;
        lgfd = open_last_good_dir(o, lg_dir, true, extra);
        if (lgfd == -ENOMEM)
                return lgfd;
        if (lgfd == -EPERM)
                return 0; /* already reported */
        if (lgfd < 0)
                return sm_diags_add(extra, lg_dir, 0, 0,
                                    "cannot keep last good copies of the manifests: %s",
                                    strerror(-lgfd));
        r = 0;
        for (size_t i = 0; i < n && r >= 0; i++) {
                candidate *c = &cands[i];
                sm_manifest_dir_file *f = &l->files[c->file];
                int k;

                if (in_force(c) != c->cur || !candidate_changed(c))
                        continue;
                k = write_last_good(lgfd, f->name, c->data, c->len);
                if (k < 0)
                        r = sm_diags_add(extra, f->path, 0, 0,
                                         "cannot save it as the last good version in %s: %s",
                                         lg_dir, strerror(-k));
        }
        for (size_t i = 0; i < l->n_files && r >= 0; i++)
                if (l->files[i].status == SM_MANIFEST_FILE_REMOVED &&
                    unlinkat(lgfd, l->files[i].name, 0) < 0 && errno != ENOENT)
                        r = sm_diags_add(extra, l->files[i].path, 0, 0,
                                         "cannot forget its last good copy in %s: %s", lg_dir,
                                         strerror(errno));
        /* The renames and unlinks are durable only once the directory is. */
        if (r >= 0 && fsync(lgfd) < 0)
                r = sm_diags_add(extra, lg_dir, 0, 0, "cannot sync: %s", strerror(errno));
        close(lgfd);
        return r < 0 ? r : 0;
}

static int set_reason(sm_manifest_dir_file *f, const char *fmt, ...) _printf_(2, 3);
static int set_reason(sm_manifest_dir_file *f, const char *fmt, ...)
{
        va_list ap;
        char *s;

        va_start(ap, fmt);
        s = sm_vstrf(fmt, ap);
        va_end(ap);
        if (!s)
                return -ENOMEM;
        free(f->reason);
        f->reason = s;
        return 0;
}

/* A file whose current content is not in force: its last good copy stays,
 * or it is failed (or refused) and the load incomplete. */
static int settle_unusable(const sm_manifest_dir_options *o, candidate *c, sm_manifest_dir_file *f,
                           bool refused)
{
        char when[21];
        int r;

        r = parse_last_good(c, f);
        if (r < 0)
                return r;
        if (c->lg) {
                f->status = SM_MANIFEST_FILE_KEPT_LAST_GOOD;
                f->last_good_path = strdup(c->lg_path);
                if (!f->last_good_path)
                        return -ENOMEM;
                f->last_good_time = c->lg_time;
                sm_format_iso8601(c->lg_time, when);
                return sm_diags_add(&f->diags, f->path, 0, 0,
                                    "keeping the last good version from %s (%s)", when, c->lg_path);
        }
        f->status = refused ? SM_MANIFEST_FILE_REFUSED : SM_MANIFEST_FILE_FAILED;
        /* Without a state_dir (validate) there is no last good to speak of. */
        if (!o->state_dir)
                return 0;
        return sm_diags_add(&f->diags, f->path, 0, 0,
                            "not in force and no last good version: nothing may be deleted on "
                            "its account until it loads");
}

static int finish_diags(sm_manifest_load *l, sm_diags *extra)
{
        int r;

        for (size_t i = 0; i < l->n_files; i++) {
                sm_manifest_dir_file *f = &l->files[i];

                diags_sort_unique(&f->diags);
                for (size_t j = 0; j < f->diags.n; j++) {
                        r = diags_copy_one(&l->diags, &f->diags.items[j]);
                        if (r < 0)
                                return r;
                }
        }
        r = sm_diags_take(&l->diags, extra);
        if (r < 0)
                return r;
        diags_sort_unique(&l->diags);
        return 0;
}

static int cmp_file(const void *a, const void *b)
{
        const sm_manifest_dir_file *x = a, *y = b;

        return strcmp(x->name, y->name);
}

int sm_manifest_dir_load(const sm_manifest_dir_options *o, sm_manifest_load **ret)
{
        sm_manifest_load *l = NULL;
        candidate *cands = NULL;
        size_t n_cands = 0, files_cap = 0, n_names = 0, n_lg_names = 0;
        char **names = NULL, **lg_names = NULL, *lg_dir = NULL;
        sm_diags extra = {0}, build = {0}, retry = {0};
        sm_desired *desired = NULL;
        bool first_ok = false;
        int dfd = -1, lgfd = -1, r;
        struct stat st;

        if (!o || isempty(o->dir) || !ret)
                return -EINVAL;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->dir = strdup(o->dir);
        if (!l->dir) {
                r = -ENOMEM;
                goto fail;
        }

        /* The directory itself: if it cannot be read or trusted there is
         * no model at all (an empty one would delete everything). */
        dfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fstat(dfd, &st) < 0) {
                r = sm_diags_add(&extra, o->dir, 0, 0, "cannot read the manifest directory: %s",
                                 strerror(errno));
                if (r < 0)
                        goto fail;
                goto done;
        }
        if (o->check_trust) {
                char why[SM_TRUST_WHY_MAX];

                if (!sm_file_trusted(&st, o->trusted_uid, why, sizeof(why))) {
                        r = sm_diags_add(&extra, o->dir, 0, 0,
                                         "refusing the manifest directory: it is %s", why);
                        if (r < 0)
                                goto fail;
                        goto done;
                }
        }
        r = list_dir(dfd, &names, &n_names);
        if (r == -ENOMEM)
                goto fail;
        if (r < 0) {
                r = sm_diags_add(&extra, o->dir, 0, 0, "cannot list the manifest directory: %s",
                                 strerror(-r));
                if (r < 0)
                        goto fail;
                goto done;
        }

        if (o->state_dir) {
                lg_dir = path_join(o->state_dir, LAST_GOOD_SUBDIR);
                if (!lg_dir) {
                        r = -ENOMEM;
                        goto fail;
                }
                lgfd = open_last_good_dir(o, lg_dir, false, &extra);
                if (lgfd == -ENOMEM) {
                        r = lgfd;
                        goto fail;
                }
                if (lgfd >= 0) {
                        r = list_dir(lgfd, &lg_names, &n_lg_names);
                        if (r == -ENOMEM)
                                goto fail;
                }
        }

        cands = calloc(n_names ? n_names : 1, sizeof(*cands));
        if (!cands) {
                r = -ENOMEM;
                goto fail;
        }

        /* Each file alone: read it, parse it, and find its last good copy. */
        for (size_t i = 0; i < n_names; i++) {
                const char *why = NULL;
                _cleanup_free_ char *path = path_join(o->dir, names[i]);
                candidate *c;
                sm_manifest_dir_file *f;
                open_outcome out;
                char *reason = NULL;
                size_t idx;

                if (!path) {
                        r = -ENOMEM;
                        goto fail;
                }
                if (!sm_manifest_dir_name_is_candidate(names[i], &why)) {
                        r = add_file(l, &files_cap, names[i], path, SM_MANIFEST_FILE_IGNORED, why,
                                     NULL);
                        if (r < 0)
                                goto fail;
                        continue;
                }
                r = add_file(l, &files_cap, names[i], path, SM_MANIFEST_FILE_OK, NULL, &idx);
                if (r < 0)
                        goto fail;
                c = &cands[n_cands++];
                c->file = idx;
                f = &l->files[idx];
                r = read_last_good(lgfd, lg_dir, names[i], c);
                if (r < 0)
                        goto fail;

                out = read_candidate(dfd, names[i], path, o, &c->data, &c->len, &reason);
                if (out != OPEN_OK) {
                        f->reason = reason ? reason : strdup("cannot read");
                        r = f->reason ? sm_diags_add(&f->diags, f->path, 0, 0, "%s%s",
                                                     out == OPEN_REFUSED ? "refused: " : "",
                                                     f->reason)
                                      : -ENOMEM;
                        if (r >= 0)
                                r = settle_unusable(o, c, f, out == OPEN_REFUSED);
                        if (r < 0)
                                goto fail;
                        continue;
                }
                r = sm_manifest_file_parse(f->path, c->data, c->len, &c->cur, &f->diags);
                if (r == -ENOMEM)
                        goto fail;
                if (r < 0) {
                        c->cur = NULL;
                        r = set_reason(f, "%zu error%s", f->diags.n, f->diags.n == 1 ? "" : "s");
                        if (r >= 0)
                                r = settle_unusable(o, c, f, false);
                        if (r < 0)
                                goto fail;
                }
        }

        /* Last good copies of names no longer in the directory: removed
         * files, each a deletion request. */
        for (size_t i = 0; i < n_lg_names; i++) {
                _cleanup_free_ char *path = NULL;

                if (!sm_manifest_dir_name_is_candidate(lg_names[i], NULL) ||
                    sorted_contains(names, n_names, lg_names[i]))
                        continue;
                path = path_join(o->dir, lg_names[i]);
                if (!path) {
                        r = -ENOMEM;
                        goto fail;
                }
                r = add_file(l, &files_cap, lg_names[i], path, SM_MANIFEST_FILE_REMOVED,
                             "removed: its objects are to be deleted", NULL);
                if (r < 0)
                        goto fail;
        }

        /* All files together. */
        r = try_build(cands, n_cands, &desired, &build);
        if (r == -ENOMEM)
                goto fail;
        first_ok = r >= 0;
        if (!first_ok && o->state_dir) {
                /* Hold back what changed since the last good build: first
                 * the changed files the errors name, then all of them. */
                for (unsigned step = 0; step < 2 && !desired; step++) {
                        bool any = false;

                        for (size_t i = 0; i < n_cands; i++) {
                                candidate *c = &cands[i];

                                if (!candidate_changed(c) || c->held)
                                        continue;
                                if (step == 0 && !diags_name(&build, l->files[c->file].path))
                                        continue;
                                c->held = true;
                                any = true;
                                r = parse_last_good(c, &l->files[c->file]);
                                if (r < 0)
                                        goto fail;
                        }
                        if (!any)
                                continue;
                        sm_diags_done(&retry);
                        r = try_build(cands, n_cands, &desired, &retry);
                        if (r == -ENOMEM)
                                goto fail;
                }
        }
        r = distribute_diags(l, cands, n_cands, &build, &extra);
        if (r >= 0 && !desired)
                r = distribute_diags(l, cands, n_cands, &retry, &extra);
        if (r < 0)
                goto fail;
        if (desired)
                for (size_t i = 0; i < n_cands; i++) {
                        candidate *c = &cands[i];
                        sm_manifest_dir_file *f = &l->files[c->file];

                        if (!c->held)
                                continue;
                        r = set_reason(f, "conflicts with other manifests");
                        if (r >= 0)
                                r = sm_diags_add(&f->diags, f->path, 0, 0,
                                                 "not applied: it conflicts with other manifests");
                        if (r >= 0)
                                r = settle_unusable(o, c, f, false);
                        if (r < 0)
                                goto fail;
                }

        if (desired && o->state_dir) {
                r = persist_last_good(o, lg_dir, l, cands, n_cands, &extra);
                if (r < 0)
                        goto fail;
        }

done:
        l->desired = desired;
        desired = NULL;
        l->complete = l->desired != NULL;
        l->valid = l->desired != NULL && first_ok;
        for (size_t i = 0; i < l->n_files; i++) {
                sm_manifest_file_status s = l->files[i].status;

                if (s == SM_MANIFEST_FILE_FAILED || s == SM_MANIFEST_FILE_REFUSED)
                        l->complete = false;
                if (s != SM_MANIFEST_FILE_OK && s != SM_MANIFEST_FILE_IGNORED &&
                    s != SM_MANIFEST_FILE_REMOVED)
                        l->valid = false;
        }
        if (l->n_files > 1)
                qsort(l->files, l->n_files, sizeof(*l->files), cmp_file);
        r = finish_diags(l, &extra);
        if (r < 0)
                goto fail;
        *ret = l;
        l = NULL;
        r = 0;
fail:
        for (size_t i = 0; i < n_cands; i++)
                candidate_done(&cands[i]);
        free(cands);
        if (names)
                strv_free_n(names, n_names);
        if (lg_names)
                strv_free_n(lg_names, n_lg_names);
        free(lg_dir);
        if (dfd >= 0)
                close(dfd);
        if (lgfd >= 0)
                close(lgfd);
        sm_diags_done(&extra);
        sm_diags_done(&build);
        sm_diags_done(&retry);
        sm_desired_free(desired);
        sm_manifest_load_free(l);
        return r;
}

json_t *sm_manifest_load_to_json(const sm_manifest_load *l)
{
        json_t *files = json_array(), *root = NULL, *diags = NULL;

        if (!files)
                return NULL;
        for (size_t i = 0; i < l->n_files; i++) {
                const sm_manifest_dir_file *f = &l->files[i];
                json_t *lg = json_null(), *fd = sm_diags_to_json(&f->diags), *obj;
                char when[21];

                if (f->last_good_path) {
                        sm_format_iso8601(f->last_good_time, when);
                        lg = json_pack("{s:s,s:s}", "path", f->last_good_path, "time", when);
                }
                obj = (lg && fd) ? json_pack("{s:s,s:s,s:s,s:s?,s:o,s:o}", "name", f->name, "path",
                                             f->path, "status",
                                             sm_manifest_file_status_to_string(f->status), "reason",
                                             f->reason, "last_good", lg, "diagnostics", fd)
                                 : NULL;
                if (!obj) {
                        if (!lg || !fd) {
                                json_decref(lg);
                                json_decref(fd);
                        }
                        goto fail;
                }
                if (json_array_append_new(files, obj) < 0)
                        goto fail;
        }
        diags = sm_diags_to_json(&l->diags);
        if (!diags)
                goto fail;
        root = json_pack("{s:s,s:b,s:b,s:o,s:o}", "directory", l->dir, "valid", l->valid,
                         "complete", l->complete, "files", files, "diagnostics", diags);
        return root;
fail:
        json_decref(files);
        return NULL;
}
