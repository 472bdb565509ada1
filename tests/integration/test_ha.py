"""High availability (issue 14): replicas of herald elect a leader per
cluster on coordination.k8s.io/v1 Leases in the real apiserver; only the
leader delivers. Short lease times (4 s / 3 s / 1 s) keep the tests short.

The replicas share one --state-dir here (the delivered-events file): that
stands in for the checkpoint kept in the cluster, so a new leader resumes
where the old one saved. What a failover may re-send is therefore what was
delivered since the old leader's last save (every 5 s, and at step-down)."""
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request

import pytest

import kube
from conftest import Herald

DURATION, DEADLINE, RETRY = 4.0, 3.0, 1.0
TIMING = ["--lease-duration", "4s", "--renew-deadline", "3s", "--retry-period", "1s"]


class Replica(Herald):
    """A herald replica whose delivered events are stamped with when they
    arrived, and whose /status can be read."""

    def __init__(self, tmp_path, name, *args):
        self.name, self.port = name, kube.free_port()
        self.arrivals = []     # (monotonic time, event)
        os.environ["POD_NAME"] = f"herald-{name}"   # the downward API's pod name
        try:
            super().__init__(tmp_path, "--listen", f"127.0.0.1:{self.port}", *args)
        finally:
            del os.environ["POD_NAME"]

    def _read(self, stream, into, parse):
        for line in stream:
            with self.lock:
                if parse:
                    ev = json.loads(line)
                    into.append(ev)
                    self.arrivals.append((time.monotonic(), ev))
                else:
                    into.append(line)
                self.lock.notify_all()
        with self.lock:
            self.closed += 1
            self.lock.notify_all()

    def status(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/status", timeout=2) as r:
                return json.loads(r.read())
        except OSError:
            return None

    def leading(self):
        st = self.status()
        return set(st["election"]["leading"]) if st else set()

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as r:
            return r.read().decode()

    def readyz(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return None

    def names(self, ns, cluster=None):
        with self.lock:
            return [e["metadata"]["name"] for _, e in self.arrivals
                    if e["involvedObject"]["namespace"] == ns and (cluster is None or e["cluster"] == cluster)]

    def first_after(self, ns, t0):
        with self.lock:
            got = [t for t, e in self.arrivals if t > t0 and e["involvedObject"]["namespace"] == ns]
        return got[0] if got else None


class Stream:
    """Creates an event every `every` seconds in ns until stopped."""

    def __init__(self, api, ns, prefix, every=0.1):
        self.api, self.ns, self.prefix, self.every = api, ns, prefix, every
        self.created = []      # (monotonic time, name)
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        i = 0
        while not self.stop_flag.is_set():
            name = f"{self.prefix}-{i:05d}"
            self.api.create_event(self.ns, name, reason="HA")
            self.created.append((time.monotonic(), name))
            i += 1
            self.stop_flag.wait(self.every)

    def stop(self):
        self.stop_flag.set()
        self.thread.join(timeout=30)
        return [n for _, n in self.created]

    def after(self, t):
        return [n for c, n in self.created if c > t]


@pytest.fixture
def replicas(tmp_path):
    started = []

    def start(name, *args):
        r = Replica(tmp_path, name, *args)
        started.append(r)
        return r

    yield start
    for r in started:
        if r.proc.poll() is None:
            r.proc.send_signal(signal.SIGCONT)
            r.proc.kill()
            r.proc.wait()


def common(a, tmp_path, ns, state):
    a.ensure_namespace(ns)
    kc = a.kubeconfig(tmp_path / "kc")
    return ["--kubeconfig", kc, "--namespace", ns, "--cluster-name", "prod", "--leader-elect",
            "--lease-namespace", ns, "--state-dir", state, *TIMING]


def wait_until(cond, timeout, what):
    return kube.wait_for(cond, timeout=timeout, what=what)


def own_state(tmp_path, args, name):
    """--state-dir of its own (as in a pod: an emptyDir) for one replica."""
    d = tmp_path / f"state-{name}"
    d.mkdir()
    i = args.index("--state-dir")
    return args[:i + 1] + [d] + args[i + 2:]


@pytest.mark.parametrize("store", ["shared-dir", "configmap"])
def test_two_replicas_one_delivers_failover_on_kill_and_on_sigterm(cluster, replicas, tmp_path, store):
    """shared-dir: the replicas share --state-dir. configmap: each has its own
    (as pods do) and the state travels through --state-configmap."""
    a = cluster["a"]
    ns = f"ha-failover-{store}"
    state = tmp_path / "state"
    state.mkdir()
    args = common(a, tmp_path, ns, state)
    if store == "configmap":
        args += ["--state-configmap", "herald-checkpoint"]
    mine = (lambda name: own_state(tmp_path, args, name)) if store == "configmap" else (lambda name: args)
    first = replicas("first", *mine("first"))
    wait_until(lambda: first.leading() == {"prod"}, 20, "the first replica to lead")
    second = replicas("second", *mine("second"))
    wait_until(lambda: second.status() is not None, 20, "the second replica to serve /status")
    stream = Stream(a, ns, "ev")
    try:
        # Steady state: one writer. Both are ready; /status tells them apart.
        first.wait(lambda: len(first.names(ns)) >= 20, 30, "20 events delivered by the leader")
        time.sleep(2 * RETRY)  # the standby had time to (wrongly) deliver
        assert second.names(ns) == []
        assert second.leading() == set() and first.readyz() == 200 and second.readyz() == 200
        assert 'herald_leader{cluster="prod"} 1' in first.metrics()
        assert 'herald_leader{cluster="prod"} 0' in second.metrics()
        st = second.status()["election"]["clusters"][0]
        assert st["role"] == "standby" and st["holder"] == first.status()["election"]["identity"]

        # kill -9 the leader: the standby delivers within lease duration + retry period.
        killed_at = time.monotonic()
        first.proc.kill()
        first.proc.wait()
        wait_until(lambda: second.first_after(ns, killed_at), DURATION + 3 * RETRY + 5, "the standby to deliver")
        took = second.first_after(ns, killed_at) - killed_at
        print(f"kill -9: the standby delivered after {took:.2f} s")
        # Expiry is judged from when the standby saw the last renewal (up to a
        # retry period after it was written), then it reads within a retry
        # period: duration + retry, plus the list that starts the watch.
        assert took <= DURATION + RETRY + 1.0, took
        assert second.leading() == {"prod"}

        # A new standby, then SIGTERM the leader: handover at once.
        third = replicas("third", *mine("third"))
        wait_until(lambda: third.status() is not None and third.status()["election"]["clusters"][0]["holder"],
                   20, "the third replica to see the holder")
        time.sleep(1)
        termed_at = time.monotonic()
        assert second.stop() == 0
        wait_until(lambda: third.first_after(ns, termed_at), 10, "the third to deliver")
        took_term = third.first_after(ns, termed_at) - termed_at
        print(f"SIGTERM: the standby delivered after {took_term:.2f} s")
        assert took_term <= 2 * RETRY + 1.0, took_term
        third.wait(lambda: len(third.names(ns)) >= 10, 30, "10 events delivered by the third")
    finally:
        created = stream.stop()
    third.wait(lambda: set(created) <= set(first.names(ns)) | set(second.names(ns)) | set(third.names(ns)),
               30, "every created event delivered")

    # 0 lost; one writer at a time; duplicates only within the in-flight window.
    got_first, got_second, got_third = first.names(ns), second.names(ns), third.names(ns)
    assert set(created) <= set(got_first) | set(got_second) | set(got_third)
    for got in (got_first, got_second, got_third):
        assert len(got) == len(set(got)), "a replica delivered an event twice"
    dup_kill = set(got_first) & set(got_second)
    # The first replica saved what it delivered at most 5 s before it died
    # (and wrote the ConfigMap at most 5 s after that).
    window = set(stream.after(killed_at - (5 if store == "shared-dir" else 10) - 1))
    assert dup_kill <= window, sorted(dup_kill - window)
    # SIGTERM saved everything before handing over: nothing sent twice.
    assert set(got_second) & set(got_third) == set()
    print(f"{store}: kill -9 re-sent {len(dup_kill)} events; SIGTERM re-sent 0; created {len(created)}")
    if store == "configmap":
        cm = a.request("GET", f"/api/v1/namespaces/{ns}/configmaps/herald-checkpoint")
        assert set(cm["binaryData"]) == {"prod.checkpoint"}


def test_partitioned_leader_stops_before_its_lease_expires_and_does_not_come_back_as_second_leader(
        cluster, replicas, tmp_path):
    a = cluster["a"]
    ns = "ha-partition"
    state = tmp_path / "state"
    state.mkdir()
    args = common(a, tmp_path, ns, state)
    first = replicas("first", *args)
    wait_until(lambda: first.leading() == {"prod"}, 20, "the first replica to lead")
    second = replicas("second", *args)
    wait_until(lambda: second.status() is not None, 20, "the second replica")
    stream = Stream(a, ns, "ev")
    try:
        first.wait(lambda: len(first.names(ns)) >= 10, 30, "10 events from the leader")
        stopped_at = time.monotonic()
        first.proc.send_signal(signal.SIGSTOP)     # frozen: cannot renew
        wait_until(lambda: second.first_after(ns, stopped_at), DURATION + 3 * RETRY + 5, "the standby to take over")
        taken_at = second.first_after(ns, stopped_at)
        assert taken_at - stopped_at >= DURATION - RETRY, "took over before the old lease could expire"
        time.sleep(1)
        first.proc.send_signal(signal.SIGCONT)
        resumed_at = time.monotonic()
        wait_until(lambda: first.status() is not None, 10, "the old leader to answer")
        time.sleep(3 * RETRY)
        assert first.leading() == set()
        assert second.leading() == {"prod"}
    finally:
        created = stream.stop()
    second.wait(lambda: set(created) <= set(first.names(ns)) | set(second.names(ns)), 30, "every event delivered")
    # The old leader delivered nothing created after it froze: a frozen
    # process cannot read, and once it woke its renew deadline had passed.
    late = set(stream.after(stopped_at + 0.2)) & set(first.names(ns))
    assert late == set(), sorted(late)
    with first.lock:
        after_resume = [e["metadata"]["name"] for t, e in first.arrivals if t > resumed_at + 1.0]
    assert after_resume == []
    assert "no longer leading" in first.log()


def test_three_replicas_share_five_clusters_and_take_over_a_dead_ones(cluster, replicas, tmp_path):
    """Five clusters are five --cluster names whose kubeconfigs point at one
    apiserver (each watches the namespace; events carry the cluster name)."""
    a = cluster["a"]
    ns = "ha-shard"
    a.ensure_namespace(ns)
    kc = a.kubeconfig(tmp_path / "kc")
    state = tmp_path / "state"
    state.mkdir()
    clusters = [f"c{i}" for i in range(1, 6)]
    args = ["--kubeconfig", kc, "--namespace", ns, "--leader-elect", "--lease-namespace", ns,
            "--state-dir", state, "--state-configmap", "herald-checkpoint", *TIMING]
    for c in clusters:
        args += ["--cluster", f"{c}={kc}"]
    # each its own --state-dir, as pods: the state moves through the ConfigMap
    reps = [replicas(f"r{i}", *own_state(tmp_path, args, f"r{i}")) for i in range(3)]

    def spread():
        held = [r.leading() for r in reps if r.proc.poll() is None]
        return held if sum(len(h) for h in held) == 5 and set().union(*held) == set(clusters) else None

    def balanced():
        held = spread()
        return held if held and all(len(h) <= 2 for h in held) else None

    held = wait_until(balanced, 40, "five clusters held, at most two per replica")
    for i, h in enumerate(held):
        for j in range(i):
            assert not (h & held[j]), "a cluster with two holders"
    stream = Stream(a, ns, "ev", every=0.2)
    try:
        time.sleep(2)
        victim = max(reps, key=lambda r: len(r.leading()))
        moved = victim.leading()
        killed_at = time.monotonic()
        victim.proc.kill()
        victim.proc.wait()
        survivors = [r for r in reps if r is not victim]
        wait_until(lambda: set().union(*(r.leading() for r in survivors)) == set(clusters), DURATION + 4 * RETRY + 5,
                   "the dead replica's clusters to move")
        took = time.monotonic() - killed_at
        print(f"clusters {sorted(moved)} moved in {took:.2f} s")
        assert took <= DURATION + 2 * RETRY + 1.0, took
        held = [r.leading() for r in survivors]
        assert not (held[0] & held[1]) and all(len(h) <= 3 for h in held)
        time.sleep(2)
    finally:
        created = stream.stop()

    def delivered(c):
        return set().union(*(set(r.names(ns, c)) for r in reps))

    survivors[0].wait(lambda: all(set(created) <= delivered(c) for c in clusters), 30, "every event in every cluster")
    for c in clusters:
        assert set(created) <= delivered(c), c
    # Five replicas' worth of writers shared one ConfigMap (409s resolved by
    # reading again): every cluster's key is there.
    def keys():
        try:
            cm = a.request("GET", f"/api/v1/namespaces/{ns}/configmaps/herald-checkpoint")
        except urllib.error.HTTPError:
            return None
        return set(cm.get("binaryData", {})) == {f"{c}.checkpoint" for c in clusters}
    wait_until(keys, 15, "every cluster's key in the ConfigMap (saved every 5 s, written within 5 s)")


def test_leader_cut_off_from_its_leases_stops_at_the_renew_deadline_while_its_watch_still_runs(
        cluster, replicas, tmp_path):
    """A partition of the Lease requests only: the leader reaches its Leases
    through apiserver a2 (the same cluster), and watches through a. a2 is
    killed: the leader's watch keeps streaming, but it cannot renew, so it
    must stop delivering at the renew deadline, before the lease expires and
    the standby (whose Leases go through a) takes over."""
    a, a2 = cluster["a"], cluster["a2"]
    ns = "ha-lease-partition"
    a.ensure_namespace(ns)
    state = tmp_path / "state"
    state.mkdir()
    watch = ["--cluster", f"prod={a.kubeconfig(tmp_path / 'kc-a')}", "--namespace", ns, "--leader-elect",
             "--lease-namespace", ns, "--state-dir", state, *TIMING]
    first = replicas("first", "--kubeconfig", a2.kubeconfig(tmp_path / "kc-a2"), *watch)
    wait_until(lambda: first.leading() == {"prod"}, 20, "the first replica to lead")
    second = replicas("second", "--kubeconfig", a.kubeconfig(tmp_path / "kc-a"), *watch)
    wait_until(lambda: second.status() is not None, 20, "the second replica")
    stream = Stream(a, ns, "ev")
    try:
        first.wait(lambda: len(first.names(ns)) >= 10, 30, "10 events from the leader")
        cut_at = time.monotonic()
        a2.kill()
        wait_until(lambda: second.first_after(ns, cut_at), DURATION + 3 * RETRY + 5, "the standby to take over")
        taken_at = second.first_after(ns, cut_at)
        time.sleep(1)
    finally:
        created = stream.stop()
        a2.start()
    second.wait(lambda: set(created) <= set(first.names(ns)) | set(second.names(ns)), 30, "every event delivered")
    with first.lock:
        last = max(t for t, e in first.arrivals if e["involvedObject"]["namespace"] == ns)
    print(f"the cut-off leader delivered its last event {last - cut_at:.2f} s after the cut; "
          f"the standby its first {taken_at - cut_at:.2f} s after")
    # It stopped by the renew deadline (counted from its last renewal, at
    # most a retry period before the cut), well before the standby began.
    assert last - cut_at <= DEADLINE + 0.3, last - cut_at
    assert last < taken_at
    assert first.leading() == set() and "no longer leading" in first.log()
