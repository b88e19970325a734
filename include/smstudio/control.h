/* SPDX-License-Identifier: Apache-2.0 */
/* The io.smstudio control interface (src/daemon/io.smstudio.varlink) on the
 * daemon's varlink server: socket.path of the daemon config (or the socket
 * systemd passed, sd_listen_fds()), mode 0660 and group socket.group; the
 * privileged methods (Reconcile, Pause, Resume, Approve, SetLogLevel) only
 * for uid 0 and members of admin_group, checked with SO_PEERCRED. Every
 * privileged call and every refusal is logged with the peer's uid. */
#pragma once

#include <uv.h>

#include "smstudio/daemon.h"

/* The interface description, generated from io.smstudio.varlink at build
 * time (GetInterfaceDescription serves it). */
extern const char sm_control_idl[];

typedef struct sm_control sm_control;

/* Open the socket for d (borrowed; must outlive the control). 0 or -errno
 * (logged). */
int sm_control_new(uv_loop_t *loop, sm_daemon *d, sm_control **ret);

/* Close the socket and every connection. Accepts NULL; returns NULL. */
sm_control *sm_control_free(sm_control *c);
