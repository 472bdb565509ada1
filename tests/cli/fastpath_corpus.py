"""A deterministic fuzzed corpus of Kubernetes Event records for
test_fast_path.py: mutations of the fixtures aimed at what the fast path
(json.decode_lazy, json.splice) treats differently from a full decode:
metadata members of every type, escaped keys, duplicate keys, odd numbers,
strings with escapes and surrogates, Lists, watch wrappers, pretty-printed
records, and JSON broken inside managedFields."""
import copy
import json
import random

from conftest import FIXTURES

STRINGS = [
    "", "plain", "caf\u00e9", "\u65e5\u672c\u8a9e", "\U0001F600 emoji", "quote \" and back\\slash",
    "new\nline", "tab\there", "\u0000nul", "\u007fdel", "\u2028sep\u2029", "slash/", "x" * 300,
]
# Written into the text as they are (json.dumps cannot write them).
RAW_STRINGS = [
    r'"\ud83d\ude00 pair"', r'"\ud800 lone high"', r'"\udc00 lone low"', r'"\ud83d"', r'"\u00e9\u0041"',
    r'"\/\b\f\n\r\t"', r'"\x"', r'"\u12"', r'"\uZZZZ"', '"del\x7f"',
]
# Raw control characters in a string, which herald's decoder accepts (JSON
# does not): left out of the corpus, test_fast_path.py has its own test.
RAW_CONTROL = ['"raw\ttab"', '"raw\x01ctl"']
NUMBERS = ["1e999", "-0", "1.5e3", "12345678901234567890", "0", "-1", "1E2", "0.000001", "3.0", "-1e-999",
           "1e308", "01", "1.", ".5", "+1", "-", "2e", "1e+2", "9007199254740993"]
KEYS = ["count", "metadata", "managedFields", "annotations", "labels", "reason", "type", "involvedObject",
        "lastTimestamp", "firstTimestamp", "uid", "resourceVersion", "cluster", "series", "note", "regarding"]
META_MEMBERS = ["annotations", "labels", "managedFields", "ownerReferences", "finalizers", "metadata", "extra"]


class Raw:
    """A value written into the text as it is."""
    n = 0

    def __init__(self, text):
        Raw.n += 1
        self.text, self.mark = text, f"@@raw{Raw.n}@@"


def dumps(value, rng, indent=None):
    raws = []

    def walk(v):
        if isinstance(v, Raw):
            raws.append(v)
            return v.mark
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    text = json.dumps(walk(value), ensure_ascii=rng.random() < 0.5, indent=indent,
                      separators=None if indent else rng.choice([(",", ":"), (", ", ": ")]))
    for r in raws:
        text = text.replace(json.dumps(r.mark), r.text, 1)
    return text


def fixture_events():
    evs = list(json.loads((FIXTURES / "events-list.json").read_text())["items"])
    evs += [json.loads(line) for line in (FIXTURES / "events.jsonl").read_text().splitlines() if line.strip()]
    evs.append(json.loads((FIXTURES / "series-event.json").read_text()))
    for line in (FIXTURES / "watch.jsonl").read_text().splitlines():
        w = json.loads(line)
        if isinstance(w.get("object"), dict) and "involvedObject" in w["object"]:
            evs.append(w["object"])
    return evs


def paths(v, prefix=()):
    """Every (path) to a member or element of v."""
    out = []
    if isinstance(v, dict):
        for k, x in v.items():
            out.append(prefix + (k,))
            out += paths(x, prefix + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            out.append(prefix + (i,))
            out += paths(x, prefix + (i,))
    return out


def parent(v, path):
    for p in path[:-1]:
        v = v[p]
    return v


def nested(depth, leaf):
    v = leaf
    for i in range(depth):
        v = {"a": v} if i % 2 else [v]
    return v


def odd_value(rng, depth=0):
    kind = rng.randrange(9)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice(STRINGS)
    if kind == 2:
        return Raw(rng.choice(RAW_STRINGS + NUMBERS))
    if kind == 3:
        return rng.choice([True, False, 0, 1.5, -7])
    if kind == 4:
        return []
    if kind == 5:
        return {}
    if depth < 3 and kind == 6:
        return [odd_value(rng, depth + 1) for _ in range(rng.randrange(1, 4))]
    if depth < 3 and kind == 7:
        return {rng.choice(KEYS + ["k", "\u00e9"]): odd_value(rng, depth + 1) for _ in range(rng.randrange(1, 4))}
    return {"metadata": {"uid": "nested", "annotations": {"a": "b"}}, "involvedObject": {"kind": "Pod"}}


def mutate_tree(ev, rng):
    ev = copy.deepcopy(ev)
    for _ in range(rng.randrange(1, 4)):
        op = rng.randrange(6)
        ps = paths(ev)
        if op == 0 and ps:          # nulls and "" in every field
            p = rng.choice(ps)
            parent(ev, p)[p[-1]] = rng.choice([None, ""])
        elif op == 1 and ps:        # missing fields
            p = rng.choice(ps)
            q = parent(ev, p)
            if isinstance(q, dict):
                del q[p[-1]]
            else:
                q.pop(p[-1])
        elif op == 2 and ps:        # odd values anywhere
            p = rng.choice(ps)
            parent(ev, p)[p[-1]] = odd_value(rng)
        elif op == 3:               # metadata members of every type
            meta = ev.get("metadata")
            if isinstance(meta, dict):
                meta[rng.choice(META_MEMBERS)] = odd_value(rng)
        elif op == 4:               # numbers
            ev[rng.choice(["count", "series", "deprecatedCount"])] = Raw(rng.choice(NUMBERS))
            if isinstance(ev.get("series"), Raw) and rng.random() < 0.5:
                ev["series"] = {"count": Raw(rng.choice(NUMBERS)), "lastObservedTime": "2026-11-20T08:14:21Z"}
        elif op == 5:               # depth near 100, in metadata or elsewhere
            depth = rng.randrange(92, 102)
            where = ev.get("metadata") if rng.random() < 0.6 and isinstance(ev.get("metadata"), dict) else ev
            where[rng.choice(["annotations", "deep", "managedFields"])] = nested(depth, "leaf")
    return ev


def escape_key(text, rng):
    key = rng.choice(KEYS)
    i = rng.randrange(len(key))
    esc = key[:i] + "\\u%04x" % ord(key[i]) + key[i + 1:]
    return text.replace(f'"{key}"', f'"{esc}"', rng.choice([1, -1]) if rng.random() < 0.5 else 1)


def duplicate_key(text, rng):
    choice = rng.randrange(5)
    if choice == 0:    # top level
        member = rng.choice(['"reason":"Dup"', '"count":99', '"metadata":{"uid":"dup"}', '"type":"Warning"',
                             '"cluster":"dup"', '"lastTimestamp":null'])
        return text.replace("{", "{" + member + ",", 1) if rng.random() < 0.5 else \
            text[:text.rindex("}")] + "," + member + "}"
    if choice == 1:    # metadata
        member = rng.choice(['"uid":"dup-uid"', '"annotations":{"a":"1"}', '"labels":[1,2]',
                             '"managedFields":null', '"annotations":"scalar"', '"name":"n2"'])
        return text.replace('"metadata":{', '"metadata":{' + member + ",", 1).replace(
            '"metadata": {', '"metadata": {' + member + ", ", 1)
    if choice == 2:    # managedFields entries
        return text.replace('"manager":', '"manager":"first","manager":', 1).replace(
            '"manager": ', '"manager": "first", "manager": ', 1)
    if choice == 3:    # a duplicated metadata member after the first
        return text.replace('"managedFields"', '"annotations":{"x":"y"},"annotations"', 1)
    return text.replace('"involvedObject":', '"involvedObject":{"kind":"Node"},"involvedObject":', 1)


def break_managed(text, rng):
    at = text.find("managedFields")
    if at < 0:
        at = rng.randrange(len(text))
    cut = rng.randrange(at, len(text))
    op = rng.randrange(4)
    if op == 0:
        return text[:cut]
    if op == 1:
        return text[:cut] + text[cut + 1:]
    if op == 2:
        return text[:cut] + rng.choice(["}", "]", ",", ":", '"', "x", "{", "[", "\\"]) + text[cut:]
    return text[:cut] + "}" * rng.randrange(1, 4)


def trailing_comma(text, rng):
    spots = [i for i, c in enumerate(text) if c in "}]"]
    if not spots:
        return text
    i = rng.choice(spots)
    return text[:i] + "," + text[i:]


def v1_event(ev, rng):
    """The events.k8s.io/v1 shape of a core/v1 Event."""
    out = {"apiVersion": "events.k8s.io/v1", "kind": "Event"}
    for k, v in ev.items():
        out[{"involvedObject": "regarding", "message": "note", "source": "deprecatedSource",
             "firstTimestamp": "deprecatedFirstTimestamp", "lastTimestamp": "deprecatedLastTimestamp",
             "count": "deprecatedCount"}.get(k, k)] = v
    out.setdefault("reportingController", "kubelet")
    if rng.random() < 0.5:
        out["note"] = out.get("note", "") or "a note"
    return out


def records(seed=18, n=3000):
    """n records (text, no newline unless pretty-printed), always the same."""
    rng = random.Random(seed)
    base = fixture_events()
    out = []
    while len(out) < n:
        ev = rng.choice(base)
        kind = rng.randrange(14)
        if kind <= 3:
            ev = mutate_tree(ev, rng)
        elif kind == 4:
            ev = v1_event(mutate_tree(ev, rng) if rng.random() < 0.5 else ev, rng)
        elif kind == 5:          # a List: valid, invalid and mixed items
            items = []
            for _ in range(rng.randrange(0, 5)):
                r = rng.random()
                items.append(mutate_tree(rng.choice(base), rng) if r < 0.4 else rng.choice(base) if r < 0.7 else
                             rng.choice([42, "x", None, {}, [], {"metadata": {"uid": "u"}}, {"kind": "Event"}]))
            ev = {"kind": "EventList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}
        elif kind == 6:          # watch wrappers
            t = rng.choice(["ADDED", "MODIFIED", "BOOKMARK", "DELETED", "ERROR"])
            obj = {"kind": "Status", "status": "Failure", "message": "too old resource version", "code": 410} \
                if t == "ERROR" else {"kind": "Event", "metadata": {"resourceVersion": "9"}} if t == "BOOKMARK" \
                else mutate_tree(ev, rng) if rng.random() < 0.5 else ev
            ev = {"type": t, "object": obj}
        if kind == 7:            # pretty-printed
            text = dumps(mutate_tree(ev, rng), rng, indent=rng.choice([1, 2, 4]))
        else:
            text = dumps(ev, rng)
        if kind == 8:
            text = escape_key(text, rng)
        elif kind == 9:
            text = duplicate_key(text, rng)
        elif kind == 10:
            text = break_managed(text, rng)
        elif kind == 11:
            text = trailing_comma(text, rng)
        elif kind == 12:
            text = escape_key(duplicate_key(text, rng), rng)
        if "\n" in text and kind != 7:
            continue
        out.append(text)
    return out
