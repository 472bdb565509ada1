"""Restarts with --state-dir against the real kube-apiserver, the real
OpenSearch and the DingTalk stand-in: herald killed with SIGKILL at
random moments under a steady stream loses nothing and re-sends at most
its in-flight bound per kill (README "Restarts"); clean restarts while
alert groups hold events re-send no alert, lose no held event, and keep
the robot's minute."""
import http.client
import http.server
import json
import os
import random
import re
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

import kube
from test_elasticsearch import opensearch  # noqa: F401  (the module's OpenSearch node)

sys.path.insert(0, str(kube.SOURCE / "tests" / "alerts"))
import robots  # noqa: E402

# README "Restarts": events re-sent per cluster after one kill -9, at most.
IN_FLIGHT_BOUND = (4096 + 500) + (4096 + 500)


class CountingProxy:
    """Forwards herald's requests to OpenSearch and counts the bulk items
    it answers 409 (a document already stored: a re-send)."""

    def __init__(self, upstream):
        self.conflicts = 0
        self.items = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def forward(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                req = urllib.request.Request(upstream + self.path, data=body, method=self.command)
                for k in ("Content-Type", "Authorization"):
                    if self.headers.get(k):
                        req.add_header(k, self.headers[k])
                try:
                    with urllib.request.urlopen(req, timeout=60) as r:
                        status, data, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
                except urllib.error.HTTPError as e:
                    status, data, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
                if self.path.split("?")[0].endswith("_bulk") and status == 200:
                    items = json.loads(data).get("items", [])
                    with proxy.lock:
                        proxy.items += len(items)
                        proxy.conflicts += sum(1 for it in items
                                               if (it.get("create") or it.get("index") or {}).get("status") == 409)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype or "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass   # herald was killed while it waited

            do_GET = do_POST = do_PUT = do_HEAD = forward

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Creator:
    """Creates events in the apiserver from several threads, each with its
    own kept-alive connection, paced to a steady total rate."""

    def __init__(self, api, ns, total, rate, threads=8, paged_every=100):
        self.api, self.ns, self.total, self.rate = api, ns, total, rate
        self.threads, self.paged_every = threads, paged_every
        self.created = 0
        self.errors = []
        self.lock = threading.Lock()
        self.done = threading.Event()

    def _conn(self):
        ctx = ssl.create_default_context(cafile=str(self.api.ca)) if self.api.ca.exists() \
            else ssl._create_unverified_context()
        host = self.api.url.split("//")[1]
        return http.client.HTTPSConnection(host, context=ctx, timeout=30)

    def _run(self, k):
        conn = self._conn()
        t0 = time.monotonic()
        for i in range(k, self.total, self.threads):
            pause = t0 + i / self.rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            paged = i % self.paged_every == 0
            body = json.dumps({
                "metadata": {"name": f"load-{i}"},
                "involvedObject": {"kind": "Pod", "namespace": self.ns, "name": f"pod-{i % 7}"},
                "reason": "Paged" if paged else "Pulled", "message": f"event {i}",
                "type": "Warning" if paged else "Normal", "count": 1,
                "firstTimestamp": now, "lastTimestamp": now, "source": {"component": "kubelet"},
            })
            for attempt in range(5):
                try:
                    conn.request("POST", f"/api/v1/namespaces/{self.ns}/events", body,
                                 {"Authorization": f"Bearer {kube.ADMIN_TOKEN}", "Content-Type": "application/json"})
                    r = conn.getresponse()
                    r.read()
                    if r.status in (201, 409):
                        break
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = self._conn()
            else:
                with self.lock:
                    self.errors.append(i)
            with self.lock:
                self.created += 1

    def start(self):
        self.workers = [threading.Thread(target=self._run, args=(k,), daemon=True) for k in range(self.threads)]
        for t in self.workers:
            t.start()
        threading.Thread(target=lambda: ([t.join() for t in self.workers], self.done.set()), daemon=True).start()


def metric(port, name, labels=""):
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:
        return None
    m = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def file_lines(path):
    """(events by (uid, rv), torn lines) of a file sink."""
    seen, torn = {}, 0
    if not path.exists():
        return seen, torn
    for line in path.read_text().split("\n")[:-1]:
        try:
            e = json.loads(line)
            key = (e["metadata"]["uid"], e["metadata"]["resourceVersion"])
            seen[key] = seen.get(key, 0) + 1
        except (ValueError, KeyError):
            torn += 1
    return seen, torn


def bodies(robot):
    return [json.dumps(b, sort_keys=True) for b in robot.messages()]


def events_in(text):
    """Events one alert message covers: a digest says how many, a group's
    facts line says "N events" when it covers more than one."""
    m = re.search(r"Digest: (\d+) events?", text)
    if m:
        return int(m.group(1))
    m = re.search(r" · (\d+) events · ", text)
    return int(m.group(1)) if m else 1


def events_in_all(robot):
    return sum(events_in(m["markdown"]["text"]) for m in robot.messages())


def test_clean_restarts_while_groups_hold_events_resend_nothing(cluster, herald, tmp_path):
    a = cluster["a"]
    ns = "t-held"
    a.ensure_namespace(ns)
    robot = robots.DingTalk(keywords=["k8s"])
    os.environ["DT_URL"] = robot.url
    state = tmp_path / "state"
    state.mkdir()
    sinks = 'sink "oncall" { type = "dingtalk", webhook = env "DT_URL", keyword = "k8s", wait = "%s" }\n'
    rules = f'route {{ to = "oncall", when = {{ namespace = "{ns}" }} }}\n'
    kc = a.kubeconfig(tmp_path / "kc")
    created = 0
    logs = []

    def start(wait):
        port = kube.free_port()
        h = herald("--kubeconfig", kc, "--cluster-name", "held", "--state-dir", state,
                   "--listen", f"127.0.0.1:{port}", sinks=sinks % wait, rules=rules)
        h.wait_log("listed, watching")
        logs.append(h)
        return h, port

    def create(prefix, groups):
        nonlocal created
        for g in range(groups):
            a.create_event(ns, f"{prefix}-{g}.1", reason=f"R{prefix}{g}", obj=f"{prefix}-{g}")
            created += 1

    try:
        # 15 groups alerted at once: 15 of the robot's 20 messages this minute.
        h, port = start("1s")
        create("a", 15)
        robot.wait(lambda: len(robot.accepted) >= 15, timeout=60, what="15 alerts")
        # Three clean restarts while groups hold events (their wait is 30 s).
        for round_ in range(3):
            assert h.stop() == 0
            h, port = start("30s")
            create(f"h{round_}", 4)
            # folded: held now, or (a group came due) already alerted
            h.wait(lambda: (metric(port, "herald_alert_events_held", '{sink="oncall"}') or 0) +
                   events_in_all(robot) - 15 >= 4 * (round_ + 1), timeout=60, what="the new events in groups")
        # Past the last restart: every held event goes out when due, once.
        robot.wait(lambda: events_in_all(robot) >= created, timeout=200, what="every held event alerted")
        assert h.stop() == 0
    finally:
        robot.close()
        if os.environ.get("HERALD_TEST_LOGS"):
            with open(os.environ["HERALD_TEST_LOGS"], "w") as f:
                for x in logs:
                    f.write("=====\n" + x.log())
                for t, b in robot.accepted:
                    f.write(f"{t:.1f} {b['markdown']['title']}\n")
                for r in robot.refused:
                    f.write(f"refused {r}\n")
    assert events_in_all(robot) == created
    sent = bodies(robot)
    assert len(sent) == len(set(sent)), "an alert was sent again"
    assert robot.refused == [], robot.refused                   # no 130101: the minute was kept
    times = sorted(t for t, _ in robot.accepted)
    for i in range(len(times) - 20):
        assert times[i + 20] - times[i] >= 60, "more than 20 messages in a minute"


def seen_hash(s):
    """herald's 64-bit string hash (core/hash.h), as old .seen files hold it."""
    m = (1 << 64) - 1
    h = 1469598103934665603
    for b in s.encode():
        h = ((h ^ b) * 1099511628211) & m
    h ^= h >> 29
    h = (h * 0xbf58476d1ce4e5b9) & m
    h ^= h >> 32
    return h or 1


def test_an_old_seen_file_is_honoured_once_then_replaced(cluster, herald, tmp_path):
    a = cluster["a"]
    ns = "t-migrate"
    a.ensure_namespace(ns)
    for i in range(3):
        a.create_event(ns, f"old.{i}")
    items = a.request("GET", f"/api/v1/namespaces/{ns}/events")["items"]
    state = tmp_path / "state"
    state.mkdir()
    (state / "m1.seen").write_text("herald-seen 2\n" + "".join(
        f"{seen_hash(e['metadata']['uid']):016x} {seen_hash(e['metadata']['resourceVersion']):016x}\n" for e in items))
    h = herald("--kubeconfig", a.kubeconfig(tmp_path / "kc"), "--cluster-name", "m1", "--state-dir", state)
    h.wait_log("delivered events read from the old")
    h.wait_log("listed, watching")
    a.create_event(ns, "new.0")
    got = h.wait_ns(ns, 1)
    kube.wait_for(lambda: not (state / "m1.seen").exists(), timeout=30, what="the .seen file replaced")
    assert (state / "m1.checkpoint").exists()
    assert h.stop() == 0
    assert [e["metadata"]["name"] for e in h.in_ns(ns)] == ["new.0"], got


def test_damaged_state_files_are_reported_and_ignored(cluster, herald, tmp_path):
    a = cluster["a"]
    ns = "t-damaged"
    a.ensure_namespace(ns)
    robot = robots.DingTalk(keywords=["k8s"])
    os.environ["DT_URL"] = robot.url
    state = tmp_path / "state"
    state.mkdir()
    (state / "d1.checkpoint").write_text("herald-checkpoint 1\ncluster d1\nstream 0 - 12 n\nend 9 0000\n")
    (state / "oncall.ledger").write_text("herald-ledger 0\nend 0\n")
    port = kube.free_port()
    sinks = ('sink "out" { type = "stdout" }\n'
             'sink "oncall" { type = "dingtalk", webhook = env "DT_URL", keyword = "k8s", wait = "1s" }\n')
    rules = f'route {{ to = {{ "out", "oncall" }}, when = {{ namespace = "{ns}" }} }}\n'
    try:
        h = herald("--kubeconfig", a.kubeconfig(tmp_path / "kc"), "--cluster-name", "d1", "--state-dir", state,
                   "--listen", f"127.0.0.1:{port}", sinks=sinks, rules=rules)
        h.wait_log("listed, watching")
        a.create_event(ns, "after.0")
        h.wait_ns(ns, 1)
        robot.wait(lambda: len(robot.accepted) == 1, what="the alert")
        assert metric(port, "herald_state_load_errors_total", '{file="checkpoint"}') == 1
        assert metric(port, "herald_state_load_errors_total", '{file="ledger"}') == 1
        assert h.stop() == 0
    finally:
        robot.close()
    log = h.log()
    assert "d1.checkpoint: checkpoint" in log and "oncall.ledger" in log and "starting without it" in log
    assert (state / "oncall.ledger").read_text().startswith("herald-ledger 1\n")   # replaced by a good one


# Last in the file: it leaves 20,000 events in the shared apiserver, which
# every later list in this session would read.
def test_without_a_state_dir_reading_never_waits_for_a_save(herald, tmp_path):
    # Without --state-dir nothing is ever saved: the bound on events routed
    # since the last save (4,096) must not pause reading, or the watch
    # would stall for good at 4,096 events. 10,000 events in one stream.
    from fakeapi import FakeAPI, event, event_list, line
    fake = FakeAPI()
    try:
        total = 10000
        fake.lists.append([("status", 200, event_list([], 10))])
        steps = [("chunk", b"".join(line("ADDED", event(f"e.{i}", 11 + i)) for i in range(j, j + 1000)))
                 for j in range(0, total, 1000)]
        fake.watches.append(steps + [("hold",)])
        fake.watches.append([("hold",)])
        h = herald("--kubeconfig", fake.kubeconfig(tmp_path / "kc"))
        h.wait_log("listed, watching from resourceVersion 10", timeout=60)
        h.wait_ns("fake", total, timeout=120)
        assert len({e["metadata"]["name"] for e in h.in_ns("fake")}) == total
        assert h.stop() == 0
    finally:
        fake.stop()


def test_kill_9_under_load_loses_nothing_and_resends_at_most_the_bound(cluster, herald, tmp_path, opensearch):
    a = cluster["a"]
    ns = "t-kill9"
    a.ensure_namespace(ns)
    total, rate = 20000, 250
    proxy = CountingProxy(opensearch.url)
    robot = robots.DingTalk(keywords=["k8s"])
    os.environ["DT_URL"] = robot.url
    out = tmp_path / "events.jsonl"
    state = tmp_path / "state"
    state.mkdir()
    sinks = (f'sink "archive" {{ type = "elasticsearch", url = "{proxy.url}", index = "kill9-{{cluster}}-%Y.%m.%d",\n'
             f'  replicas = 0, batch = {{ wait = "200ms" }} }}\n'
             f'sink "lines" {{ type = "file", path = "{out}" }}\n'
             'sink "oncall" { type = "dingtalk", webhook = env "DT_URL", keyword = "k8s", wait = "1s" }\n')
    rules = (f'route {{ to = {{ "archive", "lines" }}, when = {{ namespace = "{ns}" }} }}\n'
             f'route {{ to = "oncall", when = {{ namespace = "{ns}", reason = "Paged" }} }}\n')
    kc = a.kubeconfig(tmp_path / "kc")
    args = ("--kubeconfig", kc, "--cluster-name", "k9", "--state-dir", state)
    h = herald(*args, sinks=sinks, rules=rules)
    h.wait_log("listed, watching")
    creator = Creator(a, ns, total, rate)
    creator.start()
    kills = 0
    rnd = random.Random(11)
    try:
        while not creator.done.is_set() or kills < 10:
            time.sleep(rnd.uniform(1.5, 6.5))
            h.proc.kill()
            h.proc.wait()
            kills += 1
            h = herald(*args, sinks=sinks, rules=rules)
            h.wait_log("listed, watching", timeout=120)
        creator.done.wait(timeout=240)
        assert not creator.errors, f"{len(creator.errors)} events could not be created"

        def complete():
            got, _ = file_lines(out)
            return len(got) >= total
        h.wait(complete, timeout=180, what=f"{total} events in the file sink")
        idx = "kill9-k9-*"
        kube.wait_for(lambda: opensearch.count(idx) >= total, timeout=120, what="every event in OpenSearch")
        robot.wait(lambda: robot.accepted, timeout=60, what="an alert")   # groups hold the rest for `interval`
        assert h.stop() == 0
    finally:
        proxy.close()
        robot.close()
    got, torn = file_lines(out)
    names = set()
    for line in out.read_text().split("\n")[:-1]:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        names.add(e["metadata"]["name"])
    assert names == {f"load-{i}" for i in range(total)}            # 0 missing from the file
    assert opensearch.count(idx) == total                           # 0 missing, stored once
    duplicates = sum(n - 1 for n in got.values())
    print(f"\nkills={kills} duplicate_lines={duplicates} conflicts_409={proxy.conflicts} "
          f"bulk_items={proxy.items} bound={IN_FLIGHT_BOUND * kills} torn={torn}")
    assert duplicates <= IN_FLIGHT_BOUND * kills
    assert proxy.conflicts <= IN_FLIGHT_BOUND * kills
    assert torn == 0
    sent = bodies(robot)
    assert len(sent) == len(set(sent)), "the robot got a message twice"
    assert robot.refused == [], robot.refused
