"""Every way a kubeconfig or a pod says how to reach a cluster, against
the real apiserver (TLS, client certificates, tokens, exec plugins) or the
scripted server (basic auth, 401s)."""
import base64
import json
import os
import shutil
import stat

import pytest

from fakeapi import FakeAPI, event, event_list


def config(path, server, user, cluster_extra=None, name="c"):
    cluster = {"server": server, **(cluster_extra or {})}
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": cluster}], "users": [{"name": "u", "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": "u"}}]}))
    return path


def b64(path):
    return base64.b64encode(path.read_bytes()).decode()


def sees_events(h, a, ns, name):
    ns = "t-" + name.replace(".", "-")   # a namespace of its own: nothing listed but this
    a.ensure_namespace(ns)
    h.wait_log("listed, watching")
    a.create_event(ns, name)
    got = h.wait_ns(ns, 1)
    assert got[0]["metadata"]["name"] == name
    assert h.stop() == 0


@pytest.fixture
def a(cluster):
    cluster["a"].ensure_namespace("t-auth")
    return cluster["a"]


def test_client_certificate_files_relative_to_the_kubeconfig(a, herald, tmp_path):
    d = tmp_path / "kube"
    d.mkdir()
    for f in ("client.crt", "client.key"):
        shutil.copy(a.client_ca / f, d / f)
    shutil.copy(a.ca, d / "ca.crt")
    kc = config(d / "config", a.url, {"client-certificate": "client.crt", "client-key": "client.key"},
                {"certificate-authority": "ca.crt"})
    sees_events(herald("--kubeconfig", kc), a, "t-auth", "cert-files.1")


def test_client_certificate_and_ca_as_data(a, herald, tmp_path):
    kc = config(tmp_path / "kc", a.url,
                {"client-certificate-data": b64(a.client_ca / "client.crt"),
                 "client-key-data": b64(a.client_ca / "client.key")},
                {"certificate-authority-data": b64(a.ca)})
    sees_events(herald("--kubeconfig", kc), a, "t-auth", "cert-data.1")


def test_tls_server_name_and_insecure_skip_verify(a, herald, tmp_path):
    # The apiserver's certificate names kubernetes.default, not the address dialled.
    kc = config(tmp_path / "kc", a.url, {"token": "admin-token"},
                {"certificate-authority": str(a.ca), "tls-server-name": "kubernetes.default"})
    sees_events(herald("--kubeconfig", kc), a, "t-auth", "tls-name.1")
    kc = config(tmp_path / "kc2", a.url, {"token": "admin-token"}, {"insecure-skip-tls-verify": True})
    sees_events(herald("--kubeconfig", kc), a, "t-auth", "insecure.1")
    # a name the certificate does not carry fails verification, and says so
    kc = config(tmp_path / "kc3", a.url, {"token": "admin-token"},
                {"certificate-authority": str(a.ca), "tls-server-name": "wrong.example"})
    h = herald("--kubeconfig", kc)
    h.wait_log("list failed:")
    assert "admin-token" not in h.log()
    assert h.stop() == 0


def test_kubeconfig_list_is_merged_and_a_context_chosen(a, herald, tmp_path):
    first = tmp_path / "first"
    first.write_text(json.dumps({"apiVersion": "v1", "kind": "Config", "current-context": "missing",
                                 "contexts": [{"name": "mine", "context": {"cluster": "real", "user": "admin"}}]}))
    second = tmp_path / "second"
    second.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "real", "cluster": {"server": a.url, "certificate-authority": str(a.ca)}}],
        "users": [{"name": "admin", "user": {"token": "admin-token"}}],
        "contexts": [{"name": "mine", "context": {"cluster": "elsewhere", "user": "nobody"}}]}))
    # the first file's "mine" wins; its cluster and user come from the second
    h = herald("--kubeconfig", f"{first}:{tmp_path / 'absent'}:{second}", "--context", "mine")
    sees_events(h, a, "t-auth", "merged.1")
    # --cluster takes FILE:CONTEXT
    h = herald("--cluster", f"named={second}:mine")
    h.wait_log('cluster "elsewhere" not found')
    assert h.proc.wait(timeout=10) == 1
    bad = herald("--kubeconfig", str(second), "--context", "mine")
    bad.wait_log('cluster "elsewhere" not found')
    assert bad.proc.wait(timeout=10) == 1


def test_in_cluster_service_account(a, herald, tmp_path, monkeypatch):
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("admin-token")
    shutil.copy(a.ca, sa / "ca.crt")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(a.port))
    monkeypatch.setenv("HERALD_SA_DIR", str(sa))
    sees_events(herald("--cluster-name", "in-pod"), a, "t-auth", "in-cluster.1")


def exec_plugin(tmp_path, tokens, expires_in=None):
    """A credential plugin that prints the next token of `tokens` on each
    run and counts its runs in runs.txt."""
    script = tmp_path / "plugin.sh"
    counter = tmp_path / "runs.txt"
    counter.write_text("0")
    exp = ""
    if expires_in is not None:
        exp = ',"expirationTimestamp":"\'"$(date -u -d "+' + str(expires_in) + ' seconds" +%Y-%m-%dT%H:%M:%SZ)"\'"'
    lines = "\n".join(f'{i}) t={t} ;;' for i, t in enumerate(tokens))
    script.write_text(f"""#!/bin/sh
n=$(cat {counter}); echo $((n + 1)) > {counter}
[ -n "$KUBERNETES_EXEC_INFO" ] || exit 3
case $n in
{lines}
*) t={tokens[-1]} ;;
esac
echo '{{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{{"token":"'$t'"{exp}}}}}'
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(script),
                     "args": [], "env": [{"name": "PLUGIN_MODE", "value": "test"}]}}, counter


def test_exec_plugin_runs_again_when_its_credential_expires(a, herald, tmp_path):
    user, runs = exec_plugin(tmp_path, ["admin-token"], expires_in=1)
    kc = config(tmp_path / "kc", a.url, user, {"certificate-authority": str(a.ca)})
    h = herald("--kubeconfig", kc, "--watch-timeout", "2")
    h.wait_log("listed, watching")
    a.ensure_namespace("t-exec-expiry")
    a.create_event("t-exec-expiry", "exec.1")
    h.wait_ns("t-exec-expiry", 1)
    h.wait(lambda: int(runs.read_text()) >= 2, timeout=30, what="the plugin to run again")
    assert h.stop() == 0


def test_basic_auth_and_a_401_rerun_of_the_exec_plugin(herald, tmp_path):
    fake = FakeAPI()
    try:
        fake.lists.append([("status", 200, event_list([event("basic.1", 1)], 10))])
        fake.watches.append([("hold",)])
        h = herald("--kubeconfig", config(tmp_path / "kc", fake.url, {"username": "herald", "password": "s3cr3t-pw"}))
        h.wait_ns("fake", 1)
        assert fake.wait_requests(1)[0]["auth"] == "Basic " + base64.b64encode(b"herald:s3cr3t-pw").decode()
        assert "s3cr3t-pw" not in h.log()
        assert h.stop() == 0

        unauthorized = {"kind": "Status", "apiVersion": "v1", "reason": "Unauthorized", "code": 401}
        fake.lists.append([("status", 401, unauthorized)])
        fake.lists.append([("status", 200, event_list([event("exec.2", 2)], 11))])
        fake.watches.append([("hold",)])
        user, runs = exec_plugin(tmp_path, ["stale-token-1", "fresh-token-2"])
        h = herald("--kubeconfig", config(tmp_path / "kc2", fake.url, user))
        h.wait(lambda: any(e["metadata"]["name"] == "exec.2" for e in h.in_ns("fake")), what="exec.2")
        reqs = fake.requests
        assert [r["auth"] for r in reqs[2:4]] == ["Bearer stale-token-1", "Bearer fresh-token-2"]
        assert int(runs.read_text()) == 2
        assert "fresh-token-2" not in h.log() and "stale-token-1" not in h.log()
        assert h.stop() == 0
    finally:
        fake.stop()
