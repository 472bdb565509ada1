-- sinks.kafka: every routed event as one record in a Kafka topic, through
-- librdkafka (the kafka output).
--
--   sink "log" {
--     type        = "kafka",
--     brokers     = { "kafka-0:9092", "kafka-1:9092" },
--     topic       = "k8s-events-{cluster}",         -- {cluster}, {namespace}
--     compression = "zstd",                          -- zstd, lz4, gzip, snappy, none
--     sasl        = { mechanism = "SCRAM-SHA-512", user = "herald", password = secret "kafka-password" },
--     ca_file     = "/etc/herald/kafka-ca.pem",      -- TLS (or tls = true for the system CAs)
--     properties  = { ["message.timeout.ms"] = 600000 },   -- any librdkafka property
--   }
--
-- Record: key <cluster>/<namespace>/<involved object uid> (one object's
-- events stay in order in one partition; key = function(ev) changes it),
-- value the herald document (shape = "kube-eventer" for kube-eventer's
-- Kafka record, or document = function(ev)), headers cluster, type and
-- reason. An event counts as delivered on its delivery report (acks = all
-- and the idempotent producer by default); retriable failures are sent
-- again with backoff, permanent ones (too large, not authorised) are logged,
-- counted and written to dead_letter. Every property is checked by
-- librdkafka itself when the configuration loads (`herald check`).
local json = require "herald.json"
local time = require "herald.time"
local documents = require "herald.documents"
local event = require "herald.event"
local kafka = require "herald.kafka"

local M = {
  output = "kafka",
  options = {
    brokers = { kind = "strings", required = true, placeholder = "placeholder.invalid:9092",
      doc = "`host:port`, or a list of them (`bootstrap.servers`)" },
    topic = { kind = "string", default = "k8s-events",
      doc = "may use {cluster} and {namespace} (characters Kafka refuses become -)" },
    key = { kind = "function",
      doc = "function(ev) returning the key (nil: no key); default <cluster>/<namespace>/<involved object uid>" },
    shape = { kind = "string", default = "herald",
      doc = "the value: the herald document (as the elasticsearch sink's), or \"kube-eventer\" (kube-eventer's Kafka record: EventValue the Event as a JSON string, EventTimestamp, EventTags)" },
    document = { kind = "function", doc = "function(ev) returning a table: the value, as JSON" },
    cluster_name = { kind = "string", doc = "kube-eventer shape: EventTags.cluster_name (default: the cluster)" },
    acks = { kind = "string", default = "all", doc = "\"all\", \"1\" or \"0\"; anything but \"all\" needs idempotence = false" },
    idempotence = { kind = "boolean", default = true,
      doc = "the idempotent producer: librdkafka's retries never duplicate or reorder" },
    compression = { kind = "string", default = "none", doc = "zstd, lz4, gzip, snappy, none" },
    linger = { kind = "duration", default = "5ms", doc = "how long librdkafka waits to fill a batch (linger.ms)" },
    tls = { kind = "boolean", default = false, doc = "TLS with the system CAs (ca_file or cert_file imply TLS)" },
    ca_file = { kind = "string", doc = "CA certificates (PEM)" },
    cert_file = { kind = "string", doc = "client certificate (PEM)" },
    key_file = { kind = "string", doc = "its key (PEM)" },
    insecure = { kind = "boolean", default = false, doc = "TLS without verifying the broker's certificate or name" },
    sasl = { kind = "table",
      doc = "{ mechanism = \"PLAIN\" | \"SCRAM-SHA-256\" | \"SCRAM-SHA-512\", user, password } (over TLS when TLS is on)" },
    properties = { kind = "table", doc = "{ [\"librdkafka.property\"] = value }, passed through last (they win)" },
    dead_letter = { kind = "string", doc = "a file for records refused for good (JSON lines)" },
  },
  -- batch: librdkafka's batch.num.messages and batch.size (records go to
  -- librdkafka at once; it lingers). queue: records held before the
  -- sources pause, and also the most handed to librdkafka at once.
  defaults = {
    batch = { events = 10000, bytes = 1000000, wait_ms = 0 },
    queue = { events = 20000, bytes = 33554432 },
  },
}

local COMPRESSION = { zstd = true, lz4 = true, gzip = true, snappy = true, none = true }
local ACKS = { all = "all", ["-1"] = "all", ["1"] = "1", ["0"] = "0" }
local MECHANISMS = { PLAIN = true, ["SCRAM-SHA-256"] = true, ["SCRAM-SHA-512"] = true }

local v = event.value

-- kube-eventer's Kafka record: the Event as a JSON string, when it was
-- last seen, and its tags.
local function kube_eventer(ev, conf)
  local o = type(ev.involvedObject) == "table" and ev.involvedObject or {}
  local src = type(ev.source) == "table" and ev.source or {}
  local copy = {}
  for _, k in ipairs({ "metadata", "involvedObject", "reason", "message", "source", "firstTimestamp",
                       "lastTimestamp", "count", "type", "eventTime", "action", "reportingComponent",
                       "reportingInstance" }) do
    copy[k] = ev[k]
  end
  local tags = { eventID = event.uid(ev), hostname = v(src.host) or "",
                 cluster_name = conf.cluster_name or ev.cluster }
  if o.kind == "Pod" then
    tags.pod_id = v(o.uid)
    tags.pod_name = v(o.name)
  end
  local last = time.parse(ev.lastTimestamp)
  return {
    EventValue = json.encode(copy),
    EventTimestamp = last and time.format_utc("%Y-%m-%dT%H:%M:%SZ", last) or "0001-01-01T00:00:00Z",
    EventTags = tags,
  }
end

local SHAPES = { herald = documents.herald, ["kube-eventer"] = kube_eventer }

-- Kafka topic names: letters, digits, '.', '_', '-'.
local function topic_safe(s)
  return (tostring(s or "none"):gsub("[^%w%._%-]", "-"))
end

-- One line of the record's head: no line breaks.
local function line(s)
  return (tostring(s or ""):gsub("[\r\n]", " "))
end

local function str(x)
  if type(x) == "boolean" then return x and "true" or "false" end
  if math.type(x) == "float" and x == math.floor(x) then return ("%d"):format(x) end
  return tostring(x)
end

-- The librdkafka properties of conf, as a list name, value, name, ...
local function properties(conf)
  local p = {}
  local function set(name, value) p[#p + 1] = name; p[#p + 1] = str(value) end
  set("bootstrap.servers", table.concat(conf.brokers, ","))
  set("acks", conf.acks)
  set("enable.idempotence", conf.idempotence)
  set("compression.type", conf.compression)
  set("linger.ms", conf.linger)
  local tls = conf.tls or conf.ca_file ~= nil or conf.cert_file ~= nil
  local sasl = conf.sasl
  set("security.protocol", (sasl and "sasl_" or "") .. (tls and "ssl" or "plaintext"))
  if conf.ca_file then set("ssl.ca.location", conf.ca_file) end
  if conf.cert_file then set("ssl.certificate.location", conf.cert_file) end
  if conf.key_file then set("ssl.key.location", conf.key_file) end
  if conf.insecure then
    set("enable.ssl.certificate.verification", false)
    set("ssl.endpoint.identification.algorithm", "none")
  end
  if sasl then
    set("sasl.mechanisms", sasl.mechanism)
    set("sasl.username", sasl.user)
    set("sasl.password", sasl.password)
  end
  local names = {}
  for k in pairs(conf.properties or {}) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do set(k, conf.properties[k]) end
  return p
end

function M.init(conf)
  if conf.brokers == nil then return end   -- already reported: brokers is required
  if #conf.brokers == 0 then return "brokers must name at least one broker (host:port)" end
  if conf.topic == "" then return "topic must not be empty" end
  if not SHAPES[conf.shape] then return "shape must be \"herald\" or \"kube-eventer\"" end
  if not COMPRESSION[conf.compression] then
    return ("compression %q: use zstd, lz4, gzip, snappy or none"):format(conf.compression)
  end
  conf.acks = ACKS[conf.acks]
  if not conf.acks then return "acks must be \"all\", \"1\" or \"0\"" end
  if conf.acks ~= "all" and conf.idempotence then
    return ("acks = %q needs idempotence = false (the idempotent producer needs acks = \"all\")"):format(conf.acks)
  end
  if (conf.cert_file == nil) ~= (conf.key_file == nil) then return "cert_file and key_file go together" end
  if conf.sasl then
    local s = conf.sasl
    for k in pairs(s) do
      if k ~= "mechanism" and k ~= "user" and k ~= "password" then
        return ("sasl: unknown field %q (sasl takes mechanism, user, password)"):format(tostring(k))
      end
    end
    s.mechanism = s.mechanism or "PLAIN"
    if not MECHANISMS[s.mechanism] then
      return ("sasl.mechanism %q: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"):format(tostring(s.mechanism))
    end
    if type(s.user) ~= "string" or type(s.password) ~= "string" then
      return "sasl needs user and password (strings; the password through secret \"name\")"
    end
  end
  for k, x in pairs(conf.properties or {}) do
    if type(k) ~= "string" or (type(x) ~= "string" and type(x) ~= "number" and type(x) ~= "boolean") then
      return "properties: write { [\"librdkafka.property\"] = value } with a string, number or boolean value"
    end
  end
  conf.topic_template = conf.topic:find("{", 1, true) ~= nil
  conf.librdkafka = properties(conf)
  local err, at = kafka.check(conf.librdkafka)
  if err then
    if at then return ("librdkafka refuses property %q: %s"):format(conf.librdkafka[2 * at - 1], err) end
    return "librdkafka refuses the properties: " .. err
  end
end

local function key_of(ev, conf)
  if conf.key then
    local k = conf.key(ev)
    if k == nil then return "" end
    return line(k)
  end
  local o = type(ev.involvedObject) == "table" and ev.involvedObject or {}
  return line(("%s/%s/%s"):format(ev.cluster or "", event.namespace(ev) or "", v(o.uid) or ""))
end

-- The record: topic, key and headers one per line, an empty line, the value.
function M.encode(ev, conf)
  local doc = (conf.document or SHAPES[conf.shape])(ev, conf)
  if type(doc) ~= "table" then return nil, "document() must return a table" end
  local value, err = json.encode(doc)
  if not value then return nil, err end
  local topic = conf.topic
  if conf.topic_template then
    topic = topic:gsub("{cluster}", topic_safe(ev.cluster)):gsub("{namespace}", topic_safe(event.namespace(ev)))
  end
  return table.concat({
    line(topic), key_of(ev, conf),
    "cluster:" .. line(ev.cluster), "type:" .. line(v(ev.type)), "reason:" .. line(v(ev.reason)),
    "", value,
  }, "\n")
end

return M
