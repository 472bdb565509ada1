"""herald side by side with kube-eventer and kubernetes-event-exporter
(bench/peers/run.sh drives this and writes bench/PEERS.md).

Each program reads the same stream from bench/watchgen (list, then watch:
N Events of ~1 KB, each with a unique name, uid and resourceVersion) and
writes every event (1) to stdout / its log, discarded after counting, or
(2) to a local Elasticsearch endpoint (watchgen bulk mode) that counts the
documents it receives. Per program: events delivered (lines counted /
documents counted), CPU seconds of the program itself (utime + stime),
peak RSS (VmHWM), wall time. A run stops when all N are delivered or after
IDLE seconds without progress; partial delivery is reported as it is."""
import argparse
import collections
import datetime
import os
import pathlib
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from bench import FIXTURES, config_dir, cpu_seconds, free_port, mem_kib  # noqa: E402

ALIAS = "heapster-events"   # kube-eventer's alias for its daily indices (index "heapster", type "events")


class Server:
    """bench/watchgen, its requests logged to a file."""

    def __init__(self, exe, args, log, env=None):
        self.port = free_port()
        self.log = open(log, "w")
        self.proc = subprocess.Popen([exe, *args(self.port)], stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env=dict(os.environ, WATCHGEN_LOG="1", **(env or {})))
        assert self.proc.stdout.readline().strip() == "ready"
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()


class Counter(threading.Thread):
    """Reads a pipe to its end, counting delivered events (and drop notes)."""

    def __init__(self, pipe, pattern=None, save=None):
        """pattern: a line holding it is one event (None: every line is);
        save: a regex of the other lines to keep as notes (log lines)."""
        super().__init__(daemon=True)
        self.pipe, self.pattern, self.save = pipe, pattern, save
        self.count = 0
        self.notes = collections.Counter()
        self.start()

    def run(self):
        if self.pattern is None:   # one event a line
            while chunk := self.pipe.read1(1 << 20):
                self.count += chunk.count(b"\n")
            return
        for line in self.pipe:
            if self.pattern in line:
                self.count += 1
            elif self.save and re.match(self.save, line) and len(self.notes) < 50:
                self.notes[note(line)] += 1


def note(line):
    """A log line without its time and pid, numbers and paths, so that
    repeated lines add up: klog's "W1126 05:42:25.1 123 file.go:9] text",
    zerolog's {"level":..,"time":..,"message":..}."""
    text = line.decode(errors="replace").strip()
    text = re.sub(r'^([IWEF])\d{4} [\d:.]+\s+\d+ ', r"\1 ", text)
    text = re.sub(r'"time":"[^"]*",?', "", text)
    text = re.sub(r"/tmp/\S+|127\.0\.0\.1:\d+", "...", text)
    return text[:200]


def documents(url):
    try:
        return int(urllib.request.urlopen(url + "/_watchgen/documents", timeout=5).read())
    except OSError:
        return 0


def measure(cmd, n, delivered, idle, env=None, stdout_pattern=None, stderr_pattern=None):
    """Runs cmd until delivered() >= n or `idle` seconds pass without
    progress. Returns a dict of figures."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    # Warnings and errors are kept: kube-eventer's (klog; its event lines are
    # counted, not kept), kubernetes-event-exporter's (zerolog), herald's.
    klog = rb"[WEF]\d{4} "
    out = Counter(proc.stdout, stdout_pattern, save=klog if stdout_pattern else None)
    err = Counter(proc.stderr, stderr_pattern or b"\0never\0",
                  save=klog if stderr_pattern else rb'(?!.*"level":"(info|debug)")(?!.*metricsNamePrefix)')
    t0 = time.monotonic()
    last, last_t, cpu, hwm = 0, t0, 0.0, 0
    try:
        while True:
            time.sleep(0.05)
            assert proc.poll() is None, f"{cmd[0]} exited: {dict(err.notes)}"
            got = delivered(out, err)
            now = time.monotonic()
            cpu, hwm = cpu_seconds(proc.pid), mem_kib(proc.pid, "VmHWM")
            if got > last:
                last, last_t = got, now
            if got >= n or now - last_t > idle:
                break
    finally:
        proc.kill()
        proc.wait()
    notes = out.notes + err.notes
    return {"delivered": last, "cpu": cpu, "rss": hwm / 1024, "wall": last_t - t0,
            "notes": notes.most_common(6)}


def kubeconfig(path, url):
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: g\n"
        f"clusters: [{{name: g, cluster: {{server: '{url}'}}}}]\n"
        "users: [{name: u, user: {token: bench}}]\n"
        "contexts: [{name: g, context: {cluster: g, user: u}}]\n")
    return path


def herald_cmd(exe, kc, mode, es):
    if mode == "stdout":
        config = ROOT   # the repository's default config: the default rules, to stdout
    else:
        config = config_dir(f'sink "archive" {{ type = "elasticsearch", url = "{es}", replicas = 0, '
                            'batch = { wait = "200ms" } }\n', {"10.lua": 'route { to = "archive" }\n'})
    return [exe, "--config", str(config), "--listen", f"127.0.0.1:{free_port()}", "--log-level", "warn",
            "--cluster", f"c0={kc}"]


EXPORTER_STDOUT = """logLevel: warn
logFormat: json
maxEventAgeSeconds: 1000000000
omitLookup: true
route:
  routes:
    - match:
        - receiver: out
receivers:
  - name: out
"""


def exporter_cmd(exe, kc, mode, es):
    tmp = pathlib.Path(tempfile.mkdtemp())
    receiver = "    stdout: {}\n" if mode == "stdout" else \
        f"    elasticsearch:\n      hosts: [\"{es}\"]\n      index: kube-events\n"
    (tmp / "config.yaml").write_text(EXPORTER_STDOUT + receiver)
    return [exe, "-conf", str(tmp / "config.yaml"), "-kubeconfig", str(kc),
            "-metrics-address", f"127.0.0.1:{free_port()}"]


def eventer_cmd(exe, api, mode, es):
    """mode stdout-30s: its default --frequency (30 s) instead of 5 s."""
    sink = f"elasticsearch:{es}?sniff=false&ver=7" if mode == "es" else "log"
    return [exe, f"--source=kubernetes:{api}?inClusterConfig=false&useServiceAccount=false", f"--sink={sink}",
            "--frequency=" + ("30s" if mode == "stdout-30s" else "5s"), "--healthz-ip=127.0.0.1", f"--healthz-port={free_port()}"]


PROGRAMS = ("herald", "kube-eventer", "kubernetes-event-exporter")


def one_run(args, prog, mode, n, logdir, tag):
    api = Server(args.watchgen, lambda p: [str(p), str(n), str(FIXTURES)], logdir / f"{tag}-watchgen.log")
    es = Server(args.watchgen, lambda p: ["bulk", str(p)], logdir / f"{tag}-bulk.log", {"WATCHGEN_ALIAS": ALIAS}) \
        if mode == "es" else None
    try:
        kc = kubeconfig(pathlib.Path(tempfile.mkdtemp()) / "kc", api.url)
        es_url = es.url if es else None
        if mode == "es":
            delivered = lambda out, err: documents(es_url)
        else:
            delivered = lambda out, err: out.count + err.count
        if prog == "herald":
            return measure(herald_cmd(args.herald, kc, mode, es_url), n, delivered, args.idle)
        if prog == "kubernetes-event-exporter":
            return measure(exporter_cmd(args.exporter, kc, mode, es_url), n, delivered, args.idle)
        # kube-eventer's log sink: one line per event, "<event> <time> (cnt:N): <message>", via klog
        # At --frequency 30 s nothing is written for the first 30 s: wait longer.
        idle = args.idle + 30 if mode == "stdout-30s" else args.idle
        return measure(eventer_cmd(args.eventer, api.url, mode, es_url), n, delivered, idle,
                       stdout_pattern=b" (cnt:", stderr_pattern=b" (cnt:")
    finally:
        api.stop()
        if es:
            es.stop()


def requests_seen(logdir):
    """The distinct requests each program sent to the API stand-in."""
    seen = {}
    for prog in PROGRAMS:
        kinds = collections.Counter()
        for f in logdir.glob(f"{prog}-*-watchgen.log"):
            for line in f.read_text().splitlines():
                line = re.sub(r"resourceVersion=\d+", "resourceVersion=V", line)
                line = re.sub(r"timeoutSeconds=\d+", "timeoutSeconds=T", line)
                line = re.sub(r"timeout=[\dhms]+", "timeout=T", line)
                kinds[line.removeprefix("watchgen: ")] += 1
        seen[prog] = sorted(kinds)
    return seen


def main():
    p = argparse.ArgumentParser()
    for name in ("herald", "watchgen", "eventer", "exporter", "versions", "cmd"):
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--idle", type=float, default=30)
    p.add_argument("--only", help="one program (its name), for trying; PEERS.md untouched")
    p.add_argument("--out")
    args = p.parse_args()
    args.herald = str(pathlib.Path(args.herald).resolve())
    n = args.events
    logdir = pathlib.Path(tempfile.mkdtemp(prefix="herald-peers-"))
    started = time.monotonic()
    results = {}
    for mode in ("stdout", "es"):
        for prog in PROGRAMS:
            if args.only and prog != args.only:
                continue
            runs = []
            for i in range(args.runs):
                r = one_run(args, prog, mode, n, logdir, f"{prog}-{mode}-{i}")
                print(prog, mode, i, {k: v for k, v in r.items() if k != "notes"}, r["notes"][:3],
                      file=sys.stderr, flush=True)
                runs.append(r)
            results[(prog, mode)] = runs
    # kube-eventer as it comes, --frequency 30 s: what a default install drops
    if not args.only or args.only == "kube-eventer":
        results[("kube-eventer", "stdout-30s")] = runs = []
        for i in range(args.runs):
            runs.append(one_run(args, "kube-eventer", "stdout-30s", n, logdir, f"kube-eventer-stdout-30s-{i}"))
            print("kube-eventer stdout-30s", i, {k: v for k, v in runs[-1].items() if k != "notes"},
                  runs[-1]["notes"][:3], file=sys.stderr, flush=True)
    print("request logs:", logdir, file=sys.stderr)
    if args.only or not args.out:
        return
    text = report(args, results, requests_seen(logdir), time.monotonic() - started)
    pathlib.Path(args.out).write_text(text)
    print(text)


def summary(runs):
    med = lambda k: statistics.median(r[k] for r in runs)
    per_event = [r["cpu"] / r["delivered"] * 1e6 if r["delivered"] else float("inf") for r in runs]
    rate = [r["delivered"] / r["cpu"] if r["cpu"] else 0 for r in runs]
    return {"delivered": [r["delivered"] for r in runs], "cpu": med("cpu"), "us": statistics.median(per_event),
            "rate": statistics.median(rate), "rss": med("rss"), "wall": med("wall")}


def report(args, results, seen, took):
    n = args.events
    model = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read()).group(1)
    versions = dict(line.split(" ", 1) for line in args.versions.split(";") if line)
    lines = [
        "## Side by side: kube-eventer and kubernetes-event-exporter",
        "",
        f"Machine: {os.cpu_count()} cores, {model}, Linux {platform.release()}, shared with other work while "
        f"measured. Date: {datetime.date.today().isoformat()}. Generated by `{args.cmd}` in {took:.0f} s "
        f"(median of {args.runs} runs per row; every figure below comes from that command).",
        "",
        f"Programs: herald (this tree, release build); kube-eventer {versions.get('kube-eventer', '?')} and "
        f"kubernetes-event-exporter {versions.get('kubernetes-event-exporter', '?')}, built from their sources "
        f"by `bench/peers/build.sh` with {subprocess.run(['go', 'version'], capture_output=True, text=True).stdout.split()[2]}.",
        "",
        f"Stream: the same for all three. `bench/watchgen` serves a list and a watch of {n:,} core/v1 Events "
        "(the fixtures, ~1.1 KB each, each with a unique name, uid and resourceVersion) as fast as the "
        "reader takes them, in JSON, on 127.0.0.1. Delivered: events counted where they land (stdout or log "
        "lines; documents counted by the local Elasticsearch stand-in, `watchgen bulk`). CPU: the program's "
        "own utime + stime. A run ends when all are delivered, or after "
        f"{args.idle:.0f} s without progress ({args.idle + 30:.0f} s for kube-eventer at its 30 s frequency).",
        "",
        "| program | to | delivered (each run) | CPU s | CPU µs/event | events per CPU-second | peak RSS | wall s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    sums = {k: summary(v) for k, v in results.items()}
    for mode, label in (("stdout", "stdout / log"), ("es", "Elasticsearch")):
        for prog in PROGRAMS:
            s = sums[(prog, mode)]
            got = " / ".join(f"{d:,}" for d in s["delivered"])
            lines.append(f"| {prog} | {label} | {got} of {n:,} | {s['cpu']:.2f} | {s['us']:.2f} | "
                         f"{s['rate']:,.0f} | {s['rss']:.1f} MiB | {s['wall']:.1f} |")
            if (prog, mode) == ("kube-eventer", "stdout"):
                s = sums[(prog, "stdout-30s")]
                got = " / ".join(f"{d:,}" for d in s["delivered"])
                lines.append(f"| kube-eventer, its default `--frequency` (30 s) | {label} | {got} of {n:,} | "
                             f"{s['cpu']:.2f} | {s['us']:.2f} | {s['rate']:,.0f} | {s['rss']:.1f} MiB | {s['wall']:.1f} |")
    lines += ["", "Ratios (herald against each peer; above 1 means herald is better):", "",
              "| to | against | events per CPU-second | peak RSS (peer / herald) |", "|---|---|---|---|"]
    for mode, label in (("stdout", "stdout / log"), ("es", "Elasticsearch")):
        h = sums[("herald", mode)]
        for prog in PROGRAMS[1:]:
            s = sums[(prog, mode)]
            lines.append(f"| {label} | {prog} | {h['rate'] / s['rate']:.2f}x | {s['rss'] / h['rss']:.1f}x |"
                         if s["rate"] else f"| {label} | {prog} | (nothing delivered) | |")
    lines += ["", "### How each program was run", "",
              "- **herald**: `herald --config <repository root> --cluster c0=<kubeconfig>`, as bench/run.sh runs it: the "
              "default rules, every event to stdout as one JSON line; to Elasticsearch, one rule routing every "
              "event to the `elasticsearch` sink (`batch = { wait = \"200ms\" }`, bulk bodies).",
              "- **kube-eventer**: `--source=kubernetes:<url>?inClusterConfig=false&useServiceAccount=false "
              "--sink=log` (klog, one line per event, counted on stderr) or `--sink=elasticsearch:<url>?sniff=false&ver=7` "
              "(olivere/elastic v7 bulk processor), `--frequency=5s`: the shortest its flags allow; one row with its "
              "default, 30 s.",
              "- **kubernetes-event-exporter**: `-kubeconfig <kubeconfig>`, one route to one receiver: `stdout: {}` or "
              "`elasticsearch: {hosts: [<url>], index: kube-events}`; `maxEventAgeSeconds: 1000000000` (the fixtures' "
              "timestamps are days old; its default 5 s would drop them all) and `omitLookup: true` (no GET of each "
              "event's involved object, which the stand-in does not serve; herald does not look objects up either).",
              "", "What each program asked the API stand-in (every request is logged by `WATCHGEN_LOG=1`):", ""]
    for prog in PROGRAMS:
        lines.append(f"- {prog}: " + "; ".join(f"`{k}`" for k in seen[prog]))
    lines += ["", "What the peers logged: warnings and errors, and client-go's own klog lines (most frequent lines, each run's counts added):", ""]
    for prog in PROGRAMS[1:]:
        for mode in ("stdout", "stdout-30s", "es") if prog == "kube-eventer" else ("stdout", "es"):
            notes = collections.Counter()
            for r in results[(prog, mode)]:
                notes.update(dict(r["notes"]))
            said = "; ".join(f"`{k}` ({v:,})" for k, v in notes.most_common(4)) or "nothing above its log level"
            lines.append(f"- {prog}, {mode}: {said}")
    lines += ["", "### Notes", "",
              "- kube-eventer asks for protobuf (`Accept: application/vnd.kubernetes.protobuf, */*`) and is answered "
              "JSON, which that header allows; a real kube-apiserver would answer it in protobuf, cheaper to decode. "
              "herald and kubernetes-event-exporter ask for JSON, as they get from a real server.",
              "- Where kube-eventer delivers fewer than all: its watch puts each event in a channel of 100,000 "
              "(`LocalEventsBufferSize`) and drops it when the channel is full (`Event buffer full, dropping event`); "
              "the channel is emptied only once per `--frequency` (5 s here; 30 s, its default, in the row that says so). A stream faster than 100,000 events per "
              "frequency loses the rest. Its sink manager also gives each sink 20 s per batch and drops the batch "
              "for a sink still busy with the previous one (`Failed to events data to sink`; the batch dropped may be empty).",
              "- kube-eventer's Elasticsearch sink asks, for every event, whether the event's daily index exists "
              "(`HEAD /heapster-<date>`) and whether it has its alias (`GET /heapster-<date>/_alias`) before adding "
              "the event to its bulk processor: two requests per event besides the bulk bodies. The stand-in answers "
              "yes to both, as a server with the index set up would.",
              "- kube-eventer's log sink formats a whole batch (every event since the last `--frequency` tick) "
              "into one buffer and logs it with one klog call; with batches of up to 100,000 events that buffer is "
              "likely most of its peak RSS.",
              "- kubernetes-event-exporter's Elasticsearch receiver indexes one event per request "
              "(`POST /kube-events/_doc`), and hands each event to its receiver in a goroutine of its own, so "
              "events waiting for a slow receiver cost memory.",
              "- kube-eventer writes in batches, once per `--frequency`, so its wall time moves in steps of "
              "that. Wall times run from the program's start to the last delivery seen (polled every 50 ms).",
              ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
