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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registered_secrets),
		cmocka_unit_test(test_url_parts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
