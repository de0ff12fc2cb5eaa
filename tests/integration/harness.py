"""Helpers for Baton's Kafka integration tests.

Covers the broker (tests/kafka/kafka.sh), per-test topics, the baton process, producing inputs,
reading outputs and scraping /metrics. The tests use confluent-kafka as a client that is
independent of Baton's own Kafka code.

Every wait here polls until a deadline. There are no fixed sleeps.
"""
from __future__ import annotations

import dataclasses
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Iterable, Optional

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

REPO_ROOT = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO_ROOT / "tests" / "kafka" / "kafka.sh"

RULE = "tier1-email-opens-and-pricing"
JSON_CT = "application/json"
PROTO_CT = "application/x-protobuf"
PARTITIONS = 3
# What README.md ("Topics to create") asks of the state changelog topic.
CHANGELOG_CONFIG = {"cleanup.policy": "compact", "max.message.bytes": "8388608"}


def baton_bin() -> Path:
    """The baton binary: $BATON_BIN, or build/services/baton/baton. Relative paths are taken
    from the repo root."""
    path = Path(os.environ.get("BATON_BIN", "build/services/baton/baton"))
    return path if path.is_absolute() else REPO_ROOT / path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stable_hash64(*parts: str) -> int:
    """Mirrors baton::core::StableHash64: FNV-1a over the parts, with 0xff after each part."""
    h, prime, mask = 14695981039346656037, 1099511628211, (1 << 64) - 1
    for part in parts:
        for byte in part.encode():
            h = ((h ^ byte) * prime) & mask
        h = ((h ^ 0xFF) * prime) & mask
    return h


def handoff_id(account_id: str, trigger_event_id: str, rule: str = RULE) -> str:
    """Mirrors baton::core::HandoffId, the id of the handoff that `trigger_event_id` caused."""
    return "ho-%s-%016x" % (account_id, stable_hash64(account_id, rule, trigger_event_id))


def wait_until(what: str, predicate: Callable[[], object], timeout: float,
               interval: float = 0.1, describe: Optional[Callable[[], str]] = None):
    """Polls `predicate` until it returns a truthy value, and returns that value. Raises
    AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            detail = f": {describe()}" if describe else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


# ------------------------------------------------------------------------------------ broker --


class Kafka:
    """A single-node broker started by tests/kafka/kafka.sh in `directory`."""

    def __init__(self, directory: Path, port: int):
        self.dir = directory
        self.port = port
        self.bootstrap = f"127.0.0.1:{port}"
        self._admin: Optional[AdminClient] = None

    @staticmethod
    def pick_port() -> int:
        out = subprocess.run(["bash", str(KAFKA_SH), "free-port"], check=True,
                             capture_output=True, text=True, timeout=30)
        return int(out.stdout.strip())

    def start(self) -> None:
        # A cold jar cache makes `start` fetch the jars with Maven first, hence the long timeout.
        result = subprocess.run(["bash", str(KAFKA_SH), "start", str(self.dir), str(self.port)],
                                capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            raise RuntimeError(f"kafka.sh start failed (exit {result.returncode}):\n"
                               f"{result.stdout}\n{result.stderr}")

    def stop(self) -> None:
        self._admin = None
        subprocess.run(["bash", str(KAFKA_SH), "stop", str(self.dir)],
                       capture_output=True, text=True, timeout=120)

    @property
    def admin(self) -> AdminClient:
        if self._admin is None:
            self._admin = AdminClient({"bootstrap.servers": self.bootstrap})
        return self._admin

    def create_topics(self, names: Iterable[str], partitions: int = PARTITIONS,
                      compacted: Iterable[str] = ()) -> None:
        """Creates the topics, those in `compacted` with cleanup.policy=compact. Returns once
        every partition has a leader."""
        names = list(names)
        compacted = set(compacted)
        futures = self.admin.create_topics(
            [NewTopic(n, num_partitions=partitions, replication_factor=1,
                      config=CHANGELOG_CONFIG if n in compacted else {})
             for n in names],
            operation_timeout=30, request_timeout=30)
        for name, future in futures.items():
            future.result(timeout=30)

        def ready() -> bool:
            md = self.admin.list_topics(timeout=5)
            for n in names:
                t = md.topics.get(n)
                if (t is None or t.error is not None or len(t.partitions) != partitions
                        or any(p.leader < 0 for p in t.partitions.values())):
                    return False
            return True

        wait_until(f"leaders for topics {names}", ready, timeout=30, interval=0.05)

    def restart(self) -> None:
        """Stops the broker and starts it again with its data: a broker outage."""
        self.stop()
        result = subprocess.run(["bash", str(KAFKA_SH), "restart", str(self.dir), str(self.port)],
                                capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"kafka.sh restart failed (exit {result.returncode}):\n"
                               f"{result.stdout}\n{result.stderr}")

    def committed(self, group_id: str, topics: Iterable[str]) -> int:
        """The sum of `group_id`'s committed offsets over every partition of `topics`."""
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group_id,
                      "enable.auto.commit": False, "log.connection.close": False})
        try:
            parts = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
            return sum(max(tp.offset, 0) for tp in c.committed(parts, timeout=10))
        finally:
            c.close()

    def read_all(self, topics: Iterable[str]) -> dict[str, list["Record"]]:
        """Every record of `topics` a read_committed consumer sees, read up to the current end
        of each partition."""
        topics = list(topics)
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "it-read-all",
                      "isolation.level": "read_committed", "enable.auto.commit": False,
                      "enable.partition.eof": True, "log.connection.close": False})
        try:
            parts = [TopicPartition(t, p, OFFSET_BEGINNING) for t in topics
                     for p in range(PARTITIONS)]
            pending = {(tp.topic, tp.partition) for tp in parts}
            c.assign(parts)
            out: dict[str, list[Record]] = {t: [] for t in topics}
            deadline = time.monotonic() + 120
            while pending:
                assert time.monotonic() < deadline, f"read_all: no end reached for {pending}"
                msg = c.poll(0.5)
                if msg is None:
                    continue
                if msg.error():
                    assert msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
                    pending.discard((msg.topic(), msg.partition()))
                    continue
                out[msg.topic()].append(Record(msg.topic(), msg.partition(), msg.offset(),
                                               msg.key(), msg.value(), list(msg.headers() or [])))
            return out
        finally:
            c.close()

    def broker_log_tail(self, lines: int = 40) -> str:
        return tail(self.dir / "broker.log", lines)


def tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"(cannot read {path}: {e})"
    return "\n".join(text.splitlines()[-lines:])


@dataclasses.dataclass(frozen=True)
class Topics:
    engagement: str
    crm: str
    routed_leads: str
    alerts: str
    deadletter: str
    matched: str
    unmatched: str
    changelog: str

    @classmethod
    def with_suffix(cls, suffix: str) -> "Topics":
        return cls(engagement=f"engagement-{suffix}", crm=f"crm-{suffix}",
                   routed_leads=f"routed-leads-{suffix}", alerts=f"alerts-{suffix}",
                   deadletter=f"deadletter-{suffix}", matched=f"matched-{suffix}",
                   unmatched=f"unmatched-{suffix}", changelog=f"changelog-{suffix}")

    def all(self) -> list[str]:
        return [self.engagement, self.crm, self.routed_leads, self.alerts, self.deadletter,
                self.matched, self.unmatched, self.changelog]

    def outputs(self) -> list[str]:
        return [self.routed_leads, self.alerts, self.deadletter, self.unmatched]


# ------------------------------------------------------------------------------------- baton --


class Metrics:
    """Parsed Prometheus text exposition: a list of (name, labels, value) samples."""

    _LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$")
    _LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')

    def __init__(self, text: str):
        self.text = text
        self.samples: list[tuple[str, dict[str, str], float]] = []
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = self._LINE.match(line)
            if not m:
                continue
            labels = {}
            for lm in self._LABEL.finditer(m.group(2) or ""):
                labels[lm.group(1)] = (lm.group(2).replace(r"\"", '"').replace(r"\n", "\n")
                                       .replace("\\\\", "\\"))
            try:
                value = float(m.group(3))
            except ValueError:
                continue
            self.samples.append((m.group(1), labels, value))

    def get(self, name: str, **labels: str) -> Optional[float]:
        """The sum of the samples of `name` whose labels include `labels`, or None if there
        are none."""
        found = [v for n, ls, v in self.samples
                 if n == name and all(ls.get(k) == v2 for k, v2 in labels.items())]
        return sum(found) if found else None

    def value(self, name: str, **labels: str) -> float:
        """Like get(), but 0 when there is no sample."""
        v = self.get(name, **labels)
        return 0.0 if v is None else v

    def dump(self, prefix: str = "baton_") -> str:
        return "\n".join(l for l in self.text.splitlines() if l.startswith(prefix))


class Baton:
    """The baton binary as a subprocess. Every run (start ... stop) appends to one log file."""

    def __init__(self, kafka: Kafka, topics: Topics, group_id: str, data_dir: Path,
                 log_path: Path, extra_args: Iterable[str] = ()):
        self.kafka = kafka
        self.topics = topics
        self.group_id = group_id
        self.data_dir = data_dir
        self.log_path = log_path
        self.extra_args = list(extra_args)
        self.proc: Optional[subprocess.Popen] = None
        self.metrics_port: Optional[int] = None
        self.runs = 0

    def command(self) -> list[str]:
        t = self.topics
        return [
            str(baton_bin()),
            "--brokers", self.kafka.bootstrap,
            "--group-id", self.group_id,
            "--engagement-topic", t.engagement,
            "--crm-topic", t.crm,
            "--routed-leads-topic", t.routed_leads,
            "--alerts-topic", t.alerts,
            "--deadletter-topic", t.deadletter,
            "--matched-topic", t.matched,
            "--unmatched-topic", t.unmatched,
            "--changelog-topic", t.changelog,
            "--data-dir", str(self.data_dir),
            "--metrics-address", f"127.0.0.1:{self.metrics_port}",
            "--commit-interval-ms", "100",
            *self.extra_args,
        ]

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, ready_timeout: float = 60, wait: bool = True) -> "Baton":
        """Starts baton and, with `wait`, waits until it owns all 9 input partitions."""
        assert not self.running, "baton is already running"
        self.runs += 1
        self.metrics_port = free_port()
        cmd = self.command()
        with open(self.log_path, "ab") as log:
            log.write(f"===== run {self.runs}: {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        if wait:
            self.wait_ready(ready_timeout)
        return self

    def run_to_exit(self, timeout: float = 15) -> subprocess.CompletedProcess:
        """Runs baton in the foreground, for a run that is expected to end by itself (e.g. a
        bad flag or rule file), with stdout and stderr captured separately. Both are also
        appended to the log. Fails if baton is still running after `timeout` s (it is killed)."""
        assert not self.running, "baton is already running"
        self.runs += 1
        self.metrics_port = free_port()
        cmd = self.command()
        try:
            result = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                    text=True, cwd=REPO_ROOT, timeout=timeout)
            out, err, ended = result.stdout, result.stderr, True
        except subprocess.TimeoutExpired as e:  # subprocess.run has killed it
            out, err, ended = e.stdout, e.stderr, False
            result = None
        as_text = lambda b: b.decode(errors="replace") if isinstance(b, bytes) else (b or "")
        with open(self.log_path, "a") as log:
            log.write(f"===== run {self.runs}: {' '.join(cmd)}\n--- stdout\n{as_text(out)}"
                      f"--- stderr\n{as_text(err)}")
        assert ended, (f"baton still running {timeout:.0f}s after start (killed); "
                       f"log tail:\n{self.log_tail(40)}")
        return result

    def kill(self) -> None:
        """SIGKILL: a crash at whatever point baton has reached."""
        self._check_alive("before kill -9")
        proc, self.proc = self.proc, None
        proc.kill()
        proc.wait()

    def send_signal(self, sig: int) -> None:
        """Sends `sig` to the running baton."""
        self._check_alive(f"before signal {sig}")
        self.proc.send_signal(sig)

    def wait_ready(self, timeout: float = 60) -> None:
        want = 3 * PARTITIONS  # engagement + crm + the internal matched topic

        def ready() -> bool:
            self._check_alive("while starting")
            m = self.try_metrics()
            return m is not None and m.get("baton_assigned_partitions") == want

        wait_until(f"baton_assigned_partitions == {want}", ready, timeout, interval=0.2,
                   describe=lambda: f"last scrape:\n{self._last_scrape_dump()}\n"
                                    f"log tail:\n{self.log_tail(30)}")

    def _last_scrape_dump(self) -> str:
        m = self.try_metrics()
        return "(no /metrics answer)" if m is None else m.dump("baton_assigned")

    def _check_alive(self, when: str) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"baton exited with code {self.proc.returncode} {when}; "
                                 f"log tail:\n{self.log_tail(40)}")

    def stop(self, timeout: float = 15, check: bool = True) -> Optional[int]:
        """SIGTERM, wait up to `timeout` s. With `check`, asserts a clean exit (code 0); a
        baton that does not exit in time is SIGKILLed and fails the check."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                if check:
                    raise AssertionError(f"baton did not exit within {timeout:.0f}s of SIGTERM "
                                         f"(killed); log tail:\n{self.log_tail(40)}")
                return proc.returncode
        if check:
            assert proc.returncode == 0, (f"baton exited with code {proc.returncode}; "
                                          f"log tail:\n{self.log_tail(40)}")
        return proc.returncode

    def try_metrics(self) -> Optional[Metrics]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",
                                        timeout=2) as r:
                return Metrics(r.read().decode("utf-8", "replace"))
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def metrics(self) -> Metrics:
        m = self.try_metrics()
        assert m is not None, f"baton's /metrics on port {self.metrics_port} does not answer"
        return m

    def wait_metric(self, name: str, at_least: float, timeout: float = 30, **labels: str) -> Metrics:
        """Waits until metric `name{labels}` is at least `at_least`, and returns that scrape."""

        def reached() -> Optional[Metrics]:
            self._check_alive("while waiting for a metric")
            m = self.try_metrics()
            return m if m is not None and m.value(name, **labels) >= at_least else None

        return wait_until(f"{name}{labels} >= {at_least}", reached, timeout, interval=0.1,
                          describe=lambda: self._last_scrape_dump_all())

    def wait_metrics(self, what: str, predicate: Callable[[Metrics], object],
                     timeout: float = 30) -> Metrics:
        """Waits until `predicate(scrape)` is truthy for a /metrics scrape, and returns that
        scrape. Fails early if baton exits."""

        def reached() -> Optional[Metrics]:
            self._check_alive(f"while waiting for {what}")
            m = self.try_metrics()
            return m if m is not None and predicate(m) else None

        return wait_until(what, reached, timeout, interval=0.1,
                          describe=lambda: self._last_scrape_dump_all())

    def wait_consumed(self, topic: str, count: int, timeout: float = 30) -> Metrics:
        """Waits until baton has consumed and committed `count` records of `topic` in this run.
        Outputs are published before a commit is counted, so they are all on the broker by
        then."""
        return self.wait_metric("baton_events_consumed_total", count, timeout, topic=topic)

    def _last_scrape_dump_all(self) -> str:
        m = self.try_metrics()
        return "(no /metrics answer)" if m is None else "last scrape:\n" + m.dump()

    def log_tail(self, lines: int = 200) -> str:
        return tail(self.log_path, lines)


# --------------------------------------------------------------------------------- producing --


@dataclasses.dataclass
class Delivery:
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    partition: int = -1
    offset: int = -1
    error: Optional[KafkaError] = None


class InputProducer:
    """Produces input records keyed by account id with the murmur2 partitioner, as README.md
    ("Partitioning") asks of producers: equal keys land in the same partition number of each
    topic, the same one Baton's re-keyed (matched) engagement goes to."""

    def __init__(self, bootstrap: str):
        self._p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                            "partitioner": "murmur2_random",
                            "linger.ms": 5, "log.connection.close": False})
        self._pending: list[Delivery] = []

    def produce(self, topic: str, key: str, value: bytes,
                headers: Iterable[tuple[str, str | bytes]] = ()) -> Delivery:
        hs = [(k, v.encode() if isinstance(v, str) else v) for k, v in headers]
        d = Delivery(topic, key.encode(), value, hs)

        def on_delivery(err, msg, d=d):
            d.error = err
            if err is None:
                d.partition, d.offset = msg.partition(), msg.offset()

        self._p.produce(topic, key=d.key, value=value, headers=hs or None, on_delivery=on_delivery)
        self._pending.append(d)
        return d

    def flush(self, timeout: float = 30) -> None:
        """Waits for every delivery report. Raises if any record was not delivered."""
        remaining = self._p.flush(timeout)
        pending, self._pending = self._pending, []
        assert remaining == 0, f"{remaining} records not delivered within {timeout}s"
        failed = [d for d in pending if d.error is not None or d.offset < 0]
        assert not failed, f"delivery failed: {[(d.topic, d.error) for d in failed]}"


# ---------------------------------------------------------------------------------- consuming --


@dataclasses.dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: Optional[bytes]
    value: Optional[bytes]
    headers: list[tuple[str, Optional[bytes]]]

    def header(self, name: str) -> Optional[str]:
        """The last value of header `name`, decoded; None when absent."""
        found = [v for k, v in self.headers if k == name]
        if not found or found[-1] is None:
            return None
        return found[-1].decode("utf-8", "replace")

    def header_list(self) -> list[tuple[str, str]]:
        return [(k, "" if v is None else v.decode("utf-8", "replace")) for k, v in self.headers]


class OutputReader:
    """Reads the output topics from the beginning, as a read_committed consumer in a fresh
    group. It is assigned every partition directly, so there is no group join to wait for.
    Records accumulate across calls."""

    def __init__(self, bootstrap: str, topics: list[str], group_id: str):
        self.topics = topics
        self._c = Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": group_id,
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            "fetch.wait.max.ms": 100,
            "log.connection.close": False,
        })
        md = self._c.list_topics(timeout=10)
        assignment = []
        for t in topics:
            assert t in md.topics and md.topics[t].error is None, f"no topic {t}"
            assignment += [TopicPartition(t, p, OFFSET_BEGINNING) for p in md.topics[t].partitions]
        self._c.assign(assignment)
        self.records: dict[str, list[Record]] = {t: [] for t in topics}

    def _poll(self, until: float) -> None:
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return
            msg = self._c.poll(min(left, 0.2))
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError(f"consumer error: {msg.error()}")
            self.records[msg.topic()].append(Record(
                msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value(),
                list(msg.headers() or [])))

    def counts(self) -> dict[str, int]:
        return {t: len(rs) for t, rs in self.records.items()}

    def read(self, expected: dict[str, int], timeout: float = 30,
             settle: float = 2.0) -> dict[str, list[Record]]:
        """Reads until each topic in `expected` has at least that many records in total (or
        `timeout` passes), then reads on for `settle` seconds so that an extra record shows up.
        Returns every record read so far. The caller asserts the exact counts."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(len(self.records[t]) >= n for t, n in expected.items()):
                break
            self._poll(min(deadline, time.monotonic() + 0.25))
        self._poll(time.monotonic() + settle)
        return self.records

    def close(self) -> None:
        self._c.close()


# ------------------------------------------------------------------------------------- inputs --


class Inputs:
    """Builds baton.v1 input events with times relative to a base a few hours before now
    (whole seconds, so expected durations are exact), and sends them as JSON or protobuf."""

    def __init__(self, pb, producer: InputProducer, topics: Topics, hours_ago: float = 3):
        self.pb = pb
        self.ev = pb.events
        self.producer = producer
        self.topics = topics
        self.base = int(time.time() - hours_ago * 3600)

    def at(self, minutes: float) -> int:
        """Unix seconds, `minutes` after the base."""
        return self.base + int(minutes * 60)

    def _common(self, msg, event_id: str, minutes: float, source: str):
        if event_id:
            msg.event_id = event_id
        msg.event_time.FromSeconds(self.at(minutes))
        msg.source = source
        return msg

    def account(self, event_id: str, minutes: float, account_id: str, name: str, tier: str,
                ae: str = "", sdr: str = "", marketing: str = "", selection_reason: str = "",
                icp_fit: float = 0, stage: str = ""):
        e = self._common(self.ev.CrmEvent(), event_id, minutes, "salesforce")
        a = e.account_upsert
        a.account_id, a.name, a.tier = account_id, name, self.ev.Tier.Value(tier)
        a.domains.append(f"{account_id.removeprefix('acc-')}.example")
        a.owners.ae_id, a.owners.sdr_id, a.owners.marketing_owner_id = ae, sdr, marketing
        a.selection_reason, a.icp_fit, a.stage = selection_reason, icp_fit, stage
        return e

    def contact(self, event_id: str, minutes: float, account_id: str, contact_id: str,
                email: str, full_name: str, title: str, role: str):
        e = self._common(self.ev.CrmEvent(), event_id, minutes, "salesforce")
        c = e.contact_upsert
        c.contact_id, c.account_id, c.email = contact_id, account_id, email
        c.full_name, c.title, c.role = full_name, title, self.ev.BuyingGroupRole.Value(role)
        return e

    def engagement(self, event_id: str, minutes: float, account_id: str, type_: str,
                   contact_id: str = "", contact_email: str = "", url: str = "",
                   campaign_id: str = "", content_id: str = ""):
        e = self._common(self.ev.EngagementEvent(), event_id, minutes, "marketo")
        e.account_id, e.type = account_id, self.ev.EngagementType.Value(type_)
        e.contact_id, e.contact_email, e.url = contact_id, contact_email, url
        e.campaign_id, e.content_id = campaign_id, content_id
        return e

    def sales_activity(self, event_id: str, minutes: float, account_id: str, rep_id: str,
                       kind: str = "CALL", contact_id: str = "", automated: bool = False):
        e = self._common(self.ev.CrmEvent(), event_id, minutes, "salesforce")
        a = e.sales_activity
        a.account_id, a.rep_id, a.contact_id = account_id, rep_id, contact_id
        a.kind, a.automated = self.ev.ActivityKind.Value(kind), automated
        return e

    def open(self, event_id: str, minutes: float, account_id: str, contact_id: str = "",
             contact_email: str = "", campaign_id: str = "q4-nurture"):
        return self.engagement(event_id, minutes, account_id, "EMAIL_OPEN", contact_id,
                               contact_email, campaign_id=campaign_id)

    def visit(self, event_id: str, minutes: float, account_id: str, contact_id: str, url: str):
        return self.engagement(event_id, minutes, account_id, "PAGE_VISIT", contact_id, url=url)

    @staticmethod
    def encode(msg, fmt: str) -> tuple[bytes, list[tuple[str, str]]]:
        from google.protobuf import json_format
        if fmt == "json":
            text = json_format.MessageToJson(msg, preserving_proto_field_name=True)
            return text.encode(), [("content-type", JSON_CT)]
        assert fmt == "protobuf", fmt
        return msg.SerializeToString(), [("content-type", PROTO_CT)]

    def send(self, msg, fmt: str, extra_headers: Iterable[tuple[str, str]] = ()) -> Delivery:
        """Produces one event to its topic, keyed by its account id. Call flush() to wait."""
        if isinstance(msg, self.ev.EngagementEvent):
            topic, key = self.topics.engagement, msg.account_id
        else:
            topic = self.topics.crm
            key = getattr(msg, msg.WhichOneof("payload")).account_id
        value, headers = self.encode(msg, fmt)
        return self.producer.produce(topic, key, value, headers + list(extra_headers))

    def send_raw(self, topic: str, key: str, value: bytes,
                 headers: Iterable[tuple[str, str]]) -> Delivery:
        return self.producer.produce(topic, key, value, list(headers))

    def flush(self) -> None:
        self.producer.flush()


def decode_output(pb, record: Record):
    """Decodes a RoutedLead or Alert by its baton-output-type and content-type headers."""
    from google.protobuf import json_format
    kind = record.header("baton-output-type")
    cls = {"RoutedLead": pb.outputs.RoutedLead, "Alert": pb.outputs.Alert}[kind]
    msg = cls()
    if record.header("content-type") == JSON_CT:
        json_format.Parse(record.value.decode(), msg)
    else:
        msg.ParseFromString(record.value)
    return msg
