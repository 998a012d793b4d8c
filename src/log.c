/* Logging. One line per message, prefixed with the level. In the
 * foreground the line goes to stderr with a timestamp; once daemonized
 * it goes to syslog (journald picks it up) with the matching priority. */
#include "swiftfs/log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>

int log_threshold = SWIFTFS_LOG_INFO;
static bool use_syslog;

void log_set_level(int level)
{
	log_threshold = level;
}

int log_parse_level(const char *s)
{
	static const struct { const char *name; int level; } names[] = {
		{ "error", SWIFTFS_LOG_ERROR }, { "err", SWIFTFS_LOG_ERROR },
		{ "warning", SWIFTFS_LOG_WARNING }, { "warn", SWIFTFS_LOG_WARNING },
		{ "notice", SWIFTFS_LOG_INFO }, { "info", SWIFTFS_LOG_INFO },
		{ "debug", SWIFTFS_LOG_DEBUG },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, names[i].name) == 0)
			return names[i].level;
	if (s[0] >= '3' && s[0] <= '7' && s[1] == '\0')
		return s[0] - '0';
	return -1;
}

void log_use_syslog(bool on)
{
	if (on && !use_syslog)
		openlog("swiftfs", LOG_PID, LOG_DAEMON);
	use_syslog = on;
}

static const char *level_name(int level)
{
	switch (level) {
	case SWIFTFS_LOG_ERROR: return "error";
	case SWIFTFS_LOG_WARNING: return "warning";
	case SWIFTFS_LOG_INFO: return "info";
	default: return "debug";
	}
}

/* Object names are anyone's who can write the container: one holding a
 * newline or a terminal escape must not forge a log line or drive the
 * terminal. A newline goes on as an indented continuation, any other
 * control byte as '?'. */
static void defang(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)in; *p && o + 4 < cap; p++) {
		if (*p == '\r' && p[1] == '\n')
			continue;
		if (*p == '\n') {
			out[o++] = '\n';
			out[o++] = ' ';
			out[o++] = ' ';
		} else {
			out[o++] = *p < 0x20 || *p == 0x7f ? '?' : (char)*p;
		}
	}
	out[o] = '\0';
}

/* stderr is the journal (systemd sets JOURNAL_STREAM to its device and
 * inode): a "<N>" prefix gives each line its priority there, so that
 * journalctl -p err finds the errors of a swiftfs -f service. */
static bool stderr_is_journal(void)
{
	static int known = -1;
	if (known < 0) {
		const char *js = getenv("JOURNAL_STREAM");
		unsigned long long dev, ino;
		struct stat st;
		known = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
			(unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
	}
	return known > 0;
}

const char *log_err_prefix(void)
{
	return stderr_is_journal() ? "<3>" : "";
}

void log_msg(int level, const char *fmt, ...)
{
	char raw[2048], line[2048 + 512];
	va_list ap;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	defang(raw, line, sizeof(line));
	if (use_syslog) {
		syslog(level, "%s: %s", level_name(level), line);
		return;
	}
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	if (stderr_is_journal()) { /* the journal stamps the time itself */
		fprintf(stderr, "<%d>%s: %s\n", level, level_name(level), line);
		return;
	}
	fprintf(stderr, "swiftfs %02d:%02d:%02d.%03ld %s: %s\n", tm.tm_hour,
		tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, level_name(level), line);
}

/* Names whose value is a secret, as header names (matched up to ':') or
 * as query/env keys (matched up to '=' or '&'). Case-insensitive, and a
 * name matches when it appears anywhere inside a longer name, so that
 * X-Container-Meta-Temp-Url-Key-2 is caught by "temp-url-key". */
static const char *const secret_names[] = {
	"x-auth-token", "x-auth-key", "x-storage-token", "x-subject-token",
	"x-service-token", "temp-url-key", "temp_url_sig", "os_auth_token",
	"st_key", "password", "secret", "authorization", "sync-key",
};

static bool is_secret_name(const char *name, size_t n)
{
	char low[128];
	if (n >= sizeof(low))
		n = sizeof(low) - 1;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[n] = '\0';
	for (size_t i = 0; i < sizeof(secret_names) / sizeof(secret_names[0]); i++)
		if (strstr(low, secret_names[i]))
			return true;
	return false;
}

void log_redact(char *buf, size_t len)
{
	size_t i = 0;
	while (i < len) {
		/* a token starts after a line start, '&', '?' or space */
		size_t start = i;
		while (i < len && buf[i] != ':' && buf[i] != '=' && buf[i] != '\n' &&
		       buf[i] != '&' && buf[i] != '?' && buf[i] != ' ')
			i++;
		if (i >= len)
			break;
		if ((buf[i] == ':' || buf[i] == '=') && is_secret_name(buf + start, i - start)) {
			size_t v = i + 1;
			while (v < len && buf[v] == ' ')
				v++;
			/* a header's value runs to the end of its line (a key may
			 * hold spaces or '&'); a URL parameter's to '&' or a space */
			bool header = buf[i] == ':';
			size_t e = v;
			while (e < len && buf[e] != '\r' && buf[e] != '\n' &&
			       (header || (buf[e] != '&' && buf[e] != ' ')))
				e++;
			for (size_t k = v; k < e; k++)
				buf[k] = '*';
			i = e;
			continue;
		}
		i++;
	}
}
