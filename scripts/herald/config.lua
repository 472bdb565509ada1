-- herald.config: loading a configuration directory: sinks.lua, then
-- rules/*.lua in name order, each in its sandbox with its DSL, then the
-- rules' examples. Produces the summary the core reads and, when there is
-- no error and every example passes, the configuration to put in force.
-- Putting it in force is herald.runtime's job.
local event = require "herald.event"
local core = require "herald.core"
local loading = require "herald.loading"
local dsl = require "herald.dsl"
local route = require "herald.route"
local views = require "herald.views"

local report, warn = loading.report, loading.warn
local misplaced, run_file = dsl.misplaced, dsl.run_file

local M = {}

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

-- Runs every example through the rules; returns the failures.
local function run_examples(c)
  local failed = {}
  for _, ex in ipairs(c.examples) do
    local ev = event.normalize(deep_copy(ex.event), ex.event.cluster or "default")
    local routes = route.route_event(c, ev)
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
      local terr = s.alert and s.conf.render and views.check_template(s, ev)
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

-- The rule files of an in-memory configuration: rules/*.lua, name order.
local function memory_rules(files)
  local out = {}
  for rel in pairs(files) do
    local f = rel:match("^rules/([^/]+%.lua)$")
    if f then out[#out + 1] = f end
  end
  table.sort(out)
  return out
end

-- Loads config_dir/sinks.lua and config_dir/rules/*.lua (name order).
-- opts: { config_dir, rules_dir (default config_dir/rules), secrets_dir,
--         mode = "run" | "check" | "replay",
--         files = { [relative path] = text }: the configuration in memory
--           instead of config_dir and rules_dir (kube-eventer's flags; so a
--           read-only root filesystem is enough),
--         secrets = { [name] = value }: what `secret "name"` returns before
--           it looks in secrets_dir; every value is masked in logs }
-- Returns the summary table and, only when there is no error and every
-- example passes, the loaded configuration.
function M.load(opts)
  local c = loading.new(opts)
  local dir = opts.config_dir
  local mem = opts.files
  for _, v in pairs(opts.secrets or {}) do core.redact(v) end
  local function display(rel)
    if dir == "." or mem then return rel end
    return dir .. "/" .. rel
  end
  -- The text of a file in memory (false: not there), nil: read the disk.
  local function text_of(rel)
    if not mem then return nil end
    return mem[rel] or false
  end
  local sinks_dsl_env = dsl.sinks_dsl(c)
  sinks_dsl_env.route = misplaced(c, "route", "rules/*.lua")
  sinks_dsl_env.drop = misplaced(c, "drop", "rules/*.lua")
  sinks_dsl_env.example = misplaced(c, "example", "rules/*.lua")
  sinks_dsl_env.template = misplaced(c, "template", "rules/*.lua (or a sink's render option)")
  if mem and not mem["sinks.lua"] then
    report(c, "sinks.lua", "the configuration in memory has no sinks.lua")
  else
    run_file(c, dir .. "/sinks.lua", display("sinks.lua"), sinks_dsl_env, text_of("sinks.lua"))
  end
  if #c.sinks == 0 and #c.errors == 0 then
    report(c, display("sinks.lua"), "no sinks defined: add at least one, as in sink \"stdout\" { type = \"stdout\" }")
  end

  local rules_dir = mem and "rules" or opts.rules_dir or (dir .. "/rules")
  local function rules_display(f)
    if opts.rules_dir and not mem then return opts.rules_dir .. "/" .. f end
    return display("rules/" .. f)
  end
  local files, err
  if mem then files = memory_rules(mem) else files, err = core.list_dir(rules_dir) end
  local nrules = 0
  if not files then
    report(c, opts.rules_dir or display("rules"), err)
  else
    local rules = dsl.rules_dsl(c)
    rules.sink = misplaced(c, "sink", "sinks.lua")
    rules.env = sinks_dsl_env.env
    rules.secret = sinks_dsl_env.secret
    for _, f in ipairs(files) do
      if f:match("%.lua$") then
        nrules = nrules + 1
        run_file(c, rules_dir .. "/" .. f, rules_display(f), rules, text_of("rules/" .. f))
      end
    end
    if nrules == 0 then
      warn(c, (not mem and opts.rules_dir) or display("rules"), "no rule files (*.lua): no event goes anywhere")
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
    summary.ok = true
    return summary, c
  end
  return summary, nil
end

return M
