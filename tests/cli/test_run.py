"""herald run --from: events through the loop and the sink pipeline to
real outputs; nothing lost, nothing secret in the logs."""
import json
import os
import signal
import subprocess
import threading

from conftest import BIN, FIXTURES, SOURCE, herald

EVENTS = FIXTURES / "events.jsonl"


def start(config, *args):
    """herald --from - as a live process, killed by a watchdog after 30 s so
    a test that waits on its output fails instead of hanging."""
    proc = subprocess.Popen([BIN, "--config", str(config), "--from", "-", *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(30, proc.kill)
    watchdog.daemon = True
    watchdog.start()
    return proc


def read_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_file_sink_gets_one_json_line_per_event(config, tmp_path):
    out = tmp_path / "events.jsonl"
    config.sinks(f'sink "local" {{ type = "file", path = "{out}" }}\n')
    config.rule("10.lua", 'route { to = "local" }\n')
    r = herald("--config", config, "--from", EVENTS, "--cluster-name", "asi-serverless")
    assert r.code == 0, r
    docs = read_lines(out)
    want = [json.loads(line) for line in EVENTS.read_text().splitlines()]
    assert [d["metadata"]["uid"] for d in docs] == [w["metadata"]["uid"] for w in want]
    assert [d["metadata"]["resourceVersion"] for d in docs] == [w["metadata"]["resourceVersion"] for w in want]
    assert all(d["cluster"] == "asi-serverless" for d in docs)
    # the event as routed: its own fields, normalised
    assert docs[4]["involvedObject"] == want[4]["involvedObject"]
    assert docs[4]["metadata"]["managedFields"] == want[4]["metadata"]["managedFields"]
    assert docs[13]["count"] == 12 and docs[13]["lastTimestamp"] == "2026-11-20T08:14:21.654321Z"
    assert docs[14]["involvedObject"]["kind"] == "Certificate"   # events.k8s.io/v1 shape mapped
    assert "done: 15 events routed, 0 records or items skipped" in r.err


def test_stdout_sink_from_stdin(config):
    config.sinks('sink "stdout" { type = "stdout" }\n')
    config.rule("10.lua", 'drop { type = "Normal" }\nroute { to = "stdout" }\n')
    r = herald("--config", config, "--from", "-", input=EVENTS.read_text())
    assert r.code == 0, r
    docs = [json.loads(line) for line in r.out.splitlines()]
    assert [d["reason"] for d in docs] == ["BackOff"] * 3 + ["FailedScheduling", "OOMKilling", "Unhealthy",
                                                             "FailedMount", "BackOff", "Failed"]
    assert all(d["type"] == "Warning" and d["cluster"] == "default" for d in docs)


def test_empty_arrays_and_nulls_survive(config):
    config.sinks('sink "stdout" { type = "stdout" }\n')
    config.rule("10.lua", 'route { to = "stdout" }\n')
    ev = {"metadata": {"uid": "u", "finalizers": [], "annotations": {}}, "related": None, "reason": "X",
          "involvedObject": {"kind": "Pod", "name": "p", "namespace": "n"}, "count": 2}
    r = herald("--config", config, "--from", "-", input=json.dumps(ev) + "\n")
    assert r.code == 0, r
    doc = json.loads(r.out)
    assert doc["metadata"]["finalizers"] == [] and doc["metadata"]["annotations"] == {}
    assert "related" in doc and doc["related"] is None


def test_rotation_by_size_loses_nothing(config, tmp_path):
    out = tmp_path / "events.jsonl"
    config.sinks(f'sink "local" {{ type = "file", path = "{out}", max_bytes = "4KiB", keep = 50,'
                 f' batch = {{ events = 1 }} }}\n')
    config.rule("10.lua", 'route { to = "local" }\n')
    data = EVENTS.read_text() * 3
    r = herald("--config", config, "--from", "-", input=data)
    assert r.code == 0, r
    rotated = sorted((p for p in tmp_path.iterdir() if p.name.startswith("events.jsonl.")),
                     key=lambda p: -int(p.suffix[1:]))
    assert len(rotated) >= 5
    docs = []
    for p in rotated + [out]:
        assert p.stat().st_size <= 4096, p
        docs += read_lines(p)
    assert len(docs) == 45
    want = [json.loads(line)["metadata"]["uid"] for line in data.splitlines()]
    assert [d["metadata"]["uid"] for d in docs] == want


def test_rotation_keeps_only_keep_files(config, tmp_path):
    out = tmp_path / "events.jsonl"
    config.sinks(f'sink "local" {{ type = "file", path = "{out}", max_bytes = "4KiB", keep = 2,'
                 f' batch = {{ events = 1 }} }}\n')
    config.rule("10.lua", 'route { to = "local" }\n')
    r = herald("--config", config, "--from", "-", input=EVENTS.read_text() * 3)
    assert r.code == 0, r
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config", "events.jsonl", "events.jsonl.1", "events.jsonl.2"]


def test_sigterm_drains_queued_events(config, tmp_path):
    out = tmp_path / "held.jsonl"
    # "held" waits a minute before writing; "seen" writes at once and tells
    # the test that herald has read the events.
    config.sinks(f'sink "held" {{ type = "file", path = "{out}", batch = {{ wait = "60s" }} }}\n'
                 'sink "seen" { type = "stdout" }\n')
    config.rule("10.lua", 'route { to = { "held", "seen" } }\n')
    proc = start(config)
    proc.stdin.write(EVENTS.read_text())
    proc.stdin.flush()
    seen = [proc.stdout.readline() for _ in range(15)]
    assert all(json.loads(line)["kind"] == "Event" for line in seen)
    assert not out.exists() or out.read_text() == ""
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0, proc.stderr.read()
    proc.stdin.close()
    assert len(read_lines(out)) == 15
    err = proc.stderr.read()
    assert "draining queues and stopping" in err


def test_secrets_never_reach_the_log(config, tmp_path):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "token").write_text("tok-9f8e7d6c5b4a\n")
    config.sinks('sink "a" { type = "file", path = "/nonexistent-dir/" .. secret "token" }\n'
                 'sink "b" { type = "file", path = "/nonexistent-dir/" .. env "HERALD_TEST_PASSWORD" }\n')
    config.rule("10.lua", 'route { to = { "a", "b" } }\nprint("the token is " .. secret "token")\n')
    r = herald("--config", config, "--secrets-dir", secrets, "--from", EVENTS,
               env={"HERALD_TEST_PASSWORD": "hunter2-correct-horse"})
    assert r.code == 4, r
    assert "cannot open /nonexistent-dir/***" in r.err, r
    assert "the token is ***" in r.err, r
    for secret in ("tok-9f8e7d6c5b4a", "hunter2-correct-horse"):
        assert secret not in r.err and secret not in r.out


def test_a_server_echoing_basic_auth_gets_no_credential_logged(config, tmp_path):
    # Regression (issue 12.7): an Elasticsearch that echoed the
    # Authorization header into its error got the base64 logged.
    import http.server
    import time

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = ("unauthorized: header [Authorization: " + self.headers["Authorization"]
                    + "] with " + self.headers["Authorization"].split()[-1]).encode()
            self.send_response(400)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_PUT = do_GET = do_HEAD = do_POST

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config.sinks(f'sink "es" {{ type = "elasticsearch", url = "http://127.0.0.1:{server.server_port}",\n'
                     '  auth = { user = "elastic", password = env "HERALD_TEST_ES_PASSWORD" } }\n')
        config.rule("10.lua", 'route { to = "es" }\n')
        proc = subprocess.Popen([BIN, "--config", str(config), "--from", "-"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ, HERALD_TEST_ES_PASSWORD="changeme-7f3a"))
        proc.stdin.write(EVENTS.read_text())
        proc.stdin.close()
        err = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            err.append(line)
            if "unauthorized" in line or not line:
                break
        proc.kill()
        proc.wait()
        text = "".join(err)
        # Failures show the log with the credential replaced, never the credential.
        shown = text.replace("ZWxhc3RpYzpjaGFuZ2VtZS03ZjNh", "<BASE64!>").replace("changeme-7f3a", "<PASSWORD!>")
        assert "<BASE64!>" not in shown and "<PASSWORD!>" not in shown, shown
        assert "unauthorized: header [Authorization: Basic ***" in shown, shown
    finally:
        server.shutdown()


def test_bad_input_is_counted_and_the_rest_delivered(config, tmp_path):
    out = tmp_path / "out.jsonl"
    config.sinks(f'sink "local" {{ type = "file", path = "{out}" }}\n')
    config.rule("10.lua", 'route { to = "local" }\n')
    r = herald("--config", config, "--from", FIXTURES / "malformed.jsonl")
    assert r.code == 3, r
    assert len(read_lines(out)) == 2
    assert "done: 2 events routed, 8 records or items skipped" in r.err


def test_run_without_a_kubeconfig_says_which_file_it_looked_for(tmp_path):
    r = herald("--config", SOURCE, env={"HOME": str(tmp_path), "KUBECONFIG": "", "KUBERNETES_SERVICE_HOST": ""})
    assert r.code == 1, r
    assert f"cluster default: {tmp_path}/.kube/config: No such file or directory" in r.err, r
    # what it tried, and what to do next
    assert f"herald tried {tmp_path}/.kube/config ($KUBECONFIG is not set)" in r.err, r
    assert "--kubeconfig PATH [--context NAME]" in r.err and "--from tests/fixtures/events.jsonl" in r.err, r


def test_run_with_a_missing_kubeconfig_names_it_and_says_what_to_do(tmp_path):
    r = herald("--config", SOURCE, "--kubeconfig", tmp_path / "nope.yaml", env={"KUBERNETES_SERVICE_HOST": ""})
    assert r.code == 1, r
    assert f"herald tried --kubeconfig {tmp_path}/nope.yaml" in r.err, r
    assert "--from tests/fixtures/events.jsonl" in r.err, r


def test_an_unreachable_server_is_named_with_what_to_do(tmp_path):
    # A kubeconfig whose server does not answer: herald keeps retrying (a
    # cluster may come back) but says once, first, what it tried and what to do.
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]   # closed again: nothing listens there
    kc = tmp_path / "kubeconfig"
    kc.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:{port}"}}}}]
users: [{{name: u, user: {{token: first-run-token-xyz}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
""")
    proc = subprocess.Popen([BIN, "--config", str(SOURCE), "--kubeconfig", str(kc)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(30, proc.kill)
    watchdog.daemon = True
    watchdog.start()
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "cannot reach the API server" in line:
            break
    proc.send_signal(signal.SIGTERM)
    rest = proc.communicate(timeout=30)[1]
    watchdog.cancel()
    err = "".join(lines) + rest
    hint = [l for l in lines if "cannot reach the API server" in l]
    assert hint, err
    assert f"https://127.0.0.1:{port}" in hint[0] and "herald keeps retrying" in hint[0], err
    assert "--kubeconfig PATH, --context NAME" in hint[0] and "--from tests/fixtures/events.jsonl" in hint[0], err
    assert err.count("cannot reach the API server") == 1, err
    assert "first-run-token-xyz" not in err


def test_bad_cluster_and_durations_are_usage_errors():
    for args in (["--cluster", "nameonly"], ["--cluster", "=x"], ["--max-event-age", "soon"],
                 ["--watch-timeout", "1"], ["--state-dir", "/nonexistent/dir"],
                 ["--event-metrics-limit", "reason=many"], ["--event-metrics-allow", "series=1"],
                 ["--enrich-limit", "qps=0"], ["--enrich-limit", "deadline=soon"], ["--enrich-limit", "color=1"]):
        r = herald("--config", SOURCE, *args)
        assert r.code == 2, (args, r)


def test_invalid_config_refuses_to_run(config):
    config.sinks('sink "a" { type = "stdout" }\n')
    config.rule("10.lua", 'route { to = "b" }\n')
    r = herald("--config", config, "--from", EVENTS)
    assert r.code == 1, r
    assert f'{config}/rules/10.lua:1: unknown sink "b"' in r.err


def test_a_failing_example_refuses_to_run(config, tmp_path):
    # Issue 12.8: only load errors were tested at start.
    out = tmp_path / "out.jsonl"
    config.sinks(f'sink "a" {{ type = "file", path = "{out}" }}\nsink "b" {{ type = "stdout" }}\n')
    config.rule("10.lua", 'route { to = "a", when = { reason = "BackOff" } }\n'
                'example { event = { reason = "Pulled", involvedObject = { kind = "Pod", name = "p" } },\n'
                '          reaches = "a" }\n')
    r = herald("--config", config, "--from", EVENTS)
    assert r.code == 1, r
    assert f"{config}/rules/10.lua:2: example failed: does not reach a" in r.err, r
    assert r.out == "" and not out.exists(), r


def test_a_failing_output_is_retried_and_reported_never_silently_lost(config):
    # /dev/full fails every write with ENOSPC: herald keeps the events,
    # says once that the disk is full, retries, and on SIGTERM says how many
    # it could not write.
    config.sinks('sink "full" { type = "file", path = "/dev/full", batch = { events = 5 } }\n')
    config.rule("10.lua", 'route { to = "full" }\n')
    proc = start(config)
    proc.stdin.write(EVENTS.read_text())
    proc.stdin.flush()
    lines = []
    while True:
        line = proc.stderr.readline()
        assert line, "".join(lines)
        lines.append(line)
        if "is full" in line:
            break
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 4
    proc.stdin.close()
    err = "".join(lines) + proc.stderr.read()
    assert "sink full: the disk holding /dev/full is full" in err
    assert "15 events could not be delivered" in err


def test_a_sink_type_can_shape_whole_batches(config):
    (config.root / "sinks").mkdir()
    (config.root / "sinks" / "arrays.lua").write_text(
        'return {\n'
        '  output = "stdout",\n'
        '  encode = function(ev) return json.encode({ reason = ev.reason, cluster = ev.cluster }) end,\n'
        '  batch = function(items, conf) return "[" .. table.concat(items, ",") .. "]\\n" end,\n'
        '}\n')
    config.sinks('sink "a" { type = "arrays", batch = { events = 4 } }\n')
    config.rule("10.lua", 'route { to = "a" }\n')
    r = herald("--config", config, "--from", EVENTS, "--cluster-name", "c1")
    assert r.code == 0, r
    batches = [json.loads(line) for line in r.out.splitlines()]
    assert [len(b) for b in batches] == [4, 4, 4, 3]
    want = [json.loads(line)["reason"] for line in EVENTS.read_text().splitlines()]
    assert [d["reason"] for b in batches for d in b] == want
    assert all(d["cluster"] == "c1" for b in batches for d in b)


def test_a_rule_cannot_change_the_event_other_sinks_get(config, tmp_path):
    # Issue 12 item 3: `ev.count = 0/0` in a when function used to reach
    # every sink (NaN cannot be encoded: 0 of 15 delivered).
    out = tmp_path / "all.jsonl"
    config.sinks(f'sink "all" {{ type = "file", path = "{out}" }}\nsink "none" {{ type = "null" }}\n')
    config.rule("10.lua", """\
        route { to = "none", when = function(ev)
          ev.count = 0 / 0
          return true
        end }
        route { to = "none", when = { involvedObject = function(o) o.name = "changed" return true end } }
        route { to = "all" }
    """)
    r = herald("--config", config, "--from", EVENTS)
    assert r.code == 0, r
    docs = read_lines(out)
    want = [json.loads(line) for line in EVENTS.read_text().splitlines()]
    assert len(docs) == len(want) == 15, r
    assert [d["involvedObject"] for d in docs[:14]] == [w["involvedObject"] for w in want[:14]]
    assert docs[13]["count"] == 12 and all(isinstance(d["count"], int) for d in docs)
    assert f"{config}/rules/10.lua:2: the event is read-only in when/unless (cannot set count)" in r.err, r
    assert f"{config}/rules/10.lua:5: the event is read-only in when/unless (cannot set name)" in r.err, r
    assert "done: 15 events routed" in r.err, r


def test_messages_a_robot_refused_for_good_make_run_from_exit_4(config, tmp_path):
    # Regression (issue 12.7): DingTalk's errcode 310000 (keyword, signature
    # or clock) refuses a message for good; run --from exited 0 although
    # those events were never delivered.
    import http.server

    class Robot(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.dumps({"errcode": 310000, "errmsg": "keywords not in content"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Robot)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        dead = tmp_path / "dead.jsonl"
        config.sinks(f'sink "oncall" {{ type = "dingtalk", dead_letter = "{dead}",\n'
                     f'  webhook = "http://127.0.0.1:{server.server_port}/robot/send?access_token=abc" }}\n')
        config.rule("10.lua", 'route { to = "oncall", when = { type = "Warning" } }\n')
        r = herald("--config", config, "--from", EVENTS, "--max-event-age", "100000h", timeout=60)
        assert r.code == 4, r
        assert "refused for good by a sink's server" in r.err, r
        assert "310000" in r.err, r
        assert dead.exists() and dead.read_text().strip(), r
    finally:
        server.shutdown()
