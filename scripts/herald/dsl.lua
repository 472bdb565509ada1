-- herald.dsl: the functions operator files call (`sink`, `env`, `secret`
-- in sinks.lua; `route`, `drop`, `example`, `template` in rules/*.lua),
-- and running one operator file in its sandbox. Each DSL call checks its
-- arguments and records a sink, rule or example in the configuration being
-- loaded, or an error with the caller's file:line.
local match = require "herald.match"
local core = require "herald.core"
local sandbox = require "herald.sandbox"
local loading = require "herald.loading"
local schema = require "herald.schema"

local report, warn, caller = loading.report, loading.warn, loading.caller
local list_of_strings = loading.list_of_strings

local M = {}

-- Does an environment variable's name say it holds a secret? It does when
-- it contains TOKEN, PASSWORD, PASSWD, SECRET or CREDENTIAL, or when a part
-- of it (between '_', '-' or '.') ends in KEY: API_KEY, ACCESSKEY, but not
-- DINGTALK_KEYWORD. Case does not matter.
function M.looks_secret(name)
  local up = name:upper()
  for _, word in ipairs({ "TOKEN", "PASSWORD", "PASSWD", "SECRET", "CREDENTIAL" }) do
    if up:find(word, 1, true) then return true end
  end
  for part in up:gmatch("[^_%-%.]+") do
    if part:sub(-3) == "KEY" then return true end
  end
  return false
end

-- A value that stands in for a missing env variable or secret in check and
-- replay; remembered, so an option that validates its value can swap in
-- its own placeholder (see herald.schema).
-- Returns the placeholder (after a warning whose text fmt gets what it is
-- used for), or nil in run mode, where a missing value is an error.
local function placeholder(c, where, value, fmt, ...)
  local mode = c.opts.mode
  if mode ~= "check" and mode ~= "replay" then return nil end
  local args = table.pack(...)
  args[args.n + 1] = mode == "check" and "check" or "replay, which sends nothing"
  warn(c, where, fmt:format(table.unpack(args, 1, args.n + 1)))
  c.placeholders[value] = true
  return value
end

function M.sinks_dsl(c)
  c.placeholders = c.placeholders or {}
  -- env "NAME", env("NAME", "default"), env("NAME", { default = "...",
  -- secret = true }). A value is masked in logs when it is marked secret or
  -- its name looks like a secret's (looks_secret); secret = false unmarks.
  local function env_value(name, opts)
    local where = caller(c)
    if type(name) ~= "string" then
      report(c, where, "env needs a variable name, as in env \"ES_URL\"")
      return ""
    end
    local default, secret = opts, nil
    if type(opts) == "table" then
      for k in pairs(opts) do
        if k ~= "default" and k ~= "secret" then
          report(c, where, ("env: unknown option %q (env takes default, secret)"):format(tostring(k)))
        end
      end
      default, secret = opts.default, opts.secret
      if secret ~= nil and type(secret) ~= "boolean" then
        report(c, where, "env: secret must be true or false")
      end
    end
    if default ~= nil and type(default) ~= "string" then
      report(c, where, "env: the default must be a string")
      return ""
    end
    if secret == nil then secret = M.looks_secret(name) end
    local v = core.getenv(name)
    if v then
      if secret then core.redact(v) end
      return v
    end
    if default ~= nil then return default end
    local p = placeholder(c, where, "<env " .. name .. ">",
      "environment variable %s is not set (a placeholder is used for this %s)", name)
    if p then return p end
    report(c, where, ("environment variable %s is not set"):format(name))
    return ""
  end
  local function secret_value(name)
    local where = caller(c)
    if type(name) ~= "string" or not name:match("^[%w_%-%.]+$") or name:find("..", 1, true) then
      report(c, where, "secret needs a file name (letters, digits, '-', '_', '.'), as in secret \"es-password\"")
      return ""
    end
    local given = c.opts.secrets and c.opts.secrets[name]
    if given then return given end   -- masked when config.load got it
    local path = c.opts.secrets_dir .. "/" .. name
    local v, err = core.read_file(path)
    if v then
      v = v:gsub("\r?\n$", "")
      core.redact(v)
      return v
    end
    local p = placeholder(c, where, "<secret " .. name .. ">",
      "secret %s is not readable (%s); a placeholder is used for this %s", name, err)
    if p then return p end
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
      schema.define_sink(c, name, spec, where)
    end
  end
  return { sink = sink, env = env_value, secret = secret_value }
end

local ROUTE_KEYS = { to = true, when = true, unless = true, name = true, enrich = true }
local RESERVED = { when = true, unless = true, name = true, enrich = true }
local EXAMPLE_KEYS = { name = true, event = true, reaches = true, misses = true, routes = true }

local function match_ctx(c, where)
  return {
    glob = core.glob,
    call = sandbox.make_call(where),
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
  if rule.needs then
    c.enrich_needs = c.enrich_needs or {}
    c.enrich_needs[#c.enrich_needs + 1] = rule.needs
  end
end

local function always() return true end

-- Compiles a rule's when and unless, and says which events it wants owners
-- and labels for (nil: none): those its other fields match, when it
-- matches owner or labels or says enrich = true.
local function compile_rule(c, where, spec, fields)
  local ctx = match_ctx(c, where)
  local f, ok0 = true, true
  if fields then f, ok0 = match.compile_table(spec, ctx, RESERVED) end
  local when, ok1 = match.compile(spec.when, ctx, "when")
  local enriched, plain = ctx.enriched, ctx.plain
  ctx.enriched, ctx.plain = nil, nil
  local unless, ok2 = match.compile(spec.unless, ctx, "unless")
  if spec.enrich ~= nil and type(spec.enrich) ~= "boolean" then
    report(c, where, "enrich is true or false: true reads the owners and labels of the events this rule matches")
    ok0 = false
  end
  local needs
  if enriched then
    needs = plain or always
  elseif ctx.enriched or spec.enrich then
    if fields and f and when then
      local a, b = f, when
      needs = function(ev) return a(ev) and b(ev) end
    else
      needs = (fields and f ~= true and f) or when or always
    end
  end
  if f == true then f = nil end
  return f, when, unless, needs, ok0 and ok1 and ok2
end

function M.rules_dsl(c)
  local function route(spec)
    local where = caller(c)
    if type(spec) ~= "table" then
      report(c, where, "route needs a table, as in route { to = \"archive\" }")
      return
    end
    local ok = true
    for k in pairs(spec) do
      if not ROUTE_KEYS[k] then
        report(c, where, ("route: unknown key %q (route takes to, when, unless, name, enrich)"):format(tostring(k)))
        ok = false
      end
    end
    if spec.to == nil then
      report(c, where, "route needs `to`, the sink or sinks the event goes to")
      return
    end
    local to = sink_list(c, where, spec.to, "route's `to`")
    local _, when, unless, needs, ok1 = compile_rule(c, where, spec, false)
    if not (ok and to and ok1) then return end
    add_rule(c, { kind = "route", to = to, when = when, unless = unless, where = where,
                  name = spec.name, needs = needs })
  end

  local function drop(spec)
    local where = caller(c)
    if type(spec) ~= "table" then
      report(c, where, "drop needs a table, as in drop { type = \"Normal\", reason = \"Pulled\" }")
      return
    end
    local fields, when, unless, needs, ok = compile_rule(c, where, spec, true)
    if not ok then return end
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
    add_rule(c, { kind = "drop", when = when, unless = unless, where = where, name = spec.name, needs = needs })
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

function M.misplaced(c, what, belongs)
  return function()
    report(c, caller(c), ("%s belongs in %s"):format(what, belongs))
    return function() end
  end
end

-- text: the file's text when the configuration is in memory (nil: read
-- path).
function M.run_file(c, path, display, dsl, text)
  local err
  if text == nil then text, err = core.read_file(path) end
  if not text then
    report(c, display, err)
    return
  end
  local chunk = "@" .. display
  c.sources[chunk] = true
  local fn, lerr = core.load(text, chunk, sandbox.new_env(dsl))
  if not fn then
    report(c, display, sandbox.full_path(lerr, display))   -- "file:line: message"
    return
  end
  local ok, rerr = core.guard(fn)
  if not ok then report(c, display, sandbox.full_path(rerr, display)) end
end

return M
