#!/usr/bin/env python3
"""Runs Baton's benchmarks and reports them against the targets (bench/README.md).

    python3 bench/run_benchmarks.py [--quick] [--only core,e2e,latency,memory,recovery,timers]

scripts/bench.sh builds first and then calls this. Parts:

  core      build/bench/core_bench: the processing core in one thread, no Kafka.
  e2e       one generated fill of the input topics; per run, a bare consumer (kafka_bench
            raw-consume) and a fresh baton read all of it; baton's rate from /metrics.
  latency   event -> routed lead latency through a running baton at fixed offered rates.
  memory    baton's peak RSS (VmHWM) after the e2e fill, and after a 1M-account fill, with the
            RocksDB bytes per account.
  recovery  on the 1M-account state: kill -9, restart, time to /metrics, to the assignment, to the
            first new event consumed; idle, then killed halfway through a burst of new events.
  timers    build/bench/timer_bench: 1,000,000 armed SLA timers in RocksDB, the service's timer
            loop on the wall clock; breach lateness (deadline -> alert committed), deadlines
            spread over an hour, and a burst with all of them due within a minute.

A real Apache Kafka broker (tests/kafka/kafka.sh) runs on a free loopback port for the Kafka parts
and is always stopped at the end, as is every baton started here. Results go to bench-results/:
results.json (everything, with the machine), one JSON per part, the tools' own JSON, and logs.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Optional

REPO = Path(__file__).resolve().parents[1]
KAFKA_SH = REPO / "tests" / "kafka" / "kafka.sh"
BUILD = Path(os.environ.get("BATON_BUILD_DIR", REPO / "build"))
CORE_BENCH = BUILD / "bench" / "core_bench"
TIMER_BENCH = BUILD / "bench" / "timer_bench"
KAFKA_BENCH = BUILD / "bench" / "kafka_bench"
BATON = Path(os.environ.get("BATON_BIN", BUILD / "services" / "baton" / "baton"))

PARTS = ["core", "e2e", "latency", "memory", "recovery", "timers"]
KAFKA_PARTS = {"e2e", "latency", "memory", "recovery"}
PARTITIONS = 6
ASSIGNED = 2 * PARTITIONS  # engagement + crm partitions, all owned by the one instance
MIB = 1 << 20

# Sizes: full (the numbers) and --quick (a few minutes, for checking the machinery).
SIZES = {
    "full": dict(core_accounts=100_000, core_events=1_000_000, e2e_accounts=100_000,
                 e2e_events=1_000_000, large_accounts=1_000_000, large_events=1_000_000,
                 latency_seconds=20, runs=3, armed_timers=1_000_000),
    "quick": dict(core_accounts=10_000, core_events=100_000, e2e_accounts=10_000,
                  e2e_events=100_000, large_accounts=50_000, large_events=100_000,
                  latency_seconds=5, runs=3, armed_timers=100_000),
}
# Events of the burst the busy recovery runs are killed in the middle of.
RECOVERY_BURST = 300_000

# (key, offered events/s, extra baton flags). The last is informational: the same load with a
# 10 ms commit interval, to show how much of the latency the 100 ms default accounts for.
LATENCY_RUNS = [("5000", 5_000, []),
                ("5000_alo", 5_000, ["--guarantee", "at-least-once"]),
                ("50000", 50_000, []),
                ("5000_commit_10ms", 5_000, ["--commit-interval-ms", "10"])]

T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - T0:7.1f}s] {message}", file=sys.stderr, flush=True)


class BenchError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dir_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                pass
    return total


def run_tool(cmd: list[str], log_path: Path, timeout: float) -> str:
    """Runs a benchmark tool; returns its stdout (its report table). Raises on failure."""
    log(" ".join(str(c) for c in cmd))
    with open(log_path, "ab") as err:
        err.write(f"===== {' '.join(str(c) for c in cmd)}\n".encode())
        err.flush()
        try:
            result = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=err,
                                    text=True, timeout=timeout, cwd=REPO)
        except subprocess.TimeoutExpired as e:
            raise BenchError(f"{Path(cmd[0]).name} did not finish within {timeout:.0f}s "
                             f"(log: {log_path})") from e
    sys.stdout.write(result.stdout)
    sys.stdout.flush()
    if result.returncode != 0:
        raise BenchError(f"{Path(cmd[0]).name} exited with {result.returncode} (log: {log_path})")
    return result.stdout


def read_json(path: Path) -> dict:
    with open(path) as f:
        return json.load(f)


def write_json(path: Path, data) -> None:
    with open(path, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


# ----------------------------------------------------------------------------------- machine --


def machine_info() -> dict:
    cpu_model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_total = 0
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem_total = int(line.split()[1]) * 1024
    except OSError:
        pass

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    def binary(path: Path) -> dict:
        try:
            data = path.read_bytes()
        except OSError:
            return {"path": str(path), "missing": True}
        return {"path": str(path), "sha256": hashlib.sha256(data).hexdigest()[:16],
                "mtime": datetime.datetime.fromtimestamp(path.stat().st_mtime).isoformat(
                    timespec="seconds")}

    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model,
        "memory_bytes": mem_total,
        "kernel": os.uname().release,
        "load_average_at_start": list(os.getloadavg()),
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain")),
        "binaries": {p.name: binary(p) for p in (BATON, CORE_BENCH, KAFKA_BENCH)},
        "kafka": "Apache Kafka 3.9.2, single node KRaft on loopback (tests/kafka/kafka.sh)",
    }


# ------------------------------------------------------------------------------------- kafka --


class Kafka:
    def __init__(self, directory: Path, log_dir: Path):
        self.dir = directory
        self.log_dir = log_dir
        self.port = 0
        self.started = False

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.port = int(subprocess.run(["bash", str(KAFKA_SH), "free-port"], check=True,
                                       capture_output=True, text=True, timeout=30).stdout)
        log(f"starting Kafka on {self.bootstrap}")
        self.started = True
        result = subprocess.run(["bash", str(KAFKA_SH), "start", str(self.dir), str(self.port)],
                                capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            self.started = False  # kafka.sh stops a broker that did not come up
            raise BenchError(f"kafka.sh start failed:\n{result.stdout}\n{result.stderr}")

    def create_topics(self, names: list[str], *config: str) -> None:
        for name in names:
            result = subprocess.run(["bash", str(KAFKA_SH), "create-topic", str(self.dir),
                                     str(self.port), name, str(PARTITIONS), *config],
                                    capture_output=True, text=True, timeout=120)
            if result.returncode != 0:
                raise BenchError(f"creating topic {name} failed:\n{result.stderr}")

    def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        log("stopping Kafka")
        for f in ("broker.log", "kafka.out"):
            if (self.dir / f).exists():
                shutil.copy(self.dir / f, self.log_dir / f"kafka-{f}")
        subprocess.run(["bash", str(KAFKA_SH), "stop", str(self.dir)], capture_output=True,
                       text=True, timeout=120)


# What README.md asks of the state changelog topic.
CHANGELOG_CONFIG = ["cleanup.policy=compact", "max.message.bytes=8388608"]


class Topics:
    def __init__(self, prefix: str):
        self.engagement = f"{prefix}-engagement"
        self.crm = f"{prefix}-crm"
        self.routed_leads = f"{prefix}-routed-leads"
        self.alerts = f"{prefix}-alerts"
        self.deadletter = f"{prefix}-deadletter"

    def all(self) -> list[str]:
        return [self.engagement, self.crm, self.routed_leads, self.alerts, self.deadletter]


# ------------------------------------------------------------------------------------- baton --

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")


def parse_metrics(text: str) -> dict[str, float]:
    """Sums each metric's samples over its labels: {name: total}."""
    sums: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m:
            try:
                sums[m.group(1)] = sums.get(m.group(1), 0.0) + float(m.group(3))
            except ValueError:
                pass
    return sums


class Baton:
    """One baton process. Everything it logs goes to its log file."""

    live: list["Baton"] = []

    def __init__(self, kafka: Kafka, topics: Topics, group: str, data_dir: Path, log_path: Path,
                 extra: list[str] = (), changelog: Optional[str] = None):
        """`changelog`: the state changelog topic, created compacted if None (one per group:
        a fresh baton must not restore another run's state)."""
        self.kafka, self.topics, self.group = kafka, topics, group
        self.changelog = changelog or f"{group}-changelog"
        if changelog is None:
            kafka.create_topics([self.changelog], *CHANGELOG_CONFIG)
        self.data_dir, self.log_path, self.extra = data_dir, log_path, list(extra)
        self.proc: Optional[subprocess.Popen] = None
        self.port = 0
        self.started_at = 0.0

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    def start(self) -> "Baton":
        self.port = free_port()
        t = self.topics
        cmd = [str(BATON), "--brokers", self.kafka.bootstrap, "--group-id", self.group,
               "--engagement-topic", t.engagement, "--crm-topic", t.crm,
               "--routed-leads-topic", t.routed_leads, "--alerts-topic", t.alerts,
               "--deadletter-topic", t.deadletter, "--changelog-topic", self.changelog,
               "--data-dir", str(self.data_dir),
               "--metrics-address", f"127.0.0.1:{self.port}", *self.extra]
        with open(self.log_path, "ab") as out:
            out.write(f"===== {' '.join(cmd)}\n".encode())
            out.flush()
            self.started_at = time.monotonic()
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, cwd=REPO)
        Baton.live.append(self)
        return self

    def check_alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            raise BenchError(f"baton exited (code {code}); log: {self.log_path}")

    def scrape(self) -> Optional[dict[str, float]]:
        try:
            with urllib.request.urlopen(self.metrics_url, timeout=2) as r:
                return parse_metrics(r.read().decode("utf-8", "replace"))
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def wait(self, what: str, predicate: Callable[[dict[str, float]], bool], timeout: float,
             interval: float = 0.05) -> dict[str, float]:
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            m = self.scrape()
            if m is not None and predicate(m):
                return m
            if time.monotonic() > deadline:
                raise BenchError(f"baton: timed out after {timeout:.0f}s waiting for {what}; "
                                 f"log: {self.log_path}")
            time.sleep(interval)

    def wait_assigned(self, timeout: float = 120) -> None:
        self.wait(f"baton_assigned_partitions == {ASSIGNED}",
                  lambda m: m.get("baton_assigned_partitions") == ASSIGNED, timeout, 0.1)

    def vm_hwm(self) -> int:
        """Peak resident set size (VmHWM), bytes."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return 0

    def stop(self, timeout: float = 30) -> dict:
        """SIGTERM and wait; returns the exit code and how long the stop took."""
        if self.proc is None:
            return {}
        proc, self.proc = self.proc, None
        if self in Baton.live:
            Baton.live.remove(self)
        t = time.monotonic()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise BenchError(f"baton did not stop within {timeout:.0f}s of SIGTERM; "
                                 f"log: {self.log_path}")
        return {"exit_code": proc.returncode, "stop_seconds": round(time.monotonic() - t, 3)}

    def kill9(self) -> None:
        proc, self.proc = self.proc, None
        if self in Baton.live:
            Baton.live.remove(self)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    @classmethod
    def stop_all(cls) -> None:
        for b in list(cls.live):
            try:
                b.stop(timeout=15)
            except BenchError:
                pass


# ------------------------------------------------------------------------------------ runner --


class Runner:
    def __init__(self, args: argparse.Namespace, out: Path, work: Path):
        self.args = args
        self.sizes = SIZES["quick" if args.quick else "full"].copy()
        if args.runs:
            self.sizes["runs"] = args.runs
        if args.latency_seconds:
            self.sizes["latency_seconds"] = args.latency_seconds
        for key in ("large_accounts", "large_events"):
            if getattr(args, key):
                self.sizes[key] = getattr(args, key)
        self.out = out
        self.logs = out / "logs"
        self.work = work
        self.kafka: Optional[Kafka] = None
        self.parts: dict[str, dict] = {}
        self.fills: dict[str, tuple[Topics, dict]] = {}
        self.large_state: Optional[dict] = None

    # -- helpers

    def fill(self, name: str, accounts: int, events: int) -> tuple[Topics, dict]:
        """Creates topics `name-*` and fills the inputs once; returns the topics and fill JSON."""
        if name in self.fills:
            return self.fills[name]
        topics = Topics(name)
        self.kafka.create_topics(topics.all())
        path = self.out / f"{name}-fill.json"
        run_tool([KAFKA_BENCH, "fill", "--brokers", self.kafka.bootstrap,
                  "--engagement-topic", topics.engagement, "--crm-topic", topics.crm,
                  "--accounts", accounts, "--events", events, "--seed", 42,
                  "--partitions", PARTITIONS, "--json", path],
                 self.logs / "kafka_bench.log", timeout=900)
        self.fills[name] = (topics, read_json(path))
        return self.fills[name]

    def baton_through(self, topics: Topics, total: int, tag: str, data_dir: Path,
                      extra: list[str] = ()) -> dict:
        """Starts a fresh baton (fresh group and `data_dir`) on filled topics, waits until it has
        consumed `total` records, reads its peak RSS and stops it (SIGTERM). Rate from /metrics:
        from the first nonzero sample of baton_events_consumed_total (summed over topics) to
        the total. Also keeps a progress sample about every second."""
        shutil.rmtree(data_dir, ignore_errors=True)
        baton = Baton(self.kafka, topics, f"bench-{tag}", data_dir,
                      self.logs / f"baton-{tag}.log", extra).start()
        timeout = 60 + total / 8_000
        deadline = time.monotonic() + timeout
        first: Optional[tuple[float, float]] = None
        last_change, last_value = time.monotonic(), -1.0
        assigned_at = None
        progress: list[tuple[float, float]] = []
        while True:
            baton.check_alive()
            m = baton.scrape()
            now = time.monotonic()
            if m is not None:
                consumed = m.get("baton_events_consumed_total", 0.0)
                if assigned_at is None and m.get("baton_assigned_partitions") == ASSIGNED:
                    assigned_at = now
                if consumed > 0 and first is None:
                    first = (now, consumed)
                if consumed != last_value:
                    last_change, last_value = now, consumed
                if not progress or now - baton.started_at - progress[-1][0] >= 1:
                    progress.append((round(now - baton.started_at, 2), consumed))
                if consumed >= total:
                    done = now
                    break
            if now > deadline or now - last_change > 60:
                raise BenchError(f"baton consumed {last_value:.0f} of {total} records "
                                 f"(timeout {timeout:.0f}s); log: {baton.log_path}")
            time.sleep(0.05)
        result = {
            "records": total,
            "messages_per_second": round((total - first[1]) / max(done - first[0], 1e-9)),
            "seconds": round(done - first[0], 3),
            "total_seconds": round(done - baton.started_at, 3),
            "total_messages_per_second": round(total / (done - baton.started_at)),
            "assigned_after_seconds": (round(assigned_at - baton.started_at, 3)
                                       if assigned_at else None),
            "first_sample_records": first[1],
            "leads": m.get("baton_routed_leads_total", 0),
            "deadlettered": m.get("baton_events_deadlettered_total", 0),
            "duplicates": m.get("baton_events_duplicate_total", 0),
            "late": m.get("baton_events_late_total", 0),
            "commits": m.get("baton_commits_total", 0),
            "peak_rss_bytes": baton.vm_hwm(),
            "changelog": baton.changelog,
            "extra_args": list(extra),
        }
        result.update(baton.stop())
        result["rocksdb_bytes"] = dir_bytes(data_dir)
        result["progress_seconds_records"] = progress
        return result

    # -- parts

    def core(self) -> dict:
        s = self.sizes
        help_text = subprocess.run([str(CORE_BENCH), "--help"], capture_output=True,
                                   text=True, timeout=30).stdout

        def core_bench(runs: int, *extra) -> list:
            return [CORE_BENCH, "--accounts", s["core_accounts"], "--events", s["core_events"],
                    "--runs", runs, "--data-dir", self.work / "core-bench-db", *extra]

        out = self.out / "core-bench.json"
        run_tool(core_bench(s["runs"], "--json", out), self.logs / "core_bench.log", timeout=1800)
        result = {"workload": {"accounts": s["core_accounts"], "events": s["core_events"],
                               "runs": s["runs"]},
                  "mixed": read_json(out)}
        # A protobuf-only variant, when core_bench can make one (--json-fraction).
        if "--json-fraction" in help_text:
            out_pb = self.out / "core-bench-protobuf-only.json"
            # Informational, so one run (the full-size core benchmark takes ~30 s a run).
            run_tool(core_bench(1, "--json-fraction", 0, "--json", out_pb),
                     self.logs / "core_bench.log", timeout=1800)
            result["protobuf_only"] = read_json(out_pb)
        else:
            result["protobuf_only"] = "n/a: core_bench has no option for a protobuf-only workload"
        return result

    def e2e(self) -> dict:
        s = self.sizes
        topics, fill = self.fill("e2e", s["e2e_accounts"], s["e2e_events"])
        total = fill["total_messages"]
        runs = []
        for i in range(1, s["runs"] + 1):
            raw_path = self.out / f"e2e-raw-{i}.json"
            run_tool([KAFKA_BENCH, "raw-consume", "--brokers", self.kafka.bootstrap,
                      "--topics", f"{topics.engagement},{topics.crm}", "--expect", total,
                      "--json", raw_path], self.logs / "kafka_bench.log", timeout=600)
            raw = read_json(raw_path)
            run = {"raw": raw}
            for mode in ("exactly-once", "at-least-once"):
                log(f"e2e run {i}: baton {mode} over {total} records")
                run[mode] = self.baton_through(topics, total, f"e2e-{i}-{mode}",
                                               self.work / f"e2e-{i}-{mode}-db",
                                               ["--guarantee", mode])
            log(f"e2e run {i}: raw {raw['messages_per_second']:.0f}/s, baton exactly-once "
                f"{run['exactly-once']['messages_per_second']:.0f}/s, at-least-once "
                f"{run['at-least-once']['messages_per_second']:.0f}/s")
            runs.append(run)
        raw_median = median([r["raw"]["messages_per_second"] for r in runs])
        eos = median([r["exactly-once"]["messages_per_second"] for r in runs])
        alo = median([r["at-least-once"]["messages_per_second"] for r in runs])
        return {
            "fill": fill,
            "runs": runs,
            "raw_median_messages_per_second": raw_median,
            "exactly_once_median_messages_per_second": eos,
            "at_least_once_median_messages_per_second": alo,
            "exactly_once_ratio": eos / raw_median if raw_median else None,
            "at_least_once_ratio": alo / raw_median if raw_median else None,
            "peak_rss_bytes": runs[-1]["exactly-once"]["peak_rss_bytes"],
            "rocksdb_bytes_per_account":
                runs[-1]["exactly-once"]["rocksdb_bytes"] / fill["accounts"],
        }

    def latency(self) -> dict:
        results = {}
        for key, rate, extra in LATENCY_RUNS:
            topics = Topics(f"lat{key.replace('_', '-')}")
            self.kafka.create_topics(topics.all())
            baton = Baton(self.kafka, topics, f"bench-lat-{key}", self.work / f"lat-{key}-db",
                          self.logs / f"baton-lat-{key}.log", extra).start()
            try:
                baton.wait_assigned()
                lat = [KAFKA_BENCH, "latency", "--brokers", self.kafka.bootstrap,
                       "--engagement-topic", topics.engagement, "--crm-topic", topics.crm,
                       "--routed-leads-topic", topics.routed_leads, "--metrics", baton.metrics_url]
                # Warm-up, not reported: a fresh baton's first outputs wait for the producer's
                # id and the output topics' metadata (a one-off of a few hundred ms).
                run_tool([*lat, "--rate", 1000, "--seconds", 3, "--probes", 50, "--warmup", 1],
                         self.logs / "kafka_bench.log", timeout=120)
                path = self.out / f"latency-{key}.json"
                try:
                    run_tool([*lat, "--rate", rate, "--seconds", self.sizes["latency_seconds"],
                              "--json", path, "--samples", self.out / f"latency-{key}-samples.csv"],
                             self.logs / "kafka_bench.log",
                             timeout=self.sizes["latency_seconds"] + 300)
                except BenchError as e:
                    if not path.exists():
                        raise
                    log(f"latency {key}: {e} (some probe leads missing; reported)")
                results[key] = read_json(path)
                results[key]["baton_args"] = extra
                results[key]["baton_peak_rss_bytes"] = baton.vm_hwm()
            finally:
                baton.stop()
        return {"runs": results}

    def large(self) -> dict:
        """The 1M-account fill processed by a fresh baton, stopped cleanly; keeps its state."""
        if self.large_state is None:
            s = self.sizes
            topics, fill = self.fill("large", s["large_accounts"], s["large_events"])
            data_dir = self.work / "large-db"
            log(f"memory: baton over {fill['total_messages']} records, "
                f"{fill['accounts']} accounts")
            result = self.baton_through(topics, fill["total_messages"], "large", data_dir)
            self.large_state = {"topics": topics, "fill": fill, "data_dir": data_dir,
                                "group": "bench-large", "result": result,
                                "changelog": result["changelog"]}
        return self.large_state

    def memory(self) -> dict:
        out: dict = {}
        if "e2e" in self.parts and "runs" in self.parts["e2e"]:
            e2e = self.parts["e2e"]
            out["e2e_accounts"] = {"accounts": e2e["fill"]["accounts"],
                                   "records": e2e["fill"]["total_messages"],
                                   "peak_rss_bytes": e2e["peak_rss_bytes"],
                                   "rocksdb_bytes_per_account": e2e["rocksdb_bytes_per_account"],
                                   "source": "the last e2e run"}
        else:
            topics, fill = self.fill("e2e", self.sizes["e2e_accounts"], self.sizes["e2e_events"])
            r = self.baton_through(topics, fill["total_messages"], "memory-e2e",
                                      self.work / "memory-e2e-db")
            out["e2e_accounts"] = {"accounts": fill["accounts"],
                                   "records": fill["total_messages"],
                                   "peak_rss_bytes": r["peak_rss_bytes"],
                                   "rocksdb_bytes_per_account": r["rocksdb_bytes"] / fill["accounts"]}
        large = self.large()
        r, fill = large["result"], large["fill"]
        out["large"] = {"accounts": fill["accounts"], "records": fill["total_messages"],
                        "peak_rss_bytes": r["peak_rss_bytes"],
                        "rocksdb_bytes": r["rocksdb_bytes"],
                        "rocksdb_bytes_per_account": r["rocksdb_bytes"] / fill["accounts"],
                        "baton_messages_per_second": r["messages_per_second"],
                        "baton_seconds": r["seconds"], "fill": fill, "baton": r}
        return out

    def recovery_once(self, large: dict, tag: str, extra: list[str], busy: bool = False) -> dict:
        """Start on the stored state, settle, kill -9, produce new events, restart: seconds from
        the restart to /metrics answering, to the full assignment, to the first new event
        consumed (its commit unit committed). Busy: killed in the middle of a burst of
        RECOVERY_BURST events instead of idle, so that the restart replays RocksDB's write-ahead
        log and goes on with a backlog."""
        topics = large["topics"]

        def make() -> Baton:
            return Baton(self.kafka, topics, large["group"], large["data_dir"],
                         self.logs / f"baton-recovery-{tag}.log", extra, large["changelog"])

        # Restart on the state, settle, crash.
        baton = make().start()
        baton.wait_assigned(timeout=180)
        time.sleep(2)
        if busy:
            self.kill_in_burst(baton, topics)
        else:
            baton.kill9()
        # New input while it is down; then the restart being measured.
        run_tool([KAFKA_BENCH, "trickle", "--brokers", self.kafka.bootstrap,
                  "--engagement-topic", topics.engagement, "--count", 60],
                 self.logs / "kafka_bench.log", timeout=120)
        baton = make().start()
        t0 = baton.started_at
        marks: dict[str, Optional[float]] = {"metrics": None, "assigned": None, "consumed": None}
        deadline = t0 + 180
        try:
            while marks["consumed"] is None:
                baton.check_alive()
                m = baton.scrape()
                now = time.monotonic()
                if m is not None:
                    marks["metrics"] = marks["metrics"] or now
                    if marks["assigned"] is None and m.get("baton_assigned_partitions") == ASSIGNED:
                        marks["assigned"] = now
                    if m.get("baton_events_consumed_total", 0) > 0:
                        marks["consumed"] = now
                if now > deadline:
                    break
                time.sleep(0.02)
        finally:
            stopped = baton.stop()
        res = {k: (round(v - t0, 3) if v else None) for k, v in marks.items()}
        return {"metrics_seconds": res["metrics"], "assigned_seconds": res["assigned"],
                "first_new_event_seconds": res["consumed"], "extra_args": extra,
                "timed_out": marks["consumed"] is None, **stopped}

    def kill_in_burst(self, baton: Baton, topics: Topics) -> None:
        """Kills baton with kill -9 once it has consumed half of RECOVERY_BURST new events."""
        consumed = (baton.scrape() or {}).get("baton_events_consumed_total", 0)
        cmd = [KAFKA_BENCH, "trickle", "--brokers", self.kafka.bootstrap,
               "--engagement-topic", topics.engagement, "--count", str(RECOVERY_BURST)]
        with open(self.logs / "kafka_bench.log", "ab") as err:
            burst = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        try:
            baton.wait("half the burst consumed",
                       lambda m: m.get("baton_events_consumed_total", 0)
                       >= consumed + RECOVERY_BURST // 2, timeout=120, interval=0.01)
        finally:
            baton.kill9()
            code = burst.wait(timeout=120)
        if code != 0:
            raise BenchError(f"kafka_bench trickle exited with {code}")

    def recovery(self) -> dict:
        large = self.large()
        accounts = large["fill"]["accounts"]
        log(f"recovery: {accounts} accounts, exactly-once (the default)")
        eos = self.recovery_once(large, "exactly-once", [])
        log("recovery: at-least-once")
        alo = self.recovery_once(large, "at-least-once", ["--guarantee", "at-least-once"])
        log(f"recovery under load: killed halfway through {RECOVERY_BURST:,} new events")
        eos_busy = self.recovery_once(large, "exactly-once-busy", [], busy=True)
        alo_busy = self.recovery_once(large, "at-least-once-busy",
                                      ["--guarantee", "at-least-once"], busy=True)
        return {"accounts": accounts, "rocksdb_bytes": dir_bytes(large["data_dir"]),
                "exactly-once": eos, "at-least-once": alo,
                "exactly-once-busy": eos_busy, "at-least-once-busy": alo_busy,
                "burst_events": RECOVERY_BURST,
                "note": "static group membership (--instance-id auto, the default): the "
                        "restarted instance takes the dead one's place at once"}

    def timers(self) -> dict:
        armed = self.sizes["armed_timers"]
        result = {}
        for label, spread, seconds in (("spread", 3600, 30), ("burst", 60, 20)):
            out = self.out / f"timer-bench-{label}.json"
            run_tool([TIMER_BENCH, "--timers", armed, "--spread", spread, "--seconds", seconds,
                      "--data-dir", self.work / "timer-bench-db", "--json", out],
                     self.logs / "timer_bench.log", timeout=600)
            result[label] = read_json(out)
        return result

    # -- all

    def run(self, parts: list[str]) -> int:
        failures = 0
        for part in parts:
            log(f"== {part}")
            t = time.monotonic()
            try:
                if part in KAFKA_PARTS and self.kafka is None:
                    kafka = Kafka(self.work / "kafka", self.logs)
                    try:
                        kafka.start()
                    finally:
                        if kafka.started:
                            self.kafka = kafka  # stopped at the end, even if start failed
                self.parts[part] = getattr(self, part)()
            except Exception as e:  # noqa: BLE001 - one failed part must not stop the others
                failures += 1
                log(f"{part} failed: {type(e).__name__}: {e}")
                self.parts[part] = {"error": f"{type(e).__name__}: {e}"}
            Baton.stop_all()
            self.parts[part]["elapsed_seconds"] = round(time.monotonic() - t, 1)
            write_json(self.out / f"{part}.json", self.parts[part])
        return failures


# ------------------------------------------------------------------------------------ report --


def summary_rows(parts: dict) -> list[dict]:
    rows = []

    def row(name, value, target="", met=None):
        rows.append({"name": name, "value": value, "target": target,
                     "met": met if isinstance(met, str) or met is None else bool(met)})

    def failed(part):
        if "error" in parts.get(part, {}):
            row(part, f"failed: {parts[part]['error'][:80]}", "", False)
            return True
        return part not in parts

    if not failed("core"):
        c = parts["core"]["mixed"]
        v = c["median_events_per_second"]
        row("core: events/s, 1 thread (median)", f"{v:,.0f}", ">= 1,000,000 per core",
            v >= 1_000_000)
        if isinstance(parts["core"]["protobuf_only"], dict):
            pb = parts["core"]["protobuf_only"]["median_events_per_second"]
            row("core: events/s, protobuf only", f"{pb:,.0f}")
        if "median_events_per_cpu_second" in c:
            row("core: events per CPU second (median)", f"{c['median_events_per_cpu_second']:,.0f}")
        if "decode_only_events_per_second" in c:
            row("core: decode only (ceiling)", f"{c['decode_only_events_per_second']:,.0f}")
        if "account_loads_per_event" in c:
            row("core: RocksDB account reads per event", f"{c['account_loads_per_event']:.3f}")
    if not failed("e2e"):
        e = parts["e2e"]
        row("e2e: raw consumer msgs/s (median)", f"{e['raw_median_messages_per_second']:,.0f}")
        for mode, key, target in (("exactly-once", "exactly_once", 0.50),
                                  ("at-least-once", "at_least_once", 0.70)):
            v, ratio = e[f"{key}_median_messages_per_second"], e[f"{key}_ratio"]
            row(f"e2e: baton msgs/s, {mode} (median)", f"{v:,.0f}")
            row(f"e2e: baton/raw, {mode}", f"{ratio:.1%}", f">= {target:.0%}", ratio >= target)
    if not failed("latency"):
        for key, rate, extra in LATENCY_RUNS:
            l = parts["latency"]["runs"].get(key)
            if l is None:
                continue
            value = (f"p50 {l['p50_ms']:.1f} / p99 {l['p99_ms']:.1f} / p99.9 {l['p999_ms']:.1f} ms"
                     f" (offered {l['offered_rate']:,.0f}/s"
                     + (f", {l['received']}/{l['probes']} leads" if l["received"] < l["probes"]
                        else "") + ")")
            name = f"latency at {rate:,}/s" + (f" ({' '.join(extra)})" if extra else "")
            if key == "5000":
                row(name + " exactly-once", value, "p99 < 150 ms (exactly-once)",
                    l["p99_ms"] < 150 and l["received"] == l["probes"])
            elif key == "5000_alo":
                row(f"latency at {rate:,}/s at-least-once", value, "p99 < 10 ms (at-least-once)",
                    l["p99_ms"] < 10 and l["received"] == l["probes"])
            else:
                row(name, value)
    if not failed("memory"):
        m = parts["memory"]
        e = m["e2e_accounts"]
        row(f"peak RSS, {e['accounts']:,} accounts", f"{e['peak_rss_bytes'] / MIB:.0f} MiB")
        g = m["large"]
        row(f"peak RSS, {g['accounts']:,} accounts", f"{g['peak_rss_bytes'] / MIB:.0f} MiB",
            "< 512 MiB at 1M accounts",
            g["peak_rss_bytes"] < 512 * MIB if g["accounts"] >= 1_000_000 else "n/a (< 1M)")
        row(f"RocksDB bytes/account, {g['accounts']:,} accounts",
            f"{g['rocksdb_bytes_per_account']:,.0f}")
    if not failed("recovery"):
        r = parts["recovery"]
        for key, label in (("exactly-once", "recovery, exactly-once"),
                           ("at-least-once", "recovery, at-least-once"),
                           ("exactly-once-busy", "recovery under load, exactly-once"),
                           ("at-least-once-busy", "recovery under load, at-least-once")):
            if key not in r:
                continue
            d = r[key]
            fmt = lambda v: "timeout" if v is None else f"{v:.2f} s"
            row(f"{label}: restart -> /metrics", fmt(d["metrics_seconds"]))
            row(f"{label}: restart -> {ASSIGNED} partitions", fmt(d["assigned_seconds"]))
            v = d["first_new_event_seconds"]
            if key == "exactly-once":
                row(f"{label}: restart -> first new event, {r['accounts']:,} accounts", fmt(v),
                    "< 5 s at 1M accounts",
                    (v is not None and v < 5) if r["accounts"] >= 1_000_000 else "n/a (< 1M)")
            else:
                row(f"{label}: restart -> first new event", fmt(v))
    if "timers" in parts:
        t = parts["timers"]
        for label, what in (("spread", "deadlines over 1 h"), ("burst", "all due within 60 s")):
            r = t[label]
            row(f"breach lateness p99, {r['armed']:,} armed ({what})",
                f"{r['lateness_p99_ms']:.0f} ms (p50 {r['lateness_p50_ms']:.0f}, "
                f"{r['breaches']:,} fired)",
                "< 1 s at 1M armed" if label == "spread" else "",
                (r["lateness_p99_ms"] < 1000) if r["armed"] >= 1_000_000 else "n/a (< 1M)")
    return rows


def print_table(rows: list[dict]) -> None:
    def met(v):
        return "" if v is None else v if isinstance(v, str) else ("yes" if v else "NO")

    widths = [max(len(str(r[k] if k != "met" else met(r[k]))) for r in rows + [
        {"name": "benchmark", "value": "value", "target": "target", "met": "met?"}])
        for k in ("name", "value", "target", "met")]
    line = lambda a, b, c, d: (f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:<{widths[2]}}  "
                               f"{d}").rstrip()
    print()
    print(line("benchmark", "value", "target", "met?"))
    print(line(*("-" * w for w in widths)))
    for r in rows:
        print(line(r["name"], r["value"], r["target"], met(r["met"])))


# -------------------------------------------------------------------------------------- main --


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="small sizes (10k accounts, 100k events; 5 s latency runs)")
    ap.add_argument("--only", default=",".join(PARTS),
                    help=f"comma-separated parts to run (default: all of {','.join(PARTS)})")
    ap.add_argument("--runs", type=int, default=0, help="runs of core and e2e (default 3)")
    ap.add_argument("--latency-seconds", type=float, default=0,
                    help="length of each latency run (default 20, --quick 5)")
    ap.add_argument("--large-accounts", type=int, default=0,
                    help="accounts of the memory/recovery fill (default 1,000,000; --quick 50,000)")
    ap.add_argument("--large-events", type=int, default=0,
                    help="stream events of that fill (default 1,000,000; --quick 100,000)")
    ap.add_argument("--out", default=str(REPO / "bench-results"), help="results directory")
    ap.add_argument("--keep-work", action="store_true",
                    help="keep the scratch directory (Kafka and RocksDB data) for inspection")
    args = ap.parse_args()

    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        ap.error(f"unknown part(s) {unknown}; choose from {PARTS}")
    parts = [p for p in PARTS if p in parts]  # dependency order
    needed = {"core": [CORE_BENCH]}.get
    for part in parts:
        for binary in needed(part, [KAFKA_BENCH, BATON] if part in KAFKA_PARTS else []):
            if not binary.is_file():
                print(f"run_benchmarks: {binary} is missing; build first (scripts/bench.sh does)",
                      file=sys.stderr)
                return 2

    out = Path(args.out)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    for old in (out / "logs").glob("*.log"):
        old.unlink()
    work = Path(tempfile.mkdtemp(prefix="baton-bench-"))

    # SIGTERM/SIGHUP unwind like Ctrl-C, so that the finally below stops baton and Kafka.
    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    machine = machine_info()
    log(f"machine: {machine['nproc']} x {machine['cpu_model']}, "
        f"{machine['memory_bytes'] / (1 << 30):.1f} GiB; parts: {','.join(parts)}; "
        f"{'quick' if args.quick else 'full'} sizes; scratch {work}")
    runner = Runner(args, out, work)
    failures, interrupted = 0, False
    try:
        failures = runner.run(parts)
    except KeyboardInterrupt:
        log("interrupted")
        failures, interrupted = 1, True
    finally:
        Baton.stop_all()
        if runner.kafka is not None:
            runner.kafka.stop()
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)

    machine["load_average_at_end"] = list(os.getloadavg())
    rows = summary_rows(runner.parts)
    results = {"started_at": started, "mode": "quick" if args.quick else "full",
               "interrupted": interrupted,
               "sizes": runner.sizes, "machine": machine, "parts": runner.parts, "summary": rows}
    write_json(out / "results.json", results)
    print_table(rows)
    print(f"\nresults: {out / 'results.json'} (per part: {out}/<part>.json; logs: {out}/logs/)")
    log("done" + (f"; {failures} part(s) failed" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
