"""Exactly-once under faults, against a real broker (README.md, "Guarantees").

In the style of Kafka's own exactly-once system test: a generated scenario of at least 100,000
input events is processed once without faults (the golden run); then it is produced again, as a
live stream into fresh topics, while Baton is killed with SIGKILL at random points and restarted
(and once stopped with SIGTERM mid-run); and again across a broker restart. A read_committed
consumer must then see the same outputs, by id and payload, with no duplicate and nothing
missing.

The scenario keeps the outputs a function of each account's own events, so that two runs are
comparable: every event names its account, and the rules arm no wall-clock timers.
"""
from __future__ import annotations

import collections
import os
import random
import re
import threading
import time
import uuid
from typing import Callable

import pytest

import harness

EVENTS = int(os.environ.get("BATON_EOS_EVENTS", "100000"))
KILLS = int(os.environ.get("BATON_EOS_KILLS", "10"))
SEED = 20261123
ACCOUNTS = 2000
CONTACTS = 4
BASE = int(time.time()) - 3 * 3600
TIERS = ["TIER_1"] * 4 + ["TIER_2"] * 3 + ["TIER_3"] * 2 + ["NOT_ABM"]


def generate(inputs: harness.Inputs, rng: random.Random, total: int, rate: float = 0,
             between: Callable[[int], None] = lambda n: None) -> int:
    """Sends `total` input records: the accounts and contacts first, then calls `between` with
    their count, then sends Zipf-skewed engagement with CRM sales activity, about 2% re-sent
    duplicates and 1% invalid records, at `rate` records per second (0: as fast as possible).
    The same seed gives the same records in the same order per partition. Returns the count.

    `between` lets a run wait until Baton has committed the accounts: the engagement and CRM
    topics are consumed side by side, and a handoff depends on whether the account's tier was
    known when its engagement arrived."""
    sent = 0
    sent_msgs = []
    start = 0.0

    def pace():
        if rate and sent % 250 == 0:
            ahead = start + sent / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)

    def send(msg, fmt=None):
        nonlocal sent
        inputs.send(msg, fmt or ("json" if rng.random() < 0.1 else "protobuf"))
        sent_msgs.append(msg)
        sent += 1
        pace()

    tiers = []
    for a in range(ACCOUNTS):
        acc = f"acc-{a:05d}"
        tiers.append(rng.choice(TIERS))
        send(inputs.account(f"a-{acc}", 0, acc, f"Account {a}", tiers[-1],
                            ae=f"ae-{a % 40}", sdr=f"sdr-{a % 25}", marketing="mkt-1"))
        for c in range(CONTACTS):
            send(inputs.contact(f"c-{acc}-{c}", 1, acc, f"{acc}-c{c}", f"p{c}@{acc}.example",
                                f"Person {c}", "VP Engineering", "DECISION_MAKER"))
    inputs.flush()
    between(sent)
    start = time.monotonic() - sent / rate if rate else 0.0
    weights = [1.0 / (rank + 1) ** 1.1 for rank in range(ACCOUNTS)]
    remaining = total - sent
    minute = 2.0
    step = 160.0 / remaining  # event times rise through the last ~3 hours
    picks = rng.choices(range(ACCOUNTS), weights=weights, k=remaining)
    for i, a in enumerate(picks):
        if sent >= total:
            break
        minute += step
        acc = f"acc-{a:05d}"
        contact = f"{acc}-c{rng.randrange(CONTACTS)}"
        eid = f"e-{i}"
        roll = rng.random()
        if roll < 0.02 and sent_msgs:
            send(rng.choice(sent_msgs[-5000:]))  # a re-sent duplicate
        elif roll < 0.03:
            bad = rng.randrange(4)
            if bad == 0:
                inputs.send_raw(inputs.topics.engagement, acc, b'{"event_id": "broken", ',
                                [("content-type", harness.JSON_CT)])
                sent += 1
                pace()
            elif bad == 1:
                m = inputs.open("", minute, acc, contact)  # no event_id
                send(m)
            elif bad == 2:
                m = inputs.open(eid, minute, acc, contact)
                m.event_time.FromSeconds(7258118400)  # the year 2200
                send(m)
            else:
                inputs.send_raw(inputs.topics.engagement, acc, b"\xff\x00garbage",
                                [("content-type", harness.PROTO_CT)])
                sent += 1
                pace()
        elif roll < 0.05 and tiers[a] != "TIER_1":
            # Sales touches are copied into a routed lead, and the CRM topic is read beside
            # the engagement topic: keep them off accounts that are handed off.
            send(inputs.sales_activity(eid, minute, acc, f"ae-{a % 40}", rng.choice(
                ["CALL", "EMAIL", "MEETING"]), contact))
        elif roll < 0.55:
            send(inputs.open(eid, minute, acc, contact))
        elif roll < 0.75:
            url = ("https://vendor.example/pricing" if rng.random() < 0.3
                   else f"https://vendor.example/blog/{rng.randrange(50)}")
            send(inputs.visit(eid, minute, acc, contact, url))
        elif roll < 0.9:
            send(inputs.engagement(eid, minute, acc, "EMAIL_CLICK", contact,
                                   campaign_id="q4-nurture"))
        else:
            send(inputs.engagement(eid, minute, acc, "CONTENT_DOWNLOAD", contact,
                                   content_id=f"ebook-{rng.randrange(5)}"))
    inputs.flush()
    return sent


class Run:
    """One processing of the scenario, with its own topics, group and data directory. The
    inputs are the scenario's records, produced in the same order, so each input partition
    holds the same records at the same offsets in every run."""

    def __init__(self, pb, kafka: harness.Kafka, directory, name: str,
                 extra_args: tuple[str, ...] = ()):
        self.kafka = kafka
        self.group = f"g-{name}-{uuid.uuid4().hex[:8]}"
        self.topics = harness.Topics.with_suffix(f"{name}-{uuid.uuid4().hex[:8]}")
        kafka.create_topics(self.topics.all(), harness.PARTITIONS,
                            compacted=[self.topics.changelog])
        directory.mkdir(parents=True, exist_ok=True)
        self.baton = harness.Baton(kafka, self.topics, self.group, directory / "data",
                                   directory / "baton.log", extra_args)
        self.inputs = harness.Inputs(pb, harness.InputProducer(kafka.bootstrap), self.topics)
        self.inputs.base = BASE  # the same event times in every run
        self.events = EVENTS
        self._feeder: threading.Thread | None = None
        self._fed: list[int] = []

    def feed(self, rate: float = 0) -> None:
        """Produces the scenario, waiting until the accounts are committed before the
        engagement follows: at once (rate 0), or in the background at `rate`/s. Baton must be
        running."""
        def accounts_committed(n: int) -> None:
            harness.wait_until(f"{n} account records committed", lambda: self.progress() >= n,
                               timeout=120, interval=0.1)

        work = lambda: self._fed.append(generate(self.inputs, random.Random(SEED), EVENTS, rate,
                                                 accounts_committed))
        if not rate:
            work()
            return
        self._feeder = threading.Thread(target=work, daemon=True)
        self._feeder.start()

    def wait_fed(self) -> None:
        if self._feeder is not None:
            self._feeder.join(300)
        assert self._fed == [EVENTS], f"the scenario was not fully produced: {self._fed}"

    def progress(self) -> int:
        return self.kafka.committed(self.group, [self.topics.engagement, self.topics.crm])

    def finished(self) -> bool:
        return self.progress() >= self.events

    def wait_finished(self, timeout: float = 240) -> None:
        self.wait_fed()
        harness.wait_until("every input committed", self.finished, timeout, interval=0.5,
                           describe=lambda: f"{self.progress()} of {self.events}; log:\n"
                                            f"{self.baton.log_tail(30)}")

    def outputs(self, duplicates_allowed: bool = False) -> dict[str, dict[str, tuple]]:
        """Per output kind: id -> (key, value, output type). Fails on a duplicate id, or (when
        `duplicates_allowed`) on a duplicate id whose record differs."""
        t = self.topics
        read = self.kafka.read_all([t.routed_leads, t.alerts, t.deadletter])
        out: dict[str, dict[str, tuple]] = {}
        for kind, topic in (("routed_leads", t.routed_leads), ("alerts", t.alerts),
                            ("deadletter", t.deadletter)):
            seen: dict[str, tuple] = {}
            dups = collections.Counter()
            for r in read[topic]:
                if kind == "deadletter":  # identified by its input's place
                    source = r.header("baton-source-topic")
                    role = {t.engagement: "engagement", t.crm: "crm"}.get(source, source)
                    rid = ":".join([role, r.header("baton-source-partition") or "",
                                    r.header("baton-source-offset") or ""])
                else:
                    rid = r.header("baton-output-id")
                    assert rid, f"{topic} record without baton-output-id"
                record = (r.key, r.value, r.header("baton-output-type"))
                if rid in seen:
                    dups[rid] += 1
                    assert seen[rid] == record, f"{kind}: {rid} republished differently"
                seen[rid] = record
            assert duplicates_allowed or not dups, \
                f"{kind}: duplicates seen by a read_committed consumer: {dups.most_common(5)}"
            out[kind] = seen
        return out


def assert_equivalent(golden: dict, faulty: dict) -> int:
    compared = 0
    for kind, want in golden.items():
        got = faulty[kind]
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        assert not missing, f"{kind}: {len(missing)} missing, e.g. {missing[:5]}"
        assert not extra, f"{kind}: {len(extra)} unexpected, e.g. {extra[:5]}"
        differing = [i for i in want if want[i] != got[i]]
        assert not differing, f"{kind}: {len(differing)} differ, e.g. {differing[:3]}"
        compared += len(want)
    return compared


@pytest.fixture(scope="module")
def golden(pb, kafka, tmp_path_factory) -> dict:
    run = Run(pb, kafka, tmp_path_factory.mktemp("golden"), "golden")
    run.baton.start()
    run.feed()
    try:
        run.wait_finished()
    finally:
        run.baton.stop()
    out = run.outputs()
    # The scenario must exercise what it claims to: handoffs, their alerts and dead letters.
    assert len(out["routed_leads"]) >= 200, {k: len(v) for k, v in out.items()}
    assert len(out["alerts"]) >= len(out["routed_leads"])
    assert len(out["deadletter"]) >= 500
    print(f"golden run: {EVENTS} events -> "
          f"{ {k: len(v) for k, v in out.items()} }")
    return out


@pytest.mark.parametrize("guarantee", ["exactly-once", "at-least-once"])
def test_kill_9_at_random_points_changes_nothing(pb, kafka, golden, tmp_path, guarantee):
    """Exactly-once: the golden run's outputs, each once. At-least-once: the same outputs, some
    perhaps more than once, each copy identical (same id, key and payload)."""
    run = Run(pb, kafka, tmp_path, "kill9", ("--guarantee", guarantee))
    rng = random.Random(SEED + 1)
    run.baton.start()
    run.feed(rate=EVENTS / 40)  # a live stream of about 40 s
    kills, restarts = 0, []
    while kills < KILLS:
        time.sleep(rng.uniform(0.3, 2.0))
        assert not run.finished(), f"the scenario finished after only {kills} kills"
        run.baton.kill()
        kills += 1
        t0 = time.monotonic()
        if kills % 3 == 0:  # a kill during start-up: joining, registering, restoring
            run.baton.start(wait=False)
            time.sleep(rng.uniform(0.0, 1.0))
            run.baton.kill()
            kills += 1
        run.baton.start()
        restarts.append(time.monotonic() - t0)
    # SIGTERM mid-run: the batch in hand commits and baton exits cleanly within a few seconds.
    time.sleep(0.5)
    t0 = time.monotonic()
    assert run.baton.stop(timeout=5) == 0
    sigterm_exit = time.monotonic() - t0
    run.baton.start()
    run.wait_finished()
    run.baton.stop()
    compared = assert_equivalent(golden, run.outputs(guarantee == "at-least-once"))
    restored = re.findall(r"restored (\d+) changelog records", run.baton.log_tail(100000))
    restarts.sort()
    print(f"kill -9 ({guarantee}): {kills} kills, {EVENTS} events, {compared} outputs compared; "
          f"kill to ready again: {restarts}; SIGTERM exit {sigterm_exit:.2f}s; "
          f"changelog tails restored: {restored}")


def test_a_broker_restart_mid_run_changes_nothing(pb, kafka, golden, tmp_path):
    run = Run(pb, kafka, tmp_path, "broker")
    run.baton.start()
    run.feed(rate=EVENTS / 20)
    harness.wait_until("a third of the inputs committed",
                       lambda: run.progress() >= EVENTS // 3, timeout=120, interval=0.2)
    assert not run.finished()
    t0 = time.monotonic()
    kafka.restart()
    outage = time.monotonic() - t0
    run.wait_finished()
    run.baton.stop()
    compared = assert_equivalent(golden, run.outputs())
    print(f"broker restart: {EVENTS} events, {compared} outputs compared, broker down "
          f"{outage:.1f}s")
