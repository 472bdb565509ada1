"""A real etcd and real kube-apiservers on 127.0.0.1, for herald's tests.

The binaries are built once from Go modules by tests/servers/build-kube.sh
and cached outside the repository (HERALD_CACHE, default ~/.cache/herald).
Each apiserver uses token auth and RBAC; `admin-token` is system:masters.
Several apiservers may share one etcd: the same prefix makes them one
cluster (a second endpoint), another prefix another cluster.
"""
import json
import os
import pathlib
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

SOURCE = pathlib.Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "admin-token"


def kube_bin():
    out = subprocess.run(["bash", str(SOURCE / "tests" / "servers" / "build-kube.sh")],
                         check=True, capture_output=True, text=True)
    return pathlib.Path(out.stdout.strip().splitlines()[-1])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout=30, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


def client_ca(workdir):
    """A CA the apiservers trust for client certificates, and a client
    certificate for cert-admin in system:masters (client.crt, client.key)."""
    d = workdir / "client-ca"
    if (d / "client.crt").exists():
        return d
    d.mkdir(exist_ok=True)
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True, cwd=d)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=herald-test-client-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr",
        "-subj", "/O=system:masters/CN=cert-admin")
    run("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "client.crt", "-days", "2")
    return d


class Etcd:
    def __init__(self, bindir, workdir):
        self.dir = workdir / "etcd"
        self.port, peer = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(workdir / "etcd.log", "w")
        self.proc = subprocess.Popen([
            str(bindir / "etcd"), "--name=n0", f"--data-dir={self.dir}",
            f"--listen-client-urls={self.url}", f"--advertise-client-urls={self.url}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=n0=http://127.0.0.1:{peer}", "--unsafe-no-fsync=true",
        ], stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self._healthy, what="etcd")

    def _healthy(self):
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=1) as r:
                return b"true" in r.read()
        except OSError:
            return False

    def call(self, path, body):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def compact_all(self):
        """Compacts etcd up to its current revision: older watches get 410."""
        rev = int(self.call("/v3/kv/range", {"key": "AA=="})["header"]["revision"])
        self.call("/v3/kv/compaction", {"revision": str(rev), "physical": True})
        return rev

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()


class APIServer:
    def __init__(self, bindir, workdir, etcd, name, prefix):
        self.bindir, self.etcd, self.name, self.prefix = bindir, etcd, name, prefix
        self.dir = workdir / name
        (self.dir / "pki").mkdir(parents=True, exist_ok=True)
        self.sa_key = workdir / "sa.key"
        if not self.sa_key.exists():
            subprocess.run(["openssl", "genrsa", "-out", str(self.sa_key), "2048"], check=True,
                           capture_output=True)
        self.client_ca = client_ca(workdir)
        tokens = self.dir / "tokens.csv"
        tokens.write_text(f'{ADMIN_TOKEN},admin,admin,"system:masters"\n')
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.args = [
            str(bindir / "kube-apiserver"), f"--etcd-servers={etcd.url}", f"--etcd-prefix={prefix}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={self.port}",
            f"--cert-dir={self.dir / 'pki'}", "--service-cluster-ip-range=10.0.0.0/24",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={self.sa_key}", f"--service-account-signing-key-file={self.sa_key}",
            "--authorization-mode=RBAC", f"--token-auth-file={tokens}",
            f"--client-ca-file={self.client_ca / 'ca.crt'}",
            "--disable-admission-plugins=ServiceAccount", "--allow-privileged=true",
        ]
        self.proc = None
        self.start()

    @property
    def ca(self):
        return self.dir / "pki" / "apiserver.crt"

    def start(self):
        self.log = open(self.dir / "apiserver.log", "a")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self._ready, timeout=60, what=f"apiserver {self.name}")

    def _ready(self):
        try:
            return self.request("GET", "/readyz", raw=True) == b"ok"
        except (OSError, urllib.error.HTTPError):
            return False

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()

    def request(self, method, path, body=None, token=ADMIN_TOKEN, raw=False, content_type="application/json"):
        ctx = ssl.create_default_context(cafile=str(self.ca)) if self.ca.exists() else ssl._create_unverified_context()
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            req.add_header("Content-Type", content_type)
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            out = r.read()
        return out if raw else json.loads(out)

    def kubeconfig(self, path, token=ADMIN_TOKEN, token_file=None):
        user = {"tokenFile": str(token_file)} if token_file else {"token": token}
        cfg = {
            "apiVersion": "v1", "kind": "Config", "current-context": self.name,
            "clusters": [{"name": self.name, "cluster": {"server": self.url, "certificate-authority": str(self.ca)}}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": self.name, "context": {"cluster": self.name, "user": "u"}}],
        }
        pathlib.Path(path).write_text(json.dumps(cfg))  # JSON is YAML
        return path

    # --- objects

    def ensure_namespace(self, ns):
        try:
            self.request("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
        except urllib.error.HTTPError as e:
            if e.code != 409:
                raise

    def create_event(self, ns, name, reason="BackOff", type_="Warning", count=1, message="m", kind="Pod", obj=None):
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return self.request("POST", f"/api/v1/namespaces/{ns}/events", {
            "metadata": {"name": name},
            "involvedObject": {"kind": kind, "namespace": ns, "name": obj or name.split(".")[0]},
            "reason": reason, "message": message, "type": type_, "count": count,
            "firstTimestamp": now, "lastTimestamp": now, "source": {"component": "kubelet"},
        })

    def bump_event(self, ns, name):
        """What the kubelet's recorder does on a repeat: count+1, new lastTimestamp."""
        ev = self.request("GET", f"/api/v1/namespaces/{ns}/events/{name}")
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return self.request("PATCH", f"/api/v1/namespaces/{ns}/events/{name}",
                            {"count": ev["count"] + 1, "lastTimestamp": now},
                            content_type="application/strategic-merge-patch+json")

    def create_events_v1(self, ns, name, reason="Failed", count=None):
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        body = {
            "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": name},
            "eventTime": now, "reportingController": "example.com/controller",
            "reportingInstance": "controller-0", "action": "Sync", "reason": reason, "type": "Warning",
            "note": "sync failed", "regarding": {"kind": "Deployment", "namespace": ns, "name": "app"},
        }
        if count:
            body["series"] = {"count": count, "lastObservedTime": now}
        return self.request("POST", f"/apis/events.k8s.io/v1/namespaces/{ns}/events", body)

    def bump_series(self, ns, name):
        ev = self.request("GET", f"/apis/events.k8s.io/v1/namespaces/{ns}/events/{name}")
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        series = ev.get("series") or {"count": 1}
        ev["series"] = {"count": series["count"] + 1, "lastObservedTime": now}
        return self.request("PUT", f"/apis/events.k8s.io/v1/namespaces/{ns}/events/{name}", ev)

    def apply(self, obj):
        """Creates a manifest object (the kinds deploy/ uses)."""
        kind, meta = obj["kind"], obj["metadata"]
        ns = meta.get("namespace")
        paths = {
            "Namespace": "/api/v1/namespaces",
            "ServiceAccount": f"/api/v1/namespaces/{ns}/serviceaccounts",
            "Secret": f"/api/v1/namespaces/{ns}/secrets",
            "ConfigMap": f"/api/v1/namespaces/{ns}/configmaps",
            "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            "Role": f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
            "RoleBinding": f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
            "Deployment": f"/apis/apps/v1/namespaces/{ns}/deployments",
            "PodDisruptionBudget": f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets",
        }
        try:
            return self.request("POST", paths[kind], obj)
        except urllib.error.HTTPError as e:
            if e.code != 409:
                raise

    def token_request(self, ns, sa, bound_secret=None):
        spec = {"audiences": [], "expirationSeconds": 3600}
        if bound_secret:
            secret = self.request("GET", f"/api/v1/namespaces/{ns}/secrets/{bound_secret}")
            spec["boundObjectRef"] = {"kind": "Secret", "apiVersion": "v1", "name": bound_secret,
                                      "uid": secret["metadata"]["uid"]}
        out = self.request("POST", f"/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token",
                           {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})
        return out["status"]["token"]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.kill()
