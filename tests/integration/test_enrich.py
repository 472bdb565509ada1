"""Owners and labels on demand, against a real kube-apiserver: a
Deployment -> ReplicaSet -> Pod chain created through the API (no
controllers run, so each object carries the ownerReferences a controller
would set), Events on the Pods, rules matching owner and labels, the cache
and the request budget (herald's own metrics), and a token without the
RBAC (403: routed unenriched and counted, never lost)."""
import re
import signal
import time
import urllib.request

import yaml

import kube

POD_SPEC = {"containers": [{"name": "c", "image": "registry.example/app:1"}]}


def owner_ref(obj, kind, api_version):
    return [{"apiVersion": api_version, "kind": kind, "name": obj["metadata"]["name"],
             "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]


def create_chain(a, ns):
    """Deployment web -> ReplicaSet web-6d4f -> Pod web-6d4f-abcde, a Pod
    with no owner (lonely), and CronJob nightly -> Job nightly-1 -> Pod."""
    a.ensure_namespace(ns)
    labels = {"app": "web", "team": "payments"}
    tmpl = {"metadata": {"labels": labels}, "spec": POD_SPEC}
    dep = a.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", {
        "metadata": {"name": "web", "labels": {"team": "payments"}},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": tmpl}})
    rs = a.request("POST", f"/apis/apps/v1/namespaces/{ns}/replicasets", {
        "metadata": {"name": "web-6d4f", "labels": labels, "ownerReferences": owner_ref(dep, "Deployment", "apps/v1")},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": tmpl}})
    a.request("POST", f"/api/v1/namespaces/{ns}/pods", {
        "metadata": {"name": "web-6d4f-abcde", "labels": labels,
                     "ownerReferences": owner_ref(rs, "ReplicaSet", "apps/v1")}, "spec": POD_SPEC})
    a.request("POST", f"/api/v1/namespaces/{ns}/pods", {
        "metadata": {"name": "lonely", "labels": {"team": "storage"}}, "spec": POD_SPEC})
    job_tmpl = {"spec": {"restartPolicy": "Never", **POD_SPEC}}
    cj = a.request("POST", f"/apis/batch/v1/namespaces/{ns}/cronjobs", {
        "metadata": {"name": "nightly"},
        "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": job_tmpl}}}})
    job = a.request("POST", f"/apis/batch/v1/namespaces/{ns}/jobs", {
        "metadata": {"name": "nightly-1", "ownerReferences": owner_ref(cj, "CronJob", "batch/v1")},
        "spec": {"template": job_tmpl}})
    a.request("POST", f"/api/v1/namespaces/{ns}/pods", {
        "metadata": {"name": "nightly-1-x7k2p", "labels": {"team": "batch"},
                     "ownerReferences": owner_ref(job, "Job", "batch/v1")}, "spec": POD_SPEC})


def metrics(port):
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()


def total(text, name, **labels):
    """The sum of a metric's series whose labels include these."""
    s = 0
    for line in text.splitlines():
        m = re.match(rf"{name}(?:\{{(.*)\}})? (\S+)$", line)
        if m and all(f'{k}="{v}"' in (m.group(1) or "") for k, v in labels.items()):
            s += float(m.group(2))
    return s


def wait_metric(h, port, name, want, **labels):
    try:
        h.wait(lambda: total(metrics(port), name, **labels) >= want, timeout=30, what=f"{name}{labels} >= {want}")
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- metrics\n" + "\n".join(
            l for l in metrics(port).splitlines() if l.startswith(("herald_enrich", "herald_events", "herald_kube"))))


RULES = """
route { to = "out", when = { owner = "Deployment/web", type = "Warning" } }
route { to = "out", when = { labels = { team = "storage" }, reason = "FailedMount" } }
route { to = "out", when = { owner = "CronJob/*", reason = "Completed" } }
"""


def test_rules_match_owner_and_labels_through_the_controller_chain(cluster, herald, tmp_path):
    a = cluster["a"]
    ns = "t-enrich"
    create_chain(a, ns)
    port = kube.free_port()
    h = herald("--kubeconfig", a.kubeconfig(tmp_path / "kc"), "--namespace", ns, "--listen", f"127.0.0.1:{port}",
               rules=RULES)
    h.wait_log("listed, watching")
    a.create_event(ns, "web-6d4f-abcde.1", obj="web-6d4f-abcde")
    a.create_event(ns, "lonely.1", obj="lonely", reason="FailedMount")
    a.create_event(ns, "ghost.1", obj="ghost")                          # no such Pod: not_found
    a.create_event(ns, "web-6d4f-abcde.2", obj="web-6d4f-abcde", type_="Normal", reason="Pulled")
    a.create_event(ns, "nightly-1-x7k2p.1", obj="nightly-1-x7k2p", reason="Completed", type_="Normal")
    a.create_event(ns, "cm.1", obj="settings", kind="ConfigMap")       # a kind herald does not read
    wait_metric(h, port, "herald_events_routed_total", 6)
    got = {e["metadata"]["name"]: e for e in h.wait_ns(ns, 3)}
    assert set(got) == {"web-6d4f-abcde.1", "lonely.1", "nightly-1-x7k2p.1"}, sorted(got)
    web = got["web-6d4f-abcde.1"]
    assert web["owner"] == "Deployment/web"
    assert web["owners"] == ["ReplicaSet/web-6d4f", "Deployment/web"]
    assert web["labels"] == {"app": "web", "team": "payments"}
    assert got["lonely.1"]["owner"] == "Pod/lonely" and got["lonely.1"]["owners"] == []
    assert got["nightly-1-x7k2p.1"]["owners"] == ["Job/nightly-1", "CronJob/nightly"]
    m = metrics(port)
    assert total(m, "herald_enrich_events_total", result="enriched") == 3, m
    assert total(m, "herald_enrich_events_total", result="not_found") == 1, m
    assert total(m, "herald_enrich_events_total", result="unsupported") == 1, m     # the ConfigMap
    # only on demand: the Normal "Pulled" event matches no rule's other
    # keys, so nothing was read for it
    assert total(m, "herald_enrich_events_total") == 5, m
    # read once each: Pod web-6d4f-abcde, ReplicaSet, Deployment, Pod lonely,
    # Pod ghost (404), Pod nightly-1-x7k2p, Job, CronJob
    assert total(m, "herald_enrich_lookups_total", result="ok") == 7, m
    assert total(m, "herald_enrich_lookups_total", result="not_found") == 1, m
    # the cache: twenty more events of the same Pod read nothing more
    for i in range(20):
        a.create_event(ns, f"web-6d4f-abcde.r{i}", obj="web-6d4f-abcde")
    h.wait_ns(ns, 3 + 20)
    assert total(metrics(port), "herald_enrich_lookups_total") == 8
    assert h.stop() == 0
    # and nothing else reached the sink
    assert {e["metadata"]["name"] for e in h.in_ns(ns)} == set(got) | {f"web-6d4f-abcde.r{i}" for i in range(20)}


def test_the_request_budget_bounds_reads_and_late_events_go_on_unenriched(cluster, herald, tmp_path):
    a = cluster["a"]
    ns = "t-enrich-budget"
    a.ensure_namespace(ns)
    for i in range(8):
        a.request("POST", f"/api/v1/namespaces/{ns}/pods", {"metadata": {"name": f"p{i}"}, "spec": POD_SPEC})
    port = kube.free_port()
    h = herald("--kubeconfig", a.kubeconfig(tmp_path / "kc"), "--namespace", ns, "--listen", f"127.0.0.1:{port}",
               "--enrich-limit", "qps=1,burst=1,deadline=1s", rules='route { to = "out", enrich = true }\n')
    h.wait_log("listed, watching")
    for i in range(8):
        a.create_event(ns, f"p{i}.1", obj=f"p{i}")
    got = h.wait_ns(ns, 8)                      # every event arrives, read or not
    assert len({e["metadata"]["name"] for e in got}) == 8
    m = metrics(port)
    reads = total(m, "herald_enrich_lookups_total")
    late = total(m, "herald_enrich_events_total", result="deadline")
    enriched = [e for e in got if "owner" in e]
    assert 1 <= reads <= 4, m                   # one at once, one a second, over ~2 s
    assert late >= 4 and len(enriched) == total(m, "herald_enrich_events_total", result="enriched"), m
    assert all(e["owner"] == f"Pod/{e['involvedObject']['name']}" for e in enriched)
    assert h.stop() == 0


def test_without_the_rbac_events_go_on_unenriched_and_the_403s_are_counted(cluster, herald, tmp_path):
    a = cluster["a"]
    ns = "t-enrich-403"
    create_chain(a, ns)
    rbac = list(yaml.safe_load_all((kube.SOURCE / "deploy" / "kubernetes" / "rbac.yaml").read_text()))
    a.ensure_namespace("herald")
    for obj in rbac:
        a.apply(obj)
    token = a.token_request("herald", "herald")
    port = kube.free_port()
    h = herald("--kubeconfig", a.kubeconfig(tmp_path / "kc", token=token), "--namespace", ns,
               "--listen", f"127.0.0.1:{port}", "--enrich-limit", "ttl=1s",
               rules='route { to = "out", when = { namespace = "t-enrich-403" }, enrich = true }\n'
                     'route { to = "out", when = { owner = "Deployment/web" } }\n')
    h.wait_log("listed, watching")
    a.create_event(ns, "web-6d4f-abcde.1", obj="web-6d4f-abcde")
    got = h.wait_ns(ns, 1)
    assert "owner" not in got[0] and "labels" not in got[0]      # delivered, unenriched
    m = metrics(port)
    assert total(m, "herald_enrich_lookups_total", result="forbidden") == 1, m
    assert total(m, "herald_enrich_events_total", result="forbidden") == 1, m
    # the optional RBAC of deploy/: once it is in force (and the 403 has
    # left the cache, ttl=1s), events are enriched
    for obj in yaml.safe_load_all((kube.SOURCE / "deploy" / "kubernetes" / "rbac-enrich.yaml").read_text()):
        a.request("POST", "/apis/rbac.authorization.k8s.io/v1/" + obj["kind"].lower() + "s", obj)
    deadline = time.monotonic() + 30
    for i in range(1000):
        name = f"web-6d4f-abcde.after{i}"
        a.create_event(ns, name, obj="web-6d4f-abcde")
        h.wait(lambda: any(e["metadata"]["name"] == name for e in h.in_ns(ns)), what=name)
        ev = next(e for e in h.in_ns(ns) if e["metadata"]["name"] == name)
        if "owner" in ev or time.monotonic() > deadline:
            break
        time.sleep(0.2)                          # pacing the polling, not a condition
    assert ev.get("owner") == "Deployment/web" and ev["labels"]["team"] == "payments", ev
    assert h.stop() == 0


def test_a_checkpoint_never_claims_an_event_still_waiting_for_its_owners(cluster, herald, tmp_path):
    # One read a second: most events wait. A checkpoint taken meanwhile must
    # leave them out, so that after a crash (SIGKILL) a restart delivers them.
    a = cluster["a"]
    ns = "t-enrich-state"
    n = 30
    a.ensure_namespace(ns)
    for i in range(n):
        a.request("POST", f"/api/v1/namespaces/{ns}/pods", {"metadata": {"name": f"q{i}"}, "spec": POD_SPEC})
    state = tmp_path / "state"
    state.mkdir()
    kc = a.kubeconfig(tmp_path / "kc")
    rules = 'route { to = "out", enrich = true }\n'
    first = herald("--kubeconfig", kc, "--namespace", ns, "--state-dir", state,
                   "--enrich-limit", "qps=1,burst=1,deadline=2m", rules=rules)
    first.wait_log("listed, watching")
    start = time.time_ns()
    for i in range(n):
        a.create_event(ns, f"q{i}.1", obj=f"q{i}")
    saved = state / "default.checkpoint"
    # a checkpoint written after the events arrived, while most still wait
    first.wait(lambda: saved.exists() and saved.stat().st_mtime_ns > start and len(first.in_ns(ns)) >= 1,
               timeout=30, what="a checkpoint while events wait")
    first.stop(signal.SIGKILL)
    before = {e["metadata"]["name"] for e in first.in_ns(ns)}
    assert len(before) < n, "every event was read before the crash: nothing tested"
    second = herald("--kubeconfig", kc, "--namespace", ns, "--state-dir", state, rules=rules)
    second.wait_log("listed, watching")
    want = {f"q{i}.1" for i in range(n)}
    second.wait(lambda: before | {e["metadata"]["name"] for e in second.in_ns(ns)} >= want,
                timeout=30, what="every event delivered across the crash")
    assert second.stop() == 0
