route { to = "archive" }
route { to = { "oncall", "wecom", "feishu", "slack" }, when = { type = "Warning" } }
route { to = "pager", when = { type = "Warning", reason = "OOMKilling" } }

-- An example that reaches an alert sink with a template also renders it:
-- a template that fails here fails `herald check`.
template "oncall" {
  render = function(g)
    return "alert", ("%s %s/%s: %s"):format(g.reason, g.kind, g.name, g.message)
  end,
}

example {
  name = "a Warning reaches every robot",
  event = { type = "Warning", reason = "BackOff", message = "Back-off", count = 2,
            involvedObject = { kind = "Pod", name = "web-0", namespace = "shop" } },
  routes = { "archive", "oncall", "wecom", "feishu", "slack" },
}
example {
  name = "OOM pages",
  event = { type = "Warning", reason = "OOMKilling", involvedObject = { kind = "Node", name = "n1" } },
  reaches = { "pager", "oncall" },
}
