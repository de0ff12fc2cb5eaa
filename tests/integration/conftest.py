"""Fixtures for Baton's Kafka integration tests (see README.md).

Session scope: one real Kafka broker, and the Python modules generated from proto/baton/v1.
Test scope: unique topics, an input producer, an output reader and a factory for baton
processes. A failing test's report includes the logs of its baton runs.
"""
from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import types
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    binary = harness.baton_bin()
    if binary.is_file() and os.access(binary, os.X_OK):
        return
    skip = pytest.mark.skip(
        reason=f"baton binary not found at {binary}: build it (cmake --build build) or set "
               f"BATON_BIN")
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for baton in getattr(item, "batons", []):
        report.sections.append((f"baton log ({baton.log_path})", baton.log_tail(300)))
    kafka = getattr(item, "kafka", None)
    if kafka is not None and report.when == "setup":
        report.sections.append((f"kafka broker log ({kafka.dir})", kafka.broker_log_tail(60)))


@pytest.fixture(scope="session")
def pb(tmp_path_factory):
    """The baton.v1 protobuf modules, generated with protoc into a temporary directory."""
    out = tmp_path_factory.mktemp("proto_py")
    protoc = os.environ.get("PROTOC") or shutil.which("protoc") or "/usr/bin/protoc"
    protos = sorted(str(p.relative_to(harness.REPO_ROOT))
                    for p in (harness.REPO_ROOT / "proto" / "baton" / "v1").glob("*.proto"))
    result = subprocess.run([protoc, "-I", "proto", f"--python_out={out}", *protos],
                            cwd=harness.REPO_ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"protoc failed:\n{result.stderr}")
    for pkg in (out / "baton", out / "baton" / "v1"):
        (pkg / "__init__.py").touch()
    sys.path.insert(0, str(out))
    importlib.invalidate_caches()
    return types.SimpleNamespace(events=importlib.import_module("baton.v1.events_pb2"),
                                 outputs=importlib.import_module("baton.v1.outputs_pb2"))


@pytest.fixture(scope="session")
def kafka(tmp_path_factory):
    """One real broker for the whole session, stopped at the end (also after a failed start)."""
    broker = harness.Kafka(tmp_path_factory.mktemp("kafka"), harness.Kafka.pick_port())
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def suffix() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def topics(kafka, suffix, request) -> harness.Topics:
    request.node.kafka = kafka
    t = harness.Topics.with_suffix(suffix)
    kafka.create_topics(t.all(), harness.PARTITIONS, compacted=[t.changelog])
    return t


@pytest.fixture
def inputs(pb, kafka, topics):
    producer = harness.InputProducer(kafka.bootstrap)
    yield harness.Inputs(pb, producer, topics)
    producer.flush()


@pytest.fixture
def outputs(kafka, topics, suffix):
    reader = harness.OutputReader(kafka.bootstrap, topics.outputs(), f"it-reader-{suffix}")
    yield reader
    reader.close()


@pytest.fixture
def make_baton(kafka, topics, suffix, tmp_path, request):
    """make_baton(*extra_args) -> a harness.Baton (not started) with group g-<suffix> and data
    dir <tmp>/data. Any baton still running at teardown is stopped."""
    batons: list[harness.Baton] = []
    request.node.batons = batons

    def make(*extra_args: str) -> harness.Baton:
        n = len(batons) + 1
        b = harness.Baton(kafka, topics, group_id=f"g-{suffix}", data_dir=tmp_path / "data",
                          log_path=tmp_path / f"baton-{n}.log", extra_args=extra_args)
        batons.append(b)
        return b

    yield make
    for b in batons:
        b.stop(check=False)
