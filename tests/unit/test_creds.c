/* credentials: env-file syntax, permissions check. */
#include "check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "swiftfs/credentials.h"

int main(void)
{
	struct swiftfs_creds c = { 0 };
	char msg[256];
	const char *text =
		"# site token\n"
		"export OS_STORAGE_URL=http://127.0.0.1:1/v1/AUTH_x\n"
		"OS_AUTH_TOKEN='tok en#1'\n"
		"  ST_USER=\"a\\\"b\" # comment\n"
		"ST_KEY=plain # trailing\r\n"
		"\n"
		"EMPTY=\n";
	CHECK_INT(creds_parse(text, &c, msg, sizeof(msg)), 0);
	CHECK_STR(creds_get(&c, "OS_STORAGE_URL"), "http://127.0.0.1:1/v1/AUTH_x");
	CHECK_STR(creds_get(&c, "OS_AUTH_TOKEN"), "tok en#1");
	CHECK_STR(creds_get(&c, "ST_USER"), "a\"b");
	CHECK_STR(creds_get(&c, "ST_KEY"), "plain");
	CHECK(creds_get(&c, "EMPTY") == NULL);
	CHECK(creds_get(&c, "MISSING") == NULL);
	creds_free(&c);

	/* words as the shell reads them: '#' inside a word is part of it,
	 * backslashes outside quotes, quotes joined to a word */
	CHECK_INT(creds_parse("OS_PASSWORD=abc#123\nA=pa\\ss\nB='it'\\''s'\n"
			      "C=\"x\\`y\" # c\n", &c, msg, sizeof(msg)), 0);
	CHECK_STR(creds_get(&c, "OS_PASSWORD"), "abc#123");
	CHECK_STR(creds_get(&c, "A"), "pass");
	CHECK_STR(creds_get(&c, "B"), "it's");
	CHECK_STR(creds_get(&c, "C"), "x`y");
	creds_free(&c);

	/* Horizon's openrc: its shell lines are understood or skipped; the
	 * password it reads from the terminal is not set */
	const char *openrc =
		"#!/usr/bin/env bash\n"
		"export OS_AUTH_URL=http://k/v3\n"
		"export OS_TENANT_ID=old\n"
		"export OS_USER_DOMAIN_NAME=\"Default\"\n"
		"if [ -z \"$OS_USER_DOMAIN_NAME\" ]; then unset OS_USER_DOMAIN_NAME; fi\n"
		"unset OS_TENANT_ID\n"
		"unset OS_TENANT_NAME\n"
		"export OS_USERNAME=\"alice\"\n"
		"echo \"Please enter your OpenStack Password for project as user $OS_USERNAME: \"\n"
		"read -sr OS_PASSWORD_INPUT\n"
		"export OS_PASSWORD=$OS_PASSWORD_INPUT\n"
		"export OS_REGION_NAME=\"RegionOne\"\n"
		"X=secret\nY=$X\nZ=${X} # same\n";
	CHECK_INT(creds_parse(openrc, &c, msg, sizeof(msg)), 0);
	CHECK_STR(creds_get(&c, "OS_AUTH_URL"), "http://k/v3");
	CHECK_STR(creds_get(&c, "OS_USER_DOMAIN_NAME"), "Default");
	CHECK(creds_get(&c, "OS_TENANT_ID") == NULL);
	CHECK_STR(creds_get(&c, "OS_USERNAME"), "alice");
	CHECK(creds_get(&c, "OS_PASSWORD") == NULL);
	CHECK_STR(creds_get(&c, "OS_REGION_NAME"), "RegionOne");
	CHECK_STR(creds_get(&c, "Y"), "secret");
	CHECK_STR(creds_get(&c, "Z"), "secret");
	creds_free(&c);
	/* other commands are still refused */
	CHECK_INT(creds_parse("curl http://x\n", &c, msg, sizeof(msg)), -EINVAL);
	creds_free(&c);

	CHECK_INT(creds_parse("NOEQUALS\n", &c, msg, sizeof(msg)), -EINVAL);
	creds_free(&c);
	CHECK_INT(creds_parse("A='unterminated\n", &c, msg, sizeof(msg)), -EINVAL);
	creds_free(&c);

	char path[] = "/tmp/swiftfs-creds-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, "ST_KEY=k\n", 9) == 9);
	close(fd);
	chmod(path, 0600);
	CHECK_INT(creds_load_file(path, &c, msg, sizeof(msg)), 0);
	CHECK_STR(creds_get(&c, "ST_KEY"), "k");
	creds_free(&c);
	chmod(path, 0644);
	CHECK_INT(creds_load_file(path, &c, msg, sizeof(msg)), -EPERM);
	CHECK(strstr(msg, "chmod 600") != NULL);
	CHECK(strstr(msg, "k\n") == NULL);
	/* a file another user owns is refused, whatever its mode */
	chmod(path, 0600);
	if (geteuid() == 0 && chown(path, 12345, 12345) == 0) {
		CHECK_INT(creds_load_file(path, &c, msg, sizeof(msg)), -EPERM);
		CHECK(strstr(msg, "belongs to uid 12345") != NULL);
		CHECK(chown(path, 0, 0) == 0);
	}
	creds_free(&c);
	unlink(path);
	CHECK(creds_load_file(path, &c, msg, sizeof(msg)) == -ENOENT);
	creds_free(&c);
	CHECK_DONE();
}
