-- herald.route: one record from a source, decoded, normalised, routed and
-- encoded for the sinks it reaches. The configuration in force is passed
-- in by herald.runtime; what sinks get leaves through core.emit, and what
-- an event did through core.routed.
local json = require "herald.json"
local event = require "herald.event"
local core = require "herald.core"
local views = require "herald.views"

local M = {}

-- How records are decoded. json.decode_lazy leaves the object and array
-- members of an event's metadata (managedFields, annotations, labels ...)
-- undecoded until something reads them, skips List items the source
-- delivered before without decoding them, and keeps each event's text, so
-- the default encoding (stdout, file) is the text as it came with only
-- the members normalize changed written anew (json.splice).
-- HERALD_FAST_PATH=0 decodes and encodes everything (the tests compare
-- the two, byte for byte in meaning).
local FAST = event.FAST
local decode = FAST and json.decode_lazy or json.decode
local encode_json = json.encode

-- Returns the sinks an event reaches (in rule order, each once) and the
-- drop rule that ended its journey, if any.
function M.route_event(c, ev)
  local out, n = {}, 0
  local rules = c.rules
  for i = 1, #rules do
    local rule = rules[i]
    if rule.test(ev) then
      if rule.kind == "drop" then return out, rule end
      local to = rule.to
      for j = 1, #to do
        local s = to[j]
        local k = 1                   -- a handful of sinks: a scan beats a set
        while k <= n and out[k] ~= s do k = k + 1 end
        if k > n then
          n = n + 1
          out[n] = s
        end
      end
    end
  end
  return out, nil
end

-- Any string longer than limit, anywhere in v?
local function oversize(v, limit, depth)
  if type(v) == "string" then return #v > limit end
  if type(v) ~= "table" or depth > 100 then return false end
  for k, x in pairs(v) do
    if oversize(k, limit, depth + 1) or oversize(x, limit, depth + 1) then return true end
  end
  return false
end

-- Does a rule want this event's owners or labels (see herald.dsl: rules
-- that match owner or labels, or say enrich = true, and whose other
-- fields match)? Only then is its object read from the API server.
local function wants_enrichment(cfg, ev)
  local needs = cfg.enrich_needs
  if not needs or #needs == 0 or ev.owner ~= nil or ev.labels ~= nil then return false end
  for i = 1, #needs do
    if needs[i](ev) then return true end
  end
  return false
end

local route_admitted

local function deliver(cfg, ev, cluster, item)
  local _, renamed = event.normalize(ev, cluster or (type(ev.cluster) == "string" and ev.cluster) or "default")
  -- The source decides whether this (uid, resourceVersion) was delivered
  -- before (0: skip) and whether it is too old for alert sinks (2).
  local obj = type(ev.involvedObject) == "table" and ev.involvedObject or {}
  local meta = type(ev.metadata) == "table" and ev.metadata or nil   -- "metadata": null is allowed
  local admit = core.admit(event.uid(ev), meta and meta.resourceVersion, ev.lastTimestamp, ev.type,
    ev.reason, event.namespace(ev), obj.kind)
  if admit == 0 then return 0 end
  if wants_enrichment(cfg, ev) then
    -- The source reads the object and routes the event later
    -- (M.route_deferred); when it cannot wait, it is routed now.
    local text = json.encode(ev)
    if text and core.defer(text, event.uid(ev), event.namespace(ev), obj.kind, obj.name, admit) then
      return 0
    end
  end
  return route_admitted(cfg, ev, admit, item, renamed)
end

-- An event the source deferred for its owners and labels: text is its
-- JSON, enrichment the JSON of { owner, owners, labels } (nil: none could
-- be had, and it goes on without).
function M.route_deferred(cfg, text, enrichment, admit)
  local ev = json.decode(text, true)
  if type(ev) ~= "table" then return end
  local en = enrichment and json.decode(enrichment, true)
  if type(en) == "table" then
    ev.owner, ev.owners, ev.labels = en.owner, en.owners, en.labels
  end
  route_admitted(cfg, ev, admit)
end

-- An object read from the API server: its labels (JSON) and its
-- controller's kind and name.
function M.object_meta(body)
  local o = json.decode(body, true)
  if type(o) ~= "table" or type(o.metadata) ~= "table" then return nil end
  local md = o.metadata
  local labels = type(md.labels) == "table" and md.labels or {}
  local clean = {}
  for k, v in pairs(labels) do
    if type(k) == "string" and type(v) == "string" then clean[k] = v end
  end
  local kind, name
  if type(md.ownerReferences) == "table" then
    for _, ref in ipairs(md.ownerReferences) do
      if type(ref) == "table" and ref.controller == true and type(ref.kind) == "string"
          and type(ref.name) == "string" then
        kind, name = ref.kind, ref.name
        break
      end
    end
  end
  return json.encode(clean), kind, name
end

route_admitted = function(cfg, ev, admit, item, renamed)
  local routes, dropped_by = M.route_event(cfg, ev)
  local emit, emit_splice = core.emit, core.emit_splice
  local delivered = 0
  local spliced = FAST and nil   -- the default encoding, spliced once for every sink (nil: not yet)
  for i = 1, #routes do
    local s = routes[i]
    if admit == 2 and s.alert then
      core.count("stale_skipped", s.name)
      goto next_route
    end
    if s.encode == encode_json and spliced ~= false and emit_splice then
      spliced = emit_splice(s.index, ev, renamed and event.CHANGED_V1 or event.CHANGED, spliced)
      if spliced then
        delivered = delivered + 1
        goto next_route
      end
    end
    local ok, item, err
    if s.own_encode then
      ok, item, err = pcall(s.encode, ev, s.conf)
    else
      ok, item, err = core.guard(s.encode, ev, s.conf)
    end
    if ok and type(item) == "string" then
      if s.alert then
        emit(s.index, item, views.alert_key(s, ev), event.uid(ev))
      else
        emit(s.index, item)
      end
      delivered = delivered + 1
    else
      local msg = (ok and (err or "encode returned no string")) or item
      core.log("error", ("sink %s: cannot encode event %s: %s"):format(
        s.name, tostring(event.uid(ev)), tostring(msg)))
      core.count("encode_errors", s.name)
    end
    ::next_route::
  end
  core.routed(ev, routes, dropped_by and dropped_by.where or nil, item)
  return delivered
end


-- One record from the framer. Returns a kind and details:
--   "events", n            n events routed (a List counts its items)
--   "bookmark", rv         a watch BOOKMARK
--   "deleted", rv          a watch DELETED (ignored)
--   "status", code, reason, message   a watch ERROR (410 Gone ...)
--   "bad", message         not usable; nothing routed
-- A List's bad items go to core.reject(index, message).
function M.ingest(cfg, text, has_empty_array, cluster, big_field, field_limit)
  local v, err = decode(text, FAST and not big_field and core.covered or nil)
  if v == nil then return "bad", "malformed JSON: " .. tostring(err) end
  if type(v) ~= "table" or v[1] ~= nil or json.is_array(v) then return "bad", "not a JSON object" end
  if type(v.type) == "string" and v.object ~= nil then
    local obj, wtype = v.object, v.type
    local rv = type(obj) == "table" and type(obj.metadata) == "table" and obj.metadata.resourceVersion or nil
    if wtype == "ADDED" or wtype == "MODIFIED" then
      local why = event.problem(obj)
      if why then return "bad", "watch event object: " .. why end
      if big_field then return "bad", "a field is longer than " .. field_limit .. " bytes" end
      return "events", deliver(cfg, obj, cluster), rv
    elseif wtype == "BOOKMARK" then
      return "bookmark", rv
    elseif wtype == "DELETED" then
      return "deleted", rv
    elseif wtype == "ERROR" then
      if type(obj) ~= "table" then return "status", 0, "", "ERROR without a Status" end
      local too_large = false
      local causes = type(obj.details) == "table" and obj.details.causes
      for _, c in ipairs(type(causes) == "table" and causes or {}) do
        if type(c) == "table" and (c.reason == "ResourceVersionTooLarge" or c.type == "ResourceVersionTooLarge") then
          too_large = true
        end
      end
      local msg = tostring(obj.message or "")
      if msg:find("Too large resource version", 1, true) then too_large = true end
      return "status", tonumber(obj.code) or 0, tostring(obj.reason or ""), msg, too_large
    end
    return "bad", ("unknown watch event type %q"):format(wtype)
  end
  if type(v.items) == "table" and v.involvedObject == nil then
    local n = 0
    for i, item in ipairs(v.items) do
      local why = item ~= false and event.problem(item)
      if item == false then
        n = n + 1   -- delivered before (core.covered): validated, not decoded
      elseif why then
        core.reject(i, why)
      elseif big_field and oversize(item, field_limit, 0) then
        core.reject(i, "a field is longer than " .. field_limit .. " bytes")
      else
        n = n + 1
        deliver(cfg, item, cluster, i)
      end
    end
    local meta = type(v.metadata) == "table" and v.metadata or {}
    local cont = meta.continue
    if cont == json.null then cont = nil end
    return "events", n, meta.resourceVersion, cont
  end
  local why = event.problem(v)
  if why then return "bad", why end
  if big_field then return "bad", "a field is longer than " .. field_limit .. " bytes" end
  return "events", deliver(cfg, v, cluster)
end

return M
