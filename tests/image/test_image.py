"""herald's image (deploy/Dockerfile), as built by tests/image/build.sh.

Each herald command runs from the image's own root filesystem (buildah
mount), bind-mounted read-only in a private mount namespace and entered
with chroot as the image's configured user, with the image's entrypoint,
command and environment: what a pod with readOnlyRootFilesystem runs.
"""
import json
import os
import pathlib
import re
import subprocess

import pytest
import yaml

SOURCE = pathlib.Path(__file__).resolve().parents[2]
VERSION = re.search(r"^project\(herald VERSION ([0-9.]+)", (SOURCE / "CMakeLists.txt").read_text(), re.M)[1]
IMAGE = os.environ.get("HERALD_IMAGE", f"herald:{VERSION}")
BASE = "docker.io/library/debian:bookworm-slim"
BUDGET_MB = 100  # docs/deploying.md, "The image"
EXE_DIRS = ("usr/bin", "usr/sbin", "usr/local/bin", "usr/local/sbin")
# What the image may add to the base's commands: herald, and the openssl
# tool and certificate scripts that the ca-certificates package depends on.
ALLOWED_EXTRA = {"usr/local/bin/herald", "usr/bin/openssl", "usr/bin/c_rehash",
                 "usr/sbin/update-ca-certificates"}


def buildah(*args):
    out = subprocess.run(["buildah", *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"buildah {' '.join(args)}: {out.stderr}"
    return out.stdout.strip()


def mounted(image):
    ctr = buildah("from", "--pull=never", "-q", image)
    return ctr, pathlib.Path(buildah("mount", ctr))


@pytest.fixture(scope="module")
def config():
    found = subprocess.run(["buildah", "inspect", "--type", "image", IMAGE], capture_output=True, text=True)
    assert found.returncode == 0, f"no image {IMAGE}: build it with tests/image/build.sh"
    return json.loads(found.stdout)["OCIv1"]["config"]


@pytest.fixture(scope="module")
def rootfs(config):
    ctr, path = mounted(IMAGE)
    yield path
    buildah("umount", ctr)
    buildah("rm", ctr)


@pytest.fixture(scope="module")
def baserootfs():
    ctr, path = mounted(BASE)
    yield path
    buildah("umount", ctr)
    buildah("rm", ctr)


@pytest.fixture
def run(rootfs, config, tmp_path):
    """run(args, env={}, mnt=None, argv=None): the image's entrypoint with
    args (or argv as given), as the image's user, on its read-only root;
    mnt (a host directory) appears read-only at /mnt."""
    def run_(args=(), env=None, mnt=None, argv=None):
        argv = list(argv) if argv else config["Entrypoint"] + list(args)
        user = config["User"]
        root = tmp_path / "root"
        root.mkdir(exist_ok=True)
        script = """set -e
mount --bind "$1" "$2" && mount -o remount,bind,ro "$2"
mount -t proc proc "$2/proc" && mount --rbind /dev "$2/dev"
if [ -n "$3" ]; then mount --bind "$3" "$2/mnt" && mount -o remount,bind,ro "$2/mnt"; fi
r=$2; u=$4; shift 4
exec chroot --userspec="$u" --groups="${u#*:}" "$r" "$@"
"""
        environ = dict(e.split("=", 1) for e in config.get("Env", []))
        environ.update(env or {})
        cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
               str(rootfs), str(root), str(mnt or ""), user, *argv]
        return subprocess.run(["env", "-i", *[f"{k}={v}" for k, v in environ.items()], *cmd],
                              capture_output=True, text=True, timeout=60)
    return run_


def test_runs_as_65532_on_a_read_only_root(config, run):
    assert config["User"] == "65532:65532"
    out = run(argv=["/usr/bin/id", "-u"])
    assert out.returncode == 0 and out.stdout.strip() == "65532", out.stderr
    # the root really is read-only for what the other tests run
    out = run(argv=["/usr/bin/touch", "/etc/herald/x"])
    assert out.returncode != 0 and "Read-only file system" in out.stderr


def test_kube_eventer_s_command_runs_herald(run):
    # deploy/kube-eventer: the seed's Deployment with only the image changed
    seed = ["/kube-eventer", "--source=kubernetes:https://kubernetes.default",
            "--sink=elasticsearch:http://172.16.0.20:9200?ver=7&index=cls-tke-event&cluster_name=cls-tke"]
    out = run(argv=[*seed, "--version"])
    assert out.returncode == 0 and out.stdout.startswith("herald "), out.stderr
    out = run(argv=[seed[0], "check", *seed[1:]])
    assert out.returncode == 0 and out.stdout.startswith("ok:"), out.stderr


def test_version(run):
    out = run(["--version"])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"herald {VERSION}"


def test_check_passes_on_the_default_configuration(config, run):
    assert config["Cmd"] == ["--config=/etc/herald/config"]
    out = run(["check", *config["Cmd"]])
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 errors" in out.stdout + out.stderr


def test_from_fixtures_prints_every_event(config, run, tmp_path):
    fixtures = SOURCE / "tests" / "fixtures"
    events = [json.loads(line) for line in (fixtures / "events.jsonl").read_text().splitlines() if line.strip()]
    out = run([*config["Cmd"], "--from", "/mnt/events.jsonl"], mnt=fixtures)
    assert out.returncode == 0, out.stderr
    printed = [json.loads(line) for line in out.stdout.splitlines()]
    assert sorted(e["metadata"]["uid"] for e in printed) == sorted(e["metadata"]["uid"] for e in events)
    assert "Read-only" not in out.stderr


def dingtalk_messages(run, tmp_path, tz):
    mnt = tmp_path / f"mnt-{tz.replace('/', '-')}"
    (mnt / "config" / "rules").mkdir(parents=True)
    (mnt / "config" / "sinks.lua").write_text(
        'sink "oncall" { type = "dingtalk", webhook = secret "dt-webhook", keyword = "k8s" }\n')
    (mnt / "config" / "rules" / "10.lua").write_text('route { to = "oncall", when = { type = "Warning" } }\n')
    (mnt / "secrets").mkdir()
    (mnt / "secrets" / "dt-webhook").write_text("http://127.0.0.1:9/robot/send?access_token=tok\n")
    event = {"apiVersion": "v1", "kind": "Event",
             "metadata": {"name": "web-0.17f", "namespace": "shop", "uid": "u-1", "resourceVersion": "7"},
             "involvedObject": {"kind": "Pod", "name": "web-0", "namespace": "shop"},
             "reason": "BackOff", "type": "Warning", "count": 3, "message": "Back-off restarting",
             "source": {"component": "kubelet", "host": "node-1"},
             "firstTimestamp": "2026-11-20T08:00:00Z", "lastTimestamp": "2026-11-20T08:05:00Z"}
    (mnt / "events.jsonl").write_text(json.dumps(event) + "\n")
    for p in [mnt, *mnt.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    out = run(["replay", "--config=/mnt/config", "--secrets-dir=/mnt/secrets", "/mnt/events.jsonl"],
              env={"TZ": tz}, mnt=mnt)
    assert out.returncode == 0, out.stdout + out.stderr
    bodies = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("    {")]
    assert len(bodies) == 1, out.stdout
    return bodies[0]["markdown"]["text"]


def test_dingtalk_alert_in_shanghai_time_from_the_images_tzdata(rootfs, run, tmp_path):
    assert (rootfs / "usr/share/zoneinfo/Asia/Shanghai").is_file()
    text = dingtalk_messages(run, tmp_path, "Asia/Shanghai")
    # last seen 08:05 UTC is 16:05 at +08:00 (whatever the date format)
    assert "16:05" in text and "08:05" not in text, text
    utc = dingtalk_messages(run, tmp_path, "UTC")
    assert "08:05" in utc and "16:05" not in utc, utc


def executables(root):
    return {f"{d}/{p.name}" for d in EXE_DIRS if (root / d).is_dir() for p in (root / d).iterdir()}


def test_nothing_but_herald_and_its_libraries_over_the_base(rootfs, baserootfs):
    extra = executables(rootfs) - executables(baserootfs)
    assert extra == ALLOWED_EXTRA
    for tool in ("cc", "gcc", "c++", "ld", "as", "make", "cmake", "pkg-config", "java", "javac", "mvn",
                 "go", "python3", "pip", "lua5.4", "curl", "debootstrap", "buildah"):
        for d in EXE_DIRS:
            assert not (rootfs / d / tool).exists(), f"{d}/{tool} in the image"
    for d in ("usr/lib/jvm", "usr/lib/go", "usr/local/go", "usr/share/maven"):
        assert not (rootfs / d).exists(), f"{d} in the image"
    assert not list((rootfs / "usr/include").rglob("*.h")), "headers in the image"
    # the build machine's own CA certificates are not baked in
    assert not list((rootfs / "usr/local/share/ca-certificates").glob("*"))


def installed_sizes(root):
    sizes, name = {}, None
    for line in (root / "var/lib/dpkg/status").read_text().splitlines():
        if line.startswith("Package: "):
            name = line.split(": ", 1)[1]
        elif line.startswith("Installed-Size: "):
            sizes[name] = int(line.split(": ", 1)[1])  # KiB
    return sizes


def image_size(image):
    """Uncompressed, as `buildah images` says it (decimal units)."""
    size = json.loads(buildah("images", "--json", image))[0]["size"]
    n, unit = size.split()
    return float(n) * {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}[unit]


def download_size(image, tmp_path):
    """What a registry stores and a node pulls: the gzip-compressed layers."""
    buildah("push", "-q", image, f"oci:{tmp_path / 'oci'}")
    index = json.loads((tmp_path / "oci/index.json").read_text())
    blob = lambda d: tmp_path / "oci/blobs" / d["digest"].replace(":", "/")  # noqa: E731
    manifest = json.loads(blob(index["manifests"][0]).read_text())
    return sum(layer["size"] for layer in manifest["layers"])


def test_size_within_budget(rootfs, baserootfs, capsys, tmp_path):
    size, base, pulled = image_size(IMAGE), image_size(BASE), download_size(IMAGE, tmp_path)
    added = {k: v for k, v in installed_sizes(rootfs).items() if k not in installed_sizes(baserootfs)}
    herald = (rootfs / "usr/local/bin/herald").stat().st_size
    with capsys.disabled():
        print(f"\nimage {IMAGE}: {size / 1e6:.1f} MB (budget {BUDGET_MB} MB), {pulled / 1e6:.1f} MB compressed: "
              f"base {BASE} {base / 1e6:.1f} MB, "
              f"herald {herald / 1e6:.2f} MB, packages {sum(added.values()) * 1024 / 1e6:.1f} MB:")
        print("  " + ", ".join(f"{k} {v * 1024 / 1e6:.1f}" for k, v in sorted(added.items(), key=lambda kv: -kv[1])))
    assert size <= BUDGET_MB * 1e6


def test_manifests_use_the_built_tag():
    deploy = SOURCE / "deploy"
    images = []
    for f in sorted([*(deploy / "kubernetes").glob("*.yaml"), *(deploy / "overlays").rglob("*.yaml"),
                     *(deploy / "kube-eventer").glob("*.yaml")]):
        for doc in yaml.safe_load_all(f.read_text()):
            if not isinstance(doc, dict):
                continue
            for c in ((doc.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers", []):
                images.append((f.name, c["image"]))
            for i in doc.get("images", []):
                images.append((f.name, f"{i.get('newName', i['name'])}:{i.get('newTag', VERSION)}"))
    chart = deploy / "helm" / "herald" / "values.yaml"
    if chart.exists():  # the chart's default image, where it names one
        image = (yaml.safe_load(chart.read_text()) or {}).get("image") or {}
        if isinstance(image, dict) and image.get("repository"):
            images.append((str(chart.relative_to(deploy)), f"{image['repository']}:{image.get('tag') or VERSION}"))
    assert images and all(img == IMAGE for _, img in images), images
