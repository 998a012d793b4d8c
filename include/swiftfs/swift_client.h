/* The one request path to Swift. Every request goes through
 * swift_request(): URL building (exact percent-encoding of object names),
 * the auth token, keep-alive on a per-thread curl handle, retries with
 * bounded exponential backoff and jitter under a per-operation deadline,
 * one re-authentication on 401, and the mapping of the outcome to an
 * errno (swift_errno(), the only such mapping in the program).
 *
 * Threads: a client is shared by all threads; each thread lazily gets
 * its own CURL easy handle (kept for keep-alive), and all handles share
 * DNS and TLS session caches through one CURLSH. */
#ifndef SWIFTFS_SWIFT_CLIENT_H
#define SWIFTFS_SWIFT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "swiftfs/util.h"

struct swiftfs_client;
struct swiftfs_auth;

struct swiftfs_client_cfg {
	const char *cacert;  /* NULL: system CAs */
	bool insecure;       /* skip TLS verification */
	double connect_timeout;
	double retry_timeout;  /* overall deadline for one request's retries */
	double low_speed_time; /* abort a transfer stalled this long (seconds) */
	bool debug;            /* curl verbose output (secrets redacted) */
};

/* Response header as received (name without ':'; value trimmed). */
struct swiftfs_header {
	char *name;
	char *value;
};

enum {
	SWIFT_REQ_NO_RETRY = 1 << 0,  /* not idempotent: never resend (a new connection) */
	SWIFT_REQ_NO_AUTH = 1 << 1,   /* absolute URL, no token (auth itself) */
	SWIFT_REQ_QUIET_404 = 1 << 2, /* a 404 is an expected answer */
	SWIFT_REQ_INFO = 1 << 3,      /* GET <endpoint>/info (capabilities) */
	SWIFT_REQ_SLOW_ANSWER = 1 << 4, /* Swift works long before it answers (a big
					 * manifest's checks): stalls may last 20 x
					 * low_speed_time. COPY always is. */
};

struct swiftfs_req {
	/* --- request --- */
	const char *method;     /* GET HEAD PUT POST DELETE COPY */
	const char *url;        /* absolute URL: used instead of the fields below */
	const char *container;  /* NULL: account-level request */
	const char *object;     /* raw (unencoded) object name, or NULL */
	const char *query;      /* encoded query string without '?', or NULL */
	const char *const *headers; /* NULL-terminated "Name: value" strings */
	int64_t range_off;      /* with range_len > 0: Range: bytes=off-(off+len-1) */
	int64_t range_len;
	int flags;

	/* request body: from memory, or from a file descriptor with pread */
	const char *send_buf;
	int send_fd;            /* -1: none */
	off_t send_off;
	uint64_t send_len;
	bool has_body;
	bool send_md5;          /* hash the body as it is sent: sent_md5 */

	/* response body: into a caller buffer (ranged reads), or into resp_body */
	char *recv_buf;
	size_t recv_cap;
	size_t recv_limit;      /* cap for resp_body; 0 = 1 MiB */
	/* or, instead of recv_buf, a 2xx body handed over as it arrives (at
	 * most recv_cap bytes): pos is the offset in this attempt's body, so
	 * it starts again at 0 when a request is retried. Non-zero: abort. */
	int (*sink)(void *arg, uint64_t pos, const char *data, size_t len);
	void *sink_arg;

	/* --- response (valid after swift_request, freed by swift_req_cleanup) --- */
	long status;
	int curl_code;          /* CURLcode of the last attempt */
	char curl_error[256];
	size_t recv_len;        /* bytes stored in recv_buf (or given to sink) */
	char sent_md5[33];      /* send_md5: hex MD5 of the body the last
				 * attempt sent whole, else "" */
	struct swiftfs_buf resp_body;
	struct swiftfs_header *resp_headers;
	size_t resp_nheaders;
	int attempts;
};

/* Fill defaults (send_fd = -1). */
void swift_req_init(struct swiftfs_req *r, const char *method);
/* Free the response part so the request can be reused or dropped. */
void swift_req_cleanup(struct swiftfs_req *r);
/* Case-insensitive response header lookup, NULL when absent. */
const char *swift_req_header(const struct swiftfs_req *r, const char *name);
/* The answer's ETag into out (outlen bytes), without quotes; "" if none. */
void swift_req_etag(const struct swiftfs_req *r, char *out, size_t outlen);

int swift_client_new(const struct swiftfs_client_cfg *cfg, struct swiftfs_client **out);
void swift_client_free(struct swiftfs_client *c);
/* The client uses auth for tokens; set once before any request. */
void swift_client_set_auth(struct swiftfs_client *c, struct swiftfs_auth *auth);
/* The auth set above (TempURLs need the storage URL, xattrs the token's
 * expiry). */
struct swiftfs_auth *swift_client_auth(struct swiftfs_client *c);

/* The account's storage URL as of now (malloc'd; NULL before login). */
char *swift_client_storage_url(struct swiftfs_client *c);

/* Perform r. Returns 0 for a 2xx answer, otherwise -errno from
 * swift_errno() (r->status / r->curl_code tell the detail). */
int swift_request(struct swiftfs_client *c, struct swiftfs_req *r);

/* The single mapping of an HTTP status (0 for a transport failure) and a
 * curl result to a negative errno; 0 for success. */
int swift_errno(long status, int curl_code, const char *method);
/* The capabilities URL (/info) of a storage URL: what comes before its
 * first "/v1" path segment (.../v1/AUTH_x, or an account-less .../v1 as
 * Ceph RGW's catalog gives), then "/info". malloc'd; NULL: no memory. */
char *swift_info_url(const char *storage_url);
/* A one-line human description of a failed request (no secrets). */
void swift_describe_error(const struct swiftfs_req *r, char *out, size_t outlen);

/* Counters of requests sent, by method, for benchmarks and tests. */
struct swiftfs_client_stats {
	uint64_t listing;   /* GET of a container or account (listings) */
	uint64_t get;       /* object GET */
	uint64_t head;      /* object HEAD */
	uint64_t meta_head; /* container or account HEAD */
	uint64_t put, post, del, copy, other;
	uint64_t auth;      /* requests to the auth endpoint */
	uint64_t retries, reauths;
	uint64_t bytes_in, bytes_out;
};
void swift_client_stats(struct swiftfs_client *c, struct swiftfs_client_stats *out);
/* Zero the counters (after startup, so they count filesystem work). */
void swift_client_stats_reset(struct swiftfs_client *c);

/* Version string for User-Agent and --version. */
extern const char swiftfs_version[];

#endif
