"""deploy/dashboards: the Grafana dashboard queries only metrics and labels
herald exposes (core/metrics.def and docs/reference/metrics.md generated from it), and
the OpenSearch Dashboards saved objects are well formed and name only
fields of the index template herald installs (OpenSearch Dashboards is a
separate server: the file's structure is checked, not imported)."""
import json
import os
import pathlib
import re
import subprocess

import pytest

SOURCE = pathlib.Path(os.environ.get("HERALD_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
BIN = os.environ.get("HERALD_BIN", str(SOURCE / "build" / "herald"))
DASHBOARDS = SOURCE / "deploy" / "dashboards"
PROMQL_WORDS = {"sum", "min", "max", "avg", "count", "by", "without", "rate", "increase", "irate", "changes",
                "time", "label_values", "topk", "bottomk", "and", "or", "unless", "on", "ignoring", "offset"}


def defined_metrics():
    """The metric definitions of the C core: METRIC(ID, "herald_x", TYPE, "labels", help) in core/metrics.def."""
    names = set(re.findall(r'METRIC\(\s*\w+,\s*"(herald_\w+)"', (SOURCE / "core" / "metrics.def").read_text()))
    assert len(names) > 20, "no metric definitions found in core/metrics.def"
    return names


def readme_labels():
    """Each metric docs/reference/metrics.md lists, with its labels."""
    section = (SOURCE / "docs" / "reference" / "metrics.md").read_text()
    labels = {}
    for name, ls in re.findall(r"^\| `(herald_\w+)` \| \w+ \| ([^|]*) \|", section, flags=re.M):
        labels[name] = set(re.findall(r"`(\w+)`", ls))
    return labels


def queries(dash):
    out = []
    for p in dash["panels"]:
        out += [(p["title"], t["expr"]) for t in p.get("targets", [])]
    out += [(a["name"], a["expr"]) for a in dash["annotations"]["list"] if "expr" in a]
    for v in dash["templating"]["list"]:
        if v["type"] == "query":
            out.append((v["name"], v["query"]["query"] if isinstance(v["query"], dict) else v["query"]))
    return out


def problems(expr, defined, documented):
    """What in one PromQL expression is not herald's: unknown metrics, and
    labels docs/reference/metrics.md does not give that metric."""
    found = []
    # label_values(metric, label)
    for metric, label in re.findall(r"label_values\((\w+),\s*(\w+)\)", expr):
        if metric not in defined:
            found.append(f"unknown metric {metric}")
        elif label not in documented.get(metric, set()):
            found.append(f"{metric} has no label {label}")
    expr = re.sub(r"label_values\([^)]*\)", "", expr)
    # aggregations of one metric: agg by (labels) (... metric{matchers}[range] ...)
    for labels, inner in re.findall(r"\bby \(([\w, ]*)\) \((.*?)\)\s*(?:$|[-+*/<>=]|\))", expr):
        for metric in re.findall(r"\b(herald_\w+|[a-z_:]+)(?=\{|\[|\)|$)", inner):
            for l in (x.strip() for x in labels.split(",") if x.strip()):
                if metric in documented and l not in documented[metric]:
                    found.append(f"{metric} has no label {l}")
    for metric, matchers in re.findall(r"\b(\w+)\{([^}]*)\}", expr):
        for l in re.findall(r"(\w+)\s*[=!]~?", matchers):
            if metric in documented and l not in documented[metric]:
                found.append(f"{metric} has no label {l}")
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\bby \([^)]*\)|\"[^\"]*\"", " ", expr)
    for ident in re.findall(r"[A-Za-z_:][\w:]*(?!\w*\s*\()", bare):
        if ident in PROMQL_WORDS or re.fullmatch(r"\d+\w*", ident):
            continue
        if ident not in defined:
            found.append(f"unknown metric {ident}")
        elif ident not in documented:
            found.append(f"{ident} is not in docs/reference/metrics.md")
    return found


def test_grafana_dashboard_queries_only_herald_metrics_and_their_labels():
    dash = json.loads((DASHBOARDS / "herald-grafana.json").read_text())
    assert dash["uid"] and dash["title"] and dash["schemaVersion"] >= 30
    defined, documented = defined_metrics(), readme_labels()
    assert set(documented) == defined, "docs/reference/metrics.md and core/'s definitions differ: " + str(
        set(documented) ^ defined)
    used = set()
    qs = queries(dash)
    assert len(qs) > 20
    for where, expr in qs:
        assert not problems(expr, defined, documented), (where, expr, problems(expr, defined, documented))
        used |= set(re.findall(r"herald_\w+", expr))
    # the dashboard shows what operators watch: watches, events, sinks, alerts, configuration
    for m in ("herald_watch_established", "herald_events_received_total", "herald_sink_queue_events",
              "herald_sink_events_written_total", "herald_alert_messages_total", "herald_config_rejected"):
        assert m in used, m
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for p in dash["panels"]:
        assert p["gridPos"]["x"] + p["gridPos"]["w"] <= 24, p["title"]


def test_the_dashboard_check_can_fail():
    defined, documented = defined_metrics(), readme_labels()
    assert problems('sum(rate(herald_events_typo_total[5m]))', defined, documented)
    assert problems('sum by (namespace) (rate(herald_events_received_total[5m]))', defined, documented)
    assert problems('herald_sink_queue_events{cluster="a"}', defined, documented)
    assert problems('up', defined, documented)
    assert problems('label_values(herald_build_info, cluster)', defined, documented)
    assert not problems('sum by (cluster, type) (rate(herald_events_received_total{cluster=~"$cluster"}[5m]))',
                        defined, documented)


@pytest.fixture(scope="module")
def mapping(tmp_path_factory):
    """The herald shape's index template mapping, as herald builds it."""
    d = tmp_path_factory.mktemp("mapping")
    (d / "rules").mkdir()
    (d / "sinks.lua").write_text('sink "o" { type = "null" }\n')
    (d / "rules" / "10.lua").write_text(
        'print("MAPPING " .. json.encode(require("herald.documents").mappings.herald))\nroute { to = "o" }\n')
    out = subprocess.run([BIN, "check", "--config", str(d)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    props = json.loads(out.stderr.split("MAPPING ", 1)[1].splitlines()[0])["properties"]
    flat = {}

    def walk(p, prefix):
        for k, v in p.items():
            if "properties" in v:
                walk(v["properties"], prefix + k + ".")
            else:
                flat[prefix + k] = v["type"]
    walk(props, "")
    return flat


def test_opensearch_saved_objects_are_well_formed(mapping):
    lines = (DASHBOARDS / "opensearch-dashboards.ndjson").read_text().splitlines()
    objs = [json.loads(line) for line in lines]
    summary = objs.pop()
    assert summary == {"exportedCount": len(objs), "missingRefCount": 0, "missingReferences": []}
    ids = {(o["type"], o["id"]) for o in objs}
    assert len(ids) == len(objs)
    for o in objs:
        assert set(o) >= {"id", "type", "attributes", "references"} and o["attributes"]["title"]
        for ref in o["references"]:
            assert (ref["type"], ref["id"]) in ids, ref
    (pattern,) = [o for o in objs if o["type"] == "index-pattern"]
    attrs = pattern["attributes"]
    # the indices of the elasticsearch sink's default index name, by its time field
    es = (SOURCE / "scripts" / "sinks" / "elasticsearch.lua").read_text()
    default_index = re.search(r'index\s*=\s*\{[^}]*default\s*=\s*"([^"]+)"', es).group(1)
    assert default_index.startswith("k8s-events-") and attrs["title"] == "k8s-events-*"
    assert attrs["timeFieldName"] == "@timestamp"
    fields = {f["name"]: f for f in json.loads(attrs["fields"])}
    assert {"@timestamp", "cluster", "involvedObject.namespace", "reason", "type"} <= set(fields)
    kinds = {"keyword": ("string", True), "text": ("string", False), "date": ("date", True), "long": ("number", True)}
    for name, f in fields.items():
        assert name in mapping, f"{name} is not in the index template"
        assert f["esTypes"] == [mapping[name]], name
        assert (f["type"], f["aggregatable"]) == kinds[mapping[name]], name
    for s in (o for o in objs if o["type"] == "search"):
        src = json.loads(s["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        assert src["indexRefName"] in [r["name"] for r in s["references"]]
        assert all(c in fields for c in s["attributes"]["columns"]), s["attributes"]["columns"]
        assert s["attributes"]["sort"][0][0] == "@timestamp"
