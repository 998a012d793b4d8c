/* The request path. Why it is shaped this way:
 *  - One CURL easy handle per thread, reused for every request that thread
 *    makes, so connections stay alive; handles are never shared between
 *    threads (libcurl forbids it). DNS and TLS sessions are shared through
 *    a CURLSH guarded by one mutex per lock kind.
 *  - Retries live here and only here, with bounded exponential backoff
 *    and full jitter, under a deadline per request (retry_timeout), so a
 *    FUSE thread is never stuck for longer than that. A request the
 *    caller marks non-idempotent is sent once.
 *  - 401 triggers at most one renewal through swift_auth_renew().
 *  - swift_errno() is the single place HTTP statuses and curl results
 *    become errno values.
 * Lock order: client->handles_lock, then nothing. share_locks[] are taken
 * only by curl's callbacks. */
#include "swiftfs/swift_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "swiftfs/log.h"
#include "swiftfs/util.h"
#include "swiftfs/swift_auth.h"

const char swiftfs_version[] = SWIFTFS_VERSION;

struct handle_node {
	CURL *easy;
	struct swiftfs_client *client;
	struct handle_node *next;
};

struct swiftfs_client {
	struct swiftfs_client_cfg cfg;
	char *cacert;
	char user_agent[64];
	struct swiftfs_auth *auth;
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_key_t key;
	pthread_mutex_t handles_lock;
	struct handle_node *handles; /* guarded by handles_lock */
	struct swiftfs_client_stats stats; /* updated with atomics */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_global(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	/* retry delays differ between processes: clients refused by one
	 * overloaded proxy do not come back in step */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	srandom((unsigned)ts.tv_nsec ^ (unsigned)ts.tv_sec ^ ((unsigned)getpid() << 16));
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *userp)
{
	struct swiftfs_client *c = userp;
	(void)h;
	(void)access;
	pthread_mutex_lock(&c->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *userp)
{
	struct swiftfs_client *c = userp;
	(void)h;
	pthread_mutex_unlock(&c->share_locks[data]);
}

/* A thread that had a handle exits (libfuse retires idle workers): clean
 * its handle up now rather than keep its connection open until unmount.
 * Never runs concurrently with swift_client_free, which deletes the key
 * only after every thread using the client has been joined. */
static void handle_destroy(void *p)
{
	struct handle_node *n = p;
	struct swiftfs_client *c = n->client;
	pthread_mutex_lock(&c->handles_lock);
	for (struct handle_node **pp = &c->handles; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			break;
		}
	}
	pthread_mutex_unlock(&c->handles_lock);
	curl_easy_cleanup(n->easy);
	free(n);
}

int swift_client_new(const struct swiftfs_client_cfg *cfg, struct swiftfs_client **out)
{
	struct swiftfs_client *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_once(&curl_once, curl_global);
	c->cfg = *cfg;
	c->cacert = util_strdup0(cfg->cacert);
	c->cfg.cacert = c->cacert;
	snprintf(c->user_agent, sizeof(c->user_agent), "swiftfs/%s", swiftfs_version);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->share_locks[i], NULL);
	pthread_mutex_init(&c->handles_lock, NULL);
	pthread_key_create(&c->key, handle_destroy);
	c->share = curl_share_init();
	if (!c->share) {
		swift_client_free(c);
		return -ENOMEM;
	}
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	*out = c;
	return 0;
}

void swift_client_free(struct swiftfs_client *c)
{
	if (!c)
		return;
	pthread_key_delete(c->key);
	pthread_mutex_lock(&c->handles_lock);
	struct handle_node *n = c->handles;
	c->handles = NULL;
	pthread_mutex_unlock(&c->handles_lock);
	while (n) {
		struct handle_node *next = n->next;
		curl_easy_cleanup(n->easy);
		free(n);
		n = next;
	}
	if (c->share)
		curl_share_cleanup(c->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->share_locks[i]);
	pthread_mutex_destroy(&c->handles_lock);
	free(c->cacert);
	free(c);
}

char *swift_client_storage_url(struct swiftfs_client *c)
{
	char *token = NULL, *url = NULL;
	unsigned gen;
	if (!c->auth || swift_auth_get(c->auth, &token, &url, &gen))
		return NULL;
	free(token);
	return url;
}

void swift_client_set_auth(struct swiftfs_client *c, struct swiftfs_auth *auth)
{
	c->auth = auth;
}

struct swiftfs_auth *swift_client_auth(struct swiftfs_client *c)
{
	return c->auth;
}

static CURL *thread_handle(struct swiftfs_client *c)
{
	struct handle_node *n = pthread_getspecific(c->key);
	if (n)
		return n->easy;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->client = c;
	n->easy = curl_easy_init();
	if (!n->easy) {
		free(n);
		return NULL;
	}
	pthread_mutex_lock(&c->handles_lock);
	n->next = c->handles;
	c->handles = n;
	pthread_mutex_unlock(&c->handles_lock);
	pthread_setspecific(c->key, n);
	return n->easy;
}

void swift_req_init(struct swiftfs_req *r, const char *method)
{
	memset(r, 0, sizeof(*r));
	r->method = method;
	r->send_fd = -1;
}

static void clear_response(struct swiftfs_req *r)
{
	for (size_t i = 0; i < r->resp_nheaders; i++) {
		free(r->resp_headers[i].name);
		free(r->resp_headers[i].value);
	}
	free(r->resp_headers);
	r->resp_headers = NULL;
	r->resp_nheaders = 0;
	buf_free(&r->resp_body);
	r->recv_len = 0;
	r->status = 0;
	r->curl_code = 0;
	r->curl_error[0] = '\0';
}

void swift_req_cleanup(struct swiftfs_req *r)
{
	clear_response(r);
}

const char *swift_req_header(const struct swiftfs_req *r, const char *name)
{
	for (size_t i = 0; i < r->resp_nheaders; i++)
		if (strcasecmp(r->resp_headers[i].name, name) == 0)
			return r->resp_headers[i].value;
	return NULL;
}

void swift_req_etag(const struct swiftfs_req *r, char *out, size_t outlen)
{
	const char *v = swift_req_header(r, "ETag");
	size_t n = v ? strlen(v) : 0;
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
		snprintf(out, outlen, "%.*s", (int)(n - 2), v + 1);
	else
		snprintf(out, outlen, "%s", v ? v : "");
}

/* Per-attempt transfer state passed to curl's callbacks. */
struct xfer {
	struct swiftfs_req *r;
	CURL *easy;
	uint64_t sent;
	uint64_t skip;       /* body bytes to drop (a 200 answer to a Range) */
	bool status_checked;
	bool to_caller;      /* 2xx body goes to recv_buf */
	int send_err;
	EVP_MD_CTX *md5;     /* send_md5: the body as sent so far */
	bool md5_ok;
};

static size_t header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	struct swiftfs_req *r = x->r;
	size_t n = size * nmemb;
	size_t len = n;

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* a new response (after 100-continue or a redirect): start over */
		for (size_t i = 0; i < r->resp_nheaders; i++) {
			free(r->resp_headers[i].name);
			free(r->resp_headers[i].value);
		}
		r->resp_nheaders = 0;
		return n;
	}
	while (len && (data[len - 1] == '\r' || data[len - 1] == '\n' || data[len - 1] == ' ' ||
		       data[len - 1] == '\t'))
		len--;
	char *colon = memchr(data, ':', len);
	if (!colon || colon == data)
		return n;
	size_t nlen = (size_t)(colon - data);
	const char *v = colon + 1;
	while (v < data + len && (*v == ' ' || *v == '\t'))
		v++;
	size_t vlen = (size_t)(data + len - v);
	/* a POST rewrites an object's metadata from what a HEAD answered:
	 * headers dropped here would be metadata lost there, so an answer
	 * with more than any cluster allows fails instead */
	if (r->resp_nheaders >= 8192)
		return 0;
	struct swiftfs_header *h = realloc(r->resp_headers, (r->resp_nheaders + 1) * sizeof(*h));
	if (!h)
		return 0;
	r->resp_headers = h;
	h[r->resp_nheaders].name = strndup(data, nlen);
	h[r->resp_nheaders].value = strndup(v, vlen);
	if (!h[r->resp_nheaders].name || !h[r->resp_nheaders].value) {
		free(h[r->resp_nheaders].name);
		free(h[r->resp_nheaders].value);
		return 0;
	}
	r->resp_nheaders++;
	return n;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	struct swiftfs_req *r = x->r;
	size_t n = size * nmemb;

	if (!x->status_checked) {
		long st = 0;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &st);
		x->status_checked = true;
		x->to_caller = (r->recv_buf || r->sink) && st >= 200 && st < 300;
		if (x->to_caller && r->range_len > 0 && st == 200)
			x->skip = (uint64_t)r->range_off;
	}
	if (!x->to_caller) {
		if (r->resp_body.limit == 0)
			r->resp_body.limit = r->recv_limit ? r->recv_limit : (1u << 20);
		if (buf_append(&r->resp_body, data, n))
			return 0; /* over the cap: abort (CURLE_WRITE_ERROR) */
		return n;
	}
	size_t off = 0;
	if (x->skip) {
		size_t s = x->skip < n ? (size_t)x->skip : n;
		x->skip -= s;
		off = s;
	}
	size_t want = n - off;
	size_t room = r->recv_cap - r->recv_len;
	if (r->sink) {
		size_t give = want < room ? want : room;
		if (give && r->sink(r->sink_arg, r->recv_len, data + off, give))
			return 0; /* the sink failed: abort (CURLE_WRITE_ERROR) */
		r->recv_len += give;
		return want > room ? 0 : n;
	}
	if (want > room) {
		/* a 200 for a Range request, or an object longer than asked:
		 * keep what fits and stop the transfer when the buffer is full */
		memcpy(r->recv_buf + r->recv_len, data + off, room);
		r->recv_len += room;
		return 0;
	}
	memcpy(r->recv_buf + r->recv_len, data + off, want);
	r->recv_len += want;
	return n;
}

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	struct swiftfs_req *r = x->r;
	size_t want = size * nmemb;
	uint64_t left = r->send_len - x->sent;

	if (want > left)
		want = (size_t)left;
	if (want == 0)
		return 0;
	if (r->send_buf) {
		memcpy(buf, r->send_buf + x->sent, want);
	} else {
		ssize_t got;
		do {
			got = pread(r->send_fd, buf, want, r->send_off + (off_t)x->sent);
		} while (got < 0 && errno == EINTR);
		if (got <= 0) {
			x->send_err = got < 0 ? errno : EIO;
			return CURL_READFUNC_ABORT;
		}
		want = (size_t)got;
	}
	if (x->md5 && x->md5_ok)
		x->md5_ok = EVP_DigestUpdate(x->md5, buf, want) == 1;
	x->sent += want;
	return want;
}

static int seek_cb(void *userp, curl_off_t offset, int origin)
{
	struct xfer *x = userp;
	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > x->r->send_len)
		return CURL_SEEKFUNC_CANTSEEK;
	if (x->md5) {
		/* the hash covers the body from its start only */
		if (offset != 0)
			return CURL_SEEKFUNC_CANTSEEK;
		x->md5_ok = EVP_DigestInit_ex(x->md5, EVP_md5(), NULL) == 1;
	}
	x->sent = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

static int debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *userp)
{
	char line[1024];
	(void)h;
	(void)userp;
	if (type != CURLINFO_TEXT && type != CURLINFO_HEADER_IN && type != CURLINFO_HEADER_OUT)
		return 0;
	size_t n = size < sizeof(line) - 1 ? size : sizeof(line) - 1;
	memcpy(line, data, n);
	line[n] = '\0';
	log_redact(line, n);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	LOGD("curl %s %s", type == CURLINFO_HEADER_OUT ? ">" : type == CURLINFO_HEADER_IN ? "<" : "*",
	     line);
	return 0;
}

char *swift_info_url(const char *storage_url)
{
	/* http://host:port[/path]/v1[/AUTH_x][/] -> http://host:port[/path]/info */
	size_t n = strlen(storage_url);
	const char *path = strstr(storage_url, "://");
	path = path ? strchr(path + 3, '/') : NULL;
	for (const char *p = path; p; p = strstr(p + 1, "/v1")) {
		if (p[1] == 'v' && p[2] == '1' && (p[3] == '/' || p[3] == '\0')) {
			n = (size_t)(p - storage_url); /* the first (an account may be "v1") */
			break;
		}
	}
	if (!path || n == strlen(storage_url)) {
		/* no /v1 segment: the storage URL's folder */
		while (n && storage_url[n - 1] == '/')
			n--;
	}
	char *out = NULL;
	if (asprintf(&out, "%.*s/info", (int)n, storage_url) < 0)
		return NULL;
	return out;
}

static char *build_url(const struct swiftfs_req *r, const char *storage_url)
{
	struct swiftfs_buf b = { 0 };
	char *enc;
	if (r->url) {
		if (buf_printf(&b, "%s", r->url))
			goto fail;
	} else if (r->flags & SWIFT_REQ_INFO) {
		char *info = swift_info_url(storage_url);
		int rc = info ? buf_printf(&b, "%s", info) : -ENOMEM;
		free(info);
		if (rc)
			goto fail;
	} else {
		size_t sl = strlen(storage_url);
		while (sl && storage_url[sl - 1] == '/')
			sl--;
		if (buf_append(&b, storage_url, sl))
			goto fail;
		if (r->container) {
			enc = util_url_encode(r->container, false);
			if (!enc || buf_printf(&b, "/%s", enc)) {
				free(enc);
				goto fail;
			}
			free(enc);
		}
		if (r->object) {
			enc = util_url_encode(r->object, true);
			if (!enc || buf_printf(&b, "/%s", enc)) {
				free(enc);
				goto fail;
			}
			free(enc);
		}
	}
	if (r->query && buf_printf(&b, "%s%s", strchr(b.data, '?') ? "&" : "?", r->query))
		goto fail;
	return b.data;
fail:
	buf_free(&b);
	return NULL;
}

static void count_request(struct swiftfs_client *c, const struct swiftfs_req *r)
{
	const char *m = r->method;
	uint64_t *ctr = &c->stats.other;
	if (r->url)
		ctr = &c->stats.auth;
	else if (r->flags & SWIFT_REQ_INFO)
		ctr = &c->stats.other;
	else if (strcmp(m, "GET") == 0)
		ctr = r->object ? &c->stats.get : &c->stats.listing;
	else if (strcmp(m, "HEAD") == 0)
		ctr = r->object ? &c->stats.head : &c->stats.meta_head;
	else if (strcmp(m, "PUT") == 0)
		ctr = &c->stats.put;
	else if (strcmp(m, "POST") == 0)
		ctr = &c->stats.post;
	else if (strcmp(m, "DELETE") == 0)
		ctr = &c->stats.del;
	else if (strcmp(m, "COPY") == 0)
		ctr = &c->stats.copy;
	__atomic_fetch_add(ctr, 1, __ATOMIC_RELAXED);
}

static int perform_once(struct swiftfs_client *c, CURL *h, struct swiftfs_req *r,
			const char *url, const char *token)
{
	struct xfer x = { .r = r, .easy = h };
	struct curl_slist *hdrs = NULL;
	char tmp[256];
	CURLcode cc;
	int rc = 0;

	/* any length: Keystone's JWS tokens run to hundreds of bytes */
	char *ht = NULL;
	int htlen = token ? asprintf(&ht, "X-Auth-Token: %s", token) : 0;
	if (htlen < 0)
		return -ENOMEM;
	clear_response(r);
	r->sent_md5[0] = '\0';
	if (r->send_md5 && r->has_body) {
		x.md5 = EVP_MD_CTX_new();
		x.md5_ok = x.md5 && EVP_DigestInit_ex(x.md5, EVP_md5(), NULL) == 1;
	}
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_SHARE, c->share);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->curl_error);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->cfg.connect_timeout * 1000));
	/* a stalled transfer ends after low_speed_time; Swift sends nothing
	 * while it copies an object (COPY: 5 GiB may take minutes) */
	long stall = (long)(c->cfg.low_speed_time > 0 ? c->cfg.low_speed_time : 30);
	if ((r->flags & SWIFT_REQ_SLOW_ANSWER) || strcmp(r->method, "COPY") == 0)
		stall *= 20;
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, stall);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	/* libcurl itself sends a request again, once, when the kept-alive
	 * connection it reused dies before an answer: on a new connection it
	 * never does, which a request that must go once needs */
	if (r->flags & SWIFT_REQ_NO_RETRY)
		curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (c->cfg.cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cfg.cacert);
	if (c->cfg.insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (c->cfg.debug) {
		curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
		curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, debug_cb);
	}

	if (strcmp(r->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	}
	if (r->has_body) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(h, CURLOPT_READDATA, &x);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_cb);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, &x);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->send_len);
		if (strcmp(r->method, "PUT") != 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	} else if (strcmp(r->method, "PUT") == 0 || strcmp(r->method, "POST") == 0) {
		hdrs = curl_slist_append(hdrs, "Content-Length: 0");
	}
	if (ht) {
		hdrs = curl_slist_append(hdrs, ht);
		explicit_bzero(ht, (size_t)htlen);
		free(ht);
	}
	if (r->range_len > 0) {
		snprintf(tmp, sizeof(tmp), "Range: bytes=%lld-%lld", (long long)r->range_off,
			 (long long)(r->range_off + r->range_len - 1));
		hdrs = curl_slist_append(hdrs, tmp);
	}
	for (const char *const *hp = r->headers; hp && *hp; hp++)
		hdrs = curl_slist_append(hdrs, *hp);
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

	count_request(c, r);
	cc = curl_easy_perform(h);
	r->curl_code = (int)cc;
	if (cc == CURLE_OK || cc == CURLE_WRITE_ERROR) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
		if (cc == CURLE_WRITE_ERROR && x.to_caller && r->recv_len == r->recv_cap &&
		    (r->recv_buf || r->sink)) {
			/* we stopped the body ourselves once the buffer was full */
			r->curl_code = CURLE_OK;
		}
	}
	if (x.send_err)
		snprintf(r->curl_error, sizeof(r->curl_error), "reading upload data: %s",
			 strerror(x.send_err));
	if (x.md5) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;
		if (cc == CURLE_OK && x.md5_ok && x.sent == r->send_len &&
		    EVP_DigestFinal_ex(x.md5, md, &mdlen) == 1 && mdlen == 16)
			util_hex(md, 16, r->sent_md5);
		EVP_MD_CTX_free(x.md5);
	}
	curl_off_t dl = 0, ul = 0;
	curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &dl);
	curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &ul);
	__atomic_fetch_add(&c->stats.bytes_in, (uint64_t)dl, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->stats.bytes_out, (uint64_t)ul, __ATOMIC_RELAXED);
	curl_slist_free_all(hdrs);
	/* the error buffer points into r; detach it before r may go away */
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	return rc;
}

static bool retryable(const struct swiftfs_req *r)
{
	switch (r->curl_code) {
	case CURLE_OK:
		break;
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		return true;
	default:
		return false;
	}
	return r->status == 408 || r->status == 429 || r->status == 498 ||
	       (r->status >= 500 && r->status != 501 && r->status != 507);
}

/* 413 is "too large" for one object, or container_quotas and
 * account_quotas refusing any new object or byte ("Upload exceeds
 * quota."): a full quota is EDQUOT for every request that meets it. */
static bool refused_by_quota(const struct swiftfs_req *r)
{
	const char *b = r->resp_body.data;
	for (size_t i = 0; b && i + 5 <= r->resp_body.len; i++)
		if (strncasecmp(b + i, "quota", 5) == 0)
			return true;
	return false;
}

int swift_request(struct swiftfs_client *c, struct swiftfs_req *r)
{
	CURL *h = thread_handle(c);
	char *token = NULL;
	char *storage_url = NULL;
	char *url = NULL;
	unsigned gen = 0;
	bool reauthed = false;
	double deadline = util_now() + c->cfg.retry_timeout;
	double backoff = 0.1;
	int rc;

	if (!h)
		return -ENOMEM;
	r->attempts = 0;
	for (;;) {
		if (!(r->flags & SWIFT_REQ_NO_AUTH)) {
			free(token);
			free(storage_url);
			token = storage_url = NULL;
			rc = swift_auth_get(c->auth, &token, &storage_url, &gen);
			if (rc)
				goto out;
		}
		free(url);
		url = build_url(r, storage_url);
		if (!url) {
			rc = -ENOMEM;
			goto out;
		}
		r->attempts++;
		rc = perform_once(c, h, r, url, token);
		if (rc)
			goto out; /* no memory to build the request: not its answer */
		if (r->curl_code == CURLE_OK && r->status && r->status < 500 && r->status != 401 &&
		    token)
			swift_auth_accepted(c->auth, gen);
		if (r->curl_code == CURLE_OK && r->status == 401 &&
		    !(r->flags & SWIFT_REQ_NO_AUTH) && !reauthed) {
			reauthed = true;
			__atomic_fetch_add(&c->stats.reauths, 1, __ATOMIC_RELAXED);
			if (swift_auth_renew(c->auth, c, gen) == 0)
				continue;
			break;
		}
		if (!retryable(r) || (r->flags & SWIFT_REQ_NO_RETRY))
			break;
		/* full jitter: sleep a random time up to the current backoff */
		double delay = backoff * (0.5 + 0.5 * ((double)random() / (double)RAND_MAX));
		/* a first attempt that stalled (a dead reused connection) has
		 * one more on a fresh one, even when the stall used up the
		 * deadline */
		bool stalled_once = r->attempts == 1 && r->curl_code == CURLE_OPERATION_TIMEDOUT;
		if (util_now() + delay > deadline && !stalled_once)
			break;
		char what[160];
		swift_describe_error(r, what, sizeof(what));
		LOGW("%s; retrying in %.2fs (attempt %d)", what, delay, r->attempts + 1);
		__atomic_fetch_add(&c->stats.retries, 1, __ATOMIC_RELAXED);
		util_sleep(delay);
		backoff = backoff * 2 > 2.0 ? 2.0 : backoff * 2;
	}
	rc = swift_errno(r->curl_code == CURLE_OK ? r->status : 0, r->curl_code, r->method);
	if (rc == -EFBIG && refused_by_quota(r))
		rc = -EDQUOT;
out:
	if (token) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	free(storage_url);
	free(url);
	return rc;
}

int swift_errno(long status, int curl_code, const char *method)
{
	if (curl_code != CURLE_OK) {
		switch (curl_code) {
		case CURLE_OUT_OF_MEMORY:
			return -ENOMEM;
		case CURLE_OPERATION_TIMEDOUT:
			return -ETIMEDOUT;
		default:
			return -EIO;
		}
	}
	if (status >= 200 && status < 300)
		return 0;
	switch (status) {
	case 304:
		return 0;
	case 400:
	case 411:
		return -EINVAL;
	case 401:
	case 403:
		return -EACCES;
	case 404:
	case 410:
		return -ENOENT;
	case 405:
		return -EPERM;
	case 409:
		return method && strcmp(method, "DELETE") == 0 ? -ENOTEMPTY : -EBUSY;
	case 412:
		return -ESTALE;
	case 413:
		return -EFBIG;
	case 414:
		return -ENAMETOOLONG;
	case 416:
		return -ERANGE;
	case 507:
		return -ENOSPC;
	default:
		return -EIO;
	}
}

void swift_describe_error(const struct swiftfs_req *r, char *out, size_t outlen)
{
	const char *what = r->object ? r->object : r->container ? r->container : "account";
	if (r->url)
		what = "auth endpoint";
	if (r->curl_code != CURLE_OK) {
		snprintf(out, outlen, "%s %s: %s", r->method, what,
			 r->curl_error[0] ? r->curl_error : curl_easy_strerror((CURLcode)r->curl_code));
	} else {
		snprintf(out, outlen, "%s %s: HTTP %ld", r->method, what, r->status);
	}
}

void swift_client_stats(struct swiftfs_client *c, struct swiftfs_client_stats *out)
{
	/* a field-by-field relaxed snapshot: each counter is exact, the set
	 * is not one atomic picture (nor needs to be) */
	const uint64_t *src = (const uint64_t *)&c->stats;
	uint64_t *dst = (uint64_t *)out;
	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

void swift_client_stats_reset(struct swiftfs_client *c)
{
	uint64_t *p = (uint64_t *)&c->stats;
	for (size_t i = 0; i < sizeof(c->stats) / sizeof(uint64_t); i++)
		__atomic_store_n(&p[i], 0, __ATOMIC_RELAXED);
}
