-- Owners and labels: rules that match them, checked as `herald check` runs
-- examples (an example's event carries owner and labels as enrichment
-- would set them).
sink "payments" { type = "null" }
sink "web" { type = "null" }
sink "archive" { type = "null" }
sink "shown" { type = "null" }
