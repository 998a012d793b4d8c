/* sd_notify by hand: the protocol is one datagram of newline-separated
 * VAR=VALUE lines to the socket in $NOTIFY_SOCKET, a filesystem path or,
 * with a leading '@', a Linux abstract socket name. A dozen lines do not
 * justify a libsystemd dependency. The variable is left in the
 * environment: swiftfs starts no children that could misuse it. */
#include "swiftfs/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

bool notify_enabled(void)
{
	const char *s = getenv("NOTIFY_SOCKET");
	return s && *s;
}

int notify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n;
	int fd = -1;
	int rc = 0;

	if (!path || !*path)
		return 0;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
				    (path[0] == '@' ? 0 : 1));
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
		rc = -errno;
	close(fd);
	return rc;
}
