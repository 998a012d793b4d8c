/* keystone: credential checks, the token request body (built with json-c,
 * checked by parsing it back), the auth URL forms, and the catalog choice
 * on token responses captured from Keystone 22 (fixtures/keystone/:
 * RegionOne public/internal/admin and RegionTwo public object-store
 * endpoints, as tests/tools/keystone_provision.py creates them). */
#include "check.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>

#include "swiftfs/credentials.h"
#include "swiftfs/keystone.h"
#include "swiftfs/util.h"

#define PROJECT "acce9c505aee4b42aa4d9eab1e2af741"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct swiftfs_buf b = { 0 };
	char tmp[4096];
	size_t n;
	if (!f) {
		fprintf(stderr, "cannot open %s (run from tests/unit)\n", path);
		exit(2);
	}
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(&b, tmp, n);
	fclose(f);
	buf_terminate(&b);
	*len = b.len;
	return b.data;
}

/* keystone_new from env-file text; msg gets the error. */
static int ks_from(const char *text, struct swiftfs_keystone **k, char *msg, size_t msglen)
{
	struct swiftfs_creds c = { 0 };
	int rc = creds_parse(text, &c, msg, msglen);
	if (rc == 0)
		rc = keystone_new(&c, k, msg, msglen);
	creds_free(&c);
	return rc;
}

/* Value at a '/'-separated path of a JSON text, as a string. */
static const char *jpath(struct json_object *root, const char *path)
{
	static char out[512];
	char p[256];
	struct json_object *o = root;
	snprintf(p, sizeof(p), "%s", path);
	for (char *save = NULL, *s = strtok_r(p, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, (size_t)atoi(s));
		else if (!json_object_object_get_ex(o, s, &o))
			return NULL;
		if (!o)
			return NULL;
	}
	snprintf(out, sizeof(out), "%s", json_object_get_string(o));
	return out;
}

#define PW_BASE "OS_AUTH_URL=http://127.0.0.1:19900/v3\nOS_USERNAME=u\nOS_PROJECT_NAME=p\n"

static void test_body_password(void)
{
	struct swiftfs_keystone *k = NULL;
	char msg[256] = "", *body = NULL;
	/* a password with quote, backslash, newline (via \\n in a double-quoted
	 * value is not expanded, so use a real one from single quotes), UTF-8 */
	const char *text = PW_BASE "OS_PASSWORD='p\"a\\ss\xc3\xa9 {}'\n";
	CHECK_INT(ks_from(text, &k, msg, sizeof(msg)), 0);
	CHECK_STR(keystone_tokens_url(k), "http://127.0.0.1:19900/v3/auth/tokens");
	CHECK_STR(keystone_who(k), "user u in project p");
	CHECK_INT(keystone_request_body(k, false, &body), 0);
	struct json_object *j = json_tokener_parse(body);
	CHECK(j != NULL);
	CHECK_STR(jpath(j, "auth/identity/methods/0"), "password");
	CHECK_STR(jpath(j, "auth/identity/password/user/name"), "u");
	CHECK_STR(jpath(j, "auth/identity/password/user/password"), "p\"a\\ss\xc3\xa9 {}");
	/* domains default to the one named "Default" */
	CHECK_STR(jpath(j, "auth/identity/password/user/domain/name"), "Default");
	CHECK_STR(jpath(j, "auth/scope/project/name"), "p");
	CHECK_STR(jpath(j, "auth/scope/project/domain/name"), "Default");
	CHECK(jpath(j, "auth/identity/password/user/id") == NULL);
	json_object_put(j);
	free(body);
	/* unscoped: no "scope" at all */
	CHECK_INT(keystone_request_body(k, true, &body), 0);
	j = json_tokener_parse(body);
	CHECK(jpath(j, "auth/scope") == NULL);
	CHECK_STR(jpath(j, "auth/identity/password/user/name"), "u");
	json_object_put(j);
	free(body);
	keystone_free(k);

	/* ids win over names; domain ids and names are passed as given */
	k = NULL;
	CHECK_INT(ks_from("OS_AUTH_URL=https://ks.example/identity\nOS_USER_ID=uid\n"
			  "OS_USERNAME=ignored\nOS_PASSWORD=x\nOS_PROJECT_NAME=p\n"
			  "OS_PROJECT_DOMAIN_ID=dom1\n", &k, msg, sizeof(msg)), 0);
	CHECK_STR(keystone_tokens_url(k), "https://ks.example/identity/v3/auth/tokens");
	CHECK_INT(keystone_request_body(k, false, &body), 0);
	j = json_tokener_parse(body);
	CHECK_STR(jpath(j, "auth/identity/password/user/id"), "uid");
	CHECK(jpath(j, "auth/identity/password/user/name") == NULL);
	CHECK_STR(jpath(j, "auth/scope/project/domain/id"), "dom1");
	CHECK(jpath(j, "auth/scope/project/domain/name") == NULL);
	json_object_put(j);
	free(body);
	keystone_free(k);

	k = NULL;
	CHECK_INT(ks_from("OS_AUTH_URL=http://h:5000/\nOS_USERNAME=u\nOS_PASSWORD=x\n"
			  "OS_TENANT_ID=tid\nOS_USER_DOMAIN_NAME=Users\n", &k, msg, sizeof(msg)), 0);
	CHECK_STR(keystone_tokens_url(k), "http://h:5000/v3/auth/tokens");
	CHECK_INT(keystone_request_body(k, false, &body), 0);
	j = json_tokener_parse(body);
	CHECK_STR(jpath(j, "auth/identity/password/user/domain/name"), "Users");
	CHECK_STR(jpath(j, "auth/scope/project/id"), "tid");
	json_object_put(j);
	free(body);
	keystone_free(k);
}

static void test_body_appcred(void)
{
	struct swiftfs_keystone *k = NULL;
	char msg[256] = "", *body = NULL;
	CHECK_INT(ks_from("OS_AUTH_URL=http://h/v3/\nOS_AUTH_TYPE=v3applicationcredential\n"
			  "OS_APPLICATION_CREDENTIAL_ID=acid\n"
			  "OS_APPLICATION_CREDENTIAL_SECRET='s\"ecret'\n", &k, msg, sizeof(msg)), 0);
	CHECK_STR(keystone_tokens_url(k), "http://h/v3/auth/tokens");
	CHECK_STR(keystone_who(k), "application credential acid");
	CHECK_INT(keystone_request_body(k, false, &body), 0);
	struct json_object *j = json_tokener_parse(body);
	CHECK_STR(jpath(j, "auth/identity/methods/0"), "application_credential");
	CHECK_STR(jpath(j, "auth/identity/application_credential/id"), "acid");
	CHECK_STR(jpath(j, "auth/identity/application_credential/secret"), "s\"ecret");
	CHECK(jpath(j, "auth/scope") == NULL); /* an app credential is bound to its project */
	json_object_put(j);
	free(body);
	keystone_free(k);

	/* by name: needs the owner; no OS_AUTH_TYPE: the secret decides */
	k = NULL;
	CHECK_INT(ks_from("OS_AUTH_URL=http://h/v3\nOS_APPLICATION_CREDENTIAL_NAME=acn\n"
			  "OS_APPLICATION_CREDENTIAL_SECRET=s\nOS_USERNAME=u\n", &k, msg,
			  sizeof(msg)), 0);
	CHECK_INT(keystone_request_body(k, false, &body), 0);
	j = json_tokener_parse(body);
	CHECK_STR(jpath(j, "auth/identity/application_credential/name"), "acn");
	CHECK_STR(jpath(j, "auth/identity/application_credential/user/name"), "u");
	CHECK_STR(jpath(j, "auth/identity/application_credential/user/domain/name"), "Default");
	json_object_put(j);
	free(body);
	keystone_free(k);
}

static void test_bad_input(void)
{
	struct swiftfs_keystone *k = NULL;
	char msg[512];
	struct { const char *text; int rc; const char *in_msg; } cases[] = {
		{ "OS_AUTH_URL=http://h/v2.0\nOS_USERNAME=u\nOS_PASSWORD=x\nOS_PROJECT_NAME=p\n",
		  -ENOTSUP, "v2.0 is not supported" },
		{ "OS_AUTH_URL=http://h/v2.0/\nOS_USERNAME=u\nOS_PASSWORD=x\nOS_PROJECT_NAME=p\n",
		  -ENOTSUP, "v2.0" },
		{ "OS_AUTH_URL=h:5000\nOS_USERNAME=u\nOS_PASSWORD=x\nOS_PROJECT_NAME=p\n",
		  -EINVAL, "http://" },
		{ PW_BASE, -EINVAL, "OS_PASSWORD" },
		{ "OS_AUTH_URL=http://h\nOS_PASSWORD=x\nOS_PROJECT_NAME=p\n", -EINVAL, "OS_USERNAME" },
		{ "OS_AUTH_URL=http://h\nOS_USERNAME=u\nOS_PASSWORD=secretvalue\n", -EINVAL,
		  "OS_PROJECT_NAME" },
		{ PW_BASE "OS_PASSWORD=x\nOS_INTERFACE=private\n", -EINVAL, "OS_INTERFACE" },
		{ PW_BASE "OS_PASSWORD=x\nOS_ENDPOINT_TYPE=x\n", -EINVAL, "OS_ENDPOINT_TYPE=x" },
		{ PW_BASE "OS_PASSWORD=x\nOS_AUTH_TYPE=token\n", -ENOTSUP, "OS_AUTH_TYPE" },
		{ PW_BASE "OS_PASSWORD=x\nOS_IDENTITY_API_VERSION=2\n", -ENOTSUP, "v3 only" },
		{ "OS_AUTH_URL=http://h\nOS_AUTH_TYPE=v3applicationcredential\n"
		  "OS_APPLICATION_CREDENTIAL_ID=a\n", -EINVAL, "OS_APPLICATION_CREDENTIAL_SECRET" },
		{ "OS_AUTH_URL=http://h\nOS_APPLICATION_CREDENTIAL_NAME=n\n"
		  "OS_APPLICATION_CREDENTIAL_SECRET=secretvalue\n", -EINVAL, "OS_USERNAME" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		msg[0] = '\0';
		k = NULL;
		int rc = ks_from(cases[i].text, &k, msg, sizeof(msg));
		CHECK_INT(rc, cases[i].rc);
		if (!strstr(msg, cases[i].in_msg)) {
			fprintf(stderr, "case %zu: message \"%s\" lacks \"%s\"\n", i, msg,
				cases[i].in_msg);
			check_failures++;
		}
		CHECK(strstr(msg, "secretvalue") == NULL);
		CHECK(k == NULL);
		keystone_free(k);
	}
}

/* Parse the captured password-token response with extra settings. */
static int pick(const char *extra, struct swiftfs_keystone_token *t, char *msg, size_t msglen)
{
	struct swiftfs_keystone *k = NULL;
	char text[512];
	size_t len;
	snprintf(text, sizeof(text), PW_BASE "OS_PASSWORD=x\n%s", extra);
	memset(t, 0, sizeof(*t));
	msg[0] = '\0';
	int rc = ks_from(text, &k, msg, msglen);
	if (rc)
		return rc;
	char *body = slurp("fixtures/keystone/token-password.json", &len);
	rc = keystone_parse_token(k, body, len, t, msg, msglen);
	free(body);
	keystone_free(k);
	return rc;
}

static void test_catalog(void)
{
	struct swiftfs_keystone_token t;
	char msg[512];

	CHECK_INT(pick("", &t, msg, sizeof(msg)), 0);
	CHECK_STR(t.storage_url, "http://127.0.0.1:19910/v1/AUTH_" PROJECT);
	CHECK_STR(t.region, "RegionOne");
	CHECK_STR(t.interface, "public");
	/* 2026-11-21T10:18:20Z and 09:18:20Z: a one-hour token */
	CHECK_INT(t.expires_at, 1795256300);
	CHECK_INT(t.expires_at - t.issued_at, 3600);
	CHECK(t.token == NULL);
	keystone_token_free(&t);

	CHECK_INT(pick("OS_INTERFACE=internal\n", &t, msg, sizeof(msg)), 0);
	CHECK_STR(t.storage_url, "http://localhost:19910/v1/AUTH_" PROJECT);
	keystone_token_free(&t);
	CHECK_INT(pick("OS_INTERFACE=internalURL\nOS_REGION_NAME=RegionOne\n", &t, msg,
		       sizeof(msg)), 0);
	CHECK_STR(t.storage_url, "http://localhost:19910/v1/AUTH_" PROJECT);
	keystone_token_free(&t);
	/* python-swiftclient's older name; OS_INTERFACE wins over it */
	CHECK_INT(pick("OS_ENDPOINT_TYPE=internalURL\n", &t, msg, sizeof(msg)), 0);
	CHECK_STR(t.interface, "internal");
	keystone_token_free(&t);
	CHECK_INT(pick("OS_ENDPOINT_TYPE=internalURL\nOS_INTERFACE=public\n", &t, msg,
		       sizeof(msg)), 0);
	CHECK_STR(t.interface, "public");
	keystone_token_free(&t);
	CHECK_INT(pick("OS_INTERFACE=adminURL\n", &t, msg, sizeof(msg)), 0);
	CHECK_STR(t.interface, "admin");
	keystone_token_free(&t);
	CHECK_INT(pick("OS_REGION_NAME=RegionTwo\n", &t, msg, sizeof(msg)), 0);
	CHECK_STR(t.storage_url, "http://127.0.0.1:9/v1/AUTH_" PROJECT);
	CHECK_STR(t.region, "RegionTwo");
	keystone_token_free(&t);

	/* unknown region: the message lists the regions that have one */
	CHECK_INT(pick("OS_REGION_NAME=RegionX\n", &t, msg, sizeof(msg)), -ENOENT);
	CHECK(strstr(msg, "'RegionX'") != NULL);
	CHECK(strstr(msg, "RegionOne, RegionTwo") != NULL);
	CHECK(t.storage_url == NULL);
	keystone_token_free(&t);
	/* region without that interface */
	CHECK_INT(pick("OS_REGION_NAME=RegionTwo\nOS_INTERFACE=internal\n", &t, msg, sizeof(msg)),
		  -ENOENT);
	CHECK(strstr(msg, "no internal object-store endpoint in region 'RegionTwo'") != NULL);
	CHECK(strstr(msg, "interfaces there: public") != NULL);
	keystone_token_free(&t);

	/* OS_STORAGE_URL overrides the catalog, even a region that has none */
	CHECK_INT(pick("OS_STORAGE_URL=http://other/v1/AUTH_x\nOS_REGION_NAME=RegionX\n", &t, msg,
		       sizeof(msg)), 0);
	CHECK_STR(t.storage_url, "http://other/v1/AUTH_x");
	CHECK(t.region == NULL);
	keystone_token_free(&t);
}

static void test_responses(void)
{
	struct swiftfs_keystone *k = NULL;
	struct swiftfs_keystone_token t = { 0 };
	char msg[512] = "";
	size_t len;

	CHECK_INT(ks_from("OS_AUTH_URL=http://h/v3\nOS_APPLICATION_CREDENTIAL_ID=a\n"
			  "OS_APPLICATION_CREDENTIAL_SECRET=s\n", &k, msg, sizeof(msg)), 0);
	char *body = slurp("fixtures/keystone/token-appcred.json", &len);
	CHECK_INT(keystone_parse_token(k, body, len, &t, msg, sizeof(msg)), 0);
	CHECK_STR(t.storage_url, "http://127.0.0.1:19910/v1/AUTH_" PROJECT);
	CHECK_INT(t.expires_at - t.issued_at, 3600);
	keystone_token_free(&t);
	free(body);

	/* an error body is not a token */
	body = slurp("fixtures/keystone/err-wrong-password.json", &len);
	CHECK_INT(keystone_parse_token(k, body, len, &t, msg, sizeof(msg)), -EPROTO);
	free(body);
	keystone_token_free(&t);
	/* truncated JSON */
	CHECK_INT(keystone_parse_token(k, "{\"token\": {", 11, &t, msg, sizeof(msg)), -EPROTO);
	keystone_token_free(&t);
	/* no object-store in the catalog; no catalog (unscoped token) */
	const char *no_swift = "{\"token\":{\"expires_at\":\"2026-11-21T10:18:20.000000Z\","
			       "\"catalog\":[{\"type\":\"identity\",\"endpoints\":[]}]}}";
	CHECK_INT(keystone_parse_token(k, no_swift, strlen(no_swift), &t, msg, sizeof(msg)),
		  -ENOENT);
	CHECK(strstr(msg, "no object-store") != NULL);
	CHECK(strstr(msg, "OS_STORAGE_URL") != NULL);
	keystone_token_free(&t);
	/* two object-store services (one per region): the second one's
	 * region is found too */
	const char *two = "{\"token\":{\"expires_at\":\"2026-11-21T10:18:20.000000Z\","
			  "\"catalog\":[{\"type\":\"object-store\",\"endpoints\":[{\"region_id\":"
			  "\"R1\",\"interface\":\"public\",\"url\":\"http://r1/v1/AUTH_a\"}]},"
			  "{\"type\":\"object-store\",\"endpoints\":[{\"region_id\":\"R2\","
			  "\"interface\":\"public\",\"url\":\"http://r2/v1/AUTH_a\"}]}]}}";
	struct swiftfs_keystone *k2 = NULL;
	CHECK_INT(ks_from("OS_AUTH_URL=http://h/v3\nOS_APPLICATION_CREDENTIAL_ID=a\n"
			  "OS_APPLICATION_CREDENTIAL_SECRET=s\nOS_REGION_NAME=R2\n", &k2, msg,
			  sizeof(msg)), 0);
	CHECK_INT(keystone_parse_token(k2, two, strlen(two), &t, msg, sizeof(msg)), 0);
	CHECK_STR(t.storage_url, "http://r2/v1/AUTH_a");
	keystone_token_free(&t);
	keystone_free(k2);
	const char *unscoped = "{\"token\":{\"expires_at\":\"2026-11-21T10:18:20.000000Z\"}}";
	CHECK_INT(keystone_parse_token(k, unscoped, strlen(unscoped), &t, msg, sizeof(msg)),
		  -ENOENT);
	CHECK(strstr(msg, "no service catalog") != NULL);
	keystone_token_free(&t);
	const char *no_exp = "{\"token\":{\"catalog\":[]}}";
	CHECK_INT(keystone_parse_token(k, no_exp, strlen(no_exp), &t, msg, sizeof(msg)), -EPROTO);
	CHECK(strstr(msg, "expires_at") != NULL);
	keystone_token_free(&t);
	keystone_free(k);
}

static void test_renew_margin(void)
{
	CHECK_INT(keystone_renew_margin(3600), 300); /* 1 h: 5 minutes ahead */
	CHECK_INT(keystone_renew_margin(86400), 300);
	CHECK_INT(keystone_renew_margin(1200), 300);
	CHECK_INT(keystone_renew_margin(600), 150);  /* short: a quarter of its life */
	CHECK_INT(keystone_renew_margin(30), 7);
	CHECK_INT(keystone_renew_margin(1), 0);
}

int main(void)
{
	test_renew_margin();
	test_body_password();
	test_body_appcred();
	test_bad_input();
	test_catalog();
	test_responses();
	CHECK_DONE();
}
