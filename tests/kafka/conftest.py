"""A real Kafka broker for the tests in this directory (tests/servers/kafka.py),
one per test file, stopped at the end."""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "servers"))
import kafka  # noqa: E402


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    k = kafka.Kafka(tmp_path_factory.mktemp("kafka"))
    yield k
    k.close()
