-- sinks.wechat: alerts as WeCom (企业微信) *application* messages, sent
-- to users through an app's agent (kube-eventer's wechat sink). For a
-- group robot's webhook, use the wecom type instead.
--
--   sink "oncall" {
--     type        = "wechat",
--     corp_id     = "ww0123456789abcdef",
--     corp_secret = secret "wechat-corp-secret",
--     agent_id    = 1000002,
--     to_user     = { "zhangsan", "lisi" },    -- default { "@all" }
--     -- style = "kube-eventer", labels = { "cls-tke" },
--   }
--
-- The access token (gettoken with corp_id and corp_secret) is fetched
-- before the first message and kept until shortly before it expires
-- (expires_in, 2 hours), not fetched per message. A message the API
-- refuses because the token expired or was revoked (42001, 40014, 41001)
-- drops the token and is sent again with a fresh one. Text is at most
-- 2,048 bytes. The corp_secret and the token never reach the log.
local json = require "herald.json"
local alert = require "herald.alert"
local log = require "herald.log"
local ke = require "herald.kubeeventer_format"

local MAX_BYTES = 2048
local MARGIN_S = 300      -- refresh this long before the token expires

local M = {
  output = "http",
  alert = true,
  options = {
    corp_id = { kind = "string", required = true, doc = "the WeCom corp ID" },
    corp_secret = { kind = "string", required = true, doc = "the app's secret (best read with `secret`)" },
    agent_id = { kind = "number", required = true, doc = "the app's AgentId, a whole number" },
    to_user = { kind = "strings", default = { "@all" }, doc = "the users one message goes to" },
    style = { kind = "string", default = "herald", doc = "\"herald\", or \"kube-eventer\": kube-eventer's layout" },
    labels = { kind = "strings", doc = "kube-eventer's label=, shown first (style \"kube-eventer\")" },
    api = { kind = "string", default = "https://qyapi.weixin.qq.com", doc = "the WeCom API's base URL" },
    timeout = { kind = "duration", default = "10s", doc = "how long one request may take" },
    ca_file = { kind = "string", doc = "CA certificates (PEM) to trust instead of the system's" },
    dead_letter = { kind = "string", doc = "a file for the events of messages refused for good" },
  },
  alert_defaults = { limit = { "20/1m" } },
}

function M.init(conf)
  if math.type(conf.agent_id) ~= "integer" then return "agent_id must be the app's AgentId, a whole number" end
  if conf.style ~= "herald" and conf.style ~= "kube-eventer" then
    return ("style must be \"herald\" or \"kube-eventer\", not %q"):format(conf.style)
  end
  if not conf.api:match("^https?://") then return "api must start with https:// (or http:// for a test server)" end
  conf.api = conf.api:gsub("/+$", "")
  if #conf.to_user == 0 then return "to_user must name at least one user, or \"@all\"" end
  log.redact(conf.corp_secret)
  return nil
end

M.render = function(group, conf)
  if conf.style == "kube-eventer" then
    local text = ke.text(group.event, conf.labels, true)
    if group.count > 1 then text = text .. ("\nEvents:%d"):format(group.count) end
    return alert.title(group), text
  end
  return alert.render_text(group)
end
M.render_digest = function(digest)
  return alert.digest_text(digest)
end

local function get(url, conf)
  return { method = "GET", url = url, headers = { "Accept: application/json" },
           timeout = conf.timeout / 1000, ca_file = conf.ca_file }
end

function M.request(msg, conf, state)
  local now = alert.now_ms() / 1000
  if not state.token or now >= (state.expires or 0) then
    state.step = "token"
    return get(("%s/cgi-bin/gettoken?corpid=%s&corpsecret=%s"):format(conf.api,
      alert.url_encode(conf.corp_id), alert.url_encode(conf.corp_secret)), conf)
  end
  state.step = "send"
  local body = {
    touser = table.concat(conf.to_user, "|"), msgtype = "text", agentid = conf.agent_id,
    text = { content = alert.truncate(msg.text, MAX_BYTES) }, safe = 0,
  }
  return alert.post_json(conf.api .. "/cgi-bin/message/send?access_token=" .. alert.url_encode(state.token), body, conf)
end

-- The token's answer: keep it, then send the message ("again").
local function token_answer(resp, state)
  if resp.error then return { result = "retry", message = resp.error } end
  if resp.status == 429 or resp.status >= 500 then
    return { result = "retry", after = resp.retry_after, message = ("WeCom gettoken answered HTTP %d"):format(resp.status) }
  end
  local ok, v = pcall(json.decode, resp.body)
  if not ok or type(v) ~= "table" then
    return { result = "retry", message = "WeCom gettoken's answer is not its JSON" }
  end
  local code = math.tointeger(v.errcode) or 0
  if code ~= 0 or type(v.access_token) ~= "string" or v.access_token == "" then
    -- 40013 (corp_id), 40001 / 40091 (corp_secret): nothing is sent until fixed.
    return { result = "retry", after = 60, message = ("WeCom refused the token: errcode %d, %s (check corp_id and corp_secret)")
      :format(code, tostring(v.errmsg or "")) }
  end
  log.redact(v.access_token)
  state.token = v.access_token
  local ttl = tonumber(v.expires_in) or 7200
  state.expires = alert.now_ms() / 1000 + math.max(60, ttl - MARGIN_S)
  return { result = "again" }
end

local EXPIRED = { [42001] = true, [40014] = true, [41001] = true }

local ROBOT = {
  name = "WeCom", field = "errcode", throttled = { [45009] = 60, [45033] = 60 },
  causes = { [60020] = "this machine's IP is not in the app's trusted IPs", [81013] = "no user in to_user exists in the app's visible range",
    [40056] = "agent_id is not the app's AgentId", [301002] = "agent_id is not the app's AgentId" },
  code = function(v) return v.errcode, v.errmsg end,
}

function M.response(resp, msg, conf, state)
  local step = state.step
  state.step = nil
  if step == "token" then return token_answer(resp, state) end
  if resp.status == 200 and not resp.error then
    local ok, v = pcall(json.decode, resp.body)
    if ok and type(v) == "table" and EXPIRED[math.tointeger(v.errcode) or 0] then
      state.token = nil
      return { result = "again", message = "the WeCom access token expired; fetching a new one" }
    end
  end
  return alert.judge(resp, ROBOT)
end

return M
