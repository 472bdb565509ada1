-- Each event carries what its rules must see: message lists its
-- annotations (k=v, sorted, ";"), action the names in its metadata.
local function listed(t, values)
  local out = {}
  for k, v in pairs(t) do out[#out + 1] = values and (k .. "=" .. tostring(v)) or k end
  table.sort(out)
  return table.concat(out, ";")
end

-- The annotations first: pairs over a member nothing has read yet.
local function annotations_seen(ev)
  return type(ev.metadata.annotations) == "table" and listed(ev.metadata.annotations, true) == ev.message
end

-- Then every member of the metadata, some read, some not.
local function metadata_seen(ev)
  return listed(ev.metadata, false) == ev.action
end

route { to = "annotations", when = annotations_seen }
route { to = "metadata", when = metadata_seen }
route { to = "missed", when = function(ev) return not (annotations_seen(ev) and metadata_seen(ev)) end }

example {
  name = "pairs over the metadata and its annotations sees every member",
  event = {
    type = "Normal", reason = "Scheduled", message = "a=1;b=2", action = "annotations;labels;name",
    metadata = { name = "e1", annotations = { a = "1", b = "2" }, labels = { app = "web" } },
    involvedObject = { kind = "Pod", namespace = "shop", name = "web-0" },
  },
  routes = { "annotations", "metadata" },
}
