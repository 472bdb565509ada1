"""An unwritable --state-dir is an error, not a log line every 5 s: herald
refuses to start on one; when it becomes unwritable later, /readyz and
/status say so, herald_state_save_failures_total counts the failed saves,
the log says it once, and SIGTERM exits non-zero when the final save
failed. Read-only bind mounts stand in for a broken volume (as root,
chmod does not stop writes)."""
import json
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import BIN
from fakeapi import FakeAPI, event, event_list, line


@pytest.fixture
def fake():
    f = FakeAPI()
    yield f
    f.stop()


class BindMount:
    def __init__(self, path):
        self.path = path
        path.mkdir()
        r = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot bind-mount (needs root): {r.stderr.strip()}")

    def read_only(self):
        subprocess.run(["mount", "-o", "remount,bind,ro", str(self.path)], check=True)

    def umount(self):
        subprocess.run(["umount", "-l", str(self.path)], check=False)


@pytest.fixture
def state(tmp_path):
    m = BindMount(tmp_path / "state")
    yield m
    m.umount()


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def failures(port):
    text = get(port, "/metrics")[1]
    return next(s.value for fam in text_string_to_metric_families(text) for s in fam.samples
                if s.name == "herald_state_save_failures_total")


def test_a_read_only_state_dir_at_start_is_refused(tmp_path, state):
    state.read_only()
    cfg = tmp_path / "config"
    (cfg / "rules").mkdir(parents=True)
    (cfg / "sinks.lua").write_text('sink "out" { type = "stdout" }\n')
    (cfg / "rules" / "10.lua").write_text('route { to = "out" }\n')
    r = subprocess.run([BIN, "--config", str(cfg), "--kubeconfig", str(tmp_path / "none"),
                        "--state-dir", str(state.path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r
    assert f"--state-dir {state.path} cannot be written" in r.stderr, r.stderr
    assert "Read-only file system" in r.stderr, r.stderr


def test_a_state_dir_that_turns_read_only_is_reported_and_fails_the_exit(fake, herald, tmp_path, state):
    gate = threading.Event()
    fake.lists.append([("status", 200, event_list([event("a.1", 5)], 10))])
    fake.watches.append([("chunk", line("ADDED", event("b.1", 11))), ("wait", gate),
                         ("chunk", line("ADDED", event("c.1", 12))), ("hold",)])
    h = herald("--kubeconfig", fake.kubeconfig(tmp_path / "kc"), "--cluster-name", "c1",
               "--state-dir", state.path, "--listen", "127.0.0.1:0")
    h.wait_log("on port")
    port = int(re.search(r"on port (\d+)", h.log()).group(1))
    h.wait_ns("fake", 2)
    seen = state.path / "c1.checkpoint"
    deadline = time.monotonic() + 20
    while not seen.exists():                  # the first checkpoint
        assert time.monotonic() < deadline, h.log()
        time.sleep(0.1)
    assert get(port, "/readyz")[0] == 200
    state.read_only()
    gate.set()                                # a new event: the state has something to save
    h.wait_ns("fake", 3)
    deadline = time.monotonic() + 30
    while failures(port) < 2:                 # two saves failed (one every 5 s)
        assert time.monotonic() < deadline, h.log()
        time.sleep(0.2)
    code, body = get(port, "/readyz")
    assert code == 503 and "state dir cannot be written" in body and "Read-only file system" in body, body
    st = json.loads(get(port, "/status")[1])["state_dir"]
    assert st["writable"] is False and st["failed_saves"] >= 2 and "c1.checkpoint" in st["error"], st
    assert h.log().count("state dir: cannot write") == 1, h.log()
    assert h.stop() == 4
    assert "the final save into the state dir failed" in h.log()
