/* Credentials file and environment. The file format is what sites hand
 * out as `source`-able env files:
 *     # comment
 *     export OS_STORAGE_URL=https://swift.example/v1/AUTH_x
 *     OS_AUTH_TOKEN='gAAAA...'
 * Values are read as the shell reads a word (quotes, backslashes; an
 * unquoted value ends at whitespace). Nothing is expanded, except a value
 * that is one whole $NAME of a variable set earlier in the file (an
 * openrc's `export OS_PASSWORD=$OS_PASSWORD_INPUT`); the other shell
 * lines of Horizon's openrc (unset, if, echo, read) are understood or
 * skipped. */
#include "swiftfs/credentials.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "swiftfs/util.h"

static const char *const known_vars[] = {
	"ST_AUTH", "ST_USER", "ST_KEY", "ST_AUTH_VERSION",
	"OS_STORAGE_URL", "OS_AUTH_TOKEN",
	"OS_AUTH_URL", "OS_USERNAME", "OS_USER_ID", "OS_PASSWORD",
	"OS_PROJECT_NAME", "OS_PROJECT_ID", "OS_TENANT_NAME", "OS_TENANT_ID",
	"OS_USER_DOMAIN_NAME", "OS_USER_DOMAIN_ID", "OS_PROJECT_DOMAIN_NAME",
	"OS_PROJECT_DOMAIN_ID", "OS_REGION_NAME", "OS_INTERFACE", "OS_ENDPOINT_TYPE",
	"OS_APPLICATION_CREDENTIAL_ID", "OS_APPLICATION_CREDENTIAL_NAME",
	"OS_APPLICATION_CREDENTIAL_SECRET", "OS_AUTH_TYPE", "OS_IDENTITY_API_VERSION",
	"OS_CACERT",
};

static int creds_set(struct swiftfs_creds *c, const char *key, size_t klen, char *val)
{
	for (size_t i = 0; i < c->n; i++) {
		if (strlen(c->keys[i]) == klen && memcmp(c->keys[i], key, klen) == 0) {
			free(c->vals[i]);
			c->vals[i] = val;
			return 0;
		}
	}
	char **k = realloc(c->keys, (c->n + 1) * sizeof(*k));
	if (!k)
		return -ENOMEM;
	c->keys = k;
	char **v = realloc(c->vals, (c->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	c->vals = v;
	c->keys[c->n] = strndup(key, klen);
	if (!c->keys[c->n])
		return -ENOMEM;
	c->vals[c->n] = val;
	c->n++;
	return 0;
}

/* Parse one value starting at p as the shell reads a word: single quotes
 * literal; double quotes with \", \\, \$ and \` escapes; a backslash
 * outside quotes escapes the next character; the word ends at
 * whitespace (a '#' inside a word is part of it, as in the shell; one
 * after whitespace starts a comment). Returns the malloc'd value and
 * advances *pp to the end of the line. */
static char *parse_value(const char **pp, int *err)
{
	const char *p = *pp;
	struct swiftfs_buf b = { 0 };
	*err = 0;
	while (*p && *p != '\n') {
		if (*p == '\'') {
			const char *q = strchr(p + 1, '\'');
			if (!q) {
				*err = -EINVAL;
				break;
			}
			buf_append(&b, p + 1, (size_t)(q - p - 1));
			p = q + 1;
		} else if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' &&
				    (p[1] == '"' || p[1] == '\\' || p[1] == '$' || p[1] == '`'))
					p++;
				buf_append(&b, p, 1);
				p++;
			}
			if (*p != '"') {
				*err = -EINVAL;
				break;
			}
			p++;
		} else if (*p == '\\' && p[1] && p[1] != '\n' && p[1] != '\r') {
			buf_append(&b, p + 1, 1);
			p += 2;
		} else if (isspace((unsigned char)*p)) {
			break;
		} else {
			buf_append(&b, p, 1);
			p++;
		}
	}
	while (*p && *p != '\n')
		p++;
	*pp = p;
	if (*err) {
		buf_free(&b);
		return NULL;
	}
	if (buf_terminate(&b)) {
		*err = -ENOMEM;
		return NULL;
	}
	return b.data;
}

/* A value that is one whole reference, $NAME or ${NAME}, unquoted, as
 * Horizon's openrc writes `export OS_PASSWORD=$OS_PASSWORD_INPUT`: the
 * NAME it refers to, copied to name; false otherwise (nothing else is
 * ever expanded). */
static bool whole_reference(const char *p, char *name, size_t namelen)
{
	if (*p != '$')
		return false;
	p++;
	bool brace = *p == '{';
	p += brace;
	const char *s = p;
	while (isalnum((unsigned char)*p) || *p == '_')
		p++;
	size_t len = (size_t)(p - s);
	if (len == 0 || len >= namelen || (brace && *p++ != '}'))
		return false;
	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	if (*p && *p != '\n' && *p != '#')
		return false;
	memcpy(name, s, len);
	name[len] = '\0';
	return true;
}

/* Shell lines of an openrc that set nothing swiftfs reads: Horizon's has
 * `unset OS_TENANT_ID`, `if [ -z "$X" ]; then unset X; fi`, `echo ...`
 * and `read -sr OS_PASSWORD_INPUT`. unset clears the names it gives;
 * the others are skipped (an empty value counts as unset anyway). */
static bool shell_line(const char *p, struct swiftfs_creds *c, int *rc)
{
	static const char *const skipped[] = { "if", "then", "else", "fi", "echo", "read",
					       "printf", "set", ":" };
	size_t wl = strcspn(p, " \t\r\n;");
	*rc = 0;
	if (wl == 5 && strncmp(p, "unset", 5) == 0) {
		p += 5;
		for (;;) {
			while (*p == ' ' || *p == '\t')
				p++;
			const char *k = p;
			while (isalnum((unsigned char)*p) || *p == '_')
				p++;
			if (p == k)
				break;
			char *empty = strdup("");
			if (!empty || (*rc = creds_set(c, k, (size_t)(p - k), empty)) != 0) {
				free(empty);
				*rc = *rc ? *rc : -ENOMEM;
				return true;
			}
		}
		return true;
	}
	for (size_t i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++)
		if (wl == strlen(skipped[i]) && strncmp(p, skipped[i], wl) == 0)
			return true;
	return false;
}

/* The start of the line after the one p is in. */
static const char *next_line(const char *p)
{
	p += strcspn(p, "\n");
	return *p ? p + 1 : p;
}

int creds_parse(const char *text, struct swiftfs_creds *c, char *msg, size_t msglen)
{
	const char *p = text;
	int line = 0;
	while (*p) {
		line++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "export", 6) == 0 && (p[6] == ' ' || p[6] == '\t')) {
			p += 6;
			while (*p == ' ' || *p == '\t')
				p++;
		}
		if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0') {
			p = next_line(p);
			continue;
		}
		const char *key = p;
		while (isalnum((unsigned char)*p) || *p == '_')
			p++;
		size_t klen = (size_t)(p - key);
		if (klen == 0 || *p != '=') {
			int rc;
			if (shell_line(key, c, &rc)) {
				if (rc)
					return rc;
				p = next_line(p);
				continue;
			}
			snprintf(msg, msglen, "line %d: expected KEY=VALUE", line);
			return -EINVAL;
		}
		p++;
		int err;
		char ref[128];
		if (whole_reference(p, ref, sizeof(ref))) {
			/* set earlier in the file: its value; else nothing (as the
			 * shell: an unset variable), and the login then says what
			 * is missing */
			const char *v = creds_get(c, ref);
			char *val = strdup(v ? v : "");
			int rc = val ? creds_set(c, key, klen, val) : -ENOMEM;
			if (rc) {
				free(val);
				return rc;
			}
			p = next_line(p);
			continue;
		}
		char *val = parse_value(&p, &err);
		if (!val) {
			snprintf(msg, msglen, "line %d: unterminated quote", line);
			return err;
		}
		/* strip a trailing CR from DOS files */
		size_t vl = strlen(val);
		if (vl && val[vl - 1] == '\r')
			val[vl - 1] = '\0';
		int rc = creds_set(c, key, klen, val);
		if (rc) {
			free(val);
			return rc;
		}
		if (*p)
			p++;
	}
	return 0;
}

int creds_load_file(const char *path, struct swiftfs_creds *c, char *msg, size_t msglen)
{
	int rc = 0;
	int fd = -1;
	struct stat st;
	struct swiftfs_buf b = { .limit = 1 << 20 };
	char tmp[4096];

	/* O_NONBLOCK: a FIFO with no writer must not hang the mount (it is
	 * then refused as not a regular file) */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		snprintf(msg, msglen, "cannot open credentials file %s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		snprintf(msg, msglen, "credentials file %s is not a regular file", path);
		goto out;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		/* another user could point the mount (root's, say) elsewhere */
		rc = -EPERM;
		snprintf(msg, msglen,
			 "credentials file %s belongs to uid %u, not to this user (%u) or root: "
			 "run chown %u %s", path, (unsigned)st.st_uid, (unsigned)geteuid(),
			 (unsigned)geteuid(), path);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		rc = -EPERM;
		snprintf(msg, msglen,
			 "credentials file %s is accessible by group or others (mode %04o): "
			 "run chmod 600 %s",
			 path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			snprintf(msg, msglen, "cannot read credentials file %s: %s", path,
				 strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		rc = buf_append(&b, tmp, (size_t)n);
		if (rc) {
			snprintf(msg, msglen, "credentials file %s is too large", path);
			goto out;
		}
	}
	rc = buf_terminate(&b);
	if (rc)
		goto out;
	char lmsg[128] = "";
	rc = creds_parse(b.data, c, lmsg, sizeof(lmsg));
	if (rc)
		snprintf(msg, msglen, "credentials file %s: %s", path, lmsg);
out:
	if (b.data)
		explicit_bzero(b.data, b.len);
	buf_free(&b);
	if (fd >= 0)
		close(fd);
	return rc;
}

int creds_load_env(struct swiftfs_creds *c)
{
	for (size_t i = 0; i < ARRAY_SIZE(known_vars); i++) {
		const char *v = getenv(known_vars[i]);
		if (!v || !*v)
			continue;
		char *dup = strdup(v);
		if (!dup)
			return -ENOMEM;
		int rc = creds_set(c, known_vars[i], strlen(known_vars[i]), dup);
		if (rc) {
			free(dup);
			return rc;
		}
	}
	return 0;
}

const char *creds_get(const struct swiftfs_creds *c, const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->keys[i], key) == 0)
			return c->vals[i][0] ? c->vals[i] : NULL;
	return NULL;
}

void creds_free(struct swiftfs_creds *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->keys[i]);
		if (c->vals[i]) {
			explicit_bzero(c->vals[i], strlen(c->vals[i]));
			free(c->vals[i]);
		}
	}
	free(c->keys);
	free(c->vals);
	c->keys = c->vals = NULL;
	c->n = 0;
}
