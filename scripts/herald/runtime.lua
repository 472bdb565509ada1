-- herald.runtime: the operator DSL and the entry points the C core calls.
--
-- C owns every byte of I/O and every clock; this file owns every decision
-- about content. It loads sinks.lua and rules/*.lua (each in its own
-- sandboxed environment), compiles the rules, and for each event decodes,
-- normalises, routes and encodes it for the sinks it reaches. Errors in
-- operator code are caught per function (core.guard), reported with
-- file:line and counted; the event goes on to its other routes.
local json = require "herald.json"
local match = require "herald.match"
local event = require "herald.event"
local units = require "herald.units"
local alert = require "herald.alert"
local time = require "herald.time"

local getinfo = debug.getinfo

return function(core)
  local guard = core.guard
  local R = {}
  local cfg                       -- the configuration in force (see new_config)

  ---------------------------------------------------------------- sandbox

  local function copy(t)
    local c = {}
    for k, v in pairs(t) do c[k] = v end
    return c
  end

  -- What every operator file sees, besides its DSL.
  local function sandbox_base()
    return {
      assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
      pcall = pcall, select = select, tonumber = tonumber, tostring = tostring,
      type = type, xpcall = xpcall, rawequal = rawequal, rawget = rawget,
      rawlen = rawlen, rawset = rawset,
      string = copy(string), table = copy(table), math = copy(math), utf8 = copy(utf8),
      os = copy(os), json = json, require = require,
      print = function(...)
        local parts = {}
        for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
        core.log("info", table.concat(parts, "\t"))
      end,
    }
  end

  local function new_env(dsl)
    local base = sandbox_base()
    for k, v in pairs(dsl) do base[k] = v end
    return setmetatable({}, { __index = base })
  end

  ---------------------------------------------------------------- errors

  local function file_of(where)
    return (where:match("^(.-):%d+$")) or where
  end

  -- Lua shortens chunk names in messages to 60 bytes ("...g/rules/x.lua:3:");
  -- put the whole path back when the message is about `path`.
  local function full_path(msg, path)
    msg = tostring(msg)
    local shown, rest = msg:match("^%.%.%.(.-)(:%d+:.*)$")
    if shown and path:sub(-#shown) == shown then return path .. rest end
    return msg
  end

  -- A runtime error in operator code: logged with file:line, counted.
  local function rule_error(where, msg)
    msg = full_path(msg, file_of(where))
    if not msg:find("^[^:]+:%d+:") then msg = where .. ": " .. msg end
    core.log("error", "rule error: " .. msg)
    core.count("rule_errors", file_of(where))
  end

  -- Calls an operator function under its own budget; an error counts as
  -- "no" and leaves the event to its other routes.
  local function make_call(where)
    return function(fn, x)
      local ok, r = guard(fn, x)
      if not ok then
        rule_error(where, r)
        return false
      end
      return r ~= nil and r ~= false
    end
  end

  ---------------------------------------------------------------- config

  local function new_config(opts)
    return {
      opts = opts,
      sinks = {}, sink_by_name = {},
      rules = {}, examples = {},
      errors = {}, warnings = {},
      sources = {},               -- chunk names of operator files being loaded
    }
  end

  -- file:line of the operator code that called the DSL function.
  local function caller(c)
    for level = 3, 12 do
      local info = getinfo(level, "Sl")
      if not info then break end
      if c.sources[info.source] then
        return info.source:sub(2) .. ":" .. (info.currentline or 0)
      end
    end
    return "?"
  end

  local function report(c, where, msg)
    c.errors[#c.errors + 1] = { where = where, msg = msg }
  end

  local function warn(c, where, msg)
    c.warnings[#c.warnings + 1] = { where = where, msg = msg }
  end

  local function list_of_strings(v)
    if type(v) == "string" then return { v } end
    if type(v) ~= "table" or #v == 0 then return nil end
    for k, s in pairs(v) do
      if math.type(k) ~= "integer" or type(s) ~= "string" then return nil end
    end
    return v
  end

  ---------------------------------------------------------------- sinks

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
      ok, mod = guard(fn)
      if not ok then report(c, where, full_path(mod, path)) return nil end
    else
      ok, mod = pcall(require, "sinks." .. tname)
      if not ok then
        if tostring(mod):find("not found", 1, true) then
          report(c, where, ("unknown sink type %q (built in: %s; or write %s)")
            :format(tname, table.concat(R.builtin_types, ", "), path))
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
    if mod.output == "http" and (type(mod.request) ~= "function" or type(mod.response) ~= "function") then
      report(c, where, ("sink type %q sends HTTP: it needs request(items, conf, state) and response(resp, items, conf, state)")
        :format(tname))
      return nil
    end
    return mod
  end

  ---------------------------------------------------------------- alert sinks

  -- Options every alert sink type takes, besides its own. `repeat` is a
  -- Lua keyword, so it is written repeat_after (or ["repeat"]).
  local ALERT_OPTIONS = {
    group_by = { kind = "strings" },
    wait = { kind = "duration" },
    interval = { kind = "duration" },
    repeat_after = { kind = "duration" },
    ["repeat"] = { kind = "duration" },
    limit = { kind = "strings" },              -- "20/1m", { "100/1m", "5/1s" }, or "none"
    samples = { kind = "number" },             -- events a message shows per group
    max_groups = { kind = "number" },
    render = { kind = "function" },            -- function(group) return title, text end
    render_digest = { kind = "function" },     -- function(digest) return title, text end
  }
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

  -- The item an alert sink keeps for an event: the event without
  -- managedFields, which no template needs.
  local function alert_encode(ev)
    local md = type(ev.metadata) == "table" and ev.metadata or nil
    local mf = md and md.managedFields
    if mf ~= nil then md.managedFields = nil end
    local s = json.encode(ev)
    if mf ~= nil then md.managedFields = mf end
    return s
  end

  local function alert_key(s, ev)
    local parts, getters = {}, s.alert_cfg.getters
    for i = 1, #getters do
      local v = getters[i](ev)
      parts[i] = v == nil and "" or tostring(v)
    end
    return table.concat(parts, "\31")
  end

  local function define_sink(c, name, spec, where)
    if c.sink_by_name[name] then
      report(c, where, ("sink %q is defined twice (first at %s)"):format(name, c.sink_by_name[name].where))
      return
    end
    if type(spec.type) ~= "string" then
      report(c, where, ("sink %q needs a type, as in sink %q { type = \"stdout\" }"):format(name, name))
      return
    end
    local mod = find_type(c, where, spec.type)
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
      encode = mod.encode or (mod.alert and alert_encode) or json.encode,
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
    if sink.alert then
      sink.alert_cfg = alert_settings(c, where, name, mod, conf)
      if type(sink.render) ~= "function" then sink.render = alert.render_markdown end
      if type(sink.render_digest) ~= "function" then sink.render_digest = alert.digest_markdown end
    end
    if sink.queue.events < sink.batch.events then sink.queue.events = sink.batch.events end
    if sink.queue.bytes < sink.batch.bytes then sink.queue.bytes = sink.batch.bytes end
    if mod.init then
      local ok, err = guard(mod.init, conf, name)
      if not ok or err then
        report(c, where, ("sink %q: %s"):format(name, tostring(ok and err or err)))
        return
      end
    end
    c.sinks[#c.sinks + 1] = sink
    sink.index = #c.sinks
    c.sink_by_name[name] = sink
  end

  ---------------------------------------------------------------- DSL

  local function sinks_dsl(c)
    local function env_value(name, default)
      local where = caller(c)
      if type(name) ~= "string" then
        report(c, where, "env needs a variable name, as in env \"ES_URL\"")
        return ""
      end
      local v = core.getenv(name)
      if v then return v end
      if default ~= nil then return default end
      if c.opts.mode == "check" then
        warn(c, where, ("environment variable %s is not set (a placeholder is used for this check)"):format(name))
        return "<env " .. name .. ">"
      end
      report(c, where, ("environment variable %s is not set"):format(name))
      return ""
    end
    local function secret_value(name)
      local where = caller(c)
      if type(name) ~= "string" or not name:match("^[%w_%-%.]+$") or name:find("..", 1, true) then
        report(c, where, "secret needs a file name (letters, digits, '-', '_', '.'), as in secret \"es-password\"")
        return ""
      end
      local path = c.opts.secrets_dir .. "/" .. name
      local v, err = core.read_file(path)
      if v then
        v = v:gsub("\r?\n$", "")
        core.redact(v)
        return v
      end
      if c.opts.mode == "check" then
        warn(c, where, ("secret %s is not readable (%s); a placeholder is used for this check"):format(name, err))
        return "<secret " .. name .. ">"
      end
      report(c, where, ("secret %s: %s"):format(name, err))
      return ""
    end
    local function sink(name)
      local where = caller(c)
      if type(name) ~= "string" or not name:match("^[%w_%-%.]+$") then
        report(c, where, "sink needs a name of letters, digits, '-', '_' or '.', as in sink \"archive\" { ... }")
        return function() end
      end
      return function(spec)
        if type(spec) ~= "table" then
          report(c, where, ("sink %q needs a table, as in sink %q { type = \"stdout\" }"):format(name, name))
          return
        end
        define_sink(c, name, spec, where)
      end
    end
    return { sink = sink, env = env_value, secret = secret_value }
  end

  local ROUTE_KEYS = { to = true, when = true, unless = true, name = true }
  local RESERVED = { when = true, unless = true, name = true }
  local EXAMPLE_KEYS = { name = true, event = true, reaches = true, misses = true, routes = true }

  local function match_ctx(c, where)
    return {
      glob = core.glob,
      call = make_call(where),
      report = function(msg) report(c, where, msg) end,
    }
  end

  local function sink_list(c, where, v, what)
    local list = list_of_strings(v)
    if not list then
      report(c, where, ("%s must be a sink name or a list of sink names"):format(what))
      return nil
    end
    local out = {}
    for _, s in ipairs(list) do
      local sink = c.sink_by_name[s]
      if not sink then
        local names = {}
        for _, k in ipairs(c.sinks) do names[#names + 1] = k.name end
        report(c, where, ("unknown sink %q in %s (sinks.lua defines: %s)")
          :format(s, what, #names > 0 and table.concat(names, ", ") or "none"))
        return nil
      end
      out[#out + 1] = sink
    end
    return out
  end

  -- A rule is { kind, to, when, unless, where }: it applies when `when`
  -- (if any) holds and `unless` (if any) does not.
  local function add_rule(c, rule)
    local when, unless = rule.when, rule.unless
    if when and unless then
      rule.test = function(ev) return when(ev) and not unless(ev) end
    elseif when then
      rule.test = when
    elseif unless then
      rule.test = function(ev) return not unless(ev) end
    else
      rule.test = function() return true end
    end
    c.rules[#c.rules + 1] = rule
  end

  local function rules_dsl(c)
    local function route(spec)
      local where = caller(c)
      if type(spec) ~= "table" then
        report(c, where, "route needs a table, as in route { to = \"archive\" }")
        return
      end
      local ok = true
      for k in pairs(spec) do
        if not ROUTE_KEYS[k] then
          report(c, where, ("route: unknown key %q (route takes to, when, unless, name)"):format(tostring(k)))
          ok = false
        end
      end
      if spec.to == nil then
        report(c, where, "route needs `to`, the sink or sinks the event goes to")
        return
      end
      local to = sink_list(c, where, spec.to, "route's `to`")
      local ctx = match_ctx(c, where)
      local when, ok1 = match.compile(spec.when, ctx, "when")
      local unless, ok2 = match.compile(spec.unless, ctx, "unless")
      if not (ok and to and ok1 and ok2) then return end
      add_rule(c, { kind = "route", to = to, when = when, unless = unless, where = where,
                    name = spec.name })
    end

    local function drop(spec)
      local where = caller(c)
      if type(spec) ~= "table" then
        report(c, where, "drop needs a table, as in drop { type = \"Normal\", reason = \"Pulled\" }")
        return
      end
      local ctx = match_ctx(c, where)
      local fields, ok0 = match.compile_table(spec, ctx, RESERVED)
      local when, ok1 = match.compile(spec.when, ctx, "when")
      local unless, ok2 = match.compile(spec.unless, ctx, "unless")
      if not (ok0 and ok1 and ok2) then return end
      if not fields and not when then
        report(c, where, "drop {} would drop every event; give fields or `when`")
        return
      end
      if fields and when then
        local f, w = fields, when
        when = function(ev) return f(ev) and w(ev) end
      else
        when = fields or when
      end
      add_rule(c, { kind = "drop", when = when, unless = unless, where = where, name = spec.name })
    end

    local function example(spec)
      local where = caller(c)
      if type(spec) ~= "table" then
        report(c, where, "example needs a table: example { event = {...}, reaches = {...} }")
        return
      end
      for k in pairs(spec) do
        if not EXAMPLE_KEYS[k] then
          report(c, where, ("example: unknown key %q (example takes name, event, reaches, misses, routes)")
            :format(tostring(k)))
          return
        end
      end
      if type(spec.event) ~= "table" then
        report(c, where, "example needs `event`, a table shaped like a Kubernetes Event")
        return
      end
      if spec.reaches == nil and spec.misses == nil and spec.routes == nil then
        report(c, where, "example needs `reaches`, `misses` or `routes`")
        return
      end
      local ex = { where = where, name = spec.name, event = spec.event }
      for _, k in ipairs({ "reaches", "misses", "routes" }) do
        if spec[k] ~= nil then
          if type(spec[k]) == "table" and next(spec[k]) == nil then
            ex[k] = {}
          else
            local list = sink_list(c, where, spec[k], "example's `" .. k .. "`")
            if not list then return end
            ex[k] = list
          end
        end
      end
      c.examples[#c.examples + 1] = ex
    end

    -- template "oncall" { render = function(group) ... end,
    --                     render_digest = function(digest) ... end }
    -- An alert sink's text, written in a rules file (which operators edit
    -- more often than sinks.lua). It takes the place of the sink's own.
    local function template(name)
      local where = caller(c)
      local sink = type(name) == "string" and c.sink_by_name[name]
      return function(spec)
        if not sink then
          report(c, where, ("template: %s is not a sink defined in sinks.lua"):format(tostring(name)))
          return
        end
        if not sink.alert then
          report(c, where, ("template: sink %q is of type %s, which sends no alerts"):format(name, sink.type))
          return
        end
        if type(spec) ~= "table" then
          report(c, where, ("template %q needs a table: template %q { render = function(group) ... end }"):format(name, name))
          return
        end
        if sink.template_where then
          report(c, where, ("template %q is defined twice (first at %s)"):format(name, sink.template_where))
          return
        end
        for k, v in pairs(spec) do
          if k ~= "render" and k ~= "render_digest" then
            report(c, where, ("template: unknown key %q (template takes render, render_digest)"):format(tostring(k)))
            return
          elseif type(v) ~= "function" then
            report(c, where, ("template: %s must be a function"):format(k))
            return
          end
        end
        sink.template_where = where
        sink.conf.render = spec.render or sink.conf.render
        sink.conf.render_digest = spec.render_digest or sink.conf.render_digest
      end
    end

    return { route = route, drop = drop, example = example, template = template }
  end

  local function misplaced(c, what, belongs)
    return function()
      report(c, caller(c), ("%s belongs in %s"):format(what, belongs))
      return function() end
    end
  end

  local function run_file(c, path, display, dsl)
    local text, err = core.read_file(path)
    if not text then
      report(c, display, err)
      return
    end
    local chunk = "@" .. display
    c.sources[chunk] = true
    local fn, lerr = core.load(text, chunk, new_env(dsl))
    if not fn then
      report(c, display, full_path(lerr, display))   -- "file:line: message"
      return
    end
    local ok, rerr = guard(fn)
    if not ok then report(c, display, full_path(rerr, display)) end
  end

  ---------------------------------------------------------------- routing

  -- Returns the sinks an event reaches (in rule order, each once) and the
  -- drop rule that ended its journey, if any.
  local function route_event(c, ev)
    local out, seen, n = {}, {}, 0
    local rules = c.rules
    for i = 1, #rules do
      local rule = rules[i]
      if rule.test(ev) then
        if rule.kind == "drop" then return out, rule end
        local to = rule.to
        for j = 1, #to do
          local s = to[j]
          if not seen[s] then
            seen[s] = true
            n = n + 1
            out[n] = s
          end
        end
      end
    end
    return out, nil
  end

  local function deep_copy(v)
    if type(v) ~= "table" then return v end
    local t = {}
    for k, x in pairs(v) do t[k] = deep_copy(x) end
    return t
  end

  local function names(list)
    local out = {}
    for i, s in ipairs(list) do out[i] = s.name end
    table.sort(out)
    return out
  end

  local check_template      -- with the alert messages, below

  local function run_examples(c)
    local failed = {}
    for _, ex in ipairs(c.examples) do
      local ev = event.normalize(deep_copy(ex.event), ex.event.cluster or "default")
      local routes = route_event(c, ev)
      local got = {}
      for _, s in ipairs(routes) do got[s] = true end
      local problems = {}
      for _, s in ipairs(ex.reaches or {}) do
        if not got[s] then problems[#problems + 1] = "does not reach " .. s.name end
      end
      for _, s in ipairs(ex.misses or {}) do
        if got[s] then problems[#problems + 1] = "reaches " .. s.name end
      end
      for _, s in ipairs(routes) do
        local terr = s.alert and s.conf.render and check_template(s, ev)
        if terr then problems[#problems + 1] = ("reaches %s, but %s"):format(s.name, terr) end
      end
      if ex.routes then
        local want = table.concat(names(ex.routes), ", ")
        local have = table.concat(names(routes), ", ")
        if want ~= have then problems[#problems + 1] = ("routes are [%s], expected [%s]"):format(have, want) end
      end
      if #problems > 0 then
        failed[#failed + 1] = {
          where = ex.where,
          msg = ("example%s failed: %s (routes: [%s])"):format(
            ex.name and (" %q"):format(ex.name) or "", table.concat(problems, "; "),
            table.concat(names(routes), ", ")),
        }
      end
    end
    return failed
  end

  ---------------------------------------------------------------- entry points

  R.builtin_types = { "dingtalk", "elasticsearch", "feishu", "file", "null", "slack", "stdout", "webhook", "wecom" }

  -- Loads config_dir/sinks.lua and config_dir/rules/*.lua (name order).
  -- opts: { config_dir, rules_dir (default config_dir/rules), secrets_dir,
  --         mode = "run" | "check" }
  -- Returns a summary table; the config is kept only when it has no errors
  -- and every example passes.
  function R.load(opts)
    local c = new_config(opts)
    local dir = opts.config_dir
    local function display(rel)
      if dir == "." then return rel end
      return dir .. "/" .. rel
    end
    local sinks_dsl_env = sinks_dsl(c)
    sinks_dsl_env.route = misplaced(c, "route", "rules/*.lua")
    sinks_dsl_env.drop = misplaced(c, "drop", "rules/*.lua")
    sinks_dsl_env.example = misplaced(c, "example", "rules/*.lua")
    sinks_dsl_env.template = misplaced(c, "template", "rules/*.lua (or a sink's render option)")
    run_file(c, dir .. "/sinks.lua", display("sinks.lua"), sinks_dsl_env)
    if #c.sinks == 0 and #c.errors == 0 then
      report(c, display("sinks.lua"), "no sinks defined: add at least one, as in sink \"stdout\" { type = \"stdout\" }")
    end

    local rules_dir = opts.rules_dir or (dir .. "/rules")
    local function rules_display(f)
      if opts.rules_dir then return opts.rules_dir .. "/" .. f end
      return display("rules/" .. f)
    end
    local files, err = core.list_dir(rules_dir)
    local nrules = 0
    if not files then
      report(c, opts.rules_dir or display("rules"), err)
    else
      local dsl = rules_dsl(c)
      dsl.sink = misplaced(c, "sink", "sinks.lua")
      dsl.env = sinks_dsl_env.env
      dsl.secret = sinks_dsl_env.secret
      for _, f in ipairs(files) do
        if f:match("%.lua$") then
          nrules = nrules + 1
          run_file(c, rules_dir .. "/" .. f, rules_display(f), dsl)
        end
      end
      if nrules == 0 then
        warn(c, opts.rules_dir or display("rules"), "no rule files (*.lua): no event goes anywhere")
      end
    end

    local failed = {}
    if #c.errors == 0 then failed = run_examples(c) end
    local summary = {
      errors = c.errors, warnings = c.warnings, failed = failed,
      examples = #c.examples, rules = #c.rules, files = nrules, sinks = {},
    }
    for i, s in ipairs(c.sinks) do
      summary.sinks[i] = {
        name = s.name, type = s.type, output = s.output, conf = s.conf,
        batch_events = s.batch.events, batch_bytes = s.batch.bytes, batch_wait_ms = s.batch.wait_ms,
        queue_events = s.queue.events, queue_bytes = s.queue.bytes,
        has_batch = s.shape_batch ~= nil,
        alert = s.alert_cfg and {
          wait_ms = s.alert_cfg.wait_ms, interval_ms = s.alert_cfg.interval_ms,
          repeat_ms = s.alert_cfg.repeat_ms, samples = s.alert_cfg.samples,
          max_groups = s.alert_cfg.max_groups, rates = s.alert_cfg.rates,
        } or nil,
      }
    end
    if #c.errors == 0 and #failed == 0 then
      c.sources = nil
      cfg = c
      summary.ok = true
    end
    return summary
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

  local function deliver(ev, cluster, item)
    event.normalize(ev, cluster or (type(ev.cluster) == "string" and ev.cluster) or "default")
    -- The source decides whether this (uid, resourceVersion) was delivered
    -- before (0: skip) and whether it is too old for alert sinks (2).
    local admit = core.admit(event.uid(ev), ev.metadata and ev.metadata.resourceVersion, ev.lastTimestamp, ev.type)
    if admit == 0 then return 0 end
    local routes, dropped_by = route_event(cfg, ev)
    local emit = core.emit
    local delivered = 0
    for i = 1, #routes do
      local s = routes[i]
      if admit == 2 and s.alert then
        core.count("stale_skipped", s.name)
        goto next_route
      end
      local ok, item, err = guard(s.encode, ev, s.conf)
      if ok and type(item) == "string" then
        if s.alert then
          emit(s.index, item, alert_key(s, ev), event.uid(ev))
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

  local function is_event(v)
    return type(v) == "table" and (type(v.involvedObject) == "table" or type(v.regarding) == "table")
  end

  -- One record from the framer. Returns a kind and details:
  --   "events", n            n events routed (a List counts its items)
  --   "bookmark", rv         a watch BOOKMARK
  --   "deleted", rv          a watch DELETED (ignored)
  --   "status", code, reason, message   a watch ERROR (410 Gone ...)
  --   "bad", message         not usable; nothing routed
  -- A List's bad items go to core.reject(index, message).
  function R.ingest(text, has_empty_array, cluster, big_field, field_limit)
    local v, err = json.decode(text, has_empty_array)
    if v == nil then return "bad", "malformed JSON: " .. tostring(err) end
    if type(v) ~= "table" or v[1] ~= nil or json.is_array(v) then return "bad", "not a JSON object" end
    if type(v.type) == "string" and v.object ~= nil then
      local obj, wtype = v.object, v.type
      local rv = type(obj) == "table" and type(obj.metadata) == "table" and obj.metadata.resourceVersion or nil
      if wtype == "ADDED" or wtype == "MODIFIED" then
        if not is_event(obj) then return "bad", "watch event object is not a Kubernetes Event" end
        if big_field then return "bad", "a field is longer than " .. field_limit .. " bytes" end
        return "events", deliver(obj, cluster), rv
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
        if not is_event(item) then
          core.reject(i, "not a Kubernetes Event")
        elseif big_field and oversize(item, field_limit, 0) then
          core.reject(i, "a field is longer than " .. field_limit .. " bytes")
        else
          n = n + 1
          deliver(item, cluster, i)
        end
      end
      local meta = type(v.metadata) == "table" and v.metadata or {}
      local cont = meta.continue
      if cont == json.null then cont = nil end
      return "events", n, meta.resourceVersion, cont
    end
    if not is_event(v) then return "bad", "not a Kubernetes Event (no involvedObject)" end
    if big_field then return "bad", "a field is longer than " .. field_limit .. " bytes" end
    return "events", deliver(v, cluster)
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

  ---------------------------------------------------------------- alert messages

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
    local ok, title, text = guard(fn, view)
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
    local ok, title, text = guard(view.digest and s.render_digest or s.render, view, s.conf)
    if not ok then return nil, nil, title end
    return title, text
  end

  -- The request of one alert message (a group, or a digest of several):
  -- m is what the core's grouping made of the events.
  function R.alert_request(index, m)
    local s = cfg.sinks[index]
    local view = m.digest and digest_view(s, m) or group_view(s, m.parts[1])
    if not view.digest and not view.event then return nil, "the group holds no readable event" end
    local title, text, err = render(s, view)
    if not text then return nil, err end
    local msg = { title = title or "", text = text, view = view, attempts = m.attempts or 0 }
    if view.digest then msg.digest = view else msg.group = view end
    if type(s.conf.body) == "function" then        -- the webhook type's own body
      local ok, body = guard(s.conf.body, view)
      if ok and (type(body) == "string" or type(body) == "table") then
        msg.body = body
      else
        rule_error(s.where, ok and "body must return a string or a table" or body)
      end
    end
    return R.http_request(index, msg)
  end

  -- herald check: an example that reaches an alert sink with a template
  -- also renders it, so a broken template fails the check, not the alert.
  function check_template(s, ev)
    local item = alert_encode(ev)
    local view = group_view(s, { samples = { item }, count = 1, total = 1 })
    local _, text, err = call_template(s.conf.render, view)
    if not text then return "its template failed: " .. err end
    return nil
  end

  -- What replay shows of an event.
  function R.describe(ev)
    local o = type(ev.involvedObject) == "table" and ev.involvedObject or {}
    local function s(x) if x == nil or x == json.null then return "" end return tostring(x) end
    return s(event.uid(ev)), s(event.namespace(ev)), s(ev.reason), s(ev.type), s(o.kind), s(o.name)
  end

  return R
end
