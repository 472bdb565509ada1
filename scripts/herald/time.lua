-- herald.time: Kubernetes timestamps (RFC 3339, UTC or with an offset,
-- seconds or microseconds) to Unix time, and Unix time to UTC text.
local M = {}

-- Days from 1970-01-01 to y-m-d (proleptic Gregorian), without os.time,
-- which would read the date in the local time zone.
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = (153 * mp + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

-- Events come in bursts that share their timestamps: each function keeps
-- its recent answers (up to 512; then it starts again).
local parsed, iso, formatted, n_parsed, n_iso, n_formatted = {}, {}, {}, 0, 0, 0

-- "2026-11-20T08:05:00Z", "2026-11-20T08:05:00.123456Z",
-- "2026-11-20T16:05:00+08:00" -> seconds (a float with the fraction).
function M.parse(s)
  local known = parsed[s]
  if known then return known end
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, sec, frac, zone =
    s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt ](%d%d):(%d%d):(%d%d)(%.?%d*)(.*)$")
  if not y then return nil end
  local t = days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400
    + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec)
  if frac ~= "" and frac ~= "." then t = t + tonumber("0" .. frac) end
  if zone ~= "Z" and zone ~= "z" and zone ~= "" then
    local sign, zh, zm = zone:match("^([+-])(%d%d):?(%d%d)$")
    if not sign then return nil end
    local off = tonumber(zh) * 3600 + tonumber(zm) * 60
    t = sign == "+" and t - off or t + off
  end
  if n_parsed >= 512 then parsed, n_parsed = {}, 0 end
  parsed[s], n_parsed = t, n_parsed + 1
  return t
end

-- strftime in UTC: format("%Y.%m.%d", t)
function M.format_utc(fmt, t)
  t = math.floor(t)
  local by_time = formatted[fmt]
  local s = by_time and by_time[t]
  if s then return s end
  if n_formatted >= 512 or not by_time then
    if n_formatted >= 512 then formatted, n_formatted = {}, 0 end
    by_time = {}
    formatted[fmt] = by_time
  end
  s = os.date("!" .. fmt, t)
  by_time[t], n_formatted = s, n_formatted + 1
  return s
end

-- RFC 3339 in UTC with milliseconds, as Elasticsearch's date type reads it.
function M.iso_utc(t)
  local s = iso[t]
  if s then return s end
  local ms = math.floor((t - math.floor(t)) * 1000 + 0.5)
  if ms == 1000 then ms = 999 end
  s = os.date("!%Y-%m-%dT%H:%M:%S", math.floor(t)) .. (".%03dZ"):format(ms)
  if n_iso >= 512 then iso, n_iso = {}, 0 end
  iso[t], n_iso = s, n_iso + 1
  return s
end

return M
