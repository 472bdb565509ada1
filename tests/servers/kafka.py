"""A real single-node Kafka broker (KRaft, broker + controller in one JVM)
on 127.0.0.1, for herald's tests: Kafka 4.1.1, or another release
(Kafka(workdir, version="3.9.1")).

The jars come from Maven Central through tests/servers/build-kafka.sh,
cached outside the repository (HERALD_CACHE, default ~/.cache/herald).
Kafka(workdir) formats storage, starts the node and waits until it answers
a metadata request; stop() and start() keep the same ports and data, so a
test can take the broker away mid-stream and bring it back.

Listeners, each on a free port:
  PLAINTEXT       plaintext, no auth (the consumer's and the controller's
                  inter-broker listener)
  SASL_PLAINTEXT  SCRAM-SHA-256 and SCRAM-SHA-512; the users in `users`
                  are created by kafka-storage's --add-scram at format time
  SSL             a server certificate for 127.0.0.1/localhost signed by a
                  test CA (ca.crt); client certificates are requested, not
                  required (client.crt/client.key are signed by the same CA)

Needs Java 17 and the Python consumer `confluent-kafka`
(deploy/install-deps.sh installs both).
"""
import base64
import os
import pathlib
import signal
import socket
import subprocess
import time
import uuid

SOURCE = pathlib.Path(__file__).resolve().parents[2]
USERS = {"herald": "herald-scram-secret"}
STORE_PASSWORD = "test-store-pass"


def kafka_home(version=None):
    out = subprocess.run(["bash", str(SOURCE / "tests" / "servers" / "build-kafka.sh"), *([version] if version else [])],
                         check=True, capture_output=True, text=True)
    return pathlib.Path(out.stdout.strip().splitlines()[-1])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout=60, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


def make_certs(d):
    """A CA, a server certificate for 127.0.0.1 in a PKCS#12 keystore, and a
    client certificate, all in d (made once)."""
    if (d / "server.p12").exists():
        return d
    d.mkdir(parents=True, exist_ok=True)
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True, cwd=d)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=herald-test-kafka-ca")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN=herald-test-kafka-{name}")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", "san.ext")
    run("pkcs12", "-export", "-in", "server.crt", "-inkey", "server.key", "-out", "server.p12",
        "-name", "server", "-passout", f"pass:{STORE_PASSWORD}")
    return d


class Kafka:
    def __init__(self, workdir, users=USERS, version=None):
        """version: a Kafka release other than build-kafka.sh's default
        (e.g. "3.9.1", for SCRAM with a librdkafka older than 2.6.1)."""
        self.home = kafka_home(version)
        self.dir = pathlib.Path(workdir) / "kafka"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.certs = make_certs(self.dir / "certs")
        self.users = dict(users)
        self.ports = {k: free_port() for k in ("PLAINTEXT", "SASL_PLAINTEXT", "SSL", "CONTROLLER")}
        self.bootstrap = f"127.0.0.1:{self.ports['PLAINTEXT']}"
        self.sasl_bootstrap = f"127.0.0.1:{self.ports['SASL_PLAINTEXT']}"
        self.ssl_bootstrap = f"127.0.0.1:{self.ports['SSL']}"
        self.ca = self.certs / "ca.crt"
        self.proc = None
        self.log = open(self.dir / "kafka.log", "a")
        self._configure()
        self._format()
        self.start()

    def _java(self, main, *args):
        return ["java", "-Xms128m", "-Xmx512m", "-XX:+UseSerialGC",
                f"-Dlog4j2.configurationFile={self.dir / 'log4j2.properties'}",
                "-cp", str(self.home / "lib" / "*"), main, *args]

    def _configure(self):
        p, c = self.ports, self.certs
        listeners = ",".join(f"{k}://127.0.0.1:{v}" for k, v in p.items())
        advertised = ",".join(f"{k}://127.0.0.1:{v}" for k, v in p.items() if k != "CONTROLLER")
        scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{p['CONTROLLER']}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listeners": listeners,
            "advertised.listeners": advertised,
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,"
                                              "SSL:SSL,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.dir / "data"),
            "num.partitions": "1",
            "auto.create.topics.enable": "true",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
            "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config": scram,
            "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": scram,
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": str(c / "server.p12"),
            "ssl.keystore.password": STORE_PASSWORD,
            "ssl.key.password": STORE_PASSWORD,
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(c / "ca.crt"),
            "ssl.client.auth": "requested",
        }
        text = "".join(f"{k}={v}\n" for k, v in props.items())
        (self.dir / "server.properties").write_text(text)
        (self.dir / "log4j2.properties").write_text(
            "appender.out.type=Console\nappender.out.name=out\n"
            "appender.out.layout.type=PatternLayout\n"
            "appender.out.layout.pattern=[%d] %p %m (%c)%n\n"
            "rootLogger.level=INFO\nrootLogger.appenderRef.out.ref=out\n"
            "logger.kafka.name=org.apache.kafka\nlogger.kafka.level=WARN\n"
            "logger.state.name=state.change.logger\nlogger.state.level=WARN\n")

    def _format(self):
        if (self.dir / "data" / "meta.properties").exists():
            return
        cluster = "-"
        while cluster.startswith("-"):   # as Kafka's own ids: never an option's look
            cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        scram = []
        for user, pw in self.users.items():
            for mech in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
                scram += ["--add-scram", f"{mech}=[name={user},password={pw}]"]
        subprocess.run(self._java("kafka.tools.StorageTool", "format", f"--cluster-id={cluster}",
                                  "-c", str(self.dir / "server.properties"), *scram),
                       check=True, stdout=self.log, stderr=subprocess.STDOUT, timeout=120)

    def start(self, timeout=120):
        assert self.proc is None
        self.log.write(f"--- start {time.ctime()}\n")
        self.log.flush()
        self.proc = subprocess.Popen(self._java("kafka.Kafka", str(self.dir / "server.properties")),
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self._ready, timeout=timeout, what="kafka broker")

    def _ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"kafka exited with {self.proc.returncode}, see {self.dir / 'kafka.log'}")
        for port in (self.ports["PLAINTEXT"], self.ports["SASL_PLAINTEXT"], self.ports["SSL"]):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                return False
        from confluent_kafka.admin import AdminClient
        try:
            md = AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=2)
        except Exception:
            return False
        return len(md.brokers) == 1

    def stop(self, timeout=60):
        """Stops the broker (SIGTERM, then SIGKILL past timeout); data stays."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def create_topic(self, name, partitions=1, config=None):
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        fut = admin.create_topics([NewTopic(name, partitions, 1, config=config or {})])
        fut[name].result(timeout=30)

    def consume(self, topic, count, timeout=60):
        """Reads `count` records of topic from the beginning (fewer when the
        deadline passes) and returns them as dicts: partition, offset, key,
        value, headers."""
        from confluent_kafka import Consumer
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"t-{uuid.uuid4()}",
                      "auto.offset.reset": "earliest", "enable.auto.commit": False})
        out = []
        try:
            c.subscribe([topic])
            deadline = time.monotonic() + timeout
            while len(out) < count and time.monotonic() < deadline:
                m = c.poll(0.5)
                if m is None or m.error():
                    continue
                out.append({"partition": m.partition(), "offset": m.offset(), "key": m.key(),
                            "value": m.value(), "headers": m.headers() or []})
        finally:
            c.close()
        return out

    def close(self):
        self.stop()
        self.log.close()


if __name__ == "__main__":
    # Starts a broker in a temporary directory and waits for Ctrl-C or SIGTERM:
    #   python3 tests/servers/kafka.py
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        t0 = time.monotonic()
        k = Kafka(pathlib.Path(d))
        print(f"ready in {time.monotonic() - t0:.1f}s: PLAINTEXT {k.bootstrap} "
              f"SASL_PLAINTEXT {k.sasl_bootstrap} SSL {k.ssl_bootstrap} CA {k.ca}", flush=True)
        stop = lambda *_: None
        for sig in (signal.SIGINT, signal.SIGTERM):   # also when started with &
            signal.signal(sig, stop)
        signal.pause()
        k.close()
