"""herald replay shows what each alert sink would send, and sends nothing."""
import json
import os
import subprocess

from conftest import BIN, event


def test_replay_shows_each_groups_message_without_secrets(tmp_path):
    config = tmp_path / "config"
    (config / "rules").mkdir(parents=True)
    (config / "sinks.lua").write_text('''
sink "archive" { type = "stdout" }
sink "oncall" { type = "dingtalk", webhook = secret "dt-webhook", sign = secret "dt-sign", keyword = "k8s" }
''')
    (config / "rules" / "10.lua").write_text('''
route { to = "archive" }
route { to = "oncall", when = { type = "Warning" } }
''')
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    # a port nothing listens on: replay must not try to send
    (secrets / "dt-webhook").write_text("http://127.0.0.1:9/robot/send?access_token=tok-secret-123\n")
    (secrets / "dt-sign").write_text("SECsigning-secret\n")
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in [
        event("web-0"), event("web-0"), event("db-0", reason="Unhealthy"),
        event("web-0", type_="Normal", reason="Pulled"),
    ]))
    out = subprocess.run([BIN, "replay", "--config", str(config), "--secrets-dir", str(secrets), str(events)],
                         capture_output=True, text=True, timeout=30, env=dict(os.environ, TZ="UTC"))
    assert out.returncode == 0, out.stderr
    text = out.stdout + out.stderr
    assert "oncall: grouped for an alert" in text
    assert "oncall would send 2 messages:" in text
    assert "message 1 (2 events): POST http://127.0.0.1:9/..." in text
    bodies = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("    {")]
    assert [b["msgtype"] for b in bodies] == ["markdown", "markdown"]
    assert "Pod/web-0" in bodies[0]["markdown"]["text"] and "Pod/db-0" in bodies[1]["markdown"]["text"]
    assert "tok-secret-123" not in text and "SECsigning-secret" not in text and "sign=" not in text
