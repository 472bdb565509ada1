-- herald's Lua helpers (scripts/herald/*), checked through rule examples.
sink "pass" { type = "null" }
