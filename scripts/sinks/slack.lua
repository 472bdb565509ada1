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
  options = alert.robot_options("blocks"),
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

local object_of = alert.object

-- Slack's mrkdwn: *bold*, _italic_, > quote.
M.render = function(g)
  local ev = g.event
  local title = alert.title(g)
  local lines = {
    ("*%s: %s* %s in %s"):format(esc(ev.type or "Event"), esc(ev.reason or "-"), esc(object_of(ev)), esc(g.namespace or "-")),
    "> " .. esc(ev.message or ""):gsub("\n", "\n> "),
    ("*Cluster:* %s   *Namespace:* %s   *Count:* %s"):format(esc(g.cluster or "-"), esc(g.namespace or "-"), alert.number(ev.count)),
    ("*First seen:* %s   *Last seen:* %s"):format(alert.local_time(g.first_seen), alert.local_time(g.last_seen)),
    ("*Events:* %d"):format(g.count),
  }
  if g["repeat"] then lines[#lines + 1] = "_Still happening: repeats of an alert sent before._" end
  return title, table.concat(lines, "\n")
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
