-- herald.loading: a configuration while it is being loaded: its sinks,
-- rules and examples so far, the errors and warnings found, and the
-- file:line of the operator code that called the DSL.
local M = {}

local getinfo = debug.getinfo

-- opts: see herald.config.load.
function M.new(opts)
  return {
    opts = opts,
    sinks = {}, sink_by_name = {},
    rules = {}, examples = {},
    errors = {}, warnings = {},
    sources = {},               -- chunk names of operator files being loaded
  }
end

-- file:line of the operator code that called the DSL function.
function M.caller(c)
  for level = 3, 12 do
    local info = getinfo(level, "Sl")
    if not info then break end
    if c.sources[info.source] then
      return info.source:sub(2) .. ":" .. (info.currentline or 0)
    end
  end
  return "?"
end

function M.report(c, where, msg)
  c.errors[#c.errors + 1] = { where = where, msg = msg }
end

function M.warn(c, where, msg)
  c.warnings[#c.warnings + 1] = { where = where, msg = msg }
end

function M.list_of_strings(v)
  if type(v) == "string" then return { v } end
  if type(v) ~= "table" or #v == 0 then return nil end
  for k, s in pairs(v) do
    if math.type(k) ~= "integer" or type(s) ~= "string" then return nil end
  end
  return v
end

return M
