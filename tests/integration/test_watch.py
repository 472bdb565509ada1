"""herald against a real kube-apiserver: list+watch, repeats, several
clusters, restarts and 410s without loss or duplicates."""
import signal
import urllib.request

import pytest

import kube
from conftest import versions


def test_events_and_repeats_reach_stdout(cluster, herald, tmp_path):
    a = cluster["a"]
    ns = "t-basic"
    a.ensure_namespace(ns)
    h = herald("--kubeconfig", a.kubeconfig(tmp_path / "kc"), "--cluster-name", "ack-prod")
    h.wait_log("cluster ack-prod: listed, watching from resourceVersion")
    a.create_event(ns, "web-0.17a1", reason="BackOff", message="Back-off restarting failed container")
    a.bump_event(ns, "web-0.17a1")
    a.bump_event(ns, "web-0.17a1")
    a.create_events_v1(ns, "app.17b2")
    a.bump_series(ns, "app.17b2")
    got = h.wait_ns(ns, 5)
    core = [e for e in got if e["metadata"]["name"] == "web-0.17a1"]
    assert [e["count"] for e in core] == [1, 2, 3]
    assert len(set(versions(core))) == 3 and len({e["metadata"]["uid"] for e in core}) == 1
    assert all(e["cluster"] == "ack-prod" and e["reason"] == "BackOff" and e["type"] == "Warning" for e in core)
    assert core[0]["involvedObject"]["name"] == "web-0" and core[0]["source"]["component"] == "kubelet"
    v1 = [e for e in got if e["metadata"]["name"] == "app.17b2"]
    assert len(v1) == 2
    assert v1[0]["involvedObject"]["kind"] == "Deployment" and v1[0]["message"] == "sync failed"
    assert v1[0]["reportingComponent"] == "example.com/controller"
    assert v1[0]["lastTimestamp"] and v1[0]["firstTimestamp"]  # filled from eventTime / series
    assert [e["count"] for e in v1] == [1, 2]                  # series.count
    assert v1[1]["lastTimestamp"] == v1[1]["series"]["lastObservedTime"]
    assert h.stop() == 0


def test_two_clusters_at_once(cluster, herald, tmp_path):
    a, b = cluster["a"], cluster["b"]
    ns = "t-two"
    a.ensure_namespace(ns)
    b.ensure_namespace(ns)
    h = herald("--cluster", f"managed={a.kubeconfig(tmp_path / 'ka')}",
               "--cluster", f"serverless={b.kubeconfig(tmp_path / 'kb')}")
    h.wait_log("listed, watching", count=2)
    a.create_event(ns, "from-a.1")
    b.create_event(ns, "from-b.1")
    got = h.wait_ns(ns, 2)
    assert {(e["metadata"]["name"], e["cluster"]) for e in got} == {("from-a.1", "managed"), ("from-b.1", "serverless")}
    assert h.stop() == 0


def test_apiserver_killed_and_restarted_loses_and_repeats_nothing(cluster, herald, tmp_path):
    a, a2 = cluster["a"], cluster["a2"]
    ns = "t-restart"
    a.ensure_namespace(ns)
    h = herald("--kubeconfig", a.kubeconfig(tmp_path / "kc"))
    h.wait_log("listed, watching")
    for i in range(5):
        a.create_event(ns, f"before.{i}")
    h.wait_ns(ns, 5)
    a.kill()
    h.wait_log("watch ended")
    for i in range(5):
        a2.create_event(ns, f"during.{i}")     # the same cluster, through its other endpoint
    a2.bump_event(ns, "before.0")
    a2.bump_event(ns, "before.1")
    a.start()
    for i in range(5):
        a.create_event(ns, f"after.{i}")
    got = h.wait_ns(ns, 17, timeout=90)
    assert len(got) == 17, [e["metadata"]["name"] for e in got]
    assert len(set(versions(got))) == 17
    names = [e["metadata"]["name"] for e in got]
    assert sorted(set(names)) == sorted([f"{p}.{i}" for p in ("before", "during", "after") for i in range(5)])
    assert h.stop() == 0
    assert len(h.in_ns(ns)) == 17


def test_forced_410_relists_without_loss_or_duplicates(cluster, herald, tmp_path):
    a, a2, etcd = cluster["a"], cluster["a2"], cluster["etcd"]
    ns = "t-gone"
    a.ensure_namespace(ns)
    h = herald("--kubeconfig", a.kubeconfig(tmp_path / "kc"))
    h.wait_log("listed, watching")
    for i in range(3):
        a.create_event(ns, f"old.{i}")
    h.wait_ns(ns, 3)
    a.kill()
    h.wait_log("watch ended")
    for i in range(3):
        a2.create_event(ns, f"new.{i}")
    a2.bump_event(ns, "old.2")
    etcd.compact_all()   # herald's resourceVersion is now older than etcd keeps
    a.start()
    got = h.wait_ns(ns, 7, timeout=90)
    h.wait_log("relisting")
    assert len(got) == 7 and len(set(versions(got))) == 7
    assert sorted(e["metadata"]["name"] for e in got[3:]) == ["new.0", "new.1", "new.2", "old.2"]
    assert h.stop() == 0
    assert len(h.in_ns(ns)) == 7


def test_restart_with_state_dir_redelivers_nothing_and_misses_nothing(cluster, herald, tmp_path):
    a = cluster["a"]
    ns = "t-state"
    a.ensure_namespace(ns)
    state = tmp_path / "state"
    state.mkdir()
    kc = a.kubeconfig(tmp_path / "kc")
    first = herald("--kubeconfig", kc, "--cluster-name", "c1", "--state-dir", state)
    first.wait_log("listed, watching")
    for i in range(3):
        a.create_event(ns, f"early.{i}")
    first.wait_ns(ns, 3)
    assert first.stop() == 0
    assert (state / "c1.checkpoint").read_text().startswith("herald-checkpoint 1\n")
    # while herald is down: two new events and a repeat of an old one
    a.create_event(ns, "while-down.0")
    a.create_event(ns, "while-down.1")
    a.bump_event(ns, "early.1")
    port = kube.free_port()
    second = herald("--kubeconfig", kc, "--cluster-name", "c1", "--state-dir", state,
                    "--listen", f"127.0.0.1:{port}")
    second.wait_log("checkpoint read from")
    second.wait_log("listed, watching")
    # early.0 and early.2 came again in the list: skipped before they were decoded
    # (other tests' namespaces in this cluster add theirs)
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    skipped = [float(line.split()[-1]) for line in metrics.splitlines()
               if line.startswith('herald_relist_items_skipped_total{cluster="c1"}')]
    assert skipped and skipped[0] >= 2, metrics
    a.create_event(ns, "after.0")
    second.wait_ns(ns, 4)
    assert second.stop() == 0
    got = second.in_ns(ns)
    assert sorted((e["metadata"]["name"], e["count"]) for e in got) == [
        ("after.0", 1), ("early.1", 2), ("while-down.0", 1), ("while-down.1", 1)]


def test_a_cluster_that_is_down_does_not_stall_the_others(cluster, herald, tmp_path):
    a = cluster["a"]
    ns = "t-one-down"
    a.ensure_namespace(ns)
    dead = kube.free_port()
    down = tmp_path / "down"
    down.write_text(a.kubeconfig(tmp_path / "tmp").read_text().replace(f":{a.port}", f":{dead}"))
    port = kube.free_port()
    h = herald("--cluster", f"down={down}", "--cluster", f"up={a.kubeconfig(tmp_path / 'kc')}",
               "--listen", f"127.0.0.1:{port}")
    h.wait_log("cluster up: listed, watching")
    a.create_event(ns, "still-flowing.1")
    got = h.wait_ns(ns, 1)
    assert got[0]["cluster"] == "up"
    h.wait_log("cluster down: list failed", count=2)   # and it keeps retrying
    # not ready while a cluster's watch is not established, and /status says which
    import json, urllib.request, urllib.error
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5)
    assert e.value.code == 503
    status = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5).read())
    assert {c["name"]: c["established"] for c in status["clusters"]} == {"down": False, "up": True}
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert 'herald_watch_established{cluster="up"} 1' in metrics
    assert 'herald_watch_established{cluster="down"} 0' in metrics
    # the shared test cluster holds other tests' events too: at least ours
    import re
    received = re.search(r'herald_events_received_total\{cluster="up",type="Warning"\} (\d+)', metrics)
    assert received and int(received.group(1)) >= 1, metrics
    assert 'herald_events_received_total{cluster="down"' not in metrics
    # the event metrics: our one event, by its reason, namespace and kind
    assert ('herald_kube_events_total{cluster="up",type="Warning",reason="BackOff",namespace="t-one-down",'
            'kind="Pod"} 1') in metrics, metrics
    assert h.stop() == 0
