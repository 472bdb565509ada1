-- A when function walks ev.metadata and ev.metadata.annotations with pairs
-- through the read-only view. The example below runs on a plain table
-- (`herald check`); lua.lazyview-replay in tests/CMakeLists.txt replays
-- events.jsonl, whose metadata json.decode_lazy leaves undecoded until read:
-- every event must reach "annotations" and "metadata", none "missed".
sink "annotations" { type = "null" }
sink "metadata"    { type = "null" }
sink "missed"      { type = "null" }
