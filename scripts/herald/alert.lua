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
    webhook = { kind = "string", required = true, doc = "the robot's webhook URL, with its token (best read with `secret`)" },
    format = { kind = "string", default = format, doc = "the message format the robot is sent" },
    timeout = { kind = "duration", default = "10s", doc = "how long one request may take" },
    ca_file = { kind = "string", doc = "CA certificates (PEM) to trust instead of the system's" },
    dead_letter = { kind = "string", doc = "a file for the events of messages refused for good" },
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

-- The default alert: three short lines that read the same on a phone in
-- DingTalk, WeCom and Feishu markdown and in CommonMark (bold and line
-- breaks only: no headings, lists, quotes or tables, which one of them
-- lacks).
--   [prod] BackOff Pod/web-0 in shop              (no "in" for Node etc.)
--   Back-off restarting failed container app ...
--   ×3 · 2026-11-25 18:01:02 – 18:05:01 CST · node worker-3
-- ×N is the Event's own count (kubectl's COUNT); "N events" is added when
-- the message covers several events of the group.

-- The involved object's namespace, or nil for cluster-scoped objects
-- (a Node's events carry the Event's own namespace, "default").
local function namespace_of(ev)
  local o = type(ev.involvedObject) == "table" and ev.involvedObject or {}
  local ns = o.namespace
  if type(ns) ~= "string" or ns == "" then return nil end
  return ns
end

-- The node the event came from (source.host), or nil.
local function node_of(ev)
  local src = type(ev.source) == "table" and ev.source or {}
  local host = src.host
  if type(host) ~= "string" or host == "" then return nil end
  return host
end

-- "2026-11-25 18:01:02 – 18:05:01 CST": the date once when both are on it.
local function seen(first, last)
  if type(last) ~= "number" then return "-" end
  if type(first) ~= "number" or math.floor(first) == math.floor(last) then return M.local_time(last) end
  local f, l = math.floor(first), math.floor(last)
  if os.date("%Y-%m-%d", f) == os.date("%Y-%m-%d", l) then
    return os.date("%Y-%m-%d %H:%M:%S", f) .. " – " .. os.date("%H:%M:%S %Z", l)
  end
  return os.date("%Y-%m-%d %H:%M:%S", f) .. " – " .. M.local_time(l)
end

-- The three lines of a group, unescaped: head (without the cluster), the
-- messages, the facts.
local function lines_of(g)
  local ev = g.event
  local ns = namespace_of(ev)
  local head = ("%s %s%s"):format(ev.reason or "-", object_of(ev), ns and (" in " .. ns) or "")
  local msgs, shown = { ev.message or "" }, { [ev.message or ""] = true }
  -- Older samples whose message differs (FailedScheduling, Unhealthy...).
  for i = #g.events - 1, 1, -1 do
    local m = g.events[i].message or ""
    if not shown[m] then shown[m] = true; msgs[#msgs + 1] = m end
  end
  local facts = { "×" .. num(ev.count) }
  if g.count > 1 then facts[#facts + 1] = plural(g.count, "event", "events") end
  facts[#facts + 1] = seen(g.first_seen, g.last_seen)
  local node = node_of(ev)
  if node then facts[#facts + 1] = "node " .. node end
  local note
  if g["repeat"] then note = "Still happening: repeats of an alert sent before."
  elseif g.update then note = ("Update: %s in this group so far."):format(plural(g.total, "event", "events")) end
  return head, msgs, facts, note
end
M.facts = lines_of

-- The default alert for one group, in markdown (DingTalk, WeCom, Feishu
-- cards). Returns title, text. esc: the escaping of the markdown flavour.
function M.render_markdown(g, esc)
  esc = esc or M.escape_markdown
  local head, msgs, facts, note = lines_of(g)
  local lines = { ("**[%s] %s**"):format(esc(g.cluster or "-"), esc(head)) }
  for _, m in ipairs(msgs) do lines[#lines + 1] = esc(m) end
  lines[#lines + 1] = esc(table.concat(facts, " · "))
  if note then lines[#lines + 1] = note end
  return title_of(g), table.concat(lines, "  \n")
end

-- Plain text (DingTalk/WeCom/Feishu text messages): the same lines.
function M.render_text(g)
  local head, msgs, facts, note = lines_of(g)
  local lines = { ("[%s] %s"):format(g.cluster or "-", head) }
  for _, m in ipairs(msgs) do lines[#lines + 1] = m end
  lines[#lines + 1] = table.concat(facts, " · ")
  if note then lines[#lines + 1] = note end
  return title_of(g), table.concat(lines, "\n")
end

-- A digest in the same style: a head line, then one line per namespace
-- and reason with its count (the ten largest), then the five largest
-- groups, each as its alert's head line, count and message. Sections are
-- paragraphs; no list markers: WeCom and Feishu do not render lists. The
-- cluster prefixes each line only when the digest spans several.
local OVERFLOW = "(more groups)"   -- the cluster of d.by's line for the overflow group
local function digest_lines(d, esc, bold)
  local clusters, seen_c = {}, {}
  for _, b in ipairs(d.by) do
    if not seen_c[b.cluster] and b.cluster ~= OVERFLOW then seen_c[b.cluster] = true; clusters[#clusters + 1] = b.cluster end
  end
  local function prefix(c) return #clusters > 1 and ("[" .. esc(c or "-") .. "] ") or "" end
  local lines = {
    bold(("[%s] Digest: %s in %s"):format(esc(table.concat(clusters, ", ")), plural(d.count, "event", "events"),
      plural(#d.groups, "group", "groups"))),
    "Held back by the robot's rate limit.",
    "",
    bold("By reason"),
  }
  -- A line whose groups are all about cluster-scoped objects (Nodes) names
  -- no namespace, as their alerts do.
  local namespaced = {}
  for _, g in ipairs(d.groups) do
    if g.event and namespace_of(g.event) then
      namespaced[table.concat({ g.cluster or "-", g.namespace or "-", g.reason or "-" }, "\0")] = true
    end
  end
  for i, b in ipairs(d.by) do
    if i > 10 then lines[#lines + 1] = ("… and %d more"):format(#d.by - 10) break end
    local ns = namespaced[table.concat({ b.cluster, b.namespace, b.reason }, "\0")]
    if b.cluster == OVERFLOW then
      lines[#lines + 1] = ("groups past the group limit: %d"):format(b.count)
    else
      lines[#lines + 1] = ("%s%s%s: %d"):format(prefix(b.cluster), esc(b.reason),
        ns and (" in " .. esc(b.namespace)) or "", b.count)
    end
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = bold("Largest groups")
  for i, g in ipairs(d.top) do
    if i > 5 then lines[#lines + 1] = ("… and %s"):format(plural(#d.top - 5, "more group", "more groups")) break end
    if g.event then
      local head, _, facts = lines_of(g)
      local n = g.count > 1 and (" · " .. plural(g.count, "event", "events")) or ""
      lines[#lines + 1] = ("%s%s %s%s: %s"):format(prefix(g.cluster), bold(esc(head)), facts[1], n,
        esc(M.truncate(g.event.message or "", 80, "…")))
    else
      lines[#lines + 1] = ("%s in groups past the group limit"):format(plural(g.count, "event", "events"))
    end
  end
  return lines
end

local function digest_title(d)
  return ("herald digest: %s held back"):format(plural(d.count, "event", "events"))
end

-- The default digest, in markdown.
function M.digest_markdown(d, esc)
  esc = esc or M.escape_markdown
  local lines = digest_lines(d, esc, function(s) return "**" .. s .. "**" end)
  return digest_title(d), (table.concat(lines, "  \n"):gsub("  \n  \n", "\n\n"))
end

function M.digest_text(d)
  local same = function(s) return s end
  return digest_title(d), (table.concat(digest_lines(d, same, same), "\n"))
end

return M
