/* Keystone v3 login (see keystone.h). Why it is shaped this way:
 *  - The request body is built with json-c, never with printf, so any
 *    byte in a name or password is escaped correctly.
 *  - Keystone answers 401 both for a wrong password and for a project the
 *    user cannot scope to. On a 401 of a project-scoped password login we
 *    try once more without scope: if that works, the password is right and
 *    the project is the problem, and the message says so.
 *  - The storage URL comes from the catalog as python-swiftclient picks
 *    it: service type object-store, interface OS_INTERFACE or the older
 *    OS_ENDPOINT_TYPE (public by default; "publicURL" spelling accepted),
 *    region OS_REGION_NAME (any
 *    when unset, the first listed wins). OS_STORAGE_URL overrides it.
 *  - Requests go through swift_request() (SWIFT_REQ_NO_AUTH), so they get
 *    the same TLS settings, timeouts, retries and redacted debug output as
 *    every Swift request. */
#include "swiftfs/keystone.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "swiftfs/credentials.h"
#include "swiftfs/log.h"
#include "swiftfs/swift_client.h"
#include "swiftfs/util.h"

enum ks_method { KS_PASSWORD, KS_APPCRED };

struct swiftfs_keystone {
	enum ks_method method;
	char *tokens_url;
	char *user_name, *user_id, *password;       /* password: secret */
	char *user_domain_name, *user_domain_id;
	char *project_name, *project_id;
	char *project_domain_name, *project_domain_id;
	char *appcred_id, *appcred_name, *appcred_secret; /* secret */
	char *region;      /* NULL: any */
	char *interface;   /* public, internal or admin */
	char *storage_url; /* OS_STORAGE_URL override, or NULL */
	char who[320];
};

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void keystone_free(struct swiftfs_keystone *k)
{
	if (!k)
		return;
	free(k->tokens_url);
	free(k->user_name);
	free(k->user_id);
	wipe_free(k->password);
	free(k->user_domain_name);
	free(k->user_domain_id);
	free(k->project_name);
	free(k->project_id);
	free(k->project_domain_name);
	free(k->project_domain_id);
	free(k->appcred_id);
	free(k->appcred_name);
	wipe_free(k->appcred_secret);
	free(k->region);
	free(k->interface);
	free(k->storage_url);
	free(k);
}

void keystone_token_free(struct swiftfs_keystone_token *t)
{
	wipe_free(t->token);
	free(t->storage_url);
	free(t->region);
	free(t->interface);
	memset(t, 0, sizeof(*t));
}

bool keystone_wanted(const struct swiftfs_creds *c)
{
	return creds_get(c, "OS_AUTH_URL") != NULL;
}

const char *keystone_tokens_url(const struct swiftfs_keystone *k)
{
	return k->tokens_url;
}

const char *keystone_who(const struct swiftfs_keystone *k)
{
	return k->who;
}

/* OS_AUTH_URL -> .../v3/auth/tokens. "/v3" is added when missing; a v2.0
 * URL is refused (Keystone's v2.0 API is gone since Queens). */
static int tokens_url(const char *auth_url, char **out, char *msg, size_t msglen)
{
	size_t n = strlen(auth_url);
	while (n && auth_url[n - 1] == '/')
		n--;
	if (strncmp(auth_url, "http://", 7) != 0 && strncmp(auth_url, "https://", 8) != 0) {
		snprintf(msg, msglen, "OS_AUTH_URL must start with http:// or https:// (got %.*s)",
			 (int)(n > 200 ? 200 : n), auth_url);
		return -EINVAL;
	}
	const char *last = auth_url + n;
	while (last > auth_url && last[-1] != '/')
		last--;
	size_t llen = (size_t)(auth_url + n - last);
	if ((llen == 4 && strncmp(last, "v2.0", 4) == 0) ||
	    (llen == 2 && strncmp(last, "v2", 2) == 0)) {
		snprintf(msg, msglen, "OS_AUTH_URL %.*s is a Keystone v2.0 endpoint: v2.0 is not "
			 "supported, use the v3 one (usually the same URL ending in /v3)",
			 (int)(n > 200 ? 200 : n), auth_url);
		return -ENOTSUP;
	}
	bool has_v3 = llen == 2 && strncmp(last, "v3", 2) == 0;
	if (asprintf(out, "%.*s%s/auth/tokens", (int)n, auth_url, has_v3 ? "" : "/v3") < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* "publicURL" -> "public" etc.; NULL for an unknown value. */
static const char *norm_interface(const char *s)
{
	static const char *const names[] = { "public", "internal", "admin" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		size_t l = strlen(names[i]);
		if (strcasecmp(s, names[i]) == 0 ||
		    (strncasecmp(s, names[i], l) == 0 && strcasecmp(s + l, "URL") == 0))
			return names[i];
	}
	return NULL;
}

static int dup_opt(const struct swiftfs_creds *c, const char *key, char **out)
{
	const char *v = creds_get(c, key);
	*out = NULL;
	if (!v)
		return 0;
	*out = strdup(v);
	return *out ? 0 : -ENOMEM;
}

int keystone_new(const struct swiftfs_creds *c, struct swiftfs_keystone **out, char *msg,
		 size_t msglen)
{
	struct swiftfs_keystone *k = calloc(1, sizeof(*k));
	const char *v;
	int rc = 0;

	if (!k)
		return -ENOMEM;
	v = creds_get(c, "OS_IDENTITY_API_VERSION");
	if (v && strcmp(v, "3") != 0 && strncmp(v, "3.", 2) != 0) {
		snprintf(msg, msglen, "OS_IDENTITY_API_VERSION=%.20s is not supported: swiftfs "
			 "speaks Keystone v3 only", v);
		rc = -ENOTSUP;
		goto out;
	}
	rc = tokens_url(creds_get(c, "OS_AUTH_URL"), &k->tokens_url, msg, msglen);
	if (rc)
		goto out;
	struct { const char *key, *alt; char **dst; } map[] = {
		{ "OS_USERNAME", NULL, &k->user_name },
		{ "OS_USER_ID", NULL, &k->user_id },
		{ "OS_PASSWORD", NULL, &k->password },
		{ "OS_USER_DOMAIN_NAME", NULL, &k->user_domain_name },
		{ "OS_USER_DOMAIN_ID", NULL, &k->user_domain_id },
		{ "OS_PROJECT_NAME", "OS_TENANT_NAME", &k->project_name },
		{ "OS_PROJECT_ID", "OS_TENANT_ID", &k->project_id },
		{ "OS_PROJECT_DOMAIN_NAME", NULL, &k->project_domain_name },
		{ "OS_PROJECT_DOMAIN_ID", NULL, &k->project_domain_id },
		{ "OS_APPLICATION_CREDENTIAL_ID", NULL, &k->appcred_id },
		{ "OS_APPLICATION_CREDENTIAL_NAME", NULL, &k->appcred_name },
		{ "OS_APPLICATION_CREDENTIAL_SECRET", NULL, &k->appcred_secret },
		{ "OS_REGION_NAME", NULL, &k->region },
		{ "OS_STORAGE_URL", NULL, &k->storage_url },
	};
	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		rc = dup_opt(c, map[i].key, map[i].dst);
		if (!rc && !*map[i].dst && map[i].alt)
			rc = dup_opt(c, map[i].alt, map[i].dst);
		if (rc)
			goto out;
	}
	const char *ivar = creds_get(c, "OS_INTERFACE") ? "OS_INTERFACE" : "OS_ENDPOINT_TYPE";
	v = creds_get(c, ivar);
	const char *iface = norm_interface(v ? v : "public");
	if (!iface) {
		snprintf(msg, msglen, "%s=%.40s is not one of public, internal, admin", ivar, v);
		rc = -EINVAL;
		goto out;
	}
	k->interface = strdup(iface);
	if (!k->interface) {
		rc = -ENOMEM;
		goto out;
	}

	v = creds_get(c, "OS_AUTH_TYPE");
	if (v && (strcasecmp(v, "v3applicationcredential") == 0 ||
		  strcasecmp(v, "applicationcredential") == 0 ||
		  strcasecmp(v, "v3oidcaccesstoken") == 0)) {
		if (strcasecmp(v, "v3oidcaccesstoken") == 0) {
			snprintf(msg, msglen, "OS_AUTH_TYPE=%s is not supported (use password or "
				 "v3applicationcredential)", v);
			rc = -ENOTSUP;
			goto out;
		}
		k->method = KS_APPCRED;
	} else if (v && strcasecmp(v, "password") != 0 && strcasecmp(v, "v3password") != 0) {
		snprintf(msg, msglen, "OS_AUTH_TYPE=%.40s is not supported (use password or "
			 "v3applicationcredential)", v);
		rc = -ENOTSUP;
		goto out;
	} else if (!v && k->appcred_secret && !k->password) {
		k->method = KS_APPCRED;
	} else {
		k->method = KS_PASSWORD;
	}

	if (k->method == KS_APPCRED) {
		if (!k->appcred_secret) {
			snprintf(msg, msglen, "Keystone application credential login needs "
				 "OS_APPLICATION_CREDENTIAL_SECRET");
			rc = -EINVAL;
		} else if (!k->appcred_id && !k->appcred_name) {
			snprintf(msg, msglen, "Keystone application credential login needs "
				 "OS_APPLICATION_CREDENTIAL_ID (or OS_APPLICATION_CREDENTIAL_NAME with "
				 "OS_USERNAME or OS_USER_ID)");
			rc = -EINVAL;
		} else if (!k->appcred_id && !k->user_id && !k->user_name) {
			snprintf(msg, msglen, "OS_APPLICATION_CREDENTIAL_NAME needs the owner in "
				 "OS_USERNAME or OS_USER_ID (or use OS_APPLICATION_CREDENTIAL_ID)");
			rc = -EINVAL;
		}
		if (rc)
			goto out;
		snprintf(k->who, sizeof(k->who), "application credential %.200s",
			 k->appcred_id ? k->appcred_id : k->appcred_name);
	} else {
		if (!k->user_name && !k->user_id) {
			snprintf(msg, msglen, "Keystone password login needs OS_USERNAME or "
				 "OS_USER_ID (or OS_APPLICATION_CREDENTIAL_ID and _SECRET)");
			rc = -EINVAL;
		} else if (!k->password) {
			snprintf(msg, msglen, "Keystone password login needs OS_PASSWORD (Horizon's "
				 "openrc asks for it on the terminal: write it into the file)");
			rc = -EINVAL;
		} else if (!k->project_name && !k->project_id) {
			snprintf(msg, msglen, "Keystone password login needs OS_PROJECT_NAME or "
				 "OS_PROJECT_ID (Swift needs a project-scoped token)");
			rc = -EINVAL;
		}
		if (rc)
			goto out;
		snprintf(k->who, sizeof(k->who), "user %.120s in project %.120s",
			 k->user_name ? k->user_name : k->user_id,
			 k->project_name ? k->project_name : k->project_id);
	}
	*out = k;
	k = NULL;
out:
	keystone_free(k);
	return rc;
}

/* {"id": id} or {"name": name, "domain": {"id"|"name": ...}}; the domain
 * defaults to the one named "Default". */
static struct json_object *named(const char *id, const char *name, const char *dom_id,
				 const char *dom_name)
{
	struct json_object *o = json_object_new_object();
	if (id) {
		json_object_object_add(o, "id", json_object_new_string(id));
		return o;
	}
	struct json_object *d = json_object_new_object();
	if (dom_id)
		json_object_object_add(d, "id", json_object_new_string(dom_id));
	else
		json_object_object_add(d, "name", json_object_new_string(dom_name ? dom_name : "Default"));
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "domain", d);
	return o;
}

/* Overwrite the bytes of a json-c string before the object is freed. */
static void wipe_json_string(struct json_object *s)
{
	if (s && json_object_is_type(s, json_type_string)) {
		char *p = (char *)json_object_get_string(s);
		explicit_bzero(p, (size_t)json_object_get_string_len(s));
	}
}

int keystone_request_body(const struct swiftfs_keystone *k, bool unscoped, char **out)
{
	struct json_object *root = json_object_new_object();
	struct json_object *auth = json_object_new_object();
	struct json_object *ident = json_object_new_object();
	struct json_object *methods = json_object_new_array();
	struct json_object *secret;
	int rc = 0;

	*out = NULL;
	json_object_object_add(root, "auth", auth);
	json_object_object_add(auth, "identity", ident);
	json_object_object_add(ident, "methods", methods);
	if (k->method == KS_APPCRED) {
		struct json_object *ac = k->appcred_id ? named(k->appcred_id, NULL, NULL, NULL)
						       : json_object_new_object();
		if (!k->appcred_id) {
			json_object_object_add(ac, "name", json_object_new_string(k->appcred_name));
			json_object_object_add(ac, "user", named(k->user_id, k->user_name,
								 k->user_domain_id,
								 k->user_domain_name));
		}
		secret = json_object_new_string(k->appcred_secret);
		json_object_object_add(ac, "secret", secret);
		json_object_array_add(methods, json_object_new_string("application_credential"));
		json_object_object_add(ident, "application_credential", ac);
	} else {
		struct json_object *pw = json_object_new_object();
		struct json_object *user = named(k->user_id, k->user_name, k->user_domain_id,
						 k->user_domain_name);
		secret = json_object_new_string(k->password);
		json_object_object_add(user, "password", secret);
		json_object_object_add(pw, "user", user);
		json_object_array_add(methods, json_object_new_string("password"));
		json_object_object_add(ident, "password", pw);
		if (!unscoped) {
			struct json_object *scope = json_object_new_object();
			json_object_object_add(scope, "project",
					       named(k->project_id, k->project_name,
						     k->project_domain_id, k->project_domain_name));
			json_object_object_add(auth, "scope", scope);
		}
	}
	const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s || !(*out = strdup(s)))
		rc = -ENOMEM;
	/* json-c keeps the serialisation in a buffer of root: wipe it too */
	if (s)
		explicit_bzero((char *)s, strlen(s));
	wipe_json_string(secret);
	json_object_put(root);
	return rc;
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Append s to a ", "-separated list in buf unless it is there already. */
static void list_add(char *buf, size_t len, const char *s)
{
	if (!s)
		s = "(none)";
	for (const char *p = strstr(buf, s); p; p = strstr(p + 1, s)) {
		size_t l = strlen(s);
		if ((p == buf || p[-1] == ' ') && (p[l] == ',' || p[l] == '\0'))
			return;
	}
	size_t used = strlen(buf);
	snprintf(buf + used, len - used, "%s%s", used ? ", " : "", s);
}

/* The object-store endpoint for k's region and interface. */
static int pick_endpoint(const struct swiftfs_keystone *k, struct json_object *catalog,
			 struct swiftfs_keystone_token *t, char *msg, size_t msglen)
{
	char regions[256] = "", ifaces[128] = "";
	struct json_object *eps = NULL;
	bool region_seen = false;

	if (!catalog || !json_object_is_type(catalog, json_type_array) ||
	    json_object_array_length(catalog) == 0) {
		snprintf(msg, msglen, "Keystone returned no service catalog for %s: set "
			 "OS_STORAGE_URL to the Swift account URL", k->who);
		return -ENOENT;
	}
	/* every service of that type: a catalog may list Swift under several
	 * (one per region, or Swift beside another object store) */
	bool any_svc = false;
	for (size_t s = 0; s < json_object_array_length(catalog); s++) {
		struct json_object *svc = json_object_array_get_idx(catalog, s);
		const char *type = jstr(svc, "type");
		if (!type || strcmp(type, "object-store") != 0 ||
		    !json_object_object_get_ex(svc, "endpoints", &eps) ||
		    !json_object_is_type(eps, json_type_array))
			continue;
		any_svc = true;
		for (size_t i = 0; i < json_object_array_length(eps); i++) {
			struct json_object *ep = json_object_array_get_idx(eps, i);
			const char *region = jstr(ep, "region_id");
			const char *iface = jstr(ep, "interface");
			const char *url = jstr(ep, "url");
			if (!region)
				region = jstr(ep, "region");
			list_add(regions, sizeof(regions), region);
			if (k->region && (!region || strcmp(region, k->region) != 0))
				continue;
			region_seen = true;
			list_add(ifaces, sizeof(ifaces), iface);
			if (!iface || !url || strcmp(iface, k->interface) != 0)
				continue;
			t->storage_url = strdup(url);
			t->region = util_strdup0(region);
			t->interface = strdup(iface);
			if (!t->storage_url || (region && !t->region) || !t->interface)
				return -ENOMEM;
			return 0;
		}
	}
	if (!any_svc) {
		snprintf(msg, msglen, "the Keystone catalog of %s has no object-store (Swift) "
			 "endpoint: set OS_STORAGE_URL to the Swift account URL", k->who);
		return -ENOENT;
	}
	if (k->region && !region_seen)
		snprintf(msg, msglen, "the Keystone catalog has no object-store endpoint in region "
			 "'%.64s' (OS_REGION_NAME); regions with one: %s", k->region, regions);
	else
		snprintf(msg, msglen, "the Keystone catalog has no %s object-store endpoint%s%.64s%s "
			 "(OS_INTERFACE); interfaces there: %s", k->interface,
			 k->region ? " in region '" : "", k->region ? k->region : "",
			 k->region ? "'" : "", ifaces);
	return -ENOENT;
}

int keystone_parse_token(const struct swiftfs_keystone *k, const char *body, size_t len,
			 struct swiftfs_keystone_token *t, char *msg, size_t msglen)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *root = NULL, *token = NULL, *catalog = NULL;
	struct timespec ts;
	const char *s;
	int rc = 0;

	if (!tok)
		return -ENOMEM;
	root = json_tokener_parse_ex(tok, body, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_object_get_ex(root, "token", &token) ||
	    !json_object_is_type(token, json_type_object)) {
		snprintf(msg, msglen, "Keystone's answer at %s is not a v3 token (no \"token\" "
			 "object in the JSON)", k->tokens_url);
		rc = -EPROTO;
		goto out;
	}
	s = jstr(token, "expires_at");
	if (!s || util_parse_iso_time(s, &ts)) {
		snprintf(msg, msglen, "Keystone's token has no valid expires_at");
		rc = -EPROTO;
		goto out;
	}
	t->expires_at = ts.tv_sec;
	s = jstr(token, "issued_at");
	t->issued_at = s && util_parse_iso_time(s, &ts) == 0 ? ts.tv_sec : 0;
	if (k->storage_url) {
		t->storage_url = strdup(k->storage_url);
		rc = t->storage_url ? 0 : -ENOMEM;
		goto out;
	}
	json_object_object_get_ex(token, "catalog", &catalog);
	rc = pick_endpoint(k, catalog, t, msg, msglen);
out:
	json_object_put(root);
	json_tokener_free(tok);
	return rc;
}

/* "message" of a Keystone error body, unless it would echo a secret. */
static void error_message(const struct swiftfs_keystone *k, const struct swiftfs_req *r,
			  char *out, size_t outlen)
{
	struct json_tokener *tok;
	struct json_object *root, *err;
	const char *m = NULL;
	out[0] = '\0';
	if (!r->resp_body.data || !r->resp_body.len)
		return;
	tok = json_tokener_new();
	if (!tok)
		return;
	root = json_tokener_parse_ex(tok, r->resp_body.data, (int)r->resp_body.len);
	json_tokener_free(tok);
	if (root && json_object_object_get_ex(root, "error", &err))
		m = jstr(err, "message");
	if (m && !(k->password && strstr(m, k->password)) &&
	    !(k->appcred_secret && strstr(m, k->appcred_secret)))
		snprintf(out, outlen, ": %s", m);
	json_object_put(root);
}

/* One POST; the response stays in r. */
static int post_tokens(struct swiftfs_keystone *k, struct swiftfs_client *c, bool unscoped,
		       bool once, struct swiftfs_req *r)
{
	static const char *const hdrs[] = { "Content-Type: application/json",
					    "Accept: application/json", NULL };
	char *body = NULL;
	swift_req_init(r, "POST");
	int rc = keystone_request_body(k, unscoped, &body);
	if (rc)
		return rc;
	r->url = k->tokens_url;
	r->headers = hdrs;
	r->flags = SWIFT_REQ_NO_AUTH | (once ? SWIFT_REQ_NO_RETRY : 0);
	r->send_buf = body;
	r->send_len = strlen(body);
	r->has_body = true;
	r->recv_limit = 8u << 20; /* big catalogs */
	rc = swift_request(c, r);
	wipe_free(body);
	r->send_buf = NULL;
	return rc;
}

long keystone_renew_margin(long life)
{
	long m = life / 4;
	return m < 300 ? m : 300;
}

int keystone_login(struct swiftfs_keystone *k, struct swiftfs_client *c, int flags,
		   struct swiftfs_keystone_token *t, char *msg, size_t msglen)
{
	bool once = flags & KEYSTONE_LOGIN_ONCE;
	struct swiftfs_req r;
	char detail[200];
	int rc;

	memset(t, 0, sizeof(*t));
	rc = post_tokens(k, c, false, once, &r);
	if (rc && r.curl_code) {
		snprintf(msg, msglen, "cannot reach Keystone at %s: %s", k->tokens_url,
			 r.curl_error[0] ? r.curl_error : "transfer error");
		goto out;
	}
	if (rc && r.status == 401 && k->method == KS_PASSWORD) {
		struct swiftfs_req r2;
		int rc2 = -EACCES;
		if (flags & KEYSTONE_LOGIN_DIAGNOSE) {
			rc2 = post_tokens(k, c, true, once, &r2);
			swift_req_cleanup(&r2);
		}
		if (rc2 == 0)
			snprintf(msg, msglen, "Keystone at %s accepted the password of user %.120s "
				 "but refused project '%.120s' (HTTP 401): no such project in its "
				 "domain, or the user has no role on it (check OS_PROJECT_NAME/_ID "
				 "and OS_PROJECT_DOMAIN_NAME/_ID)", k->tokens_url,
				 k->user_name ? k->user_name : k->user_id,
				 k->project_name ? k->project_name : k->project_id);
		else
			snprintf(msg, msglen, "Keystone at %s refused the login of %s (HTTP 401): "
				 "wrong OS_USERNAME/OS_USER_ID, OS_PASSWORD or OS_USER_DOMAIN_NAME%s",
				 k->tokens_url, k->who,
				 flags & KEYSTONE_LOGIN_DIAGNOSE ? "" : ", or no role on the project");
		rc = -EKEYREJECTED;
		goto out;
	}
	if (rc && r.status == 401) {
		snprintf(msg, msglen, "Keystone at %s refused %s (HTTP 401): wrong "
			 "OS_APPLICATION_CREDENTIAL_ID/_NAME or _SECRET, or the credential expired "
			 "or was deleted", k->tokens_url, k->who);
		rc = -EKEYREJECTED;
		goto out;
	}
	if (rc == -ENOENT) {
		snprintf(msg, msglen, "no Keystone v3 API at %s (HTTP 404): check OS_AUTH_URL",
			 k->tokens_url);
		goto out;
	}
	if (rc) {
		error_message(k, &r, detail, sizeof(detail));
		snprintf(msg, msglen, "Keystone login at %s failed (HTTP %ld)%s", k->tokens_url,
			 r.status, detail);
		goto out;
	}
	const char *tok = swift_req_header(&r, "X-Subject-Token");
	if (!tok || !*tok) {
		snprintf(msg, msglen, "Keystone at %s answered HTTP %ld without X-Subject-Token",
			 k->tokens_url, r.status);
		rc = -EPROTO;
		goto out;
	}
	rc = keystone_parse_token(k, r.resp_body.data, r.resp_body.len, t, msg, msglen);
	if (rc)
		goto out;
	t->token = strdup(tok);
	if (!t->token)
		rc = -ENOMEM;
out:
	if (rc)
		keystone_token_free(t);
	swift_req_cleanup(&r);
	return rc;
}
