"""herald fed through a pipe (`herald --from -`) with alert sinks pointed at
local robots (robots.py)."""
import datetime
import json
import os
import pathlib
import subprocess
import sys
import threading
import time
import uuid

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import robots  # noqa: E402

SOURCE = pathlib.Path(os.environ.get("HERALD_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
BIN = os.environ.get("HERALD_BIN", str(SOURCE / "build" / "herald"))


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def event(name, reason="BackOff", ns="default", kind="Pod", type_="Warning", count=1, uid=None,
          rv="1", message=None, cluster=None, t=None, host=None):
    t = time.time() if t is None else t
    ev = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{name}.{uuid.uuid4().hex[:12]}", "namespace": ns,
                     "uid": uid or str(uuid.uuid4()), "resourceVersion": str(rv)},
        "involvedObject": {"kind": kind, "name": name, "namespace": ns, "apiVersion": "v1"},
        "reason": reason, "type": type_, "count": count,
        "message": message or f"Back-off restarting failed container app in pod {name}",
        "source": {"component": "kubelet"},
        "firstTimestamp": rfc3339(t - 60 * (count - 1)), "lastTimestamp": rfc3339(t),
    }
    if cluster:
        ev["cluster"] = cluster
    if host:
        ev["source"]["host"] = host
    if kind in ("Node", "Namespace", "PersistentVolume"):   # cluster-scoped: no namespace
        del ev["involvedObject"]["namespace"]
    return ev


class Herald:
    """herald --from - with the given config; events are written to its stdin."""

    def __init__(self, tmp_path, sinks, rules, secrets=None, env=None, args=()):
        self.config = tmp_path / f"config-{time.monotonic_ns()}"
        (self.config / "rules").mkdir(parents=True)
        (self.config / "sinks.lua").write_text(sinks)
        (self.config / "rules" / "10.lua").write_text(rules)
        self.secrets = tmp_path / "secrets"
        self.secrets.mkdir(exist_ok=True)
        for k, v in (secrets or {}).items():
            (self.secrets / k).write_text(v)
        self.err = []
        self.lock = threading.Condition()
        e = dict(os.environ, TZ="Asia/Shanghai", **(env or {}))
        self.proc = subprocess.Popen(
            [BIN, "--config", str(self.config), "--secrets-dir", str(self.secrets), "--from", "-",
             *args],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=e)
        self.watchdog = threading.Timer(300, self.proc.kill)
        self.watchdog.daemon = True
        self.watchdog.start()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            with self.lock:
                self.err.append(line)
                self.lock.notify_all()

    def send(self, *events):
        for ev in events:
            self.proc.stdin.write(json.dumps(ev) + "\n")
        self.proc.stdin.flush()

    def wait_log(self, text, timeout=60):
        deadline = time.monotonic() + timeout
        with self.lock:
            while not any(text in line for line in self.err):
                left = deadline - time.monotonic()
                # A robot refused herald's signature: that never heals, so
                # fail now rather than at the timeout.
                refused = [l for l in self.err if "refused the message" in l and ("19021" in l or ("310000" in l and ("sign" in l or "timestamp" in l)))]
                if refused:
                    raise AssertionError(f"waiting for {text!r}, but the robot refused a signature:\n" + refused[0])
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"no log line with {text!r}:\n" + "".join(self.err[-30:]))
                self.lock.wait(min(left, 0.2))

    def log(self):
        with self.lock:
            return "".join(self.err)

    def finish(self, timeout=60):
        """Closes the input: herald sends what it holds and exits."""
        self.proc.stdin.close()
        code = self.proc.wait(timeout=timeout)
        self.watchdog.cancel()
        self.reader.join(timeout=10)
        return code


@pytest.fixture
def herald(tmp_path):
    started = []

    def start(*args, **kw):
        h = Herald(tmp_path, *args, **kw)
        started.append(h)
        return h

    yield start
    for h in started:
        if h.proc.poll() is None:
            h.proc.kill()
            h.proc.wait()


@pytest.fixture
def robot():
    made = []

    def make(kind, **kw):
        r = getattr(robots, kind)(**kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()
