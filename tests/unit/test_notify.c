/* notify: the sd_notify datagram reaches a path socket and an abstract
 * one, and bad or missing NOTIFY_SOCKET values are handled. */
#include "check.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "swiftfs/notify.h"

/* Bind a datagram socket at name ("/path" or "@abstract"). */
static int listen_at(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memcpy(sa.sun_path, name, n);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
				    (name[0] == '@' ? 0 : 1));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, len) != 0) {
		perror("bind");
		exit(2);
	}
	return fd;
}

static void check_roundtrip(const char *name)
{
	char got[256];
	int fd = listen_at(name);
	setenv("NOTIFY_SOCKET", name, 1);
	CHECK(notify_enabled());
	CHECK_INT(notify_send("READY=1\nSTATUS=Mounted c on /mnt"), 0);
	ssize_t n = recv(fd, got, sizeof(got) - 1, MSG_DONTWAIT);
	CHECK_INT(n, (ssize_t)strlen("READY=1\nSTATUS=Mounted c on /mnt"));
	got[n > 0 ? n : 0] = '\0';
	CHECK_STR(got, "READY=1\nSTATUS=Mounted c on /mnt");
	close(fd);
}

int main(void)
{
	char path[64];

	unsetenv("NOTIFY_SOCKET");
	CHECK(!notify_enabled());
	CHECK_INT(notify_send("READY=1"), 0); /* nothing to tell */

	snprintf(path, sizeof(path), "/tmp/swiftfs-notify-%d.sock", (int)getpid());
	unlink(path);
	check_roundtrip(path);
	unlink(path);

	snprintf(path, sizeof(path), "@swiftfs-notify-%d", (int)getpid());
	check_roundtrip(path);

	setenv("NOTIFY_SOCKET", "relative/path", 1);
	CHECK_INT(notify_send("READY=1"), -EINVAL);
	setenv("NOTIFY_SOCKET", "/nonexistent/swiftfs-notify.sock", 1);
	CHECK_INT(notify_send("READY=1"), -ENOENT);

	CHECK_DONE();
}
