"""deploy/prometheus/herald-rules.yaml: a well-formed Prometheus rule file
whose expressions use only herald's metrics and the labels each has
(core/metrics.def, through docs/reference/metrics.md generated from it), with the
"Warnings per namespace over threshold" rule on herald_kube_events_total."""
import re

import yaml

from test_dashboards import SOURCE, defined_metrics, problems, readme_labels

RULES = SOURCE / "deploy" / "prometheus" / "herald-rules.yaml"


def rules():
    doc = yaml.safe_load(RULES.read_text())
    assert set(doc) == {"groups"}
    out = []
    for g in doc["groups"]:
        assert set(g) <= {"name", "rules", "interval"} and g["name"], g
        for r in g["rules"]:
            assert set(r) <= {"alert", "record", "expr", "for", "labels", "annotations"}, r
            assert ("alert" in r) != ("record" in r), r
            if "for" in r:
                assert re.fullmatch(r"\d+[smh]", r["for"]), r
            out.append(r)
    return out


def test_rules_use_only_herald_metrics_and_their_labels():
    defined, documented = defined_metrics(), readme_labels()
    rs = rules()
    assert len(rs) >= 3
    for r in rs:
        assert not problems(r["expr"], defined, documented), (r.get("alert"), problems(r["expr"], defined, documented))
        # annotations' $labels.x name labels the expression keeps
        kept = set(re.findall(r"by \(([\w, ]*)\)", r["expr"]))
        kept = {l.strip() for ls in kept for l in ls.split(",")}
        for text in (r.get("annotations") or {}).values():
            for label in re.findall(r"\$labels\.(\w+)", text):
                assert label in kept, (r["alert"], label)


def test_warnings_per_namespace_rule():
    r = next(r for r in rules() if r.get("alert") == "KubeWarningsPerNamespaceHigh")
    assert "herald_kube_events_total" in r["expr"] and 'type="Warning"' in r["expr"]
    assert re.search(r"by \(cluster, namespace\)", r["expr"]) and re.search(r">\s*\d+", r["expr"])
    assert documented_labels("herald_kube_events_total") == {"cluster", "type", "reason", "namespace", "kind"}


def documented_labels(metric):
    return readme_labels()[metric]


def test_the_rule_check_can_fail():
    defined, documented = defined_metrics(), readme_labels()
    assert problems('sum by (pod) (increase(herald_kube_events_total[10m])) > 5', defined, documented)
    assert problems('sum(increase(kube_event_count[10m])) > 5', defined, documented)
    assert problems('herald_kube_events_total{severity="x"}', defined, documented)
