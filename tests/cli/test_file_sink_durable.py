"""The file sink across a full disk and a crash: a partial write is cut
back to the last whole line, a full disk pauses the sink (and, through
backpressure, the input) and says so once, and it resumes by itself when
space returns. Nothing lost, nothing doubled, no torn line."""
import json
import os
import subprocess
import threading
import time

import pytest

from test_reload import Running, event_line


@pytest.fixture
def tmpfs(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "herald-test", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root): {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def config_for(tmp_path, out, extra=""):
    cfg = tmp_path / "config"
    (cfg / "rules").mkdir(parents=True)
    (cfg / "sinks.lua").write_text(f'sink "a" {{ type = "file", path = "{out}", batch = {{ events = 40 }}, '
                                   f'queue = {{ events = 500 }}{extra} }}\n')
    (cfg / "rules" / "10.lua").write_text('route { to = "a" }\n')
    return cfg, cfg / "rules"


def fill(path, leave):
    """Writes path until the filesystem has about `leave` bytes free."""
    st = os.statvfs(path.parent)
    size = max(0, st.f_bavail * st.f_frsize - leave)
    with open(path, "wb") as f:
        f.write(b"x" * size)


def check_file(out, n):
    """out and its rotated files hold each of the n events once, in whole lines."""
    uids = []
    for f in sorted(out.parent.glob(out.name + "*")):
        raw = f.read_bytes()
        assert raw == b"" or raw.endswith(b"\n"), (f, raw[-200:])
        uids += [json.loads(l)["metadata"]["uid"] for l in raw.decode().splitlines()]   # a torn line fails here
    dups = len(uids) - len(set(uids))
    assert dups == 0, f"{dups} duplicated lines"
    assert sorted(uids) == sorted(f"ev-{i}" for i in range(n)), f"{len(set(uids))} of {n} events"


@pytest.mark.parametrize("rotation", ["", ', max_bytes = "300KiB", keep = 100'], ids=["plain", "rotating"])
def test_a_full_disk_pauses_the_sink_and_it_resumes_losing_and_doubling_nothing(tmp_path, tmpfs, rotation):
    out, filler = tmpfs / "out.jsonl", tmpfs / "filler"
    cfg, rules = config_for(tmp_path, out, rotation)
    n = 5000
    fill(filler, 256 * 1024)             # room for a few hundred events, then the disk is full
    h = Running(cfg, rules)
    sent = threading.Event()

    def feed():
        for i in range(n):
            h.send(event_line(f"ev-{i}"))
        sent.set()

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    h.wait_log("is full", timeout=60)
    # paused: the input waits (backpressure), the sink retries quietly
    deadline = time.monotonic() + 30
    while True:
        m = h.metrics()
        if m.get(("herald_sink_batches_total", (("result", "error"), ("sink", "a"))), 0) >= 4:
            break
        assert time.monotonic() < deadline, m
        time.sleep(0.1)
    assert m[("herald_sink_disk_full", (("sink", "a"),))] == 1
    assert not sent.is_set(), "the input was not paused"
    assert sum(len(f.read_bytes().splitlines()) for f in tmpfs.glob("out.jsonl*")) < n
    assert sum("is full" in l for l in h.err) == 1, "".join(h.err[-20:])
    assert not any("retrying" in l for l in h.err), "".join(h.err[-20:])
    filler.unlink()                       # space returns
    h.wait_log("has room again", timeout=30)
    writer.join(timeout=60)
    assert sent.is_set(), "".join(h.err[-20:])
    assert h.metrics()[("herald_sink_disk_full", (("sink", "a"),))] == 0
    assert h.close() == 0, "".join(h.err[-20:])
    if rotation:
        assert (tmpfs / "out.jsonl.10").exists()
    check_file(out, n)


def test_a_torn_last_line_left_by_a_crash_is_cut_before_appending(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text(event_line("ev-0") + event_line("ev-1")[:57])    # killed mid-write
    cfg, rules = config_for(tmp_path, out)
    h = Running(cfg, rules)
    h.send(event_line("ev-1"))
    assert h.close() == 0
    assert any("removed a torn last line (57 bytes)" in l for l in h.err), "".join(h.err)
    check_file(out, 2)
