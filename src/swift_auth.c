/* Authentication modes and token renewal (see swift_auth.h). The token
 * and storage URL are replaced together under auth->lock; readers copy
 * them out, so a renewal never frees a string another thread is using. */
#include "swiftfs/swift_auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swiftfs/credentials.h"
#include "swiftfs/keystone.h"
#include "swiftfs/log.h"
#include "swiftfs/swift_client.h"
#include "swiftfs/util.h"

struct swiftfs_auth {
	enum swiftfs_auth_mode mode;
	char *creds_file;     /* NULL: environment */
	char *cacert;         /* OS_CACERT, or NULL */
	char *auth_url;       /* v1 */
	char *user;           /* v1 */
	char *key;            /* v1 (secret) */
	struct swiftfs_keystone *ks;     /* Keystone */
	struct swiftfs_client *client;   /* Keystone: for renewals in swift_auth_get */
	pthread_mutex_t lock;
	char *token;          /* guarded by lock (secret) */
	char *storage_url;    /* guarded by lock */
	unsigned gen;         /* guarded by lock */
	time_t expires;       /* guarded by lock */
	double refresh_at;    /* guarded by lock: util_now() time to renew (Keystone), 0 never */
	/* the last failed renewal (renew_lock; at 0: none): the threads that
	 * queued up behind it get its answer instead of each logging in again */
	unsigned renew_failed_gen;
	double renew_failed_at;
	int renew_failed_rc;
	/* the auth service refused the credentials themselves at a login
	 * (HTTP 401/403; renew_lock): no login with them again until a
	 * SIGHUP brings ones that work. A Keystone that locks an account
	 * after N failed logins would otherwise lock its user out (Horizon
	 * and CLI too) for as long as the mount lives, after a password
	 * change. */
	bool creds_refused;
	/* a token Swift refuses though it was just issued (V1, Keystone):
	 * logging in again would get another it refuses, for every request */
	double got_at;         /* guarded by lock: util_now() when gen began */
	double fresh_window;   /* guarded by lock: how long a token counts as just issued */
	unsigned ok_gen;       /* atomic: the last gen Swift accepted */
	unsigned fresh_refused_gen; /* renew_lock: the gen logged as refused while fresh */
	/* Keystone: renewals before expiry run on their own thread, so no
	 * request (a FUSE call) waits for Keystone. Started by
	 * swift_auth_start, after any fork to the background. All guarded
	 * by lock. */
	pthread_cond_t renew_cond;  /* refresh_at changed, or stop */
	pthread_t renewer;
	bool renewer_started, renewer_stop;
};

/* At most this long (and half the token's life) a token Swift never
 * accepted counts as just issued. */
#define FRESH_WINDOW 30.0

/* How long a failed renewal answers for the token it tried to replace. */
#define RENEW_BACKOFF 5.0

/* One renewal at a time; a thread that waited finds gen moved on. Taken
 * before auth->lock, never while holding it. */
static pthread_mutex_t renew_lock = PTHREAD_MUTEX_INITIALIZER;

#define SWAP_PTR(x, y)                                                         \
	do {                                                                   \
		char *tmp_ = (x);                                              \
		(x) = (y);                                                     \
		(y) = tmp_;                                                    \
	} while (0)

/* A login just installed a token that lives life more seconds (-1: not
 * known). TempAuth hands out the user's current token again, with what
 * is left of its life: one about to expire is never "just issued".
 * a->lock held. */
static void note_new_token_locked(struct swiftfs_auth *a, long life)
{
	a->got_at = util_now();
	a->fresh_window = life >= 0 && (double)life / 2 < FRESH_WINDOW ? (double)life / 2 :
									  FRESH_WINDOW;
	/* memcached, where TempAuth keeps its tokens, counts whole seconds:
	 * one said to live a second or two more may be gone already */
	if (life >= 0 && life <= 2)
		a->fresh_window = 0;
}

void swift_auth_accepted(struct swiftfs_auth *a, unsigned gen)
{
	/* only forward: a late answer made with an older token does not
	 * count for the current one */
	unsigned cur = __atomic_load_n(&a->ok_gen, __ATOMIC_RELAXED);
	while ((int)(gen - cur) > 0 &&
	       !__atomic_compare_exchange_n(&a->ok_gen, &cur, gen, false, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED))
		;
}

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static int load_creds(const char *file, struct swiftfs_creds *c, char *msg, size_t msglen)
{
	if (file)
		return creds_load_file(file, c, msg, msglen);
	return creds_load_env(c);
}

int swift_auth_new(const char *creds_file, struct swiftfs_auth **out, char *msg, size_t msglen)
{
	struct swiftfs_creds c = { 0 };
	struct swiftfs_auth *a = NULL;
	int rc;

	rc = load_creds(creds_file, &c, msg, msglen);
	if (rc)
		goto out;
	a = calloc(1, sizeof(*a));
	if (!a) {
		rc = -ENOMEM;
		goto out;
	}
	pthread_mutex_init(&a->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* util_now()'s clock */
	pthread_cond_init(&a->renew_cond, &ca);
	pthread_condattr_destroy(&ca);
	a->creds_file = util_strdup0(creds_file);
	/* the daemon works from / (fuse_daemonize): a relative path is the
	 * caller's, made absolute now */
	rc = util_abs_path(creds_get(&c, "OS_CACERT"), &a->cacert);
	if (rc) {
		snprintf(msg, msglen, "cannot make OS_CACERT absolute: %s", strerror(-rc));
		goto out;
	}
	const char *where = creds_file ? "the credentials file" : "the environment";
	if (creds_get(&c, "OS_STORAGE_URL") && creds_get(&c, "OS_AUTH_TOKEN")) {
		a->mode = SWIFTFS_AUTH_PREAUTH;
		a->storage_url = strdup(creds_get(&c, "OS_STORAGE_URL"));
		a->token = strdup(creds_get(&c, "OS_AUTH_TOKEN"));
	} else if (creds_get(&c, "ST_AUTH") && creds_get(&c, "ST_USER") && creds_get(&c, "ST_KEY")) {
		a->mode = SWIFTFS_AUTH_V1;
		a->auth_url = strdup(creds_get(&c, "ST_AUTH"));
		a->user = strdup(creds_get(&c, "ST_USER"));
		a->key = strdup(creds_get(&c, "ST_KEY"));
	} else if (keystone_wanted(&c)) {
		a->mode = SWIFTFS_AUTH_KEYSTONE;
		rc = keystone_new(&c, &a->ks, msg, msglen);
		if (rc)
			goto out;
	} else if (creds_get(&c, "OS_AUTH_TOKEN") || creds_get(&c, "OS_STORAGE_URL")) {
		snprintf(msg, msglen, "%s has only one of OS_STORAGE_URL and OS_AUTH_TOKEN; "
			 "a pre-authenticated token needs both", where);
		rc = -EINVAL;
		goto out;
	} else {
		snprintf(msg, msglen, "no Swift credentials in %s: set ST_AUTH, ST_USER and ST_KEY "
			 "(TempAuth), OS_AUTH_URL with OS_USERNAME, OS_PASSWORD and OS_PROJECT_NAME "
			 "(Keystone v3), or OS_STORAGE_URL and OS_AUTH_TOKEN (pre-authenticated token)",
			 where);
		rc = -EINVAL;
		goto out;
	}
	if ((a->mode == SWIFTFS_AUTH_PREAUTH && (!a->storage_url || !a->token)) ||
	    (a->mode == SWIFTFS_AUTH_V1 && (!a->auth_url || !a->user || !a->key))) {
		rc = -ENOMEM;
		goto out;
	}
	a->gen = 1;
	*out = a;
	a = NULL;
out:
	creds_free(&c);
	swift_auth_free(a);
	return rc;
}

void swift_auth_free(struct swiftfs_auth *a)
{
	if (!a)
		return;
	swift_auth_stop(a); /* its renewal thread uses all of it */
	free(a->creds_file);
	free(a->cacert);
	free(a->auth_url);
	free(a->user);
	free_secret(a->key);
	keystone_free(a->ks);
	free_secret(a->token);
	free(a->storage_url);
	pthread_cond_destroy(&a->renew_cond);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

enum swiftfs_auth_mode swift_auth_mode(const struct swiftfs_auth *a)
{
	return a->mode;
}

/* TempAuth / v1.0: GET auth_url with X-Auth-User and X-Auth-Key. */
/* again: a login after a refusal or a reload, which asks for a new token
 * (swauth honours X-Auth-New-Token; TempAuth ignores it and hands back
 * the current token with what is left of its life, which the fresh
 * window of note_new_token_locked allows for). */
static int login_v1(struct swiftfs_auth *a, struct swiftfs_client *c, bool again, char *msg,
		    size_t msglen)
{
	struct swiftfs_req r;
	char *huser = NULL, *hkey = NULL;
	int rc;

	int klen = asprintf(&hkey, "X-Auth-Key: %s", a->key);
	if (klen < 0)
		return -ENOMEM;
	if (asprintf(&huser, "X-Auth-User: %s", a->user) < 0) {
		explicit_bzero(hkey, (size_t)klen);
		free(hkey);
		return -ENOMEM;
	}
	const char *hdrs[4] = { huser, hkey, again ? "X-Auth-New-Token: true" : NULL, NULL };
	swift_req_init(&r, "GET");
	r.url = a->auth_url;
	r.headers = hdrs;
	r.flags = SWIFT_REQ_NO_AUTH;
	rc = swift_request(c, &r);
	explicit_bzero(hkey, (size_t)klen);
	free(hkey);
	free(huser);
	if (rc) {
		if (r.curl_code)
			snprintf(msg, msglen, "authentication at %s failed: %s", a->auth_url,
				 r.curl_error[0] ? r.curl_error : "transfer error");
		else if (r.status == 401 || r.status == 403)
			snprintf(msg, msglen, "authentication at %s refused (HTTP %ld): "
				 "wrong ST_USER or ST_KEY", a->auth_url, r.status);
		else
			snprintf(msg, msglen, "authentication at %s failed with HTTP %ld",
				 a->auth_url, r.status);
		if (!r.curl_code && r.status == 401)
			rc = -EKEYREJECTED; /* the credentials themselves */
		goto out;
	}
	const char *tok = swift_req_header(&r, "X-Auth-Token");
	if (!tok)
		tok = swift_req_header(&r, "X-Storage-Token");
	const char *url = swift_req_header(&r, "X-Storage-Url");
	if (!tok || !url) {
		snprintf(msg, msglen, "authentication at %s answered HTTP %ld without "
			 "X-Auth-Token/X-Storage-Url", a->auth_url, r.status);
		rc = -EPROTO;
		goto out;
	}
	const char *exp = swift_req_header(&r, "X-Auth-Token-Expires");
	pthread_mutex_lock(&a->lock);
	free_secret(a->token);
	free(a->storage_url);
	a->token = strdup(tok);
	a->storage_url = strdup(url);
	a->gen++;
	a->expires = exp ? time(NULL) + atol(exp) : 0;
	note_new_token_locked(a, exp ? atol(exp) : -1);
	rc = a->token && a->storage_url ? 0 : -ENOMEM;
	pthread_mutex_unlock(&a->lock);
	LOGD("authenticated as %s, storage URL %s", a->user, url);
out:
	swift_req_cleanup(&r);
	return rc;
}

/* Keystone v3: a new token, and when to renew it: when a quarter of its
 * life is left, at most 5 minutes before it expires. Times are counted
 * from the local monotonic clock and the token's life as the server
 * states it (expires_at - issued_at), so clock skew does not matter. */
static int login_keystone(struct swiftfs_auth *a, struct swiftfs_client *c, int flags,
			  char *msg, size_t msglen)
{
	struct swiftfs_keystone_token t;
	int rc = keystone_login(a->ks, c, flags, &t, msg, msglen);
	if (rc)
		return rc;
	long life = (long)(t.expires_at - (t.issued_at ? t.issued_at : time(NULL)));
	if (life < 1)
		life = 1;
	long margin = keystone_renew_margin(life);
	if (t.interface) /* from the catalog; its endpoint may name no region */
		LOGI("authenticated with Keystone as %s; storage URL %s (region %s, %s "
		     "interface); token valid for %lds, renewal after %lds",
		     keystone_who(a->ks), t.storage_url, t.region ? t.region : "none",
		     t.interface, life, life - margin);
	else
		LOGI("authenticated with Keystone as %s; storage URL %s (OS_STORAGE_URL); "
		     "token valid for %lds, renewal after %lds", keystone_who(a->ks),
		     t.storage_url, life, life - margin);
	pthread_mutex_lock(&a->lock);
	free_secret(a->token);
	free(a->storage_url);
	a->token = t.token;
	a->storage_url = t.storage_url;
	t.token = t.storage_url = NULL;
	a->gen++;
	a->expires = time(NULL) + life;
	note_new_token_locked(a, life);
	a->refresh_at = util_now() + (double)(life - margin);
	pthread_cond_broadcast(&a->renew_cond);
	pthread_mutex_unlock(&a->lock);
	keystone_token_free(&t);
	return 0;
}

/* A login was refused with 401 (-EKEYREJECTED; renew_lock held): the
 * credentials are wrong now (a changed password, a deleted application
 * credential, a role taken away). Say so once, and log in no more with
 * them. A 403 (a front proxy's, say) is not taken for that. */
static void note_refused(struct swiftfs_auth *a, const char *msg)
{
	if (!a->creds_refused)
		LOGE("%s; no more logins with these credentials until they are corrected%s",
		     msg, a->creds_file ? " in the credentials file and swiftfs gets SIGHUP "
					  "(systemctl reload)" : " (they come from the environment: "
					  "remount)");
	a->creds_refused = true;
}

/* The Keystone token is near its expiry: renew it now, before Swift
 * refuses it. One attempt, without retries, by one thread: the others go
 * on with the current token, which is still valid. On failure keep the
 * old token and try again in 10 seconds rather than on every request. */
static void refresh_keystone(struct swiftfs_auth *a, bool wait)
{
	char msg[512] = "";
	if (wait)
		pthread_mutex_lock(&renew_lock); /* after a 401's renewal, if one runs */
	else if (pthread_mutex_trylock(&renew_lock) != 0)
		return;
	pthread_mutex_lock(&a->lock);
	bool due = a->refresh_at && util_now() >= a->refresh_at && !a->renewer_stop;
	long left = (long)(a->expires - time(NULL));
	pthread_mutex_unlock(&a->lock);
	if (due && !a->creds_refused) {
		LOGI("Keystone token expires in %lds: renewing it", left);
		int rc = login_keystone(a, a->client, KEYSTONE_LOGIN_ONCE, msg, sizeof(msg));
		if (rc == -EKEYREJECTED) {
			note_refused(a, msg);
		} else if (rc) {
			LOGW("renewing the Keystone token failed: %s; retrying in 10s", msg);
			pthread_mutex_lock(&a->lock);
			a->refresh_at = util_now() + 10;
			pthread_cond_broadcast(&a->renew_cond);
			pthread_mutex_unlock(&a->lock);
		}
	}
	if (a->creds_refused) {
		pthread_mutex_lock(&a->lock);
		a->refresh_at = 0; /* no renewals until a SIGHUP's login */
		pthread_cond_broadcast(&a->renew_cond);
		pthread_mutex_unlock(&a->lock);
	}
	pthread_mutex_unlock(&renew_lock);
}

static void *renewer_main(void *arg)
{
	struct swiftfs_auth *a = arg;
	pthread_mutex_lock(&a->lock);
	while (!a->renewer_stop) {
		double due = a->refresh_at, now = util_now();
		if (due && now >= due) {
			pthread_mutex_unlock(&a->lock);
			refresh_keystone(a, true);
			pthread_mutex_lock(&a->lock);
			if (a->refresh_at == due && !a->renewer_stop) {
				/* nothing moved it (a 401's renewal took the lock
				 * and failed): not again at once */
				a->refresh_at = util_now() + 10;
			}
			continue;
		}
		if (!due) {
			pthread_cond_wait(&a->renew_cond, &a->lock);
			continue;
		}
		struct timespec ts;
		ts.tv_sec = (time_t)due;
		ts.tv_nsec = (long)((due - (double)ts.tv_sec) * 1e9);
		pthread_cond_timedwait(&a->renew_cond, &a->lock, &ts);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

void swift_auth_start(struct swiftfs_auth *a)
{
	if (a->mode != SWIFTFS_AUTH_KEYSTONE)
		return;
	pthread_mutex_lock(&a->lock);
	if (!a->renewer_started && !a->renewer_stop) {
		int rc = pthread_create(&a->renewer, NULL, renewer_main, a);
		a->renewer_started = rc == 0;
		if (rc)
			LOGW("no thread for Keystone renewals (%s): requests renew the token",
			     strerror(rc));
	}
	pthread_mutex_unlock(&a->lock);
}

void swift_auth_stop(struct swiftfs_auth *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	bool started = a->renewer_started;
	a->renewer_stop = true;
	a->renewer_started = false;
	pthread_cond_broadcast(&a->renew_cond);
	pthread_mutex_unlock(&a->lock);
	if (started)
		pthread_join(a->renewer, NULL);
}

const char *swift_auth_cacert(const struct swiftfs_auth *a)
{
	return a->cacert;
}

int swift_auth_login(struct swiftfs_auth *a, struct swiftfs_client *c, char *msg, size_t msglen)
{
	if (a->mode == SWIFTFS_AUTH_V1)
		return login_v1(a, c, false, msg, msglen);
	if (a->mode == SWIFTFS_AUTH_KEYSTONE) {
		a->client = c;
		return login_keystone(a, c, KEYSTONE_LOGIN_DIAGNOSE, msg, msglen);
	}
	return 0;
}

int swift_auth_get(struct swiftfs_auth *a, char **token, char **storage_url, unsigned *gen)
{
	int rc = 0;
	if (a->mode == SWIFTFS_AUTH_KEYSTONE && a->client) {
		pthread_mutex_lock(&a->lock);
		bool due = !a->renewer_started && a->refresh_at && util_now() >= a->refresh_at;
		pthread_mutex_unlock(&a->lock);
		if (due)
			refresh_keystone(a, false); /* no thread: renewed by a request */
	}
	pthread_mutex_lock(&a->lock);
	if (!a->token || !a->storage_url) {
		rc = -EACCES;
	} else {
		*token = strdup(a->token);
		*storage_url = strdup(a->storage_url);
		*gen = a->gen;
		if (!*token || !*storage_url)
			rc = -ENOMEM;
	}
	pthread_mutex_unlock(&a->lock);
	return rc;
}

/* Pre-auth: re-read the credentials file; a different token is a renewal. */
static int renew_preauth(struct swiftfs_auth *a)
{
	struct swiftfs_creds c = { 0 };
	char msg[256] = "";
	int rc = -EACCES;

	if (!a->creds_file) {
		LOGE("the pre-authenticated token was refused (HTTP 401): it has expired or "
		     "been revoked; remount with a new OS_AUTH_TOKEN, or use -o credentials=FILE "
		     "so swiftfs can pick up a renewed token");
		return -EACCES;
	}
	if (creds_load_file(a->creds_file, &c, msg, sizeof(msg))) {
		LOGE("token refused (HTTP 401) and %s", msg);
		goto out;
	}
	const char *tok = creds_get(&c, "OS_AUTH_TOKEN");
	const char *url = creds_get(&c, "OS_STORAGE_URL");
	pthread_mutex_lock(&a->lock);
	if (tok && url && strcmp(tok, a->token) != 0) {
		free_secret(a->token);
		free(a->storage_url);
		a->token = strdup(tok);
		a->storage_url = strdup(url);
		a->gen++;
		rc = a->token && a->storage_url ? 0 : -ENOMEM;
	}
	pthread_mutex_unlock(&a->lock);
	if (rc)
		LOGE("the pre-authenticated token was refused (HTTP 401): it has expired; "
		     "%s holds no newer token", a->creds_file);
	else
		LOGI("using the renewed token from %s", a->creds_file);
out:
	creds_free(&c);
	return rc;
}

int swift_auth_renew(struct swiftfs_auth *a, struct swiftfs_client *c, unsigned gen)
{
	char msg[512] = "";
	int rc;

	pthread_mutex_lock(&renew_lock);
	pthread_mutex_lock(&a->lock);
	bool done = a->gen != gen;
	pthread_mutex_unlock(&a->lock);
	if (done) {
		rc = 0;
		goto out;
	}
	if (a->renew_failed_at && a->renew_failed_gen == gen &&
	    util_now() - a->renew_failed_at < RENEW_BACKOFF) {
		rc = a->renew_failed_rc; /* the renewal just tried failed: not again yet */
		goto out;
	}
	if (a->mode != SWIFTFS_AUTH_PREAUTH) {
		pthread_mutex_lock(&a->lock);
		double age = util_now() - a->got_at;
		bool fresh = __atomic_load_n(&a->ok_gen, __ATOMIC_RELAXED) != gen &&
			     age < a->fresh_window;
		pthread_mutex_unlock(&a->lock);
		if (fresh) {
			if (a->fresh_refused_gen != gen)
				LOGE("Swift refused (HTTP 401) a token issued %.1fs ago and never "
				     "accepted: not authenticating again for %.0fs (does the user "
				     "hold a role Swift's operator_roles requires, and is the storage "
				     "URL its project's?)", age, a->fresh_window);
			a->fresh_refused_gen = gen;
			rc = -EACCES;
			goto out;
		}
	}
	if (a->creds_refused && a->mode != SWIFTFS_AUTH_PREAUTH) {
		rc = -EACCES; /* logged when it was refused */
		goto out;
	}
	if (a->mode == SWIFTFS_AUTH_V1) {
		LOGI("token refused (HTTP 401), authenticating again");
		rc = login_v1(a, c, true, msg, sizeof(msg));
		if (rc == -EKEYREJECTED)
			note_refused(a, msg);
		else if (rc)
			LOGE("re-authentication failed: %s", msg);
	} else if (a->mode == SWIFTFS_AUTH_KEYSTONE) {
		LOGI("token refused (HTTP 401), authenticating with Keystone again");
		rc = login_keystone(a, c, 0, msg, sizeof(msg));
		if (rc == -EKEYREJECTED)
			note_refused(a, msg);
		else if (rc)
			LOGE("re-authentication with Keystone failed: %s", msg);
	} else {
		rc = renew_preauth(a);
	}
	a->renew_failed_gen = gen;
	a->renew_failed_at = rc ? util_now() : 0;
	a->renew_failed_rc = rc;
out:
	pthread_mutex_unlock(&renew_lock);
	return rc;
}

time_t swift_auth_expires(struct swiftfs_auth *a)
{
	pthread_mutex_lock(&a->lock);
	time_t t = a->expires;
	pthread_mutex_unlock(&a->lock);
	return t;
}

/* SIGHUP: read the credentials file again. A pre-auth token (and storage
 * URL) goes into use at once; new TempAuth credentials are used for a
 * login made now. The mode itself cannot change without a remount. */
int swift_auth_reload(struct swiftfs_auth *a, struct swiftfs_client *c, char *msg, size_t msglen)
{
	struct swiftfs_auth *fresh = NULL;
	char why[512] = "";
	int rc;

	if (!a->creds_file) {
		snprintf(msg, msglen, "the credentials come from the environment, which cannot "
			 "be re-read: mount with -o credentials=FILE to renew them by SIGHUP");
		return -EINVAL;
	}
	rc = swift_auth_new(a->creds_file, &fresh, why, sizeof(why));
	if (rc) {
		snprintf(msg, msglen, "keeping the current credentials: %s", why);
		return rc;
	}
	pthread_mutex_lock(&renew_lock);
	if (fresh->mode != a->mode) {
		snprintf(msg, msglen, "keeping the current credentials: %s now holds another kind "
			 "of credentials, which needs a remount", a->creds_file);
		rc = -EINVAL;
	} else if (a->mode == SWIFTFS_AUTH_PREAUTH) {
		pthread_mutex_lock(&a->lock);
		bool same = strcmp(fresh->token, a->token) == 0 &&
			    strcmp(fresh->storage_url, a->storage_url) == 0;
		if (!same) {
			SWAP_PTR(a->token, fresh->token);
			SWAP_PTR(a->storage_url, fresh->storage_url);
			a->gen++;
			a->expires = 0;
		}
		pthread_mutex_unlock(&a->lock);
		snprintf(msg, msglen, same ? "%s holds the token already in use" :
			 "using the renewed token from %s", a->creds_file);
	} else if (a->mode == SWIFTFS_AUTH_V1) {
		SWAP_PTR(a->auth_url, fresh->auth_url);
		SWAP_PTR(a->user, fresh->user);
		SWAP_PTR(a->key, fresh->key);
		rc = login_v1(a, c, true, why, sizeof(why));
		if (rc) {
			/* the old credentials stay in use (a typo in the file must
			 * not break the next renewal) */
			SWAP_PTR(a->auth_url, fresh->auth_url);
			SWAP_PTR(a->user, fresh->user);
			SWAP_PTR(a->key, fresh->key);
			snprintf(msg, msglen, "keeping the current credentials: the login with %s "
				 "failed: %s", a->creds_file, why);
		} else {
			a->creds_refused = false;
			snprintf(msg, msglen, "re-read %s and logged in again", a->creds_file);
		}
	} else if (a->mode == SWIFTFS_AUTH_KEYSTONE) {
		struct swiftfs_keystone *ks = a->ks;
		a->ks = fresh->ks;
		fresh->ks = NULL;
		rc = login_keystone(a, c, KEYSTONE_LOGIN_ONCE, why, sizeof(why));
		if (rc) {
			/* the old credentials stay in use */
			fresh->ks = a->ks;
			a->ks = ks;
			snprintf(msg, msglen, "keeping the current credentials: the Keystone "
				 "login with %s failed: %s", a->creds_file, why);
		} else {
			a->creds_refused = false;
			snprintf(msg, msglen, "re-read %s and logged in to Keystone again",
				 a->creds_file);
			keystone_free(ks);
		}
	} else {
		snprintf(msg, msglen, "re-reading this kind of credentials is not supported");
		rc = -ENOTSUP;
	}
	pthread_mutex_unlock(&renew_lock);
	swift_auth_free(fresh);
	return rc;
}
