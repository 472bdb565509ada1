-- herald.units: durations and sizes as operators write them.
--   durations: 30 (seconds), "250ms", "10s", "5m", "1h"
--   sizes:     4096 (bytes), "512KiB", "16MiB", "1GiB", "10KB", "1MB"
local M = {}

local DURATION = { ms = 1, s = 1000, m = 60000, h = 3600000 }
local SIZE = { [""] = 1, B = 1, KB = 1000, MB = 1000 ^ 2, GB = 1000 ^ 3,
               KiB = 1024, MiB = 1024 ^ 2, GiB = 1024 ^ 3 }

-- Returns milliseconds, or nil and a message.
function M.duration_ms(v)
  if type(v) == "number" and v >= 0 then return math.floor(v * 1000) end
  if type(v) == "string" then
    local n, unit = v:match("^%s*(%d+%.?%d*)%s*(%a+)%s*$")
    if n and DURATION[unit] then return math.floor(tonumber(n) * DURATION[unit]) end
  end
  return nil, ("%s is not a duration (write seconds, or \"250ms\", \"10s\", \"5m\", \"1h\")")
    :format(type(v) == "string" and ("%q"):format(v) or tostring(v))
end

-- Returns bytes, or nil and a message.
function M.bytes(v)
  if type(v) == "number" and v >= 0 then return math.floor(v) end
  if type(v) == "string" then
    local n, unit = v:match("^%s*(%d+%.?%d*)%s*(%a*)%s*$")
    if n and SIZE[unit] then return math.floor(tonumber(n) * SIZE[unit]) end
  end
  return nil, ("%s is not a size (write bytes, or \"512KiB\", \"16MiB\", \"1GiB\")")
    :format(type(v) == "string" and ("%q"):format(v) or tostring(v))
end

return M
