/* Keystone v3 (OpenStack Identity) login: POST {OS_AUTH_URL}/v3/auth/tokens
 * with a password or an application credential, take the token from the
 * X-Subject-Token header and the Swift storage URL from the catalog
 * (service type object-store, chosen by OS_REGION_NAME and OS_INTERFACE,
 * or OS_STORAGE_URL when set). The parts that need no network (request
 * body, response parsing, catalog choice) are separate functions so that
 * unit tests run them on captured Keystone responses. Credentials, the
 * request body and tokens are secrets: never log them. */
#ifndef SWIFTFS_KEYSTONE_H
#define SWIFTFS_KEYSTONE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct swiftfs_creds;
struct swiftfs_client;
struct swiftfs_keystone;

/* A token and what came with it. */
struct swiftfs_keystone_token {
	char *token;        /* secret */
	char *storage_url;  /* from the catalog, or OS_STORAGE_URL */
	char *region;       /* region of the chosen endpoint (NULL with OS_STORAGE_URL) */
	char *interface;    /* public / internal / admin (NULL with OS_STORAGE_URL) */
	time_t issued_at;   /* server clock, UTC */
	time_t expires_at;  /* server clock, UTC */
};

/* Does c hold Keystone credentials (OS_AUTH_URL)? */
bool keystone_wanted(const struct swiftfs_creds *c);

/* Check and copy the OS_* variables. 0, or -errno with one clear line in
 * msg naming the missing or bad variable (never a value of a secret). */
int keystone_new(const struct swiftfs_creds *c, struct swiftfs_keystone **out, char *msg,
		 size_t msglen);
void keystone_free(struct swiftfs_keystone *k);

/* POST target: OS_AUTH_URL with /v3 added when missing, + /auth/tokens. */
const char *keystone_tokens_url(const struct swiftfs_keystone *k);
/* "user NAME in project NAME" or "application credential ID", for logs. */
const char *keystone_who(const struct swiftfs_keystone *k);

/* The JSON body of the token request (malloc'd; holds the password or the
 * secret: wipe and free it). unscoped: a password login without project
 * scope (used to tell a wrong project from a wrong password). */
int keystone_request_body(const struct swiftfs_keystone *k, bool unscoped, char **out);

/* Parse a 201 body: times, and the storage URL (catalog or override).
 * t->token is left alone. 0, or -errno with a message. */
int keystone_parse_token(const struct swiftfs_keystone *k, const char *body, size_t len,
			 struct swiftfs_keystone_token *t, char *msg, size_t msglen);

enum {
	/* one attempt, no retries: a renewal ahead of time, tried again later */
	KEYSTONE_LOGIN_ONCE = 1 << 0,
	/* on a 401 of a password login, try once more without project scope
	 * to tell a wrong project from a wrong password. Costs a second failed
	 * login when the password is wrong (lockout counters!): use it for the
	 * first login only, which a person watches. */
	KEYSTONE_LOGIN_DIAGNOSE = 1 << 1,
};

/* Log in: request, response, token. 0, or -errno with a message (which
 * step, HTTP status, the likely cause); -EKEYREJECTED when Keystone
 * refused the credentials (401). flags: KEYSTONE_LOGIN_*. */
int keystone_login(struct swiftfs_keystone *k, struct swiftfs_client *c, int flags,
		   struct swiftfs_keystone_token *t, char *msg, size_t msglen);

/* Seconds before expiry to renew a token that lives life seconds: a
 * quarter of its life, at most 5 minutes. */
long keystone_renew_margin(long life);

void keystone_token_free(struct swiftfs_keystone_token *t);

#endif
