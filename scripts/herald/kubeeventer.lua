-- herald.kubeeventer: kube-eventer's command line -> an ordinary herald
-- configuration (sinks.lua and a rules file written with the same DSL),
-- so herald can run in kube-eventer's place with its flags unchanged, and
-- `herald migrate` can print the files an operator then owns.
--
--   local r, err = require("herald.kubeeventer").translate(argv, opts)
--
-- argv: the arguments after the program name. opts (all optional):
--   getenv(name)     -> value or nil (URL ${VAR} expansion); default os.getenv
--   configmaps       { ["namespace/name"] = text }: webhook body templates
--   has_type(name)   -> bool: whether herald has a sink type (kafka)
-- r = { files = { ["sinks.lua"], ["rules/50-kube-eventer.lua"] },
--       secrets = { [name] = value }, source = {...}, listen = "ip:port",
--       cluster_name = string or nil, ignored = { why, ... },
--       changes = { what changed in meaning, ... }, version = bool }
-- or nil and every error, one per line, each naming the flag or option.
-- Secret values are in r.secrets only: the files reference them with
-- `secret "name"` (or `env "VAR"` where the URL had ${VAR}), and no
-- message here ever contains one. Nothing here does I/O.
local format = require "herald.kubeeventer_format"

local M = {}

---------------------------------------------------------------- Go-like parsing

local TRUE = { ["1"] = true, t = true, T = true, TRUE = true, ["true"] = true, True = true }
local FALSE = { ["0"] = true, f = true, F = true, FALSE = true, ["false"] = true, False = true }

-- strconv.ParseBool
local function parse_bool(s)
  if TRUE[s] then return true end
  if FALSE[s] then return false end
  return nil
end

-- strconv.Atoi (decimal, optional sign)
local function parse_int(s)
  if type(s) ~= "string" or not s:match("^[+-]?%d+$") then return nil end
  return math.tointeger(tonumber(s))
end

-- time.ParseDuration -> seconds ("30s", "1m30s", "1.5h", "300ms", "0").
local UNITS = { ns = 1e-9, us = 1e-6, ["µs"] = 1e-6, ms = 1e-3, s = 1, m = 60, h = 3600 }
local function parse_duration(s)
  if s == "0" or s == "+0" or s == "-0" then return 0 end
  local sign, rest = s:match("^([+-]?)(.+)$")
  if not rest then return nil end
  local total, pos = 0, 1
  while pos <= #rest do
    local num, unit, e = rest:match("^(%d*%.?%d*)([a-zµ]+)()", pos)
    if not num or num == "" or num == "." or not UNITS[unit] then return nil end
    total = total + tonumber(num) * UNITS[unit]
    pos = e
  end
  return sign == "-" and -total or total
end

-- os.ExpandEnv: ${VAR} and $VAR. Returns the expanded text and the list of
-- { name, value } it used, or nil and why.
local function expand_env(s, getenv)
  local used, bad = {}, nil
  local function val(name)
    local x = getenv(name) or ""
    used[#used + 1] = { name = name, value = x }
    return x
  end
  local out = s:gsub("%$(%b{})", function(b)
    local name = b:sub(2, -2)
    if name == "" then bad = "${} names no variable"; return "" end
    return val(name)
  end)
  if out:find("${", 1, true) then return nil, "unclosed ${ in the URL" end
  if bad then return nil, bad end
  out = out:gsub("%$([%a_][%w_]*)", val)
  return out, used
end

-- Query unescaping as Go's url.QueryUnescape: "+" is a space, "%XX" a
-- byte; a "%" without two hex digits makes the pair invalid (nil).
local function unescape(s)
  if s:gsub("%%%x%x", ""):find("%", 1, true) then return nil end
  s = s:gsub("+", " ")
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- url.Parse + Query(), as kube-eventer's sinks read them: scheme, host,
-- path, and the query as { key = { values in order } } plus the keys in
-- order of first appearance.
local function parse_url(s)
  local u = { raw = s, query = {}, keys = {} }
  local rest = s:gsub("#.*$", "")
  local q
  rest, q = rest:match("^([^?]*)%??(.*)$")
  local scheme, after = rest:match("^([%a][%w+.-]*):(.*)$")
  if scheme then
    u.scheme = scheme:lower()
    rest = after
  end
  if rest:sub(1, 2) == "//" then
    local auth = rest:sub(3):match("^[^/]*")
    u.host = auth:gsub("^.*@", "")
    u.userinfo = auth:find("@", 1, true) and auth:match("^(.*)@") or nil
    u.path = rest:sub(3 + #auth)
  else
    u.host = ""
    u.path = rest
  end
  u.rawquery = q
  for pair in q:gmatch("[^&]+") do
    -- Go drops pairs with ';' or a bad escape and keeps the rest.
    if not pair:find(";", 1, true) then
      local k, val = pair:match("^([^=]*)=?(.*)$")
      k, val = unescape(k), unescape(val)
      if k and val then
        if not u.query[k] then u.query[k] = {}; u.keys[#u.keys + 1] = k end
        table.insert(u.query[k], val)
      end
    end
  end
  return u
end

-- kube-eventer's getValues: the first value, split on commas; "" -> nil.
local function values(list)
  if not list or #list == 0 or list[1] == "" then return nil end
  local out = {}
  for x in (list[1] .. ","):gmatch("([^,]*),") do out[#out + 1] = x end
  return out
end

---------------------------------------------------------------- Lua text

local function q(s) return (("%q"):format(s):gsub("\\\n", "\\n")) end

local function list_lua(t)
  local out = {}
  for i, x in ipairs(t) do out[i] = q(x) end
  return "{ " .. table.concat(out, ", ") .. " }"
end

-- A value: a list of parts { lit = s } | { env = NAME } | { secret = name }.
local function value_lua(parts)
  local out = {}
  for _, p in ipairs(parts) do
    if p.lit then
      if p.lit ~= "" then out[#out + 1] = q(p.lit) end
    elseif p.env then
      out[#out + 1] = ("env %s"):format(q(p.env))
    else
      out[#out + 1] = ("secret %s"):format(q(p.secret))
    end
  end
  if #out == 0 then return '""' end
  return table.concat(out, " .. ")
end

---------------------------------------------------------------- the translator

local SECRET_KEY = { access_token = true, token = true, sign = true, key = true, password = true,
  secret = true, corp_secret = true, esusersecret = true, apikey = true, api_key = true }
local SECRET_HEADER = { "auth", "token", "key", "secret", "cookie", "sign", "password" }

local KLOG = {
  v = "int", vmodule = "string", logtostderr = "bool", alsologtostderr = "bool",
  stderrthreshold = "string", log_dir = "string", log_file = "string", log_file_max_size = "int",
  skip_headers = "bool", skip_log_headers = "bool", add_dir_header = "bool", one_output = "bool",
  log_backtrace_at = "string", legacy_stderr_threshold_behavior = "bool", alsologtostderrthreshold = "string",
}
local FLAGS = {
  source = "string", sink = "string", frequency = "duration", max_procs = "int",
  ["healthz-ip"] = "string", ["healthz-port"] = "int", version = "bool", ["event-metrics"] = "bool",
}
for k, t in pairs(KLOG) do FLAGS[k] = t end

-- Go's flag package: -name, --name, -name=value, -name value (not for
-- bools), stopping at "--" or the first non-flag argument.
local function parse_flags(argv, errors)
  local seen, rest = {}, {}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      for j = i + 1, #argv do rest[#rest + 1] = argv[j] end
      break
    end
    if a:sub(1, 1) ~= "-" or a == "-" then
      for j = i, #argv do rest[#rest + 1] = argv[j] end
      break
    end
    local body = a:gsub("^%-%-?", "")
    local name, value = body:match("^([^=]*)=(.*)$")
    name = name or body
    local kind = FLAGS[name]
    if name == "" or name:sub(1, 1) == "-" or name:sub(1, 1) == "=" then
      errors[#errors + 1] = ("bad flag syntax: %s"):format(M.mask(a))
    elseif not kind then
      errors[#errors + 1] = ("flag provided but not defined: -%s (kube-eventer has no such flag)"):format(name)
    else
      if value == nil and kind ~= "bool" then
        i = i + 1
        value = argv[i]
        if value == nil then errors[#errors + 1] = ("flag needs an argument: -%s"):format(name) end
      end
      if value == nil and kind == "bool" then value = "true" end
      if value ~= nil then
        local ok = true
        if kind == "bool" then ok = parse_bool(value) ~= nil
        elseif kind == "int" then ok = parse_int(value) ~= nil
        elseif kind == "duration" then ok = parse_duration(value) ~= nil end
        if not ok then
          errors[#errors + 1] = ("invalid value %q for flag -%s: not a %s"):format(value, name, kind)
        else
          seen[#seen + 1] = { name = name, value = value }
        end
      end
    end
    i = i + 1
  end
  return seen, rest
end

-- Splits "NAME:URL" as kube-eventer's flags.Uri does.
local function split_uri(flag, s, errors)
  local key, url = s:match("^([^:]*):?(.*)$")
  if key == "" then
    errors[#errors + 1] = ("--%s=%s: missing the name before ':'"):format(flag, M.mask(s))
    return nil
  end
  return key, url
end

-- The text of a flag value with every secret-looking query value masked,
-- for messages.
local function secret_header(name)
  name = name:lower()
  for _, w in ipairs(SECRET_HEADER) do
    if name:find(w, 1, true) then return true end
  end
  return false
end

function M.mask(s)
  s = s:gsub("([?&]([^=&]*)=)([^&]*)", function(pre, k, val)
    if SECRET_KEY[k:lower()] or k:lower():find("secret", 1, true) or k:lower():find("token", 1, true) then
      return pre .. "***"
    end
    if k == "header" and secret_header(val:match("^[^=]*")) then
      return pre .. val:match("^[^=]*") .. "=***"
    end
    return pre .. val
  end)
  return (s:gsub("//[^/@]*:[^/@]*@", "//***@"))
end

local function new_ctx(opts)
  return {
    opts = opts, getenv = opts.getenv or os.getenv or function() return nil end,
    errors = {}, ignored = {}, changes = {}, secrets = {},
    sinks = {}, rules = {}, names = {}, requires = {},
  }
end

local function fail(ctx, msg) ctx.errors[#ctx.errors + 1] = msg end

-- A name for the next sink of a kind: "dingtalk", "dingtalk-2", ...
local function sink_name(ctx, kind)
  ctx.names[kind] = (ctx.names[kind] or 0) + 1
  local n = ctx.names[kind]
  return n == 1 and kind or (kind .. "-" .. n)
end

-- A query value as Lua parts: where it came whole from one ${VAR} whose
-- value holds no URL punctuation, it stays `env "VAR"`; a secret is moved
-- to `secret "name"`; anything else is written as it is.
local function value_parts(ctx, s, used, secret_name)
  for _, u in ipairs(used or {}) do
    if u.value ~= "" and s == u.value and not u.value:find("[/?&=#%%+:@;%s]") then
      return { { env = u.name } }
    end
  end
  if secret_name then
    ctx.secrets[secret_name] = s
    return { { secret = secret_name } }
  end
  return { { lit = s } }
end

-- An option kube-eventer does not read is ignored by kube-eventer, so
-- herald ignores it too (a drop-in must start where kube-eventer did),
-- and says so once, naming it and what the sink reads (a typo shows).
local function check_known(ctx, flag, u, known)
  for _, k in ipairs(u.keys) do
    if not known[k] then
      local names = {}
      for n in pairs(known) do names[#names + 1] = n end
      table.sort(names)
      ctx.ignored[#ctx.ignored + 1] = ("--sink=%s: %q is not an option kube-eventer reads, so it had no effect there either (it reads: %s)")
        :format(flag, k, table.concat(names, ", "))
    end
  end
end

local function first(u, k) return u.query[k] and u.query[k][1] end

local function bool_opt(ctx, flag, u, k)
  local s = first(u, k)
  if s == nil then return nil end
  local b = parse_bool(s)
  if b == nil then fail(ctx, ("--sink=%s: %s=%q is not a boolean (true, false, 1, 0, t, f)"):format(flag, k, s)) end
  return b
end

local function int_opt(ctx, flag, u, k)
  local s = first(u, k)
  if s == nil then return nil end
  local n = parse_int(s)
  if n == nil then fail(ctx, ("--sink=%s: %s=%q is not a whole number"):format(flag, k, s)) end
  return n
end

-- kube-eventer's level scores: Warning 2, Normal 1, anything else 0; an
-- alert goes out when the event type's score reaches the sink's.
local function level_score(s)
  if s == "Warning" then return 2 end
  if s == "Normal" then return 1 end
  return 0
end

local function types_for_score(score)
  if score >= 2 then return { "Warning" } end
  if score == 1 then return { "Normal", "Warning" } end
  return nil    -- every event, whatever its type
end

-- An exact-match matcher value: herald's values are globs, so a value
-- that holds glob or regex characters is compared by a function instead.
local function exact_lua(list)
  for _, x in ipairs(list) do
    if x:find("[^%w%-%._/]") or x == "" then
      local set = {}
      for i, y in ipairs(list) do set[i] = ("[%s] = true"):format(q(y)) end
      return ("(function(v) return ({ %s })[v] == true end)"):format(table.concat(set, ", "))
    end
  end
  return #list == 1 and q(list[1]) or list_lua(list)
end

-- sample: an event the rule must route (written as a rule example, so
-- `herald check` proves the translation): { type, ns, kind, reason,
-- normal_misses = a Normal event must not reach the sink }.
local function add_rule(ctx, name, comment, when, sample)
  ctx.rules[#ctx.rules + 1] = { name = name, comment = comment, when = when, sample = sample or {} }
end

-- The sample for kube-eventer's level/namespaces/kinds filters.
local function sample_for(types, ns, kinds)
  local only_warning = types and #types == 1
  return { type = only_warning and "Warning" or "Normal", ns = ns and ns[1], kind = kinds and kinds[1],
           normal_misses = only_warning }
end

---------------------------------------------------------------- sinks

local SINKS = {}

-- The route of a dingtalk or wechat sink, as kube-eventer filters them:
-- level by score (default Warning), namespaces on the Event's own
-- namespace, kinds on the involved object's; exact matches; empty: none.
local function robot_route(ctx, name, u)
  local when, notes = {}, {}
  local level = first(u, "level")
  local types = types_for_score(level and level_score(level) or 2)
  if types then when[#when + 1] = "type = " .. (#types == 1 and q(types[1]) or list_lua(types)) end
  if level and level_score(level) == 0 then
    notes[#notes + 1] = ("level=%s scores 0 in kube-eventer (only Warning and Normal score), so every event alerts"):format(level)
  end
  local ns = values(u.query.namespaces)
  if ns then when[#when + 1] = '["metadata.namespace"] = ' .. exact_lua(ns) end
  local kinds = values(u.query.kinds)
  if kinds then when[#when + 1] = "kind = " .. exact_lua(kinds) end
  add_rule(ctx, name, notes, when, sample_for(types, ns, kinds))
end

function SINKS.dingtalk(ctx, flag, u, used)
  local known = { access_token = true, level = true, sign = true, label = true, msg_type = true,
    cluster_id = true, region = true, namespaces = true, kinds = true, at_mobiles = true }
  check_known(ctx, flag, u, known)
  local token = first(u, "access_token")
  if not token then
    fail(ctx, "--sink=dingtalk: access_token is required (kube-eventer: \"you must provide dingtalk bot access_token\")")
    return
  end
  local name = sink_name(ctx, "dingtalk")
  local lines = {}
  if u.scheme ~= "https" then
    ctx.changes[#ctx.changes + 1] = ("%s: kube-eventer always posts to https://%s%s whatever the URL's scheme; so does herald")
      :format(name, u.host, u.path)
  end
  local webhook = { { lit = "https://" .. u.host .. u.path .. "?access_token=" } }
  for _, p in ipairs(value_parts(ctx, token, used, name .. "-access-token")) do webhook[#webhook + 1] = p end
  lines[#lines + 1] = "  webhook = " .. value_lua(webhook) .. ","
  local sign = first(u, "sign")
  if sign and sign ~= "" then
    lines[#lines + 1] = "  sign    = " .. value_lua(value_parts(ctx, sign, used, name .. "-sign")) .. ",   -- signed afresh for every request"
  end
  local msg_type = first(u, "msg_type") or "text"
  local fmt = msg_type == "markdown" and "markdown" or "text"
  if msg_type ~= "markdown" and msg_type ~= "text" then
    ctx.changes[#ctx.changes + 1] = ("%s: msg_type=%s is sent as text, as kube-eventer does"):format(name, msg_type)
  end
  lines[#lines + 1] = ("  format  = %s,"):format(q(fmt))
  lines[#lines + 1] = "  style   = \"kube-eventer\",   -- kube-eventer's layout: labels, Level, Kind, Namespace, Name, Reason, Timestamp, Message"
  local labels = u.query.label
  if labels and #labels > 0 then lines[#lines + 1] = "  labels  = " .. list_lua(labels) .. "," end
  local mobiles = values(u.query.at_mobiles)
  if mobiles then lines[#lines + 1] = "  mention = { mobiles = " .. list_lua(mobiles) .. " }," end
  if first(u, "cluster_id") or first(u, "region") then
    ctx.changes[#ctx.changes + 1] = ("%s: cluster_id and region only made Alibaba Cloud console links in markdown; herald leaves the links out")
      :format(name)
  end
  ctx.sinks[#ctx.sinks + 1] = { name = name, type = "dingtalk", flag = flag, raw = u.raw, lines = lines }
  robot_route(ctx, name, u)
end

function SINKS.wechat(ctx, flag, u, used)
  local known = { corp_id = true, corp_secret = true, agent_id = true, to_user = true, level = true,
    label = true, namespaces = true, kinds = true }
  check_known(ctx, flag, u, known)
  for _, k in ipairs({ "corp_id", "corp_secret", "agent_id" }) do
    if not first(u, k) then fail(ctx, ("--sink=wechat: %s is required"):format(k)) end
  end
  local agent = first(u, "agent_id")
  if agent and not parse_int(agent) then fail(ctx, ("--sink=wechat: agent_id=%q is not a number"):format(agent)) end
  if not (first(u, "corp_id") and first(u, "corp_secret") and agent and parse_int(agent)) then return end
  local name = sink_name(ctx, "wechat")
  local lines = {
    "  corp_id     = " .. value_lua(value_parts(ctx, first(u, "corp_id"), used)) .. ",",
    "  corp_secret = " .. value_lua(value_parts(ctx, first(u, "corp_secret"), used, name .. "-corp-secret")) .. ",",
    ("  agent_id    = %d,"):format(parse_int(agent)),
  }
  local to = first(u, "to_user")
  local users = (to and to ~= "") and values({ to }) or { "@all" }
  lines[#lines + 1] = "  to_user     = " .. list_lua(users) .. ","
  lines[#lines + 1] = "  style       = \"kube-eventer\","
  local labels = u.query.label
  if labels and #labels > 0 then lines[#lines + 1] = "  labels      = " .. list_lua(labels) .. "," end
  if #users > 1 then
    ctx.changes[#ctx.changes + 1] = ("%s: one message to all of to_user (WeCom's touser a|b), not one per user"):format(name)
  end
  ctx.sinks[#ctx.sinks + 1] = { name = name, type = "wechat", flag = flag, raw = u.raw, lines = lines }
  robot_route(ctx, name, u)
end

function SINKS.elasticsearch(ctx, flag, u, used)
  local known = { ver = true, index = true, cluster_name = true, use_namespace = true, nodes = true,
    esUserName = true, esUserSecret = true, maxRetries = true, healthCheck = true,
    startupHealthcheckTimeout = true, sniff = true, bulkWorkers = true, pipeline = true, sigv4 = true }
  check_known(ctx, flag, u, known)
  local name = sink_name(ctx, "elasticsearch")
  local ver = first(u, "ver")
  if ver then
    local n = parse_int(ver)
    if not n then fail(ctx, ("--sink=elasticsearch: ver=%q is not a whole number"):format(ver))
    elseif n < 5 or n > 8 then
      fail(ctx, ("--sink=elasticsearch: ver=%d: herald writes to Elasticsearch 5 to 9 and OpenSearch; ver 2 is not supported"):format(n))
    end
  end
  if u.query.sigv4 then
    fail(ctx, "--sink=elasticsearch: sigv4 (AWS request signing) is not supported by herald; use a user and password or an API key")
  end
  local retries = int_opt(ctx, flag, u, "maxRetries")
  bool_opt(ctx, flag, u, "healthCheck")
  bool_opt(ctx, flag, u, "sniff")
  local workers = int_opt(ctx, flag, u, "bulkWorkers")
  local startup = first(u, "startupHealthcheckTimeout")
  if startup and not parse_duration(startup .. "s") then
    fail(ctx, ("--sink=elasticsearch: startupHealthcheckTimeout=%q is not a number of seconds"):format(startup))
  end
  local urls = u.query.nodes
  if not urls then
    if (u.scheme or "") == "" or u.host == "" then
      fail(ctx, "--sink=elasticsearch: no node: give http(s)://host:port or nodes=")
      return
    end
    urls = { u.scheme .. "://" .. u.host }
  end
  local index = first(u, "index") or "heapster"
  local cluster = first(u, "cluster_name") or "default"
  local lines = {}
  local url_parts = {}
  for i, x in ipairs(urls) do url_parts[i] = value_lua(value_parts(ctx, x, used)) end
  lines[#lines + 1] = "  url   = { " .. table.concat(url_parts, ", ") .. " },"
  local idx = index .. "-%Y.%m.%d"
  if u.query.use_namespace then
    idx = index .. "-{namespace}-%Y.%m.%d"
    ctx.changes[#ctx.changes + 1] = ("%s: use_namespace: an event with no namespace goes to %s-none-<date>, not %s-<date>")
      :format(name, index, index)
  end
  lines[#lines + 1] = ("  index = %s,   -- kube-eventer's <index>-YYYY.MM.DD, from the event's last time (UTC)"):format(q(idx))
  lines[#lines + 1] = "  shape = \"kube-eventer\",   -- Count, Metadata, InvolvedObject, Source, Message, Reason, Type, EventTags"
  lines[#lines + 1] = ("  cluster_name = %s,   -- EventTags.cluster_name"):format(q(cluster))
  lines[#lines + 1] = "  type_name = \"events\",   -- _type, sent only to Elasticsearch 5 and 6, as kube-eventer names it"
  lines[#lines + 1] = ("  template_name = %s,   -- the index template herald installs: herald-<this>"):format(q(index))
  lines[#lines + 1] = ("  alias = %s,   -- the alias kube-eventer gave each index"):format(q(index .. "-events"))
  local user, pass = first(u, "esUserName"), first(u, "esUserSecret")
  if user and pass then
    lines[#lines + 1] = ("  auth  = { user = %s, password = %s },"):format(
      value_lua(value_parts(ctx, user, used)), value_lua(value_parts(ctx, pass, used, name .. "-password")))
  elseif user or pass then
    ctx.ignored[#ctx.ignored + 1] = ("--sink=elasticsearch: %s without %s: kube-eventer then connects without a user, and so does herald")
      :format(user and "esUserName" or "esUserSecret", user and "esUserSecret" or "esUserName")
  end
  local pipeline = first(u, "pipeline")
  if pipeline and pipeline ~= "" then lines[#lines + 1] = ("  pipeline = %s,"):format(q(pipeline)) end
  if workers then
    local c = math.max(1, math.min(16, workers))
    lines[#lines + 1] = ("  concurrency = %d,   -- bulkWorkers=%d"):format(c, workers)
  end
  if retries then
    ctx.changes[#ctx.changes + 1] = ("%s: maxRetries=%d: herald retries a failed bulk request until it is stored (backoff up to 30 s), it never gives events up"):format(name, retries)
  end
  for _, k in ipairs({ "healthCheck", "sniff", "startupHealthcheckTimeout" }) do
    if u.query[k] then
      ctx.ignored[#ctx.ignored + 1] = ("--sink=elasticsearch: %s: herald asks GET / first and tries the nodes in turn; it does not sniff"):format(k)
    end
  end
  if ver then
    ctx.changes[#ctx.changes + 1] = ("%s: ver=%s is not trusted: herald asks the server its version (GET /) and sends _type only to Elasticsearch 5 and 6"):format(name, ver)
  end
  ctx.sinks[#ctx.sinks + 1] = { name = name, type = "elasticsearch", flag = flag, raw = u.raw, lines = lines }
  add_rule(ctx, name, {}, {})
  ctx.cluster_names[#ctx.cluster_names + 1] = cluster
end

function SINKS.webhook(ctx, flag, u, used)
  local known = { method = true, header = true, level = true, namespaces = true, kinds = true, reason = true,
    custom_body_configmap = true, custom_body_configmap_namespace = true }
  -- kube-eventer requests the whole URL: other parameters are the
  -- endpoint's own, and go to it.
  for _, k in ipairs(u.keys) do
    if not known[k] then
      ctx.ignored[#ctx.ignored + 1] = ("--sink=webhook: %q is not a webhook option; it stays in the URL the webhook is sent to, as with kube-eventer"):format(k)
    end
  end
  if u.host == "" then
    fail(ctx, "--sink=webhook: the URL has no host")
    return
  end
  local name = sink_name(ctx, "webhook")
  local lines = {}
  -- kube-eventer requests the whole URL, its options included.
  local secret_url = false
  for _, k in ipairs(u.keys) do if SECRET_KEY[k:lower()] then secret_url = true end end
  for _, h in ipairs(u.query.header or {}) do if secret_header(h:match("^[^=]*")) then secret_url = true end end
  if u.userinfo then secret_url = true end
  lines[#lines + 1] = "  url     = " .. value_lua(value_parts(ctx, u.raw, used, secret_url and (name .. "-url") or nil))
    .. ",   -- the whole URL, options included, as kube-eventer requests it"
  local method = first(u, "method") or "GET"
  lines[#lines + 1] = ("  method  = %s,"):format(q(method))
  if not method:match("^[A-Z]+$") then fail(ctx, ("--sink=webhook: method=%q is not an HTTP method"):format(method)) end
  local headers = {}
  for _, h in ipairs(u.query.header or {}) do
    local parts = {}
    for x in (h .. "="):gmatch("([^=]*)=") do parts[#parts + 1] = x end
    if #parts ~= 2 then
      ctx.ignored[#ctx.ignored + 1] = ("--sink=webhook: header %q: kube-eventer drops a header that is not exactly key=value (a value holding '='); so does herald")
        :format((h:match("^[^=]*")))
    else
      local secret = secret_header(parts[1]) and (name .. "-header-" .. parts[1]:lower():gsub("[^%w]", "-")) or nil
      headers[#headers + 1] = ("[%s] = %s"):format(q(parts[1]), value_lua(value_parts(ctx, parts[2], used, secret)))
    end
  end
  if #headers > 0 then lines[#lines + 1] = "  headers = { " .. table.concat(headers, ", ") .. " }," end
  local text = format.DEFAULT_BODY
  local cm = first(u, "custom_body_configmap")
  if cm then
    local ns = first(u, "custom_body_configmap_namespace") or "default"
    local key = ns .. "/" .. cm
    text = (ctx.opts.configmaps or {})[key]
    if not text then
      fail(ctx, ("--sink=webhook: custom_body_configmap=%s (namespace %s): herald does not read ConfigMaps from the cluster; give the ConfigMap's `content` to herald migrate"):format(cm, ns))
      return
    end
  end
  local _, err = format.parse_template(text)
  if err then
    fail(ctx, ("--sink=webhook: custom_body_configmap %s: %s"):format(cm or "(default)", err))
    return
  end
  ctx.requires.format = true
  local long = "[==[" .. text .. "]==]"
  if text:find("]==]", 1, true) then long = q(text) end
  ctx.bodies = ctx.bodies or {}
  local var = name:gsub("-", "_") .. "_body"
  ctx.bodies[#ctx.bodies + 1] = ("local %s = ke.template(%s)"):format(var, long)
  lines[#lines + 1] = ("  body    = function(g) return %s(g.event) end,   -- %s"):format(
    var, cm and ("ConfigMap " .. cm .. "'s template") or "kube-eventer's default body")
  lines[#lines + 1] = "  content_type = \"application/json\","
  ctx.sinks[#ctx.sinks + 1] = { name = name, type = "webhook", flag = flag, raw = u.raw, lines = lines }
  local when, notes = {}, {}
  local level = first(u, "level")
  if level then
    when[#when + 1] = "type = " .. (level == "Normal" and list_lua({ "Normal", "Warning" }) or q("Warning"))
    if level ~= "Normal" and level ~= "Warning" then
      notes[#notes + 1] = ("level=%s means Warning for kube-eventer's webhook"):format(level)
    end
  else
    notes[#notes + 1] = "no level: kube-eventer's webhook gets every event, Normal ones too"
  end
  local never = false
  for _, k in ipairs({ "namespaces", "kinds", "reason" }) do
    if u.query[k] and not values(u.query[k]) then
      never = true
      notes[#notes + 1] = ("%s= is empty: kube-eventer's webhook then matches no event at all"):format(k)
    end
  end
  local ns = values(u.query.namespaces)
  if ns then when[#when + 1] = '["involvedObject.namespace"] = ' .. exact_lua(ns) end
  local kinds = values(u.query.kinds)
  if kinds then when[#when + 1] = "kind = " .. exact_lua(kinds) end
  local reasons = values(u.query.reason)
  local reason_sample
  if reasons then
    local globs = {}
    for _, re in ipairs(reasons) do
      local g, gerr = format.regex_globs(re)
      if not g then fail(ctx, "--sink=webhook: " .. gerr) else for _, x in ipairs(g) do globs[#globs + 1] = x end end
    end
    when[#when + 1] = "reason = " .. (#globs == 1 and q(globs[1] or "") or list_lua(globs))
    reason_sample = globs[1] and globs[1]:gsub("%*", "")
    if reason_sample == "" then reason_sample = nil end
    notes[#notes + 1] = ("reason=%s: kube-eventer's regexes, as herald globs"):format(first(u, "reason"))
  end
  local sample = {
    type = (level and level ~= "Normal") and "Warning" or "Normal",
    normal_misses = level ~= nil and level ~= "Normal",
    ns = ns and ns[1], kind = kinds and kinds[1], reason = reason_sample,
  }
  if never then
    notes[#notes + 1] = "so no route is written for this sink"
    add_rule(ctx, name, notes, nil, sample)
  else
    add_rule(ctx, name, notes, when, sample)
  end
  ctx.changes[#ctx.changes + 1] = ("%s: one request per alert group (the newest event rendered), not one per event; 429 and 5xx are retried"):format(name)
end

function SINKS.kafka(ctx, flag, u)
  local has = ctx.opts.has_type or function(t) return (pcall(require, "sinks." .. t)) end
  if not has("kafka") then
    fail(ctx, "--sink=kafka: herald has no kafka sink type yet; remove this sink or write events to Kafka another way")
    return
  end
  local known = { brokers = true, eventstopic = true, compression = true, user = true, password = true,
    cacert = true, cert = true, key = true, insecuressl = true }
  check_known(ctx, flag, u, known)
  local name = sink_name(ctx, "kafka")
  local lines = {}
  local brokers = u.query.brokers or {}
  if #brokers == 0 then fail(ctx, "--sink=kafka: brokers is required") return end
  lines[#lines + 1] = "  brokers = " .. list_lua(brokers) .. ","
  lines[#lines + 1] = ("  topic   = %s,"):format(q(first(u, "eventstopic") or "heapster-events"))
  lines[#lines + 1] = '  shape   = "kube-eventer",'
  -- kube-eventer's names -> the kafka sink type's (ca_file, cert_file,
  -- key_file, insecure; user and password are SASL PLAIN, as sarama's).
  local compression = first(u, "compression")
  if compression then
    local known_c = { none = true, gzip = true, snappy = true, lz4 = true, zstd = true }
    if not known_c[compression] then
      fail(ctx, ("--sink=kafka: compression=%q: use none, gzip, snappy, lz4 or zstd"):format(compression))
      return
    end
    lines[#lines + 1] = ("  compression = %s,"):format(q(compression))
  end
  for _, m in ipairs({ { "cacert", "ca_file" }, { "cert", "cert_file" }, { "key", "key_file" } }) do
    if first(u, m[1]) then lines[#lines + 1] = ("  %s = %s,"):format(m[2], q(first(u, m[1]))) end
  end
  if first(u, "insecuressl") then
    local b = parse_bool(first(u, "insecuressl"))
    if b == nil then fail(ctx, ("--sink=kafka: insecuressl=%q is not a boolean"):format(first(u, "insecuressl"))) return end
    lines[#lines + 1] = ("  insecure = %s,"):format(b and "true" or "false")
    if b and not (first(u, "cacert") or first(u, "cert")) then lines[#lines + 1] = "  tls = true," end
  end
  if first(u, "user") or first(u, "password") then
    local pw = '""'
    if first(u, "password") then
      ctx.secrets[name .. "-password"] = first(u, "password")
      pw = ("secret %s"):format(q(name .. "-password"))
    end
    lines[#lines + 1] = ('  sasl = { mechanism = "PLAIN", user = %s, password = %s },'):format(q(first(u, "user") or ""), pw)
  end
  ctx.sinks[#ctx.sinks + 1] = { name = name, type = "kafka", flag = flag, raw = u.raw, lines = lines }
  add_rule(ctx, name, {}, {})
end

local REFUSED = { influxdb = true, mysql = true, sls = true, mongo = true, honeycomb = true, riemann = true,
  eventbridge = true, log = true }

---------------------------------------------------------------- source

local function translate_source(ctx, uri)
  local key, rest = split_uri("source", uri, ctx.errors)
  if not key then return end
  if key ~= "kubernetes" then
    fail(ctx, ("--source=%s: herald reads only the kubernetes source"):format(key))
    return
  end
  local expanded, used = expand_env(rest, ctx.getenv)
  if not expanded then fail(ctx, "--source: " .. used) return end
  local u = parse_url(expanded)
  local known = { inClusterConfig = true, auth = true, insecure = true, useServiceAccount = true,
    localKubeConfig = true, kubeletPort = true, kubeletHttps = true }
  for _, k in ipairs(u.keys) do
    if not known[k] then
      ctx.ignored[#ctx.ignored + 1] = ("--source=kubernetes: %q is not an option kube-eventer reads, so it had no effect there either (it reads: auth, inClusterConfig, insecure, localKubeConfig, useServiceAccount)"):format(k)
    end
  end
  local src = { in_cluster = true, insecure = false, use_service_account = false }
  for _, k in ipairs({ "inClusterConfig", "insecure", "useServiceAccount" }) do
    local s = first(u, k)
    if s ~= nil and parse_bool(s) == nil then
      fail(ctx, ("--source=kubernetes: %s=%q is not a boolean"):format(k, s))
    end
  end
  if first(u, "inClusterConfig") then src.in_cluster = parse_bool(first(u, "inClusterConfig")) ~= false end
  if first(u, "insecure") then src.insecure = parse_bool(first(u, "insecure")) == true end
  if first(u, "useServiceAccount") then src.use_service_account = parse_bool(first(u, "useServiceAccount")) == true end
  if (u.scheme or "") ~= "" and u.host ~= "" then src.server = u.scheme .. "://" .. u.host end
  if not src.in_cluster then
    if first(u, "localKubeConfig") then
      src.kubeconfig = first(u, "localKubeConfig")
    elseif first(u, "auth") and first(u, "auth") ~= "" then
      src.kubeconfig = first(u, "auth")
    elseif not src.server then
      fail(ctx, "--source=kubernetes: with inClusterConfig=false, give the server URL or auth=<kubeconfig path>")
    end
  elseif first(u, "auth") then
    ctx.ignored[#ctx.ignored + 1] = "--source: auth= is read only with inClusterConfig=false (kube-eventer's rule); ignored"
  end
  if u.query.kubeletPort or u.query.kubeletHttps then
    ctx.ignored[#ctx.ignored + 1] = "--source: kubeletPort/kubeletHttps: herald reads events from the apiserver only"
  end
  if src.in_cluster and src.server then
    ctx.changes[#ctx.changes + 1] = ("source: in-cluster, at %s as kube-eventer does; the service account's token is re-read as it rotates")
      :format(src.server)
  end
  ctx.source = src
end

---------------------------------------------------------------- files

local HEADER = [[
-- Translated from kube-eventer's command line by herald.
--   %s
-- Secrets from the URLs are read with `secret "name"` (files under
-- --secrets-dir) or `env "VAR"` where the URL had ${VAR}.
]]

local function comment_list(out, title, list)
  if #list == 0 then return end
  out[#out + 1] = "--\n-- " .. title .. "\n"
  for _, x in ipairs(list) do out[#out + 1] = "--   - " .. x .. "\n" end
end

local function sinks_file(ctx, argv_text)
  local out = { HEADER:format(argv_text) }
  local names = {}
  for n in pairs(ctx.secrets) do names[#names + 1] = n end
  table.sort(names)
  comment_list(out, "Secret files this configuration reads (one value each):", names)
  comment_list(out, "What changed in meaning:", ctx.changes)
  comment_list(out, "Ignored (they mean nothing for herald):", ctx.ignored)
  out[#out + 1] = "\n"
  if ctx.requires.format then
    out[#out + 1] = 'local ke = require "herald.kubeeventer_format"\n'
    for _, b in ipairs(ctx.bodies or {}) do out[#out + 1] = b .. "\n" end
  end
  for _, s in ipairs(ctx.sinks) do
    out[#out + 1] = ("\n-- --sink=%s:%s\n"):format(s.flag, M.mask(s.shown or ""))
    out[#out + 1] = ("sink %s {\n  type    = %s,\n%s\n}\n"):format(q(s.name), q(s.type), table.concat(s.lines, "\n"))
  end
  return table.concat(out)
end

local function rules_file(ctx)
  local out = { "-- Routes as kube-eventer's sink filters decide (see sinks.lua for the flags).\n" }
  for _, r in ipairs(ctx.rules) do
    out[#out + 1] = "\n"
    for _, n in ipairs(r.comment) do out[#out + 1] = "-- " .. n .. "\n" end
    if r.when == nil then
      out[#out + 1] = ("-- route { to = %s }\n"):format(q(r.name))
    elseif #r.when == 0 then
      out[#out + 1] = ("route { to = %s }\n"):format(q(r.name))
    else
      out[#out + 1] = ("route { to = %s, when = { %s } }\n"):format(q(r.name), table.concat(r.when, ", "))
    end
    local x = r.sample
    local function ev(type_)
      local ns, kind = x.ns or "default", x.kind or "Pod"
      return ("{ type = %s, reason = %s, message = \"example\",\n"
        .. "            metadata = { name = \"example.1\", namespace = %s },\n"
        .. "            involvedObject = { kind = %s, name = \"example\", namespace = %s } }")
        :format(q(type_), q(x.reason or "BackOff"), q(ns), q(kind), q(ns))
    end
    out[#out + 1] = ("example {\n  name = %s,\n  event = %s,\n  %s = { %s },\n}\n"):format(
      q(("%s: a %s event %s it"):format(r.name, x.type or "Warning", r.when and "reaches" or "misses")),
      ev(x.type or "Warning"), r.when and "reaches" or "misses", q(r.name))
    if x.normal_misses and r.when then
      out[#out + 1] = ("example {\n  name = %s,\n  event = %s,\n  misses = { %s },\n}\n"):format(
        q(r.name .. ": a Normal event misses it"), ev("Normal"), q(r.name))
    end
  end
  if #ctx.rules == 0 then out[#out + 1] = "-- no --sink: kube-eventer sends nothing anywhere\n" end
  return table.concat(out)
end

---------------------------------------------------------------- entry

-- kube-eventer's flags (its own and klog's), name -> "string" | "bool" |
-- "int" | "duration": for the command line to tell them from herald's
-- (a "bool" takes no separate value; the others may).
function M.flags()
  local t = {}
  for k, v in pairs(FLAGS) do t[k] = v end
  return t
end

local IGNORED_FLAG = {
  frequency = "herald delivers each event as it arrives, not every --frequency",
  max_procs = "herald runs one thread",
  ["event-metrics"] = "herald always serves /metrics on its listen address",
}

function M.translate(argv, opts)
  opts = opts or {}
  local ctx = new_ctx(opts)
  ctx.cluster_names = {}
  local flags, rest = parse_flags(argv, ctx.errors)
  if #rest > 0 then fail(ctx, ("unexpected argument %q: kube-eventer takes only flags"):format(M.mask(rest[1]))) end
  local r = { ignored = ctx.ignored, changes = ctx.changes }
  local sources, sinks = {}, {}
  local ip, port = "0.0.0.0", 8084
  for _, f in ipairs(flags) do
    local n, val = f.name, f.value
    if n == "source" then sources[#sources + 1] = val
    elseif n == "sink" then sinks[#sinks + 1] = val
    elseif n == "version" then r.version = parse_bool(val)
    elseif n == "healthz-ip" then ip = val
    elseif n == "healthz-port" then
      port = parse_int(val)
      if port < 0 or port > 65534 then fail(ctx, ("invalid port supplied for healthz %d"):format(port)) end
    elseif n == "frequency" then
      local d = parse_duration(val)
      if d < 5 or d > 180 then fail(ctx, ("--frequency=%s: kube-eventer requires 5s to 3m"):format(val)) end
      ctx.ignored[#ctx.ignored + 1] = "--frequency: " .. IGNORED_FLAG.frequency
    elseif IGNORED_FLAG[n] then
      ctx.ignored[#ctx.ignored + 1] = ("--%s: %s"):format(n, IGNORED_FLAG[n])
    elseif KLOG[n] then
      ctx.ignored[#ctx.ignored + 1] = ("--%s: a klog flag; herald logs with --log-level and --log-format"):format(n)
    end
  end
  if #sources ~= 1 then
    fail(ctx, ("wrong number of sources specified: %d (kube-eventer takes exactly one --source)"):format(#sources))
  else
    translate_source(ctx, sources[1])
  end
  for _, s in ipairs(sinks) do
    local key, rest_url = split_uri("sink", s, ctx.errors)
    if key then
      local expanded, used = expand_env(rest_url, ctx.getenv)
      if not expanded then
        fail(ctx, ("--sink=%s: %s"):format(key, used))
      elseif SINKS[key] then
        local before = #ctx.sinks
        SINKS[key](ctx, key, parse_url(expanded), used)
        -- The comment above the sink shows the flag as written (masked),
        -- not as expanded: a variable's value stays out of the file.
        for i = before + 1, #ctx.sinks do ctx.sinks[i].shown = rest_url end
      elseif REFUSED[key] then
        fail(ctx, ("--sink=%s: herald has no %s sink; remove it, or write a sink type for it (README: Writing a sink type)"):format(key, key))
      else
        fail(ctx, ("--sink=%s: kube-eventer has no such sink"):format(key))
      end
    end
  end
  if #ctx.errors > 0 then return nil, table.concat(ctx.errors, "\n") end
  r.secrets = ctx.secrets
  r.source = ctx.source
  r.listen = ip .. ":" .. port
  r.cluster_name = ctx.cluster_names[1]
  for _, c in ipairs(ctx.cluster_names) do
    if c ~= r.cluster_name then
      ctx.changes[#ctx.changes + 1] = ("elasticsearch sinks name different clusters (%s, %s): each document carries its sink's cluster_name; ev.cluster is %s")
        :format(r.cluster_name, c, r.cluster_name)
      break
    end
  end
  ctx.changes[#ctx.changes + 1] = "herald lists again after a reconnect or restart (with --state-dir), so no event of the gap is lost, and none is sent twice"
  for _, s in ipairs(ctx.sinks) do
    if s.type == "dingtalk" or s.type == "wechat" then
      ctx.changes[#ctx.changes + 1] = ("%s: alerts are grouped (cluster, namespace, object, reason; first message after 10 s, then at most every 5 m per group) and kept under the robot's 20 messages a minute; nothing is dropped, a digest carries the overflow")
        :format(s.name)
    end
  end
  local shown = {}
  for i, a in ipairs(argv) do shown[i] = M.mask(a) end
  r.files = {
    ["sinks.lua"] = sinks_file(ctx, table.concat(shown, " ")),
    ["rules/50-kube-eventer.lua"] = rules_file(ctx),
  }
  return r
end

-- What `herald migrate -- <kube-eventer args>` prints: each file under a
-- "==> path <==" line, then the secret files to create (names only), what
-- changed in meaning and what is ignored, as comments. Returns the text,
-- or nil and the errors (one per line). Never contains a secret value.
function M.migrate(argv, opts)
  local r, err = M.translate(argv, opts)
  if not r then return nil, err end
  local out = {}
  for _, path in ipairs({ "sinks.lua", "rules/50-kube-eventer.lua" }) do
    out[#out + 1] = ("==> %s <==\n%s"):format(path, r.files[path])
  end
  local names = {}
  for n in pairs(r.secrets) do names[#names + 1] = n end
  table.sort(names)
  if #names > 0 then
    out[#out + 1] = "==> secrets <==\n-- Create these files under --secrets-dir (a Secret mounted there), one value each,\n"
      .. "-- with the values the flags carried:\n"
    for _, n in ipairs(names) do out[#out + 1] = "--   " .. n .. "\n" end
  end
  return table.concat(out)
end

return M
