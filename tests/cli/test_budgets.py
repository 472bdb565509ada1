"""Time budgets (issue 12.2): a template or rule that is cheap in
instructions but costly in time is stopped within its time budget, a
function that keeps overrunning is disabled until the next reload, and the
loop (and /healthz) keeps answering meanwhile."""
import time

from conftest import FIXTURES, herald
from test_reload import Running

EVENTS = (FIXTURES / "events.jsonl").read_text()

RECURSE = """\
local function f(n) return 1 + f(n + 1) end
route { to = "out", when = function(ev) return f(1) end }
"""


def test_check_stops_a_runaway_template_and_rule_quickly(config):
    config.sinks('sink "out" { type = "null" }\n'
                 'sink "oncall" { type = "dingtalk", webhook = "http://127.0.0.1:9/robot/send?access_token=abc",\n'
                 '  render = function(g) local s = "" while true do s = s .. g.reason end end }\n')
    config.rule("10.lua", RECURSE + 'route { to = "oncall" }\n'
                'example { event = { type = "Warning", reason = "BackOff",\n'
                '  involvedObject = { kind = "Pod", name = "web-0" } }, reaches = "oncall" }\n')
    start = time.monotonic()
    r = herald("check", "--config", config, timeout=60)
    assert time.monotonic() - start < 5, r
    assert r.code != 0, r
    assert f"its template failed: {config}/sinks.lua:3: time budget exceeded (100 ms)" in r.err, r
    assert "rules/10.lua:1: time budget exceeded (10 ms)" in r.err, r


def test_a_rule_that_keeps_overrunning_is_disabled_and_healthz_answers(config, tmp_path):
    config.sinks('sink "out" { type = "null" }\n')
    config.rule("10.lua", RECURSE)
    run = Running(config, config.root / "rules")
    try:
        rules = f"{config}/rules/10.lua"
        run.send(EVENTS * 3)
        # Three overruns of 10 ms of CPU each (more on a busy machine), then
        # none: without a time budget each event cost about a second.
        for _ in range(20):
            t0 = time.monotonic()
            status, body = run.get("/healthz")
            assert status == 200 and time.monotonic() - t0 < 5
        run.wait_log(f"lua: {rules}:2 disabled until the next reload: it overran its budget 3 calls in a row")
        # Every later event fails at once instead of costing its budget again.
        run.wait_log(f"{rules}:2: disabled until the next reload", count=42)
        assert sum("time budget exceeded (10 ms)" in l for l in run.err) == 3
        assert sum("disabled until the next reload: it overran" in l for l in run.err) == 1
    finally:
        assert run.close() == 0


def test_a_template_in_a_rules_file_gets_the_template_budget(config):
    # Before core.guard_template, a `template` written in a rules file got
    # the rule budget (10 ms) like the rules around it.
    config.sinks('sink "oncall" { type = "dingtalk", webhook = "http://127.0.0.1:9/robot/send?access_token=abc" }\n')
    config.rule("10.lua", 'template "oncall" {\n'
                '  render = function(g) local s = "" while true do s = s .. g.reason end end }\n'
                'route { to = "oncall" }\n'
                'example { event = { type = "Warning", reason = "BackOff",\n'
                '  involvedObject = { kind = "Pod", name = "web-0" } }, reaches = "oncall" }\n')
    r = herald("check", "--config", config, timeout=60)
    assert r.code != 0, r
    assert f"its template failed: {config}/rules/10.lua:2: time budget exceeded (100 ms)" in r.err, r


def test_the_budgets_are_set_on_the_command_line(config):
    config.sinks('sink "out" { type = "null" }\n'
                 'sink "oncall" { type = "dingtalk", webhook = "http://127.0.0.1:9/robot/send?access_token=abc",\n'
                 '  render = function(g) local s = "" while true do s = s .. g.reason end end }\n')
    config.rule("10.lua", RECURSE + 'route { to = "oncall" }\n'
                'example { event = { type = "Warning", reason = "BackOff",\n'
                '  involvedObject = { kind = "Pod", name = "web-0" } }, reaches = "oncall" }\n')
    r = herald("check", "--config", config, "--rule-budget", "30ms", "--template-budget", "1s", timeout=60)
    assert r.code != 0, r
    assert f"its template failed: {config}/sinks.lua:3: time budget exceeded (1000 ms)" in r.err, r
    assert "rules/10.lua:1: time budget exceeded (30 ms)" in r.err, r
    # The flag wins over the environment variable.
    r = herald("check", "--config", config, "--rule-budget", "20ms", env={"HERALD_TIME_BUDGET": "40,50"},
               timeout=60)
    assert "rules/10.lua:1: time budget exceeded (20 ms)" in r.err, r
    assert f"{config}/sinks.lua:3: time budget exceeded (50 ms)" in r.err, r
    for bad in ("0", "2m", "61s", "fast"):
        r = herald("check", "--config", config, "--rule-budget", bad)
        assert r.code == 2 and "--rule-budget" in r.err, r
