/* Authentication: how to obtain a token and storage URL, and how to get
 * a new one when Swift answers 401.
 *   v1 (TempAuth, ST_AUTH/ST_USER/ST_KEY): GET the auth URL; on 401, log
 *     in again once.
 *   pre-auth (OS_STORAGE_URL/OS_AUTH_TOKEN): the token is given; on 401,
 *     re-read the credentials file (sites renew tokens in a file) and use
 *     the new token if it differs, else fail with EACCES.
 *   Keystone v3 (OS_AUTH_URL + password or application credential, see
 *     keystone.h): log in at start; renew before the token expires (when a
 *     quarter of its life, at most 5 minutes, is left) and on 401.
 * The current token is guarded by a mutex and carries a generation number
 * so that a burst of 401s from many threads causes one renewal, not many. */
#ifndef SWIFTFS_SWIFT_AUTH_H
#define SWIFTFS_SWIFT_AUTH_H

#include <stddef.h>
#include <time.h>

struct swiftfs_auth;
struct swiftfs_client;
struct swiftfs_creds;

enum swiftfs_auth_mode {
	SWIFTFS_AUTH_V1,
	SWIFTFS_AUTH_PREAUTH,
	SWIFTFS_AUTH_KEYSTONE,
};

/* Pick the mode from the credentials (file if given, else environment).
 * 0, or -errno with a message in msg. */
int swift_auth_new(const char *creds_file, struct swiftfs_auth **out, char *msg, size_t msglen);
void swift_auth_free(struct swiftfs_auth *a);
enum swiftfs_auth_mode swift_auth_mode(const struct swiftfs_auth *a);

/* First login (v1) or token check. msg gets one clear line on failure:
 * which step, which HTTP status. */
int swift_auth_login(struct swiftfs_auth *a, struct swiftfs_client *c, char *msg, size_t msglen);

/* Copy the current token and storage URL (caller frees both). gen gets
 * the generation the copies belong to. A Keystone token near its expiry
 * is renewed first (a failed renewal is logged; the old token is used
 * while it lasts). */
int swift_auth_get(struct swiftfs_auth *a, char **token, char **storage_url, unsigned *gen);

/* A request made with generation gen got 401. Renew unless another
 * thread has already done so. 0 when a new token is in place. */
int swift_auth_renew(struct swiftfs_auth *a, struct swiftfs_client *c, unsigned gen);
/* Keystone: start the thread that renews the token before it expires
 * (after any fork: fork keeps only the calling thread). Until then, and
 * if it cannot start, the request that finds the token due renews it. */
void swift_auth_start(struct swiftfs_auth *a);
/* Stop Keystone's renewal thread (before the client it uses is freed). */
void swift_auth_stop(struct swiftfs_auth *a);
/* Swift answered a request made with token gen without a 401. A token
 * refused before any answer like that, soon after it was issued, is not
 * renewed again (a user Swift refuses would log in once per request). */
void swift_auth_accepted(struct swiftfs_auth *a, unsigned gen);

/* Re-read the credentials file (SIGHUP): a pre-auth token goes into use
 * at once, TempAuth credentials log in again. 0 with what happened in
 * msg, or -errno with the reason in msg (the old credentials stay). */
int swift_auth_reload(struct swiftfs_auth *a, struct swiftfs_client *c, char *msg, size_t msglen);

/* OS_CACERT from the credentials (a CA bundle), or NULL. */
const char *swift_auth_cacert(const struct swiftfs_auth *a);

/* When the current token expires (0 when unknown). */
time_t swift_auth_expires(struct swiftfs_auth *a);

#endif
