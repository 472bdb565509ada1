-- herald.alert: what alert sinks say, and the helpers operators' own
-- templates can use (require "herald.alert").
--
-- A template gets a `group` (the events of one group since its last
-- message) or a `digest` (several groups sent together because the robot's
-- rate limit left no room for each). See render_markdown and
-- digest_markdown for the fields; the README has the full list.
local time = require "herald.time"
local base64 = require "herald.base64"
local crypto = require "herald.crypto"
local json = require "herald.json"

local M = {}

---------------------------------------------------------------- helpers

-- Unix seconds -> "2026-11-25 18:05:01 CST", in the local time zone (the
-- TZ environment variable, e.g. TZ=Asia/Shanghai).
function M.local_time(t)
  if type(t) ~= "number" then return "-" end
  return os.date("%Y-%m-%d %H:%M:%S %Z", math.floor(t))
end

-- Markdown-escapes text from an event, so a message like
-- "pod web_1 [x]" shows as written and cannot break the layout.
function M.escape_markdown(s)
  s = tostring(s == nil and "" or s)
  s = s:gsub("[\\`*_%[%]#<>~|]", function(c)
    if c == "<" then return "&lt;" end
    if c == ">" then return "&gt;" end
    return "\\" .. c
  end)
  -- Keep line breaks (markdown needs two spaces before them) but never
  -- let a line start a list or a heading.
  s = s:gsub("\r?\n", "  \n"):gsub("\n(%s*)([%-+])", "\n%1\\%2")
  return s
end

-- Slack's mrkdwn needs only &, < and > escaped.
function M.escape_slack(s)
  return (tostring(s == nil and "" or s):gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;"))
end

-- Cuts s to at most max bytes, on a UTF-8 character boundary, ending with
-- marker when it had to cut.
function M.truncate(s, max, marker)
  marker = marker or "\n\n… (truncated)"
  if #s <= max then return s end
  local keep = max - #marker
  if keep < 0 then keep = 0 end
  -- Back up to the start of a character (continuation bytes are 10xxxxxx).
  while keep > 0 and (s:byte(keep + 1) or 0) & 0xC0 == 0x80 do keep = keep - 1 end
  return s:sub(1, keep) .. marker
end

-- Percent-encoding for a URL query value (RFC 3986 unreserved kept).
function M.url_encode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

-- Base64(HMAC-SHA256(key, message)), the robots' signatures.
function M.sign(key, message)
  return base64.encode(crypto.hmac_sha256(key, message))
end

M.now_ms = crypto.now_ms

-- An option that may be one string or a list of them, as a list.
function M.list(v)
  if v == nil then return {} end
  if type(v) == "string" then return { v } end
  return v
end

---------------------------------------------------------------- robots

-- The options of a chat robot's sink type: the webhook, a format (its
-- default given), timeout, ca_file and dead_letter, plus the type's own.
function M.robot_options(format, extra)
  local o = {
    webhook = { kind = "string", required = true },
    format = { kind = "string", default = format },
    timeout = { kind = "duration", default = "10s" },
    ca_file = { kind = "string" },
    dead_letter = { kind = "string" },
  }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- The POST of a JSON body, with the options every robot type takes.
function M.post_json(url, body, conf, content_type)
  return {
    method = "POST", url = url, body = json.encode(body),
    headers = { "Content-Type: " .. (content_type or "application/json") },
    timeout = conf.timeout / 1000, ca_file = conf.ca_file,
  }
end

-- Judges the answer of a robot that reports in a JSON code (DingTalk,
-- WeCom, Feishu). robot = { name, field ("errcode"), code = function(v)
-- return code, errmsg end, throttled = { [code] = seconds to wait },
-- causes = { [code] = "what to check" } }. Network errors, 429 and 5xx
-- are retried (Retry-After honoured); a throttle code waits as long as the
-- robot says it throttles; code 0 is the only success; any other code
-- fails for good with the robot's words.
function M.judge(resp, robot)
  local name = robot.name
  if resp.error then return { result = "retry", message = resp.error } end
  if resp.status == 429 or resp.status >= 500 then
    return { result = "retry", after = resp.retry_after, message = ("%s answered HTTP %d"):format(name, resp.status) }
  end
  local ok, v = pcall(json.decode, resp.body)
  local code, errmsg
  if ok and type(v) == "table" then code, errmsg = robot.code(v) end
  code = math.tointeger(code)
  if not code then
    if resp.status ~= 200 then return { result = "failed", message = ("%s answered HTTP %d"):format(name, resp.status) } end
    return { result = "retry", message = ("%s's answer is not its JSON: %s"):format(name, resp.body:sub(1, 120)) }
  end
  if code == 0 then return { result = "ok" } end
  errmsg = tostring(errmsg or "")
  if robot.throttled[code] then
    return { result = "retry", after = robot.throttled[code], message = ("%s throttles this robot (%d): %s"):format(name, code, errmsg) }
  end
  local cause = robot.causes[code]
  return { result = "failed", message = ("%s refused the message: %s %d, %s%s"):format(
    name, robot.field, code, errmsg, cause and (" - " .. cause) or "") }
end

---------------------------------------------------------------- templates

local function plural(n, one, many) return ("%d %s"):format(n, n == 1 and one or many) end

-- A count as people write it: 3, not 3.0 (JSON numbers decode as floats).
local function num(v)
  v = tonumber(v) or 1
  return tostring(math.tointeger(v) or v)
end
M.number = num

-- The involved object: "Pod/web-1".
local function object_of(ev)
  local o = type(ev.involvedObject) == "table" and ev.involvedObject or {}
  return ("%s/%s"):format(o.kind or "?", o.name or "?")
end
M.object = object_of

-- A group's title (the chat preview): "[prod] Warning BackOff Pod/web-1".
local function title_of(g)
  local ev = g.event
  return ("[%s] %s %s %s"):format(g.cluster or "-", ev.type or "-", ev.reason or "-", object_of(ev))
end
M.title = title_of

-- The default alert for one group, in markdown (DingTalk, WeCom). Returns
-- title, text. esc: the escaping of the markdown flavour.
function M.render_markdown(g, esc)
  esc = esc or M.escape_markdown
  local ev = g.event
  local title = title_of(g)
  local lines = {
    ("#### %s: %s"):format(esc(ev.type or "Event"), esc(ev.reason or "-")),
    ("**%s** in **%s**"):format(esc(object_of(ev)), esc(g.namespace or "-")),
    "",
    "> " .. esc(ev.message or ""),
    "",
    "- **Cluster:** " .. esc(g.cluster or "-"),
    "- **Namespace:** " .. esc(g.namespace or "-"),
    "- **Object:** " .. esc(object_of(ev)),
    "- **Reason:** " .. esc(ev.reason or "-"),
    "- **Count:** " .. num(ev.count),
    "- **First seen:** " .. M.local_time(g.first_seen),
    "- **Last seen:** " .. M.local_time(g.last_seen),
    "- **Events:** " .. tostring(g.count),
  }
  if #g.events > 1 then
    lines[#lines + 1] = ""
    lines[#lines + 1] = ("Latest %s:"):format(plural(#g.events, "event", "events"))
    for i = #g.events, 1, -1 do
      local e = g.events[i]
      lines[#lines + 1] = ("- %s ×%s: %s"):format(esc(object_of(e)), num(e.count), esc(e.message or ""))
    end
  end
  if g["repeat"] then
    lines[#lines + 1] = ""
    lines[#lines + 1] = "_Still happening: repeats of an alert sent before._"
  elseif g.update then
    lines[#lines + 1] = ""
    lines[#lines + 1] = ("_Update: %s in this group so far._"):format(plural(g.total, "event", "events"))
  end
  return title, table.concat(lines, "  \n")
end

-- The default digest, in markdown.
function M.digest_markdown(d, esc)
  esc = esc or M.escape_markdown
  local title = ("herald digest: %s held back"):format(plural(d.count, "event", "events"))
  local lines = {
    ("#### Alert digest: %s in %s"):format(plural(d.count, "event", "events"), plural(#d.groups, "group", "groups")),
    "Sent together to stay within the robot's rate limit.",
    "",
    "- **Events:** " .. tostring(d.count),
    "",
    "**By cluster / namespace / reason**",
  }
  for i, b in ipairs(d.by) do
    if i > 10 then
      lines[#lines + 1] = ("- … and %d more"):format(#d.by - 10)
      break
    end
    lines[#lines + 1] = ("- %s / %s / %s: %d"):format(esc(b.cluster), esc(b.namespace), esc(b.reason), b.count)
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "**Top groups**"
  for i, g in ipairs(d.top) do
    if i > 5 then break end
    local ev = g.event
    if ev then
      lines[#lines + 1] = ("- [%s] %s %s ×%d: %s"):format(esc(g.cluster or "-"), esc(object_of(ev)),
        esc(ev.reason or "-"), g.count, esc(ev.message or ""))
    else
      lines[#lines + 1] = ("- %d more events in groups past the group limit"):format(g.count)
    end
  end
  if #d.top > 5 then lines[#lines + 1] = ("- … and %s"):format(plural(#d.top - 5, "more group", "more groups")) end
  return title, table.concat(lines, "  \n")
end

-- Plain text (DingTalk/WeCom/Feishu text messages).
function M.render_text(g)
  local ev = g.event
  local title = title_of(g)
  local lines = {
    title,
    ev.message or "",
    "Cluster: " .. (g.cluster or "-"),
    "Namespace: " .. (g.namespace or "-"),
    "Object: " .. object_of(ev),
    "Reason: " .. (ev.reason or "-"),
    "Count: " .. num(ev.count),
    "First seen: " .. M.local_time(g.first_seen),
    "Last seen: " .. M.local_time(g.last_seen),
    "Events: " .. tostring(g.count),
  }
  if g["repeat"] then lines[#lines + 1] = "Still happening: repeats of an alert sent before." end
  return title, table.concat(lines, "\n")
end

function M.digest_text(d)
  local title = ("herald digest: %s held back"):format(plural(d.count, "event", "events"))
  local lines = {
    ("Alert digest: %s in %s, sent together to stay within the robot's rate limit.")
      :format(plural(d.count, "event", "events"), plural(#d.groups, "group", "groups")),
    "Events: " .. tostring(d.count),
  }
  for i, b in ipairs(d.by) do
    if i > 10 then lines[#lines + 1] = ("… and %d more"):format(#d.by - 10) break end
    lines[#lines + 1] = ("%s / %s / %s: %d"):format(b.cluster, b.namespace, b.reason, b.count)
  end
  return title, table.concat(lines, "\n")
end

return M
