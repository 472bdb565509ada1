"""The elasticsearch sink against a real OpenSearch 2.19 node (built from
Maven Central jars by tests/servers/build-opensearch.sh): searchable
documents tagged by cluster, exactly once, the index template in force,
a server that goes away and comes back, refused documents dead-lettered,
and a wrong password that is reported without showing it."""
import base64
import http.server
import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

import kube
from conftest import BIN

EVENTS = kube.SOURCE / "tests" / "fixtures" / "events.jsonl"


class OpenSearch:
    def __init__(self, workdir):
        out = subprocess.run(["bash", str(kube.SOURCE / "tests" / "servers" / "build-opensearch.sh")],
                             check=True, capture_output=True, text=True)
        self.dir = pathlib.Path(out.stdout.strip().splitlines()[-1])
        self.home = workdir / "opensearch"
        self.port = kube.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.start()

    def start(self):
        self.log = open(self.home.parent / "opensearch.log", "a")
        cp = f"{self.dir}/target/classes:{self.dir}/target/lib/*"
        self.proc = subprocess.Popen(["java", "-Xms256m", "-Xmx512m", "-cp", cp, "herald.TestNode",
                                      str(self.home), str(self.port)], stdout=self.log, stderr=subprocess.STDOUT)
        kube.wait_for(self.up, timeout=120, what="OpenSearch")

    def up(self):
        try:
            return self.get("/")["version"]["distribution"] == "opensearch"
        except (OSError, KeyError, ValueError):
            return False

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def get(self, path, body=None, method=None):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode() if body is not None else None,
                                     method=method or ("POST" if body is not None else "GET"),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def count(self, index, query=None):
        self.get(f"/{index}/_refresh", {}, "POST")
        return self.get(f"/{index}/_count", {"query": query} if query else {"query": {"match_all": {}}})["count"]


@pytest.fixture(scope="module")
def opensearch(tmp_path_factory):
    node = OpenSearch(tmp_path_factory.mktemp("os"))
    yield node
    node.stop()


def es_config(tmp_path, url, prefix, extra=""):
    cfg = tmp_path / f"cfg-{prefix}"
    (cfg / "rules").mkdir(parents=True)
    (cfg / "sinks.lua").write_text(
        f'sink "archive" {{ type = "elasticsearch", url = "{url}", index = "{prefix}-{{cluster}}-%Y.%m.%d",\n'
        f'  replicas = 0, batch = {{ wait = "100ms" }}, dead_letter = "{tmp_path}/{prefix}-dead.jsonl"{extra} }}\n')
    (cfg / "rules" / "10.lua").write_text('route { to = "archive" }\n')
    return cfg


def run(cfg, *args, input=None, env=None):
    return subprocess.run([BIN, "--config", str(cfg), *map(str, args)], input=input, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, **(env or {})))


def test_events_become_searchable_documents_exactly_once(opensearch, tmp_path):
    cfg = es_config(tmp_path, opensearch.url, "k8s-a")
    r = run(cfg, "--from", EVENTS, "--cluster-name", "ack-prod")
    assert r.returncode == 0, r.stderr
    assert "sink archive: opensearch 2.19.6" in r.stderr
    events = [json.loads(l) for l in EVENTS.read_text().splitlines()]
    idx = "k8s-a-*"
    assert opensearch.count(idx) == len(events) == 15
    term = lambda f, v: {"term": {f: v}}
    assert opensearch.count(idx, term("cluster", "ack-prod")) == 15
    assert opensearch.count(idx, term("involvedObject.namespace", "shop")) == 5
    assert opensearch.count(idx, term("reason", "BackOff")) == 4
    def last_seen(e):   # herald's normalisation, for the expected counts
        return ((e.get("series") or {}).get("lastObservedTime") or e.get("lastTimestamp") or e.get("eventTime")
                or e["metadata"]["creationTimestamp"])[:19]
    in_window = [e for e in events if "2026-11-20T08:05:00" <= last_seen(e) < "2026-11-20T08:10:00"]
    assert len(in_window) == 4   # BackOff x3 (its repeats), FailedMount
    assert opensearch.count(idx, {"range": {"@timestamp": {"gte": "2026-11-20T08:05:00Z", "lt": "2026-11-20T08:10:00Z"}}}) == 4
    # repeats of one event are separate documents, one per resourceVersion
    opensearch.count(idx)   # refresh
    hits = opensearch.get(f"/{idx}/_search", {"query": term("metadata.uid", "6b2e9c1d-7f3a-4b5c-8d9e-0a1b2c3d4e05"),
                                              "sort": [{"count": "asc"}]})["hits"]["hits"]
    assert [h["_source"]["count"] for h in hits] == [1, 2, 5]
    assert hits[0]["_id"] == "ack-prod/6b2e9c1d-7f3a-4b5c-8d9e-0a1b2c3d4e05/100310"
    doc = hits[0]["_source"]
    assert doc["@timestamp"] == "2026-11-20T08:05:00.000Z" and "managedFields" not in doc["metadata"]
    assert doc["involvedObject"]["kind"] == "Pod" and doc["source"]["component"] == "kubelet"
    # the index is named from the event's own time, in UTC
    indices = sorted(i["index"] for i in opensearch.get("/_cat/indices/k8s-a-*?format=json"))
    assert indices == ["k8s-a-ack-prod-2026.11.20"]
    # a restart sends everything again: nothing is stored twice
    r = run(cfg, "--from", EVENTS, "--cluster-name", "ack-prod")
    assert r.returncode == 0, r.stderr
    assert opensearch.count(idx) == 15
    assert not (tmp_path / "k8s-a-dead.jsonl").exists()


def test_gzip_bodies_and_events_from_a_watch(opensearch, tmp_path):
    """Events watched from a (scripted) apiserver, sent compressed."""
    from fakeapi import FakeAPI, event, event_list, line
    fake = FakeAPI()
    try:
        fake.lists.append([("status", 200, event_list([event("listed.1", 5)], 10))])
        fake.watches.append([("chunk", line("ADDED", event("watched.1", 11))),
                             ("chunk", line("MODIFIED", dict(event("watched.1", 12), count=2))), ("hold",)])
        cfg = es_config(tmp_path, opensearch.url, "k8s-z", ", gzip = true")
        fake.kubeconfig(tmp_path / "kc")
        h = subprocess.Popen([BIN, "--config", str(cfg), "--kubeconfig", str(tmp_path / "kc"), "--cluster-name", "watched"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        kube.wait_for(lambda: opensearch.get("/_cat/indices/k8s-z-*?format=json") and opensearch.count("k8s-z-*") == 3,
                      timeout=60, what="3 documents")
        h.send_signal(signal.SIGTERM)
        assert h.wait(timeout=30) == 0
        hits = opensearch.get("/k8s-z-*/_search", {"query": {"term": {"metadata.name": "watched.1"}},
                                                   "sort": [{"count": "asc"}]})["hits"]["hits"]
        assert [x["_source"]["count"] for x in hits] == [1, 2]
        assert all(x["_source"]["cluster"] == "watched" for x in hits)
    finally:
        fake.stop()


def test_the_index_template_is_in_force(opensearch, tmp_path):
    cfg = es_config(tmp_path, opensearch.url, "k8s-t")
    assert run(cfg, "--from", EVENTS).returncode == 0
    tmpl = opensearch.get("/_index_template/herald-events")["index_templates"][0]["index_template"]
    assert "k8s-t-*" in tmpl["index_patterns"] or tmpl["index_patterns"] == ["k8s-t-*"]
    mapping = next(iter(opensearch.get("/k8s-t-*/_mapping").values()))["mappings"]["properties"]
    assert mapping["message"]["type"] == "text"
    assert mapping["reason"]["type"] == "keyword" and mapping["cluster"]["type"] == "keyword"
    assert mapping["@timestamp"]["type"] == "date" and mapping["lastTimestamp"]["type"] == "date"
    assert mapping["involvedObject"]["properties"]["name"]["type"] == "keyword"
    settings = next(iter(opensearch.get("/k8s-t-*/_settings").values()))["settings"]["index"]
    assert settings["number_of_replicas"] == "0"


def test_kube_eventer_shape(opensearch, tmp_path):
    cfg = es_config(tmp_path, opensearch.url, "k8s-ke", ', shape = "kube-eventer", template = false')
    assert run(cfg, "--from", EVENTS, "--cluster-name", "c9").returncode == 0
    assert opensearch.count("k8s-ke-*") == 15    # (also refreshes the index)
    hits = opensearch.get("/k8s-ke-*/_search", {"query": {"term": {"Reason.keyword": "OOMKilling"}}})["hits"]["hits"]
    d = hits[0]["_source"]
    assert d["EventTags"]["cluster_name"] == "c9" and d["EventTags"]["hostname"] == "node-b2"
    assert d["LastOccurrenceTimestamp"] == "2026-11-20T08:00:00Z" and d["Count"] == 1
    assert d["InvolvedObject"]["kind"] == "Node"


def test_kube_eventer_flags_for_two_clusters(opensearch, tmp_path):
    # The seed's --sink=elasticsearch line, translated by herald.kubeeventer,
    # for two clusters writing to one OpenSearch: kube-eventer's index names,
    # documents, cluster_name, alias, and the mapping ES 7 gave its indices.
    sys.path.insert(0, str(kube.SOURCE / "tests" / "alerts"))
    from ke_translate import translate
    clusters = ("cls-tke", "cls-eks")
    cfgs = {}
    for cluster in clusters:
        files, secrets = translate(["--source=kubernetes:https://kubernetes.default",
                                    f"--sink=elasticsearch:{opensearch.url}?ver=7&index={cluster}-event"
                                    f"&cluster_name={cluster}"])
        assert secrets == []
        cfg = cfgs[cluster] = tmp_path / f"ke-{cluster}"
        for name, text in files.items():
            (cfg / name).parent.mkdir(parents=True, exist_ok=True)
            (cfg / name).write_text(text)
        r = run(cfg, "--from", EVENTS, "--cluster-name", cluster)
        assert r.returncode == 0, r.stderr
    for cluster in clusters:
        idx = f"{cluster}-event-*"
        assert sorted(i["index"] for i in opensearch.get(f"/_cat/indices/{idx}?format=json")) == \
            [f"{cluster}-event-2026.11.20"]
        assert opensearch.count(idx) == 15
        assert opensearch.count(idx, {"term": {"EventTags.cluster_name.keyword": cluster}}) == 15
        assert opensearch.count(idx, {"term": {"Reason.keyword": "BackOff"}}) == 4
        assert opensearch.count(idx, {"match": {"Message": "back-off"}}) >= 1
        props = opensearch.get(f"/{cluster}-event-2026.11.20/_mapping")[f"{cluster}-event-2026.11.20"]["mappings"]["properties"]
        assert props["Reason"]["type"] == "text" and props["Reason"]["fields"]["keyword"]["type"] == "keyword"
        assert props["LastOccurrenceTimestamp"]["type"] == "date"
        assert props["EventTags"]["properties"]["cluster_name"]["fields"]["keyword"]["type"] == "keyword"
        assert f"{cluster}-event-2026.11.20" in opensearch.get(f"/_alias/{cluster}-event-events")
        hits = opensearch.get(f"/{idx}/_search", {"query": {"term": {"Reason.keyword": "OOMKilling"}}})["hits"]["hits"]
        d = hits[0]["_source"]
        assert d["EventTags"]["cluster_name"] == cluster and d["EventTags"]["hostname"] == "node-b2"
        assert set(d) == {"Count", "Metadata", "InvolvedObject", "Source", "FirstOccurrenceTimestamp",
                          "LastOccurrenceTimestamp", "Message", "Reason", "Type", "EventTags"}
    # every event once: the same events again store nothing new
    assert run(cfgs["cls-tke"], "--from", EVENTS, "--cluster-name", "cls-tke").returncode == 0
    assert opensearch.count("cls-tke-event-*") == 15


def test_a_refused_document_is_dead_lettered_and_the_others_stored(opensearch, tmp_path):
    # count is mapped `long` by the template; one document says "many"
    cfg = es_config(tmp_path, opensearch.url, "k8s-m", ''',
  document = function(ev)
    local d = require("herald.documents").herald(ev)
    if ev.reason == "FailedMount" then d.count = "many" end
    return d
  end''')
    r = run(cfg, "--from", EVENTS)
    assert r.returncode == 4, r.stderr          # one event left undelivered: refused for good
    assert "1 event was refused for good by a sink's server" in r.stderr
    assert opensearch.count("k8s-m-*") == 14
    dead = [json.loads(l) for l in (tmp_path / "k8s-m-dead.jsonl").read_text().splitlines()]
    assert len(dead) == 1 and dead[0]["sink"] == "archive"
    assert "mapper_parsing_exception" in dead[0]["reason"] and "6f7a8b9c-0d1e-4f2a-9b3c-4d5e6f7a8b09" in dead[0]["reason"]
    assert '"count":"many"' in dead[0]["item"]
    assert "an event failed for good" in r.stderr and "mapper_parsing_exception" in r.stderr


def test_opensearch_down_for_a_while_loses_nothing(opensearch, tmp_path):
    cfg = es_config(tmp_path, opensearch.url, "k8s-d")
    lines = EVENTS.read_text().splitlines()
    h = subprocess.Popen([BIN, "--config", str(cfg), "--from", "-"], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = []
    threading.Thread(target=lambda: err.extend(h.stderr), daemon=True).start()

    def feed(tag):
        for line in lines:
            ev = json.loads(line)
            ev["metadata"]["uid"] = f"{tag}-{ev['metadata']['uid']}"
            h.stdin.write(json.dumps(ev) + "\n")
        h.stdin.flush()

    feed("before")
    kube.wait_for(lambda: opensearch.count("k8s-d-*") == 15 if opensearch.up() else False, what="the first 15")
    opensearch.stop()
    feed("while-down")
    kube.wait_for(lambda: any("will be sent again" in l for l in err), what="a retry")
    opensearch.start()
    feed("after")
    kube.wait_for(lambda: opensearch.count("k8s-d-*") == 45, timeout=120, what="all 45 documents")
    h.stdin.close()
    assert h.wait(timeout=30) == 0
    assert opensearch.count("k8s-d-*") == 45


class AuthProxy(http.server.ThreadingHTTPServer):
    """OpenSearch behind basic auth (the test node runs no security plugin)."""

    def __init__(self, upstream, user, password):
        self.upstream = upstream
        self.expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode() if user else None
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def forward(self):
                with proxy.lock:
                    proxy.active += 1
                    proxy.max_active = max(proxy.max_active, proxy.active)
                try:
                    self.forward_one()
                finally:
                    with proxy.lock:
                        proxy.active -= 1

            def forward_one(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.expected and self.headers.get("Authorization") != proxy.expected:
                    out, status = b'{"error":{"type":"security_exception","reason":"unable to authenticate user"},"status":401}', 401
                else:
                    req = urllib.request.Request(proxy.upstream + self.path, data=body or None, method=self.command,
                                                 headers={"Content-Type": self.headers.get("Content-Type", "application/json")})
                    try:
                        with urllib.request.urlopen(req, timeout=30) as r:
                            out, status = r.read(), r.status
                    except urllib.error.HTTPError as e:
                        out, status = e.read(), e.code
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = forward

        self.lock, self.active, self.max_active = threading.Lock(), 0, 0
        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()


def test_a_wrong_password_is_a_clear_error_and_never_shown(opensearch, tmp_path):
    proxy = AuthProxy(opensearch.url, "herald", "right-horse-battery")
    try:
        secrets = tmp_path / "secrets"
        secrets.mkdir()
        (secrets / "es-password").write_text("wrong-staple-9f3\n")
        cfg = es_config(tmp_path, proxy.url, "k8s-p",
                        ', auth = { user = "herald", password = secret "es-password" }')
        h = subprocess.Popen([BIN, "--config", str(cfg), "--secrets-dir", str(secrets), "--from", "-"],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        err = []
        threading.Thread(target=lambda: err.extend(h.stderr), daemon=True).start()
        h.stdin.write(EVENTS.read_text())
        h.stdin.flush()
        kube.wait_for(lambda: any("HTTP 401: check the sink's credentials" in l for l in err), what="the 401")
        h.send_signal(signal.SIGTERM)
        assert h.wait(timeout=30) == 4            # events it could not deliver are reported, not dropped
        log = "".join(err)
        assert "unable to authenticate user" in log
        assert "events could not be delivered" in log
        assert "wrong-staple-9f3" not in log
        # the right password delivers
        (secrets / "es-password").write_text("right-horse-battery")
        r = run(cfg, "--secrets-dir", secrets, "--from", EVENTS)
        assert r.returncode == 0, r.stderr
        assert opensearch.count("k8s-p-*") == 15
        assert "right-horse-battery" not in r.stderr
    finally:
        proxy.shutdown()


def make_tls(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate."""
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True, cwd=d)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
        "-subj", "/CN=herald-test-ca")
    (d / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, subj in (("server", "/CN=127.0.0.1"), ("client", "/CN=herald")):
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subj)
        ext = ["-extfile", "san.cnf"] if name == "server" else []
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.crt", "-days", "2", *ext)


def test_https_with_a_ca_and_a_client_certificate(opensearch, tmp_path):
    import ssl
    d = tmp_path / "tls"
    d.mkdir()
    make_tls(d)
    proxy = AuthProxy(opensearch.url, None, None)
    proxy.expected = None                      # no basic auth: the client certificate is the credential
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "server.crt", d / "server.key")
    ctx.load_verify_locations(d / "ca.crt")
    ctx.verify_mode = ssl.CERT_REQUIRED
    proxy.socket = ctx.wrap_socket(proxy.socket, server_side=True)
    url = proxy.url.replace("http://", "https://")
    try:
        good = es_config(tmp_path, url, "k8s-tls",
                         f', ca_file = "{d}/ca.crt", cert_file = "{d}/client.crt", key_file = "{d}/client.key"')
        r = run(good, "--from", EVENTS)
        assert r.returncode == 0, r.stderr
        assert opensearch.count("k8s-tls-*") == 15
        # without the CA herald does not trust the server; it keeps the events and says why
        bad = es_config(tmp_path, url, "k8s-tls2", f', cert_file = "{d}/client.crt", key_file = "{d}/client.key"')
        h = subprocess.Popen([BIN, "--config", str(bad), "--from", "-"], stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        err = []
        threading.Thread(target=lambda: err.extend(h.stderr), daemon=True).start()
        h.stdin.write(EVENTS.read_text())
        h.stdin.flush()
        kube.wait_for(lambda: any("cannot reach the server" in l and "certificate" in l for l in err),
                      what="a certificate error")
        h.send_signal(signal.SIGTERM)
        assert h.wait(timeout=30) == 4, "".join(err[-30:])
        # insecure = true skips verification (never the default)
        insecure = es_config(tmp_path, url, "k8s-tls3",
                             f', insecure = true, cert_file = "{d}/client.crt", key_file = "{d}/client.key"')
        assert run(insecure, "--from", EVENTS).returncode == 0
        assert opensearch.count("k8s-tls3-*") == 15
    finally:
        proxy.shutdown()


def test_concurrent_bulk_requests_store_everything_once(opensearch, tmp_path):
    proxy = AuthProxy(opensearch.url, None, None)
    try:
        cfg = es_config(tmp_path, proxy.url, "k8s-c", ", concurrency = 4, batch = { events = 5, wait = 0 }")
        lines = []
        for i in range(60):
            for line in EVENTS.read_text().splitlines():
                ev = json.loads(line)
                ev["metadata"]["uid"] = f"{i}-{ev['metadata']['uid']}"
                lines.append(json.dumps(ev))
        r = run(cfg, "--from", "-", input="\n".join(lines) + "\n")
        assert r.returncode == 0, r.stderr
        assert opensearch.count("k8s-c-*") == len(lines) == 900
        assert proxy.max_active >= 2        # requests really were in flight together
    finally:
        proxy.shutdown()


def test_retention_without_an_ism_plugin_is_reported_and_delivery_goes_on(opensearch, tmp_path):
    # The in-process test node has no index-management plugin: the policy
    # request is refused, herald says so once and stores every event.
    cfg = es_config(tmp_path, opensearch.url, "k8s-r", ", retention_days = 14")
    r = run(cfg, "--from", EVENTS)
    assert r.returncode == 0, r.stderr
    assert "sink archive: cannot install the retention policy: HTTP" in r.stderr
    assert opensearch.count("k8s-r-*") == 15


def test_a_dead_node_in_the_url_list_is_passed_over(opensearch, tmp_path):
    dead = f"http://127.0.0.1:{kube.free_port()}"
    cfg = es_config(tmp_path, opensearch.url, "k8s-n")
    text = (cfg / "sinks.lua").read_text().replace(f'url = "{opensearch.url}"', f'url = {{ "{dead}", "{opensearch.url}" }}')
    (cfg / "sinks.lua").write_text(text)
    r = run(cfg, "--from", EVENTS)
    assert r.returncode == 0, r.stderr
    assert "cannot reach the server" in r.stderr
    assert opensearch.count("k8s-n-*") == 15


def test_a_watch_into_a_small_queue_sends_from_inside_curl_callbacks(opensearch, tmp_path):
    """A full queue flushes while curl is delivering watch data: the bulk
    request must still start (libcurl forbids adding handles from its own
    callbacks; herald defers them), and backpressure must not spin."""
    from fakeapi import FakeAPI, event, event_list, line
    fake = FakeAPI()
    try:
        n = 300
        fake.lists.append([("status", 200, event_list([], 10))])
        fake.watches.append([("chunk", b"".join(line("ADDED", event(f"q.{i}", 11 + i)) for i in range(n))),
                             ("hold",)])
        cfg = es_config(tmp_path, opensearch.url, "k8s-q", ", batch = { events = 10 }, queue = { events = 20 }")
        fake.kubeconfig(tmp_path / "kc")
        h = subprocess.Popen([BIN, "--config", str(cfg), "--kubeconfig", str(tmp_path / "kc")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        err = []
        threading.Thread(target=lambda: err.extend(h.stderr), daemon=True).start()
        kube.wait_for(lambda: opensearch.get("/_cat/indices/k8s-q-*?format=json") and opensearch.count("k8s-q-*") == n,
                      timeout=60, what=f"{n} documents")
        h.send_signal(signal.SIGTERM)
        assert h.wait(timeout=30) == 0
        log = "".join(err)
        assert "could not be started" not in log and "cannot start" not in log
        assert log.count("will be sent again") == 0, log[-2000:]
    finally:
        fake.stop()
