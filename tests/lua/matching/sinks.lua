-- Rule semantics, checked by `herald check` through the rule examples.
sink "archive" { type = "null" }
sink "oncall"  { type = "null" }
sink "nodes"   { type = "null" }
sink "loud"    { type = "null" }
sink "paths"   { type = "null" }
