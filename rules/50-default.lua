-- rules/*.lua decide which sinks get each event. Files load in name order;
-- within a file, rules apply top to bottom. Every matching `route` adds its
-- sinks; a matching `drop` ends the event's journey (sinks added by earlier
-- routes keep it).
--
-- The default: everything to standard output.
route { to = "stdout" }

-- With the archive and oncall sinks of sinks.lua, the setup herald is
-- built for reads:
--
-- drop  { type = "Normal", reason = { "Pulled", "Created", "Started" } }
-- route { to = "archive" }
-- route { to = "oncall", when = { type = "Warning" }, unless = { namespace = "sandbox-*" } }
-- route { to = "oncall", when = function(ev) return ev.count >= 10 end }

example {
  name = "every event reaches stdout",
  event = { type = "Normal", reason = "Scheduled",
            involvedObject = { kind = "Pod", namespace = "default", name = "web-0" } },
  reaches = { "stdout" },
}
