-- herald.views: what alert templates see. An alert sink keeps each event
-- as an encoded item; the core groups items and, when a message is due,
-- hands back a group (or a digest of several). This module decodes them
-- into the documented group and digest views (see herald.alert), renders
-- the title and text through the operator's template or the sink type's,
-- and builds the message a sink type's request() gets.
local json = require "herald.json"
local event = require "herald.event"
local time = require "herald.time"
local core = require "herald.core"
local sandbox = require "herald.sandbox"

local rule_error = sandbox.rule_error

local M = {}

-- The item an alert sink keeps for an event: the event without
-- managedFields, which no template needs.
function M.alert_encode(ev)
  local md = type(ev.metadata) == "table" and ev.metadata or nil
  local mf = md and md.managedFields
  if mf ~= nil then md.managedFields = nil end
  local s = json.encode(ev)
  if mf ~= nil then md.managedFields = mf end
  return s
end

-- The group an event belongs to in an alert sink: its group_by values.
function M.alert_key(s, ev)
  local parts, getters = {}, s.alert_cfg.getters
  for i = 1, #getters do
    local v = getters[i](ev)
    parts[i] = v == nil and "" or tostring(v)
  end
  return table.concat(parts, "\31")
end

local function seen_range(evs)
  local first, last
  for _, ev in ipairs(evs) do
    local f = time.parse(ev.firstTimestamp) or time.parse(ev.eventTime) or time.parse(ev.lastTimestamp)
    local l = time.parse(ev.lastTimestamp) or f
    if f and (not first or f < first) then first = f end
    if l and (not last or l > last) then last = l end
  end
  return first, last
end

-- What a template gets for one group (see herald.alert).
local function group_view(s, part)
  local evs = {}
  for _, item in ipairs(part.samples or {}) do
    local ev = json.decode(item)
    if type(ev) == "table" then evs[#evs + 1] = ev end
  end
  local ev = evs[#evs]
  local g = {
    sink = s.name, events = evs, event = ev, count = part.count or #evs, total = part.total or #evs,
    update = (part.sent_before or 0) > 0, ["repeat"] = part["repeat"] == true,
    overflow = part.overflow == true, labels = {},
  }
  if ev and not g.overflow then
    for i, get in ipairs(s.alert_cfg.getters) do g.labels[s.alert_cfg.labels[i]] = get(ev) end
    local o = type(ev.involvedObject) == "table" and ev.involvedObject or {}
    g.cluster, g.namespace, g.kind, g.name = ev.cluster, event.namespace(ev), o.kind, o.name
    g.reason, g.type, g.message = ev.reason, ev.type, ev.message
    g.owner = ev.owner                    -- set when a rule asked for owners (herald.route)
  end
  g.first_seen, g.last_seen = seen_range(evs)
  return g
end

-- What a digest template gets: every group, counts by cluster,
-- namespace and reason, and the groups by size.
local function digest_view(s, m)
  local d = { digest = true, sink = s.name, count = m.events or 0, groups = {}, by = {}, top = {} }
  local by = {}
  for _, part in ipairs(m.parts) do
    local g = group_view(s, part)
    d.groups[#d.groups + 1] = g
    d.top[#d.top + 1] = g
    local cl, ns, rs = g.cluster or "-", g.namespace or "-", g.reason or "-"
    if g.overflow then cl, ns, rs = "(more groups)", "-", "-" end
    local k = cl .. "\31" .. ns .. "\31" .. rs
    local b = by[k]
    if not b then
      b = { cluster = cl, namespace = ns, reason = rs, count = 0 }
      by[k] = b
      d.by[#d.by + 1] = b
    end
    b.count = b.count + g.count
  end
  table.sort(d.by, function(x, y)
    if x.count ~= y.count then return x.count > y.count end
    return x.cluster .. x.namespace .. x.reason < y.cluster .. y.namespace .. y.reason
  end)
  table.sort(d.top, function(x, y) return x.count > y.count end)
  return d
end

-- An operator's template: title (or nil) and text, or nil, nil and why.
local function call_template(fn, view)
  local ok, title, text = core.guard_template(fn, view)
  if not ok then return nil, nil, tostring(title) end
  if type(title) == "string" and text == nil then title, text = nil, title end
  if type(text) ~= "string" or (title ~= nil and type(title) ~= "string") then
    return nil, nil, "render must return title, text (strings)"
  end
  return title, text
end

-- Title and text of a message: the operator's template when there is one
-- (a failing template is logged and counted, and the built-in one is
-- used, so the alert still goes out), else the sink type's.
local function render(s, view)
  local custom = view.digest and s.conf.render_digest or (not view.digest and s.conf.render)
  if custom then
    local title, text, err = call_template(custom, view)
    if text then return title, text end
    rule_error(s.template_where or s.where, err)
  end
  local ok, title, text = core.guard(view.digest and s.render_digest or s.render, view, s.conf)
  if not ok then return nil, nil, title end
  return title, text
end

-- The message of one alert (a group, or a digest of several) for the sink
-- type's request(): m is what the core's grouping made of the events.
-- Returns the message, or nil and why.
function M.alert_message(s, m)
  local view = m.digest and digest_view(s, m) or group_view(s, m.parts[1])
  if not view.digest and not view.event then return nil, "the group holds no readable event" end
  local title, text, err = render(s, view)
  if not text then return nil, err end
  local msg = { title = title or "", text = text, view = view, attempts = m.attempts or 0 }
  if view.digest then msg.digest = view else msg.group = view end
  if type(s.conf.body) == "function" then        -- the webhook type's own body
    local ok, body = core.guard_template(s.conf.body, view)
    if ok and (type(body) == "string" or type(body) == "table") then
      msg.body = body
    else
      rule_error(s.where, ok and "body must return a string or a table" or body)
    end
  end
  return msg
end

-- herald check: an example that reaches an alert sink with a template
-- also renders it, so a broken template fails the check, not the alert.
function M.check_template(s, ev)
  local item = M.alert_encode(ev)
  local view = group_view(s, { samples = { item }, count = 1, total = 1 })
  local _, text, err = call_template(s.conf.render, view)
  if not text then return "its template failed: " .. err end
  return nil
end

return M
