"""Issue 18's figures before and after, from the runs bench.py makes, and
the other helpers' sections (bench/PEERS.md, bench/PROTOBUF.md) as they
go into RESULTS.md. Only arithmetic and text here: bench.py runs herald.

A run is (events/s, CPU us/event, peak RSS MiB, seconds, metrics), as
bench.run_herald returns it. Each scenario ran REPS times on each build,
the builds taking turns; the table shows medians. Every target is
computed from those medians, never typed."""
import datetime
import pathlib
import re
import statistics

# "No slower than before" and "RSS unchanged or lower": the after build may
# be this much above the before build (the same run, the same machine)
# before the target counts as not met. Alternating runs share the noise of
# a busy machine, but not all of it.
MARGIN = 0.05
# The same for instructions under callgrind: runs of one binary differed by
# up to 0.6 %, two builds of the same code by up to 1 % (the Elasticsearch
# sink's batches follow the clock, which valgrind slows).
IR_MARGIN = 0.02

SCENARIOS = [
    ("a", "(a) no rules, a null sink"),
    ("file", "(a) ... a file sink (`type = \"file\"`, a temporary path, rotated at 64 MiB)"),
    ("b", "(b) the default rules, stdout (to /dev/null)"),
    ("e", "(e) a `when` function that reads `metadata.annotations[\"x\"]` and `metadata.managedFields[1].manager` "
          "of every event, to stdout"),
    ("c_es", "(c-es) the realistic rule set, the archive an Elasticsearch sink (bulk to a local server that discards)"),
    ("e_es", "(e-es) ... with `document = function(ev) ... end` copying the annotations and managedFields[1].manager"),
]


def median(runs):
    """(events/s, CPU us/event, peak RSS MiB), each the median over runs."""
    return tuple(statistics.median(r[i] for r in runs) for i in range(3))


def check(text, measured, met):
    return {"text": text, "measured": measured, "met": met}


def no_worse(after, before, unit, fmt, margin=MARGIN):
    """after <= before within margin; None (no baseline) without before."""
    if before is None:
        return f"{fmt(after)} {unit} (no baseline)", None
    return (f"{fmt(before)} -> {fmt(after)} {unit} ({after / before:.3f}x)",
            after <= before * (1 + margin))


def targets(med, limit, instr=None):
    """{scenario: [check]} for issue 18's targets. instr: {"e"|"e_es":
    {build: instructions per event under callgrind}}, or None."""
    before = lambda k, i: med[k]["before"][i] if med[k].get("before") else None
    after = lambda k, i: med[k]["after"][i]
    us = lambda v: f"{v:.2f}"
    mib = lambda v: f"{v:.1f}"
    curl = limit["read_cpu_us"]
    out = {k: [] for k, _ in SCENARIOS}
    b_cpu, b_rate = after("b", 1), after("b", 0)
    out["b"] += [
        check("<= 5 µs CPU an event", f"{b_cpu:.2f} µs", b_cpu <= 5.0),
        check(">= 200,000 events/s (herald on one core)", f"{b_rate:,.0f}/s", b_rate >= 200_000),
        check(f"within 8x of reading the bytes alone (curl: {curl:.2f} µs CPU an event)",
              f"{b_cpu / curl:.1f}x" if curl else "curl's CPU not measurable", b_cpu <= 8 * curl),
    ]
    c_cpu = after("c_es", 1)
    out["c_es"].append(check("<= 10 µs CPU an event", f"{c_cpu:.2f} µs", c_cpu <= 10.0))
    for k in ("e", "e_es"):
        text, met = no_worse(after(k, 1), before(k, 1), "µs", us)
        out[k].append(check("no slower than before (CPU an event)", text, met))
        if instr and k in instr:
            ir = instr[k]
            text, met = no_worse(ir["after"], ir.get("before"), "instructions", lambda v: f"{v:,.0f}",
                                 IR_MARGIN)
            out[k].append(check("no more instructions an event than before (callgrind)", text, met))
    for k, was in (("b", "16.7"), ("c_es", "43")):
        text, met = no_worse(after(k, 2), before(k, 2), "MiB", mib)
        out[k].append(check(f"peak RSS unchanged or lower (the issue: {was} MiB)", text, met))
    return out


def verdict(checks):
    if not checks:
        return "no target"
    failed = [c["text"].split(" (")[0] for c in checks if c["met"] is False]
    if failed:
        return "not met: " + "; ".join(failed)
    if any(c["met"] is None for c in checks):
        return "no baseline"
    return "met"


def lines(med, limit, n, reps, base_rev, instr=None, instr_events=0):
    """The "Before and after (one run)" section."""
    tg = targets(med, limit, instr)
    has_base = all(med[k].get("before") for k, _ in SCENARIOS)
    out = [
        "## Before and after (one run)",
        "",
    ]
    if has_base:
        out.append(f"Before: herald built from `{base_rev}` (main before issue 18's fast path; `BENCH_BASE`). "
                   "After: the working tree. Both are release builds reading the same stream, "
                   f"{n:,} events a run; each scenario ran {reps} times on each build, the two builds "
                   "taking turns, and the table gives the medians. Ratios are after/before: below 1 is "
                   "cheaper or smaller, above 1 faster for events/s.")
    else:
        out.append(f"No baseline in this run (`BENCH_BASE=none`): the working tree alone, {n:,} events a run, "
                   f"median of {reps}.")
    out += [
        "",
        "| scenario | CPU µs/event before | after | after/before | events/s before | after | after/before "
        "| peak RSS before | after | after/before | issue 18's target |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for k, label in SCENARIOS:
        a = med[k]["after"]
        b = med[k].get("before")
        cell = lambda i, fmt: (fmt(b[i]) if b else "", fmt(a[i]), f"{a[i] / b[i]:.2f}" if b else "")
        cpu = cell(1, lambda v: f"{v:.2f}")
        rate = cell(0, lambda v: f"{v:,.0f}")
        rss = cell(2, lambda v: f"{v:.1f} MiB")
        out.append(f"| {label} | {' | '.join(cpu)} | {' | '.join(rate)} | {' | '.join(rss)} | {verdict(tg[k])} |")
    out += [
        "",
        "| target (issue 18) | scenario | measured | met |",
        "|---|---|---|---|",
    ]
    names = dict(SCENARIOS)
    for k, _ in SCENARIOS:
        for c in tg[k]:
            met = "no baseline" if c["met"] is None else ("met" if c["met"] else "**not met**")
            out.append(f"| {c['text']} | {names[k].split(' ', 1)[0]} | {c['measured']} | {met} |")
    out += [
        "",
        f"\"No slower\" and \"unchanged or lower\" allow the after build {MARGIN:.0%} over the before build of "
        "the same run (noise); the absolute targets allow nothing. CPU is herald's own (user + system), in the steady state: "
        "time and CPU count from the first look at herald's metrics that finds a tenth of the events routed, "
        "to the last event written or sent, so starting and loading the rules are left out. events/s is wall "
        "clock over the same span, with the generator on the other core.",
        "",
    ]
    if instr:
        out[-1:-1] = ["", f"For (e) and (e-es), whose target is a comparison, the instructions herald runs for "
                      f"{instr_events:,} events under callgrind (all of them, starting included: "
                      "`valgrind --tool=callgrind HERALD --config DIR --from EVENTS`) are a second measure, one "
                      f"that a busy machine does not disturb; they may be {IR_MARGIN:.0%} over before."]
    return out


def embedded(path, started, what, how, hint=""):
    """A markdown file another script (`how`) writes, as a section of
    RESULTS.md: its headings moved to this file's levels, with its date.
    `started`: this run's start (epoch seconds), to say whether this run
    wrote it."""
    p = pathlib.Path(path)
    if not p.exists():
        return [f"## {what}", "", f"Not in this run: `bench/{p.name}` does not exist; {how} writes it{hint}.", ""]
    text = p.read_text().strip("\n").splitlines()
    fenced, heading = False, []
    for l in text:   # a "#" inside a ``` block is not a heading
        fenced ^= l.startswith("```")
        heading.append(not fenced and re.match(r"#+ ", l) is not None)
    top = min((len(l) - len(l.lstrip("#")) for l, h in zip(text, heading) if h), default=2)
    shift = max(0, 2 - top)
    text = [("#" * shift + l) if h else l for l, h in zip(text, heading)]
    if not text or not text[0].startswith("## "):
        text = [f"## {what}", ""] + text
    mtime = p.stat().st_mtime
    when = datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    note = (f"_From `bench/{p.name}`, written by {how} during this run ({when})._" if mtime >= started
            else f"_From `bench/{p.name}`, written by {how} on {when}, not during this run._")
    return [text[0], "", note] + text[1:] + [""]


def gaps(med, limit, instr=None):
    """The "Gaps, explained" item for issue 18's targets."""
    tg = targets(med, limit, instr)
    unmet = [f"{name.split(' ', 1)[0]} {c['text']} ({c['measured']})"
             for k, name in SCENARIOS for c in tg[k] if c["met"] is False]
    if not unmet and any(c["met"] is None for k in tg for c in tg[k]):
        return ("- **Issue 18's targets**: none of the absolute ones missed; the comparisons with before need "
                "a baseline (`BENCH_BASE`), which this run did not have.")
    if not unmet:
        return "- **Issue 18's targets**: none missed in this run (see before and after)."
    return ("- **Issue 18's targets not met in this run**: " + "; ".join(unmet)
            + ". 'Per event' below shows where the instructions go.")
