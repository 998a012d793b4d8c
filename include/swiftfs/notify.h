/* systemd readiness notification (sd_notify(3)) without libsystemd: one
 * datagram on the AF_UNIX socket named by $NOTIFY_SOCKET ("/path" or
 * "@abstract"). Without NOTIFY_SOCKET nothing is sent. */
#ifndef SWIFTFS_NOTIFY_H
#define SWIFTFS_NOTIFY_H

#include <stdbool.h>

/* Whether $NOTIFY_SOCKET is set (swiftfs runs under Type=notify). */
bool notify_enabled(void);
/* Send state (e.g. "READY=1\nSTATUS=mounted"). 0 when sent or when
 * there is no socket; -errno when sending failed. */
int notify_send(const char *state);

#endif
