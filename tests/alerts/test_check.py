"""herald check on alert sinks: bad options and broken templates are
errors with file and line, before anything runs."""
import subprocess

from conftest import BIN


def check(tmp_path, sinks, rules):
    config = tmp_path / "config"
    (config / "rules").mkdir(parents=True)
    (config / "sinks.lua").write_text(sinks)
    (config / "rules" / "10.lua").write_text(rules)
    return subprocess.run([BIN, "check", "--config", str(config)], capture_output=True, text=True, timeout=30)


ONCALL = 'sink "oncall" { type = "dingtalk", webhook = env "DT", %s }\n'
ROUTE = 'route { to = "oncall" }\n'
EXAMPLE = '''example { event = { type = "Warning", reason = "BackOff",
                    involvedObject = { kind = "Pod", name = "web-0" } }, reaches = "oncall" }
'''


def test_a_template_that_fails_on_an_example_fails_the_check(tmp_path):
    out = check(tmp_path, ONCALL % "", ROUTE + 'template "oncall" { render = function(g) return g.nope.x end }\n' + EXAMPLE)
    assert out.returncode != 0
    assert "rules/10.lua:3: example failed: reaches oncall, but its template failed:" in out.stderr
    assert "attempt to index a nil value" in out.stderr


def test_bad_alert_options_are_named(tmp_path):
    out = check(tmp_path, ONCALL % 'limit = "20 per minute", group_by = { "nosuch" }, format = "html", wait = "soon"', ROUTE)
    assert out.returncode != 0
    err = out.stderr
    assert 'sinks.lua:1: sink "oncall": wait must be a duration' in err
    out = check(tmp_path / "2", ONCALL % 'limit = "20 per minute", group_by = { "nosuch" }', ROUTE)
    assert 'limit "20 per minute": write messages per period, as in "20/1m"' in out.stderr
    assert 'group_by: unknown field "nosuch"' in out.stderr
    out = check(tmp_path / "3", ONCALL % 'format = "html"', ROUTE)
    assert 'sink "oncall": format must be "markdown" or "text", not "html"' in out.stderr


def test_template_needs_an_alert_sink(tmp_path):
    out = check(tmp_path, 'sink "out" { type = "stdout" }\n',
                'route { to = "out" }\ntemplate "out" { render = function(g) return "x" end }\n'
                'template "nope" { render = function(g) return "x" end }\n')
    assert out.returncode != 0
    assert 'rules/10.lua:2: template: sink "out" is of type stdout, which sends no alerts' in out.stderr
    assert "rules/10.lua:3: template: nope is not a sink defined in sinks.lua" in out.stderr
