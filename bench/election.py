#!/usr/bin/env python3
"""The steady-state cost of leader election and of the checkpoint kept in
the cluster (issue 14): API requests per minute and CPU per replica, with
the default timing (15 s / 10 s / 2 s), against the real kube-apiserver of
the tests (tests/servers/build-kube.sh).

Scenarios: two replicas and one cluster (the Deployment in deploy/), and
three replicas sharing five clusters (the central mode). Events arrive at
a low steady rate (2/s per cluster) so the checkpoint has something to
write. Each replica's requests are read from its /metrics
(herald_lease_requests_total, herald_state_store_writes_total), its CPU
from /proc/PID/stat, over a window after the replicas settled.

usage: bench/election.py [--window SECONDS] [--out bench/ELECTION.md]
(HERALD_BIN: the binary, default build/herald)"""
import argparse
import datetime
import os
import pathlib
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
import kube  # noqa: E402

BIN = os.environ.get("HERALD_BIN", str(ROOT / "build" / "herald"))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for m in re.finditer(r'^(herald_lease_requests_total|herald_state_store_writes_total)\{[^=]+="([^"]+)"\} (\S+)$',
                         text, re.M):
        out[(m.group(1), m.group(2))] = float(m.group(3))
    return out


def leading(port):
    import json
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as r:
        return json.loads(r.read())["election"]["leading"]


def run(api, work, name, nreplicas, clusters, window):
    ns = f"bench-{name}"
    api.ensure_namespace(ns)
    kc = api.kubeconfig(work / f"kc-{name}")
    cfg = work / f"cfg-{name}"
    (cfg / "rules").mkdir(parents=True)
    (cfg / "sinks.lua").write_text('sink "out" { type = "null" }\n')
    (cfg / "rules" / "10.lua").write_text('route { to = "out" }\n')
    procs = []
    for i in range(nreplicas):
        state = work / f"state-{name}-{i}"
        state.mkdir()
        port = kube.free_port()
        args = [BIN, "--config", cfg, "--kubeconfig", kc, "--namespace", ns, "--leader-elect",
                "--lease-namespace", ns, "--state-dir", state, "--state-configmap", "herald-checkpoint",
                "--listen", f"127.0.0.1:{port}", "--log-level", "warn"]
        if len(clusters) == 1:
            args += ["--cluster-name", clusters[0]]
        else:
            for c in clusters:
                args += ["--cluster", f"{c}={kc}"]
        env = dict(os.environ, POD_NAME=f"herald-{name}-{i}")
        p = subprocess.Popen(list(map(str, args)), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append((p, port))
    stop = threading.Event()

    def events():
        i = 0
        while not stop.is_set():
            api.create_event(ns, f"bench-{i:06d}", reason="Bench")
            i += 1
            stop.wait(0.5)
    t = threading.Thread(target=events, daemon=True)
    t.start()
    try:
        def settled():
            try:
                held = [leading(port) for _, port in procs]
            except OSError:
                return False
            return sum(len(h) for h in held) == len(clusters)
        kube.wait_for(settled, timeout=90, what="every cluster held")
        time.sleep(20)  # past the first checkpoint writes and any rebalancing
        before = [(scrape(port), cpu_seconds(p.pid)) for p, port in procs]
        t0 = time.monotonic()
        time.sleep(window)
        after = [(scrape(port), cpu_seconds(p.pid)) for p, port in procs]
        span = time.monotonic() - t0
        held = [leading(port) for _, port in procs]
    finally:
        stop.set()
        t.join()
        for p, _ in procs:
            p.terminate()
        for p, _ in procs:
            p.wait(timeout=30)
    rows = []
    for i, ((m0, c0), (m1, c1)) in enumerate(zip(before, after)):
        per_min = {k: (m1.get(k, 0) - m0.get(k, 0)) * 60 / span for k in set(m0) | set(m1)}
        lease = sum(v for (n, _), v in per_min.items() if n == "herald_lease_requests_total")
        verbs = ", ".join(f"{verb} {v:.0f}" for (n, verb), v in sorted(per_min.items())
                          if n == "herald_lease_requests_total" and v)
        store = sum(v for (n, _), v in per_min.items() if n == "herald_state_store_writes_total")
        cpu = (c1 - c0) / span * 100
        rows.append(f"| {name} | {i} | {', '.join(held[i]) or '(standby)'} | {lease:.0f} ({verbs}) | {store:.1f} "
                    f"| {cpu:.2f} % |")
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--window", type=float, default=60)
    ap.add_argument("--out", default=str(ROOT / "bench" / "ELECTION.md"))
    a = ap.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="herald-election-"))
    bindir = kube.kube_bin()
    etcd = kube.Etcd(bindir, work)
    api = None
    try:
        api = kube.APIServer(bindir, work, etcd, "a", "/bench")
        rows = run(api, work, "2x1", 2, ["prod"], a.window)
        rows += run(api, work, "3x5", 3, [f"c{i}" for i in range(1, 6)], a.window)
    finally:
        if api:
            api.stop()
        etcd.stop()
        shutil.rmtree(work, ignore_errors=True)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    text = f"""# The steady-state cost of leader election

`bench/election.py` (window {a.window:.0f} s), {datetime.date.today()}, {cpu}, {os.cpu_count()} cores
(shared), Linux {platform.release()}; the real kube-apiserver and etcd of the tests on the same machine.
Default timing: lease 15 s, renew deadline 10 s, retry period 2 s. Events arrive at 2/s per cluster;
every replica keeps its checkpoint in the ConfigMap `herald-checkpoint` (`--state-configmap`).

Per replica, per minute: requests to Leases (by verb), writes of the checkpoint ConfigMap, and CPU
(user + system, % of one core, including watching and routing the events of the clusters it leads).

| scenario | replica | leads | Lease requests/min | ConfigMap writes/min | CPU |
|---|---|---|---|---|---|
""" + "\n".join(rows) + """

Reading it: a leader renews each Lease it holds with one PUT per retry period (30/min); a standby
reads it with one GET per retry period less up to 20 % jitter (30-38/min). With several clusters
every replica also rewrites the shared members Lease once per retry period (a GET and a PUT), and
reads each cluster's Lease it does not hold. The checkpoint ConfigMap is written at most every 5 s
by each leader, only when what it delivered changed; the column counts every attempt, 409 conflicts
included (herald_state_store_writes_total: ok + conflict). Three replicas writing one ConfigMap meet
each other's updates about once per write: each then reads it and writes again.
"""
    pathlib.Path(a.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
