"""Fixtures: one etcd, apiserver `a` and a second endpoint of the same
cluster `a2` (same etcd prefix), apiserver `b` (another cluster); and a
herald process whose stdout sink is collected as JSON."""
import json
import os
import pathlib
import signal
import subprocess
import threading
import time

import pytest

import kube

BIN = os.environ.get("HERALD_BIN", str(kube.SOURCE / "build" / "herald"))


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    work = tmp_path_factory.mktemp("kube")
    bindir = kube.kube_bin()
    etcd = kube.Etcd(bindir, work)
    servers = {}
    try:
        servers["a"] = kube.APIServer(bindir, work, etcd, "a", "/cluster-a")
        servers["a2"] = kube.APIServer(bindir, work, etcd, "a2", "/cluster-a")
        servers["b"] = kube.APIServer(bindir, work, etcd, "b", "/cluster-b")
        servers["etcd"] = etcd
        servers["work"] = work
        yield servers
    finally:
        for name in ("a", "a2", "b"):
            if name in servers:
                servers[name].stop()
        etcd.stop()


class Herald:
    """herald run with a stdout sink; stdout lines are parsed as they come."""

    def __init__(self, tmp_path, *args, rules='route { to = "out" }\n',
                 sinks='sink "out" { type = "stdout" }\n', types=None):
        self.config = tmp_path / f"config-{time.monotonic_ns()}"
        (self.config / "rules").mkdir(parents=True)
        (self.config / "sinks.lua").write_text(sinks)
        for name, text in (types or {}).items():
            (self.config / "sinks").mkdir(exist_ok=True)
            (self.config / "sinks" / f"{name}.lua").write_text(text)
        (self.config / "rules" / "10.lua").write_text(rules)
        self.events, self.err = [], []
        self.closed = 0          # readers that reached end of file
        self.lock = threading.Condition()
        self.proc = subprocess.Popen([BIN, "--config", str(self.config), *map(str, args)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     errors="replace")
        self.watchdog = threading.Timer(240, self.proc.kill)
        self.watchdog.daemon = True
        self.watchdog.start()
        self.readers = [threading.Thread(target=self._read, args=(self.proc.stdout, self.events, True), daemon=True),
                        threading.Thread(target=self._read, args=(self.proc.stderr, self.err, False), daemon=True)]
        for t in self.readers:
            t.start()

    def _read(self, stream, into, parse):
        for line in stream:
            with self.lock:
                into.append(json.loads(line) if parse else line)
                self.lock.notify_all()
        with self.lock:
            self.closed += 1
            self.lock.notify_all()

    def wait(self, cond, timeout=60, what="condition"):
        deadline = time.monotonic() + timeout
        with self.lock:
            while not cond():
                left = deadline - time.monotonic()
                # herald exited and everything it wrote has been read: no hope left
                finished = self.proc.poll() is not None and self.closed == 2
                if left <= 0 or finished:
                    raise AssertionError(f"timed out waiting for {what}\n--- stderr\n" + "".join(self.err[-40:]))
                self.lock.wait(min(left, 0.2))

    def wait_log(self, text, count=1, timeout=60):
        self.wait(lambda: sum(text in line for line in self.err) >= count, timeout, f"log '{text}' x{count}")

    def in_ns(self, ns):
        with self.lock:
            return [e for e in self.events if (e.get("involvedObject") or {}).get("namespace") == ns]

    def wait_ns(self, ns, n, timeout=60):
        self.wait(lambda: len(self.in_ns(ns)) >= n, timeout, f"{n} events in {ns}")
        return self.in_ns(ns)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        self.watchdog.cancel()
        for t in self.readers:   # everything herald wrote is read before the test looks
            t.join(timeout=30)
        return code

    def log(self):
        with self.lock:
            return "".join(self.err)


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


def versions(events):
    """(uid, resourceVersion) of each delivered event, in order."""
    return [(e["metadata"]["uid"], e["metadata"]["resourceVersion"]) for e in events]
