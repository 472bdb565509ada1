"""herald replay: routes of recorded events, what each sink would get, and
bad input skipped with its line, never a crash."""
import json
import re
import time

import pytest

from conftest import FIXTURES, SOURCE, herald

LIST = FIXTURES / "events-list.json"
DESIGN = SOURCE / "tests" / "config" / "design-example"


def items():
    return json.loads(LIST.read_text())["items"]


def test_json_routes_with_the_default_config():
    r = herald("replay", "--config", SOURCE, "--json", LIST)
    assert r.code == 0, r
    got = r.json_lines()
    want = items()
    assert [g["uid"] for g in got] == [e["metadata"]["uid"] for e in want]
    assert [g["reason"] for g in got] == [e["reason"] for e in want]
    assert all(g["routes"] == ["stdout"] for g in got)
    assert set(got[0]) == {"uid", "namespace", "reason", "routes"}
    # namespace: the involved object's, else the Event's own (Nodes)
    assert [g["namespace"] for g in got][8] == "default"


def test_json_routes_with_the_design_example_rules():
    r = herald("replay", "--config", DESIGN, "--json", LIST)
    assert r.code == 0, r
    routes = [(g["reason"], g["namespace"], g["routes"]) for g in r.json_lines()]
    both = ["archive", "oncall"]
    assert routes == [
        ("Scheduled", "shop", ["archive"]),
        ("Pulled", "shop", []),                  # dropped as noise
        ("Created", "shop", []),
        ("Started", "shop", []),
        ("BackOff", "payments", both),           # Warning
        ("BackOff", "payments", both),           # its repeats are routed too
        ("BackOff", "payments", both),
        ("FailedScheduling", "analytics", both),
        ("OOMKilling", "default", both),
        ("Unhealthy", "shop", both),
        ("FailedMount", "data", both),
        ("NodeNotReady", "default", ["archive"]),
        ("BackOff", "sandbox-alice", ["archive"]),  # unless namespace = "sandbox-*"
        ("RELOAD", "ingress", both),             # Normal, but series.count 12 >= 10
    ], r


def test_same_routes_from_json_lines_watch_events_and_stdin():
    a = herald("replay", "--config", DESIGN, "--json", LIST).json_lines()
    b = herald("replay", "--config", DESIGN, "--json", FIXTURES / "events.jsonl").json_lines()
    w = herald("replay", "--config", DESIGN, "--json", FIXTURES / "watch.jsonl")
    s = herald("replay", "--config", DESIGN, "--json", "-", input=(FIXTURES / "events.jsonl").read_text())
    assert w.code == 0 and s.code == 0, (w, s)
    assert b[:14] == a  # events.jsonl adds one events.k8s.io/v1 object at the end
    assert w.json_lines() == a  # BOOKMARK and DELETED route nothing
    assert s.json_lines() == b
    assert b[14] == {"uid": "ae1f2a3b-4c5d-4e6f-9a7b-8c9d0e1f2a34", "namespace": "cert-manager",
                     "reason": "Failed", "routes": ["archive", "oncall"]}


def test_text_shows_what_each_sink_would_get():
    r = herald("replay", "--config", DESIGN, "--cluster-name", "ack-prod", FIXTURES / "series-event.json")
    assert r.code == 0, r
    lines = r.out.splitlines()
    assert lines[0] == ("line 1: Normal RELOAD Pod ingress/ingress-nginx-controller-7b9c "
                        "(uid 9c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e12) -> archive, oncall"), r
    assert lines[1].startswith("  archive would get: {")
    doc = json.loads(lines[1].split("would get: ", 1)[1])
    assert doc["cluster"] == "ack-prod"
    assert doc["count"] == 12
    assert doc["lastTimestamp"] == "2026-11-20T08:14:21.654321Z"
    assert doc["firstTimestamp"] == "2026-11-20T08:10:00.123456Z"
    assert doc["involvedObject"]["name"] == "ingress-nginx-controller-7b9c"
    assert doc["metadata"]["uid"] == "9c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e12"
    assert doc["eventTime"] == "2026-11-20T08:10:00.123456Z"
    assert lines[2].startswith("  oncall would get: {")
    assert "replay: 1 event routed, 0 records or items skipped" in r.err


def test_dropped_events_say_by_which_rule():
    r = herald("replay", "--config", DESIGN, LIST)
    assert f"Normal Pulled Pod shop/web-7d4b9c6f5-x2x9k" in r.out
    assert f"-> dropped by {DESIGN}/rules/10-routing.lua:1" in r.out, r


def test_malformed_lines_are_reported_and_skipped():
    r = herald("replay", "--config", SOURCE, "--json", FIXTURES / "malformed.jsonl")
    assert r.code == 3, r
    assert [g["reason"] for g in r.json_lines()] == ["BackOff", "Unhealthy"]
    src = FIXTURES / "malformed.jsonl"
    for line, why in [(2, "malformed JSON (cut short)"), (3, "not a JSON object"), (4, "not a JSON object"),
                      (5, "not a JSON object"), (6, "malformed JSON"), (7, "not a Kubernetes Event"),
                      (8, "invalid UTF-8"), (9, "malformed JSON (cut short)")]:
        assert f"{src}:{line}: record skipped: {why}" in r.err, (line, why, r)
    assert "replay: 2 events routed, 8 records or items skipped" in r.err


def test_a_10mb_message_is_skipped_not_fatal(tmp_path):
    good = (FIXTURES / "events.jsonl").read_text().splitlines()[4]
    huge = json.loads(good)
    huge["message"] = "x" * (10 << 20)
    huge["metadata"]["uid"] = "huge"
    path = tmp_path / "huge.jsonl"
    path.write_text(good + "\n" + json.dumps(huge) + "\n" + good + "\n")
    start = time.monotonic()
    r = herald("replay", "--config", SOURCE, "--json", path)
    assert time.monotonic() - start < 20
    assert r.code == 3, r
    assert [g["uid"] for g in r.json_lines()] == ["6b2e9c1d-7f3a-4b5c-8d9e-0a1b2c3d4e05"] * 2
    assert f"{path}:2: record skipped: a field is longer than 1048576 bytes" in r.err, r


def test_a_50mb_field_is_too_large_not_malformed(tmp_path):
    # Regression (issue 12.7): decoding a 50 MB string ran out of the
    # memory budget and was counted as malformed ("not enough memory").
    good = (FIXTURES / "events.jsonl").read_text().splitlines()[4]
    huge = json.loads(good)
    huge["message"] = "z" * (50 << 20)
    doc = json.loads(LIST.read_text())
    doc["items"][2]["message"] = "w\\n" * (15 << 20)
    path = tmp_path / "huge.jsonl"
    path.write_text(json.dumps(huge) + "\n" + good + "\n" + json.dumps(doc) + "\n")
    r = herald("replay", "--config", SOURCE, "--json", path, timeout=120)
    assert r.code == 3, r
    assert f"{path}:1: record skipped: a field is longer than 1048576 bytes" in r.err, r
    assert f"{path}:3: List item 3 skipped: a field is longer than 1048576 bytes" in r.err, r
    assert "malformed" not in r.err and "memory" not in r.err, r
    assert len(r.json_lines()) == 1 + 13


def test_an_oversize_item_in_a_list_skips_that_item_only(tmp_path):
    doc = json.loads(LIST.read_text())
    doc["items"][1]["message"] = "y" * (2 << 20)
    path = tmp_path / "list.json"
    path.write_text(json.dumps(doc, indent=4))
    r = herald("replay", "--config", SOURCE, "--json", path)
    assert r.code == 3, r
    assert len(r.json_lines()) == 13
    assert f"{path}:1: List item 2 skipped: a field is longer than 1048576 bytes" in r.err, r


def test_a_cut_list_is_reported(tmp_path):
    text = LIST.read_text()
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) // 2])
    r = herald("replay", "--config", SOURCE, "--json", path)
    assert r.code == 3, r
    assert f"{path}:1: record skipped: malformed JSON (cut short)" in r.err, r


def test_deep_records_with_empty_arrays_are_routed_not_a_crash(tmp_path):
    # Regression (issue 12.1): ~95 nested arrays around [] aborted herald.
    good = json.loads((FIXTURES / "events.jsonl").read_text().splitlines()[4])
    lines = []
    for depth, (open_, close) in enumerate([("[", "]"), ("[[],", "]"), ('{"a":', "}")] * 3):
        ev = dict(good, metadata=dict(good["metadata"], uid=f"deep{depth}"))
        text = json.dumps(ev)
        n = 90 + depth
        lines.append(text[:-1] + ', "x": ' + open_ * n + "[]" + close * n + "}")
    # A key that looked like herald's old empty-array marker is an ordinary key.
    marker = dict(good, metadata=dict(good["metadata"], uid="marker"))
    lines.append(json.dumps(marker)[:-1] + ', "y": {"\\u0000herald:[]": 0, "z": []}}')
    path = tmp_path / "deep.jsonl"
    path.write_text("\n".join(lines) + "\n")
    r = herald("replay", "--config", SOURCE, "--json", path)
    assert r.code == 0, r
    assert [g["uid"] for g in r.json_lines()] == [f"deep{i}" for i in range(9)] + ["marker"]


def test_an_array_involved_object_or_a_number_metadata_is_a_counted_skip(tmp_path):
    good = json.loads((FIXTURES / "events.jsonl").read_text().splitlines()[4])
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(dict(good, metadata=5)) + "\n"
                    + json.dumps(dict(good, involvedObject=[good["involvedObject"]])) + "\n"
                    + json.dumps(good) + "\n")
    r = herald("replay", "--config", SOURCE, "--json", path)
    assert r.code == 3, r
    assert f"{path}:1: record skipped: not a Kubernetes Event (metadata is not an object)" in r.err, r
    assert f"{path}:2: record skipped: not a Kubernetes Event (involvedObject is not an object)" in r.err, r
    assert "runtime.lua" not in r.err and len(r.json_lines()) == 1, r


def test_budgets_stop_rules_and_the_event_goes_on(config):
    config.sinks('sink "a" { type = "null" }\nsink "b" { type = "null" }\nsink "c" { type = "null" }\n')
    config.rule("10.lua", """\
        route { to = "b", when = function(ev) while true do end end }
        route { to = "c", when = function(ev) local s = "x" for i = 1, 40 do s = s .. s end return true end }
        route { to = "b", when = function(ev) pcall(function() while true do end end) return true end }
        route { to = "c", when = { reason = function(r) return string.rep("x", 1 << 30) == r end } }
        route { to = "a" }
    """)
    start = time.monotonic()
    r = herald("replay", "--config", config, "--json", FIXTURES / "events.jsonl", timeout=120)
    elapsed = time.monotonic() - start
    assert r.code == 0, r
    got = r.json_lines()
    assert len(got) == 15
    assert all(g["routes"] == ["a"] for g in got), r
    rules = f"{config}/rules/10.lua"
    # Each rule overruns a budget (instructions or time: whichever comes
    # first; the time budget counts CPU time, so sanitizers may reach it
    # first) three times in a row, then is disabled until the next reload.
    for line, what in ((1, "(instruction|time) budget exceeded"), (2, "memory budget exceeded"),
                       (3, "(instruction|time) budget exceeded"), (4, "memory budget exceeded")):
        assert len(re.findall(f"rule error: {re.escape(rules)}:{line}: {what}", r.err)) == 3, r
        assert r.err.count(f"rule error: {rules}:{line}: disabled until the next reload") == 12, r
        assert r.err.count(f"lua: {rules}:{line} disabled until the next reload") == 1, r
    assert elapsed < 60


def test_usage_errors():
    assert herald("replay", "--config", SOURCE).code == 2
    assert herald("replay", "--config", SOURCE, "a", "b").code == 2
    assert herald("frobnicate").code == 2
    assert herald("--no-such-flag").code == 2
    assert herald("--log-level", "loud", "check").code == 2
    r = herald("replay", "--config", SOURCE, "/nonexistent/file.json")
    assert r.code == 4, r
    assert "/nonexistent/file.json: No such file or directory" in r.err


def test_help_and_version():
    r = herald("--help")
    assert r.code == 0 and "herald replay" in r.out and "exit codes" in r.out
    r = herald("--version")
    assert r.code == 0 and r.out.startswith("herald ")


def test_replay_needs_no_env_and_no_secret_files():
    # The README's ES + DingTalk setup without ES_URL or secret files (a CI
    # runner): replay used to stop at the first missing secret. It sends
    # nothing, so placeholders do.
    config = SOURCE / "tests" / "config" / "es-dingtalk"
    r = herald("replay", "--config", config, "--secrets-dir", "/nonexistent/herald-secrets", LIST)
    assert r.code == 0, r
    assert "(a placeholder is used for this replay, which sends nothing)" in r.err, r
    assert "error" not in r.err, r
    assert "-> archive, oncall" in r.out and "archive would get: k8s-events-default-2026.11.20" in r.out, r
    assert "oncall would send 5 messages" in r.out, r
    j = herald("replay", "--config", config, "--secrets-dir", "/nonexistent/herald-secrets", "--json", LIST)
    assert j.code == 0, j
    assert [g["routes"] for g in j.json_lines()][4] == ["archive", "oncall"], j
