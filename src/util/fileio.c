/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smstudio/fileio.h"
#include "smstudio/macro.h"
#include "smstudio/strbuf.h"

/* fsync the directory that holds name (relative to dirfd), so the rename
 * itself survives a crash. */
static int sync_dir_of(int dirfd, const char *name)
{
        _cleanup_free_ char *copy = strdup(name);
        int fd, r = 0;

        if (!copy)
                return -ENOMEM;
        fd = openat(dirfd, dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                r = -errno;
        close(fd);
        return r;
}

int sm_write_file_atomic_with(int dirfd, const char *name, sm_file_writer_fn write_fn,
                              void *userdata)
{
        _cleanup_free_ char *copy = strdup(name), *tmp = NULL;
        FILE *f = NULL;
        int fd = -1, r;

        if (!copy)
                return -ENOMEM;
        /* A dotfile next to the target: never mistaken for a real file when
         * a directory is listed, and on the same file system for rename. */
        {
                char *slash = strrchr(copy, '/');

                if (slash) {
                        *slash = '\0';
                        tmp = sm_strf("%s/.%s.XXXXXX", copy, slash + 1);
                } else {
                        tmp = sm_strf(".%s.XXXXXX", copy);
                }
        }
        if (!tmp)
                return -ENOMEM;
        for (unsigned attempt = 0;; attempt++) {
                char *x = tmp + strlen(tmp) - 6;
                unsigned v = (unsigned)getpid() * 2654435761u + attempt * 7919u;

                for (int i = 0; i < 6; i++, v /= 36)
                        x[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
                fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd >= 0)
                        break;
                if (errno != EEXIST || attempt >= 64)
                        return -errno;
        }
        f = fdopen(fd, "w");
        if (!f) {
                r = -errno;
                close(fd);
                goto fail;
        }
        r = write_fn(f, userdata);
        if (fflush(f) != 0 && r == 0)
                r = -errno;
        if (r == 0 && fsync(fileno(f)) < 0)
                r = -errno;
        if (fclose(f) != 0 && r == 0)
                r = -errno;
        if (r < 0)
                goto fail;
        if (renameat(dirfd, tmp, dirfd, name) < 0) {
                r = -errno;
                goto fail;
        }
        return sync_dir_of(dirfd, name);
fail:
        unlinkat(dirfd, tmp, 0);
        return r;
}

typedef struct buffer_ref {
        const void *data;
        size_t len;
} buffer_ref;

static int write_buffer(FILE *f, void *userdata)
{
        const buffer_ref *b = userdata;

        if (b->len > 0 && fwrite(b->data, 1, b->len, f) != b->len)
                return -EIO;
        return 0;
}

int sm_write_file_atomic_at(int dirfd, const char *name, const void *data, size_t len)
{
        buffer_ref b = {data, len};

        return sm_write_file_atomic_with(dirfd, name, write_buffer, &b);
}

bool sm_file_trusted(const struct stat *st, uid_t trusted_uid, char *why, size_t why_size)
{
        bool g = st->st_mode & S_IWGRP, w = st->st_mode & S_IWOTH;

        if (st->st_uid != 0 && st->st_uid != trusted_uid) {
                if (trusted_uid == 0)
                        snprintf(why, why_size, "owned by uid %u, not root", (unsigned)st->st_uid);
                else
                        snprintf(why, why_size, "owned by uid %u, not root or uid %u",
                                 (unsigned)st->st_uid, (unsigned)trusted_uid);
                return false;
        }
        if (!g && !w)
                return true;
        snprintf(why, why_size, "writable by %s (mode %04o)",
                 g && w ? "group and others"
                 : g    ? "group"
                        : "others",
                 (unsigned)(st->st_mode & 07777));
        return false;
}
