-- The README's setup: every event archived in Elasticsearch, Warnings to a
-- DingTalk group. Its env variables and secret files exist only in the
-- cluster: check and replay must work without them (a CI runner).
sink "archive" {
  type  = "elasticsearch",
  url   = env "ES_URL",                    -- http://172.16.0.20:9200
  index = "k8s-events-{cluster}-%Y.%m.%d",
  auth  = { user = env "ES_USER", password = secret "es-password" },
}

sink "oncall" {
  type    = "dingtalk",
  webhook = secret "dingtalk-webhook",     -- .../robot/send?access_token=...
  sign    = secret "dingtalk-sign",
  keyword = "k8s",
}
