-- sinks.null: accepts events and discards them. For trying rules, and for
-- measuring herald without any output cost.
--
--   sink "nowhere" { type = "null" }
return {
  output = "null",
  options = {},
  encode = function() return "" end,
  defaults = {
    batch = { events = 1000, bytes = 1048576, wait_ms = 0 },
    queue = { events = 10000, bytes = 16777216 },
  },
}
