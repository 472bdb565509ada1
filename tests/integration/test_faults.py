"""Watch-stream faults, from a scripted server: herald skips what is bad,
resumes from the last resourceVersion it saw, and never delivers twice."""
import json

import pytest

from conftest import versions
from fakeapi import FakeAPI, event, event_list, line


@pytest.fixture
def fake():
    f = FakeAPI()
    yield f
    f.stop()


def names(h):
    return [e["metadata"]["name"] for e in h.in_ns("fake")]


def test_garbage_and_a_10mb_line_are_skipped_and_the_stream_goes_on(fake, herald, tmp_path):
    huge = event("huge.1", 12, message="x" * (10 << 20))
    fake.lists.append([("status", 200, event_list([], 10))])
    fake.watches.append([("chunk", line("ADDED", event("a.1", 11))), ("chunk", b"not json at all\n"),
                         ("chunk", line("ADDED", huge)), ("chunk", line("ADDED", event("b.1", 13))), ("end",)])
    fake.watches.append([("chunk", line("ADDED", event("c.1", 14))), ("hold",)])
    h = herald("--kubeconfig", fake.kubeconfig(tmp_path / "kc"), "--watch-timeout", "60")
    h.wait_ns("fake", 3)
    assert names(h) == ["a.1", "b.1", "c.1"]
    reqs = fake.wait_requests(3)
    assert reqs[1]["query"]["resourceVersion"] == ["10"]
    assert reqs[1]["query"]["allowWatchBookmarks"] == ["true"]
    assert 30 <= int(reqs[1]["query"]["timeoutSeconds"][0]) <= 60
    assert reqs[2]["query"]["resourceVersion"] == ["13"]   # the stream ended: resume from the last seen
    log = h.log()
    assert "record skipped: malformed JSON" in log
    assert "record skipped: a field is longer than 1048576 bytes" in log
    assert h.stop() == 0


def test_a_reset_mid_object_resumes_without_loss_or_duplicate(fake, herald, tmp_path):
    b = line("ADDED", event("b.1", 12))
    fake.lists.append([("status", 200, event_list([event("listed.1", 5)], 10))])
    fake.watches.append([("chunk", line("ADDED", event("a.1", 11))), ("chunk", b[: len(b) // 2]), ("reset",)])
    fake.watches.append([("chunk", line("ADDED", event("a.1", 11))), ("chunk", b),
                         ("chunk", line("BOOKMARK", {"kind": "Event", "metadata": {"resourceVersion": "20"}})),
                         ("end",)])
    fake.watches.append([("hold",)])
    h = herald("--kubeconfig", fake.kubeconfig(tmp_path / "kc"))
    h.wait_ns("fake", 3)
    reqs = fake.wait_requests(4)
    assert reqs[2]["query"]["resourceVersion"] == ["11"]   # after the reset: from the last whole event
    assert reqs[3]["query"]["resourceVersion"] == ["20"]   # after the bookmark
    assert names(h) == ["listed.1", "a.1", "b.1"]          # a.1 came twice, was delivered once
    assert "watch ended" in h.log()
    assert h.stop() == 0
    assert names(h) == ["listed.1", "a.1", "b.1"]          # and nothing more came later


def test_a_stalled_stream_is_given_up_and_resumed(fake, herald, tmp_path):
    fake.lists.append([("status", 200, event_list([], 10))])
    fake.watches.append([("chunk", line("ADDED", event("a.1", 11))), ("hold",)])
    fake.watches.append([("chunk", line("ADDED", event("b.1", 12))), ("hold",)])
    h = herald("--kubeconfig", fake.kubeconfig(tmp_path / "kc"), "--watch-timeout", "2")
    h.wait_ns("fake", 2, timeout=30)
    reqs = fake.wait_requests(3)
    assert reqs[2]["query"]["resourceVersion"] == ["11"]
    assert "watch ended: Operation timed out" in h.log()
    assert h.stop() == 0


def test_401_then_success_rereads_the_token(fake, herald, tmp_path):
    token = tmp_path / "token"
    token.write_text("old-token-value\n")
    unauthorized = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Unauthorized", "code": 401}
    fake.lists.append([("status", 401, unauthorized)])
    fake.lists.append([("status", 200, event_list([event("a.1", 5)], 10))])
    h = herald("--kubeconfig", fake.kubeconfig(tmp_path / "kc", token_file=token))
    h.wait_log("list failed: HTTP 401")
    h.wait_ns("fake", 1)
    reqs = fake.wait_requests(2)
    assert reqs[0]["auth"] == "Bearer old-token-value"
    assert "old-token-value" not in h.log()
    assert h.stop() == 0


def test_410_in_stream_http_410_and_too_large_all_relist_without_duplicates(fake, herald, tmp_path):
    gone = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "too old resource version: 11 (15)", "reason": "Expired", "code": 410}
    too_large = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                 "message": "Timeout: Too large resource version: 99, current: 30", "reason": "Timeout",
                 "details": {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}]},
                 "code": 504}
    a, b, c = event("a.1", 11), event("b.1", 16), event("c.1", 31)
    fake.lists.append([("status", 200, event_list([], 10))])
    fake.watches.append([("chunk", line("ADDED", a)), ("chunk", line("ERROR", gone)), ("hold",)])
    fake.lists.append([("status", 200, event_list([a, b], 20))])        # a again: not delivered again
    fake.watches.append([("status", 410, gone)])
    fake.lists.append([("status", 200, event_list([a, b], 25))])
    fake.watches.append([("chunk", line("ERROR", too_large)), ("hold",)])
    fake.lists.append([("status", 200, event_list([a, b, c], 30))])
    fake.watches.append([("hold",)])
    h = herald("--kubeconfig", fake.kubeconfig(tmp_path / "kc"))
    h.wait_ns("fake", 3)
    fake.wait_requests(8)
    assert names(h) == ["a.1", "b.1", "c.1"]
    assert len(set(versions(h.in_ns("fake")))) == 3
    log = h.log()
    assert "expired (410): relisting" in log and "is too large: relisting" in log
    assert h.stop() == 0
    assert names(h) == ["a.1", "b.1", "c.1"]


def test_paginated_list_and_an_expired_continue_token(fake, herald, tmp_path):
    expired = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Expired", "code": 410,
               "metadata": {"continue": "fresh"}, "message": "The provided continue parameter is too old"}
    fake.lists.append([("status", 200, event_list([event("p1.1", 1), event("p1.2", 2)], 10, cont="page2"))])
    fake.lists.append([("status", 410, expired)])
    fake.lists.append([("status", 200, event_list([event("p1.1", 1), event("p1.2", 2)], 12, cont="page2b"))])
    fake.lists.append([("status", 200, event_list([event("p2.1", 3)], 12))])
    fake.watches.append([("hold",)])
    h = herald("--kubeconfig", fake.kubeconfig(tmp_path / "kc"))
    h.wait_log("listed, watching from resourceVersion 12")
    h.wait_ns("fake", 3)
    reqs = fake.wait_requests(5)
    assert reqs[0]["query"]["limit"] == ["500"] and "continue" not in reqs[0]["query"]
    assert reqs[1]["query"]["continue"] == ["page2"]
    assert "continue" not in reqs[2]["query"]                   # expired: start again
    assert reqs[3]["query"]["continue"] == ["page2b"]
    assert reqs[4]["query"]["resourceVersion"] == ["12"]
    assert names(h) == ["p1.1", "p1.2", "p2.1"]
    assert h.stop() == 0


PAGER = """-- an alert sink type: one line per event in a file
return {
  output = "file", alert = true,
  options = { path = { kind = "string", required = true },
              max_bytes = { kind = "size", default = "1MiB" }, keep = { kind = "number", default = 1 } },
  encode = function(ev) return ev.metadata.name end,
}
"""


def test_without_state_old_events_skip_alert_sinks_but_reach_the_archive(fake, herald, tmp_path):
    import time
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    old, fresh, fresher = event("old.1", 1), event("fresh.1", 2), event("fresher.1", 12)
    old["lastTimestamp"] = "2026-01-01T00:00:00Z"
    fresh["lastTimestamp"] = now
    fresher["lastTimestamp"] = now
    fake.lists.append([("status", 200, event_list([old, fresh], 10))])
    fake.watches.append([("chunk", line("ADDED", fresher)), ("hold",)])
    pager = tmp_path / "pager.txt"
    h = herald("--kubeconfig", fake.kubeconfig(tmp_path / "kc"), "--max-event-age", "10m",
               sinks=f'sink "out" {{ type = "stdout" }}\nsink "pager" {{ type = "pager", path = "{pager}", batch = {{ wait = 0 }} }}\n',
               rules='route { to = { "out", "pager" } }\n', types={"pager": PAGER})
    h.wait_ns("fake", 3)
    assert names(h) == ["old.1", "fresh.1", "fresher.1"]   # the archive gets everything
    assert h.stop() == 0
    assert pager.read_text().split() == ["fresh.1", "fresher.1"]


def test_a_valid_event_of_several_mb_is_delivered(fake, herald, tmp_path):
    big = event("big.1", 11)
    big["metadata"]["annotations"] = {f"note-{i}": "y" * (900 << 10) for i in range(4)}   # ~3.6 MB line
    fake.lists.append([("status", 200, event_list([], 10))])
    data = line("ADDED", big)
    # split into uneven chunks, as a network would
    fake.watches.append([("chunk", data[:1000]), ("chunk", data[1000:2_000_000]), ("chunk", data[2_000_000:]),
                         ("chunk", line("ADDED", event("after.1", 12))), ("hold",)])
    h = herald("--kubeconfig", fake.kubeconfig(tmp_path / "kc"))
    got = h.wait_ns("fake", 2)
    assert [e["metadata"]["name"] for e in got] == ["big.1", "after.1"]
    assert got[0]["metadata"]["annotations"] == big["metadata"]["annotations"]
    assert h.stop() == 0


def test_a_failing_sink_pauses_the_watch_then_everything_arrives_once(fake, herald, tmp_path):
    import os
    import re
    import time
    import urllib.request
    import kube
    out = tmp_path / "out.jsonl"
    out.symlink_to("/dev/full")          # every write fails with ENOSPC
    n = 400
    fake.lists.append([("status", 200, event_list([], 10))])
    fake.watches.append([("chunk", b"".join(line("ADDED", event(f"e.{i}", 11 + i)) for i in range(n))), ("hold",)])
    port = kube.free_port()
    h = herald("--kubeconfig", fake.kubeconfig(tmp_path / "kc"), "--listen", f"127.0.0.1:{port}", "--log-level", "debug",
               sinks=f'sink "f" {{ type = "file", path = "{out}", batch = {{ events = 10 }}, queue = {{ events = 50 }} }}\n',
               rules='route { to = "f" }\n')
    h.wait_log("a sink is full: pausing the watch")
    h.wait_log("is full")                # said once, then retried quietly
    deadline = time.monotonic() + 30
    while True:
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        if float(re.search(r'herald_sink_batches_total\{sink="f",result="error"\} (\S+)', metrics).group(1)) >= 2:
            break
        assert time.monotonic() < deadline, metrics
        time.sleep(0.1)
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    queued = int(float(re.search(r'herald_sink_queue_events\{sink="f"\} (\S+)', metrics).group(1)))
    assert 50 <= queued < 50 + 40, metrics   # bounded: the bound plus at most one network read
    os.unlink(out)                       # the disk has room again
    h.wait_log("resuming the watch", timeout=60)
    deadline = time.monotonic() + 60
    while not out.exists() or len(out.read_text().splitlines()) < n:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert h.stop() == 0
    names = [json.loads(l)["metadata"]["name"] for l in out.read_text().splitlines()]
    assert names == [f"e.{i}" for i in range(n)]
