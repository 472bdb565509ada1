-- `unless` without `when` (issue 12 item 8), checked by `herald check`
-- through the rule examples: each direction has an example, so a rule
-- that ignored its `unless` (or read it as `when`) fails the suite.
sink "main" { type = "null" }
sink "fn"   { type = "null" }
