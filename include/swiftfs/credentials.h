/* Credentials: python-swiftclient's environment names (ST_AUTH, ST_USER,
 * ST_KEY; OS_STORAGE_URL, OS_AUTH_TOKEN; OS_* for Keystone), taken either
 * from the process environment or from a KEY=VALUE file that may be
 * written as a sourced shell env file (`export` prefixes, quotes,
 * comments). A file readable by group or others is refused. Values are
 * secrets: never log them. */
#ifndef SWIFTFS_CREDENTIALS_H
#define SWIFTFS_CREDENTIALS_H

#include <stddef.h>

struct swiftfs_creds {
	size_t n;
	char **keys;
	char **vals;
};

/* Load from a file. 0, or -errno with a message in msg (never a value). */
int creds_load_file(const char *path, struct swiftfs_creds *c, char *msg, size_t msglen);
/* Parse the text of a file (for tests and for creds_load_file). */
int creds_parse(const char *text, struct swiftfs_creds *c, char *msg, size_t msglen);
/* Take the known variables from the environment. */
int creds_load_env(struct swiftfs_creds *c);
/* Value or NULL; empty values count as absent. */
const char *creds_get(const struct swiftfs_creds *c, const char *key);
void creds_free(struct swiftfs_creds *c);

#endif
