/* log: formats records, masks secrets, writes one line per record to
 * stderr. Owns the list of secret values; never writes anywhere else. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static bool as_json;

void log_set_json(bool json) { as_json = json; }

struct secret { char *value; size_t len; };
static struct secret *secrets;
static size_t nsecrets;

static const char *const level_names[] = { "debug", "info", "warn", "error", "off" };

void log_set_level(enum log_level level) { min_level = level; }
bool log_enabled(enum log_level level) { return level >= min_level; }

int log_parse_level(const char *name, enum log_level *out)
{
	for (int i = LOG_DEBUG; i <= LOG_OFF; i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_redact_add(const char *value, size_t len)
{
	if (len < 4)
		return;
	for (size_t i = 0; i < nsecrets; i++)
		if (secrets[i].len == len && memcmp(secrets[i].value, value, len) == 0)
			return;
	struct secret *grown = realloc(secrets, (nsecrets + 1) * sizeof(*secrets));
	if (!grown)
		return;
	secrets = grown;
	char *copy = malloc(len);
	if (!copy)
		return;
	memcpy(copy, value, len);
	secrets[nsecrets].value = copy;
	secrets[nsecrets].len = len;
	nsecrets++;
}

void log_redact_add_basic(const char *user, const char *password)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t ul = user ? strlen(user) : 0, pl = password ? strlen(password) : 0, n = ul + 1 + pl;
	unsigned char *raw = malloc(n);
	char *out = malloc((n + 2) / 3 * 4 + 1);
	if (!raw || !out)
		goto done;
	memcpy(raw, user ? user : "", ul);
	raw[ul] = ':';
	memcpy(raw + ul + 1, password ? password : "", pl);
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)raw[i] << 16 | (i + 1 < n ? (unsigned)raw[i + 1] << 8 : 0) |
			     (i + 2 < n ? raw[i + 2] : 0);
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	/* The padding-free stem too: a server may quote it cut or re-padded. */
	size_t stem = o;
	while (stem > 0 && out[stem - 1] == '=')
		stem--;
	log_redact_add(out, stem);
done:
	if (raw)
		explicit_bzero(raw, n);
	if (out)
		explicit_bzero(out, (n + 2) / 3 * 4 + 1);
	free(raw);
	free(out);
}

void log_redact_clear(void)
{
	for (size_t i = 0; i < nsecrets; i++) {
		explicit_bzero(secrets[i].value, secrets[i].len);
		free(secrets[i].value);
	}
	free(secrets);
	secrets = NULL;
	nsecrets = 0;
}

/* Replaces s[from, to) with "***" (or fewer stars for a shorter value), so
 * the text never grows. Returns the new length. */
static size_t mask(char *s, size_t len, size_t from, size_t to)
{
	size_t stars = to - from < 3 ? to - from : 3;
	size_t tail = len - to;
	memmove(s + from + stars, s + to, tail);
	memset(s + from, '*', stars);
	return from + stars + tail;
}

static const char *const secret_params[] = {
	"access_token=", "token=", "sign=", "key=", "password=", "secret=", "signature=",
	"api_key=", "apikey=",
};

/* Authorization schemes herald sends (and servers echo back): the
 * credential after them is masked in every line. */
static const char *const auth_schemes[] = { "basic ", "bearer ", "apikey " };

static bool credential_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/' || c == '=' || c == '-' || c == '_' || c == '.' || c == '~' ||
	       c == ':' || c == '%';
}

static bool word_start(const char *s, size_t i)
{
	if (i == 0)
		return true;
	char c = s[i - 1];
	return !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
}

/* "Basic dXNlcjpwYXNz", "Bearer eyJ...", "ApiKey ...": masks the
 * credential at i when it looks like one: 8 bytes or more, with a digit,
 * a capital, '+', '/' or '=' (so "basic authentication:" stays). Returns the
 * new length; *next is where to go on (i when nothing was masked). */
static size_t mask_scheme(char *s, size_t len, size_t i, size_t *next)
{
	*next = i;
	if (!word_start(s, i))
		return len;
	for (size_t k = 0; k < sizeof(auth_schemes) / sizeof(*auth_schemes); k++) {
		size_t klen = strlen(auth_schemes[k]);
		if (i + klen > len || strncasecmp(s + i, auth_schemes[k], klen) != 0)
			continue;
		size_t from = i + klen;
		while (from < len && s[from] == ' ')
			from++;
		size_t to = from;
		bool mixed = false;
		while (to < len && credential_char(s[to])) {
			char c = s[to];
			mixed = mixed || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
				c == '/' || c == '=';
			to++;
		}
		if (to - from >= 8 && mixed) {
			len = mask(s, len, from, to);
			*next = from + 2;
		}
		return len;
	}
	return len;
}

static bool param_start(const char *s, size_t i)
{
	return i == 0 || s[i - 1] == '?' || s[i - 1] == '&' || s[i - 1] == ' ';
}

size_t log_redact(char *s, size_t len)
{
	for (size_t k = 0; k < nsecrets; k++) {
		const struct secret *sec = &secrets[k];
		for (size_t i = 0; i + sec->len <= len;) {
			if (memcmp(s + i, sec->value, sec->len) == 0) {
				len = mask(s, len, i, i + sec->len);
				i += 3; /* secrets are >= 4 bytes: 3 stars */
			} else {
				i++;
			}
		}
	}
	for (size_t i = 0; i < len; i++) {
		/* scheme://user:password@host */
		if (s[i] == ':' && i + 2 < len && s[i + 1] == '/' && s[i + 2] == '/') {
			size_t j = i + 3, at = 0;
			while (j < len && s[j] != '/' && s[j] != ' ' && s[j] != '"' && s[j] != '\n') {
				if (s[j] == '@')
					at = j;
				j++;
			}
			if (at && memchr(s + i + 3, ':', at - i - 3))
				len = mask(s, len, i + 3, at);
			continue;
		}
		size_t next;
		len = mask_scheme(s, len, i, &next);
		if (next != i) {
			i = next;
			continue;
		}
		for (size_t p = 0; p < sizeof(secret_params) / sizeof(*secret_params); p++) {
			size_t plen = strlen(secret_params[p]);
			if (i + plen <= len && param_start(s, i) &&
			    strncasecmp(s + i, secret_params[p], plen) == 0) {
				size_t from = i + plen, to = from;
				while (to < len && s[to] != '&' && s[to] != ' ' && s[to] != '"' &&
				       s[to] != '\'' && s[to] != '\n')
					to++;
				if (to > from)
					len = mask(s, len, from, to);
				i = from + 2;
				break;
			}
		}
	}
	s[len] = '\0';
	return len;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level < min_level || level >= LOG_OFF)
		return;
	char text[8192];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t len = (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1;
	len = log_redact(text, len);
	for (size_t i = 0; i < len; i++)
		if (text[i] == '\n')
			text[i] = ' ';

	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char when[80];
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	char line[8400 * 2];
	int m;
	if (as_json) {
		char esc[8192 * 2];
		size_t e = 0;
		for (size_t i = 0; i < len && e + 7 < sizeof(esc); i++) {
			unsigned char c = (unsigned char)text[i];
			if (c == '"' || c == '\\') {
				esc[e++] = '\\';
				esc[e++] = (char)c;
			} else if (c < 0x20) {
				e += (size_t)snprintf(esc + e, sizeof(esc) - e, "\\u%04x", c);
			} else {
				esc[e++] = (char)c;
			}
		}
		m = snprintf(line, sizeof(line), "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"%.*s\"}\n",
			     when, level_names[level], (int)e, esc);
	} else {
		m = snprintf(line, sizeof(line), "%s %-5s %.*s\n", when, level_names[level], (int)len, text);
	}
	if (m > 0) {
		ssize_t w = write(STDERR_FILENO, line, (size_t)m < sizeof(line) ? (size_t)m : sizeof(line) - 1);
		(void)w;
	}
}
