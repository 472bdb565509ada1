"""core/kafka.c against a real broker: tests/unit/test_kafka.c's broker
groups run here with the broker's addresses, and what they produced is read
back with a Python consumer (confluent-kafka)."""
import os
import subprocess
import threading

import kafka

BIN = os.environ.get("HERALD_TEST_KAFKA", "build/tests/test_kafka")


def env_for(broker, topic, n):
    return dict(os.environ, CMOCKA_MESSAGE_OUTPUT="STDOUT",
                HERALD_KAFKA_BOOTSTRAP=broker.bootstrap, HERALD_KAFKA_SASL=broker.sasl_bootstrap,
                HERALD_KAFKA_SSL=broker.ssl_bootstrap, HERALD_KAFKA_CA=str(broker.ca),
                HERALD_KAFKA_SCRAM_USER="herald", HERALD_KAFKA_SCRAM_PASSWORD=kafka.USERS["herald"],
                HERALD_KAFKA_TOPIC=topic, HERALD_KAFKA_TOPIC_AUTH=topic + "-auth",
                HERALD_KAFKA_SMALL_TOPIC=topic + "-small", HERALD_KAFKA_N=str(n))


def check_records(records, topic, n):
    values = [r["value"].decode() for r in records]
    assert len(values) == n, f"{len(values)} records read back, {n} produced"
    assert sorted(values) == [f"{topic}-{i:06d}" for i in range(n)], "lost or duplicated records"
    # Headers as given, keys as given, and each key's records in order.
    last = {}
    for r in sorted(records, key=lambda r: (r["partition"], r["offset"])):
        seq = int(r["value"].decode().rsplit("-", 1)[1])
        assert r["key"] == f"key-{seq % 5}".encode()
        assert r["headers"] == [("cluster", b"c1"), ("seq", r["value"])]
        assert seq > last.get(r["key"], -1), f"{r['key']} out of order"
        last[r["key"]] = seq


def test_produce_tls_scram_and_permanent_failures(broker):
    topic, n = "module-produce", 2000
    broker.create_topic(topic, partitions=3)
    broker.create_topic(topic + "-small", config={"max.message.bytes": "1000"})
    out = subprocess.run([BIN, "produce"], env=env_for(broker, topic, n),
                         capture_output=True, text=True, timeout=600)
    print(out.stdout, out.stderr)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "FAILED" not in out.stdout
    check_records(broker.consume(topic, n), topic, n)
    # TLS, and SCRAM-SHA-256 and -512 unless librdkafka is too old for Kafka 4.
    scram = out.stdout.count("SCRAM ok ")
    assert scram == 2 or "SCRAM skipped" in out.stdout
    assert len(broker.consume(topic + "-auth", 1 + scram)) == 1 + scram
    # The wrong password: a clear error, and no password anywhere.
    auth = [line for line in out.stdout.splitlines() if line.startswith("AUTH ")]
    assert auth and "Authentication failed" in auth[0] and "SCRAM-SHA-256" in auth[0], out.stdout
    assert "wrong-password-4b1d" not in out.stdout + out.stderr
    assert kafka.USERS["herald"] not in out.stdout + out.stderr
    assert "PERMANENT msg_size_too_large" in out.stdout


def test_broker_restart_mid_stream_loses_and_duplicates_nothing(broker):
    topic, n = "module-restart", 3000
    broker.create_topic(topic, partitions=3)
    proc = subprocess.Popen([BIN, "restart"], env=env_for(broker, topic, n), text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []
    seen = threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("STOP ") or line.startswith("DOWN "):
                seen.set()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert seen.wait(120), "".join(lines)
        seen.clear()
        broker.stop()   # while records are produced and in flight
        proc.stdin.write("STOPPED\n")
        proc.stdin.flush()
        assert seen.wait(120), "".join(lines)   # the rest produced into the down broker
        assert any(line.startswith("ERROR ") for line in lines), "".join(lines)
        broker.start()
        assert proc.wait(timeout=300) == 0, "".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.join(10)
    out = "".join(lines)
    print(out)
    assert "[  PASSED  ] 1 test(s)." in out
    check_records(broker.consume(topic, n + 10, timeout=30), topic, n)
