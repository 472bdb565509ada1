-- sinks.dingtalk: alerts to a DingTalk group through a custom robot
-- (自定义机器人).
--
--   sink "oncall" {
--     type    = "dingtalk",
--     webhook = secret "dingtalk-webhook",   -- https://oapi.dingtalk.com/robot/send?access_token=...
--     sign    = secret "dingtalk-sign",      -- the robot's signing secret (SEC...), if it signs
--     keyword = "k8s",                       -- the robot's keyword, if it has one
--     format  = "markdown",                  -- or "text"
--     mention = { mobiles = { "13800000000" }, users = { "manager01" }, all = false },
--     -- style = "kube-eventer", labels = { "cls-tke" },  -- kube-eventer's layout
--   }
--
-- Every request is signed afresh (timestamp in ms + "\n" + secret,
-- HMAC-SHA256, Base64, URL-encoded). Success is errcode 0 only; 130101
-- (sent too fast) waits out DingTalk's 10-minute throttle; 310000 (keyword, signature or clock) and
-- 300001/300005 (token) are reported with DingTalk's own errmsg.
-- The robot takes 20 messages a minute: herald's grouping keeps under it.
local json = require "herald.json"
local alert = require "herald.alert"
local log = require "herald.log"
local ke = require "herald.kubeeventer_format"

local MAX_BYTES = 4000   -- DingTalk publishes no limit for webhooks; stay under ~4 KB

local M = {
  output = "http",
  alert = true,
  options = alert.robot_options("markdown", {
    format = { kind = "string", default = "markdown", doc = "\"markdown\" or \"text\"" },
    sign = { kind = "string", doc = "the robot's signing secret (SEC...), if it signs" },
    keyword = { kind = "string", doc = "the robot's keyword, added when the text lacks it" },
    mention = { kind = "table", doc = "{ mobiles = {...}, users = {...}, all = false }: who is @-mentioned" },
    style = { kind = "string", default = "herald", doc = "\"herald\", or \"kube-eventer\": kube-eventer's layout" },
    labels = { kind = "strings", doc = "kube-eventer's label=, shown first (style \"kube-eventer\")" },
  }),
  alert_defaults = { limit = { "20/1m" } },
}

function M.init(conf)
  if conf.format ~= "markdown" and conf.format ~= "text" then
    return ("format must be \"markdown\" or \"text\", not %q"):format(conf.format)
  end
  if conf.style ~= "herald" and conf.style ~= "kube-eventer" then
    return ("style must be \"herald\" or \"kube-eventer\", not %q"):format(conf.style)
  end
  if not conf.webhook:find("access_token=", 1, true) and not conf.webhook:find("^<") then
    return "webhook must be the robot's URL with its access_token, as in https://oapi.dingtalk.com/robot/send?access_token=..."
  end
  if conf.webhook:find("[?&]sign=") or conf.webhook:find("[?&]timestamp=") then
    return "webhook must not carry timestamp or sign: give the signing secret as `sign` and herald signs each request"
  end
  log.redact(conf.webhook:match("access_token=([^&]+)") or conf.webhook)
  local m = conf.mention or {}
  for k in pairs(m) do
    if k ~= "mobiles" and k ~= "users" and k ~= "all" then
      return ("mention: unknown key %q (mention takes mobiles, users, all)"):format(tostring(k))
    end
  end
  return nil
end

-- kube-eventer's layout shows the newest event of the group as
-- kube-eventer showed each event, and how many the message stands for.
function M.kube_eventer_render(group, conf)
  local title = alert.title(group)
  if conf.format == "text" then
    local text = ke.text(group.event, conf.labels)
    if group.count > 1 then text = text .. ("\nEvents:%d"):format(group.count) end
    return title, text
  end
  local text = ke.markdown(group.event, conf.labels)
  if group.count > 1 then text = text .. ("\n\nEvents: **%d**"):format(group.count) end
  return title, text
end

M.render = function(group, conf)
  if conf.style == "kube-eventer" then return M.kube_eventer_render(group, conf) end
  if conf.format == "text" then return alert.render_text(group) end
  return alert.render_markdown(group)
end
M.render_digest = function(digest, conf)
  if conf.format == "text" then return alert.digest_text(digest) end
  return alert.digest_markdown(digest)
end

-- The text with the keyword (DingTalk refuses a message without it) and
-- the @mentions (the mentioned must also appear in the text), within the
-- size limit.
local function finish(text, conf)
  local m = conf.mention or {}
  local tail = {}
  for _, mobile in ipairs(alert.list(m.mobiles)) do tail[#tail + 1] = "@" .. mobile end
  for _, user in ipairs(alert.list(m.users)) do tail[#tail + 1] = "@" .. user end
  local suffix = #tail > 0 and ("\n\n" .. table.concat(tail, " ")) or ""
  if conf.keyword and not text:find(conf.keyword, 1, true) then
    suffix = suffix .. "\n\n" .. conf.keyword
  end
  return alert.truncate(text, MAX_BYTES - #suffix) .. suffix
end

function M.request(msg, conf)
  local text = finish(msg.text, conf)
  local m = conf.mention or {}
  local at = {
    atMobiles = json.array(alert.list(m.mobiles)),
    atUserIds = json.array(alert.list(m.users)),
    isAtAll = m.all == true,
  }
  local body
  if conf.format == "text" then
    body = { msgtype = "text", text = { content = text }, at = at }
  else
    local title = msg.title ~= "" and msg.title or "Kubernetes event"
    if conf.keyword and not title:find(conf.keyword, 1, true) then title = conf.keyword .. " " .. title end
    body = { msgtype = "markdown", markdown = { title = title, text = text }, at = at }
  end
  local url = conf.webhook
  if conf.sign then
    local ts = tostring(alert.now_ms())
    url = url .. (url:find("?", 1, true) and "&" or "?") .. "timestamp=" .. ts
      .. "&sign=" .. alert.url_encode(alert.sign(conf.sign, ts .. "\n" .. conf.sign))
  end
  return alert.post_json(url, body, conf, "application/json;charset=utf-8")
end

local CAUSES = {
  [310000] = "keyword, signature or timestamp rejected (check `keyword`, the `sign` secret and this machine's clock)",
  [300001] = "the access_token does not exist (check `webhook`)",
  [300005] = "the access_token does not exist (check `webhook`)",
}

local ROBOT = {
  name = "DingTalk", field = "errcode", causes = CAUSES, throttled = { [130101] = 600 },   -- "throttled for 10 minutes"
  code = function(v) return v.errcode, v.errmsg end,
}

function M.response(resp)
  return alert.judge(resp, ROBOT)
end

return M
