"""The kafka sink's TLS and SASL/SCRAM against a real broker. SCRAM runs
against Kafka 3.9 (tests/servers/build-kafka.sh 3.9.1): Debian bookworm's
librdkafka 2.0.2 cannot complete SCRAM with a Kafka 4 broker (fixed in
librdkafka 2.6.1), and herald warns about it at start. A wrong password is
a clear error; no secret appears in any output."""
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

SOURCE = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(SOURCE / "tests" / "servers"))
import kafka  # noqa: E402

BIN = os.environ.get("HERALD_BIN", str(SOURCE / "build" / "herald"))
EVENTS = SOURCE / "tests" / "fixtures" / "events.jsonl"
WRONG = "wrong-password-9e2f"


@pytest.fixture(scope="module")
def broker39(tmp_path_factory):
    k = kafka.Kafka(tmp_path_factory.mktemp("kafka39"), version="3.9.1")
    yield k
    k.close()


def run(tmp_path, sink, secrets=None, timeout=120):
    cfg = tmp_path / "config"
    (cfg / "rules").mkdir(parents=True, exist_ok=True)
    (cfg / "sinks.lua").write_text(sink)
    (cfg / "rules" / "10.lua").write_text('route { to = "k" }\n')
    sec = tmp_path / "secrets"
    sec.mkdir(exist_ok=True)
    for name, value in (secrets or {}).items():
        (sec / name).write_text(value)
    r = subprocess.run([BIN, "--config", str(cfg), "--secrets-dir", str(sec), "--from", str(EVENTS),
                        "--cluster-name", "c1"], capture_output=True, text=True, timeout=timeout)
    c = subprocess.run([BIN, "check", "--config", str(cfg), "--secrets-dir", str(sec)],
                       capture_output=True, text=True, timeout=60)
    return r, c


def no_secret(*outputs):
    text = "".join(o.stdout + o.stderr for o in outputs)
    for s in (kafka.USERS["herald"], WRONG, kafka.STORE_PASSWORD):
        assert s not in text, "a secret in herald's output"


def kafka_version(log):
    """herald's librdkafka, as it logs it at start."""
    m = re.search(r"librdkafka (\d+)\.(\d+)\.(\d+)", log)
    assert m, log
    return tuple(int(x) for x in m.groups())


def values(broker, topic, n):
    return [json.loads(r["value"]) for r in broker.consume(topic, n, timeout=30)]


def test_tls_with_a_client_certificate(broker39, tmp_path):
    c = broker39.certs
    r, chk = run(tmp_path, f'sink "k" {{ type = "kafka", brokers = "{broker39.ssl_bootstrap}", topic = "tls",\n'
                           f'  ca_file = "{c / "ca.crt"}", cert_file = "{c / "client.crt"}", key_file = "{c / "client.key"}" }}\n')
    assert r.returncode == 0, r.stderr
    assert chk.returncode == 0, chk.stderr
    got = values(broker39, "tls", 15)
    assert len(got) == 15 and all(v["cluster"] == "c1" for v in got)


@pytest.mark.parametrize("mech", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_scram(broker39, tmp_path, mech):
    topic = "scram-" + mech[-3:]
    r, chk = run(tmp_path, f'sink "k" {{ type = "kafka", brokers = "{broker39.sasl_bootstrap}", topic = "{topic}",\n'
                           f'  sasl = {{ mechanism = "{mech}", user = "herald", password = secret "kafka-password" }} }}\n',
                 secrets={"kafka-password": kafka.USERS["herald"]})
    assert r.returncode == 0, r.stderr
    assert len(values(broker39, topic, 15)) == 15
    if kafka_version(r.stderr) < (2, 6, 1):
        assert "fixed in librdkafka 2.6.1" in r.stderr, r.stderr
    no_secret(r, chk)


def test_wrong_password_is_a_clear_error_without_the_password(broker39, tmp_path):
    r, chk = run(tmp_path, f'sink "k" {{ type = "kafka", brokers = "{broker39.sasl_bootstrap}", topic = "never",\n'
                           '  sasl = { mechanism = "SCRAM-SHA-256", user = "herald", password = secret "kafka-password" } }\n',
                 secrets={"kafka-password": WRONG})
    assert r.returncode == 4, r.stderr            # events left undelivered at the drain deadline
    assert "Authentication failed" in r.stderr and "SCRAM-SHA-256" in r.stderr, r.stderr
    assert "15 events" in r.stderr or "still queued" in r.stderr, r.stderr
    no_secret(r, chk)
