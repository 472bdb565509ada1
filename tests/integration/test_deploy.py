"""deploy/ against the real apiserver: the manifests apply, herald runs
with its ServiceAccount's token and can read Events and nothing else, and
a rotated token file keeps the watch going."""
import os
import pathlib
import urllib.error

import pytest
import yaml

import kube

DEPLOY = kube.SOURCE / "deploy" / "kubernetes"


def manifests(name):
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d]


@pytest.fixture(scope="module")
def deployed(cluster):
    b = cluster["b"]
    kust = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert "rbac-leases.yaml" in kust["resources"] and "pdb.yaml" in kust["resources"]
    for name in kust["resources"]:
        for obj in manifests(name):
            b.apply(obj)
    return b


def test_manifests_are_what_the_cluster_accepts(deployed):
    dep = deployed.request("GET", "/apis/apps/v1/namespaces/herald/deployments/herald")
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert not any("hostPath" in v for v in pod["volumes"])
    assert not any("subPath" in m for m in c["volumeMounts"])   # ConfigMap updates must arrive
    assert {"name": "TZ", "value": "Asia/Shanghai"} in c["env"]
    assert c["resources"]["limits"]["memory"] and c["resources"]["requests"]["cpu"]
    kust = yaml.safe_load((kube.SOURCE / "deploy" / "overlays" / "second-cluster" / "kustomization.yaml").read_text())
    assert kust["resources"] == ["../../kubernetes"]
    assert "/spec/template/spec/containers/0/env/0/value" in kust["patches"][0]["patch"]
    assert c["env"][0]["name"] == "CLUSTER_NAME"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["ports"][0]["containerPort"] == 9090
    assert "--config=/etc/herald/config" in c["args"] and "--rules-dir=/etc/herald/rules" in c["args"]
    env = {e["name"]: e for e in c["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols[mounts["/etc/herald/config"]]["configMap"]["name"] == "herald-sinks"
    assert vols[mounts["/etc/herald/rules"]]["configMap"]["name"] == "herald-rules"
    # high availability: two replicas on different nodes, one may be disrupted
    assert dep["spec"]["replicas"] == 2 and "--leader-elect" in c["args"]
    assert "--state-configmap=herald-checkpoint" in c["args"]   # the name rbac-leases.yaml grants
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    anti = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    assert anti["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert anti["podAffinityTerm"]["labelSelector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
    pdb = deployed.request("GET", "/apis/policy/v1/namespaces/herald/poddisruptionbudgets/herald")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]


def test_service_account_reads_events_and_nothing_else(deployed, herald, tmp_path):
    b = deployed
    token = b.token_request("herald", "herald")
    ns = "t-rbac"
    b.ensure_namespace(ns)
    # what RBAC allows and refuses
    b.request("GET", "/api/v1/events?limit=1", token=token)
    for path in ("/api/v1/namespaces/herald/secrets", "/api/v1/namespaces/default/pods",
                 "/api/v1/namespaces/herald/configmaps"):
        with pytest.raises(urllib.error.HTTPError) as e:
            b.request("GET", path, token=token)
        assert e.value.code == 403, path
    with pytest.raises(urllib.error.HTTPError) as e:
        b.request("POST", f"/api/v1/namespaces/{ns}/events", {"metadata": {"name": "x"}}, token=token)
    assert e.value.code == 403
    # events about itself, in its own namespace only
    b.request("POST", "/api/v1/namespaces/herald/events", {
        "metadata": {"name": "self.1"}, "involvedObject": {"kind": "Pod", "namespace": "herald", "name": "h"},
        "reason": "Test", "message": "m", "type": "Normal"}, token=token)
    # and herald works with it
    h = herald("--kubeconfig", b.kubeconfig(tmp_path / "kc", token=token), "--cluster-name", "rbac")
    h.wait_log("listed, watching")
    b.create_event(ns, "seen-by-sa.1")
    got = h.wait_ns(ns, 1)
    assert got[0]["cluster"] == "rbac"
    assert token not in h.log()
    assert h.stop() == 0


def test_rotated_token_file_keeps_the_watch_going(deployed, herald, tmp_path):
    b = deployed
    ns = "t-rotate"
    b.ensure_namespace(ns)
    for name in ("bind-a", "bind-b"):
        b.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "herald"}})
    token_a = b.token_request("herald", "herald", bound_secret="bind-a")
    token_file = tmp_path / "token"
    token_file.write_text(token_a)
    h = herald("--kubeconfig", b.kubeconfig(tmp_path / "kc", token_file=token_file),
               "--cluster-name", "rot", "--watch-timeout", "4")
    h.wait_log("listed, watching")
    b.create_event(ns, "before.1")
    h.wait_ns(ns, 1)
    # rotate: the kubelet writes the new token; the old one stops working
    token_b = b.token_request("herald", "herald", bound_secret="bind-b")
    tmp = tmp_path / "token.new"
    tmp.write_text(token_b)
    tmp.rename(token_file)
    b.request("DELETE", "/api/v1/namespaces/herald/secrets/bind-a")

    def refused():
        try:
            b.request("GET", "/api/v1/events?limit=1", token=token_a)
            return False   # the apiserver caches good tokens for a few seconds
        except urllib.error.HTTPError as e:
            return e.code == 401
    kube.wait_for(refused, timeout=60, what="the old token to be refused")
    # the next watch (within 4 s) meets a 401, re-reads the file and goes on
    h.wait_log("HTTP 401", timeout=30)
    b.create_event(ns, "after.1")
    got = h.wait_ns(ns, 2, timeout=30)
    assert [e["metadata"]["name"] for e in got] == ["before.1", "after.1"]
    log = h.log()
    assert token_a not in log and token_b not in log
    assert h.stop() == 0


def test_a_refused_reload_posts_rules_rejected_on_herald_s_own_pod(deployed, tmp_path):
    """herald, run with the deploy/ ServiceAccount and the downward-API env,
    refuses a broken rule and says so where `kubectl get events` shows it."""
    import subprocess
    from conftest import BIN
    b = deployed
    token = b.token_request("herald", "herald")
    cfg = tmp_path / "config"
    (cfg / "rules").mkdir(parents=True)
    (cfg / "sinks.lua").write_text('sink "out" { type = "null" }\n')
    (cfg / "rules" / "10.lua").write_text('route { to = "out" }\n')
    env = dict(os.environ, POD_NAME="herald-7d9f-abcde", POD_NAMESPACE="herald")
    proc = subprocess.Popen([BIN, "--config", str(cfg), "--kubeconfig", str(b.kubeconfig(tmp_path / "kc", token=token)),
                             "--listen", "127.0.0.1:0"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        lines = []
        for line in proc.stderr:
            lines.append(line)
            if "listed, watching" in line:
                break
        (cfg / "rules" / "10.lua").write_text('route { to = "nowhere" }\n')

        def rejected():
            evs = b.request("GET", "/api/v1/namespaces/herald/events")["items"]
            return [e for e in evs if e["reason"] == "RulesRejected"
                    and e["involvedObject"]["name"] == "herald-7d9f-abcde"]
        evs = kube.wait_for(rejected, timeout=30, what="a RulesRejected event")
        assert evs[0]["type"] == "Warning"
        assert f'{cfg}/rules/10.lua:1: unknown sink "nowhere"' in evs[0]["message"]
        assert evs[0]["source"]["component"] == "herald"
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0


def test_a_broken_start_on_the_last_good_copy_posts_rules_rejected(deployed, tmp_path):
    """With a last good copy in --state-dir, herald started on broken
    files runs the copy and posts the refusal as a refused reload does."""
    import subprocess
    from conftest import BIN
    b = deployed
    token = b.token_request("herald", "herald")
    cfg, state = tmp_path / "config", tmp_path / "state"
    (cfg / "rules").mkdir(parents=True)
    state.mkdir()
    (cfg / "sinks.lua").write_text('sink "out" { type = "null" }\n')
    (cfg / "rules" / "10.lua").write_text('route { to = "out" }\n')
    env = dict(os.environ, POD_NAME="herald-lastgood-abcde", POD_NAMESPACE="herald")
    args = [BIN, "--config", str(cfg), "--kubeconfig", str(b.kubeconfig(tmp_path / "kc", token=token)),
            "--listen", "127.0.0.1:0", "--state-dir", str(state)]
    first = subprocess.run(args + ["--from", "/dev/null"], env=env, capture_output=True, text=True, timeout=30)
    assert first.returncode == 0, first.stderr
    assert (state / "lastgood" / "rules" / "10.lua").exists()
    (cfg / "rules" / "10.lua").write_text('route { to = "nowhere" }\n')
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        def rejected():
            evs = b.request("GET", "/api/v1/namespaces/herald/events")["items"]
            return [e for e in evs if e["reason"] == "RulesRejected"
                    and e["involvedObject"]["name"] == "herald-lastgood-abcde"]
        evs = kube.wait_for(rejected, timeout=30, what="a RulesRejected event")
        assert evs[0]["type"] == "Warning"
        assert "it runs the last good one" in evs[0]["message"]
        assert f'{cfg}/rules/10.lua:1: unknown sink "nowhere"' in evs[0]["message"]
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0


def lease(ns, name, holder):
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name, "namespace": ns},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15}}


def test_service_account_may_elect_in_its_namespace_and_nothing_more(deployed, tmp_path):
    """rbac-leases.yaml: get/create/update on Leases in herald's namespace and
    the checkpoint ConfigMap by name; other namespaces' Leases, listing,
    deleting, other ConfigMaps and Secrets are refused."""
    b = deployed
    token = b.token_request("herald", "herald")
    ns = "t-other-leases"
    b.ensure_namespace(ns)
    leases = "/apis/coordination.k8s.io/v1/namespaces/{}/leases"
    b.request("POST", leases.format(ns), lease(ns, "someone-else", "x"))
    # allowed: its own namespace's Leases
    try:
        b.request("POST", leases.format("herald"), lease("herald", "herald-rbac-test", "me"), token=token)
    except urllib.error.HTTPError as e:
        assert e.code == 409   # a rerun: it exists
    got = b.request("GET", leases.format("herald") + "/herald-rbac-test", token=token)
    got["spec"]["holderIdentity"] = "me-again"
    b.request("PUT", leases.format("herald") + "/herald-rbac-test", got, token=token)
    # the checkpoint ConfigMap, by name
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "herald-checkpoint", "namespace": "herald"}}
    try:
        b.request("POST", "/api/v1/namespaces/herald/configmaps", cm, token=token)
    except urllib.error.HTTPError as e:
        assert e.code == 409
    got = b.request("GET", "/api/v1/namespaces/herald/configmaps/herald-checkpoint", token=token)
    got["data"] = {"k": "v"}
    b.request("PUT", "/api/v1/namespaces/herald/configmaps/herald-checkpoint", got, token=token)
    # refused
    refused = [
        ("GET", leases.format(ns) + "/someone-else", None),
        ("PUT", leases.format(ns) + "/someone-else", lease(ns, "someone-else", "me")),
        ("POST", leases.format(ns), lease(ns, "mine-elsewhere", "me")),
        ("GET", leases.format("herald"), None),                               # list
        ("DELETE", leases.format("herald") + "/herald-rbac-test", None),
        ("GET", "/api/v1/namespaces/herald/configmaps/herald-sinks", None),
        ("GET", "/api/v1/namespaces/herald/configmaps", None),
        ("GET", "/api/v1/namespaces/herald/secrets", None),
        ("GET", "/api/v1/namespaces/herald/secrets/herald-secrets", None),
        ("GET", f"/api/v1/namespaces/{ns}/configmaps", None),
    ]
    for method, path, body in refused:
        with pytest.raises(urllib.error.HTTPError) as e:
            b.request(method, path, body, token=token)
        assert e.value.code == 403, (method, path)


def test_herald_elects_with_the_service_account_token(deployed, herald, tmp_path):
    b = deployed
    token = b.token_request("herald", "herald")
    ns = "t-elect"
    b.ensure_namespace(ns)
    os.environ["POD_NAME"] = "herald-rbac-0"
    try:
        h = herald("--kubeconfig", b.kubeconfig(tmp_path / "kc", token=token), "--cluster-name", "rbac-elect",
                   "--namespace", ns, "--leader-elect", "--lease-namespace", "herald",
                   "--lease-duration", "4s", "--renew-deadline", "3s", "--retry-period", "1s")
    finally:
        del os.environ["POD_NAME"]
    h.wait_log("cluster rbac-elect: leading")
    h.wait_log("listed, watching")
    b.create_event(ns, "elected.1")
    assert h.wait_ns(ns, 1)[0]["cluster"] == "rbac-elect"
    got = b.request("GET", "/apis/coordination.k8s.io/v1/namespaces/herald/leases/herald-rbac-elect")
    assert got["spec"]["holderIdentity"] == "herald-rbac-0"
    assert h.stop() == 0
    assert "every lease handed back" in h.log() and token not in h.log()
    got = b.request("GET", "/apis/coordination.k8s.io/v1/namespaces/herald/leases/herald-rbac-elect")
    assert not got["spec"].get("holderIdentity")


def test_without_lease_access_herald_is_not_ready_and_delivers_nothing(deployed, herald, tmp_path):
    """Leases in a namespace the Role does not cover: every request is
    refused, so herald never leads; /readyz says so instead of a silent ok."""
    import json
    import urllib.request
    b = deployed
    token = b.token_request("herald", "herald")
    ns = "t-no-lease"
    b.ensure_namespace(ns)
    port = kube.free_port()
    h = herald("--kubeconfig", b.kubeconfig(tmp_path / "kc", token=token), "--cluster-name", "nolease",
               "--namespace", ns, "--leader-elect", "--lease-namespace", "default", "--listen", f"127.0.0.1:{port}",
               "--lease-duration", "4s", "--renew-deadline", "3s", "--retry-period", "1s")
    h.wait_log("forbidden")
    b.create_event(ns, "unseen.1")
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5)
        raise AssertionError("ready without its Leases")
    except urllib.error.HTTPError as e:
        assert e.code == 503 and b"leader election" in e.read()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as r:
        assert json.loads(r.read())["election"]["leading"] == []
    assert h.in_ns(ns) == [] and token not in h.log()
    assert h.stop() == 0
