-- herald.match: turns `when`/`unless`/`drop` specs into predicates, once,
-- at load time, so matching an event costs a few table lookups.
--
-- A spec is a function of the event, or a table whose every key must
-- match. Keys are shorthands (below) or dotted paths into the Event
-- ("involvedObject.fieldPath"). A value is an exact string, a '*' glob, a
-- number, a boolean, a list meaning any of, or a function of the value.
local json = require "herald.json"
local event = require "herald.event"
local null = json.null

local M = {}

local function obj(ev, k)
  local o = ev.involvedObject
  if type(o) ~= "table" then return nil end
  local v = o[k]
  if v == null then return nil end
  return v
end

local function top(k)
  return function(ev)
    local v = ev[k]
    if v == null then return nil end
    return v
  end
end

M.shorthands = {
  type = top("type"),
  reason = top("reason"),
  message = top("message"),
  cluster = top("cluster"),
  count = top("count"),
  kind = function(ev) return obj(ev, "kind") end,
  name = function(ev) return obj(ev, "name") end,
  namespace = event.namespace,
  component = event.component,
  -- Set by enrichment (herald.route): the top of the involved object's
  -- controller chain ("Deployment/web"), and the object's labels.
  owner = top("owner"),
  labels = top("labels"),
}

-- Shorthands whose values come from the API server, read only for events
-- a rule asks about (see M.compile_table's ctx.enriched).
M.enriched = { owner = true, labels = true }

-- First segments a dotted path may start with: the fields of a core/v1
-- Event (plus cluster). Anything else is a typo, reported at load.
M.event_fields = {
  apiVersion = true, kind = true, metadata = true, involvedObject = true,
  reason = true, message = true, source = true, firstTimestamp = true,
  lastTimestamp = true, count = true, type = true, eventTime = true,
  series = true, action = true, related = true, reportingComponent = true,
  reportingInstance = true, cluster = true, owner = true, owners = true, labels = true,
}

local function path_getter(path)
  local parts = {}
  for seg in path:gmatch("[^.]+") do parts[#parts + 1] = seg end
  local n = #parts
  return function(ev)
    local v = ev
    for i = 1, n do
      if type(v) ~= "table" then return nil end
      v = v[parts[i]]
    end
    if v == null then return nil end
    return v
  end
end

local function getter(key, report)
  if type(key) ~= "string" then
    report(("match keys are field names, not %s"):format(type(key)))
    return nil
  end
  local short = M.shorthands[key]
  if short then return short end
  if key:find("^%.") or key:find("%.$") or key:find("%.%.") then
    report(("bad path %q: use dots between field names, as in \"involvedObject.fieldPath\""):format(key))
    return nil
  end
  local first = key:match("^[^.]+")
  if not M.event_fields[first] then
    local names = {}
    for k in pairs(M.shorthands) do names[#names + 1] = k end
    table.sort(names)
    report(("unknown field %q (shorthands: %s; or a path into the Event such as \"involvedObject.fieldPath\")")
      :format(key, table.concat(names, ", ")))
    return nil
  end
  return path_getter(key)
end

local function looks_like_regex(s)
  return s:find("^%^") or s:find("%$$") or s:find(".*", 1, true) or s:find(".+", 1, true)
end

-- ctx: { glob = fn, call = fn(f, value) -> bool, report = fn(msg) }
local function value_test(v, key, ctx)
  local t = type(v)
  if t == "string" then
    if key == "count" then
      ctx.report(("count: %q is a string; write a number, a list of numbers or a function"):format(v))
      return nil
    end
    if looks_like_regex(v) then
      ctx.report(("%s: %q looks like a regular expression; patterns use '*' only, as in \"Back*\"")
        :format(key, v))
      return nil
    end
    if v:find("*", 1, true) then
      local glob = ctx.glob
      return function(x)
        if type(x) == "number" then x = tostring(x) end
        return type(x) == "string" and glob(v, x)
      end
    end
    return function(x)
      if x == v then return true end
      return type(x) == "number" and tostring(x) == v
    end
  elseif t == "number" then
    return function(x)
      if type(x) == "string" then x = tonumber(x) end
      return x == v
    end
  elseif t == "boolean" then
    return function(x) return x == v end
  elseif t == "function" then
    local call = ctx.call
    return function(x) return call(v, x) end
  elseif t == "table" then
    local n = #v
    for k in pairs(v) do
      if math.type(k) ~= "integer" or k < 1 or k > n then
        ctx.report(("%s: expected a value or a list of values, got a table with key %s")
          :format(key, tostring(k)))
        return nil
      end
    end
    if n == 0 then
      ctx.report(("%s: an empty list matches nothing"):format(key))
      return nil
    end
    local exact, tests = {}, {}
    for i = 1, n do
      local item = v[i]
      if type(item) == "table" then
        ctx.report(("%s: lists cannot nest"):format(key))
        return nil
      end
      if type(item) == "string" and key ~= "count" and not item:find("*", 1, true)
          and not looks_like_regex(item) then
        exact[item] = true
      else
        local test = value_test(item, key, ctx)
        if not test then return nil end
        tests[#tests + 1] = test
      end
    end
    local nt = #tests
    return function(x)
      if exact[x] then return true end
      if type(x) == "number" and exact[tostring(x)] then return true end
      for i = 1, nt do
        if tests[i](x) then return true end
      end
      return false
    end
  end
  ctx.report(("%s: cannot match with a %s"):format(key, t))
  return nil
end

-- labels = { team = "payments", app = { "web", "api" } }: every label
-- given must match (each value as any other field's).
local function labels_test(v, ctx)
  if type(v) ~= "table" or next(v) == nil or #v > 0 then
    ctx.report("labels: expected a table of label = value, as in labels = { team = \"payments\" }")
    return nil
  end
  local tests = {}
  for k, want in pairs(v) do
    if type(k) ~= "string" then
      ctx.report(("labels: label names are strings, not %s"):format(type(k)))
      return nil
    end
    local t = value_test(want, "labels." .. k, ctx)
    if not t then return nil end
    tests[k] = t
  end
  return function(x)
    if type(x) ~= "table" then return false end
    for k, t in pairs(tests) do
      local got = x[k]
      if got == null then got = nil end
      if not t(got) then return false end
    end
    return true
  end
end

local function all_of(checks)
  local n = #checks
  if n == 0 then return nil end
  if n == 1 then return checks[1] end
  return function(ev)
    for i = 1, n do
      if not checks[i](ev) then return false end
    end
    return true
  end
end

-- Compiles a table spec, skipping the keys in `reserved`. Returns a
-- predicate (nil when the table has no matching keys) and whether it
-- compiled cleanly (errors went to ctx.report). When a key needs
-- enrichment (owner, labels), ctx.enriched is set and ctx.plain is the
-- predicate of the other keys (nil: none), which says whether an event
-- may match before its object is read.
function M.compile_table(spec, ctx, reserved)
  local checks, plain, ok, enriched = {}, {}, true, false
  for key, v in pairs(spec) do
    if not (reserved and reserved[key]) then
      local get = getter(key, ctx.report)
      local test
      if key == "labels" then
        test = get and labels_test(v, ctx)
      else
        test = get and value_test(v, key, ctx)
      end
      if get and test then
        local check = function(ev) return test(get(ev)) end
        checks[#checks + 1] = check
        local first = type(key) == "string" and key:match("^[^.]+")
        if M.enriched[first] or first == "owners" then
          enriched = true
        else
          plain[#plain + 1] = check
        end
      else
        ok = false
      end
    end
  end
  if enriched then
    ctx.enriched = true
    ctx.plain = all_of(plain)
  end
  return all_of(checks), ok
end

-- Compiles a `when`/`unless` value: nil, a function of the event, or a
-- table. Returns predicate-or-nil and ok.
function M.compile(spec, ctx, label)
  if spec == nil then return nil, true end
  if type(spec) == "function" then
    local call = ctx.call
    return function(ev) return call(spec, ev) end, true
  end
  if type(spec) ~= "table" then
    ctx.report(("%s must be a table of fields or a function of the event, not a %s")
      :format(label, type(spec)))
    return nil, false
  end
  local pred, ok = M.compile_table(spec, ctx)
  if ok and not pred then
    ctx.report(("%s = {} matches every event; leave %s out instead"):format(label, label))
    ok = false
  end
  return pred, ok
end

M.getter = getter

return M
