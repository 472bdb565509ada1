route { to = "archive" }
route { to = "oncall", when = { type = "Warning" }, unless = { namespace = { "sandbox-*", "dev" } } }
route { to = "nodes", when = { kind = "Node" } }
route { to = "loud", when = function(ev) return ev.count >= 10 end }
route { to = { "loud", "oncall" }, when = { reason = "OOM*", cluster = { "prod", "staging" } } }

example {
  name = "warnings page on-call",
  event = { type = "Warning", reason = "BackOff", involvedObject = { kind = "Pod", namespace = "shop", name = "web" } },
  routes = { "archive", "oncall" },
}
example {
  name = "sandbox warnings are archived only (glob in a list)",
  event = { type = "Warning", reason = "BackOff", involvedObject = { kind = "Pod", namespace = "sandbox-bob", name = "x" } },
  routes = { "archive" },
}
example {
  name = "dev warnings are archived only (exact in a list)",
  event = { type = "Warning", reason = "BackOff", involvedObject = { kind = "Pod", namespace = "dev", name = "x" } },
  misses = { "oncall" },
}
example {
  name = "namespace falls back to the Event's own for cluster-scoped objects",
  event = { type = "Warning", reason = "NodeNotReady", metadata = { namespace = "dev" },
            involvedObject = { kind = "Node", name = "node-1" } },
  routes = { "archive", "nodes" },
}
example {
  name = "a function rule sees the normalised count",
  event = { type = "Normal", reason = "Unhealthy", count = 12, involvedObject = { kind = "Pod", namespace = "a", name = "b" } },
  reaches = { "loud" },
  misses = { "oncall" },
}
example {
  name = "events.k8s.io series count counts too",
  event = { type = "Normal", reason = "Reload", series = { count = 10, lastObservedTime = "2026-01-01T00:00:00.000000Z" },
            involvedObject = { kind = "Pod", namespace = "a", name = "b" } },
  reaches = { "loud" },
}
example {
  name = "cluster is matched (the example's own cluster)",
  event = { cluster = "prod", type = "Normal", reason = "OOMKilling", involvedObject = { kind = "Node", name = "n" } },
  routes = { "archive", "nodes", "loud", "oncall" },
}
example {
  name = "... and other clusters are not",
  event = { cluster = "lab", type = "Normal", reason = "OOMKilling", involvedObject = { kind = "Node", name = "n" } },
  routes = { "archive", "nodes" },
}
