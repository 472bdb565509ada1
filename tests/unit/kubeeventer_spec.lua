-- Table-driven tests of herald.kubeeventer (kube-eventer's flags -> a
-- herald configuration) and herald.kubeeventer_format, run inside
-- herald's own Lua host by tests/unit/test_kubeeventer.c. A failure is an
-- error naming the case.
local ke = require "herald.kubeeventer"
local fmt = require "herald.kubeeventer_format"

local ENV = { TOKEN = "tok123", WHOLE = "https://oapi.dingtalk.com/robot/send?access_token=abc", ES = "10.0.0.1:9200" }
local function getenv(n) return ENV[n] end

local SEED = {
  "--source=kubernetes:https://kubernetes.default",
  "--sink=dingtalk:https://oapi.dingtalk.com/robot/send?access_token=XXX&label=cls-tke&label=event&level=Warning&msg_type=markdown",
  "--sink=elasticsearch:http://172.16.0.20:9200?ver=7&index=cls-tke-event&cluster_name=cls-tke",
}
local SRC = "--source=kubernetes:https://kubernetes.default"

local function has(s, needle) return s:find(needle, 1, true) ~= nil end

local function tr(args, opts)
  opts = opts or {}
  opts.getenv = opts.getenv or getenv
  opts.has_type = opts.has_type or function() return false end
  return ke.translate(args, opts)
end

-- Each case: args; then `ok = function(r, sinks, rules)` or `err = { substrings }`.
local CASES = {
  { name = "the seed's flags", args = SEED, ok = function(r, sinks, rules)
      assert(has(sinks, 'sink "dingtalk"') and has(sinks, 'type    = "dingtalk"'))
      assert(has(sinks, '"https://oapi.dingtalk.com/robot/send?access_token=" .. secret "dingtalk-access-token"'))
      assert(r.secrets["dingtalk-access-token"] == "XXX")
      assert(not has(sinks, "XXX") and not has(rules, "XXX"), "the token must not be in the files")
      assert(has(sinks, 'labels  = { "cls-tke", "event" }'), "repeated label kept in order")
      assert(has(sinks, 'format  = "markdown"') and has(sinks, 'style   = "kube-eventer"'))
      assert(has(rules, 'route { to = "dingtalk", when = { type = "Warning" } }'))
      assert(has(sinks, 'url   = { "http://172.16.0.20:9200" }'))
      assert(has(sinks, 'index = "cls-tke-event-%Y.%m.%d"'))
      assert(has(sinks, 'shape = "kube-eventer"') and has(sinks, 'cluster_name = "cls-tke"'))
      assert(has(rules, 'route { to = "elasticsearch" }'))
      assert(r.cluster_name == "cls-tke")
      assert(r.source.in_cluster == true and r.source.server == "https://kubernetes.default")
      assert(r.source.insecure == false and r.source.use_service_account == false)
      assert(r.listen == "0.0.0.0:8084")
      local changes = table.concat(r.changes, "\n")
      assert(has(changes, "20 messages a minute") and has(changes, "no event of the gap is lost"))
    end },
  { name = "Go flag syntax: -flag value, --flag=value, bools",
    args = { "-source", "kubernetes:https://k:6443", "--sink", "elasticsearch:http://es:9200", "-version", "--event-metrics=false" },
    ok = function(r, sinks)
      assert(r.version == true and has(sinks, '"http://es:9200"'))
      assert(has(table.concat(r.ignored, "\n"), "--event-metrics"))
    end },
  { name = "klog and other flags accepted, listed as ignored",
    args = { SRC, "--frequency=30s", "--max_procs=2", "--v=2", "--logtostderr", "--stderrthreshold=INFO", "-alsologtostderrthreshold", "WARNING", "--log_file_max_size=10", "--healthz-port=9091", "--healthz-ip=127.0.0.1" },
    ok = function(r)
      local ig = table.concat(r.ignored, "\n")
      for _, f in ipairs({ "--frequency", "--max_procs", "--v:", "--logtostderr", "--stderrthreshold" }) do
        assert(has(ig, f), f .. " not listed as ignored")
      end
      assert(r.listen == "127.0.0.1:9091")
    end },
  { name = "unknown flag", args = { SRC, "--sinks=x" }, err = { "flag provided but not defined: -sinks" } },
  { name = "frequency below 5s", args = { SRC, "--frequency=2s" }, err = { "--frequency=2s", "5s to 3m" } },
  { name = "frequency above 3m", args = { SRC, "--frequency=1h" }, err = { "--frequency=1h" } },
  { name = "frequency 1m30s", args = { SRC, "--frequency=1m30s" }, ok = function() end },
  { name = "bad duration", args = { SRC, "--frequency=soon" }, err = { "invalid value \"soon\" for flag -frequency" } },
  { name = "healthz port too big", args = { SRC, "--healthz-port=70000" }, err = { "healthz 70000" } },
  { name = "no source", args = { "--sink=elasticsearch:http://es:9200" }, err = { "wrong number of sources specified: 0" } },
  { name = "two sources", args = { SRC, SRC }, err = { "wrong number of sources specified: 2" } },
  { name = "another source type", args = { "--source=kubernetes.summary_api:" }, err = { "--source=kubernetes.summary_api" } },
  { name = "stray argument", args = { SRC, "extra" }, err = { "unexpected argument \"extra\"" } },
  { name = "a stray sink without --sink= does not show its token", args = { SRC, "dingtalk:https://h/s?access_token=SEKRIT" },
    err = { "unexpected argument", "access_token=***" }, never = "SEKRIT" },

  -- source options
  { name = "source: kubeconfig through auth=", args = { "--source=kubernetes:?inClusterConfig=false&auth=/etc/kube/config&insecure=true&useServiceAccount=1" },
    ok = function(r)
      assert(r.source.in_cluster == false and r.source.kubeconfig == "/etc/kube/config")
      assert(r.source.insecure == true and r.source.use_service_account == true and r.source.server == nil)
    end },
  { name = "source: server without in-cluster", args = { "--source=kubernetes:https://10.0.0.1:6443?inClusterConfig=f" },
    ok = function(r) assert(r.source.in_cluster == false and r.source.server == "https://10.0.0.1:6443") end },
  { name = "source: auth= ignored in-cluster", args = { "--source=kubernetes:https://k?auth=/x" },
    ok = function(r) assert(has(table.concat(r.ignored, "\n"), "auth= is read only with inClusterConfig=false")) end },
  { name = "source: bad bool", args = { "--source=kubernetes:https://k?insecure=yes" }, err = { "insecure=\"yes\" is not a boolean" } },
  { name = "source: an option kube-eventer does not read is ignored, by name", args = { "--source=kubernetes:https://k?useTLS=1" },
    ok = function(r) assert(has(table.concat(r.ignored, "\n"), '--source=kubernetes: "useTLS" is not an option')) end },
  { name = "source: nothing to reach", args = { "--source=kubernetes:?inClusterConfig=false" }, err = { "inClusterConfig=false" } },

  -- dingtalk
  { name = "dingtalk: level scoring, default Warning", args = { SRC, "--sink=dingtalk:https://oapi.dingtalk.com/robot/send?access_token=a" },
    ok = function(r, sinks, rules)
      assert(has(rules, 'when = { type = "Warning" }'))
      assert(has(sinks, 'format  = "text"'), "msg_type defaults to text")
    end },
  { name = "dingtalk: level=Normal scores Normal and Warning", args = { SRC, "--sink=dingtalk:https://h/robot/send?access_token=a&level=Normal" },
    ok = function(r, sinks, rules) assert(has(rules, 'when = { type = { "Normal", "Warning" } }')) end },
  { name = "dingtalk: an unknown level scores 0: every event", args = { SRC, "--sink=dingtalk:https://h/robot/send?access_token=a&level=warning" },
    ok = function(r, sinks, rules)
      assert(has(rules, 'route { to = "dingtalk" }') and has(rules, "level=warning scores 0"))
    end },
  { name = "dingtalk: namespaces on the Event's own namespace, kinds exact",
    args = { SRC, "--sink=dingtalk:https://h/robot/send?access_token=a&namespaces=kube-system,default&kinds=Pod,Node" },
    ok = function(r, sinks, rules)
      assert(has(rules, '["metadata.namespace"] = { "kube-system", "default" }'), rules)
      assert(has(rules, 'kind = { "Pod", "Node" }'))
    end },
  { name = "dingtalk: a value with glob characters is matched exactly",
    args = { SRC, "--sink=dingtalk:https://h/robot/send?access_token=a&namespaces=team*" },
    ok = function(r, sinks, rules) assert(has(rules, '({ ["team*"] = true })[v] == true'), rules) end },
  { name = "dingtalk: empty namespaces= means no filter", args = { SRC, "--sink=dingtalk:https://h/robot/send?access_token=a&namespaces=" },
    ok = function(r, sinks, rules) assert(not has(rules, "metadata.namespace")) end },
  { name = "dingtalk: sign and at_mobiles", args = { SRC, "--sink=dingtalk:https://h/robot/send?access_token=a&sign=SECabc&at_mobiles=138,139" },
    ok = function(r, sinks)
      assert(has(sinks, 'sign    = secret "dingtalk-sign"') and r.secrets["dingtalk-sign"] == "SECabc")
      assert(has(sinks, 'mention = { mobiles = { "138", "139" } }'))
      assert(not has(sinks, "SECabc"))
    end },
  { name = "dingtalk: always https, as kube-eventer", args = { SRC, "--sink=dingtalk:http://h/robot/send?access_token=a" },
    ok = function(r, sinks) assert(has(sinks, '"https://h/robot/send?access_token="')) end },
  { name = "dingtalk: ${VAR} stays an env reference", args = { SRC, "--sink=dingtalk:https://h/robot/send?access_token=${TOKEN}" },
    ok = function(r, sinks)
      assert(has(sinks, '"https://h/robot/send?access_token=" .. env "TOKEN"'), sinks)
      assert(not has(sinks, "tok123") and next(r.secrets) == nil)
    end },
  { name = "dingtalk: $VAR too", args = { SRC, "--sink=dingtalk:https://h/robot/send?access_token=$TOKEN&label=x" },
    ok = function(r, sinks) assert(has(sinks, 'env "TOKEN"')) end },
  { name = "dingtalk: a whole URL from ${VAR} is expanded, its token still a secret", args = { SRC, "--sink=dingtalk:${WHOLE}" },
    ok = function(r, sinks)
      assert(has(sinks, '"https://oapi.dingtalk.com/robot/send?access_token=" .. secret "dingtalk-access-token"'))
      assert(r.secrets["dingtalk-access-token"] == "abc")
    end },
  { name = "dingtalk: an unset variable expands to nothing", args = { SRC, "--sink=dingtalk:https://h/robot/send?access_token=${NOPE}" },
    ok = function(r) assert(r.secrets["dingtalk-access-token"] == "") end },
  { name = "dingtalk: unclosed ${", args = { SRC, "--sink=dingtalk:https://h/robot/send?access_token=${TOKEN" }, err = { "unclosed ${" } },
  { name = "dingtalk: access_token required", args = { SRC, "--sink=dingtalk:https://h/robot/send?level=Warning" }, err = { "access_token is required" } },
  { name = "dingtalk: an option kube-eventer does not read is ignored, by name", args = { SRC, "--sink=dingtalk:https://h/robot/send?access_token=SEKRIT&lable=x" },
    ok = function(r, sinks)
      local ig = table.concat(r.ignored, "\n")
      assert(has(ig, '--sink=dingtalk: "lable" is not an option') and has(ig, "label, level"), ig)
      assert(not has(ig, "SEKRIT") and not has(sinks, "SEKRIT"))
    end },
  { name = "dingtalk: an error does not show the token", args = { SRC, "--sink=dingtalk:https://h/robot/send?access_token=SEKRIT&at_mobiles=1", "--frequency=1s" },
    err = { "--frequency=1s" }, never = "SEKRIT" },
  { name = "two dingtalk sinks", args = { SRC, "--sink=dingtalk:https://h/s?access_token=a", "--sink=dingtalk:https://h/s?access_token=b&level=Normal" },
    ok = function(r, sinks, rules)
      assert(has(sinks, 'sink "dingtalk-2"') and r.secrets["dingtalk-2-access-token"] == "b")
      assert(has(rules, 'route { to = "dingtalk-2", when = { type = { "Normal", "Warning" } } }'))
    end },

  -- elasticsearch
  { name = "es: defaults (index heapster, cluster default)", args = { SRC, "--sink=elasticsearch:http://es:9200" },
    ok = function(r, sinks)
      assert(has(sinks, '"heapster-%Y.%m.%d"') and has(sinks, 'cluster_name = "default"'))
      assert(has(sinks, 'type_name = "events"'))
    end },
  { name = "es: every option", args = { SRC,
      "--sink=elasticsearch:http://ignored:1?nodes=http://es-0:9200&nodes=http://es-1:9200&esUserName=elastic&esUserSecret=pw&maxRetries=3&healthCheck=true&sniff=false&startupHealthcheckTimeout=60&ver=6&bulkWorkers=40&pipeline=p1&index=ev&cluster_name=c1&use_namespace=1" },
    ok = function(r, sinks)
      assert(has(sinks, '{ "http://es-0:9200", "http://es-1:9200" }'))
      assert(has(sinks, 'auth  = { user = "elastic", password = secret "elasticsearch-password" }') and r.secrets["elasticsearch-password"] == "pw")
      assert(has(sinks, 'pipeline = "p1"') and has(sinks, "concurrency = 16"))
      assert(has(sinks, '"ev-{namespace}-%Y.%m.%d"'))
      local ig, ch = table.concat(r.ignored, "\n"), table.concat(r.changes, "\n")
      assert(has(ig, "healthCheck") and has(ig, "sniff") and has(ig, "startupHealthcheckTimeout"))
      assert(has(ch, "maxRetries=3") and has(ch, "ver=6"))
    end },
  { name = "es: query escapes as Go reads them", args = { SRC, "--sink=elasticsearch:http://es:9200?index=a%25b+c&pipeline=p%zz&cluster_name=x" },
    ok = function(r, sinks)
      assert(has(sinks, '"a%b c-%Y.%m.%d"'), sinks)
      assert(not has(sinks, "pipeline = "), "a pair with a bad escape is dropped, as url.Query does")
    end },
  { name = "es: ${VAR} host", args = { SRC, "--sink=elasticsearch:http://${ES}?index=x" },
    ok = function(r, sinks) assert(has(sinks, '"http://10.0.0.1:9200"')) end },
  { name = "es: a user without a secret is ignored as kube-eventer does", args = { SRC, "--sink=elasticsearch:http://es:9200?esUserName=u" },
    ok = function(r, sinks) assert(not has(sinks, "auth") and has(table.concat(r.ignored, "\n"), "esUserName without esUserSecret")) end },
  { name = "es: ver 8 accepted", args = { SRC, "--sink=elasticsearch:http://es:9200?ver=8" }, ok = function() end },
  { name = "es: ver 2 refused", args = { SRC, "--sink=elasticsearch:http://es:9200?ver=2" }, err = { "ver=2" } },
  { name = "es: ver not a number", args = { SRC, "--sink=elasticsearch:http://es:9200?ver=seven" }, err = { "ver=\"seven\"" } },
  { name = "es: sigv4 refused", args = { SRC, "--sink=elasticsearch:http://es:9200?sigv4=true" }, err = { "sigv4" } },
  { name = "es: bad maxRetries", args = { SRC, "--sink=elasticsearch:http://es:9200?maxRetries=x" }, err = { "maxRetries=\"x\"" } },
  { name = "es: bad sniff", args = { SRC, "--sink=elasticsearch:http://es:9200?sniff=maybe" }, err = { "sniff=\"maybe\"" } },
  { name = "es: bad startupHealthcheckTimeout", args = { SRC, "--sink=elasticsearch:http://es:9200?startupHealthcheckTimeout=x" }, err = { "startupHealthcheckTimeout" } },
  { name = "es: no node", args = { SRC, "--sink=elasticsearch:?index=x" }, err = { "no node" } },
  { name = "es: an unknown option is ignored, by name", args = { SRC, "--sink=elasticsearch:http://es:9200?indices=x" },
    ok = function(r) assert(has(table.concat(r.ignored, "\n"), '"indices" is not an option')) end },

  -- webhook
  { name = "webhook: defaults (GET, every event, kube-eventer's body)", args = { SRC, "--sink=webhook:http://hook:8080/x" },
    ok = function(r, sinks, rules)
      assert(has(sinks, 'method  = "GET"') and has(sinks, 'url     = "http://hook:8080/x"'))
      assert(has(rules, 'route { to = "webhook" }') and has(rules, "every event, Normal ones too"))
      assert(has(sinks, 'local webhook_body = ke.template(') and has(sinks, '"EventKind": "{{ .InvolvedObject.Kind }}"'))
    end },
  { name = "webhook: level, namespaces of the involved object, kinds, regex reason",
    args = { SRC, "--sink=webhook:http://hook/x?level=Normal&namespaces=a,b&kinds=Pod&reason=^Back|Failed,Unhealthy$&method=POST" },
    ok = function(r, sinks, rules)
      assert(has(rules, 'type = { "Normal", "Warning" }'))
      assert(has(rules, '["involvedObject.namespace"] = { "a", "b" }'))
      assert(has(rules, 'kind = "Pod"'))
      assert(has(rules, 'reason = { "Back*", "*Failed*", "*Unhealthy" }'), rules)
      assert(has(sinks, 'url     = "http://hook/x?level=Normal&'), "the whole URL, as kube-eventer requests it")
    end },
  { name = "webhook: an unknown level means Warning", args = { SRC, "--sink=webhook:http://hook/x?level=Error" },
    ok = function(r, sinks, rules) assert(has(rules, 'type = "Warning"') and has(rules, "level=Error means Warning")) end },
  { name = "webhook: an empty filter matches nothing", args = { SRC, "--sink=webhook:http://hook/x?kinds=" },
    ok = function(r, sinks, rules) assert(has(rules, '-- route { to = "webhook" }')) end },
  { name = "webhook: regex group alternation", args = { SRC, "--sink=webhook:http://hook/x?reason=^(BackOff|Failed.*)$" },
    ok = function(r, sinks, rules) assert(has(rules, 'reason = { "BackOff", "Failed*" }'), rules) end },
  { name = "webhook: an unsupported regex is named", args = { SRC, "--sink=webhook:http://hook/x?reason=Fail[a-z]%2B" },
    err = { "reason \"Fail[a-z]+\"", "character class" } },
  { name = "webhook: headers, secret ones moved out", args = { SRC, "--sink=webhook:http://hook/x?header=Authorization=Bearer%20t0k&header=X-Team=sre&header=Bad=a=b" },
    ok = function(r, sinks)
      assert(has(sinks, '["Authorization"] = secret "webhook-header-authorization"') and r.secrets["webhook-header-authorization"] == "Bearer t0k")
      assert(has(sinks, '["X-Team"] = "sre"') and not has(sinks, "t0k"))
      assert(has(table.concat(r.ignored, "\n"), 'header "Bad"'))
    end },
  { name = "webhook: a URL with a token is a secret", args = { SRC, "--sink=webhook:https://hook/x?token=abc" },
    ok = function(r, sinks) assert(has(sinks, 'secret "webhook-url"') and not has(sinks, "abc")) end },
  { name = "webhook: custom_body_configmap translated", args = { SRC, "--sink=webhook:http://hook/x?custom_body_configmap=body&custom_body_configmap_namespace=ops" },
    opts = { configmaps = { ["ops/body"] = '{"text": "{{ .InvolvedObject.Name }} {{- .Reason -}} {{/* c */}}"}' } },
    ok = function(r, sinks) assert(has(sinks, "{{ .InvolvedObject.Name }}") and has(sinks, "ConfigMap body")) end },
  { name = "webhook: custom_body_configmap not given", args = { SRC, "--sink=webhook:http://hook/x?custom_body_configmap=body" },
    err = { "custom_body_configmap=body (namespace default)" } },
  { name = "webhook: template with if", args = { SRC, "--sink=webhook:http://hook/x?custom_body_configmap=b" },
    opts = { configmaps = { ["default/b"] = '{{ if eq .Type "Warning" }}x{{ end }}' } }, err = { '"if"' } },
  { name = "webhook: template with a pipeline", args = { SRC, "--sink=webhook:http://hook/x?custom_body_configmap=b" },
    opts = { configmaps = { ["default/b"] = '{{ .Message | printf "%q" }}' } }, err = { "a pipeline" } },
  { name = "webhook: template with an unknown field", args = { SRC, "--sink=webhook:http://hook/x?custom_body_configmap=b" },
    opts = { configmaps = { ["default/b"] = '{{ .Labels }}' } }, err = { "the field .Labels" } },
  { name = "webhook: template with a variable", args = { SRC, "--sink=webhook:http://hook/x?custom_body_configmap=b" },
    opts = { configmaps = { ["default/b"] = '{{ $x := .Type }}' } }, err = { "a variable ($x)" } },
  { name = "webhook: bad method", args = { SRC, "--sink=webhook:http://hook/x?method=get" }, err = { "method=\"get\"" } },
  { name = "webhook: no host", args = { SRC, "--sink=webhook:/x" }, err = { "no host" } },

  -- wechat
  { name = "wechat: every option", args = { SRC, "--sink=wechat:https://qyapi.weixin.qq.com?corp_id=ww1&corp_secret=cs&agent_id=1000002&to_user=a,b&level=Normal&label=c1&namespaces=n1&kinds=Pod" },
    ok = function(r, sinks, rules)
      assert(has(sinks, 'type    = "wechat"') and has(sinks, 'corp_secret = secret "wechat-corp-secret"'))
      assert(r.secrets["wechat-corp-secret"] == "cs" and not has(sinks, '"cs"'))
      assert(has(sinks, "agent_id    = 1000002") and has(sinks, 'to_user     = { "a", "b" }'))
      assert(has(rules, 'type = { "Normal", "Warning" }, ["metadata.namespace"] = "n1", kind = "Pod"'), rules)
    end },
  { name = "wechat: to_user defaults to @all", args = { SRC, "--sink=wechat:?corp_id=ww1&corp_secret=cs&agent_id=1" },
    ok = function(r, sinks) assert(has(sinks, '{ "@all" }')) end },
  { name = "wechat: corp_secret required", args = { SRC, "--sink=wechat:?corp_id=ww1&agent_id=1" }, err = { "corp_secret is required" } },
  { name = "wechat: agent_id a number", args = { SRC, "--sink=wechat:?corp_id=ww1&corp_secret=cs&agent_id=x" }, err = { "agent_id=\"x\"" } },

  -- the rest
  { name = "kafka without a kafka sink type", args = { SRC, "--sink=kafka:?brokers=k:9092&eventstopic=ev" }, err = { "herald has no kafka sink type yet" } },
  { name = "kafka with one", args = { SRC, "--sink=kafka:?brokers=k:9092&brokers=k2:9092&eventstopic=ev&password=pw" },
    opts = { has_type = function(t) return t == "kafka" end },
    ok = function(r, sinks)
      assert(has(sinks, 'brokers = { "k:9092", "k2:9092" }') and has(sinks, 'topic   = "ev"'))
      assert(r.secrets["kafka-password"] == "pw" and not has(sinks, '"pw"'))
      assert(has(sinks, 'sasl = { mechanism = "PLAIN", user = "", password = secret "kafka-password" }'))
      assert(has(sinks, 'shape   = "kube-eventer"'))
    end },
  { name = "kafka: TLS and SASL in the kafka sink type's names",
    args = { SRC, "--sink=kafka:?brokers=k:9092&compression=zstd&user=u&password=pw&cacert=/ca.pem&cert=/c.pem&key=/k.pem&insecuressl=true" },
    opts = { has_type = function(t) return t == "kafka" end },
    ok = function(r, sinks)
      for _, s in ipairs({ 'compression = "zstd"', 'ca_file = "/ca.pem"', 'cert_file = "/c.pem"', 'key_file = "/k.pem"',
                           "insecure = true", 'user = "u"' }) do
        assert(has(sinks, s), s)
      end
      assert(not has(sinks, "cacert =") and not has(sinks, "insecuressl =") and not has(sinks, '"pw"'))
    end },
  { name = "kafka: a compression it does not have", args = { SRC, "--sink=kafka:?brokers=k:9092&compression=brotli" },
    opts = { has_type = function(t) return t == "kafka" end }, err = { "compression=\"brotli\"" } },
  { name = "sinks herald does not have", args = { SRC, "--sink=influxdb:http://i:8086", "--sink=sls:?project=p", "--sink=mysql:?x" },
    err = { "--sink=influxdb: herald has no influxdb sink", "--sink=sls", "--sink=mysql" } },
  { name = "no such sink", args = { SRC, "--sink=pagerduty:http://x" }, err = { "kube-eventer has no such sink" } },
  { name = "a sink without a name", args = { SRC, "--sink=:http://x" }, err = { "missing the name" } },
  { name = "no sinks", args = { SRC }, ok = function(r, sinks, rules) assert(has(rules, "no --sink")) end },
}

local failures = {}
for _, c in ipairs(CASES) do
  local ok, err = pcall(function()
    local r, e = tr(c.args, c.opts)
    if c.err then
      assert(r == nil, "expected an error, got a configuration")
      for _, s in ipairs(c.err) do
        assert(has(e, s), ("error %q does not say %q"):format(e, s))
      end
      if c.never then assert(not has(e, c.never), "the error shows a secret") end
    else
      assert(r, e)
      c.ok(r, r.files["sinks.lua"], r.files["rules/50-kube-eventer.lua"])
    end
  end)
  if not ok then failures[#failures + 1] = c.name .. ": " .. tostring(err) end
end

do
  local text, err = ke.migrate(SEED, { getenv = getenv, has_type = function() return false end })
  local ok, why = pcall(function()
    assert(text, err)
    assert(has(text, "==> sinks.lua <==\n-- Translated") and has(text, "==> rules/50-kube-eventer.lua <==\n"))
    assert(has(text, "==> secrets <==") and has(text, "--   dingtalk-access-token\n") and not has(text, "XXX"))
    local f = ke.flags()
    assert(f.sink == "string" and f.logtostderr == "bool" and f.frequency == "duration" and f["healthz-port"] == "int")
    assert(select(2, ke.migrate({ SRC, "--sink=nope:x" })):find("no such sink"))
  end)
  if not ok then failures[#failures + 1] = "migrate: " .. tostring(why) end
end

---------------------------------------------------------------- layouts

local ev = {
  type = "Warning", reason = "BackOff", message = 'Back-off "restarting" failed container', count = 3,
  lastTimestamp = "2026-11-25T10:05:01Z", firstTimestamp = "2026-11-25T10:00:00Z",
  metadata = { name = "web-0.17a8b", namespace = "shop" },
  involvedObject = { kind = "Pod", name = "web-0", namespace = "shop" },
  source = { component = "kubelet", host = "node-1" },
}
local checks = {
  { "text labels reversed, then the fields", function()
      local t = fmt.text(ev, { "cls-tke", "event" })
      local want = "event\ncls-tke\nLevel:Warning \nKind:Pod \nNamespace:shop \nName:web-0.17a8b \nReason:BackOff \nTimestamp:"
      assert(t:sub(1, #want) == want, t)
      assert(has(t, '\nMessage:Back-off "restarting" failed container'))
    end },
  { "markdown labels in order, node, bold fields", function()
      local t = fmt.markdown(ev, { "cls-tke", "event" })
      local want = "label[0]: **cls-tke**\n\nlabel[1]: **event**\n\n"
      assert(t:sub(1, #want) == want, t)
      assert(has(t, "Node: **node-1** \n\nLevel: **Warning** \n\nKind: **Pod** \n\nNamespace: shop \n\nName: web-0.17a8b \n\nReason: **BackOff**"))
    end },
  { "webhook default body", function()
      local body = fmt.template(fmt.DEFAULT_BODY)(ev)
      assert(has(body, '"EventType": "Warning"') and has(body, '"EventKind": "Pod"'))
      assert(has(body, '"EventMessage": "Back-off restarting failed container"'), "quotes removed as kube-eventer does")
      assert(body:match('"EventTime": "2026%-11%-25 %d%d:%d%d:01 [+-]%d%d%d%d %S+"'), body)
    end },
  { "template fields and trim markers", function()
      local f = assert(fmt.template("{{.Name}}/{{ .ObjectMeta.Namespace }} {{- .Count -}} \n {{ .Source.Host }}{{/* x */}}"))
      assert(f(ev) == "web-0.17a8b/shop3node-1", f(ev))
    end },
  { "regex globs", function()
      local g = assert(fmt.regex_globs("BackOff"))
      assert(#g == 1 and g[1] == "*BackOff*")
      g = assert(fmt.regex_globs("^Node.*Ready$"))
      assert(g[1] == "Node*Ready")
      g = assert(fmt.regex_globs("Failed\\.Mount"))
      assert(g[1] == "*Failed.Mount*")
      assert(not fmt.regex_globs("Fail.d"))
      assert(not fmt.regex_globs("a+"))
    end },
}
for _, c in ipairs(checks) do
  local ok, err = pcall(c[2])
  if not ok then failures[#failures + 1] = c[1] .. ": " .. tostring(err) end
end

---------------------------------------------------------------- sink types

local json = require "herald.json"
local sink_checks = {
  { "dingtalk style kube-eventer", function()
      local d = require "sinks.dingtalk"
      local conf = { style = "kube-eventer", format = "markdown", labels = { "cls-tke", "event" } }
      local title, text = d.render({ event = ev, events = { ev }, count = 1, cluster = "cls-tke" }, conf)
      assert(title == "[cls-tke] Warning BackOff Pod/web-0", title)
      assert(text:sub(1, 21) == "label[0]: **cls-tke**" and not has(text, "Events:"), text)
      conf.format = "text"
      title, text = d.render({ event = ev, events = { ev }, count = 4, cluster = "cls-tke" }, conf)
      assert(text:sub(1, 19) == "event\ncls-tke\nLevel", text)
      assert(text:sub(-9) == "\nEvents:4", text)
      assert(d.init({ style = "fancy", format = "text", webhook = "https://h/?access_token=a" }):find("style"))
    end },
  { "elasticsearch: cluster_name, type_name, alias, kube-eventer mapping", function()
      local es = require "sinks.elasticsearch"
      local conf = { url = { "http://es:9200" }, index = "cls-tke-event-%Y.%m.%d", shape = "kube-eventer",
        cluster_name = "cls-tke", type_name = "events", template_name = "cls-tke-event", alias = "cls-tke-event-events",
        template = true, timeout = 30000, concurrency = 1, insecure = false, gzip = false }
      assert(es.init(conf) == nil)
      local e = { cluster = "default" }
      for k, x in pairs(ev) do e[k] = x end
      e.metadata = { name = "web-0.1", namespace = "shop", uid = "u1", resourceVersion = "5" }
      local item = assert(es.encode(e, conf))
      local index, id, doc = item:match("^([^\n]*)\n([^\n]*)\n(.*)$")
      assert(index == "cls-tke-event-2026.11.25", index)
      doc = json.decode(doc)
      assert(doc.EventTags.cluster_name == "cls-tke" and doc.Reason == "BackOff" and doc.Count == 3)
      -- Elasticsearch 6: a legacy template with the alias and the type; _type "events"
      local state = { server = { dist = "elasticsearch", major = 6, minor = 8 }, name = "es" }
      local r = es.request({ item }, conf, state)
      assert(r.url == "http://es:9200/_template/herald-cls-tke-event", r.url)
      local body = json.decode(r.body)
      assert(body.index_patterns[1] == "cls-tke-event-*" and body.aliases["cls-tke-event-events"])
      assert(body.mappings.events.properties.Reason.fields.keyword.type == "keyword")
      assert(es.response({ status = 200, body = "{}", kind = "template" }, { item }, conf, state).result == "again")
      r = es.request({ item }, conf, state)
      assert(has(r.body, '"_type":"events"') and has(r.body, '"_index":"cls-tke-event-2026.11.25"'), r.body)
      -- OpenSearch: composable template, no _type
      state = { server = { dist = "opensearch", major = 2, minor = 19 }, name = "es" }
      r = es.request({ item }, conf, state)
      body = json.decode(r.body)
      assert(r.url:find("/_index_template/herald%-cls%-tke%-event$") and body.template.aliases["cls-tke-event-events"])
      es.response({ status = 200, body = "{}", kind = "template" }, { item }, conf, state)
      r = es.request({ item }, conf, state)
      assert(not has(r.body, "_type"), r.body)
    end },
  { "wechat: the token is fetched once and kept, and again when it expires", function()
      local w = require "sinks.wechat"
      local conf = { corp_id = "ww1", corp_secret = "cs/+", agent_id = 1000002, to_user = { "a", "b" },
        style = "kube-eventer", labels = { "c1" }, api = "http://127.0.0.1:1/", timeout = 10000 }
      assert(w.init(conf) == nil)
      local state, msg = {}, { title = "t", text = "hello" }
      local r = w.request(msg, conf, state)
      assert(r.method == "GET" and r.url == "http://127.0.0.1:1/cgi-bin/gettoken?corpid=ww1&corpsecret=cs%2F%2B", r.url)
      local v = w.response({ status = 200, body = '{"errcode":0,"errmsg":"ok","access_token":"AT1","expires_in":7200}' }, msg, conf, state)
      assert(v.result == "again")
      for _ = 1, 2 do
        r = w.request(msg, conf, state)
        assert(r.method == "POST" and r.url == "http://127.0.0.1:1/cgi-bin/message/send?access_token=AT1", r.url)
        local b = json.decode(r.body)
        assert(b.touser == "a|b" and b.agentid == 1000002 and b.msgtype == "text" and b.text.content == "hello")
        assert(w.response({ status = 200, body = '{"errcode":0,"errmsg":"ok"}' }, msg, conf, state).result == "ok")
      end
      r = w.request(msg, conf, state)
      v = w.response({ status = 200, body = '{"errcode":42001,"errmsg":"access_token expired"}' }, msg, conf, state)
      assert(v.result == "again" and state.token == nil)
      r = w.request(msg, conf, state)
      assert(r.url:find("gettoken", 1, true))
      v = w.response({ status = 200, body = '{"errcode":40001,"errmsg":"invalid credential"}' }, msg, conf, state)
      assert(v.result == "retry" and v.after == 60 and has(v.message, "corp_secret") and not has(v.message, "cs/+"))
      r = w.request(msg, conf, state)
      w.response({ status = 200, body = '{"errcode":0,"access_token":"AT2","expires_in":7200}' }, msg, conf, state)
      r = w.request(msg, conf, state)
      v = w.response({ status = 200, body = '{"errcode":81013,"errmsg":"user invalid"}' }, msg, conf, state)
      assert(v.result == "failed" and has(v.message, "to_user"), v.message)
      local title, text = w.render({ event = ev, events = { ev }, count = 1, cluster = "c" }, conf)
      assert(text:sub(1, 9) == "c1\nLevel:" and text:match("Timestamp:%d+%-%d+%-%d+ %d+:%d+:%d+ [+-]%d%d%d%d"), text)
    end },
}
for _, c in ipairs(sink_checks) do
  local ok, err = pcall(c[2])
  if not ok then failures[#failures + 1] = c[1] .. ": " .. tostring(err) end
end

if #failures > 0 then error(#failures .. " failed:\n" .. table.concat(failures, "\n"), 0) end
return #CASES + #checks + #sink_checks
