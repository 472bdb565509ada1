-- sinks.stdout: one JSON line per event on standard output: the event as
-- routed (normalised, with `cluster`), for people and for other tools.
--
--   sink "stdout" { type = "stdout" }
return {
  output = "stdout",
  options = {},
  defaults = {
    batch = { events = 100, bytes = 1048576, wait_ms = 0 },  -- written at once
    queue = { events = 10000, bytes = 16777216 },
  },
}
