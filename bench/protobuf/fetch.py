"""Loads Events into a real kube-apiserver and captures them as JSON and as
protobuf, for bench/protobuf/pbprobe.

Starts the cached etcd + kube-apiserver (tests/integration/kube.py), opens
one JSON watch and one protobuf watch, creates N Events from
tests/fixtures/events.jsonl (the server adds managedFields, the manager being
the fixture's own), bumps a fifth of them (a MODIFIED, as a kubelet's
recorder does on a repeat), then LISTs in both formats; every tenth Event
carries a label and an annotation. Writes into OUT: watch.json (JSON lines),
watch.lean.json (the same without metadata.managedFields), watch.pb
(length-prefixed frames), list.json, list.pb, and wire.json (bytes, events
and the apiserver's CPU per format).

apiserver CPU: for each format, R watches from resourceVersion=0 (the server
sends every Event as an ADDED from its watch cache) and R LISTs, alternated
between the formats; utime+stime of the apiserver process from /proc, less
its idle rate over the same wall time.
"""
import argparse
import http.client
import json
import os
import pathlib
import shutil
import ssl
import struct
import sys
import tempfile
import threading
import time

SOURCE = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(SOURCE / "tests" / "integration"))
import kube  # noqa: E402

PB = "application/vnd.kubernetes.protobuf"
JSON = "application/json"
TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK   # utime + stime, seconds


class Conn:
    """One keep-alive HTTPS connection to the apiserver."""

    def __init__(self, api, agent="herald-bench"):
        self.host, self.port = "127.0.0.1", api.port
        self.ctx = ssl.create_default_context(cafile=str(api.ca))
        self.agent = agent
        self.c = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=60)

    def request(self, method, path, body=None, accept=JSON, ctype=JSON):
        headers = {"Authorization": f"Bearer {kube.ADMIN_TOKEN}", "Accept": accept, "User-Agent": self.agent}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = ctype
        self.c.request(method, path, body=data, headers=headers)
        r = self.c.getresponse()
        out = r.read()
        if r.status >= 300:
            raise RuntimeError(f"{method} {path}: {r.status} {out[:300]!r}")
        return out

    def close(self):
        self.c.close()


def pb_frames(data):
    """Counts the length-prefixed frames of a protobuf watch body; returns
    (complete frames, bytes they take)."""
    n = off = 0
    while off + 4 <= len(data):
        size = struct.unpack(">I", data[off:off + 4])[0]
        if off + 4 + size > len(data):
            break
        off += 4 + size
        n += 1
    return n, off


def watch(api, accept, rv, want, sink=None):
    """Reads a watch until `want` events arrived; returns its body bytes."""
    conn = Conn(api)
    path = f"/api/v1/events?watch=true&resourceVersion={rv}&timeoutSeconds=120"
    conn.c.request("GET", path, headers={"Authorization": f"Bearer {kube.ADMIN_TOKEN}", "Accept": accept})
    r = conn.c.getresponse()
    if r.status != 200:
        raise RuntimeError(f"watch {accept}: {r.status} {r.read()[:300]!r}")
    body = bytearray()
    got = framed = 0
    while got < want:
        chunk = r.read1(65536)
        if not chunk:
            break
        body += chunk
        if accept == PB:
            n, used = pb_frames(bytes(body[framed:]))
            got, framed = got + n, framed + used
        else:
            got += chunk.count(b"\n")
    conn.close()
    if got < want:
        raise RuntimeError(f"watch {accept} from {rv}: {got} events, want {want}")
    if accept == PB:
        body = body[:pb_frames(body)[1]]
    else:
        body = body[:body.rfind(b"\n") + 1]
    if sink is not None:
        sink[accept] = bytes(body)
    return bytes(body)


def fixture_bodies(n):
    """N Event bodies cycled from the fixtures: (api group path, body, manager)."""
    fixtures = [json.loads(line) for line in (SOURCE / "tests/fixtures/events.jsonl").read_text().splitlines() if line]
    out = []
    for i in range(n):
        ev = json.loads(json.dumps(fixtures[i % len(fixtures)]))
        md = ev["metadata"]
        mf = md.get("managedFields") or []
        manager = mf[0]["manager"] if mf else (ev.get("reportingComponent") or ev.get("reportingController", "x").split("/")[0])
        ev["metadata"] = {"name": f"{md['name']}.{i:05d}", "namespace": md["namespace"]}
        if i % 10 == 3:   # some recorders label or annotate their Events
            ev["metadata"]["labels"] = {"app.kubernetes.io/name": md["namespace"], "tier": "backend"}
            ev["metadata"]["annotations"] = {"example.com/trace-id": f"{i:032x}"}
        for k in ("resourceVersion", "uid"):
            (ev.get("involvedObject") or {}).pop(k, None)
        if ev.get("source") == {} and ev.get("apiVersion") == "v1" and not ev.get("eventTime"):
            ev["source"] = {"component": manager, "host": "node-a1"}
        group = "/apis/events.k8s.io/v1" if ev["apiVersion"] == "events.k8s.io/v1" else "/api/v1"
        out.append((group, ev, manager))
    return out


def load(api, bodies, workers=2):
    """Creates the Events (two keep-alive connections), then bumps every
    fifth core/v1 one: count+1, a new lastTimestamp (MODIFIED)."""
    namespaces = sorted({b["metadata"]["namespace"] for _, b, _ in bodies})
    for ns in namespaces:
        api.ensure_namespace(ns)
    errors = []

    def run(part):
        conns = {}
        try:
            for i, (group, ev, manager) in part:
                conn = conns.get(manager) or conns.setdefault(manager, Conn(api, agent=f"{manager}/v1.36.3 (linux/amd64)"))
                ns = ev["metadata"]["namespace"]
                conn.request("POST", f"{group}/namespaces/{ns}/events", ev)
                if i % 5 == 0 and group == "/api/v1" and "count" in ev:
                    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                    conn.request("PATCH", f"/api/v1/namespaces/{ns}/events/{ev['metadata']['name']}",
                                 {"count": ev["count"] + 1, "lastTimestamp": now},
                                 ctype="application/strategic-merge-patch+json")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            for c in conns.values():
                c.close()

    items = list(enumerate(bodies))
    threads = [threading.Thread(target=run, args=(items[w::workers],)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=10, help="watches and LISTs per format for the apiserver CPU")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    work = pathlib.Path(tempfile.mkdtemp(prefix="herald-pb-"))
    bindir = kube.kube_bin()
    etcd = kube.Etcd(bindir, work)
    api = None
    try:
        api = kube.APIServer(bindir, work, etcd, "a", "/pb")
        bodies = fixture_bodies(a.events)
        bumps = sum(1 for i, (g, ev, _) in enumerate(bodies) if i % 5 == 0 and g == "/api/v1" and "count" in ev)
        want = a.events + bumps
        api.ensure_namespace("default")
        rv = json.loads(Conn(api).request("GET", "/api/v1/events?limit=1"))["metadata"]["resourceVersion"]
        got = {}
        watchers = [threading.Thread(target=watch, args=(api, acc, rv, want, got)) for acc in (JSON, PB)]
        for t in watchers:
            t.start()
        t0 = time.monotonic()
        load(api, bodies)
        load_s = time.monotonic() - t0
        for t in watchers:
            t.join(timeout=130)
        if len(got) != 2:
            raise RuntimeError("a live watch did not see every event (its error is above)")
        (out / "watch.json").write_bytes(got[JSON])
        with open(out / "watch.lean.json", "w", encoding="utf-8") as lean:
            for line in got[JSON].decode().splitlines():
                w = json.loads(line)
                w["object"]["metadata"].pop("managedFields", None)
                lean.write(json.dumps(w, separators=(",", ":"), ensure_ascii=False) + "\n")
        (out / "watch.pb").write_bytes(got[PB])

        conn = Conn(api)
        list_json = conn.request("GET", "/api/v1/events", accept=JSON)
        list_pb = conn.request("GET", "/api/v1/events", accept=PB)
        gzipped = {}
        for fmt, acc in (("list_json_gzip", JSON), ("list_pb_gzip", PB)):
            conn.c.request("GET", "/api/v1/events", headers={
                "Authorization": f"Bearer {kube.ADMIN_TOKEN}", "Accept": acc, "Accept-Encoding": "gzip"})
            r = conn.c.getresponse()
            gzipped[fmt] = (len(r.read()), r.getheader("Content-Encoding"))
        conn.close()
        (out / "list.json").write_bytes(list_json)
        (out / "list.pb").write_bytes(list_pb)
        nlist = len(json.loads(list_json)["items"])

        # The apiserver's own CPU per format.
        pid = api.proc.pid
        t0, c0 = time.monotonic(), proc_cpu(pid)
        time.sleep(2.0)   # idle rate, measured (not a stand-in for a condition)
        idle = (proc_cpu(pid) - c0) / (time.monotonic() - t0)
        cpu = {f: {"watch": 0.0, "list": 0.0} for f in ("json", "pb")}
        for _ in range(a.rounds):
            for fmt, acc in (("json", JSON), ("pb", PB)):
                t0, c0 = time.monotonic(), proc_cpu(pid)
                watch(api, acc, "0", nlist)
                cpu[fmt]["watch"] += proc_cpu(pid) - c0 - idle * (time.monotonic() - t0)
                conn = Conn(api)
                t0, c0 = time.monotonic(), proc_cpu(pid)
                conn.request("GET", "/api/v1/events?resourceVersion=0", accept=acc)
                cpu[fmt]["list"] += proc_cpu(pid) - c0 - idle * (time.monotonic() - t0)
                conn.close()
        per = a.rounds * nlist
        report = {
            "events_created": a.events, "events_bumped": bumps, "watch_events": want, "list_items": nlist,
            "load_seconds": round(load_s, 2),
            "bytes": {"watch_json": len(got[JSON]), "watch_pb": len(got[PB]),
                      "list_json": len(list_json), "list_pb": len(list_pb),
                      **{k: v[0] for k, v in gzipped.items()}},
            "list_gzip_content_encoding": {k: v[1] for k, v in gzipped.items()},
            "apiserver_idle_cpu_per_s": idle, "rounds": a.rounds,
            "apiserver_ns_per_event": {f: {k: v / per * 1e9 for k, v in d.items()} for f, d in cpu.items()},
            "clock_tick_hz": TICK,
        }
        (out / "wire.json").write_text(json.dumps(report, indent=1))
        print(json.dumps(report, indent=1))
    finally:
        if api:
            api.stop()
        etcd.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
