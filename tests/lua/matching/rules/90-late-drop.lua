-- A drop after routes keeps what earlier routes added and stops the rest.
drop { reason = "Chatty", when = function(ev) return ev.type == "Warning" end }
route { to = "nodes", when = { reason = "Chatty" } }

example {
  name = "a late drop keeps the archive",
  event = { type = "Warning", reason = "Chatty", involvedObject = { kind = "Pod", namespace = "shop", name = "x" } },
  routes = { "archive", "oncall" },
}
example {
  name = "the drop's when must hold too",
  event = { type = "Normal", reason = "Chatty", involvedObject = { kind = "Pod", namespace = "shop", name = "x" } },
  routes = { "archive", "nodes" },
}
