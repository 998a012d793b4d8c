/* Leveled logging: stderr in the foreground, syslog once daemonized.
 * Messages are filtered by level before any formatting happens. Secrets
 * (tokens, keys, signatures) must never be passed in; log_redact() scrubs
 * header dumps that may contain them (used for curl's debug output). */
#ifndef SWIFTFS_LOG_H
#define SWIFTFS_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum swiftfs_log_level {
	SWIFTFS_LOG_ERROR = 3,
	SWIFTFS_LOG_WARNING = 4,
	SWIFTFS_LOG_INFO = 6,
	SWIFTFS_LOG_DEBUG = 7,
};

/* Current threshold; read without a lock (a plain int, written at startup). */
extern int log_threshold;

void log_set_level(int level);
/* Parse "error|warning|info|debug" (or 3..7); -1 when unknown. */
int log_parse_level(const char *s);
/* Switch output to syslog (after daemonizing). */
void log_use_syslog(bool on);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Replace the values of secret-bearing headers and query parameters in
 * buf (in place): X-Auth-Token, X-Auth-Key, X-Storage-Token,
 * X-Subject-Token, *Temp-Url-Key*, temp_url_sig, OS_AUTH_TOKEN,
 * ST_KEY, passwords. */
void log_redact(char *buf, size_t len);

/* Named LOGE.. rather than LOG_ERR.. because <syslog.h> owns those names. */
#define LOG_AT(lvl, ...)                                                       \
	do {                                                                   \
		if ((lvl) <= log_threshold)                                    \
			log_msg((lvl), __VA_ARGS__);                           \
	} while (0)
/* "<3>" when stderr is the journal (see log_msg), else "": for error
 * lines written to stderr directly, before the log is set up. */
const char *log_err_prefix(void);

#define LOGE(...) LOG_AT(SWIFTFS_LOG_ERROR, __VA_ARGS__)
#define LOGW(...) LOG_AT(SWIFTFS_LOG_WARNING, __VA_ARGS__)
#define LOGI(...) LOG_AT(SWIFTFS_LOG_INFO, __VA_ARGS__)
#define LOGD(...) LOG_AT(SWIFTFS_LOG_DEBUG, __VA_ARGS__)

#endif
