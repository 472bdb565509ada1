-- Normalisation, checked through the examples: rules see one shape.
sink "seen" { type = "null" }
