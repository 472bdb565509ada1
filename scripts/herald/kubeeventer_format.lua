-- herald.kubeeventer_format: what kube-eventer's users see, rebuilt from
-- an Event: its DingTalk/WeChat text and markdown layouts, the fields its
-- webhook templates print (Go's formatting of them), and the translation
-- of the two Go-syntax things its flags carry: webhook body templates
-- (`{{ .Field }}`) and `reason` regexes (to herald globs).
--
-- Run-time helpers are used by configurations that `herald migrate`
-- writes (require "herald.kubeeventer_format"); the translations by
-- herald.kubeeventer. Nothing here does I/O.
local event = require "herald.event"
local time = require "herald.time"

local M = {}

local v = event.value

local function str(x)
  x = v(x)
  if x == nil then return "" end
  return tostring(math.tointeger(x) or x)
end

---------------------------------------------------------------- times

-- kube-eventer prints the last time an event happened: lastTimestamp,
-- else eventTime, else now.
function M.last_time(ev)
  return time.parse(v(ev.lastTimestamp)) or time.parse(v(ev.eventTime)) or os.time()
end

-- Go's time.Format(time.DateTime) in the local zone: "2026-11-25 18:05:01".
function M.date_time(t)
  return os.date("%Y-%m-%d %H:%M:%S", math.floor(t))
end

-- Go's time.Time.String() in the local zone:
-- "2026-11-25 18:05:01 +0800 CST" (a zero time: Go's year 1 in UTC).
function M.go_time(t)
  if not t then return "0001-01-01 00:00:00 +0000 UTC" end
  return os.date("%Y-%m-%d %H:%M:%S %z %Z", math.floor(t))
end

---------------------------------------------------------------- alert layouts

-- The kube-eventer text layout (DingTalk msg_type=text, WeChat): labels
-- first, in the reverse of their order on the command line (kube-eventer
-- prepends each in turn), then Level, Kind, Namespace (the Event's own),
-- Name (the Event's own), Reason, Timestamp, Message.
function M.text(ev, labels, go_string_time)
  local md = type(ev.metadata) == "table" and ev.metadata or {}
  local o = type(ev.involvedObject) == "table" and ev.involvedObject or {}
  local t = M.last_time(ev)
  local lines = {}
  labels = labels or {}
  for i = #labels, 1, -1 do lines[#lines + 1] = labels[i] end
  lines[#lines + 1] = ("Level:%s \nKind:%s \nNamespace:%s \nName:%s \nReason:%s \nTimestamp:%s \nMessage:%s"):format(
    str(ev.type), str(o.kind), str(md.namespace), str(md.name), str(ev.reason),
    go_string_time and M.go_time(t) or M.date_time(t), str(ev.message))
  return table.concat(lines, "\n")
end

-- The kube-eventer markdown layout (DingTalk msg_type=markdown): labels in
-- order ("label[0]: **x**"), the node, then bold Level, Kind, Namespace,
-- Name, Reason, Timestamp, Message. Alibaba Cloud console links are left
-- out (they need cluster_id and region and point at one vendor).
function M.markdown(ev, labels)
  local md = type(ev.metadata) == "table" and ev.metadata or {}
  local o = type(ev.involvedObject) == "table" and ev.involvedObject or {}
  local src = type(ev.source) == "table" and ev.source or {}
  local parts = {}
  for i, label in ipairs(labels or {}) do
    if label:match("%S") then parts[#parts + 1] = ("label[%d]: **%s**\n\n"):format(i - 1, label) end
  end
  if str(src.host) ~= "" then parts[#parts + 1] = ("Node: **%s** \n\n"):format(str(src.host)) end
  parts[#parts + 1] = ("Level: **%s** \n\nKind: **%s** \n\nNamespace: %s \n\nName: %s \n\nReason: **%s** \n\nTimestamp: **%s** \n\nMessage: **%s**")
    :format(str(ev.type), str(o.kind), str(md.namespace), str(md.name), str(ev.reason),
      M.go_time(M.last_time(ev)), str(ev.message))
  return table.concat(parts)
end

---------------------------------------------------------------- webhook templates

-- The Event's fields as Go's text/template prints them from kube-eventer's
-- *v1.Event (ObjectMeta's fields are promoted: .Name is the Event's own).
local OBJECT_REF = { Kind = "kind", Namespace = "namespace", Name = "name", UID = "uid",
  APIVersion = "apiVersion", ResourceVersion = "resourceVersion", FieldPath = "fieldPath" }
local META = { Name = "name", Namespace = "namespace", UID = "uid", ResourceVersion = "resourceVersion",
  GenerateName = "generateName", SelfLink = "selfLink" }

local function go_stamp(ev, field)
  local t = time.parse(v(ev[field]))
  return M.go_time(t)
end

-- path: { "InvolvedObject", "Kind" } -> getter(ev) -> string, or nil when
-- the path is not a field kube-eventer's template could print as text.
local function field_getter(path)
  local a, b = path[1], path[2]
  if a == "ObjectMeta" then a, b = path[2], path[3]; if #path > 3 then return nil end
  elseif #path > 2 then return nil end
  if (a == "InvolvedObject" or a == "Related") and b and OBJECT_REF[b] then
    local key = a == "InvolvedObject" and "involvedObject" or "related"
    return function(ev)
      local o = type(ev[key]) == "table" and ev[key] or {}
      return str(o[OBJECT_REF[b]])
    end
  end
  if a == "Source" and (b == "Component" or b == "Host") then
    return function(ev)
      local s = type(ev.source) == "table" and ev.source or {}
      return str(s[b:lower()])
    end
  end
  if b ~= nil then return nil end
  if META[a] then
    return function(ev)
      local md = type(ev.metadata) == "table" and ev.metadata or {}
      return str(md[META[a]])
    end
  end
  if a == "CreationTimestamp" then
    return function(ev)
      local md = type(ev.metadata) == "table" and ev.metadata or {}
      return M.go_time(time.parse(v(md.creationTimestamp)))
    end
  end
  -- kube-eventer removes double quotes from the message and sets
  -- LastTimestamp to the last time the event happened before rendering.
  if a == "Message" then return function(ev) return (str(ev.message):gsub('"', "")) end end
  if a == "LastTimestamp" then return function(ev) return M.go_time(M.last_time(ev)) end end
  if a == "FirstTimestamp" then return function(ev) return go_stamp(ev, "firstTimestamp") end end
  if a == "EventTime" then return function(ev) return go_stamp(ev, "eventTime") end end
  local plain = { Type = "type", Reason = "reason", Count = "count", Action = "action",
    ReportingController = "reportingComponent", ReportingInstance = "reportingInstance" }
  if plain[a] then
    local key = plain[a]
    return function(ev) return str(ev[key]) end
  end
  return nil
end

-- Parses a Go text/template body into parts: strings and field paths.
-- Supported: text, `{{ .Field }}` and `{{ .A.B }}` (spaces optional),
-- the trim markers `{{-` and `-}}`, and comments `{{/* ... */}}`. Any
-- other action (if, range, with, pipelines, functions, variables) is
-- refused with its text. Returns parts, or nil and why.
function M.parse_template(text)
  local parts, pos = {}, 1
  while true do
    local s, e = text:find("{{", pos, true)
    if not s then
      parts[#parts + 1] = text:sub(pos)
      break
    end
    local lit = text:sub(pos, s - 1)
    local close = text:find("}}", e + 1, true)
    if not close then return nil, ("unclosed action at byte %d: %q"):format(s, text:sub(s, s + 20)) end
    local inner = text:sub(e + 1, close - 1)
    local after = close + 2
    if inner:sub(1, 2) == "- " or inner == "-" then
      lit = lit:gsub("%s+$", "")
      inner = inner:sub(2)
    end
    if inner:sub(-2) == " -" then
      inner = inner:sub(1, -3)
      local ws = text:match("^%s*", after)
      after = after + #ws
    end
    parts[#parts + 1] = lit
    local action = inner:match("^%s*(.-)%s*$")
    if action:match("^/%*.*%*/$") then
      -- a comment: nothing
    else
      local path = action:match("^%.([%w_%.]+)$")
      local fields = {}
      if path then for f in path:gmatch("[^%.]+") do fields[#fields + 1] = f end end
      local get = path and not path:find("..", 1, true) and field_getter(fields)
      if not get then
        local word = action:match("^[%a_]+") or action:match("^%$[%w_]*") or nil
        local why
        if action:find("|", 1, true) then why = "a pipeline (|)"
        elseif word and word:sub(1, 1) == "$" then why = "a variable (" .. word .. ")"
        elseif word then why = ("%q"):format(word)
        elseif path then why = "the field ." .. path .. " (herald prints the Event's text, count and time fields)"
        else why = "this action" end
        return nil, ("{{%s}} is not supported: %s; herald translates {{ .Field }} and {{ .A.B }} only")
          :format(inner, why)
      end
      parts[#parts + 1] = { path = path, get = get }
    end
    pos = after
  end
  return parts
end

-- Renders parsed template parts for one event.
function M.render_parts(parts, ev)
  local out = {}
  for i, p in ipairs(parts) do
    out[i] = type(p) == "string" and p or p.get(ev)
  end
  return table.concat(out)
end

-- A template text -> a function(ev) -> body, or nil and why.
function M.template(text)
  local parts, err = M.parse_template(text)
  if not parts then return nil, err end
  return function(ev) return M.render_parts(parts, ev) end
end

-- kube-eventer's webhook body when no ConfigMap gives one.
M.DEFAULT_BODY = [[

{
	"EventType": "{{ .Type }}",
	"EventKind": "{{ .InvolvedObject.Kind }}",
	"EventReason": "{{ .Reason }}",
	"EventTime": "{{ .LastTimestamp }}",
	"EventMessage": "{{ .Message }}"
}]]

---------------------------------------------------------------- reason regexes

-- A Go regexp as kube-eventer matches it (unanchored: anywhere in the
-- reason) -> herald globs (a list: any may match), or nil and the
-- construct herald cannot express. Supported: literal text, `^` and `$`,
-- `.*`, `\` escapes of punctuation, and alternation `a|b` at the top level
-- or as one whole group `^(a|b)$`.
function M.regex_globs(re)
  local body, group_start, group_end = re, false, false
  -- ^(a|b)$: the anchors hold for every alternative.
  local gs, inner, ge = body:match("^(%^?)%(%??:?([^()]*)%)(%$?)$")
  if inner then body, group_start, group_end = inner, gs == "^", ge == "$" end
  local globs = {}
  for alt in (body .. "|"):gmatch("([^|]*)|") do
    local start, finish = group_start, group_end
    if alt:sub(1, 1) == "^" then start = true; alt = alt:sub(2) end
    if alt:sub(-1) == "$" and alt:sub(-2, -2) ~= "\\" then finish = true; alt = alt:sub(1, -2) end
    local out, i = {}, 1
    while i <= #alt do
      local c = alt:sub(i, i)
      if c == "\\" then
        local n = alt:sub(i + 1, i + 1)
        if n == "" or n:match("%w") or n == "*" then
          return nil, ("reason %q: the escape \\%s is not supported"):format(re, n)
        end
        out[#out + 1] = n
        i = i + 2
      elseif c == "." and alt:sub(i + 1, i + 1) == "*" then
        out[#out + 1] = "*"
        i = i + 2
      elseif c:match("[%.%+%?%*%[%]%(%){}%^%$]") then
        local what = c
        if c == "." then what = ". (any one character)" elseif c == "[" then what = "a character class [...]"
        elseif c == "(" or c == ")" then what = "a group ( )" elseif c == "{" then what = "a repeat {n}" end
        return nil, ("reason %q: %s is not supported (herald matches globs: text, ^, $, .* and a|b)"):format(re, what)
      else
        out[#out + 1] = c
        i = i + 1
      end
    end
    local g = table.concat(out)
    if not start and g:sub(1, 1) ~= "*" then g = "*" .. g end
    if not finish and g:sub(-1) ~= "*" then g = g .. "*" end
    if g == "" then g = "*" end
    globs[#globs + 1] = (g:gsub("%*%*+", "*"))
  end
  return globs
end

return M
