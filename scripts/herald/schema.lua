-- herald.schema: a `sink "name" { ... }` definition checked against its
-- sink type: the type's module found, its options checked and converted,
-- batch/queue limits and alert settings read, its init run. Every problem
-- is a load error with the definition's file:line; nothing here touches
-- events.
local json = require "herald.json"
local match = require "herald.match"
local units = require "herald.units"
local alert = require "herald.alert"
local core = require "herald.core"
local sandbox = require "herald.sandbox"
local loading = require "herald.loading"
local views = require "herald.views"

local copy, new_env, full_path = sandbox.copy, sandbox.new_env, sandbox.full_path
local report, list_of_strings = loading.report, loading.list_of_strings

local M = {}

M.builtin_types = { "dingtalk", "elasticsearch", "feishu", "file", "kafka", "null", "slack", "stdout", "webhook", "wechat", "wecom" }

-- The outputs this herald has, when the core does not list them itself.
local BUILTIN_OUTPUTS = { "stdout", "file", "null", "http", "kafka" }

local COMMON = { type = true, batch = true, queue = true }
local BATCH_KEYS = { events = true, bytes = true, wait = true }
local QUEUE_KEYS = { events = true, bytes = true }

-- Each check returns the value (converted), or nil and what was expected.
-- Booleans are wrapped: false is a valid value, not a failure.
local function is(t, expected)
  return function(v)
    if type(v) == t then return { v } end
    return nil, expected
  end
end
local function via(convert, expected)
  return function(v)
    local x = convert(v)
    if x == nil then return nil, expected end
    return { x }
  end
end
local OPTION_CHECK = {
  string = is("string", "a string"),
  number = is("number", "a number"),
  boolean = is("boolean", "true or false"),
  ["function"] = is("function", "a function"),
  table = is("table", "a table"),
  size = via(units.bytes, "a size such as \"16MiB\""),
  duration = via(units.duration_ms, "a duration such as \"10s\""),
  strings = via(list_of_strings, "a string or a list of strings"),
}

-- Reads `batch`/`queue` tables: numbers of events, sizes, durations.
local function limits(c, where, name, value, keys, defaults)
  local out = copy(defaults)
  if value == nil then return out end
  if type(value) ~= "table" then
    report(c, where, ("sink %q: %s must be a table"):format(name, keys == BATCH_KEYS and "batch" or "queue"))
    return out
  end
  for k, v in pairs(value) do
    if not keys[k] then
      report(c, where, ("sink %q: unknown key %q in %s"):format(name, tostring(k),
        keys == BATCH_KEYS and "batch (events, bytes, wait)" or "queue (events, bytes)"))
    elseif k == "events" then
      if math.type(v) ~= "integer" or v < 1 then
        report(c, where, ("sink %q: %s.events must be a whole number >= 1"):format(name,
          keys == BATCH_KEYS and "batch" or "queue"))
      else
        out.events = v
      end
    elseif k == "bytes" then
      local n, err = units.bytes(v)
      if not n or n < 1 then report(c, where, ("sink %q: bytes: %s"):format(name, err or "must be >= 1"))
      else out.bytes = n end
    elseif k == "wait" then
      local n, err = units.duration_ms(v)
      if not n then report(c, where, ("sink %q: batch.wait: %s"):format(name, err))
      else out.wait_ms = n end
    end
  end
  return out
end

local function known_output(name)
  for _, o in ipairs(core.outputs or BUILTIN_OUTPUTS) do
    if o == name then return true end
  end
  return false
end

local function find_type(c, where, tname)
  local dir = c.opts.config_dir
  local path = dir .. "/sinks/" .. tname .. ".lua"
  local text = tname:match("^[%w_%-]+$") and core.read_file(path)
  local ok, mod
  if text then
    local chunk = "@" .. path
    c.sources[chunk] = true
    local fn, err = core.load(text, chunk, new_env({}))
    if not fn then report(c, where, full_path(err, path)) return nil end
    ok, mod = core.guard(fn)
    if not ok then report(c, where, full_path(mod, path)) return nil end
  else
    ok, mod = pcall(require, "sinks." .. tname)
    if not ok then
      if tostring(mod):find("not found", 1, true) then
        report(c, where, ("unknown sink type %q (built in: %s; or write %s)")
          :format(tname, table.concat(M.builtin_types, ", "), path))
      else
        report(c, where, tostring(mod))
      end
      return nil
    end
  end
  if type(mod) ~= "table" or type(mod.output) ~= "string" then
    report(c, where, ("sink type %q must return a table with an `output` field"):format(tname))
    return nil
  end
  if not known_output(mod.output) then
    report(c, where, ("sink type %q: unknown output %q (outputs: %s)")
      :format(tname, mod.output, table.concat(core.outputs or BUILTIN_OUTPUTS, ", ")))
    return nil
  end
  if mod.output == "http" and (type(mod.request) ~= "function" or type(mod.response) ~= "function") then
    report(c, where, ("sink type %q sends HTTP: it needs request(items, conf, state) and response(resp, items, conf, state)")
      :format(tname))
    return nil
  end
  return mod, text == nil   -- built in: herald's own code
end

---------------------------------------------------------------- alert sinks

-- Options every alert sink type takes, besides its own. `repeat` is a
-- Lua keyword, so it is written repeat_after (or ["repeat"]).
local ALERT_OPTIONS = {
  group_by = { kind = "strings", doc = "what makes a group: shorthands or dotted paths, as in rules (default: cluster, namespace, kind, name, reason)" },
  wait = { kind = "duration", doc = "after a group's first event, before its first message (default 10s)" },
  interval = { kind = "duration", doc = "after a group's message, before a message about new events in it (default 5m)" },
  repeat_after = { kind = "duration", doc = "after a group's message, before a message when only repeats arrived (default 1h)" },
  ["repeat"] = { kind = "duration", doc = "the same as repeat_after (`repeat` is a Lua keyword: write [\"repeat\"])" },
  limit = { kind = "strings", doc = "messages per period, never exceeded: \"20/1m\", { \"100/1m\", \"5/1s\" }, or \"none\" (default: the type's)" },
  samples = { kind = "number", doc = "events a message shows per group, the newest (default 5)" },
  max_groups = { kind = "number", doc = "groups kept; past this, new ones share one overflow group (default 2000)" },
  render = { kind = "function", doc = "function(group) return title, text end: your template" },
  render_digest = { kind = "function", doc = "function(digest) return title, text end: your digest template" },
}
M.alert_options = ALERT_OPTIONS
local DEFAULT_GROUP_BY = { "cluster", "namespace", "kind", "name", "reason" }

local function alert_settings(c, where, name, mod, conf)
  local d = mod.alert_defaults or {}
  local function ms(v) return (units.duration_ms(v)) end
  local a = {
    wait_ms = conf.wait or ms(d.wait or "10s"),
    interval_ms = conf.interval or ms(d.interval or "5m"),
    repeat_ms = conf.repeat_after or conf["repeat"] or ms(d["repeat"] or "1h"),
    samples = conf.samples or 5,
    max_groups = conf.max_groups or 2000,
    rates = {}, getters = {}, labels = {},
  }
  local function bad(msg) report(c, where, ("sink %q: %s"):format(name, msg)) end
  for _, k in ipairs(conf.group_by or DEFAULT_GROUP_BY) do
    local get = match.getter(k, function(msg) bad("group_by: " .. msg) end)
    if get then
      a.getters[#a.getters + 1] = get
      a.labels[#a.labels + 1] = k
    end
  end
  local limit = conf.limit or d.limit or {}
  if not (#limit == 1 and limit[1] == "none") then
    for _, l in ipairs(limit) do
      local n, per = l:match("^%s*(%d+)%s*/%s*(.-)%s*$")
      local period = per and units.duration_ms(per:match("^%d") and per or "1" .. per)
      if not n or not period or tonumber(n) < 1 or period < 1 then
        bad(("limit %q: write messages per period, as in \"20/1m\" or \"5/1s\""):format(l))
      else
        a.rates[#a.rates + 1] = { count = tonumber(n), period_ms = period }
      end
    end
  end
  if #a.rates > 4 then bad("at most 4 limits") end
  if math.type(a.samples) ~= "integer" or a.samples < 1 or a.samples > 100 then
    bad("samples must be a whole number from 1 to 100")
  end
  if math.type(a.max_groups) ~= "integer" or a.max_groups < 1 then
    bad("max_groups must be a whole number >= 1")
  end
  return a
end

---------------------------------------------------------------- sinks

-- In check and replay, a missing env variable or secret reads as a
-- placeholder ("<env ES_URL>"); an option that declares `placeholder`
-- gets that instead, so its own validation passes (a URL for a url).
local function stand_in(c, v, placeholder)
  local known = c.placeholders or {}
  if type(v) == "string" then return known[v] and placeholder or v end
  if type(v) ~= "table" then return v end
  local out = {}
  for i, x in ipairs(v) do out[i] = known[x] and placeholder or x end
  return out
end

-- Checks one `sink "name" { ... }` and adds it to c.sinks.
function M.define_sink(c, name, spec, where)
  if c.sink_by_name[name] then
    report(c, where, ("sink %q is defined twice (first at %s)"):format(name, c.sink_by_name[name].where))
    return
  end
  if type(spec.type) ~= "string" then
    report(c, where, ("sink %q needs a type, as in sink %q { type = \"stdout\" }"):format(name, name))
    return
  end
  local mod, builtin = find_type(c, where, spec.type)
  if not mod then return end
  local schema = mod.options or {}
  if mod.alert then
    schema = copy(schema)
    for k, v in pairs(ALERT_OPTIONS) do schema[k] = schema[k] or v end
  end
  local conf = {}
  for k, v in pairs(spec) do
    if not COMMON[k] then
      local opt = schema[k]
      if not opt then
        local known = {}
        for o in pairs(schema) do known[#known + 1] = o end
        for o in pairs(COMMON) do known[#known + 1] = o end
        table.sort(known)
        report(c, where, ("sink %q: unknown option %q for type %s (options: %s)")
          :format(name, tostring(k), spec.type, table.concat(known, ", ")))
      else
        local boxed, expected = OPTION_CHECK[opt.kind](v)
        if boxed == nil then
          report(c, where, ("sink %q: %s must be %s"):format(name, k, expected))
        else
          conf[k] = boxed[1]
          if opt.placeholder ~= nil then conf[k] = stand_in(c, conf[k], opt.placeholder) end
        end
      end
    end
  end
  for k, opt in pairs(schema) do
    if conf[k] == nil then
      if opt.required and spec[k] == nil then
        report(c, where, ("sink %q: option %q is required for type %s"):format(name, k, spec.type))
      elseif opt.default ~= nil then
        conf[k] = OPTION_CHECK[opt.kind](opt.default)[1]
      end
    end
  end
  local defaults = mod.defaults or {}
  local sink = {
    name = name, type = spec.type, output = mod.output, where = where, conf = conf,
    encode = mod.encode or (mod.alert and views.alert_encode) or json.encode,
    shape_batch = mod.batch,
    request = mod.request, response = mod.response,
    state = { name = name },     -- the sink type's own, kept between requests
    alert = mod.alert == true,   -- groups events; skips those already old when herald started
    render = mod.render, render_digest = mod.render_digest,
    batch = limits(c, where, name, spec.batch, BATCH_KEYS,
      defaults.batch or { events = 500, bytes = 1048576, wait_ms = 1000 }),
    queue = limits(c, where, name, spec.queue, QUEUE_KEYS,
      defaults.queue or { events = 10000, bytes = 16777216 }),
  }
  -- A built-in type's encode given no operator function (document = ...)
  -- is herald's own code: herald.route calls it without core.guard's
  -- budgets, whose count hook costs every Lua instruction.
  sink.own_encode = builtin
  for k, opt in pairs(schema) do
    if opt.kind == "function" and conf[k] ~= nil then sink.own_encode = false end
  end
  if sink.alert then
    sink.alert_cfg = alert_settings(c, where, name, mod, conf)
    if type(sink.render) ~= "function" then sink.render = alert.render_markdown end
    if type(sink.render_digest) ~= "function" then sink.render_digest = alert.digest_markdown end
  end
  if sink.queue.events < sink.batch.events then sink.queue.events = sink.batch.events end
  if sink.queue.bytes < sink.batch.bytes then sink.queue.bytes = sink.batch.bytes end
  if mod.init then
    local ok, err = core.guard(mod.init, conf, name)
    if not ok or err then
      report(c, where, ("sink %q: %s"):format(name, tostring(ok and err or err)))
      return
    end
  end
  c.sinks[#c.sinks + 1] = sink
  sink.index = #c.sinks
  c.sink_by_name[name] = sink
end

return M
