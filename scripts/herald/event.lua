-- herald.event: one shape for every Event, whichever API wrote it.
--
-- core/v1 Events written through events.k8s.io/v1 come back with count and
-- lastTimestamp empty and series/eventTime set; events.k8s.io/v1 objects
-- (replayed from a file) use regarding/note/deprecated* names. normalize
-- fills in the core/v1 fields so every rule sees the same thing:
--   lastTimestamp  = series.lastObservedTime, else lastTimestamp, else
--                    eventTime, else metadata.creationTimestamp
--   firstTimestamp = firstTimestamp, else eventTime, else creationTimestamp
--   count          = series.count, else count, else 1
local json = require "herald.json"
local core = require "herald.core"
local null = json.null

local M = {}

-- The fast path (see herald.route and docs/hacking.md); HERALD_FAST_PATH=0
-- turns it off, for the tests that compare the two.
M.FAST = core.getenv("HERALD_FAST_PATH") ~= "0"

-- A field's value, with JSON null and "" read as absent.
local function value(v)
  if v == null or v == "" then return nil end
  return v
end
M.value = value

local function field(t, k)
  if type(t) ~= "table" then return nil end
  return value(t[k])
end

-- events.k8s.io/v1 name -> core/v1 name
local EVENTS_V1 = {
  regarding = "involvedObject",
  note = "message",
  reportingController = "reportingComponent",
  deprecatedSource = "source",
  deprecatedFirstTimestamp = "firstTimestamp",
  deprecatedLastTimestamp = "lastTimestamp",
  deprecatedCount = "count",
}

-- Returns ev, and whether events.k8s.io/v1 names were renamed.
function M.normalize(ev, cluster)
  local renamed = false
  if ev.regarding ~= nil or ev.note ~= nil or ev.reportingController ~= nil then
    renamed = true
    for from, to in pairs(EVENTS_V1) do
      local v = ev[from]
      if v ~= nil then
        if value(ev[to]) == nil then ev[to] = v end
        ev[from] = nil
      end
    end
  end
  local series = ev.series
  if type(series) ~= "table" then series = nil end
  local created = field(ev.metadata, "creationTimestamp")
  local event_time = value(ev.eventTime)
  ev.lastTimestamp = field(series, "lastObservedTime") or value(ev.lastTimestamp)
    or event_time or created
  ev.firstTimestamp = value(ev.firstTimestamp) or event_time or created
  local count = series and tonumber(value(series.count))
  if not count or count < 1 then
    count = tonumber(value(ev.count))
    if not count or count < 1 then count = 1 end
  end
  ev.count = math.tointeger(count) or count
  if cluster then ev.cluster = cluster end
  return ev, renamed
end

-- The members normalize may change (with cluster): what json.splice
-- writes from the table rather than from the text an event came in.
M.CHANGED = { "lastTimestamp", "firstTimestamp", "count", "cluster" }
M.CHANGED_V1 = { "lastTimestamp", "firstTimestamp", "count", "cluster" }
for from, to in pairs(EVENTS_V1) do
  M.CHANGED_V1[#M.CHANGED_V1 + 1] = from
  M.CHANGED_V1[#M.CHANGED_V1 + 1] = to
end

-- A JSON object (not an array, empty or not)?
local function is_object(v)
  return type(v) == "table" and v[1] == nil and not json.is_array(v)
end

-- Why a decoded record cannot be routed as an Event, or nil when it can:
-- it needs an involvedObject (or events.k8s.io/v1 regarding) that is an
-- object, and a metadata, if any, that is an object. The reason becomes
-- the record's (or List item's) counted skip reason.
function M.problem(v)
  if not is_object(v) then return "not a JSON object" end
  local obj = value(v.involvedObject)
  local name = "involvedObject"
  if obj == nil and value(v.regarding) ~= nil then obj, name = v.regarding, "regarding" end
  if obj == nil then return "not a Kubernetes Event (no involvedObject)" end
  if not is_object(obj) then return "not a Kubernetes Event (" .. name .. " is not an object)" end
  local meta = v.metadata
  if meta ~= nil and meta ~= null and not is_object(meta) then
    return "not a Kubernetes Event (metadata is not an object)"
  end
  return nil
end

-- The involved object's namespace, else the Event's own.
function M.namespace(ev)
  return field(ev.involvedObject, "namespace") or field(ev.metadata, "namespace")
end

-- source.component, else reportingComponent.
function M.component(ev)
  return field(ev.source, "component") or value(ev.reportingComponent)
end

function M.uid(ev)
  return field(ev.metadata, "uid")
end

return M
