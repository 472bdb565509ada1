"""Checks pbprobe's protobuf path against the apiserver's own JSON.

    verify.py DIR PB_JSON_LINES PB_TABLE_LINES PB_FULL_LINES

For every watch event, the JSON line pbprobe wrote from the protobuf fields
and the json.encode of the Lua table it built must both equal the
apiserver's JSON object for that event less what the protobuf path does not
decode (metadata other than name, namespace, uid, resourceVersion and
creationTimestamp). The line must also keep the apiserver's key order. The
full lines (labels, annotations and managedFields decoded too) must be the
apiserver's JSON of the object, byte for byte.
Prints a one-line summary; exits 1 on any difference.
"""
import json
import sys

KEPT_META = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")


def expected(obj):
    obj = dict(obj)
    obj["metadata"] = {k: v for k, v in obj["metadata"].items() if k in KEPT_META}
    return obj


def main():
    d, pb_json, pb_table, pb_full = sys.argv[1:5]
    objects = [json.loads(line)["object"] for line in open(f"{d}/watch.json", encoding="utf-8")]
    want = [expected(o) for o in objects]
    dropped = {}
    for line in open(f"{d}/watch.json", encoding="utf-8"):
        for k in json.loads(line)["object"]["metadata"]:
            if k not in KEPT_META:
                dropped[k] = dropped.get(k, 0) + 1
    bad = 0
    for name, path, ordered, wanted in (("JSON line", pb_json, True, want), ("Lua table", pb_table, False, want),
                                        ("full JSON line", pb_full, True, objects)):
        got = [json.loads(line) for line in open(path, encoding="utf-8")]
        if len(got) != len(wanted):
            print(f"{name}: {len(got)} events, want {len(wanted)}")
            bad += 1
            continue
        for i, (g, w) in enumerate(zip(got, wanted)):
            if g != w or (ordered and json.dumps(g) != json.dumps(w)):
                if bad < 5:
                    print(f"{name} #{i} differs:\n got  {json.dumps(g)}\n want {json.dumps(w)}")
                bad += 1
    raw = [line[line.index(b'"object":') + 9:-2] for line in open(f"{d}/watch.json", "rb")]
    full = [line.rstrip(b"\n") for line in open(pb_full, "rb")]
    same = sum(a == b for a, b in zip(raw, full))
    if len(full) != len(raw) or same != len(raw):
        print(f"full JSON line: {same} of {len(raw)} byte for byte the apiserver's")
        bad += 1
    dropped_text = ", ".join(f"{k} ({n})" for k, n in sorted(dropped.items())) or "nothing"
    if bad:
        print(f"verify: FAILED, {bad} differences over {len(want)} events")
    else:
        print(f"verify: {len(want)} events: the protobuf path's line and table match the apiserver's JSON less "
              f"the metadata they skip ({dropped_text}); its full line is the apiserver's JSON byte for byte")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
