"""How a watch gets over trouble (issue 12): a list page too large to use
is asked for again in smaller pages, healthy streams that reset do not
grow the reconnect delay, a 401 says what to check, and a watch that was
failing says once that it works again."""
import pytest

from fakeapi import FakeAPI, event, event_list, line


@pytest.fixture
def fake():
    f = FakeAPI()
    yield f
    f.stop()


def names(h):
    return [e["metadata"]["name"] for e in h.in_ns("fake")]


def test_a_list_page_over_64_mib_is_asked_for_again_in_smaller_pages(fake, herald, tmp_path):
    # 80 events of 900 KB: a 72 MB page for limit=500 (over the 64 MiB a
    # record may have); limit=250 gets pages of reasonable size.
    huge = event_list([event(f"big.{i}", i + 1, message="x" * 900_000) for i in range(80)], 100, cont="c1")
    asked = []

    def by_limit(q):
        asked.append((q["limit"][0], q.get("continue", [""])[0]))
        if q["limit"] == ["500"]:
            return [("status", 200, huge)]
        if "continue" not in q:
            return [("status", 200, event_list([event("a.1", 1), event("a.2", 2)], 100, cont="p2"))]
        return [("status", 200, event_list([event("a.3", 3)], 100))]

    fake.lists.extend([by_limit] * 3)
    fake.watches.append([("hold",)])
    h = herald("--kubeconfig", fake.kubeconfig(tmp_path / "kc"))
    h.wait_log("listed, watching from resourceVersion 100", timeout=60)
    h.wait_ns("fake", 3)
    assert asked == [("500", ""), ("250", ""), ("250", "p2")]
    assert names(h) == ["a.1", "a.2", "a.3"]
    log = h.log()
    assert "a list page of 500 events is too large (" in log and "asking for 250 events a page" in log, log
    assert "not an EventList" not in log
    assert h.stop() == 0


def test_resets_of_healthy_streams_keep_the_reconnect_delay_small(fake, herald, tmp_path):
    # Each stream delivers an event, then the connection is reset. A
    # stream that delivered data was healthy: the next one waits the
    # shortest delay (at most 0.8 s), not a delay doubled at each reset
    # (0.8 s, 1.6 s, ... 30 s: about two minutes for eight resets).
    n = 8
    fake.lists.append([("status", 200, event_list([], 10))])
    for i in range(n):
        fake.watches.append([("chunk", line("ADDED", event(f"e.{i}", 11 + i))), ("reset",)])
    fake.watches.append([("hold",)])
    h = herald("--kubeconfig", fake.kubeconfig(tmp_path / "kc"))
    reqs = fake.wait_requests(n + 2, timeout=60)
    h.wait_ns("fake", n)
    gaps = [b["t"] - a["t"] for a, b in zip(reqs[1:], reqs[2:])]
    assert max(gaps) < 3, gaps
    assert names(h) == [f"e.{i}" for i in range(n)]
    assert h.stop() == 0


def test_a_401_says_what_to_check_and_the_recovery_is_logged_once(fake, herald, tmp_path):
    unauthorized = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
    token = tmp_path / "token"
    token.write_text("expired-token-value\n")
    fake.lists.append([("status", 401, unauthorized)])
    fake.lists.append([("status", 401, unauthorized)])
    fake.lists.append([("status", 200, event_list([event("a.1", 5)], 10))])
    fake.watches.append([("status", 401, unauthorized)])
    fake.watches.append([("chunk", line("ADDED", event("b.1", 11))), ("hold",)])
    h = herald("--kubeconfig", fake.kubeconfig(tmp_path / "kc", token_file=token))
    h.wait_ns("fake", 2)
    h.wait_log("watching works again after 1 failed attempt")
    log = h.log()
    assert (f"list failed: HTTP 401 Unauthorized: the API server did not accept herald's credentials; "
            f"check the token in {token}") in log, log
    assert "has it expired" in log
    assert "watch failed: HTTP 401 Unauthorized" in log
    assert '"kind"' not in log and "Failure" not in log, log     # not the server's JSON
    assert "expired-token-value" not in log
    assert "record skipped" not in log, log                      # a 401's body is no watch stream
    assert log.count("listing works again after 2 failed attempts") == 1, log
    assert log.count("works again") == 2, log
    assert h.stop() == 0
