-- herald.event.problem: which decoded records are Events (issue 12.7). An
-- involvedObject given as an array, or a metadata given as a number, is not
-- one: the record gets a counted skip reason, never a Lua traceback. A
-- failed assert here fails `herald check` on this suite.
local event = require "herald.event"
local problem = event.problem
local obj = { kind = "Pod", name = "p" }

assert(problem({ involvedObject = obj }) == nil)
assert(problem({ regarding = obj, metadata = { uid = "u" } }) == nil)
assert(problem({ involvedObject = obj, metadata = json.null }) == nil)
assert(problem({ involvedObject = { obj } }) == "not a Kubernetes Event (involvedObject is not an object)")
assert(problem({ involvedObject = json.array({}) }) == "not a Kubernetes Event (involvedObject is not an object)")
assert(problem({ involvedObject = "Pod/p" }) == "not a Kubernetes Event (involvedObject is not an object)")
assert(problem({ regarding = { 1, 2 } }) == "not a Kubernetes Event (regarding is not an object)")
assert(problem({ involvedObject = obj, metadata = 5 }) == "not a Kubernetes Event (metadata is not an object)")
assert(problem({ involvedObject = obj, metadata = { "x" } }) == "not a Kubernetes Event (metadata is not an object)")
assert(problem({ reason = "x" }) == "not a Kubernetes Event (no involvedObject)")
assert(problem({ involvedObject = json.null }) == "not a Kubernetes Event (no involvedObject)")
assert(problem({ obj }) == "not a JSON object")
assert(problem("x") == "not a JSON object")
-- Decoded from text, as the runtime sees records.
assert(problem(json.decode('{"involvedObject":[{"kind":"Pod"}],"metadata":{}}')) ~= nil)
assert(problem(json.decode('{"involvedObject":{"kind":"Pod"},"metadata":7}')) ~= nil)
assert(problem(json.decode('{"involvedObject":{"kind":"Pod"},"metadata":{"uid":"u"}}')) == nil)
