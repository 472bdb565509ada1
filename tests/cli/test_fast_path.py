"""The fast path (json.decode_lazy, json.splice; the default) against the
full path (HERALD_FAST_PATH=0: json.decode, json.encode): on every fixture
and on a fuzzed corpus, `herald replay --json`, `herald replay` (what each
sink would get) and `herald run --from FILE` to stdout and to files give
the same routes, the same log lines, the same exit codes and the same
output, compared as parsed JSON (numbers as floats) line by line; every
line herald writes as JSON is one line of valid JSON."""
import json
import re

import pytest

from conftest import FIXTURES, SOURCE, herald
from fastpath_corpus import records

DESIGN = SOURCE / "tests" / "config" / "design-example"
INPUTS = sorted(FIXTURES.glob("*.json*"))

# A when function that reads the metadata members the fast path leaves
# undecoded, a drop that reads a label: their routes must not change.
LAZY_RULES = '''
drop  { when = function(ev) return type(ev.metadata) == "table" and type(ev.metadata.labels) == "table"
                                  and ev.metadata.labels.drop == "yes" end }
route { to = "archive" }
route { to = "oncall", when = function(ev)
  local n = 0
  if type(ev.metadata) == "table" then
    for _, v in pairs(ev.metadata) do n = n + 1 end
    local a = ev.metadata.annotations
    if type(a) == "table" then for _ in pairs(a) do n = n + 1 end end
    local mf = ev.metadata.managedFields
    if type(mf) == "table" and #mf > 0 then n = n + 100 end
  end
  return ev.type == "Warning" or n >= 106
end }
'''

# A sink type without encode: the default encoding, which the fast path splices.
PLAIN_TYPE = '''return {
  output = "file",
  options = { path = { kind = "string", required = true },
              max_bytes = { kind = "size", default = "100MiB" }, keep = { kind = "number", default = 5 } },
}
'''


def mixed_config(root):
    """A file sink, Elasticsearch in both shapes and a sink type without
    encode: replay shows what each would get."""
    (root / "rules").mkdir(parents=True)
    (root / "sinks").mkdir()
    (root / "sinks" / "plain.lua").write_text(PLAIN_TYPE)
    (root / "sinks.lua").write_text(f'''
sink "archive" {{ type = "file", path = "{root}/archive.jsonl" }}
sink "es" {{ type = "elasticsearch", url = "http://127.0.0.1:9", index = "k8s-{{cluster}}-%Y.%m.%d" }}
sink "es_ke" {{ type = "elasticsearch", url = "http://127.0.0.1:9", index = "ke", shape = "kube-eventer" }}
sink "oncall" {{ type = "plain", path = "{root}/plain.jsonl" }}
''')
    (root / "rules" / "10.lua").write_text(LAZY_RULES + 'route { to = "es" }\nroute { to = "es_ke" }\n')
    return root


def run_config(root, kind):
    """Two sinks of one output kind for `herald run`: stdout, or a file
    sink and a sink type without encode writing files."""
    (root / "rules").mkdir(parents=True)
    if kind == "stdout":
        sinks = 'sink "archive" { type = "stdout" }\nsink "oncall" { type = "stdout" }\n'
    else:
        (root / "sinks").mkdir()
        (root / "sinks" / "plain.lua").write_text(PLAIN_TYPE)
        sinks = (f'sink "archive" {{ type = "file", path = "{root}/archive.jsonl" }}\n'
                 f'sink "oncall" {{ type = "plain", path = "{root}/oncall.jsonl" }}\n')
    (root / "sinks.lua").write_text(sinks)
    (root / "rules" / "10.lua").write_text(LAZY_RULES)
    return root


def both(*args, tmp_path=None, make=None):
    """Runs herald on each path; make(dir) builds a config in dir first
    (each path its own, so files never mix). -> {fast, full}: (result, dir)"""
    out = {}
    for name, env in (("fast", {"HERALD_FAST_PATH": "1"}), ("full", {"HERALD_FAST_PATH": "0"})):
        cfg = make(tmp_path / name) if make else None
        full_args = [a if a != "CONFIG" else cfg for a in args]
        out[name] = (herald(*full_args, env=env, timeout=300), cfg)
    return out


def rounded(text):
    """A number as herald's encoder writes it (14 significant digits, as
    lua-cjson did): the full path rounds numbers, the fast path copies
    those it does not change as they came. test_long_numbers_* below holds
    that difference; everywhere else it is left out."""
    return float("%.14g" % float(text))


def parse(line, where):
    """One line of JSON, numbers as floats; fails the test when it is not."""
    assert "\n" not in line
    try:
        return json.loads(line, parse_int=rounded, parse_float=rounded)
    except ValueError as e:
        pytest.fail(f"{where}: not valid JSON ({e}): {line[:2000]!r}")


def lines(text):
    """Lines split at newlines only (str.splitlines would cut at U+2028)."""
    return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n") if text else []


def unaddressed(line):
    """replay prints a table where it expects a string as tostring does
    (table: 0x55...): the address differs from run to run on either path."""
    return re.sub(r"\b(table|array|herald\.\w+): 0x[0-9a-f]+", r"\1: ADDR", line)


def log_lines(err, cfg):
    """stderr without the timestamps and the config's own directory."""
    got = [unaddressed(re.sub(r"^\d{4}-\d\d-\d\dT[\d:.]+Z ", "", line)) for line in lines(err)]
    return [line.replace(str(cfg), "CONFIG") for line in got] if cfg else got


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i, x, y
    return min(len(a), len(b)), a[len(b):len(b) + 1], b[len(a):len(a) + 1]


def same(fast, full, what):
    if fast != full:
        i, x, y = first_difference(fast, full)
        pytest.fail(f"{what} differ at line {i + 1} ({len(fast)} vs {len(full)} lines)\n"
                    f"fast: {str(x)[:3000]}\nfull: {str(y)[:3000]}")


def compare_common(r, what):
    fast, full = r["fast"][0], r["full"][0]
    assert fast.code == full.code, f"{what}: exit codes\nfast {fast!r}\nfull {full!r}"
    same(log_lines(fast.err, r["fast"][1]), log_lines(full.err, r["full"][1]), f"{what}: log lines")


def compare_replay_json(r, what):
    compare_common(r, what)
    same([parse(unaddressed(line), what) for line in lines(r["fast"][0].out)],
         [parse(unaddressed(line), what) for line in lines(r["full"][0].out)], f"{what}: replay --json")


def text_lines(out, what):
    """replay's text: each event's line as it is, each item a sink would
    get as its lines (an Elasticsearch item: index, id, document), those
    that are JSON parsed."""
    got = []
    for line in lines(out):
        line = unaddressed(line)
        if line.startswith("  ") and " would get: " in line:
            sink, item = line.split(" would get: ", 1)
            got.append(sink)
            line = item
        elif line.startswith("line ") or line.startswith("replay: ") or not got:
            got.append(line)
            continue
        got.append(parse(line, f"{what}: {got[-1]}") if line.startswith(("{", "[")) else line)
    return got


def compare_replay_text(r, what):
    compare_common(r, what)
    same(text_lines(r["fast"][0].out, what), text_lines(r["full"][0].out, what), f"{what}: replay text")


def compare_run(r, what, files=()):
    compare_common(r, what)
    same([parse(line, f"{what} stdout") for line in lines(r["fast"][0].out)],
         [parse(line, f"{what} stdout") for line in lines(r["full"][0].out)], f"{what}: stdout")
    for name in files:
        docs = {}
        for path in ("fast", "full"):
            f = r[path][1] / name
            docs[path] = [parse(line, f"{what} {name}") for line in lines(f.read_text())] \
                if f.exists() else []
        same(docs["fast"], docs["full"], f"{what}: {name}")


def replay_configs(tmp_path):
    return [("default", lambda d: SOURCE), ("design-example", lambda d: DESIGN),
            ("mixed", mixed_config)]


def check_all(path, tmp_path, cluster=()):
    """Every comparison for one input file."""
    for name, make in replay_configs(tmp_path):
        what = f"{path.name} with {name}"
        compare_replay_json(both("replay", "--config", "CONFIG", *cluster, "--json", path,
                                 tmp_path=tmp_path / f"rj-{name}", make=make), what + " (replay --json)")
        compare_replay_text(both("replay", "--config", "CONFIG", *cluster, path,
                                 tmp_path=tmp_path / f"rt-{name}", make=make), what + " (replay)")
    compare_run(both("--config", "CONFIG", *cluster, "--from", path, tmp_path=tmp_path / "run-default",
                     make=lambda d: SOURCE), f"{path.name} run, default config")
    compare_run(both("--config", "CONFIG", *cluster, "--from", path, tmp_path=tmp_path / "run-stdout",
                     make=lambda d: run_config(d, "stdout")), f"{path.name} run, stdout sinks")
    compare_run(both("--config", "CONFIG", *cluster, "--from", path, tmp_path=tmp_path / "run-file",
                     make=lambda d: run_config(d, "file")), f"{path.name} run, file sinks",
                files=("archive.jsonl", "oncall.jsonl"))


@pytest.mark.parametrize("path", INPUTS, ids=[p.name for p in INPUTS])
def test_every_fixture_gives_the_same_on_both_paths(path, tmp_path):
    check_all(path, tmp_path)


@pytest.mark.parametrize("path", INPUTS[:2], ids=[p.name for p in INPUTS[:2]])
def test_same_with_a_cluster_name(path, tmp_path):
    check_all(path, tmp_path, cluster=("--cluster-name", "ack-prod"))


def test_the_fast_path_is_on_by_default_and_off_with_zero(tmp_path):
    """The two paths write different bytes (the fast path keeps the
    input's member order and spacing) of the same meaning, so the
    comparisons here compare two different paths."""
    ev = FIXTURES / "series-event.json"
    fast = herald("replay", "--config", DESIGN, ev, env={"HERALD_FAST_PATH": ""})
    full = herald("replay", "--config", DESIGN, ev, env={"HERALD_FAST_PATH": "0"})
    assert fast.code == 0 and full.code == 0, (fast, full)
    assert fast.out != full.out
    assert text_lines(fast.out, "fast") == text_lines(full.out, "full")


CORPUS = records()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "fuzzed.jsonl"
    path.write_bytes(("\n".join(CORPUS) + "\n").encode("utf-8", "surrogatepass"))
    return path


def test_corpus_is_deterministic_and_varied():
    assert records() == CORPUS
    assert len(CORPUS) >= 3000
    text = "\n".join(CORPUS)
    for needle in ("\\u", "1e999", '"items"', '"BOOKMARK"', "events.k8s.io/v1", "\n  ", ",}"):
        assert needle in text, needle


def culprits(recs, check, tmp_path, limit=3):
    """The records (up to limit) that fail check alone, for the report."""
    found = []
    for i in range(0, len(recs), 200):
        chunk = recs[i:i + 200]
        p = tmp_path / f"chunk{i}.jsonl"
        p.write_bytes(("\n".join(chunk) + "\n").encode("utf-8", "surrogatepass"))
        try:
            check(p, tmp_path / f"c{i}")
            continue
        except BaseException:
            pass
        for j, rec in enumerate(chunk):
            q = tmp_path / f"rec{i + j}.jsonl"
            q.write_bytes((rec + "\n").encode("utf-8", "surrogatepass"))
            try:
                check(q, tmp_path / f"r{i + j}")
            except BaseException as e:
                found.append(f"record {i + j}: {rec[:1500]!r}\n  -> {str(e)[:1500]}")
                if len(found) >= limit:
                    return found
    return found


def corpus_check(kind):
    def check(path, tmp):
        if kind == "replay-json":
            for name, make in replay_configs(tmp):
                compare_replay_json(both("replay", "--config", "CONFIG", "--json", path, tmp_path=tmp / name,
                                         make=make), f"corpus replay --json with {name}")
        elif kind == "replay-text":
            for name, make in replay_configs(tmp):
                compare_replay_text(both("replay", "--config", "CONFIG", path, tmp_path=tmp / name, make=make),
                                    f"corpus replay with {name}")
        elif kind == "run-stdout":
            compare_run(both("--config", "CONFIG", "--from", path, tmp_path=tmp,
                             make=lambda d: run_config(d, "stdout")), "corpus run, stdout sinks")
        else:
            compare_run(both("--config", "CONFIG", "--cluster-name", "c1", "--from", path, tmp_path=tmp,
                             make=lambda d: run_config(d, "file")), "corpus run, file sinks",
                        files=("archive.jsonl", "oncall.jsonl"))
    return check


@pytest.mark.parametrize("kind", ["replay-json", "replay-text", "run-stdout", "run-file"])
def test_fuzzed_corpus_gives_the_same_on_both_paths(kind, corpus, tmp_path):
    check = corpus_check(kind)
    try:
        check(corpus, tmp_path / "all")
    except BaseException as e:
        found = culprits(CORPUS, check, tmp_path)
        pytest.fail(f"{str(e)[:3000]}\n\nrecords that fail alone:\n" + "\n".join(found))


# Differences the corpus above leaves out so that it can find others;
# each failed on the first fast path (88c10fc) and was fixed.

def one_event(**extra):
    ev = json.loads(lines((FIXTURES / "events.jsonl").read_text())[4])
    ev.update(extra)
    return ev


def run_both(text, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(text.encode())
    return both("--config", "CONFIG", "--from", src, tmp_path=tmp_path,
                make=lambda d: run_config(d, "stdout"))


@pytest.mark.parametrize("raw", ["tab\there", "ctl\x01", "nl\x1f"], ids=["tab", "soh", "us"])
@pytest.mark.parametrize("where", ["message", "annotations"])
def test_raw_control_characters_come_out_escaped_on_both_paths(raw, where, tmp_path):
    """herald's decoder takes a raw control character inside a string (JSON
    forbids it); the full path writes it escaped (\\t, \\u0001), the fast
    path copied the bytes it did not decode as they came (a line of
    invalid JSON); it escapes them now."""
    ev = one_event()
    if where == "message":
        ev["message"] = "@@RAW@@"
    else:
        ev["metadata"]["annotations"] = {"note": "@@RAW@@"}
    text = json.dumps(ev).replace('"@@RAW@@"', '"' + raw + '"') + "\n"
    r = run_both(text, tmp_path)
    compare_run(r, f"raw {raw!r} in {where}")
    assert len(lines(r["fast"][0].out)) == 2   # archive and oncall (a Warning)


@pytest.mark.parametrize("number", ["12345678901234567890", "9007199254740993", "0.1234567890123456"])
def test_long_numbers_are_the_same_number_on_both_paths(number, tmp_path):
    """The full path writes every number with 14 significant digits (as
    lua-cjson did), so 9007199254740993 became 9007199254741000, while the fast
    path copies members it did not change as they came. The encoder now
    writes the shortest text that reads back as the same double: compared
    as floats (not rounded, unlike the tests above) they are the same."""
    text = json.dumps(one_event(extra="@@N@@")).replace('"@@N@@"', number) + "\n"
    r = run_both(text, tmp_path)
    compare_common(r, number)
    got = {p: [json.loads(line, parse_int=float) for line in lines(r[p][0].out)] for p in ("fast", "full")}
    assert [d["extra"] for d in got["fast"]] == [d["extra"] for d in got["full"]], got


def test_a_field_over_the_limit_gives_the_same_on_both_paths(tmp_path):
    """A string over 1 MiB (the framer's field limit) is cut before the
    decoder sees the record: in the message, in an annotation the fast path
    would leave undecoded, in a List item and in a key."""
    big = "x" * ((1 << 20) + 10)
    ev = one_event()
    recs = [dict(ev, message=big),
            dict(ev, metadata=dict(ev["metadata"], annotations={"big": big, "small": "s"})),
            {"kind": "EventList", "items": [ev, dict(ev, message=big), ev]},
            dict(ev, metadata=dict(ev["metadata"], labels={big: "v"})),
            ev]
    src = tmp_path / "big.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in recs))
    for name, make in replay_configs(tmp_path):
        compare_replay_json(both("replay", "--config", "CONFIG", "--json", src, tmp_path=tmp_path / f"rj-{name}",
                                 make=make), f"big with {name}")
    r = both("--config", "CONFIG", "--from", src, tmp_path=tmp_path / "run",
             make=lambda d: run_config(d, "file"))
    compare_run(r, "big, file sinks", files=("archive.jsonl", "oncall.jsonl"))
    assert len(lines((r["fast"][1] / "archive.jsonl").read_text())) >= 2


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), f"duplicate keys {sorted(k for k in set(keys) if keys.count(k) > 1)}"
    return dict(pairs)


@pytest.mark.parametrize("record", [
    '{"reason":"A","kind":"Event","metadata":{"name":"x","uid":"u"},"involvedObject":{"kind":"Pod"},"reason":"B"}',
    '{"kind":"Event","metadata":{"name":"x","annotations":{"a":"1"},"annotations":{"b":"2"}},"involvedObject":{}}',
    '{"kind":"Event","metadata":{"name":"x","labels":{"k":"1","k":"2"}},"involvedObject":{"kind":"Pod"}}',
], ids=["top-level", "metadata member", "inside a label map"])
def test_output_has_each_key_once_on_both_paths(record, tmp_path):
    """A record with a key twice: the full path writes the key once (the
    last value, as a table keeps it); the fast path copies both members as
    they came. Same meaning to a parser that keeps the last (Python, Go,
    jq), but Elasticsearch refuses a document with a duplicate field, and
    the file sink feeds log shippers. A record with a key twice (or an
    escaped key) anywhere herald would copy as text is now decoded plainly."""
    r = run_both(record + "\n", tmp_path)
    compare_run(r, "duplicate keys")
    for path in ("full", "fast"):
        out = lines(r[path][0].out)
        assert out, r[path][0]
        for line in out:
            json.loads(line, object_pairs_hook=no_duplicates)


def test_metadata_null_and_fields_that_are_not_text(tmp_path):
    """"metadata": null is an Event without metadata (it stopped the runtime
    with a Lua error before); a field that is an object shows as nothing in
    replay's line, not as a table address."""
    ev = one_event()
    ev["metadata"] = None
    ev["involvedObject"]["namespace"] = {"x": 1}
    r = run_both(json.dumps(ev) + "\n", tmp_path)
    compare_run(r, "metadata null")
    assert r["fast"][0].code == 0 and len(lines(r["fast"][0].out)) == 2, r["fast"][0]
    rep = herald("replay", "--config", SOURCE, tmp_path / "in.jsonl")
    assert rep.code == 0 and "table: 0x" not in rep.out, rep
