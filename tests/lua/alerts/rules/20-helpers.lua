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

-- The default alert: three lines, [cluster] Reason Kind/name (with the
-- namespace of namespaced objects only), the message, then the count, the
-- first and last seen times and the node when the event names one.
local function group(ev, extra)
  local g = { cluster = "prod", event = ev, events = { ev }, count = 1, total = 1,
              first_seen = 1700000000, last_seen = 1700000300 }
  for k, v in pairs(extra or {}) do g[k] = v end
  return g
end
local pod = { reason = "BackOff", message = "Back-off restarting app_1", count = 7, source = { host = "worker-3" },
              involvedObject = { kind = "Pod", name = "web-0", namespace = "shop" } }
local title, text = alert.render_markdown(group(pod))
assert(title == "[prod] - BackOff Pod/web-0" or title:find("BackOff Pod/web-0", 1, true), title)
local l = {}
for line in (text .. "  \n"):gmatch("(.-)  \n") do l[#l + 1] = line end
assert(#l == 3, text)
assert(l[1] == "**[prod] BackOff Pod/web-0 in shop**", l[1])
assert(l[2] == "Back-off restarting app\\_1", l[2])
assert(l[3]:match("^×7 · %d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d – [%d:%- ]+ [%w+%-]+ · node worker%-3$"), l[3])
-- a Node (cluster-scoped): no "in default", and no node line part without source.host
local node = { reason = "NodeNotReady", message = "not ready", involvedObject = { kind = "Node", name = "n1" } }
_, text = alert.render_markdown(group(node, { first_seen = 1700000300 }))
assert(text:match("^%*%*%[prod%] NodeNotReady Node/n1%*%*  \n"), text)
assert(not text:find(" in ", 1, true) and not text:find("node", 1, true), text)
-- several events in one message: "N events"; older distinct messages shown once
local older = { reason = "FailedScheduling", message = "0/3 nodes: 3 Insufficient cpu", count = 1,
                involvedObject = { kind = "Pod", name = "job-1", namespace = "batch" } }
local newer = { reason = "FailedScheduling", message = "0/3 nodes: 2 Insufficient memory", count = 2,
                involvedObject = older.involvedObject }
_, text = alert.render_markdown(group(newer, { events = { older, newer, newer }, count = 3, update = true, total = 9 }))
assert(text:find("0/3 nodes: 2 Insufficient memory  \n0/3 nodes: 3 Insufficient cpu  \n×2 · 3 events · ", 1, true), text)
assert(text:find("Update: 9 events in this group so far.", 1, true), text)
-- plain text says the same without markdown
_, text = alert.render_text(group(pod))
assert(text:match("^%[prod%] BackOff Pod/web%-0 in shop\nBack%-off restarting app_1\n×7 · .* · node worker%-3$"), text)
-- no construct one of the dialects lacks: headings, lists, quotes, tables
local function dialect_safe(s)
  for line in (s .. "  \n"):gmatch("(.-)  \n") do
    assert(not line:match("^%s*[#>|`]") and not line:match("^%s*[%-+*] ") and not line:match("^%s*%d+%. "), line)
  end
end
dialect_safe(alert.render_markdown(group(pod)))

-- The digest in the same style.
local g1 = group(pod, { count = 40, namespace = "shop", reason = "BackOff" })
local g2 = group(node, { count = 2, namespace = "default", reason = "NodeNotReady" })
local d = { count = 42, groups = { g1, g2 }, top = { g1, g2 },
            by = { { cluster = "prod", namespace = "shop", reason = "BackOff", count = 40 },
                   { cluster = "prod", namespace = "default", reason = "NodeNotReady", count = 2 } } }
title, text = alert.digest_markdown(d)
assert(title == "herald digest: 42 events held back", title)
assert(text:match("^%*%*%[prod%] Digest: 42 events in 2 groups%*%*  \n"), text)
assert(text:find("Held back by the robot's rate limit.\n\n**By reason**  \nBackOff in shop: 40  \n", 1, true), text)
assert(text:find("**Largest groups**  \n**BackOff Pod/web-0 in shop** ×7 · 40 events: Back-off restarting app\\_1", 1, true), text)
assert(text:find("**NodeNotReady Node/n1** ×1 · 2 events: not ready", 1, true), text)
assert(text:find("  \nNodeNotReady: 2\n\n", 1, true), text)     -- a Node's events: no "in default"
-- several clusters: each line names its own
d.by[2].cluster, g2.cluster = "edge", "edge"
d.by[3] = { cluster = "(more groups)", namespace = "-", reason = "-", count = 5 }
_, text = alert.digest_markdown(d)
assert(text:match("^%*%*%[prod, edge%] Digest"), text)
assert(text:find("[edge] NodeNotReady: 2", 1, true) and text:find("[edge] **NodeNotReady Node/n1**", 1, true), text)
assert(text:find("[prod] BackOff in shop: 40", 1, true), text)
assert(text:find("  \ngroups past the group limit: 5", 1, true), text)
dialect_safe(text)
local many = {}
for i = 1, 30 do many[i] = { cluster = "prod", namespace = "ns-" .. i, reason = ("R"):rep(200), count = 1 } end
_, text = alert.digest_markdown({ count = 30, groups = many, top = {}, by = many })
assert(text:find("… and 20 more", 1, true) and #text < 4000, #text)

-- A Feishu card about Warnings is red, a digest of them too; Normal is blue.
local feishu = require "sinks.feishu"
local fconf = { webhook = "https://open.feishu.cn/open-apis/bot/v2/hook/x", format = "interactive", timeout = 10000 }
local function header(msg) return json.decode(feishu.request(msg, fconf).body).card.header.template end
assert(header({ title = "t", text = "x", group = { type = "Warning" } }) == "red")
assert(header({ title = "t", text = "x", group = { type = "Normal" } }) == "blue")
assert(header({ title = "t", text = "x", digest = { groups = { { type = "Normal" }, { type = "Warning" } } } }) == "red")
assert(header({ title = "t", text = "x", digest = { groups = { { type = "Normal" } } } }) == "blue")
