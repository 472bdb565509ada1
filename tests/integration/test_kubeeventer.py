"""kube-eventer's own command line, as the seed deploys it, run by herald
against two real clusters (kube-apiservers `a` and `b`), a real OpenSearch
and a local DingTalk robot: one herald process per cluster, named cls-tke
and cls-eks. The --source reaches the test apiserver through `auth=` (a
kubeconfig), as kube-eventer allows; the robot speaks HTTPS with a test CA
given by SSL_CERT_FILE, because kube-eventer (and so herald) always posts
to https:// for DingTalk."""
import os
import ssl
import subprocess
import sys
import threading
import time
import uuid

import pytest

import kube
from conftest import BIN
from test_elasticsearch import OpenSearch

sys.path.insert(0, str(kube.SOURCE / "tests" / "alerts"))
import robots  # noqa: E402

SECRET = "SEC0123456789abcdef"
TOKENS = {"cls-tke": "tketoken0123456789", "cls-eks": "ekstoken0123456789"}


@pytest.fixture(scope="module")
def opensearch(tmp_path_factory):
    node = OpenSearch(tmp_path_factory.mktemp("os"))
    yield node
    node.stop()


def server_cert(d):
    """A CA (ca.crt) and a certificate for 127.0.0.1 it signed."""
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True, cwd=d)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=herald-test-robot-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "robot.key", "-out", "robot.csr",
        "-subj", "/CN=127.0.0.1")
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "robot.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "robot.crt", "-days", "2", "-extfile", "ext.cnf")
    return d / "ca.crt"


class TLSDingTalk(robots.DingTalk):
    """robots.DingTalk over HTTPS (the handshake happens in the handler's thread)."""

    def __init__(self, certdir, **kw):
        super().__init__(**kw)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certdir / "robot.crt", certdir / "robot.key")
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True,
                                             do_handshake_on_connect=False)


class Herald:
    def __init__(self, args, env):
        self.err = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen([BIN, *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, env=env)
        self.watchdog = threading.Timer(240, self.proc.kill)
        self.watchdog.daemon = True
        self.watchdog.start()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            with self.lock:
                self.err.append(line)

    def log(self):
        with self.lock:
            return "".join(self.err)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        code = self.proc.wait(timeout=60)
        self.watchdog.cancel()
        self.reader.join(timeout=10)
        return code


def test_the_seed_flags_for_two_clusters(cluster, opensearch, tmp_path):
    certs = tmp_path / "certs"
    certs.mkdir()
    ca = server_cert(certs)
    ns = f"ke-{uuid.uuid4().hex[:8]}"
    apis = {"cls-tke": cluster["a"], "cls-eks": cluster["b"]}
    # cls-tke's robot wants a signature (its line has sign=); cls-eks's does not
    bots = {"cls-tke": TLSDingTalk(certs, token=TOKENS["cls-tke"], secret=SECRET, keywords=["event"]),
            "cls-eks": TLSDingTalk(certs, token=TOKENS["cls-eks"], keywords=["event"])}
    env = dict(os.environ, TZ="Asia/Shanghai", SSL_CERT_FILE=str(ca))
    heralds, made = {}, {}
    try:
        for name, api in apis.items():
            api.ensure_namespace(ns)
            # events from before herald starts (listed) ...
            made[name] = [api.create_event(ns, f"web-0.{uuid.uuid4().hex[:10]}", message=f"Back-off in {name}"),
                          api.create_event(ns, f"web-0.{uuid.uuid4().hex[:10]}", reason="Pulled", type_="Normal")]
        for name, api in apis.items():
            kubeconfig = api.kubeconfig(tmp_path / f"{name}.kubeconfig")
            sign = f"&sign={SECRET}" if name == "cls-tke" else ""
            args = [
                f"--source=kubernetes:{api.url}?inClusterConfig=false&auth={kubeconfig}",
                f"--sink=dingtalk:https://127.0.0.1:{bots[name].port}/robot/send?access_token={TOKENS[name]}"
                f"&label={name}&label=event&level=Warning&msg_type=markdown{sign}",
                f"--sink=elasticsearch:{opensearch.url}?ver=7&index={name}-event&cluster_name={name}",
                "--listen", "127.0.0.1:0",       # herald's: two processes on one machine
            ]
            heralds[name] = Herald(args, env)
        for name, api in apis.items():
            # ... and after (watched)
            made[name] += [api.create_event(ns, f"db-0.{uuid.uuid4().hex[:10]}", reason="Unhealthy",
                                            message=f"Readiness probe failed in {name}"),
                           api.create_event(ns, f"db-0.{uuid.uuid4().hex[:10]}", reason="Started", type_="Normal")]
        in_ns = {"term": {"Metadata.namespace.keyword": ns}}
        for name in apis:
            idx = f"{name}-event-*"
            kube.wait_for(lambda: _count(opensearch, idx, in_ns) >= 4, timeout=90, what=f"{name}'s documents")
            kube.wait_for(lambda: len(bots[name].accepted) >= 2, timeout=90, what=f"{name}'s two alerts")
        for name, h in heralds.items():
            assert h.stop() == 0, h.log()
        for name, api in apis.items():
            idx = f"{name}-event-*"
            day = time.strftime("%Y.%m.%d", time.gmtime())
            assert f"{name}-event-{day}" in {i["index"] for i in opensearch.get(f"/_cat/indices/{idx}?format=json")}
            hits = opensearch.get(f"/{idx}/_search", {"query": in_ns, "size": 50})["hits"]["hits"]
            uids = sorted(h["_source"]["Metadata"]["uid"] for h in hits)
            assert uids == sorted(e["metadata"]["uid"] for e in made[name])       # every event, once
            for h in hits:
                d = h["_source"]
                assert d["EventTags"]["cluster_name"] == name
                assert {"Count", "Metadata", "InvolvedObject", "Reason", "Type", "Message",
                        "LastOccurrenceTimestamp"} <= set(d)
            bot = bots[name]
            assert bot.refused == [], bot.refused              # signed where sign= is given; the keyword
            texts = [b["markdown"]["text"] for b in bot.messages()]
            assert len(texts) == 2, texts                      # the two Warning events, not the Normal ones
            for text in texts:
                assert text.startswith(f"label[0]: **{name}**\n\nlabel[1]: **event**\n\n"), text
                assert "Level: **Warning**" in text and f"Namespace: {ns}" in text
            assert any("Back-off in" in t for t in texts) and any("Readiness probe failed" in t for t in texts)
            assert not any("Pulled" in t or "Started" in t for t in texts)
            log = heralds[name].log()
            assert TOKENS[name] not in log and SECRET not in log
            assert "no files are read or watched" in log
    finally:
        for h in heralds.values():
            if h.proc.poll() is None:
                h.proc.kill()
                h.proc.wait()
        for b in bots.values():
            b.close()


def _count(opensearch, idx, query):
    try:
        return opensearch.count(idx, query)
    except OSError:
        return 0     # the index is not made yet


@pytest.mark.parametrize("how", ["in-cluster", "insecure", "service-account"])
def test_the_source_options_reach_the_cluster(cluster, opensearch, tmp_path, how):
    """kube-eventer's default in-cluster source with the URL's server (the
    pod's KUBERNETES_SERVICE_* pointing elsewhere), insecure=true (no CA at
    all), and useServiceAccount=true (the pod's token replaces a
    kubeconfig's bad one)."""
    api = cluster["a"]
    ns = f"ke-{how}-{uuid.uuid4().hex[:6]}"
    api.ensure_namespace(ns)
    made = api.create_event(ns, f"web-0.{uuid.uuid4().hex[:10]}")
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text(kube.ADMIN_TOKEN)
    if how != "insecure":
        (sa / "ca.crt").write_bytes(api.ca.read_bytes())
    env = dict(os.environ, KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT="1",
               HERALD_SA_DIR=str(sa))
    source = {
        "in-cluster": f"--source=kubernetes:{api.url}",
        "insecure": f"--source=kubernetes:{api.url}?insecure=true",
        "service-account": "--source=kubernetes:https://unused?inClusterConfig=false&useServiceAccount=true"
                           f"&auth={api.kubeconfig(tmp_path / 'bad.kubeconfig', token='wrong-token')}",
    }[how]
    index = f"ke-src-{how}"
    h = Herald([source, f"--sink=elasticsearch:{opensearch.url}?index={index}&cluster_name=c1",
                "--listen", "off"], env)
    try:
        query = {"term": {"Metadata.uid.keyword": made["metadata"]["uid"]}}
        kube.wait_for(lambda: _count(opensearch, f"{index}-*", query) == 1 or h.proc.poll() is not None,
                      timeout=90, what="the event's document")
        assert h.stop() == 0, h.log()
        assert _count(opensearch, f"{index}-*", query) == 1, h.log()
        assert kube.ADMIN_TOKEN not in h.log()
    finally:
        if h.proc.poll() is None:
            h.proc.kill()
            h.proc.wait()
