drop  { type = "Normal", reason = { "Pulled", "Created", "Started" } }
route { to = "archive" }
route { to = "oncall", when = { type = "Warning" }, unless = { namespace = "sandbox-*" } }
route { to = "oncall", when = function(ev) return (ev.count or 1) >= 10 end }

example {
  name = "a Warning reaches the archive and on-call",
  event = { type = "Warning", reason = "BackOff", involvedObject = { kind = "Pod", namespace = "shop", name = "web" } },
  routes = { "archive", "oncall" },
}
