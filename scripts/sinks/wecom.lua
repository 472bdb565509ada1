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
  options = alert.robot_options("markdown", {
    format = { kind = "string", default = "markdown", doc = "\"markdown\" or \"text\"" },
    mention = { kind = "table", doc = "{ users = {...}, mobiles = {...}, all = false }: who is @-mentioned" },
  }),
  alert_defaults = { limit = { "20/1m" } },
}

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

-- The default text is the same markdown as DingTalk's (bold and line
-- breaks, which WeCom renders).
M.render = function(group, conf)
  if conf.format == "text" then return alert.render_text(group) end
  return alert.render_markdown(group)
end
M.render_digest = function(digest, conf)
  if conf.format == "text" then return alert.digest_text(digest) end
  return alert.digest_markdown(digest)
end

function M.request(msg, conf)
  local m = conf.mention or {}
  local users, mobiles = alert.list(m.users), alert.list(m.mobiles)
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
  return alert.post_json(conf.webhook, body, conf)
end

local CAUSES = {
  [93000] = "the webhook key is not valid (check `webhook`)",
  [40058] = "the content is too long",
}

local ROBOT = {
  name = "WeCom", field = "errcode", causes = CAUSES, throttled = { [45009] = 60 },
  code = function(v) return v.errcode, v.errmsg end,
}

function M.response(resp)
  return alert.judge(resp, ROBOT)
end

return M
