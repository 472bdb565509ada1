-- herald.alert's helpers, checked against known values.
local alert = require "herald.alert"

-- HMAC-SHA256, RFC 4231 test case 2
assert(alert.sign("Jefe", "what do ya want for nothing?") == "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=")
-- DingTalk: Base64(HMAC(secret, ts "\n" secret)), URL-encoded
assert(alert.url_encode(alert.sign("SECxyz", "1700000000000\nSECxyz"))
  == "0PUR1j8g85Xg3vlFV%2FUrEcxXfF5HpCAGzcjrNfyJoyg%3D")
-- A DingTalk request as sent: timestamp = now in ms, sign = URL-encoded
-- Base64(HMAC-SHA256(secret, timestamp "\n" secret)). A signing mistake
-- fails here, at once, instead of as robot timeouts in tests/alerts.
do
  local crypto = require "herald.crypto"
  local before = crypto.now_ms()
  local req = require("sinks.dingtalk").request({ title = "t", text = "x" },
    { webhook = "https://oapi.dingtalk.com/robot/send?access_token=tok", sign = "SECxyz",
      format = "markdown", timeout = 10000 })
  local after = crypto.now_ms()
  local base, ts, sign = req.url:match("^(.-)&timestamp=(%d+)&sign=([^&]+)$")
  assert(base == "https://oapi.dingtalk.com/robot/send?access_token=tok", req.url)
  assert(tonumber(ts) >= before and tonumber(ts) <= after, "timestamp is now, in milliseconds")
  assert(sign == alert.url_encode(alert.sign("SECxyz", ts .. "\nSECxyz")), "DingTalk signature")
  assert(not sign:find("[+/=]"), "the signature is URL-encoded")
  assert(req.method == "POST" and req.headers[1]:find("^Content%-Type: application/json"))
end
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

-- Each robot's answers, judged its way.
local function judge(sink, status, body, headers)
  local resp = { status = status, body = body }
  for k, v in pairs(headers or {}) do resp[k] = v end
  return require("sinks." .. sink).response(resp)
end
local v = judge("dingtalk", 200, '{"errcode":0,"errmsg":"ok"}')
assert(v.result == "ok")
v = judge("dingtalk", 200, '{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}')
assert(v.result == "retry" and v.after == 600, "130101 waits out the 10-minute throttle")
v = judge("dingtalk", 200, '{"errcode":310000,"errmsg":"keywords not in content"}')
assert(v.result == "failed" and v.message:find("keywords not in content", 1, true) and v.message:find("check `keyword`", 1, true))
v = judge("dingtalk", 200, '{"errcode":300005,"errmsg":"token is not exist"}')
assert(v.result == "failed" and v.message:find("check `webhook`", 1, true))
v = judge("dingtalk", 503, "busy", { retry_after = "7" })
assert(v.result == "retry" and v.after == "7")
v = judge("dingtalk", 200, "<html>")
assert(v.result == "retry" and v.message:find("not its JSON", 1, true))
assert(judge("dingtalk", 404, "<html>").result == "failed")
assert(require("sinks.dingtalk").response({ error = "Connection refused", status = 0, body = "" }).result == "retry")

assert(judge("wecom", 200, '{"errcode":45009,"errmsg":"api freq out of limit"}').after == 60)
assert(judge("wecom", 200, '{"errcode":93000,"errmsg":"invalid webhook url"}').result == "failed")
assert(judge("feishu", 200, '{"StatusCode":0,"StatusMessage":"success","code":0,"data":{},"msg":"success"}').result == "ok")
assert(judge("feishu", 200, '{"code":11232,"msg":"frequency limited"}').result == "retry")
v = judge("feishu", 200, '{"code":19024,"msg":"Key Words Not Found"}')
assert(v.result == "failed" and v.message:find("check `keyword`", 1, true))
assert(judge("slack", 200, "ok").result == "ok")
v = judge("slack", 429, "rate_limited", { retry_after = "3" })
assert(v.result == "retry" and v.after == "3")
v = judge("slack", 410, "channel_is_archived")
assert(v.result == "failed" and v.message:find("channel_is_archived", 1, true))
assert(judge("webhook", 204, "").result == "ok" and judge("webhook", 400, "no").result == "failed")
