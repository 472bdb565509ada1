-- sinks.feishu: alerts to a Feishu or Lark group through a custom bot.
--
--   sink "oncall" {
--     type    = "feishu",
--     webhook = secret "feishu-webhook",  -- https://open.feishu.cn/open-apis/bot/v2/hook/<token>
--                                         -- (Lark: https://open.larksuite.com/open-apis/bot/v2/hook/<token>)
--     sign    = secret "feishu-sign",     -- the bot's signing secret, if it signs
--     keyword = "k8s",                    -- the bot's keyword, if it has one
--     format  = "interactive",            -- a card; or "post" (rich text) or "text"
--     mention = { users = { "ou_xxx" }, all = false },
--   }
--
-- Signing puts "timestamp" (seconds) and "sign" in the JSON body: sign is
-- Base64(HMAC-SHA256 with key timestamp + "\n" + secret over an empty
-- message). Success is code 0; 19021 (signature or clock), 19022 (IP),
-- 19024 (keyword) and 9499 (bad request) are reported; 11232 (throttled)
-- backs off. Limits: 100 a minute and 5 a second per bot, 20 KB a body.
local alert = require "herald.alert"
local log = require "herald.log"

local MAX_TEXT = 16000   -- leaves room for the JSON around it under 20 KB

local M = {
  output = "http",
  alert = true,
  options = alert.robot_options("interactive", {
    format = { kind = "string", default = "interactive", doc = "\"interactive\" (a card), \"post\" (rich text) or \"text\"" },
    sign = { kind = "string", doc = "the bot's signing secret, if it signs" },
    keyword = { kind = "string", doc = "the bot's keyword, added when the text lacks it" },
    mention = { kind = "table", doc = "{ users = { \"ou_xxx\" }, all = false }: who is @-mentioned" },
  }),
  alert_defaults = { limit = { "100/1m", "5/1s" } },
}

local FORMATS = { interactive = true, post = true, text = true }

function M.init(conf)
  if not FORMATS[conf.format] then
    return ("format must be \"interactive\", \"post\" or \"text\", not %q"):format(conf.format)
  end
  if not conf.webhook:find("/open%-apis/bot/v2/hook/") and not conf.webhook:find("^<") then
    return "webhook must be the bot's URL, as in https://open.feishu.cn/open-apis/bot/v2/hook/<token>"
  end
  log.redact(conf.webhook:match("/hook/([^/?#]+)") or conf.webhook)
  return nil
end

-- Cards take lark_md (markdown). A card's header shows the alert's first
-- line (the body then starts at the message), so nothing is said twice;
-- post and text take plain text.
local function card(title, text)
  local head, rest = text:match("^%*%*(.-)%*%*  \n(.*)$")
  if not head then return title, text end
  return head:gsub("\\(.)", "%1"), rest
end
M.render = function(group, conf)
  if conf.format == "interactive" then return card(alert.render_markdown(group)) end
  return alert.render_text(group)
end
M.render_digest = function(digest, conf)
  if conf.format == "interactive" then return card(alert.digest_markdown(digest)) end
  return alert.digest_text(digest)
end

-- A card about Warnings has a red header: a group of them, or a digest
-- with one among its groups.
local function warning(msg)
  if msg.group then return msg.group.type == "Warning" end
  for _, g in ipairs(msg.digest and msg.digest.groups or {}) do
    if g.type == "Warning" then return true end
  end
  return false
end

function M.request(msg, conf)
  local m = conf.mention or {}
  local users = {}
  for i, u in ipairs(alert.list(m.users)) do users[i] = u end
  if m.all then users[#users + 1] = "all" end
  local text = msg.text
  if conf.keyword and not text:find(conf.keyword, 1, true) and not msg.title:find(conf.keyword, 1, true) then
    text = text .. "\n" .. conf.keyword
  end
  text = alert.truncate(text, MAX_TEXT)
  local title = msg.title ~= "" and msg.title or "Kubernetes event"
  local body
  if conf.format == "text" then
    for _, u in ipairs(users) do text = text .. ('\n<at user_id="%s"></at>'):format(u) end
    body = { msg_type = "text", content = { text = text } }
  elseif conf.format == "post" then
    local line = { { tag = "text", text = text } }
    for _, u in ipairs(users) do line[#line + 1] = { tag = "at", user_id = u } end
    body = { msg_type = "post", content = { post = { zh_cn = { title = title, content = { line } } } } }
  else
    for _, u in ipairs(users) do text = text .. ('\n<at id=%s></at>'):format(u) end
    -- lark_md reads markdown, but not headings or "  \n" line breaks.
    text = text:gsub("  \n", "\n"):gsub("^####%s*", "")
    body = { msg_type = "interactive", card = {
      config = { wide_screen_mode = true },
      header = { title = { tag = "plain_text", content = title },
                 template = warning(msg) and "red" or "blue" },
      elements = { { tag = "div", text = { tag = "lark_md", content = text } } },
    } }
  end
  if conf.sign then
    local ts = tostring(alert.now_ms() // 1000)
    body.timestamp = ts
    body.sign = alert.sign(ts .. "\n" .. conf.sign, "")
  end
  return alert.post_json(conf.webhook, body, conf, "application/json; charset=utf-8")
end

local CAUSES = {
  [19021] = "signature or timestamp rejected (check the `sign` secret and this machine's clock)",
  [19022] = "this address is not on the bot's IP allowlist",
  [19024] = "the keyword is not in the message (check `keyword`)",
  [9499] = "the bot refused the body",
}

local ROBOT = {
  name = "Feishu", field = "code", causes = CAUSES, throttled = { [11232] = 60 },
  code = function(v) return v.code or v.StatusCode, v.msg or v.StatusMessage end,
}

function M.response(resp)
  return alert.judge(resp, ROBOT)
end

return M
