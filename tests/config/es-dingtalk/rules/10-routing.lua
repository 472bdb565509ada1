drop  { type = "Normal", reason = { "Pulled", "Created", "Started" } }
route { to = "archive" }
route { to = "oncall", when = { type = "Warning" }, unless = { namespace = "sandbox-*" } }

example {
  name = "a Warning is archived and pages on-call",
  event = { type = "Warning", reason = "BackOff", involvedObject = { kind = "Pod", namespace = "shop", name = "web" } },
  routes = { "archive", "oncall" },
}
