"""Where herald's instructions go per event, computed from a callgrind
profile (see bench.py's "Per event" section).

herald --from a file of 20,000 watch events runs under
`valgrind --tool=callgrind`; this module reads the profile's call graph
(every call edge carries the inclusive cost of the calls it stands for) and
splits the instructions of the event path, framer_feed and everything it
calls, into the parts below. A part's cost is the inclusive cost of the
calls into its functions from functions outside it, so a function that
calls another of the same part (l_encode -> json_encode, dec_value ->
dec_value'2) is not counted twice. Names are herald's own functions; a
release build keeps them (only static functions may be inlined away).
If herald's code renames them, change PARTS: a part whose functions are
not in the profile is shown as such, never as 0 %. List entry points
only: a helper that a part's entry point reaches through another function
(json_append_string, under encode_value) would be counted twice."""
import re
import subprocess

EVENT_PATH = "framer_feed"
# The framer's record callback (core/ingest.c): the event path minus the
# calls into it is the framing pass itself.
RECORD_CALLBACK = re.compile(r"^on_record$")
PARTS = [
    ("JSON decode into Lua tables (core/json.c: json.decode, json.decode_lazy, lazy members read)",
     re.compile(r"^(json_decode|l_decode|l_decode_lazy|json_l_decode_lazy)$")),
    ("JSON encode and splice (core/json_encode.c, core/json_lazy.c, core.emit_splice)",
     re.compile(r"^(json_encode|l_encode|json_l_encode)$|splice")),
]


def base_name(fn):
    """dec_value'2 (callgrind's name for a recursion level) -> dec_value."""
    return fn.split("'", 1)[0]


def parse(path):
    """{(caller, callee): inclusive cost} over all call edges, and the
    program's total, from a callgrind out file (first event: Ir)."""
    names, edges, total = {}, {}, 0
    fn = cfn = None
    pending = False
    ref = re.compile(r"^\((\d+)\)(?: (.*))?$")

    def name_of(value):
        m = ref.match(value)
        if not m:
            return value
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names[m.group(1)]

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("fn="):
                fn = name_of(line[3:])
            elif line.startswith("cfn="):
                cfn = name_of(line[4:])
            elif line.startswith("calls="):
                pending = True
            elif line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split(":", 1)[1].split()[0]))
            elif pending and line and (line[0].isdigit() or line[0] in "+-*"):
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 else 0
                edges[(fn, cfn)] = edges.get((fn, cfn), 0) + cost
                pending = False
    return edges, total


def into(edges, matches):
    """Inclusive cost of the calls into functions that `matches` (a name
    predicate) from functions that do not."""
    return sum(c for (caller, callee), c in edges.items()
               if matches(base_name(callee)) and not matches(base_name(caller or "")))


def shares(path, events):
    """The parts of the event path: [(part, Ir per event or None if its
    functions are not in the profile)], and Ir per event on the event path
    and in all."""
    edges, total = parse(path)
    seen = {base_name(f) for pair in edges for f in pair if f}
    path_ir = into(edges, lambda f: f == EVENT_PATH)
    out = []
    if any(RECORD_CALLBACK.search(f) for f in seen):
        out.append(("framing: the one pass over the bytes (core/framer.c)",
                    path_ir - into(edges, lambda f: bool(RECORD_CALLBACK.search(f)))))
    else:
        out.append(("framing: the one pass over the bytes (core/framer.c)", None))
    for label, rx in PARTS:
        present = any(rx.search(f) for f in seen)
        out.append((label, into(edges, lambda f, rx=rx: bool(rx.search(f))) if present else None))
    rest = path_ir - sum(c for _, c in out if c is not None)
    out.append(("the rest: the Lua VM (normalising, the rules, the sinks' Lua), queueing, writing", rest))
    return [(label, None if c is None else c / events) for label, c in out], path_ir / events, total / events


def profile(herald, config, events_file, events, out_file):
    """herald --from events_file under callgrind; the shares (above)."""
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}",
                    herald, "--config", str(config), "--from", str(events_file), "--log-level", "warn"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return shares(out_file, events)


def lines(prof, base_rev, events):
    """The "Per event" section's table: prof is {build: shares(...)} or
    None (no valgrind)."""
    cmd = ("`valgrind --tool=callgrind HERALD --config . --from EVENTS` (HERALD each build, EVENTS "
           f"{events:,} watch events of the same stream; the default rules, stdout to /dev/null)")
    if prof is None:
        return ["Skipped in this run: valgrind is not installed (`deploy/install-deps.sh --test` installs it). "
                f"With it, this section splits each build's instructions per event, from {cmd}.", ""]
    builds = [b for b in ("before", "after") if b in prof]
    both = len(builds) == 2
    out = [f"Instructions per event, from {cmd}" + (f"; before is `{base_rev}`" if both else "") + ". "
           "Instruction counts do not depend on the machine's load"
           + (", so this comparison holds where the timings above are noisy (two runs of one binary "
              "differ by about 0.5 %)" if both else "") + ". "
           "Each part is the inclusive cost of the calls into its functions (bench/callgrind.py names them).", "",
           "| part | " + " | ".join(f"{b}: instructions/event | share" for b in builds)
           + (" | after/before |" if both else " |"),
           "|---|" + "---|---|" * len(builds) + ("---|" if both else "")]

    def row(label, vals, path):
        cells = []
        for v, p in zip(vals, path):
            cells += ["not in the profile", ""] if v is None else [f"{v:,.0f}", f"{v / p:.0%}" if p else ""]
        if both:
            cells.append(f"{vals[1] / vals[0]:.2f}" if None not in vals and vals[0] else "")
        return f"| {label} | " + " | ".join(cells) + " |"

    path = [prof[b][1] for b in builds]
    for i, (label, _) in enumerate(prof[builds[0]][0]):
        out.append(row(label, [prof[b][0][i][1] for b in builds], path))
    out.append(row("**the event path** (framer_feed and all it calls)", path, [None] * len(builds)))
    out.append(row("outside it, per event (startup, loading the config, the loop)",
                   [prof[b][2] - prof[b][1] for b in builds], [None] * len(builds)))
    out.append("")
    return out
