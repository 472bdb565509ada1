"""deploy/helm/herald: `helm lint`, `helm template` in its three modes (one
cluster, a second cluster, central with several --cluster), the rendered
configuration through `herald check`, and every rendered object through a
server-side dry run (dryRun=All, strict field validation) of a real
kube-apiserver. helm is built once by tests/servers/build-helm.sh."""
import copy
import json
import os
import pathlib
import subprocess
import sys
import urllib.error

import pytest
import yaml

SOURCE = pathlib.Path(os.environ.get("HERALD_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(SOURCE / "tests" / "integration"))
import kube  # noqa: E402

BIN = os.environ.get("HERALD_BIN", str(SOURCE / "build" / "herald"))
CHART = SOURCE / "deploy" / "helm" / "herald"
KUSTOMIZE = SOURCE / "deploy" / "kubernetes"
MODES = {"default": [], "second-cluster": ["-f", str(CHART / "examples" / "second-cluster.yaml")],
         "central": ["-f", str(CHART / "examples" / "central.yaml")],
         "owners": ["--set", "rbac.owners=true"]}


@pytest.fixture(scope="module")
def helm():
    out = subprocess.run(["bash", str(SOURCE / "tests" / "servers" / "build-helm.sh")],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def template(helm, *args):
    out = subprocess.run([helm, "template", "herald", str(CHART), "--namespace", "herald", *args],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def by_kind(docs):
    out = {}
    for d in docs:
        out.setdefault(d["kind"], []).append(d)
    return out


def container(docs):
    (dep,) = by_kind(docs)["Deployment"]
    return dep, dep["spec"]["template"]["spec"], dep["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("mode", MODES)
def test_helm_lint_passes_strict(helm, mode):
    out = subprocess.run([helm, "lint", "--strict", str(CHART), *MODES[mode]], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in out.stdout


def test_default_values_render_the_kustomize_deployment(helm):
    docs = template(helm)
    kinds = by_kind(docs)
    assert sorted(kinds) == ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "Role",
                             "RoleBinding", "ServiceAccount"]
    assert all(d["metadata"].get("namespace") == "herald" for d in docs
               if d["kind"] not in ("ClusterRole", "ClusterRoleBinding"))
    dep, pod, c = container(docs)
    ref = list(yaml.safe_load_all((KUSTOMIZE / "deployment.yaml").read_text()))[0]
    ref_pod = ref["spec"]["template"]["spec"]
    ref_c = ref_pod["containers"][0]
    # the image of deploy/kubernetes, and its hardening, probes and resources
    assert c["image"] == ref_c["image"] == "herald:0.1.0"
    assert dep["spec"]["replicas"] == 1 and dep["spec"]["strategy"] == {"type": "Recreate"}
    assert pod["securityContext"] == ref_pod["securityContext"]
    assert c["securityContext"] == ref_c["securityContext"]
    assert c["resources"] == ref_c["resources"]
    assert c["livenessProbe"] == ref_c["livenessProbe"] and c["readinessProbe"] == ref_c["readinessProbe"]
    assert c["ports"] == ref_c["ports"]
    assert not any("subPath" in m for m in c["volumeMounts"])       # ConfigMap updates must arrive
    assert not any("hostPath" in v for v in pod["volumes"])
    assert "--cluster-name=default" in c["args"] and "--state-dir=/var/lib/herald" in c["args"]
    assert "--leader-elect=false" in c["args"]   # in a pod election is on by default; the chart has no Lease Role
    env = {e["name"]: e for e in c["env"]}
    assert env["TZ"]["value"] == "Asia/Shanghai"
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    # RBAC as deploy/kubernetes/rbac.yaml: read events everywhere, post its own
    ref_rbac = by_kind(yaml.safe_load_all((KUSTOMIZE / "rbac.yaml").read_text()))
    assert kinds["ClusterRole"][0]["rules"] == ref_rbac["ClusterRole"][0]["rules"]
    assert kinds["Role"][0]["rules"] == ref_rbac["Role"][0]["rules"]
    sa = kinds["ServiceAccount"][0]["metadata"]["name"]
    assert pod["serviceAccountName"] == sa
    for b in kinds["ClusterRoleBinding"] + kinds["RoleBinding"]:
        assert b["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": "herald"}]
    # no secret values in the chart: a Secret is named, never rendered
    vols = {v["name"]: v for v in pod["volumes"]}
    assert "Secret" not in kinds and "secret" not in vols["secrets"]
    docs = template(helm, "--set", "secrets.existingSecret=team-secrets", "--set", "image.tag=0.2.0",
                    "--set", "tz=UTC", "--set", "replicas=0", "--set", "resources.limits.memory=1Gi")
    dep, pod, c = container(docs)
    assert {v["name"]: v for v in pod["volumes"]}["secrets"]["secret"] == {"secretName": "team-secrets"}
    assert c["image"] == "herald:0.2.0" and dep["spec"]["replicas"] == 0
    assert {e["name"]: e for e in c["env"]}["TZ"]["value"] == "UTC"
    assert c["resources"]["limits"]["memory"] == "1Gi"


def test_owners_rbac_is_optional_and_what_deploy_kubernetes_grants(helm):
    names = lambda docs: {d["metadata"]["name"] for d in docs if d["kind"].startswith("ClusterRole")}
    assert not any("owners" in n for n in names(template(helm)))
    docs = template(helm, *MODES["owners"])
    kinds = by_kind(docs)
    role = next(d for d in kinds["ClusterRole"] if d["metadata"]["name"].endswith("-owners-reader"))
    ref = by_kind(yaml.safe_load_all((KUSTOMIZE / "rbac-enrich.yaml").read_text()))
    assert role["rules"] == ref["ClusterRole"][0]["rules"]
    assert all(r["verbs"] == ["get"] for r in role["rules"])
    binding = next(d for d in kinds["ClusterRoleBinding"] if d["metadata"]["name"].endswith("-owners-reader"))
    assert binding["roleRef"]["name"] == role["metadata"]["name"]


def test_second_cluster_mode_tags_its_events(helm):
    docs = template(helm, *MODES["second-cluster"])
    _, pod, c = container(docs)
    assert "--cluster-name=serverless" in c["args"]
    assert not any(a.startswith("--cluster=") for a in c["args"])
    sinks = [d for d in docs if d["kind"] == "ConfigMap" and "sinks.lua" in d["data"]][0]
    assert 'limit = "10/1m"' in sinks["data"]["sinks.lua"]      # half the robot's 20 a minute
    assert "ClusterRole" in by_kind(docs)


def test_central_mode_watches_each_cluster_through_its_kubeconfig(helm):
    docs = template(helm, *MODES["central"])
    kinds = by_kind(docs)
    _, pod, c = container(docs)
    assert [a for a in c["args"] if a.startswith("--cluster")] == [
        "--cluster=prod=/etc/herald/kubeconfigs/prod/kubeconfig",
        "--cluster=serverless=/etc/herald/kubeconfigs/serverless/kubeconfig:asi-admin"]
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols[mounts["/etc/herald/kubeconfigs/prod"]]["secret"]["secretName"] == "kube-prod"
    assert vols[mounts["/etc/herald/kubeconfigs/serverless"]]["secret"]["secretName"] == "kube-serverless"
    # it reads the other clusters with their credentials, not its own cluster's events
    assert "ClusterRole" not in kinds and "ClusterRoleBinding" not in kinds
    assert {e["name"]: e for e in c["env"]}["ES_URL"]["value"].startswith("https://")


def test_values_that_cannot_work_are_refused(helm):
    for args, why in [(["--set", "replicas=2"], "two would deliver every event twice"),
                      (["--set", "config.rules.oncall=x"], '"oncall" is not a .lua file name'),
                      (["--set", "clusters[0].name=a"], "missing property 'kubeconfigSecret'"),
                      (["--set", "logFormat=yaml"], "value must be one of 'json', 'text'"),
                      (["--set", "replicas=one"], "/replicas"),
                      (["--set", "config.sinks="], "/config/sinks")]:
        out = subprocess.run([helm, "template", "herald", str(CHART), *args], capture_output=True, text=True,
                             timeout=60)
        assert out.returncode != 0 and why in out.stderr, (args, out.stderr)


@pytest.mark.parametrize("mode", MODES)
def test_rendered_configuration_passes_herald_check(helm, mode, tmp_path):
    docs = template(helm, *MODES[mode])
    cms = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "ConfigMap"}
    _, _, c = container(docs)
    (tmp_path / "rules").mkdir()
    for data in cms.values():
        for name, text in data.items():
            (tmp_path / (name if name == "sinks.lua" else f"rules/{name}")).write_text(text)
    env = dict(os.environ, **{e["name"]: e.get("value", "") for e in c["env"] if "value" in e})
    out = subprocess.run([BIN, "check", "--config", str(tmp_path), "--rules-dir", str(tmp_path / "rules"),
                          "--secrets-dir", str(tmp_path / "no-secrets")], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert " 0 errors" in out.stdout + out.stderr


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory):
    work = tmp_path_factory.mktemp("kube")
    bindir = kube.kube_bin()
    etcd = kube.Etcd(bindir, work)
    server = None
    try:
        server = kube.APIServer(bindir, work, etcd, "helm", "/helm")
        server.ensure_namespace("herald")
        yield server
    finally:
        if server:
            server.stop()
        etcd.stop()


def path_of(obj):
    group, _, version = obj["apiVersion"].rpartition("/")
    base = f"/apis/{group}/{version}" if group else f"/api/{version}"
    ns = obj["metadata"].get("namespace")
    return f"{base}/namespaces/{ns}/{obj['kind'].lower()}s" if ns else f"{base}/{obj['kind'].lower()}s"


def dry_run(server, obj):
    return server.request("POST", path_of(obj) + "?dryRun=All&fieldValidation=Strict", obj)


@pytest.mark.parametrize("mode", MODES)
def test_rendered_manifests_pass_a_server_side_dry_run(helm, apiserver, mode):
    docs = template(helm, *MODES[mode])
    for obj in docs:
        got = dry_run(apiserver, obj)
        assert got["kind"] == obj["kind"] and got["metadata"]["name"] == obj["metadata"]["name"]
    # a dry run stores nothing
    with pytest.raises(urllib.error.HTTPError) as e:
        apiserver.request("GET", path_of(docs[-1]) + "/" + docs[-1]["metadata"]["name"])
    assert e.value.code == 404


def test_the_dry_run_refuses_what_the_apiserver_would(helm, apiserver):
    (dep,) = by_kind(template(helm))["Deployment"]
    bad = copy.deepcopy(dep)
    bad["spec"]["template"]["spec"]["serviceAcountName"] = "typo"       # unknown field
    with pytest.raises(urllib.error.HTTPError) as e:
        dry_run(apiserver, bad)
    assert e.value.code in (400, 422) and "serviceAcountName" in e.value.read().decode()
    bad = copy.deepcopy(dep)
    bad["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["name"] = "nowhere"
    with pytest.raises(urllib.error.HTTPError) as e:
        dry_run(apiserver, bad)
    assert e.value.code == 422 and "nowhere" in json.loads(e.value.read())["message"]
