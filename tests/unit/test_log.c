/* log: secrets never reach a log line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"

static const char *redact(const char *in)
{
	static char s[1024];
	snprintf(s, sizeof(s), "%s", in);
	log_redact(s, strlen(s));
	return s;
}

static void test_registered_secrets(void **state)
{
	log_redact_add("s3cr3t-password", 15);
	log_redact_add("abc", 3); /* too short to register: would mask ordinary words */
	assert_string_equal(redact("login with s3cr3t-password failed"), "login with *** failed");
	assert_string_equal(redact("s3cr3t-passwords3cr3t-password"), "******");
	assert_string_equal(redact("abc is fine"), "abc is fine");
	log_redact_clear();
	assert_string_equal(redact("s3cr3t-password"), "s3cr3t-password");
}

static void test_url_parts(void **state)
{
	assert_string_equal(redact("POST https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef&timestamp=1&sign=abcDEF%2B"),
			    "POST https://oapi.dingtalk.com/robot/send?access_token=***&timestamp=1&sign=***");
	assert_string_equal(redact("GET http://elastic:changeme@10.0.0.1:9200/_bulk"),
			    "GET http://***@10.0.0.1:9200/_bulk");
	assert_string_equal(redact("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx"),
			    "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***");
	assert_string_equal(redact("no secrets: monkey=1&keys=2"), "no secrets: monkey=1&keys=2");
	assert_string_equal(redact("token=ab"), "token=**");
	assert_string_equal(redact("http://host:8080/path"), "http://host:8080/path");
}

/* Regression (issue 12.7): a server that echoed "Authorization: Basic ..."
 * into its error text got the base64 of user:password logged. Every form
 * herald sends credentials in is masked. */
static void test_credentials_in_every_form(void **state)
{
	assert_string_equal(redact("401: bad header Authorization: Basic ZWxhc3RpYzpjaGFuZ2VtZQ== (realm)"),
			    "401: bad header Authorization: Basic *** (realm)");
	assert_string_equal(redact("{\"error\":\"authorization: basic ZWxhc3RpYzpjaGFuZ2VtZQ==\"}"),
			    "{\"error\":\"authorization: basic ***\"}");
	assert_string_equal(redact("got Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln, refused"),
			    "got Bearer ***, refused");
	assert_string_equal(redact("Authorization: ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="),
			    "Authorization: ApiKey ***");
	assert_string_equal(redact("GET /x?api_key=abcd1234&q=1"), "GET /x?api_key=***&q=1");
	/* Ordinary words after a scheme name stay. */
	assert_string_equal(redact("use basic authentication or a bearer token"),
			    "use basic authentication or a bearer token");
	assert_string_equal(redact("bearer authentication: failed"), "bearer authentication: failed");
	/* The encoded user:password alone (no scheme in front) once registered. */
	log_redact_add_basic("elastic", "changeme");
	assert_string_equal(redact("credentials ZWxhc3RpYzpjaGFuZ2VtZQ== rejected"), "credentials ***== rejected");
	log_redact_add_basic("u", "pw");
	assert_string_equal(redact("dTpwdw== no"), "***== no");
	log_redact_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registered_secrets),
		cmocka_unit_test(test_url_parts),
		cmocka_unit_test(test_credentials_in_every_form),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
