/* SPDX-License-Identifier: Apache-2.0 */
/* Files the daemon keeps in its state directory. */
#pragma once

#include <stddef.h>

/* Replace dirfd/name with data (mode 0600): a temporary dotfile in the same
 * directory, written and fsynced, renamed over name, then the directory
 * fsynced, so a crash at any point leaves either the old content or the new
 * one, never a mix. dirfd may be AT_FDCWD with a path in name. 0 or -errno. */
int sm_write_file_atomic_at(int dirfd, const char *name, const void *data, size_t len);
