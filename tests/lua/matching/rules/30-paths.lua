-- Dotted paths, functions of a value, numbers and booleans.
route { to = "paths", when = { ["involvedObject.fieldPath"] = "spec.containers{*}", component = "kubelet" } }
route { to = "paths", when = { ["metadata.labels.team"] = function(v) return v == "payments" end } }

example {
  name = "container events from the kubelet",
  event = { reason = "BackOff", source = { component = "kubelet" },
            involvedObject = { kind = "Pod", name = "p", namespace = "a", fieldPath = "spec.containers{api}" } },
  reaches = { "paths" },
}
example {
  name = "component falls back to reportingComponent",
  event = { reason = "BackOff", reportingComponent = "kubelet",
            involvedObject = { kind = "Pod", name = "p", namespace = "a", fieldPath = "spec.containers{api}" } },
  reaches = { "paths" },
}
example {
  name = "a path that is absent matches nothing",
  event = { reason = "BackOff", involvedObject = { kind = "Pod", name = "p", namespace = "a" } },
  misses = { "paths" },
}
example {
  name = "a function gets the value at the path",
  event = { reason = "X", metadata = { labels = { team = "payments" } },
            involvedObject = { kind = "Pod", name = "p", namespace = "a" } },
  reaches = { "paths" },
}
