-- sinks.webhook: alerts to any HTTP endpoint, with the body you write.
--
--   sink "pager" {
--     type    = "webhook",
--     url     = env "PAGER_URL",
--     method  = "POST",                             -- default POST
--     headers = { Authorization = "Bearer " .. secret "pager-token" },
--     body    = function(group)                     -- a string, or a table sent as JSON
--       return { summary = group.reason .. " on " .. group.name, severity = "warning" }
--     end,
--     limit   = "60/1m",                            -- default: no limit
--   }
--
-- body gets a group or, when the limit holds messages back, a digest
-- (digest.digest is true). Without body the JSON is
-- { title, text, cluster, namespace, kind, name, reason, type, count,
--   events } (or the digest's { title, text, digest, count, by }).
-- 2xx is success; 429 and 5xx are retried (Retry-After honoured); other
-- answers are reported and counted.
local json = require "herald.json"
local alert = require "herald.alert"

local M = {
  output = "http",
  alert = true,
  options = {
    url = { kind = "string", required = true, doc = "where each message is sent" },
    method = { kind = "string", default = "POST", doc = "the HTTP method" },
    headers = { kind = "table", doc = "{ [\"Name\"] = \"value\" }: extra request headers" },
    body = { kind = "function", doc = "function(group) returns the body: a string, or a table sent as JSON" },
    content_type = { kind = "string", default = "application/json", doc = "the Content-Type header" },
    timeout = { kind = "duration", default = "10s", doc = "how long one request may take" },
    ca_file = { kind = "string", doc = "CA certificates (PEM) to trust instead of the system's" },
    insecure = { kind = "boolean", default = false, doc = "skip TLS verification (never the default)" },
    dead_letter = { kind = "string", doc = "a file for the events of messages refused for good" },
  },
  alert_defaults = { limit = { "none" } },
}

function M.init(conf)
  if not conf.method:match("^[A-Z]+$") then return ("method %q is not an HTTP method"):format(conf.method) end
  for k, v in pairs(conf.headers or {}) do
    if type(k) ~= "string" or type(v) ~= "string" or k:find("[:\r\n]") or v:find("[\r\n]") then
      return "headers must map header names to string values"
    end
  end
  return nil
end

M.render = function(group)
  return alert.render_text(group)
end
M.render_digest = function(digest)
  return alert.digest_text(digest)
end

local function default_body(msg)
  local v = msg.view
  if v.digest then
    local by = {}
    for i, b in ipairs(v.by) do by[i] = b end
    return { title = msg.title, text = msg.text, digest = true, count = v.count, by = json.array(by) }
  end
  return {
    title = msg.title, text = msg.text, cluster = v.cluster, namespace = v.namespace,
    kind = v.kind, name = v.name, reason = v.reason, type = v.type, count = v.count,
    events = json.array(v.events),
  }
end

function M.request(msg, conf)
  local body = msg.body or default_body(msg)
  if type(body) ~= "string" then body = json.encode(body) end
  local headers = { "Content-Type: " .. conf.content_type }
  for k, v in pairs(conf.headers or {}) do headers[#headers + 1] = k .. ": " .. v end
  return {
    method = conf.method, url = conf.url, body = body, headers = headers,
    timeout = conf.timeout / 1000, ca_file = conf.ca_file, insecure = conf.insecure,
  }
end

function M.response(resp)
  if resp.error then return { result = "retry", message = resp.error } end
  if resp.status >= 200 and resp.status < 300 then return { result = "ok" } end
  local said = ("HTTP %d: %s"):format(resp.status, resp.body:sub(1, 120))
  if resp.status == 429 or resp.status >= 500 then
    return { result = "retry", after = resp.retry_after, message = "the webhook answered " .. said }
  end
  return { result = "failed", message = "the webhook refused the message: " .. said }
end

return M
