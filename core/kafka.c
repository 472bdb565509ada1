/* kafka: owns one rd_kafka_t producer, its main queue's io-event pipe in
 * the loop, and the masking of its secret property values. Turns
 * librdkafka's delivery reports into ok / retriable / permanent outcomes
 * with a reason. Must not touch Lua, must not let librdkafka call herald
 * from one of its own threads (every callback is served by rd_kafka_poll
 * from the loop), and must not decide what to do with a failed record:
 * the owner retries, counts or dead-letters. */
#include "kafka.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

enum { KAFKA_TEXT = 512, KAFKA_MAX_SECRETS = 16 };

struct secrets {
	char *value[KAFKA_MAX_SECRETS];
	size_t n;
};

struct kafka {
	struct loop *loop;
	char *name;
	rd_kafka_t *rk;
	rd_kafka_queue_t *mainq;
	int pipe[2];                  /* librdkafka writes [1] when mainq fills */
	struct kafka_callbacks cb;
	struct secrets secrets;
	int in_poll;                  /* serving callbacks: kafka_free waits */
	bool free_pending, closing;
	uint64_t produced, delivered, failed_retriable, failed_permanent, errors, in_flight;
	uint64_t last_error_logged_ms;
	char reason[64];
	char detail[KAFKA_TEXT];
	char last_error[KAFKA_TEXT];
};

static const struct kafka_prop kafka_defaults[] = {
	{"acks", "all"},
	{"enable.idempotence", "true"},
	{"client.id", "herald"},
};

bool kafka_prop_is_secret(const char *name)
{
	return strstr(name, "password") || strstr(name, "secret") ||
	       strcmp(name, "ssl.key.pem") == 0 || strcmp(name, "sasl.oauthbearer.config") == 0;
}

/* Copies src to dst (cap bytes), every secret value replaced by "***". */
static void mask(char *dst, size_t cap, const char *src, const struct secrets *s)
{
	size_t o = 0;
	while (*src && o + 1 < cap) {
		size_t hit = 0;
		for (size_t i = 0; i < s->n && !hit; i++) {
			size_t len = strlen(s->value[i]);
			if (len && strncmp(src, s->value[i], len) == 0)
				hit = len;
		}
		if (hit) {
			for (const char *m = "***"; *m && o + 1 < cap; m++)
				dst[o++] = *m;
			src += hit;
		} else {
			dst[o++] = *src++;
		}
	}
	dst[o] = '\0';
}

static void secrets_free(struct secrets *s)
{
	for (size_t i = 0; i < s->n; i++) {
		memset(s->value[i], 0, strlen(s->value[i]));
		free(s->value[i]);
	}
	s->n = 0;
}

/* Remembers the secret values of props (copies) before any of them is
 * handed to librdkafka, so even its complaint about one is masked. */
static int secrets_collect(struct secrets *s, const struct kafka_prop *props, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!kafka_prop_is_secret(props[i].name) || !props[i].value[0])
			continue;
		if (s->n == KAFKA_MAX_SECRETS)
			return -1;
		if (!(s->value[s->n] = strdup(props[i].value)))
			return -1;
		s->n++;
	}
	return 0;
}

/* "MSG_SIZE_TOO_LARGE" / "_MSG_TIMED_OUT" -> "msg_size_too_large" / "msg_timed_out" */
static void reason_name(char *dst, size_t cap, rd_kafka_resp_err_t err)
{
	const char *name = err ? rd_kafka_err2name(err) : "ok";
	size_t o = 0;
	while (*name == '_')
		name++;
	for (; *name && o + 1 < cap; name++)
		dst[o++] = (char)tolower((unsigned char)*name);
	dst[o] = '\0';
}

enum kafka_outcome kafka_classify(int rd_kafka_err)
{
	switch ((rd_kafka_resp_err_t)rd_kafka_err) {
	case RD_KAFKA_RESP_ERR_NO_ERROR:
		return KAFKA_OK;
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_RECORD:
	case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
	case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
	case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
	case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
	case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
	case RD_KAFKA_RESP_ERR_UNSUPPORTED_COMPRESSION_TYPE:
	case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
	case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
	case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
	case RD_KAFKA_RESP_ERR__INVALID_ARG:
	case RD_KAFKA_RESP_ERR__BAD_MSG:
		return KAFKA_PERMANENT;
	default:
		return KAFKA_RETRIABLE;   /* timed out, purged, transport, fatal, queue full */
	}
}

/* librdkafka's text may name an alias ("request.required.acks" for
 * "acks"): put the operator's name in front unless it is quoted already. */
static void named(char *text, size_t cap, const char *name)
{
	char quoted[256];
	size_t pre = strlen(name) + 2, len = strlen(text);
	snprintf(quoted, sizeof(quoted), "\"%s\"", name);
	if (strstr(text, quoted) || pre >= cap)
		return;
	if (len + pre >= cap)
		len = cap - pre - 1;
	memmove(text + pre, text, len);
	text[pre + len] = '\0';
	memcpy(text, name, pre - 2);
	memcpy(text + pre - 2, ": ", 2);
}

/* Fills conf from the defaults and props, each through rd_kafka_conf_set.
 * -1 with err (masked) and *bad as kafka_check. */
static int conf_fill(rd_kafka_conf_t *conf, const struct kafka_prop *props, size_t n,
		     const struct secrets *s, char *err, size_t errlen, size_t *bad)
{
	char text[KAFKA_TEXT], brokers[KAFKA_TEXT];
	size_t size = sizeof(brokers);

	*bad = n;
	for (size_t i = 0; i < sizeof(kafka_defaults) / sizeof(kafka_defaults[0]); i++)
		if (rd_kafka_conf_set(conf, kafka_defaults[i].name, kafka_defaults[i].value,
				      text, sizeof(text)) != RD_KAFKA_CONF_OK)
			goto fail;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(props[i].name, "log.queue") == 0) {
			snprintf(text, sizeof(text), "log.queue is herald's to set (its logs go through the loop)");
			*bad = i;
			goto fail;
		}
		if (rd_kafka_conf_set(conf, props[i].name, props[i].value, text,
				      sizeof(text)) != RD_KAFKA_CONF_OK) {
			*bad = i;
			named(text, sizeof(text), props[i].name);
			goto fail;
		}
	}
	if (rd_kafka_conf_get(conf, "bootstrap.servers", brokers, &size) != RD_KAFKA_CONF_OK ||
	    !brokers[0]) {
		snprintf(text, sizeof(text), "bootstrap.servers is required (the brokers to connect to)");
		goto fail;
	}
	if (rd_kafka_conf_set(conf, "log.queue", "true", text, sizeof(text)) != RD_KAFKA_CONF_OK)
		goto fail;
	return 0;
fail:
	mask(err, errlen, text, s);
	return -1;
}

/* The checks librdkafka makes only when a client is created (acks=1 with
 * idempotence, ...): create one with no brokers to contact, and destroy it. */
static int conf_try(const rd_kafka_conf_t *conf, const struct secrets *s,
		    char *err, size_t errlen)
{
	char text[KAFKA_TEXT];
	rd_kafka_conf_t *dry = rd_kafka_conf_dup(conf);
	rd_kafka_t *rk;

	if (rd_kafka_conf_set(dry, "bootstrap.servers", "", text, sizeof(text)) != RD_KAFKA_CONF_OK ||
	    !(rk = rd_kafka_new(RD_KAFKA_PRODUCER, dry, text, sizeof(text)))) {
		rd_kafka_conf_destroy(dry);
		mask(err, errlen, text, s);
		return -1;
	}
	rd_kafka_destroy(rk);
	return 0;
}

int kafka_check(const struct kafka_prop *props, size_t nprops,
		char *err, size_t errlen, size_t *bad)
{
	struct secrets s = {0};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	int rc = -1;

	*bad = nprops;
	if (secrets_collect(&s, props, nprops) < 0) {
		snprintf(err, errlen, "too many secret properties (at most %d)", KAFKA_MAX_SECRETS);
		goto out;
	}
	if ((rc = conf_fill(conf, props, nprops, &s, err, errlen, bad)) == 0)
		rc = conf_try(conf, &s, err, errlen);
out:
	rd_kafka_conf_destroy(conf);
	secrets_free(&s);
	return rc;
}

/* librdkafka's syslog levels: 0-2 critical, 3 error, 4 warning, 7 debug.
 * A "FAIL" line at level 3 repeats what the error callback says. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	struct kafka *k = rd_kafka_opaque(rk);
	char text[KAFKA_TEXT];

	if (!k || k->closing)
		return;
	mask(text, sizeof(text), buf, &k->secrets);
	if (level <= 2)
		log_error("kafka %s: %s: %s", k->name, fac, text);
	else if (level <= 4 && strcmp(fac, "FAIL") != 0)
		log_warn("kafka %s: %s: %s", k->name, fac, text);
	else
		log_debug("kafka %s: %s: %s", k->name, fac, text);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kafka *k = opaque;
	char raw[KAFKA_TEXT], text[KAFKA_TEXT], name[64];
	bool fatal = err == RD_KAFKA_RESP_ERR__FATAL;
	rd_kafka_resp_err_t code = err;
	uint64_t now = loop_now(k->loop);

	if (k->closing)
		return;
	if (fatal)
		code = rd_kafka_fatal_error(rk, raw, sizeof(raw));
	else
		snprintf(raw, sizeof(raw), "%s", reason);
	mask(text, sizeof(text), raw, &k->secrets);
	reason_name(name, sizeof(name), code);
	k->errors++;
	/* A broker down repeats the same error every few seconds: log a change
	 * at once, the same text at most every 30 s. */
	if (fatal || strcmp(text, k->last_error) != 0 || now - k->last_error_logged_ms >= 30000) {
		if (fatal)
			log_error("kafka %s: fatal %s: %s", k->name, name, text);
		else
			log_warn("kafka %s: %s: %s", k->name, name, text);
		k->last_error_logged_ms = now;
	}
	snprintf(k->last_error, sizeof(k->last_error), "%s", text);
	if (k->cb.error)
		k->cb.error(k->cb.arg, name, text, fatal);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kafka *k = opaque;
	struct kafka_report r = {.partition = m->partition, .offset = -1};

	if (k->in_flight)
		k->in_flight--;
	if (k->closing)
		return;
	r.outcome = kafka_classify(m->err);
	reason_name(k->reason, sizeof(k->reason), m->err);
	r.reason = k->reason;
	if (m->err) {
		/* not rd_kafka_message_errstr: for a delivery report its payload is
		 * the record, not a message */
		mask(k->detail, sizeof(k->detail), rd_kafka_err2str(m->err), &k->secrets);
		if (r.outcome == KAFKA_PERMANENT)
			k->failed_permanent++;
		else
			k->failed_retriable++;
	} else {
		snprintf(k->detail, sizeof(k->detail), "delivered");
		r.offset = m->offset;
		k->delivered++;
	}
	r.detail = k->detail;
	k->cb.delivered(k->cb.arg, m->_private, &r);
}

static void destroy(struct kafka *k)
{
	k->closing = true;
	if (k->pipe[0] >= 0)
		loop_fd_unwatch(k->loop, k->pipe[0]);
	if (k->rk) {
		rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_poll(k->rk, 0);
	}
	if (k->mainq) {
		rd_kafka_queue_io_event_enable(k->mainq, -1, NULL, 0);
		rd_kafka_queue_destroy(k->mainq);
	}
	if (k->rk)
		rd_kafka_destroy(k->rk);
	for (int i = 0; i < 2; i++)
		if (k->pipe[i] >= 0)
			close(k->pipe[i]);
	secrets_free(&k->secrets);
	free(k->name);
	free(k);
}

/* Serves librdkafka's main queue: delivery reports, errors, log lines. */
static void serve(struct kafka *k)
{
	k->in_poll++;
	rd_kafka_poll(k->rk, 0);
	k->in_poll--;
	if (!k->in_poll && k->free_pending)
		destroy(k);
}

static void on_event(struct loop *loop, int fd, int events, void *arg)
{
	char drain[256];

	while (read(fd, drain, sizeof(drain)) > 0)
		;
	serve(arg);
}

static const char *conf_mechanisms(rd_kafka_t *rk)
{
	static char mech[64];
	size_t size = sizeof(mech);
	const rd_kafka_conf_t *conf = rd_kafka_conf(rk);
	if (rd_kafka_conf_get(conf, "sasl.mechanisms", mech, &size) != RD_KAFKA_CONF_OK)
		mech[0] = '\0';
	return mech;
}

/* Before 2.6.1 librdkafka repeated the client nonce in SCRAM's final
 * message; Kafka 4 brokers check it strictly and answer "invalid
 * credentials" to a right password. Say so up front. */
static void warn_scram(const struct kafka *k, const char *mechanisms)
{
	if (strncmp(mechanisms, "SCRAM", 5) == 0 && rd_kafka_version() < 0x020601ff)
		log_warn("kafka %s: librdkafka %s cannot authenticate with %s to Kafka 4 brokers "
			 "(they refuse its SCRAM nonce; fixed in librdkafka 2.6.1): Kafka 3 brokers work",
			 k->name, rd_kafka_version_str(), mechanisms);
}

struct kafka *kafka_new(struct loop *loop, const char *name,
			const struct kafka_prop *props, size_t nprops,
			const struct kafka_callbacks *cb,
			char *err, size_t errlen, size_t *bad)
{
	struct kafka *k = calloc(1, sizeof(*k));
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char text[KAFKA_TEXT];

	*bad = nprops;
	if (!k || !conf || !(k->name = strdup(name))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	k->loop = loop;
	k->cb = *cb;
	k->pipe[0] = k->pipe[1] = -1;
	if (secrets_collect(&k->secrets, props, nprops) < 0) {
		snprintf(err, errlen, "too many secret properties (at most %d)", KAFKA_MAX_SECRETS);
		goto fail;
	}
	for (size_t i = 0; i < k->secrets.n; i++)
		log_redact_add(k->secrets.value[i], strlen(k->secrets.value[i]));
	if (conf_fill(conf, props, nprops, &k->secrets, err, errlen, bad) < 0)
		goto fail;
	rd_kafka_conf_set_opaque(conf, k);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_log_cb(conf, on_log);
	if (!(k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, text, sizeof(text)))) {
		mask(err, errlen, text, &k->secrets);
		goto fail;
	}
	conf = NULL;   /* the client owns it now */
	rd_kafka_set_log_queue(k->rk, NULL);
	k->mainq = rd_kafka_queue_get_main(k->rk);
	if (pipe2(k->pipe, O_NONBLOCK | O_CLOEXEC) < 0 ||
	    loop_fd_watch(loop, k->pipe[0], LOOP_READ, on_event, k) < 0) {
		snprintf(err, errlen, "event pipe: %s", strerror(errno));
		goto fail;
	}
	rd_kafka_queue_io_event_enable(k->mainq, k->pipe[1], "1", 1);
	/* Anything queued before the fd was enabled: serve it next turn. */
	if (write(k->pipe[1], "1", 1) < 0 && errno != EAGAIN)
		log_warn("kafka %s: event pipe: %s", name, strerror(errno));
	log_info("kafka %s: librdkafka %s", name, rd_kafka_version_str());
	warn_scram(k, conf_mechanisms(k->rk));
	return k;
fail:
	if (conf)
		rd_kafka_conf_destroy(conf);
	if (k)
		destroy(k);
	return NULL;
}

int kafka_produce(struct kafka *k, const struct kafka_record *rec, void *opaque,
		  struct kafka_report *refused)
{
	rd_kafka_headers_t *hdrs = NULL;
	rd_kafka_resp_err_t err;

	if (rec->nheaders) {
		hdrs = rd_kafka_headers_new(rec->nheaders);
		for (size_t i = 0; i < rec->nheaders; i++)
			rd_kafka_header_add(hdrs, rec->headers[i].name, -1, rec->headers[i].value,
					    (ssize_t)rec->headers[i].len);
	}
	err = rd_kafka_producev(k->rk, RD_KAFKA_V_TOPIC(rec->topic),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				RD_KAFKA_V_KEY(rec->key, rec->key_len),
				RD_KAFKA_V_VALUE((void *)rec->value, rec->value_len),
				RD_KAFKA_V_TIMESTAMP(rec->timestamp_ms),
				RD_KAFKA_V_HEADERS(hdrs),
				RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
	if (!err) {
		k->produced++;
		k->in_flight++;
		return 0;
	}
	if (hdrs)
		rd_kafka_headers_destroy(hdrs);   /* still ours when refused */
	reason_name(k->reason, sizeof(k->reason), err);
	mask(k->detail, sizeof(k->detail), rd_kafka_err2str(err), &k->secrets);
	*refused = (struct kafka_report){.outcome = kafka_classify(err), .reason = k->reason,
					 .detail = k->detail, .partition = -1, .offset = -1};
	if (refused->outcome == KAFKA_PERMANENT)
		k->failed_permanent++;
	else
		k->failed_retriable++;
	return -1;
}

int kafka_flush(struct kafka *k, int timeout_ms)
{
	k->in_poll++;
	rd_kafka_flush(k->rk, timeout_ms);
	k->in_poll--;
	if (!k->in_poll && k->free_pending) {
		destroy(k);
		return 0;
	}
	return k->in_flight ? -1 : 0;
}

void kafka_stats(const struct kafka *k, struct kafka_stats *out)
{
	*out = (struct kafka_stats){
		.produced = k->produced, .delivered = k->delivered,
		.failed_retriable = k->failed_retriable, .failed_permanent = k->failed_permanent,
		.errors = k->errors, .in_flight = k->in_flight,
		.queue_depth = (uint64_t)rd_kafka_outq_len(k->rk),
		.last_error = k->last_error[0] ? k->last_error : NULL,
	};
}

void kafka_free(struct kafka *k)
{
	if (!k)
		return;
	if (k->in_poll) {
		k->free_pending = true;
		k->closing = true;
		return;
	}
	destroy(k);
}

const char *kafka_version(void)
{
	return rd_kafka_version_str();
}
