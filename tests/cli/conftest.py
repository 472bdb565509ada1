"""Helpers for driving the real herald binary (HERALD_BIN, set by CTest)."""
import json
import os
import pathlib
import subprocess
import textwrap

import pytest

SOURCE = pathlib.Path(os.environ.get("HERALD_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
BIN = os.environ.get("HERALD_BIN", str(SOURCE / "build" / "herald"))
FIXTURES = SOURCE / "tests" / "fixtures"


class Result:
    def __init__(self, proc):
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json_lines(self):
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]

    def __repr__(self):
        return f"exit {self.code}\n--- stdout\n{self.out[:3000]}\n--- stderr\n{self.err[:3000]}"


def herald(*args, input=None, env=None, timeout=60, cwd=None):
    full_env = dict(os.environ)
    full_env.pop("HERALD_CONFIG", None)
    if env:
        full_env.update(env)
    proc = subprocess.run([BIN, *map(str, args)], input=input, capture_output=True,
                          text=not isinstance(input, bytes), env=full_env, timeout=timeout, cwd=cwd)
    if isinstance(input, bytes):
        proc.stdout = proc.stdout.decode("utf-8", "replace")
        proc.stderr = proc.stderr.decode("utf-8", "replace")
    return Result(proc)


class Config:
    """A config directory: sinks.lua plus rules/*.lua, written by the test."""

    def __init__(self, root):
        self.root = root
        (root / "rules").mkdir(parents=True, exist_ok=True)

    def sinks(self, text):
        (self.root / "sinks.lua").write_text(textwrap.dedent(text))
        return self

    def rule(self, name, text):
        (self.root / "rules" / name).write_text(textwrap.dedent(text))
        return self

    def __str__(self):
        return str(self.root)


@pytest.fixture
def config(tmp_path):
    return Config(tmp_path / "config")
