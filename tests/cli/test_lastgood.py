"""The last good configuration: each configuration that validates is kept
in the state dir; a start with broken files runs that copy and reports the
refusal as a refused reload is (log with file:line, /status, metrics); the
next change to the files is picked up; putting back the configuration in
force clears "refused" at once."""
import json

from conftest import herald
from test_reload import ConfigMapVolume, Running, event_line, wait_file

BROKEN = 'route { to = "c" }\n'


def make(tmp_path):
    cfg = tmp_path / "config"
    cfg.mkdir()
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    (cfg / "sinks.lua").write_text(f'sink "a" {{ type = "file", path = "{a}", batch = {{ wait = 0 }} }}\n'
                                   f'sink "b" {{ type = "file", path = "{b}", batch = {{ wait = 0 }} }}\n')
    rules = ConfigMapVolume(tmp_path / "rules", {"10-route.lua": 'route { to = "a" }\n'})
    state = tmp_path / "state"
    state.mkdir()
    return cfg, rules, a, b, state


def status(h):
    code, body = h.get("/status")
    assert code == 200
    return json.loads(body)


def test_without_a_last_good_copy_broken_files_still_stop_herald(tmp_path):
    cfg, rules, a, b, state = make(tmp_path)
    rules.update({"10-route.lua": BROKEN})
    r = herald("--config", cfg, "--rules-dir", rules.root, "--from", "-", "--state-dir", state, input="")
    assert r.code == 1, r
    assert f'{rules.root}/10-route.lua:1: unknown sink "c"' in r.err
    assert not (state / "lastgood").exists()


def test_a_broken_start_runs_the_last_good_copy_until_the_files_are_fixed(tmp_path):
    cfg, rules, a, b, state = make(tmp_path)
    h = Running(cfg, rules.root, "--state-dir", state)
    assert h.close() == 0
    assert (state / "lastgood" / "rules" / "10-route.lua").read_text() == 'route { to = "a" }\n'
    assert (state / "lastgood" / "sinks.lua").read_text() == (cfg / "sinks.lua").read_text()

    rules.update({"10-route.lua": BROKEN})
    h = Running(cfg, rules.root, "--state-dir", state)
    line = h.wait_log('unknown sink "c"')
    assert f"{rules.root}/10-route.lua:1:" in line, line
    h.wait_log("configuration refused; herald runs the last good one")
    h.send(event_line("through-last-good"))
    assert [e["metadata"]["uid"] for e in wait_file(a, 1)] == ["through-last-good"]
    m = h.metrics()
    assert m[("herald_config_rejected", ())] == 1
    assert m[("herald_config_reloads_total", (("result", "refused"),))] == 1
    st = status(h)
    assert st["config"]["state"] == "refused" and st["config"]["last_good"] is True
    assert any('10-route.lua:1: unknown sink "c"' in r for r in st["config"]["refused"]), st
    # broken copy kept: the last good one is still the old one
    assert (state / "lastgood" / "rules" / "10-route.lua").read_text() == 'route { to = "a" }\n'

    # fixing the files switches over, and the fix becomes the last good copy
    rules.update({"10-route.lua": 'route { to = "b" }\n'})
    h.wait_log("configuration reloaded", timeout=15)
    h.send(event_line("through-fix"))
    assert [e["metadata"]["uid"] for e in wait_file(b, 1)] == ["through-fix"]
    st = status(h)
    assert st["config"]["state"] == "ok" and st["config"]["last_good"] is False
    assert h.metrics()[("herald_config_rejected", ())] == 0
    assert (state / "lastgood" / "rules" / "10-route.lua").read_text() == 'route { to = "b" }\n'

    # a refused reload, then the configuration in force put back: cleared at once
    rules.update({"10-route.lua": BROKEN})
    h.wait_log("reload refused; the previous configuration keeps running", timeout=15)
    assert status(h)["config"]["state"] == "refused"
    rules.update({"10-route.lua": 'route { to = "b" }\n'})
    h.wait_log("the refusal is cleared", timeout=15)
    assert status(h)["config"]["state"] == "ok"
    assert h.metrics()[("herald_config_rejected", ())] == 0
    assert h.close() == 0
    assert len(wait_file(a, 1)) == 1
