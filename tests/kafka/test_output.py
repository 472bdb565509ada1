"""The kafka sink end to end: events watched from a real kube-apiserver
(tests/integration/kube.py) go through herald into a real Kafka 4 broker
(tests/servers/kafka.py) and are read back with the Python consumer:
records exactly as shaped, keys and headers as documented, each key's
records in order; the broker stopped for a minute mid-stream loses and
duplicates nothing; `herald check` refuses bad properties with file:line."""
import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

SOURCE = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(SOURCE / "tests" / "integration"))
import kube  # noqa: E402

BIN = os.environ.get("HERALD_BIN", str(SOURCE / "build" / "herald"))
OUTAGE_S = int(os.environ.get("HERALD_KAFKA_OUTAGE_S", "60"))


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory):
    work = tmp_path_factory.mktemp("kube")
    bindir = kube.kube_bin()
    etcd = kube.Etcd(bindir, work)
    api = None
    try:
        api = kube.APIServer(bindir, work, etcd, "a", "/cluster-a")
        yield api
    finally:
        if api:
            api.stop()
        etcd.stop()


def config(tmp_path, sinks, rules='route { to = "k" }\n'):
    cfg = tmp_path / f"config-{time.monotonic_ns()}"
    (cfg / "rules").mkdir(parents=True)
    (cfg / "sinks.lua").write_text(sinks)
    (cfg / "rules" / "10.lua").write_text(rules)
    return cfg


class Herald:
    def __init__(self, tmp_path, cfg, apiserver, *args):
        kc = apiserver.kubeconfig(tmp_path / f"kc-{time.monotonic_ns()}")
        self.port = kube.free_port()
        self.err = open(tmp_path / f"herald-{time.monotonic_ns()}.log", "w+")
        self.proc = subprocess.Popen([BIN, "--config", str(cfg), "--kubeconfig", str(kc), "--cluster-name", "ack",
                                      "--listen", f"127.0.0.1:{self.port}", *args],
                                     stdout=subprocess.DEVNULL, stderr=self.err, text=True)

    def metrics(self):
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5).read().decode()
        except OSError:
            return ""

    def metric(self, text):
        for line in self.metrics().splitlines():
            if line.startswith(text + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        return code

    def log(self):
        self.err.flush()
        self.err.seek(0)
        return self.err.read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def post_event(api, ns, name, obj_uid, reason="BackOff", type_="Warning", message="m"):
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return api.request("POST", f"/api/v1/namespaces/{ns}/events", {
        "metadata": {"name": name},
        "involvedObject": {"kind": "Pod", "namespace": ns, "name": name.split(".")[0], "uid": obj_uid},
        "reason": reason, "message": message, "type": type_, "count": 1,
        "firstTimestamp": now, "lastTimestamp": now, "source": {"component": "kubelet", "host": "node-1"},
    })


def herald_document(ev):
    """What scripts/herald/documents.lua's herald shape makes of an Event."""
    m, o = ev["metadata"], ev["involvedObject"]
    return {
        "@timestamp": ev["lastTimestamp"].replace("Z", ".000Z"), "cluster": "ack", "type": ev["type"], "reason": ev["reason"],
        "message": ev["message"], "count": ev["count"], "firstTimestamp": ev["firstTimestamp"],
        "lastTimestamp": ev["lastTimestamp"],
        "involvedObject": {k: o[k] for k in ("kind", "namespace", "name", "uid")},
        "source": dict(ev["source"]),
        "metadata": {k: m[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")},
    }


def wait_for_record(broker, topic, pred, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        recs = broker.consume(topic, 10**6, timeout=3)
        if any(pred(r) for r in recs):
            return recs
    raise AssertionError(f"no such record in {topic}")


def test_watched_events_reach_the_topic_as_shaped_keyed_and_in_order(apiserver, broker, tmp_path):
    broker.create_topic("k8s-ack", partitions=3)
    cfg = config(tmp_path, f'sink "k" {{ type = "kafka", brokers = "{broker.bootstrap}", '
                           'topic = "k8s-{cluster}", compression = "zstd" }\n')
    h = Herald(tmp_path, cfg, apiserver)
    try:
        # herald watches: a first event comes through
        apiserver.ensure_namespace("kt0")
        post_event(apiserver, "kt0", "ready.1", "uid-ready")
        wait_for_record(broker, "k8s-ack", lambda r: b"ready.1" in r["value"])
        # 2 namespaces x 4 events, each bumped 3 times: 32 versions
        final = {}
        for ns in ("kt1", "kt2"):
            apiserver.ensure_namespace(ns)
            for i in range(4):
                name = f"pod-{i}.{ns}"
                post_event(apiserver, ns, name, f"uid-{ns}-{i}", reason=f"R{i}", type_="Warning" if i % 2 else "Normal")
        for round_ in range(3):
            for ns in ("kt1", "kt2"):
                for i in range(4):
                    final[(ns, f"pod-{i}.{ns}")] = apiserver.bump_event(ns, f"pod-{i}.{ns}")
        records = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            records = [r for r in broker.consume("k8s-ack", 10**6, timeout=5)
                       if json.loads(r["value"])["metadata"]["namespace"] in ("kt1", "kt2")]
            if len(records) >= 32:
                break
        assert len(records) == 32, (f"{len(records)} records: "
                                    f"{sorted((json.loads(r['value'])['metadata']['name'], json.loads(r['value'])['count']) for r in records)}"
                                    f"\n{h.metrics()}\n{h.log()[-3000:]}")
        # per-sink metrics: every record acknowledged, nothing in flight
        kube.wait_for(lambda: h.metric('herald_kafka_records_produced_total{sink="k"}') == 33, timeout=30,
                      what="33 records acknowledged")
        m = h.metrics()
        assert 'herald_kafka_in_flight{sink="k"} 0' in m and 'herald_kafka_queue_depth{sink="k"}' in m, m
        assert 'herald_sink_events_written_total{sink="k"} 33' in m, m
        assert h.stop() == 0
    finally:
        h.kill()
    versions = [(json.loads(r["value"])["metadata"]["uid"], json.loads(r["value"])["metadata"]["resourceVersion"])
                for r in records]
    assert len(set(versions)) == 32, "a version was produced twice"
    by_key = {}
    for r in sorted(records, key=lambda r: (r["partition"], r["offset"])):
        doc = json.loads(r["value"])
        ns, name = doc["metadata"]["namespace"], doc["metadata"]["name"]
        i = int(name.split("-")[1].split(".")[0])
        # key <cluster>/<namespace>/<involved object uid>; headers cluster, type, reason
        assert r["key"] == f"ack/{ns}/uid-{ns}-{i}".encode(), r["key"]
        assert r["headers"] == [("cluster", b"ack"), ("type", b"Warning" if i % 2 else b"Normal"),
                                ("reason", f"R{i}".encode())], r["headers"]
        by_key.setdefault(r["key"], []).append((r["partition"], doc))
    for key, recs in by_key.items():
        assert len({p for p, _ in recs}) == 1, f"{key} spread over partitions"
        counts = [d["count"] for _, d in recs]
        assert counts == [1, 2, 3, 4], f"{key}: {counts} (order per key)"
        # the last version, exactly as the herald shape makes it
        doc = recs[-1][1]
        ev = final[(doc["metadata"]["namespace"], doc["metadata"]["name"])]
        assert doc == herald_document(ev)


def test_broker_stopped_a_minute_mid_stream_loses_and_duplicates_nothing(apiserver, broker, tmp_path):
    topic = "k8s-outage"
    broker.create_topic(topic, partitions=3)
    # a small queue: the outage fills it and pauses the watch
    cfg = config(tmp_path, f'sink "k" {{ type = "kafka", brokers = "{broker.bootstrap}", topic = "{topic}",\n'
                           '  batch = { events = 20 }, queue = { events = 100 } }\n')
    ns = "outage"
    h = Herald(tmp_path, cfg, apiserver, "--namespace", ns)   # the records produced are this test's only
    apiserver.ensure_namespace(ns)
    created = []
    stop = threading.Event()

    def create():
        i = 0
        while not stop.is_set():
            ev = post_event(apiserver, ns, f"ev-{i}.{ns}", f"obj-{i % 7}")
            created.append((ev["metadata"]["uid"], ev["metadata"]["resourceVersion"]))
            i += 1
            stop.wait(0.05)

    t = threading.Thread(target=create, daemon=True)
    try:
        t.start()
        kube.wait_for(lambda: h.metric('herald_kafka_records_produced_total{sink="k"}') >= 50, timeout=90,
                      what="records flowing")
        broker.stop()
        down = time.monotonic()
        before = h.metric('herald_kafka_records_produced_total{sink="k"}')
        # librdkafka holds what it has, herald's queue fills, the watch pauses
        kube.wait_for(lambda: h.metric('herald_watch_pauses_total{cluster="ack"}') >= 1, timeout=OUTAGE_S,
                      what="the watch paused")
        time.sleep(max(0, OUTAGE_S - (time.monotonic() - down)))   # the outage itself, not a wait for a condition
        broker.start()
        kube.wait_for(lambda: h.metric('herald_kafka_records_produced_total{sink="k"}') >= before + 200,
                      timeout=120, what="records flowing again")
        stop.set()
        t.join(30)
        total = len(created)
        kube.wait_for(lambda: h.metric('herald_kafka_records_produced_total{sink="k"}') >= total, timeout=120,
                      what=f"{total} records produced")
        assert h.stop() == 0
    finally:
        stop.set()
        h.kill()
    log = h.log()
    records = broker.consume(topic, total + 50, timeout=60)
    got = [(json.loads(r["value"])["metadata"]["uid"], json.loads(r["value"])["metadata"]["resourceVersion"])
           for r in records]
    assert len(got) == len(set(got)), f"{len(got) - len(set(got))} duplicates"
    missing = set(created) - set(got)
    assert not missing, f"{len(missing)} of {total} lost: {sorted(missing)}, last created {created[-3:]}\n{log[-3000:]}"
    assert len(got) == total
    # each key's records in order (resourceVersions grow per object)
    last = {}
    for r in sorted(records, key=lambda r: (r["partition"], r["offset"])):
        rv = int(json.loads(r["value"])["metadata"]["resourceVersion"])
        assert rv > last.get(r["key"], 0), f"{r['key']} out of order"
        last[r["key"]] = rv


def run_check(cfg):
    return subprocess.run([BIN, "check", "--config", str(cfg)], capture_output=True, text=True, timeout=60)


def test_check_refuses_unknown_properties_and_missing_brokers_with_file_and_line(tmp_path):
    cfg = config(tmp_path,
                 'sink "a" { type = "stdout" }\n'
                 'sink "k" {\n  type = "kafka", brokers = "127.0.0.1:1",\n'
                 '  properties = { ["no.such.property"] = "1" },\n}\n'
                 'sink "m" { type = "kafka", topic = "x" }\n'
                 'sink "n" { type = "kafka", brokers = "h:1", acks = "1" }\n'
                 'sink "o" { type = "kafka", brokers = "h:1", compression = "brotli" }\n'
                 'sink "p" { type = "kafka", brokers = "h:1", properties = { ["linger.ms"] = "soon" },\n'
                 '  sasl = { mechanism = "SCRAM-SHA-256", user = "u", password = "pw-not-shown-7c1" } }\n',
                 rules='route { to = "a" }\n')
    r = run_check(cfg)
    assert r.returncode == 1, r
    s = f"{cfg}/sinks.lua"
    assert f'{s}:2: sink "k": librdkafka refuses property "no.such.property": No such configuration property' in r.stderr, r.stderr
    assert f'{s}:6: sink "m": option "brokers" is required for type kafka' in r.stderr, r.stderr
    assert f'{s}:7: sink "n": acks = "1" needs idempotence = false' in r.stderr, r.stderr
    assert f'{s}:8: sink "o": compression "brotli"' in r.stderr, r.stderr
    assert f'{s}:9: sink "p": librdkafka refuses property "linger.ms"' in r.stderr, r.stderr
    assert "pw-not-shown-7c1" not in r.stderr + r.stdout
    # and a good one passes
    ok = config(tmp_path, f'sink "k" {{ type = "kafka", brokers = {{ "a:9092", "b:9092" }}, acks = "1", '
                          'idempotence = false, linger = "20ms", properties = { ["message.timeout.ms"] = 600000 } }\n')
    r = run_check(ok)
    assert r.returncode == 0, r.stderr


def test_kube_eventer_shape_a_key_function_and_a_topic_per_namespace(broker, tmp_path):
    """kube-eventer's Kafka record (EventValue the Event as a JSON string,
    EventTimestamp, EventTags), the operator's key, {namespace} in the topic,
    events from a file, and a dead letter for a record over the topic's limit."""
    events = SOURCE / "tests" / "fixtures" / "events.jsonl"
    fixtures = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    def ns_of(e):
        return (e.get("involvedObject") or e.get("regarding") or {}).get("namespace") or e["metadata"]["namespace"]
    namespaces = {}
    for e in fixtures:
        namespaces[ns_of(e)] = namespaces.get(ns_of(e), 0) + 1
    cfg = config(tmp_path, f'sink "k" {{ type = "kafka", brokers = "{broker.bootstrap}", topic = "ke-{{namespace}}",\n'
                           '  shape = "kube-eventer", cluster_name = "c9", key = function(ev) return ev.reason end }\n')
    r = subprocess.run([BIN, "--config", str(cfg), "--from", str(events), "--cluster-name", "c1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    got = []
    for ns, n in namespaces.items():
        got += broker.consume(f"ke-{ns}", n, timeout=30)
    assert len(got) == len(fixtures)
    by_uid = {e["metadata"]["uid"]: e for e in fixtures}
    for rec in got:
        v = json.loads(rec["value"])
        assert set(v) == {"EventValue", "EventTimestamp", "EventTags"}
        ev = json.loads(v["EventValue"])
        src = by_uid[ev["metadata"]["uid"]]
        assert rec["key"] == src["reason"].encode()
        obj = src.get("involvedObject") or src["regarding"]
        assert ev["reason"] == src["reason"] and ev["involvedObject"]["name"] == obj["name"]
        tags = v["EventTags"]
        assert tags["eventID"] == src["metadata"]["uid"] and tags["cluster_name"] == "c9"
        assert tags["hostname"] == (src.get("source") or {}).get("host", src.get("deprecatedSource", {}).get("host", ""))
        if obj["kind"] == "Pod":
            assert tags["pod_name"] == obj["name"]
        assert v["EventTimestamp"].endswith("Z")
        assert dict(rec["headers"])["cluster"] == b"c1"


def test_a_record_over_the_topic_limit_is_dead_lettered_with_its_reason(broker, tmp_path):
    broker.create_topic("small", config={"max.message.bytes": "300"})
    dead = tmp_path / "dead.jsonl"
    cfg = config(tmp_path, f'sink "k" {{ type = "kafka", brokers = "{broker.bootstrap}", topic = "small",\n'
                           f'  dead_letter = "{dead}" }}\n')
    h = subprocess.run([BIN, "--config", str(cfg), "--from", str(SOURCE / "tests" / "fixtures" / "events.jsonl"),
                        "--listen", "off"], capture_output=True, text=True, timeout=120)
    assert h.returncode == 4, h.stderr      # refused for good: undelivered (issue 12.7)
    lines = [json.loads(x) for x in dead.read_text().splitlines()]
    assert len(lines) == 15, h.stderr
    assert all(x["sink"] == "k" and x["reason"].startswith("msg_size_too_large") for x in lines)
    assert "msg_size_too_large" in h.stderr
