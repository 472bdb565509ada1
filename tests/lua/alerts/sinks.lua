-- Every alert sink type, as `herald check` sees them in CI (secrets and
-- environment variables are placeholders there).
sink "archive" { type = "stdout" }
sink "oncall" {
  type = "dingtalk", webhook = env "DINGTALK_WEBHOOK", sign = secret "dingtalk-sign", keyword = "k8s",
  mention = { mobiles = { "13800000000" } }, group_by = { "cluster", "namespace", "reason" },
  wait = "30s", interval = "10m", repeat_after = "4h", samples = 3,
}
sink "wecom" { type = "wecom", webhook = env "WECOM_WEBHOOK", format = "text" }
sink "feishu" { type = "feishu", webhook = env "FEISHU_WEBHOOK", format = "post", limit = { "50/1m", "2/1s" } }
sink "slack" { type = "slack", webhook = env "SLACK_WEBHOOK" }
sink "pager" {
  type = "webhook", url = env "PAGER_URL", limit = "10/1m",
  body = function(g) return { text = g.reason } end,
}
