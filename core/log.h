/* log: one line per record on stderr, with every known secret redacted. */
#ifndef HERALD_LOG_H
#define HERALD_LOG_H
#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

void log_set_level(enum log_level level);
/* One JSON object per line ({"time","level","msg"}) instead of text. */
void log_set_json(bool json);
int log_parse_level(const char *name, enum log_level *out);
bool log_enabled(enum log_level level);

/* Registers a secret value (copied); it is masked in every later line.
 * Values shorter than 4 bytes are ignored (they would mask ordinary text). */
void log_redact_add(const char *value, size_t len);
void log_redact_clear(void);
/* Masks the base64 of "user:password" (what Basic authentication sends),
 * wherever it appears. */
void log_redact_add_basic(const char *user, const char *password);

/* Masks, in place, registered secrets, URL credentials (user:pass@) and the
 * values of secret-looking query parameters (access_token=, sign=, key=...).
 * Returns the new length. Exposed for tests. */
size_t log_redact(char *s, size_t len);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
