"""kube-eventer's flags -> herald's files, through `herald migrate -- ARGS`:
the files it prints under "==> path <==" lines, and the secret *names* it
lists (never their values)."""
import os
import pathlib
import re
import subprocess

SOURCE = pathlib.Path(os.environ.get("HERALD_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
BIN = os.environ.get("HERALD_BIN", str(SOURCE / "build" / "herald"))


def translate(args):
    """Returns ({relative path: text}, [secret names])."""
    out = subprocess.run([BIN, "migrate", "--", *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    parts = re.split(r"^==> (\S+) <==\n", out.stdout, flags=re.M)
    files = {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}
    names = re.findall(r"^--   (\S+)$", files.pop("secrets", ""), flags=re.M)
    assert "sinks.lua" in files and "rules/50-kube-eventer.lua" in files, out.stdout
    return files, names
