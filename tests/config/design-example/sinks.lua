-- The routing of DESIGN.md (archive everything, page on Warnings), with
-- file sinks standing in for the elasticsearch and dingtalk sink types,
-- which arrive with their own issues. Used by the replay tests.
sink "archive" { type = "file", path = "/tmp/herald-design-example-archive.jsonl" }
sink "oncall"  { type = "file", path = "/tmp/herald-design-example-oncall.jsonl" }
