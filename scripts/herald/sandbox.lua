-- herald.sandbox: the environment operator code runs in, and how its
-- errors are reported.
--
-- Every operator file (sinks.lua, rules/*.lua, a config's own sinks/*.lua)
-- gets a fresh environment of safe libraries plus its DSL. A runtime error
-- in operator code is logged with file:line and counted, never raised: the
-- event goes on to its other routes.
local json = require "herald.json"
local core = require "herald.core"

local M = {}

function M.copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end
local copy = M.copy

---------------------------------------------------------------- read-only views

-- Matching functions (`when`, `unless`, a function as a match value) see
-- the event through a read-only view, so no rule can change what sinks
-- get. A view reads like the table (fields, nested tables as views, pairs,
-- ipairs, #); assigning to it raises an error at the operator's line.
local target = setmetatable({}, { __mode = "k" })    -- view -> table
local view_of = setmetatable({}, { __mode = "k" })   -- table -> view
local VIEW = {}

local function view(t)
  local v = view_of[t]
  if v then return v end
  v = setmetatable({}, VIEW)
  target[v] = t
  view_of[t] = v
  return v
end
M.view = view

VIEW.__index = function(v, k)
  local x = target[v][k]
  if type(x) == "table" then return view(x) end
  return x
end
VIEW.__newindex = function(_, k)
  error(("the event is read-only in when/unless (cannot set %s): matching cannot change what sinks get")
    :format(tostring(k)), 2)
end
VIEW.__len = function(v) return #target[v] end
VIEW.__pairs = function(v)
  local t = target[v]
  local step = pairs(t)   -- the table's own pairs: a lazily decoded one decodes all
  return function(_, k)
    local nk, x = step(t, k)
    if type(x) == "table" then x = view(x) end
    return nk, x
  end, v, nil
end
VIEW.__metatable = false

-- herald's own modules that hold the core's callbacks or the live
-- configuration: operator code must not reach them through require.
local PRIVATE = {
  ["herald.core"] = true, ["herald.runtime"] = true, ["herald.sandbox"] = true,
  ["herald.loading"] = true, ["herald.schema"] = true, ["herald.dsl"] = true,
  ["herald.config"] = true, ["herald.route"] = true, ["herald.views"] = true,
}

local function operator_require(name)
  if PRIVATE[name] then
    error(("module '%s' is herald's own and not available to rules"):format(tostring(name)), 2)
  end
  return require(name)
end

-- json for operator code: encoding a read-only view encodes its table.
local operator_json = copy(json)
-- herald's own event paths
for _, k in ipairs({ "decode_lazy", "splice", "document_herald", "es_bulk" }) do operator_json[k] = nil end
function operator_json.encode(v, ...) return json.encode(target[v] or v, ...) end
function operator_json.is_array(v, ...) return json.is_array(target[v] or v, ...) end

-- What every operator file sees, besides its DSL.
local function sandbox_base()
  return {
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
    pcall = pcall, select = select, tonumber = tonumber, tostring = tostring,
    type = type, xpcall = xpcall, rawequal = rawequal, rawget = rawget,
    rawlen = rawlen, rawset = rawset,
    string = copy(string), table = copy(table), math = copy(math), utf8 = copy(utf8),
    os = copy(os), json = operator_json, require = operator_require,
    print = function(...)
      local parts = {}
      for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
      core.log("info", table.concat(parts, "\t"))
    end,
  }
end

function M.new_env(dsl)
  local base = sandbox_base()
  for k, v in pairs(dsl) do base[k] = v end
  return setmetatable({}, { __index = base })
end

function M.file_of(where)
  return (where:match("^(.-):%d+$")) or where
end
local file_of = M.file_of

-- Lua shortens chunk names in messages to 60 bytes ("...g/rules/x.lua:3:");
-- put the whole path back when the message is about `path`.
function M.full_path(msg, path)
  msg = tostring(msg)
  local shown, rest = msg:match("^%.%.%.(.-)(:%d+:.*)$")
  if shown and path:sub(-#shown) == shown then return path .. rest end
  return msg
end
local full_path = M.full_path

-- A runtime error in operator code: logged with file:line, counted.
function M.rule_error(where, msg)
  msg = full_path(msg, file_of(where))
  if not msg:find("^[^:]+:%d+:") then msg = where .. ": " .. msg end
  core.log("error", "rule error: " .. msg)
  core.count("rule_errors", file_of(where))
end
local rule_error = M.rule_error

-- Calls an operator function under its own budget; an error counts as
-- "no" and leaves the event to its other routes. A table argument is
-- passed as a read-only view.
function M.make_call(where)
  local guard = core.guard
  return function(fn, x)
    if type(x) == "table" then x = view(x) end
    local ok, r = guard(fn, x)
    if not ok then
      rule_error(where, r)
      return false
    end
    return r ~= nil and r ~= false
  end
end

return M
