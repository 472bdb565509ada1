"""A relist after a restart with --state-dir, on the fast path (List items
the checkpoint covers are skipped before any Lua: json.decode_lazy's
covered) and on the full path (HERALD_FAST_PATH=0: every item decoded, the
source skips it): the same events delivered, in the same order, with the
same bytes as parsed JSON, and nothing delivered twice."""
import json

import pytest

from fakeapi import FakeAPI, event, event_list


def rich(name, rv, **extra):
    """An Event with the metadata members the fast path leaves undecoded."""
    ev = event(name, rv, **extra)
    ev["metadata"].update({
        "annotations": {"a": name, "k\u00e9y": "v\ttab"},
        "labels": {"app": "web"},
        "managedFields": [{"manager": "kubelet", "operation": "Update", "fieldsV1": {"f:count": {}}}],
    })
    return ev


def run_path(fast, herald, tmp_path, monkeypatch):
    monkeypatch.setenv("HERALD_FAST_PATH", "1" if fast else "0")
    state = tmp_path / ("fast" if fast else "full") / "state"
    state.mkdir(parents=True)
    a, b, c = rich("a.1", 11), rich("b.1", 12), rich("c.1", 13)
    out = []
    for run, list_rv, items, want in (
        (1, 20, [a, b, c], 3),
        # after the restart: a and c as before (covered), b changed, d and e new,
        # and a List item that is not an Event
        (2, 50, [a, dict(rich("b.1", 41), count=2), c, rich("d.1", 42), {"kind": "Event", "metadata": {}},
                 rich("e.1", 43, message="tab\tin a message")], 3),
    ):
        fake = FakeAPI()
        try:
            fake.lists.append([("status", 200, event_list(items, list_rv))])
            fake.watches.append([("hold",)])
            h = herald("--kubeconfig", fake.kubeconfig(tmp_path / f"kc-{fast}-{run}"), "--state-dir", state,
                       "--cluster-name", "c1")
            h.wait_ns("fake", want)
            fake.wait_requests(2)   # the watch: the list is through
            assert h.stop() == 0
        finally:
            fake.stop()
        out.append((h.in_ns("fake"), [line.split(" ", 1)[1] for line in h.log().splitlines()
                                      if "skipped" in line]))
    return out


def test_a_relist_delivers_the_same_on_both_paths(herald, tmp_path, monkeypatch):
    fast = run_path(True, herald, tmp_path, monkeypatch)
    full = run_path(False, herald, tmp_path, monkeypatch)
    names = [[e["metadata"]["name"] for e in run[0]] for run in fast]
    assert names == [["a.1", "b.1", "c.1"], ["b.1", "d.1", "e.1"]], names
    for (f_events, f_log), (u_events, u_log) in zip(fast, full):
        assert f_log == u_log
        norm = lambda evs: [json.loads(json.dumps(e), parse_int=float) for e in evs]  # noqa: E731
        assert norm(f_events) == norm(u_events)
    assert fast[1][0][0]["count"] == 2 and fast[1][0][0]["metadata"]["resourceVersion"] == "41"
