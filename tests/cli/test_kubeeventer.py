"""herald on kube-eventer's command line, through the binary: `herald
migrate` prints files that pass `herald check` and route the recorded
events exactly as the flags do (`herald replay --json`), and every option
herald cannot honour stops it at start with exit 2, naming the option."""
import re

import pytest
import yaml
from conftest import FIXTURES, SOURCE, herald

SRC = "--source=kubernetes:https://kubernetes.default"
TOKEN = "XXXtoken0123456789"
SIGN = "SEC0123456789abcdef"

FLAG_SETS = {
    "seed": [
        SRC,
        f"--sink=dingtalk:https://oapi.dingtalk.com/robot/send?access_token={TOKEN}&label=cls-tke&label=event"
        "&level=Warning&msg_type=markdown",
        "--sink=elasticsearch:http://172.16.0.20:9200?ver=7&index=cls-tke-event&cluster_name=cls-tke",
    ],
    "filters": [
        SRC, "--frequency=30s", "--v=2", "--logtostderr",
        f"--sink=dingtalk:https://oapi.dingtalk.com/robot/send?access_token={TOKEN}&sign={SIGN}"
        "&level=Normal&namespaces=shop,kube-system&kinds=Pod",
        "--sink=webhook:http://hooks.example.com/k8s?level=Warning&namespaces=shop&reason=^Back|Failed"
        "&header=Content-Type=application/json&method=POST",
        "--sink=wechat:?corp_id=ww1&corp_secret=CS-secret&agent_id=1000002&to_user=a,b&level=Warning",
    ],
    "configmap": [
        SRC,
        "--sink=webhook:http://hooks.example.com/k8s?custom_body_configmap=body&custom_body_configmap_namespace=ops"
        "&kinds=Pod",
    ],
}
BODY = '{"text": "{{ .InvolvedObject.Name }} {{ .Reason }}: {{ .Message }}"}'


def split_migrate(text):
    """`herald migrate` output -> {path: text} (the secrets part is comments)."""
    parts = re.split(r"^==> (\S+) <==\n", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def extra_args(name, tmp_path):
    if name != "configmap":
        return []
    body = tmp_path / "body.tmpl"
    body.write_text(BODY)
    return ["--configmap", f"ops/body={body}"]


@pytest.mark.parametrize("name", sorted(FLAG_SETS))
def test_migrate_passes_check_and_routes_as_the_flags(tmp_path, name):
    flags, extra = FLAG_SETS[name], extra_args(name, tmp_path)
    r = herald("migrate", *extra, "--", *flags)
    assert r.code == 0, r
    assert TOKEN not in r.out and SIGN not in r.out and "CS-secret" not in r.out
    files = split_migrate(r.out)
    assert set(files) >= {"sinks.lua", "rules/50-kube-eventer.lua"}, r.out
    cfg = tmp_path / "cfg"
    (cfg / "rules").mkdir(parents=True)
    (cfg / "sinks.lua").write_text(files["sinks.lua"])
    (cfg / "rules" / "50-kube-eventer.lua").write_text(files["rules/50-kube-eventer.lua"])
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for n in re.findall(r"^--   (\S+)$", files.get("secrets", ""), flags=re.M):
        (secrets / n).write_text("value-of-" + n)

    c = herald("check", "--config", cfg, "--secrets-dir", secrets)
    assert c.code == 0 and c.out.startswith("ok:"), c
    # the flags themselves pass the same check (kube-eventer's args after --)
    c2 = herald("check", *extra, "--", *flags)
    assert c2.code == 0 and c2.out == c.out, c2

    for fixture in ("events.jsonl", "watch.jsonl", "events-list.json"):
        from_files = herald("replay", "--json", "--config", cfg, "--secrets-dir", secrets, FIXTURES / fixture)
        from_flags = herald("replay", "--json", *extra, FIXTURES / fixture, *flags)
        assert from_files.code == 0 and from_flags.code == 0, (from_files, from_flags)
        assert from_files.out == from_flags.out and from_files.out.strip(), (fixture, from_files, from_flags)
        if name == "seed":
            routes = {tuple(x["routes"]) for x in from_flags.json_lines()}
            assert ("dingtalk", "elasticsearch") in routes and ("elasticsearch",) in routes, routes
        assert TOKEN not in from_flags.err and SIGN not in from_flags.err


REFUSED = [
    (["--sink=mysql:root:pw@tcp(db:3306)/k8s"], "--sink=mysql"),
    (["--sink=influxdb:http://influx:8086"], "--sink=influxdb"),
    (["--sink=kafka:?brokers=k:9092&compression=brotli"], "compression"),
    (["--sink=nosuch:http://x"], "--sink=nosuch"),
    (["--sink=elasticsearch:http://es:9200?ver=2"], "ver=2"),
    (["--sink=elasticsearch:http://es:9200?sigv4=true"], "sigv4"),
    (["--sink=elasticsearch:http://es:9200?maxRetries=x"], "maxRetries"),
    (["--sink=elasticsearch:http://es:9200?sniff=maybe"], "sniff"),
    (["--sink=webhook:http://h/x?reason=Back(Off)%2B"], "reason"),
    (["--sink=webhook:http://h/x?custom_body_configmap=missing"], "custom_body_configmap"),
    (["--sink=webhook:http://h/x?method=post"], "method"),
    (["--sink=wechat:?corp_id=ww1&agent_id=1"], "corp_secret"),
    (["--sink=dingtalk:https://oapi.dingtalk.com/robot/send?label=x"], "access_token"),
    (["--frequency=1s"], "--frequency"),
    (["--healthz-port=70000"], "healthz"),
    (["--no-such-flag=1"], "-no-such-flag"),
]


@pytest.mark.parametrize("args,name", REFUSED, ids=[n for _, n in REFUSED])
def test_unsupported_options_are_refused_at_start_by_name(args, name):
    sink = [] if any(a.startswith("--sink") for a in args) else \
        [f"--sink=dingtalk:https://oapi.dingtalk.com/robot/send?access_token={TOKEN}"]
    r = herald(SRC, *sink, *args, "--listen", "off", timeout=30)
    assert r.code == 2, r
    assert name in r.err, r
    assert TOKEN not in r.err
    m = herald("migrate", "--", SRC, *sink, *args)
    assert m.code == 2 and name in m.err and m.out == "", m


def test_the_source_flag_is_checked_too():
    for src, name in [("--source=kubernetes:https://k?insecure=yes", "insecure"),
                      ("--source=kubelet:https://k", "--source=kubelet")]:
        r = herald(src, "--sink=elasticsearch:http://es:9200", "--listen", "off", timeout=30)
        assert r.code == 2 and name in r.err, r
    r = herald("--sink=elasticsearch:http://es:9200", "--listen", "off", timeout=30)
    assert r.code == 2 and "wrong number of sources" in r.err, r


def test_ignored_flags_are_logged_once_and_version_prints():
    r = herald("check", SRC, "--sink=elasticsearch:http://es:9200?lable=x", "--frequency", "30s",
               "--max_procs=2", "--v=4")
    assert r.code == 0, r
    for what in ("--frequency", "--max_procs", "--v", '"lable"'):
        lines = [l for l in r.err.splitlines() if "ignored" in l and what in l]
        assert len(lines) == 1, (what, r.err)
    v = herald(SRC, "--sink=elasticsearch:http://es:9200", "--version")
    assert v.code == 0 and v.out.startswith("herald "), v


def test_migrate_without_arguments_is_a_usage_error():
    r = herald("migrate")
    assert r.code == 2 and "source" in r.err, r


def test_the_deploy_manifests_are_the_seed_s_with_herald_s_image():
    version = re.search(r"^project\(herald VERSION ([0-9.]+)", (SOURCE / "CMakeLists.txt").read_text(), re.M)[1]
    deps = {}
    for name in ("kube-eventer.yaml", "kube-eventer-no-hostpath.yaml"):
        docs = [d for d in yaml.safe_load_all((SOURCE / "deploy" / "kube-eventer" / name).read_text()) if d]
        assert [d["kind"] for d in docs] == ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment"]
        deps[name] = docs[-1]["spec"]["template"]["spec"]
        c = deps[name]["containers"][0]
        assert c["image"] == f"herald:{version}"
        assert c["command"][0] == "/kube-eventer" and {"name": "TZ", "value": "Asia/Shanghai"} in c["env"]
        # the command is the seed's, and herald takes it as it is
        r = herald("check", *c["command"][1:])
        assert r.code == 0 and r.out.startswith("ok: 2 sinks"), r
    with_hp, without = deps["kube-eventer.yaml"], deps["kube-eventer-no-hostpath.yaml"]
    assert {v["hostPath"]["path"] for v in with_hp["volumes"]} == {"/etc/localtime", "/usr/share/zoneinfo"}
    assert "volumes" not in without and "volumeMounts" not in without["containers"][0]
    strip = lambda spec: {**spec, "volumes": None,
                          "containers": [{**spec["containers"][0], "volumeMounts": None}]}
    assert strip(with_hp) == strip(without)       # nothing else differs
