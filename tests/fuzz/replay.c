/* SPDX-License-Identifier: Apache-2.0 */
/* Corpus replay: runs every file named on the command line, or found
 * directly inside a directory named there, through the target's
 * LLVMFuzzerTestOneInput. Built for every fuzz target with any compiler, so
 * seeds and past crashers stay regression tests where libFuzzer is absent.
 * Each input sits in a buffer of exactly its size, so ASan catches any read
 * past its end, as under libFuzzer. Exit 77 (meson: skipped) if no input. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

/* Larger inputs are not seeds: refuse rather than hide a runaway file. */
#define REPLAY_MAX_INPUT (64u * 1024u * 1024u)

static int replay_file(const char *path)
{
        struct stat st;
        uint8_t *buf = NULL;
        size_t len = 0;
        int fd, r = -EIO;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto done;
        }
        if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > REPLAY_MAX_INPUT) {
                r = -EINVAL;
                goto done;
        }
        /* malloc(0) may return NULL; libFuzzer never passes NULL. */
        buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
        if (!buf) {
                r = -ENOMEM;
                goto done;
        }
        while (len < (size_t)st.st_size) {
                ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = n < 0 ? -errno : -EIO;
                        goto done;
                }
                len += (size_t)n;
        }
        LLVMFuzzerTestOneInput(buf, len);
        r = 0;
done:
        free(buf);
        close(fd);
        return r;
}

static int replay_dir(const char *dir, unsigned *count)
{
        struct dirent **list = NULL;
        int n, r = 0;

        /* Sorted, so a failure names the same input on every run. */
        n = scandir(dir, &list, NULL, alphasort);
        if (n < 0)
                return -errno;
        for (int i = 0; i < n; i++) {
                char *path = NULL;
                struct stat st;

                if (list[i]->d_name[0] == '.' || r < 0)
                        goto next;
                if (asprintf(&path, "%s/%s", dir, list[i]->d_name) < 0) {
                        path = NULL;
                        r = -ENOMEM;
                        goto next;
                }
                if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                        goto next;
                r = replay_file(path);
                if (r < 0)
                        fprintf(stderr, "%s: %s\n", path, strerror(-r));
                else
                        (*count)++;
        next:
                free(path);
                free(list[i]);
        }
        free(list);
        return r;
}

int main(int argc, char **argv)
{
        unsigned count = 0;
        int r;

        if (argc < 2) {
                fprintf(stderr, "usage: %s CORPUS_DIR|FILE...\n", argv[0]);
                return EXIT_FAILURE;
        }
        if (LLVMFuzzerInitialize)
                LLVMFuzzerInitialize(&argc, &argv);

        for (int i = 1; i < argc; i++) {
                struct stat st;

                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        return EXIT_FAILURE;
                }
                if (S_ISDIR(st.st_mode)) {
                        r = replay_dir(argv[i], &count);
                } else {
                        r = replay_file(argv[i]);
                        if (r >= 0)
                                count++;
                }
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(-r));
                        return EXIT_FAILURE;
                }
        }
        printf("%u input(s) replayed\n", count);
        return count > 0 ? EXIT_SUCCESS : 77;
}
