-- sinks.slack: alerts to a Slack channel through an incoming webhook.
--
--   sink "oncall" {
--     type    = "slack",
--     webhook = secret "slack-webhook",   -- https://hooks.slack.com/services/T.../B.../...
--     format  = "blocks",                 -- or "text"
--   }
--
-- Success is HTTP 200 with the body "ok"; 429 waits for Retry-After (in
-- seconds); other answers (invalid_payload, channel_not_found,
-- channel_is_archived, ...) are reported with Slack's own words. Slack
-- takes about one message a second per webhook.
local alert = require "herald.alert"
local log = require "herald.log"

local SECTION_MAX = 3000   -- characters in a section block's text
local TEXT_MAX = 4000

local M = {
  output = "http",
  alert = true,
  options = alert.robot_options("blocks", {
    format = { kind = "string", default = "blocks", doc = "\"blocks\" or \"text\"" },
  }),
  alert_defaults = { limit = { "1/1s" } },
}

function M.init(conf)
  if conf.format ~= "blocks" and conf.format ~= "text" then
    return ("format must be \"blocks\" or \"text\", not %q"):format(conf.format)
  end
  log.redact(conf.webhook:match("^https?://[^/]+(/.+)$") or conf.webhook)
  return nil
end

local esc = alert.escape_slack

-- Slack's mrkdwn: the default alert's lines, the first in *bold*.
M.render = function(g)
  local head, msgs, facts, note = alert.facts(g)
  local lines = { ("*[%s] %s*"):format(esc(g.cluster or "-"), esc(head)) }
  for _, m in ipairs(msgs) do lines[#lines + 1] = esc(m) end
  lines[#lines + 1] = esc(table.concat(facts, " · "))
  if note then lines[#lines + 1] = note end
  return alert.title(g), table.concat(lines, "\n")
end

M.render_digest = function(d)
  local title, text = alert.digest_text(d)
  return title, esc(text)
end

function M.request(msg, conf)
  local body = { text = alert.truncate(msg.text, TEXT_MAX) }
  if conf.format == "blocks" then
    body.text = alert.truncate(msg.title ~= "" and msg.title or msg.text, TEXT_MAX)
    body.blocks = { { type = "section", text = { type = "mrkdwn", text = alert.truncate(msg.text, SECTION_MAX) } } }
  end
  return alert.post_json(conf.webhook, body, conf)
end

function M.response(resp)
  if resp.error then return { result = "retry", message = resp.error } end
  local said = resp.body:sub(1, 120)
  if resp.status == 200 and resp.body == "ok" then return { result = "ok" } end
  if resp.status == 429 then
    return { result = "retry", after = resp.retry_after or 1, message = "Slack rate limit (429)" }
  end
  if resp.status >= 500 then
    return { result = "retry", after = resp.retry_after, message = ("Slack answered HTTP %d: %s"):format(resp.status, said) }
  end
  return { result = "failed", message = ("Slack refused the message: HTTP %d, %s"):format(resp.status, said) }
end

return M
