-- herald.runtime: the entry points the C core calls, and the configuration
-- in force.
--
-- C owns every byte of I/O and every clock; Lua owns every decision about
-- content. The work is split by concern:
--   herald.config (with sandbox, loading, schema, dsl)  loading sinks.lua
--       and rules/*.lua, each in its sandboxed environment, and the examples;
--   herald.route   decoding, normalising, routing and encoding each record;
--   herald.views   what alert templates see, and alert messages.
-- The core's callbacks are the module herald.core, preloaded by C. Errors
-- in operator code are caught per function (core.guard), reported with
-- file:line and counted; the event goes on to its other routes.
local json = require "herald.json"
local event = require "herald.event"
local core = require "herald.core"
local config = require "herald.config"
local route = require "herald.route"
local views = require "herald.views"

local guard = core.guard

local R = {}
local cfg                       -- the configuration in force (see herald.config)

-- Loads a configuration directory (see herald.config.load) and puts it in
-- force when it has no error and every example passes. Returns the summary.
function R.load(opts)
  -- A configuration in memory (kube-eventer's flags): core.memory_files
  -- and core.memory_secrets, { name, text, name, text, ... } set by C.
  for key, list in pairs({ files = core.memory_files, secrets = core.memory_secrets }) do
    if list then
      local t = {}
      for i = 1, #list, 2 do t[list[i]] = list[i + 1] end
      opts[key] = t
    end
  end
  local summary, c = config.load(opts)
  if c then cfg = c end
  return summary
end

-- One record from the framer. Returns a kind and details:
--   "events", n            n events routed (a List counts its items)
--   "bookmark", rv         a watch BOOKMARK
--   "deleted", rv          a watch DELETED (ignored)
--   "status", code, reason, message   a watch ERROR (410 Gone ...)
--   "bad", message         not usable; nothing routed
-- A List's bad items go to core.reject(index, message).
function R.ingest(text, has_empty_array, cluster, big_field, field_limit)
  return route.ingest(cfg, text, has_empty_array, cluster, big_field, field_limit)
end

-- An event deferred for its owners and labels, now routed (herald.route).
function R.route_deferred(text, enrichment, admit)
  return route.route_deferred(cfg, text, enrichment, admit)
end

-- An object read for enrichment: labels (JSON), controller kind, name.
function R.object_meta(body)
  return route.object_meta(body)
end

-- A batch of encoded items -> the bytes the sink's output gets, for sink
-- types that define batch(items, conf). Returns the bytes, or nil and a
-- message.
function R.batch(index, items)
  local s = cfg.sinks[index]
  local ok, out, err = guard(s.shape_batch, items, s.conf)
  if not ok then return nil, out end
  if type(out) ~= "string" then return nil, err or "batch returned no string" end
  return out
end

-- HTTP sinks: the request for a batch of encoded items...
function R.http_request(index, items)
  local s = cfg.sinks[index]
  local ok, req, err = guard(s.request, items, s.conf, s.state)
  if not ok then return nil, req end
  if req == nil and err == nil then return nil, nil end   -- not now
  if type(req) ~= "table" then return nil, err or "request() returned no table" end
  if type(req.headers) == "table" and #req.headers == 0 then
    local list = {}
    for k, v in pairs(req.headers) do list[#list + 1] = k .. ": " .. tostring(v) end
    req.headers = list
  end
  return req
end

-- ...and what its answer means: { result = "ok" | "retry" | "again" |
-- "items", after = seconds, message = why, items = { "ok" | "retry" |
-- "failed: why", ... } }. A script error retries: nothing is dropped.
function R.http_response(index, resp, items)
  local s = cfg.sinks[index]
  local ok, verdict = guard(s.response, resp, items, s.conf, s.state)
  if not ok then return { result = "retry", message = tostring(verdict) } end
  if type(verdict) ~= "table" then return { result = "retry", message = "response() returned no verdict" } end
  return verdict
end

-- The request of one alert message (a group, or a digest of several):
-- m is what the core's grouping made of the events.
function R.alert_request(index, m)
  local msg, err = views.alert_message(cfg.sinks[index], m)
  if not msg then return nil, err end
  return R.http_request(index, msg)
end

-- What replay shows of an event.
function R.describe(ev)
  local o = type(ev.involvedObject) == "table" and ev.involvedObject or {}
  local function s(x)   -- a field that is not text (an object, null) shows as nothing
    if type(x) == "string" then return x elseif type(x) == "number" then return tostring(x) end
    return ""
  end
  return s(event.uid(ev)), s(event.namespace(ev)), s(ev.reason), s(ev.type), s(o.kind), s(o.name)
end

return R
