-- sinks.file: one JSON line per event appended to a file, rotated by size.
--
--   sink "local" {
--     type = "file",
--     path = "/var/log/herald/events.jsonl",
--     max_bytes = "100MiB",   -- rotate before the file would grow past this
--     keep = 5,               -- rotated files kept: path.1 (newest) .. path.5
--   }
return {
  output = "file",
  options = {
    path = { kind = "string", required = true, doc = "the file events are appended to, one JSON line each" },
    max_bytes = { kind = "size", default = "100MiB", doc = "rotate before the file would grow past this (at least 4KiB)" },
    keep = { kind = "number", default = 5, doc = "rotated files kept: path.1 (newest) .. path.N (0 to 1000)" },
  },
  defaults = {
    batch = { events = 500, bytes = 1048576, wait_ms = 1000 },
    queue = { events = 10000, bytes = 16777216 },
  },
  init = function(conf)
    if conf.path == "" then return "path must not be empty" end
    if math.type(conf.keep) ~= "integer" or conf.keep < 0 or conf.keep > 1000 then
      return "keep must be a whole number from 0 to 1000"
    end
    if conf.max_bytes < 4096 then return "max_bytes must be at least 4KiB" end
  end,
}
