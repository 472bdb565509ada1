-- A drop before any route: the event goes nowhere.
drop { type = "Normal", reason = { "Pulled", "Created", "Started" } }

example {
  name = "pulled images are dropped",
  event = { type = "Normal", reason = "Pulled", involvedObject = { kind = "Pod", namespace = "shop", name = "web" } },
  routes = {},
}
example {
  name = "a Normal event that is not noise goes on",
  event = { type = "Normal", reason = "Scheduled", involvedObject = { kind = "Pod", namespace = "shop", name = "web" } },
  reaches = { "archive" },
}
