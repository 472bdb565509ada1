local function last_seen(want) return function(ev) return ev.lastTimestamp == want end end

route { to = "seen", when = function(ev)
  return ev.count == 7 and ev.lastTimestamp == "2026-11-20T08:14:21.654321Z"
     and ev.firstTimestamp == "2026-11-20T08:10:00.123456Z"
end }
route { to = "seen", when = function(ev)
  return ev.involvedObject.kind == "Certificate" and ev.message == "failed"
     and ev.reportingComponent == "cert-manager" and ev.count == 3 and ev.regarding == nil
end }
route { to = "seen", when = { reason = "CountZero", count = 1, lastTimestamp = "2026-02-02T00:00:00Z" } }
route { to = "seen", when = { reason = "Plain", lastTimestamp = "2026-01-01T00:00:05Z", count = 4 } }

example {
  name = "events.k8s.io/v1 written, read through core/v1",
  event = { reason = "RELOAD", firstTimestamp = json.null, lastTimestamp = json.null,
            eventTime = "2026-11-20T08:10:00.123456Z",
            series = { count = 7, lastObservedTime = "2026-11-20T08:14:21.654321Z" },
            involvedObject = { kind = "Pod", namespace = "ingress", name = "c" } },
  routes = { "seen" },
}
example {
  name = "events.k8s.io/v1 object shape",
  event = { apiVersion = "events.k8s.io/v1", reason = "Failed", note = "failed",
            reportingController = "cert-manager", eventTime = "2026-03-03T00:00:00.000000Z",
            series = { count = 3, lastObservedTime = "2026-03-03T00:01:00.000000Z" },
            regarding = { kind = "Certificate", namespace = "cm", name = "tls" } },
  routes = { "seen" },
}
example {
  name = "count 0 becomes 1; last seen falls back to creationTimestamp",
  event = { reason = "CountZero", count = 0, metadata = { creationTimestamp = "2026-02-02T00:00:00Z" },
            involvedObject = { kind = "Pod", namespace = "a", name = "b" } },
  routes = { "seen" },
}
example {
  name = "core/v1 fields are kept as they are",
  event = { reason = "Plain", count = 4, firstTimestamp = "2026-01-01T00:00:00Z", lastTimestamp = "2026-01-01T00:00:05Z",
            involvedObject = { kind = "Pod", namespace = "a", name = "b" } },
  routes = { "seen" },
}
