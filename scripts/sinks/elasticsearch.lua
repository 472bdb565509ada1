-- sinks.elasticsearch: every routed event as a document in
-- Elasticsearch (6, 7, 8, 9) or OpenSearch (1, 2), through the bulk API.
--
--   sink "archive" {
--     type  = "elasticsearch",
--     url   = env "ES_URL",                      -- or { "http://es-0:9200", "http://es-1:9200" }
--     index = "k8s-events-{cluster}-%Y.%m.%d",   -- the event's own last-seen time, UTC
--     auth  = { user = env "ES_USER", password = secret "es-password" },
--             -- or { api_key = secret "es-api-key" }   (id:key, or already base64)
--             -- or { bearer = secret "es-token" }
--   }
--
-- Exactly once: each event version is a `create` with _id
-- <cluster>/<uid>/<resourceVersion>; a 409 means it is already stored.
-- Failures: a request that fails (network, 429, 5xx, 401/403) is sent
-- again with backoff (honouring Retry-After); items refused for good (400:
-- a mapping conflict) are logged and written to `dead_letter` if set.
local json = require "herald.json"
local time = require "herald.time"
local base64 = require "herald.base64"
local documents = require "herald.documents"
local event = require "herald.event"
local log = require "herald.log"
local gzip = require "herald.gzip"

local M = {
  output = "http",
  options = {
    url = { kind = "strings", required = true, placeholder = "http://placeholder.invalid:9200",
      doc = "the server, or a list of nodes tried in turn" },
    index = { kind = "string", default = "k8s-events-{cluster}-%Y.%m.%d",
      doc = "the index: {cluster}, and strftime of the event's last-seen time, UTC" },
    auth = { kind = "table", doc = "{ user = ..., password = ... }, { api_key = ... } (id:key, or already base64) or { bearer = ... }" },
    version = { kind = "string", doc = "the server's version, e.g. \"8.15\", \"opensearch-2.19\" (default: ask GET /)" },
    shape = { kind = "string", default = "herald", doc = "the documents: \"herald\", or \"kube-eventer\"'s PascalCase documents" },
    document = { kind = "function", doc = "function(ev) return a table end: your own document shape" },
    pipeline = { kind = "string", doc = "an ingest pipeline for every document" },
    template = { kind = "boolean", default = true, doc = "install an index template at start" },
    replicas = { kind = "number", doc = "number_of_replicas in the template" },
    ca_file = { kind = "string", doc = "CA certificates (PEM) for https" },
    cert_file = { kind = "string", doc = "client certificate (PEM)" },
    key_file = { kind = "string", doc = "its key (PEM)" },
    insecure = { kind = "boolean", default = false, doc = "skip TLS verification (never the default)" },
    timeout = { kind = "duration", default = "30s", doc = "how long one request may take" },
    dead_letter = { kind = "string", doc = "a file for items refused for good" },
    gzip = { kind = "boolean", default = false, doc = "compress bulk bodies" },
    concurrency = { kind = "number", default = 1, doc = "bulk requests in flight at once (1 to 16)" },
    retention_days = { kind = "number", doc = "delete indices this old (ILM / ISM policy)" },
    cluster_name = { kind = "string", doc = "kube-eventer shape: EventTags.cluster_name (default: the cluster)" },
    type_name = { kind = "string", doc = "_type for Elasticsearch 5 and 6 (default: event / _doc)" },
    template_name = { kind = "string", doc = "the index template is herald-<this> (default: events)" },
    alias = { kind = "string", doc = "an alias every new index gets (kube-eventer: <index>-events)" },
  },
  defaults = {
    batch = { events = 1000, bytes = 5242880, wait_ms = 1000 },
    queue = { events = 20000, bytes = 33554432 },
  },
}

local SHAPES = { herald = documents.herald, ["kube-eventer"] = documents.kube_eventer }

local function index_safe(s)
  return (tostring(s or "none"):lower():gsub("[^%w%._%-]", "-"))
end

function M.init(conf)
  for i, u in ipairs(conf.url) do
    if not u:match("^https?://") then return ("url %q must start with http:// or https://"):format(u) end
    conf.url[i] = u:gsub("/+$", "")
  end
  if not SHAPES[conf.shape] then return "shape must be \"herald\" or \"kube-eventer\"" end
  if conf.index == "" then return "index must not be empty" end
  if (conf.cert_file == nil) ~= (conf.key_file == nil) then return "cert_file and key_file go together" end
  if math.type(conf.concurrency) ~= "integer" or conf.concurrency < 1 or conf.concurrency > 16 then
    return "concurrency must be a whole number from 1 to 16"
  end
  if conf.auth then
    local a = conf.auth
    -- What goes on the wire is masked in logs too, encoded as it is sent:
    -- a server that echoes the header back must not get it logged.
    if a.user then
      local basic = base64.encode(a.user .. ":" .. (a.password or ""))
      log.redact(basic)
      conf.auth_header = "Authorization: Basic " .. basic
    elseif a.api_key then
      local k = a.api_key:find(":", 1, true) and base64.encode(a.api_key) or a.api_key
      log.redact(a.api_key)
      log.redact(k)
      conf.auth_header = "Authorization: ApiKey " .. k
    elseif a.bearer then
      log.redact(a.bearer)
      conf.auth_header = "Authorization: Bearer " .. a.bearer
    else
      return "auth takes { user, password }, { api_key } or { bearer }"
    end
  end
  if conf.retention_days and (math.type(conf.retention_days) ~= "integer" or conf.retention_days < 1) then
    return "retention_days must be a whole number of days >= 1"
  end
  if conf.version then
    conf.server = M.parse_version(conf.version)
    if not conf.server then return ("version %q: write e.g. \"8.15\" or \"opensearch-2.19\""):format(conf.version) end
  end
end

-- "8.15.1" / "opensearch-2.19" -> { dist, major, minor }
function M.parse_version(s)
  local dist = "elasticsearch"
  if s:match("^opensearch") then dist = "opensearch"; s = s:gsub("^opensearch%-?", "") end
  local major, minor = s:match("^(%d+)%.?(%d*)")
  if not major then return nil end
  return { dist = dist, major = tonumber(major), minor = tonumber(minor) or 0 }
end

-- The event's index and id, and its document: "index\nid\ndocument".
function M.encode(ev, conf)
  -- herald's shape is written from the event's fields by C (the fast path;
  -- json.document_herald), other shapes and document functions from a table.
  local fields = event.FAST and conf.shape == "herald" and not conf.document
  local doc
  if not fields then
    doc = (conf.document or SHAPES[conf.shape])(ev)
    if type(doc) ~= "table" then return nil, "document() must return a table" end
    if conf.cluster_name and type(doc.EventTags) == "table" then doc.EventTags.cluster_name = conf.cluster_name end
  end
  local last = time.parse(ev.lastTimestamp)
  local t = last or time.parse(ev.firstTimestamp) or os.time()
  -- The index with its placeholders filled, per cluster (and namespace).
  local place = conf.index_names
  if not place or place.n > 1000 then place = { n = 0 }; conf.index_names = place end
  local ns = nil
  if conf.index:find("{namespace}", 1, true) then ns = event.namespace(ev) end
  local key = tostring(ev.cluster) .. "\0" .. tostring(ns)
  local pattern = place[key]
  if not pattern then
    pattern = conf.index:gsub("{cluster}", index_safe(ev.cluster)):gsub("{namespace}", index_safe(ns))
    place[key], place.n = pattern, place.n + 1
  end
  local name = time.format_utc(pattern, t)
  local m = type(ev.metadata) == "table" and ev.metadata or {}
  local id = ("%s/%s/%s"):format(ev.cluster, m.uid or "", m.resourceVersion or "")
  if fields then
    return json.document_herald(ev, last and time.iso_utc(last) or nil, name .. "\n" .. id .. "\n")
  end
  local body, err = json.encode(doc)
  if not body then return nil, err end
  return name .. "\n" .. id .. "\n" .. body
end

local function node(state, conf)
  state.node = state.node or 1
  return conf.url[(state.node - 1) % #conf.url + 1]
end

local function request(conf, method, url, ctype, body)
  local headers = { "Content-Type: " .. ctype, "Accept: application/json" }
  if conf.auth_header then headers[#headers + 1] = conf.auth_header end
  return { method = method, url = url, headers = headers, body = body,
           timeout = conf.timeout / 1000, ca_file = conf.ca_file, cert_file = conf.cert_file,
           key_file = conf.key_file, insecure = conf.insecure }
end

-- The index pattern a template covers: the index up to its first
-- placeholder or date, then "*".
local function pattern(index)
  local cut = index:find("[{%%]")
  return (cut and index:sub(1, cut - 1) or index) .. "*"
end

local POLICY = "herald-events"

-- A retention policy: ILM on Elasticsearch, ISM on OpenSearch.
local function policy_request(conf, state)
  local days = ("%dd"):format(conf.retention_days)
  if state.server.dist == "opensearch" then
    local body = { policy = {
      description = "herald: delete event indices after " .. days,
      default_state = "hot",
      states = {
        { name = "hot", actions = json.array({}),
          transitions = { { state_name = "delete", conditions = { min_index_age = days } } } },
        { name = "delete", actions = { { delete = {} } }, transitions = json.array({}) },
      },
      ism_template = { { index_patterns = { pattern(conf.index) }, priority = 100 } },
    } }
    return request(conf, "PUT", node(state, conf) .. "/_plugins/_ism/policies/" .. POLICY,
                   "application/json", json.encode(body))
  end
  local body = { policy = { phases = { delete = { min_age = days, actions = { delete = {} } } } } }
  return request(conf, "PUT", node(state, conf) .. "/_ilm/policy/" .. POLICY, "application/json", json.encode(body))
end

local function template_request(conf, state, sinkname)
  local s = state.server
  local mappings = documents.mappings[conf.shape == "kube-eventer" and "kube_eventer" or "herald"]
  local settings = {}
  if conf.replicas then settings.number_of_replicas = conf.replicas end
  if conf.retention_days and s.dist == "elasticsearch" and state.policy == "ok" then
    settings["index.lifecycle.name"] = POLICY
  end
  local composable = s.dist == "opensearch" or s.major > 7 or (s.major == 7 and s.minor >= 8)
  local name = "herald-" .. index_safe(conf.template_name or "events")
  local aliases = conf.alias and { [conf.alias] = {} } or nil
  local body
  if composable then
    body = { index_patterns = { pattern(conf.index) }, priority = 200,
             template = { settings = settings, mappings = mappings, aliases = aliases } }
    return request(conf, "PUT", node(state, conf) .. "/_index_template/" .. name, "application/json", json.encode(body))
  end
  body = { index_patterns = { pattern(conf.index) }, order = 200, settings = settings, aliases = aliases,
           mappings = s.major < 7 and { [conf.type_name or "_doc"] = mappings } or mappings }
  return request(conf, "PUT", node(state, conf) .. "/_template/" .. name, "application/json", json.encode(body))
end

-- What happens once, after the probe and before the first bulk request;
-- state[kind] says how it went ("ok" or "failed").
local SETUP = {
  { kind = "policy", what = "retention policy", build = policy_request,
    wanted = function(conf) return conf.retention_days ~= nil end },
  { kind = "template", what = "index template", build = template_request,
    wanted = function(conf) return conf.template end },
}

function M.request(items, conf, state)
  state.server = state.server or conf.server
  if state.step then return nil end   -- a probe or the template is on its way: wait for it
  if not state.server then
    state.step = "probe"
    local r = request(conf, "GET", node(state, conf) .. "/", "application/json")
    r.kind = "probe"
    return r
  end
  for _, step in ipairs(SETUP) do
    if step.wanted(conf) and not state[step.kind] then
      state.step = step.kind
      local r = step.build(conf, state)
      r.kind = step.kind
      return r
    end
  end
  local s = state.server
  -- _type only where the server requires one: Elasticsearch 5 and 6.
  local type_name = s.dist == "elasticsearch" and s.major < 7
    and (conf.type_name or (s.major == 6 and "_doc" or "event")) or nil
  local url = node(state, conf) .. "/_bulk?filter_path=errors,items.*.error,items.*.status"
  if conf.pipeline then url = url .. "&pipeline=" .. conf.pipeline:gsub("[^%w%-_%.]", "") end
  -- each item is "index\nid\ndocument" (M.encode): a create line and the document
  local req = request(conf, "POST", url, "application/x-ndjson", json.es_bulk(items, type_name))
  req.kind = "bulk"
  if conf.gzip then
    -- Only bulk bodies: the header on every request breaks uncompressed ones.
    req.body = gzip.compress(req.body)
    req.headers[#req.headers + 1] = "Content-Encoding: gzip"
  end
  return req
end

local function why(resp)
  local body = json.decode(resp.body or "")
  local err = type(body) == "table" and body.error
  if type(err) == "table" then return ("%s: %s"):format(tostring(err.type), tostring(err.reason)) end
  if type(err) == "string" then return err end
  return (resp.body or ""):sub(1, 200)
end

local function retry_after(resp)
  return tonumber(resp.retry_after)
end

local function failed_request(resp, conf, state)
  if resp.error or resp.status == 0 then
    if #conf.url > 1 then state.node = (state.node or 1) + 1 end   -- try the next node
    return { result = "retry", message = "cannot reach the server: " .. tostring(resp.error) }
  end
  if resp.status == 401 or resp.status == 403 then
    return { result = "retry", message = ("HTTP %d: check the sink's credentials (%s)"):format(resp.status, why(resp)) }
  end
  return { result = "retry", after = retry_after(resp),
           message = ("HTTP %d: %s"):format(resp.status, why(resp)) }
end

function M.response(resp, items, conf, state)
  local what = resp.kind
  if what ~= "bulk" then state.step = nil end
  for _, step in ipairs(SETUP) do
    if what == step.kind then
      if resp.status >= 200 and resp.status < 300 then
        state[step.kind] = "ok"
        return { result = "again" }
      end
      if resp.error or resp.status == 0 or resp.status >= 500 or resp.status == 401 or resp.status == 403 then
        return failed_request(resp, conf, state)
      end
      -- Refused (no ILM/ISM on this server, no right to templates): the
      -- events matter more; say so once and go on without it.
      log.error(("sink %s: cannot install the %s: HTTP %d %s"):format(state.name, step.what, resp.status, why(resp)))
      state[step.kind] = "failed"
      return { result = "again" }
    end
  end
  if what == "probe" then
    if resp.status ~= 200 then return failed_request(resp, conf, state) end
    local root = json.decode(resp.body)
    local v = type(root) == "table" and type(root.version) == "table" and root.version or {}
    local server = M.parse_version(tostring(v.number or ""))
    if not server then return { result = "retry", message = "GET / did not say which version this is" } end
    if v.distribution == "opensearch" then server.dist = "opensearch" end
    state.server = server
    log.info(("sink %s: %s %s at %s"):format(state.name, server.dist, tostring(v.number), node(state, conf)))
    return { result = "again" }
  end
  if resp.status == 200 then
    local r = json.decode(resp.body)
    if type(r) ~= "table" then return { result = "retry", message = "the bulk answer is not JSON" } end
    if not r.errors then return { result = "ok" } end
    local out, first = {}, nil
    for i = 1, #items do
      local item = type(r.items) == "table" and r.items[i]
      local res = type(item) == "table" and (item.create or item.index) or nil
      local status = type(res) == "table" and tonumber(res.status) or 0
      if status == 200 or status == 201 or status == 409 then
        out[i] = "ok"                     -- 409: this version is already stored
      elseif status == 429 or status >= 500 or status == 0 then
        out[i] = "retry"
        first = first or ("item status " .. status)
      else
        local e = type(res) == "table" and type(res.error) == "table" and res.error or {}
        local id = items[i]:match("^[^\n]*\n([^\n]*)")
        out[i] = ("failed: %s (HTTP %d) %s: %s"):format(id or "?", status, tostring(e.type), tostring(e.reason))
      end
    end
    return { result = "items", items = out, message = first }
  end
  if resp.status == 400 then
    local reason = "failed: the whole request was refused (HTTP 400) " .. why(resp)
    local out = {}
    for i = 1, #items do out[i] = reason end
    return { result = "items", items = out }
  end
  return failed_request(resp, conf, state)
end

return M
