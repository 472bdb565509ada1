-- herald.documents: how an Event looks when stored in a search engine.
--
-- herald (the default): clean camelCase JSON, one document per event
-- version, with `@timestamp` = last seen and no managedFields.
-- kube-eventer: kube-eventer's Elasticsearch shape (PascalCase top level,
-- EventTags), for dashboards built on it.
local time = require "herald.time"
local event = require "herald.event"

local M = {}

local v = event.value

local function pick(t, keys)
  if type(t) ~= "table" then return nil end
  local out, any = {}, false
  for _, k in ipairs(keys) do
    local x = v(t[k])
    if x ~= nil then out[k] = x; any = true end
  end
  return any and out or nil
end

-- (Written from the fields by C on the fast path: json.document_herald,
-- core/json_docs.c, which must say the same.)
function M.herald(ev)
  local last = time.parse(ev.lastTimestamp)
  return {
    ["@timestamp"] = last and time.iso_utc(last) or nil,
    cluster = ev.cluster,
    type = v(ev.type),
    reason = v(ev.reason),
    message = v(ev.message),
    count = ev.count,
    firstTimestamp = v(ev.firstTimestamp),
    lastTimestamp = v(ev.lastTimestamp),
    eventTime = v(ev.eventTime),
    action = v(ev.action),
    involvedObject = pick(ev.involvedObject, { "kind", "namespace", "name", "uid", "fieldPath", "apiVersion" }),
    source = pick(ev.source, { "component", "host" }),
    reportingComponent = v(ev.reportingComponent),
    reportingInstance = v(ev.reportingInstance),
    metadata = pick(ev.metadata, { "name", "namespace", "uid", "resourceVersion", "creationTimestamp" }),
  }
end

local function utc(ts)
  local t = time.parse(ts)
  return t and time.format_utc("%Y-%m-%dT%H:%M:%SZ", t) or nil
end

function M.kube_eventer(ev)
  local o = type(ev.involvedObject) == "table" and ev.involvedObject or {}
  local src = type(ev.source) == "table" and ev.source or {}
  local tags = {
    eventID = event.uid(ev),
    cluster_name = ev.cluster,
    hostname = v(src.host) or "",
  }
  if o.kind == "Pod" then
    tags.pod_id = v(o.uid)
    tags.pod_name = v(o.name)
  end
  return {
    Count = ev.count,
    Metadata = ev.metadata,
    InvolvedObject = o,
    Source = { component = v(src.component) or v(ev.reportingComponent), host = v(src.host) },
    FirstOccurrenceTimestamp = utc(ev.firstTimestamp),
    LastOccurrenceTimestamp = utc(ev.lastTimestamp),
    Message = v(ev.message),
    Reason = v(ev.reason),
    Type = v(ev.type),
    EventTags = tags,
  }
end

local kw = { type = "keyword" }
local date = { type = "date" }
local tk = { type = "text", fields = { keyword = { type = "keyword", ignore_above = 256 } } }

-- Index template mappings for each shape: keywords for identifiers, text
-- for the message, dates for times.
M.mappings = {
  herald = {
    properties = {
      ["@timestamp"] = date, cluster = kw, type = kw, reason = kw,
      message = { type = "text" }, count = { type = "long" },
      firstTimestamp = date, lastTimestamp = date, eventTime = date, action = kw,
      reportingComponent = kw, reportingInstance = kw,
      involvedObject = { properties = { kind = kw, namespace = kw, name = kw, uid = kw, fieldPath = kw, apiVersion = kw } },
      source = { properties = { component = kw, host = kw } },
      metadata = { properties = { name = kw, namespace = kw, uid = kw, resourceVersion = kw, creationTimestamp = date } },
    },
  },
  -- What Elasticsearch 7+ maps kube-eventer's documents to by itself
  -- (kube-eventer creates its indices without a mapping there): strings
  -- as text with a .keyword field, so dashboards that filter on
  -- Reason.keyword or EventTags.cluster_name.keyword work across old and
  -- new indices.
  kube_eventer = {
    properties = {
      Count = { type = "long" }, Message = tk, Reason = tk, Type = tk,
      FirstOccurrenceTimestamp = date, LastOccurrenceTimestamp = date,
      EventTags = { properties = { eventID = tk, cluster_name = tk, hostname = tk, pod_id = tk, pod_name = tk } },
      InvolvedObject = { properties = { kind = tk, namespace = tk, name = tk, uid = tk, fieldPath = tk,
        apiVersion = tk, resourceVersion = tk } },
      Source = { properties = { component = tk, host = tk } },
      Metadata = { properties = { name = tk, namespace = tk, uid = tk, resourceVersion = tk, creationTimestamp = date } },
    },
  },
}

return M
