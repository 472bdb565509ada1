-- A drop with match keys and `unless`: drops what its keys match, except
-- what `unless` matches.
drop { type = "Normal", unless = { reason = "Killing" } }
-- Routes with `unless` only: every event, except what `unless` matches.
route { to = "main", unless = { namespace = "sandbox-*" } }
route { to = "fn", unless = function(ev) return ev.reason == "Quiet" end }

example {
  name = "the drop's keys match and its unless does not: dropped",
  event = { type = "Normal", reason = "Pulled", involvedObject = { kind = "Pod", namespace = "shop", name = "web" } },
  routes = {},
}
example {
  name = "the drop's unless holds: not dropped",
  event = { type = "Normal", reason = "Killing", involvedObject = { kind = "Pod", namespace = "shop", name = "web" } },
  routes = { "main", "fn" },
}
example {
  name = "a route's table unless holds: that route is skipped",
  event = { type = "Warning", reason = "BackOff", involvedObject = { kind = "Pod", namespace = "sandbox-a", name = "web" } },
  routes = { "fn" },
}
example {
  name = "a route's function unless holds: that route is skipped",
  event = { type = "Warning", reason = "Quiet", involvedObject = { kind = "Pod", namespace = "shop", name = "web" } },
  routes = { "main" },
}
example {
  name = "no unless holds: both routes apply",
  event = { type = "Warning", reason = "BackOff", involvedObject = { kind = "Pod", namespace = "shop", name = "web" } },
  routes = { "main", "fn" },
}
