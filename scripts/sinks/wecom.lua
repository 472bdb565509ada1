-- sinks.wecom: alerts to a WeCom (企业微信) group robot.
--
--   sink "oncall" {
--     type    = "wecom",
--     webhook = secret "wecom-webhook",   -- https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...
--     format  = "markdown",               -- or "text"
--     mention = { users = { "zhangsan" }, mobiles = { "13800000000" }, all = false },
--   }
--
-- The key in the URL is the robot's only secret (WeCom robots do not sign).
-- text content is at most 2048 bytes and markdown 4096: longer texts are
-- cut with a marker. 20 messages a minute per robot.
local json = require "herald.json"
local alert = require "herald.alert"
local log = require "herald.log"

local LIMIT = { text = 2048, markdown = 4096 }

local M = {
  output = "http",
  alert = true,
  options = {
    webhook = { kind = "string", required = true },
    format = { kind = "string", default = "markdown" },
    mention = { kind = "table" },
    timeout = { kind = "duration", default = "10s" },
    ca_file = { kind = "string" },
    dead_letter = { kind = "string" },
  },
  alert_defaults = { limit = { "20/1m" } },
}

local function strings(v)
  if v == nil then return {} end
  if type(v) == "string" then return { v } end
  return v
end

function M.init(conf)
  if not LIMIT[conf.format] then
    return ("format must be \"markdown\" or \"text\", not %q"):format(conf.format)
  end
  if not conf.webhook:find("key=", 1, true) and not conf.webhook:find("^<") then
    return "webhook must be the robot's URL with its key, as in https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=..."
  end
  log.redact(conf.webhook:match("key=([^&]+)") or conf.webhook)
  return nil
end

-- WeCom markdown has no headings in titles and only three font colours;
-- the text (with its title as the first line) is the whole message.
M.render = function(group, conf)
  if conf.format == "text" then return alert.render_text(group) end
  local title, text = alert.render_markdown(group)
  return title, (text:gsub("^#### ", '### <font color="warning">', 1):gsub("  \n", "</font>  \n", 1))
end
M.render_digest = function(digest, conf)
  if conf.format == "text" then return alert.digest_text(digest) end
  return alert.digest_markdown(digest)
end

function M.request(msg, conf)
  local m = conf.mention or {}
  local users, mobiles = strings(m.users), strings(m.mobiles)
  local body
  if conf.format == "text" then
    local u, p = {}, {}
    for i, x in ipairs(users) do u[i] = x end
    for i, x in ipairs(mobiles) do p[i] = x end
    if m.all then u[#u + 1] = "@all" end
    body = { msgtype = "text", text = {
      content = alert.truncate(msg.text, LIMIT.text),
      mentioned_list = json.array(u), mentioned_mobile_list = json.array(p),
    } }
  else
    local tags = {}
    for _, x in ipairs(users) do tags[#tags + 1] = "<@" .. x .. ">" end
    local suffix = #tags > 0 and ("\n" .. table.concat(tags, " ")) or ""
    body = { msgtype = "markdown", markdown = {
      content = alert.truncate(msg.text, LIMIT.markdown - #suffix) .. suffix,
    } }
  end
  return {
    method = "POST", url = conf.webhook, body = json.encode(body),
    headers = { "Content-Type: application/json" },
    timeout = conf.timeout / 1000, ca_file = conf.ca_file,
  }
end

local CAUSES = {
  [93000] = "the webhook key is not valid (check `webhook`)",
  [40058] = "the content is too long",
}

function M.response(resp)
  if resp.error then return { result = "retry", message = resp.error } end
  if resp.status == 429 or resp.status >= 500 then
    return { result = "retry", after = resp.retry_after, message = "WeCom answered HTTP " .. resp.status }
  end
  local ok, v = pcall(json.decode, resp.body)
  local code = ok and type(v) == "table" and math.tointeger(v.errcode)
  if not code then
    if resp.status ~= 200 then return { result = "failed", message = ("WeCom answered HTTP %d"):format(resp.status) } end
    return { result = "retry", message = "WeCom's answer is not its JSON: " .. resp.body:sub(1, 120) }
  end
  if code == 0 then return { result = "ok" } end
  local errmsg = tostring(v.errmsg or "")
  if code == 45009 then
    return { result = "retry", after = 60, message = "WeCom throttles this robot (45009): " .. errmsg }
  end
  local cause = CAUSES[code]
  return { result = "failed", message = ("WeCom refused the message: errcode %d, %s%s"):format(
    code, errmsg, cause and (" - " .. cause) or "") }
end

return M
