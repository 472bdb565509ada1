"""The configurations the README and the seed scenario show pass `herald
check` (with their examples), so the pages cannot drift from what herald
accepts. Secrets and env are missing here: check uses placeholders."""
import os
import pathlib
import re
import subprocess

SOURCE = pathlib.Path(os.environ.get("HERALD_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
BIN = os.environ.get("HERALD_BIN", str(SOURCE / "build" / "herald"))


def lua_blocks(page):
    return re.findall(r"```lua\n(.*?)```", (SOURCE / page).read_text(), flags=re.S)


def check(tmp_path, sinks, rules):
    (tmp_path / "rules").mkdir()
    (tmp_path / "sinks.lua").write_text(sinks)
    (tmp_path / "rules" / "50-page.lua").write_text(rules)
    return subprocess.run([BIN, "check", "--config", str(tmp_path), "--secrets-dir", str(tmp_path / "none")],
                          capture_output=True, text=True, timeout=60)


def test_the_readme_example_passes_check(tmp_path):
    block = next(b for b in lua_blocks("README.md") if "-- rules/" in b)
    sinks, rules = block.split("-- rules/50-oncall.lua")
    r = check(tmp_path, sinks, rules)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 failed" in r.stdout and "1 example" in r.stdout


def test_the_seed_scenario_passes_check(tmp_path):
    sinks, rules = lua_blocks("docs/seed-scenario.md")[:2]
    assert 'type    = "dingtalk"' in sinks and 'type  = "elasticsearch"' in sinks
    r = check(tmp_path, sinks, rules)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 examples (0 failed)" in r.stdout


def test_the_check_can_fail(tmp_path):
    r = check(tmp_path, 'sink "a" { type = "stdout" }', 'route { to = "b" }')
    assert r.returncode == 1


def test_the_getting_started_configuration_passes_check(tmp_path):
    block = next(b for b in lua_blocks("docs/getting-started.md") if "-- my-config/rules/" in b)
    sinks, rules = block.split("-- my-config/rules/50-mine.lua")
    r = check(tmp_path, sinks, rules)
    assert r.returncode == 0, r.stdout + r.stderr


EVENT = ('{"type":"Warning","reason":"BackOff","message":"Back-off restarting","count":3,"owner":"Deployment/web",'
         '"metadata":{"name":"e1","namespace":"shop","uid":"u1","resourceVersion":"1"},'
         '"involvedObject":{"kind":"Pod","namespace":"shop","name":"web-0"},"lastTimestamp":"2026-11-25T10:00:00Z"}\n')


def test_the_alert_template_examples_render(tmp_path):
    blocks = [b for b in lua_blocks("docs/alert-templates.md") if 'template "oncall"' in b]
    assert len(blocks) == 3
    wanted = [r"### BackOff Pod/web-0", r"owner Deployment/web", r'"content":"\[default\] BackOff Pod/web-0: Back-off']
    for i, (block, want) in enumerate(zip(blocks, wanted)):
        d = tmp_path / str(i)
        (d / "rules").mkdir(parents=True)
        (d / "sinks.lua").write_text('sink "oncall" { type = "dingtalk", webhook = secret "dingtalk-webhook", '
                                     + ('format = "text" }' if i == 2 else "}"))
        (d / "rules" / "50-route.lua").write_text('route { to = "oncall", when = { type = "Warning" }, enrich = true }')
        (d / "rules" / "60-template.lua").write_text(block)
        (d / "ev.jsonl").write_text(EVENT)
        r = subprocess.run([BIN, "replay", "--config", str(d), "--secrets-dir", str(d / "none"), str(d / "ev.jsonl")],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        assert re.search(want, r.stdout), (i, r.stdout)
        assert "60-template.lua" not in r.stderr, r.stderr   # a failing template is logged and falls back
