local time = require "herald.time"
local base64 = require "herald.base64"
local documents = require "herald.documents"

local function checks()
  -- time: RFC 3339 in every form Kubernetes writes, to UTC seconds
  assert(time.parse("1970-01-01T00:00:00Z") == 0)
  assert(time.parse("2026-11-20T08:05:00Z") == 1795161900)
  assert(time.parse("2026-11-20T16:05:00+08:00") == 1795161900)
  assert(time.parse("2026-11-20T03:05:00-05:00") == 1795161900)
  assert(math.abs(time.parse("2026-11-20T08:05:00.250000Z") - 1795161900.25) < 1e-6)
  assert(time.parse("2024-02-29T00:00:00Z") - time.parse("2024-02-28T00:00:00Z") == 86400)
  assert(time.parse("not a time") == nil and time.parse(nil) == nil)
  assert(time.format_utc("%Y.%m.%d", 1795161900) == "2026.11.20")
  assert(time.iso_utc(1795161900.25) == "2026-11-20T08:05:00.250Z")
  -- base64 (RFC 4648 test vectors)
  for plain, enc in pairs({ [""] = "", f = "Zg==", fo = "Zm8=", foo = "Zm9v", foob = "Zm9vYg==",
                            fooba = "Zm9vYmE=", foobar = "Zm9vYmFy" }) do
    assert(base64.encode(plain) == enc, plain)
  end
  -- documents: the default shape drops managedFields, keeps the identity
  local doc = documents.herald({
    cluster = "c", type = "Warning", reason = "BackOff", count = 3, message = "m",
    lastTimestamp = "2026-11-20T08:05:00Z", firstTimestamp = "2026-11-20T08:00:00Z",
    involvedObject = { kind = "Pod", name = "p", namespace = "n", resourceVersion = "9" },
    metadata = { name = "p.1", uid = "u", resourceVersion = "7", managedFields = { {} } },
  })
  assert(doc["@timestamp"] == "2026-11-20T08:05:00.000Z")
  assert(doc.metadata.managedFields == nil and doc.metadata.uid == "u")
  assert(doc.involvedObject.resourceVersion == nil and doc.involvedObject.kind == "Pod")
  local ke = documents.kube_eventer({ cluster = "c", count = 1, lastTimestamp = "2026-11-20T16:05:00+08:00",
    involvedObject = { kind = "Pod", name = "p", uid = "pu" }, source = { host = "node-1" },
    metadata = { uid = "u" } })
  assert(ke.LastOccurrenceTimestamp == "2026-11-20T08:05:00Z")
  assert(ke.EventTags.cluster_name == "c" and ke.EventTags.pod_name == "p" and ke.EventTags.hostname == "node-1")
  return true
end

route { to = "pass", when = function(ev) return checks() end }

example {
  name = "the helpers behave",
  event = { reason = "X", involvedObject = { kind = "Pod", name = "p" } },
  reaches = { "pass" },
}
