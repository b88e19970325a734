/* SPDX-License-Identifier: Apache-2.0 */
/* Files the daemon keeps in its state directory, and the rule for files it
 * takes orders from. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Replace dirfd/name with data (mode 0600): a temporary dotfile in the same
 * directory, written and fsynced, renamed over name, then the directory
 * fsynced, so a crash at any point leaves either the old content or the new
 * one, never a mix. dirfd may be AT_FDCWD with a path in name. 0 or -errno. */
int sm_write_file_atomic_at(int dirfd, const char *name, const void *data, size_t len);

/* Writes a file's content to f; 0 or -errno (a failed stdio call: -EIO). */
typedef int (*sm_file_writer_fn)(FILE *f, void *userdata);

/* The same, the content produced a piece at a time by write_fn, so a large
 * file never needs to be in memory whole. 0, write_fn's error, or -errno. */
int sm_write_file_atomic_with(int dirfd, const char *name, sm_file_writer_fn write_fn,
                              void *userdata);

/* Room for any reason sm_file_trusted() gives. */
#define SM_TRUST_WHY_MAX 96

/* Whether a file or directory may give the daemon orders (config, manifests,
 * the lifecycle script), like sudoers.d: owned by root or trusted_uid, and
 * writable by neither group nor others. When not, why (of why_size bytes,
 * SM_TRUST_WHY_MAX is enough) says so, e.g. "owned by uid 1000, not root".
 * Allocates nothing, so it cannot fail open. */
bool sm_file_trusted(const struct stat *st, uid_t trusted_uid, char *why, size_t why_size);
