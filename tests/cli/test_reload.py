"""Hot reload: the kubelet's ConfigMap update is noticed and validated; a
broken configuration is refused and visible (log, /metrics, /status) while
the old one keeps routing; reloads under load lose and repeat nothing."""
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import BIN, FIXTURES

ONE_EVENT = (FIXTURES / "events.jsonl").read_text().splitlines()[4]


def event_line(uid):
    ev = json.loads(ONE_EVENT)
    ev["metadata"]["uid"] = uid
    return json.dumps(ev) + "\n"


class ConfigMapVolume:
    """A directory laid out and updated the way the kubelet's AtomicWriter
    does: files live in ..<timestamp>/, ..data points there, and each name
    is a symlink into ..data. An update writes a new timestamped directory,
    points ..data_tmp at it, renames ..data_tmp over ..data, and removes the
    old directory."""

    def __init__(self, root, files):
        self.root = root
        root.mkdir(parents=True)
        self.n = 0
        self.current = None
        self.update(files)

    def update(self, files):
        self.n += 1
        ts = self.root / f"..2026_11_25_15_00_{self.n:02d}.{os.getpid()}{self.n}"
        ts.mkdir()
        for name, text in files.items():
            (ts / name).write_text(text)
        tmp = self.root / "..data_tmp"
        tmp.symlink_to(ts.name)
        os.rename(tmp, self.root / "..data")
        for name in files:
            link = self.root / name
            if not link.is_symlink():
                link.symlink_to(f"..data/{name}")
        for name in os.listdir(self.root):
            if not name.startswith("..") and name not in files:
                os.unlink(self.root / name)
        if self.current:
            for f in self.current.iterdir():
                f.unlink()
            self.current.rmdir()
        self.current = ts


class Running:
    """herald --from - with its endpoints on an ephemeral port."""

    def __init__(self, config, rules, *extra):
        self.proc = subprocess.Popen([BIN, "--config", str(config), "--rules-dir", str(rules), "--from", "-",
                                      "--listen", "127.0.0.1:0", *extra],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.err = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.watchdog = threading.Timer(120, self.proc.kill)
        self.watchdog.daemon = True
        self.watchdog.start()
        line = self.wait_log("serving /metrics")
        self.port = int(re.search(r"on port (\d+)", line).group(1))

    def _read(self):
        for line in self.proc.stderr:
            with self.cond:
                self.err.append(line)
                self.cond.notify_all()

    def wait_log(self, text, count=1, timeout=30):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                hits = [l for l in self.err if text in l]
                if len(hits) >= count:
                    return hits[count - 1]
                left = deadline - time.monotonic()
                assert left > 0, f"no '{text}' x{count} in:\n" + "".join(self.err[-30:])
                self.cond.wait(min(left, 0.2))

    def send(self, text):
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metrics(self):
        status, text = self.get("/metrics")
        assert status == 200
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for fam in text_string_to_metric_families(text) for s in fam.samples}

    def close(self):
        self.proc.stdin.close()
        code = self.proc.wait(timeout=60)
        self.watchdog.cancel()
        return code


def lines(path):
    return [json.loads(l) for l in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def setup(tmp_path):
    cfg = tmp_path / "config"
    cfg.mkdir()
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    (cfg / "sinks.lua").write_text(f'sink "a" {{ type = "file", path = "{a}", batch = {{ wait = 0 }} }}\n'
                                   f'sink "b" {{ type = "file", path = "{b}", batch = {{ wait = 0 }} }}\n')
    rules = ConfigMapVolume(tmp_path / "rules", {"10-route.lua": 'route { to = "a" }\n'})
    return cfg, rules, a, b


def wait_file(path, n, timeout=20):
    deadline = time.monotonic() + timeout
    while len(lines(path)) < n:
        assert time.monotonic() < deadline, f"{path}: {len(lines(path))} lines, wanted {n}"
        time.sleep(0.05)
    return lines(path)


def test_a_configmap_update_is_live_within_seconds(setup):
    cfg, rules, a, b = setup
    h = Running(cfg, rules.root)
    h.send(event_line("before"))
    wait_file(a, 1)
    swapped = time.monotonic()
    rules.update({"10-route.lua": 'route { to = "b" }\n'})
    h.wait_log("configuration reloaded", timeout=10)
    assert time.monotonic() - swapped < 5
    h.send(event_line("after"))
    assert [e["metadata"]["uid"] for e in wait_file(b, 1)] == ["after"]
    assert [e["metadata"]["uid"] for e in lines(a)] == ["before"]
    m = h.metrics()
    assert m[("herald_config_reloads_total", (("result", "ok"),))] == 1
    assert m[("herald_config_rejected", ())] == 0
    assert h.close() == 0


@pytest.mark.parametrize("broken,why", [
    ('route { to = "b" \n', "'}' expected"),
    ('route { to = "b" }\nexample { event = { reason = "X", involvedObject = { kind = "Pod", name = "p" } }, routes = { "a" } }\n',
     "example failed: routes are [b], expected [a]"),
    ('route { to = "c" }\n', 'unknown sink "c"'),
])
def test_a_broken_configuration_is_refused_and_the_old_one_keeps_routing(setup, broken, why):
    cfg, rules, a, b = setup
    h = Running(cfg, rules.root)
    rules.update({"10-route.lua": broken})
    line = h.wait_log("reload: ", timeout=10)
    assert f"{rules.root}/10-route.lua:" in line and why in line, line
    h.wait_log("reload refused; the previous configuration keeps running")
    h.send(event_line("still-a"))
    assert [e["metadata"]["uid"] for e in wait_file(a, 1)] == ["still-a"]
    m = h.metrics()
    assert m[("herald_config_reloads_total", (("result", "refused"),))] == 1
    assert m[("herald_config_rejected", ())] == 1
    status, body = h.get("/status")
    st = json.loads(body)
    assert status == 200 and st["config"]["state"] == "refused"
    assert any(why in r and "10-route.lua:" in r for r in st["config"]["refused"]), st
    # the same broken files are not retried over and over; a fix is taken
    rules.update({"10-route.lua": 'route { to = "b" }\n'})
    h.wait_log("configuration reloaded", timeout=10)
    assert json.loads(h.get("/status")[1])["config"]["state"] == "ok"
    assert h.metrics()[("herald_config_rejected", ())] == 0
    assert h.close() == 0


def test_sighup_and_plain_edits_reload_too(setup):
    cfg, rules, a, b = setup
    plain = cfg / "rules"
    plain.mkdir()
    (plain / "10.lua").write_text('route { to = "a" }\n')
    h = Running(cfg, plain)
    (plain / "10.lua").write_text('route { to = "b" }\n')
    h.wait_log("configuration reloaded", timeout=10)
    h.proc.send_signal(signal.SIGHUP)
    h.wait_log("configuration reloaded", count=2, timeout=10)
    assert h.close() == 0


def test_100_reloads_during_a_steady_stream_lose_and_repeat_nothing(setup, tmp_path):
    cfg, rules, a, b = setup
    (cfg / "sinks.lua").write_text(f'sink "a" {{ type = "file", path = "{a}", batch = {{ events = 7 }} }}\n')
    h = Running(cfg, rules.root)
    n = 3000
    done = threading.Event()

    def feed():
        for i in range(n):
            h.send(event_line(f"ev-{i}"))
            if i % 30 == 0:
                time.sleep(0.001)
        done.set()

    writer = threading.Thread(target=feed)
    writer.start()
    for i in range(100):
        # alternate two configurations that route the same way
        rules.update({"10-route.lua": f'-- version {i}\nroute {{ to = "a" }}\n'})
        h.proc.send_signal(signal.SIGHUP)
        h.wait_log("configuration reloaded", count=i + 1, timeout=20)
    writer.join()
    m = h.metrics()
    assert h.close() == 0
    got = [e["metadata"]["uid"] for e in lines(a)]
    assert len(got) == n and len(set(got)) == n
    assert sorted(got) == sorted(f"ev-{i}" for i in range(n))
    assert m[("herald_config_reloads_total", (("result", "ok"),))] >= 100


def test_endpoints_and_metrics_parse(setup):
    cfg, rules, a, b = setup
    h = Running(cfg, rules.root, "--log-format", "json")
    h.send(event_line("m1"))
    wait_file(a, 1)
    assert h.get("/healthz") == (200, "ok\n")
    assert h.get("/readyz")[0] == 200
    assert h.get("/nope")[0] == 404
    m = h.metrics()
    assert m[("herald_build_info", (("version", "0.1.0"),))] == 1
    assert m[("herald_events_routed_total", ())] == 1
    assert m[("herald_sink_events_total", (("sink", "a"),))] == 1
    assert m[("herald_sink_queue_events", (("sink", "a"),))] == 0
    assert ("herald_config_last_reload_success_timestamp_seconds", ()) in m
    # logs are JSON objects, one per line
    for line in h.err:
        rec = json.loads(line)
        assert set(rec) == {"time", "level", "msg"}
    assert h.close() == 0
