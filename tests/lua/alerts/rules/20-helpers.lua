-- herald.alert's helpers, checked against known values.
local alert = require "herald.alert"

-- HMAC-SHA256, RFC 4231 test case 2
assert(alert.sign("Jefe", "what do ya want for nothing?") == "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=")
-- DingTalk: Base64(HMAC(secret, ts "\n" secret)), URL-encoded
assert(alert.url_encode(alert.sign("SECxyz", "1700000000000\nSECxyz"))
  == "0PUR1j8g85Xg3vlFV%2FUrEcxXfF5HpCAGzcjrNfyJoyg%3D")
-- Feishu: key ts "\n" secret over an empty message
assert(alert.sign("1700000000\nfs", "") == "KnO01LyLeUz2sHjT1ogyJOBrkgWI59ibq0SodIhTzOk=")

assert(alert.escape_markdown("a_b *c* [d](e) <f>") == "a\\_b \\*c\\* \\[d\\](e) &lt;f&gt;")
assert(alert.escape_markdown("x\n- y") == "x  \n\\- y")
assert(alert.escape_slack("a < b & c") == "a &lt; b &amp; c")

assert(alert.truncate("hello", 10) == "hello")
local cut = alert.truncate(string.rep("长", 100), 50, "…")
assert(#cut <= 50 and utf8.len(cut), "cut on a character boundary")
assert(alert.number(3.0) == "3" and alert.number(nil) == "1")
assert(alert.local_time(nil) == "-")
