local es = require "sinks.elasticsearch"

local function conf(extra)
  local c = { url = { "http://es:9200" }, index = "k8s-events-{cluster}-%Y.%m.%d", shape = "herald",
              template = true, timeout = 30000, insecure = false, gzip = false, concurrency = 1 }
  for k, v in pairs(extra or {}) do c[k] = v end
  assert(es.init(c) == nil)
  return c
end

local function item()
  return es.encode({ cluster = "prod", type = "Warning", reason = "BackOff", count = 2,
                     lastTimestamp = "2026-11-20T23:59:59+08:00",
                     involvedObject = { kind = "Pod", name = "p", namespace = "shop" },
                     metadata = { uid = "u1", resourceVersion = "42" } }, conf())
end

-- Drives a sink through its protocol steps with a server that says yes;
-- returns the list of requests and the bulk request.
local function steps(c, version)
  local state, seen = { name = "t" }, {}
  for _ = 1, 6 do
    local r = es.request({ item() }, c, state)
    seen[#seen + 1] = r
    if r.kind == "bulk" then return seen, r end
    local body = r.kind == "probe" and json.encode({ version = version }) or "{}"
    local v = es.response({ status = 200, body = body, kind = r.kind }, { item() }, c, state)
    assert(v.result == "again", tostring(v.result))
  end
  error("no bulk request")
end

local function checks()
  -- the index name comes from the event's own time, in UTC; the id is stable
  local it = item()
  assert(it:match("^k8s%-events%-prod%-2026%.11%.20\nprod/u1/42\n{"), it)

  -- OpenSearch 2: composable template, no _type
  local seen, bulk = steps(conf(), { distribution = "opensearch", number = "2.19.6" })
  assert(seen[1].kind == "probe" and seen[1].method == "GET" and seen[1].url == "http://es:9200/")
  assert(seen[2].kind == "template" and seen[2].url == "http://es:9200/_index_template/herald-events")
  assert(json.decode(seen[2].body).index_patterns[1] == "k8s-events-*")
  assert(not bulk.body:find("_type", 1, true))
  assert(bulk.url:find("/_bulk?filter_path=errors,items.*.error,items.*.status", 1, true))
  assert(bulk.body:sub(-1) == "\n")                     -- the bulk body ends with a newline
  local action = json.decode(bulk.body:match("^[^\n]*"))
  assert(action.create._index == "k8s-events-prod-2026.11.20" and action.create._id == "prod/u1/42")

  -- Elasticsearch 8 and 7.10: no _type; 6.8: _doc and a legacy template; 5.6: "event"
  assert(not select(2, steps(conf(), { number = "8.15.0" })).body:find("_type", 1, true))
  local s7, b7 = steps(conf(), { number = "7.10.2" })
  assert(s7[2].url:find("/_index_template/", 1, true))
  assert(not b7.body:find("_type", 1, true), "Elasticsearch 7 bulk bodies carry no _type")
  assert(not select(2, steps(conf(), { number = "7.0.0" })).body:find("_type", 1, true))
  local s6, b6 = steps(conf(), { number = "6.8.23" })
  assert(s6[2].url:find("/_template/herald-events", 1, true) and json.decode(s6[2].body).mappings._doc)
  assert(json.decode(b6.body:match("^[^\n]*")).create._type == "_doc")
  local _, b5 = steps(conf(), { number = "5.6.16" })
  assert(json.decode(b5.body:match("^[^\n]*")).create._type == "event")

  -- retention: ISM on OpenSearch, ILM (and the template's lifecycle name) on Elasticsearch
  local so = steps(conf({ retention_days = 14 }), { distribution = "opensearch", number = "2.19.6" })
  assert(so[2].kind == "policy" and so[2].url == "http://es:9200/_plugins/_ism/policies/herald-events", tostring(so[2].kind) .. " " .. tostring(so[2].url))
  local ism = json.decode(so[2].body).policy
  assert(ism.states[1].transitions[1].conditions.min_index_age == "14d")
  assert(ism.ism_template[1].index_patterns[1] == "k8s-events-*")
  local se = steps(conf({ retention_days = 14 }), { number = "8.15.0" })
  assert(se[2].url == "http://es:9200/_ilm/policy/herald-events")
  assert(json.decode(se[2].body).policy.phases.delete.min_age == "14d")
  assert(json.decode(se[3].body).template.settings["index.lifecycle.name"] == "herald-events")

  -- gzip: only the bulk body, with its header
  local sz, bz = steps(conf({ gzip = true }), { number = "8.15.0" })
  assert(bz.body:byte(1) == 0x1f and bz.body:byte(2) == 0x8b)
  local has = false
  for _, h in ipairs(bz.headers) do has = has or h == "Content-Encoding: gzip" end
  assert(has)
  for _, h in ipairs(sz[2].headers) do assert(h ~= "Content-Encoding: gzip") end

  -- per-item verdicts: 201 and 409 are stored, 429 retried, 400 failed with the id
  local state = { name = "t", server = { dist = "opensearch", major = 2, minor = 19 }, template = "ok" }
  local items = { item(), item(), item(), item() }
  local v = es.response({ status = 200, kind = "bulk", body = json.encode({ errors = true, items = {
      { create = { status = 201 } }, { create = { status = 409 } }, { create = { status = 429 } },
      { create = { status = 400, error = { type = "mapper_parsing_exception", reason = "bad count" } } } } }) },
    items, conf(), state)
  assert(v.result == "items" and v.items[1] == "ok" and v.items[2] == "ok" and v.items[3] == "retry")
  assert(v.items[4]:find("^failed: prod/u1/42 %(HTTP 400%) mapper_parsing_exception: bad count"), v.items[4])
  -- whole-request failures retry, with Retry-After; a 401 names the credentials
  local r = es.response({ status = 429, kind = "bulk", retry_after = "7", body = "" }, items, conf(), state)
  assert(r.result == "retry" and r.after == 7)
  r = es.response({ status = 401, kind = "bulk", body = "{}" }, items, conf(), state)
  assert(r.result == "retry" and r.message:find("credentials", 1, true))
  -- a step in flight holds further requests back
  local busy = { name = "t", step = "probe" }
  assert(es.request(items, conf(), busy) == nil)
  -- auth headers: basic, ApiKey (id:key is encoded), bearer; the pipeline parameter
  local function header(c)
    local _, b = steps(c, { number = "8.15.0" })
    for _, h in ipairs(b.headers) do if h:find("^Authorization: ") then return h, b end end
  end
  assert(header(conf({ auth = { user = "u", password = "p" } })) == "Authorization: Basic dTpw")
  assert(header(conf({ auth = { api_key = "id:key" } })) == "Authorization: ApiKey aWQ6a2V5")
  assert(header(conf({ auth = { api_key = "aWQ6a2V5" } })) == "Authorization: ApiKey aWQ6a2V5")
  local hb, bp = header(conf({ auth = { bearer = "tok" }, pipeline = "k8s-events" }))
  assert(hb == "Authorization: Bearer tok" and bp.url:find("&pipeline=k8s-events", 1, true))
  -- several nodes: a failed connection moves to the next one
  local c2 = conf({ url = { "http://es-a:9200", "http://es-b:9200" } })
  local st = { name = "t", server = { dist = "opensearch", major = 2, minor = 19 }, template = "ok" }
  assert(es.request({ item() }, c2, st).url:find("^http://es%-a:9200/"))
  es.response({ status = 0, error = "Connection refused", kind = "bulk" }, { item() }, c2, st)
  assert(es.request({ item() }, c2, st).url:find("^http://es%-b:9200/"))
  -- options are checked
  local bad = { url = { "es:9200" }, index = "x", shape = "herald", concurrency = 1 }
  assert(es.init(bad):find("http://", 1, true))
  return true
end

route { to = "pass", when = function(ev) return checks() end }

example {
  name = "the elasticsearch protocol choices hold",
  event = { reason = "X", involvedObject = { kind = "Pod", name = "p" } },
  reaches = { "pass" },
}
