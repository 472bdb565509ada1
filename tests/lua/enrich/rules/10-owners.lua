drop { owner = "DaemonSet/noisy" }
route { to = "archive" }
route { to = "payments", when = { labels = { team = "payments" } } }
route { to = "web", when = { owner = "Deployment/web*", type = "Warning" } }
route { to = "shown", when = { namespace = "shop" }, enrich = true }

local pod = { kind = "Pod", name = "web-6d4f-abcde", namespace = "shop" }

example {
  name = "a Pod of Deployment web, labelled team=payments",
  event = { type = "Warning", reason = "BackOff", involvedObject = pod,
            owner = "Deployment/web", owners = { "ReplicaSet/web-6d4f", "Deployment/web" },
            labels = { team = "payments", app = "web" } },
  routes = { "archive", "payments", "web", "shown" },
}
example {
  name = "not enriched (no RBAC, or past the deadline): only the plain rules",
  event = { type = "Warning", reason = "BackOff", involvedObject = pod },
  routes = { "archive", "shown" },
}
example {
  name = "another team's label",
  event = { type = "Normal", reason = "Pulled", involvedObject = pod, owner = "StatefulSet/db",
            labels = { team = "storage" } },
  routes = { "archive", "shown" },
}
example {
  name = "a DaemonSet's pods are dropped by owner",
  event = { type = "Warning", reason = "BackOff", involvedObject = { kind = "Pod", name = "noisy-x", namespace = "kube-system" },
            owner = "DaemonSet/noisy", labels = {} },
  routes = {},
}
example {
  name = "labels by path",
  event = { type = "Warning", reason = "BackOff", involvedObject = pod, labels = { team = "payments" } },
  reaches = { "payments" },
}
