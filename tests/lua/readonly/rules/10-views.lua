-- Everything a rule may read: fields, nested tables, pairs, ipairs, #,
-- json.encode of the event.
route { to = "reads", when = function(ev)
  local keys = 0
  for _ in pairs(ev.involvedObject) do keys = keys + 1 end
  local finalizers = {}
  for i, f in ipairs(ev.metadata.finalizers) do finalizers[i] = f end
  local copy = json.decode(json.encode(ev))
  return keys == 3 and #ev.metadata.finalizers == 2 and finalizers[2] == "b"
    and ev.involvedObject.name == "web" and copy.involvedObject.name == "web"
    and copy.reason == ev.reason and ev.metadata == ev.metadata
end }

-- A write is an error (logged and counted; the rule counts as "no").
route { to = "writes", when = function(ev) ev.count = 0 / 0 return true end }
route { to = "writes", when = function(ev) ev.metadata.finalizers[1] = "x" return true end }
route { to = "writes", when = { involvedObject = function(o) o.kind = "Changed" return true end } }

-- pcall cannot get round it, and the event stays as it was.
route { to = "caught", when = function(ev)
  local ok = pcall(function() ev.reason = "Changed" end)
  local ok2 = pcall(table.insert, ev.metadata.finalizers, "c")
  return not ok and not ok2 and ev.reason == "BackOff" and #ev.metadata.finalizers == 2
end }

-- A match value function gets a read-only view of a table field too.
route { to = "value", when = { metadata = function(m) return m.finalizers[1] == "a" end } }

example {
  name = "reads work, writes do not",
  event = {
    type = "Warning", reason = "BackOff", count = 3,
    metadata = { name = "e1", finalizers = { "a", "b" } },
    involvedObject = { kind = "Pod", namespace = "shop", name = "web" },
  },
  routes = { "reads", "caught", "value" },
}
