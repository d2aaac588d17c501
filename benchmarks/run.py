#!/usr/bin/env python3
"""Benchmarks of the cultivation ledger against the floor of the libraries under it.

    python benchmarks/run.py [--enterprises N] [--db PATH | postgresql://…] [--json] [--quick]

One run, one fresh store (a SQLite file in a temporary folder, or a fresh schema of the
PostgreSQL database named by ``--db``), one embedded ``nats-server`` on loopback with its
own temporary data folder; everything is removed at the end (``--keep`` keeps the store).

(a) commands/s of ``Ledger.handle`` (one by one) and ``Ledger.handle_many`` (batches of 200)
    while loading a generated history, against saving a trivial one-event aggregate with
    the bare ``eventsourcing`` library (its own transcoder and recorder) in a second store
    of the same kind beside the first: one save per aggregate, in rounds alternating with
    the ledger's, and 200 aggregates per save for the batched comparison.  Target ≥ 0.5× raw.
(b) ``ReadModel.rebuild()`` of every projection, events/s, against a raw scan of the same
    notification log (``select_notifications`` in pages + ``mapper.to_domain_event`` of each
    notification).  Targets ≥ 50,000 events/s and ≥ 0.5× the raw scan.
(c) ``Relay.drain()`` of the whole store into a fresh ``CULTIVATION_EVENTS`` stream, against
    raw pipelined nats-py publishing (``publish_async``, then the acks, batch for batch) of
    the same messages — the same payload bytes, headers and subject shapes, prebuilt — into
    a second fresh stream.  Target ≥ 0.8× raw.
(d) end-to-end latency, command sent → its designation changed in the ``cultivation_pools``
    KV bucket, at a fixed offered load (500 commands/s, open loop: send times fixed in
    advance) against a real ``cultivation serve`` subprocess on that store, then against two
    (``--components service,relay`` and ``--components projector``: the projector gets the
    other core).  Target p99 < 50 ms.
(e) peak RSS of a separate process rebuilding the read model of the whole store.  Target
    < 2 GiB at 3 million events (extrapolated, and said so, when the store is smaller).
(f) the command rate ``serve`` carries: open-loop windows as in (d) at 500, 1,000, 2,000 and
    4,000 commands/s (``--rates``) against one serve, stepped up until p99 command → KV is
    50 ms or more.  Target: p99 < 50 ms at ≥ 2,000/s on SQLite, ≥ 1,000/s on PostgreSQL.

Throughputs are the median of several samples (the samples are in ``--json``).  The
history comes from ``scenarios.generate.generate_commands`` when that module is present,
else from the six-command ``journey()`` pattern of ``tests/support/streams.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from infra.heap import freeze_heap  # noqa: E402 - after the path is set

GiB = 1024 ** 3
MiB = 1024 ** 2
TARGET_EVENTS = 3_000_000
RAW_STREAM = "BENCH_RAW"
RAW_PREFIX = "cultivation.rawevt"  # as long as "cultivation.events": the same subject bytes


# ============================================================================ plan
@dataclass
class Plan:
    enterprises: int = 8_000  # generated history: about 25 events per enterprise over ten years (issue 13's rates)
    years: int = 10
    seed: int = 1
    repeats: int = 3  # rebuild, raw scan, relay, raw publish: each this many times
    samples: int = 5  # points along the load where one-by-one commands and raw saves are timed
    single: int = 1_000  # commands (and raw saves) handled one by one at each sample point
    rounds: int = 5  # ... in this many alternating rounds (ledger, raw, ledger, raw, ...)
    batch: int = 200  # handle_many batch size, and raw aggregates per save
    raw_batched: int = 10_000  # raw aggregates per batched sample
    relay_batch: int = 500  # as `cultivation serve`
    rate: float = 500.0  # offered load of the latency test, commands/s
    seconds: float = 10.0  # length of the latency test (and of each step of the rate steps)
    rates: tuple[float, ...] = (500.0, 1_000.0, 2_000.0, 4_000.0)  # (f): the offered rates, stepped up

    @classmethod
    def quick(cls) -> Plan:
        return cls(enterprises=1_000, repeats=2, samples=2, single=200, raw_batched=2_000, seconds=3.0,
                   rates=(100.0, 200.0))


MEASUREMENTS = ("handle", "handle_many", "rebuild", "relay", "latency", "latency_one_process", "memory", "rate")
TARGETS = {
    "handle": "≥ 0.5× raw saves",
    "handle_many": "≥ 0.5× raw saves",
    "rebuild": "≥ 50,000 events/s and ≥ 0.5× raw scan",
    "relay": "≥ 0.8× raw publish",
    "latency": "p99 < 50 ms",
    "latency_one_process": "p99 < 50 ms",
    "memory": "< 2 GiB at 3,000,000 events",
    "rate": "p99 < 50 ms at ≥ 2,000/s (SQLite), ≥ 1,000/s (PostgreSQL)",
}


# ============================================================================ output helpers
class Reporter:
    """Progress bars on stderr when it is a terminal; one line per step otherwise."""

    def __init__(self, quiet: bool = False):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)
        self.tty = sys.stderr.isatty()
        self.quiet = quiet
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TimeRemainingColumn(), console=self.console,
                                 disable=not self.tty, refresh_per_second=4, transient=False)

    def __enter__(self) -> Reporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def say(self, text: str) -> None:
        if not self.quiet:
            self.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {text}", highlight=False)

    @contextmanager
    def bar(self, label: str, total: float | None) -> Iterator[Callable[[float], None]]:
        if not self.tty:
            self.say(label + " …")
        task = self.progress.add_task(label, total=total)
        try:
            yield lambda n: self.progress.update(task, completed=n)
        finally:
            self.progress.update(task, completed=total if total else 1, total=total or 1)


def median(xs: list[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (``inf`` entries count as lost)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def rss_bytes(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    """VmHWM, the high-water RSS of this process's own address space.  Not ``ru_maxrss``:
    Linux carries that over ``execve`` from the forked parent, so a child of a large
    benchmark process would report the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _die_with_parent() -> None:
    """In a child (preexec_fn): SIGTERM when the benchmark dies, so nothing is left running."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, command name) of every process of this machine (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    head, _, tail = f.read().rpartition(")")
            except OSError:
                continue  # gone meanwhile
            out.append((int(entry), int(tail.split()[1]), head.partition("(")[2]))
    return out


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) a process has used; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU used by the processes of a served window, by role, in cores (CPU seconds over the
    window's wall seconds): ``cultivation serve`` (the service, its relay and group commits),
    its children (the projector), the NATS server, this benchmark (sender and KV watcher) and,
    on PostgreSQL, the database server's processes.  Which part saturates the 2 cores first
    is the measured reason a rate misses (issue 17, item 4)."""

    def __init__(self, serve_pid: int, nats_pid: int | None, postgres: bool) -> None:
        self.serve_pid, self.nats_pid, self.postgres = serve_pid, nats_pid, postgres

    def _roles(self) -> dict[str, list[int]]:
        procs = _processes()
        roles = {"serve": [self.serve_pid], "projector": [p for p, pp, _ in procs if pp == self.serve_pid],
                 "nats_server": [self.nats_pid] if self.nats_pid else [], "benchmark": [os.getpid()]}
        if self.postgres:
            roles["postgresql"] = [p for p, _, name in procs if name == "postgres"]
        return roles

    def __enter__(self) -> CpuMeter:
        self._start = {pid: process_cpu(pid) for pids in self._roles().values() for pid in pids}
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self._t0
        # a process started during the window (a database backend) used all its CPU in it
        used = {role: sum(process_cpu(p) - self._start.get(p, 0.0) for p in pids)
                for role, pids in self._roles().items()}
        self.cores = {role: round(cpu / wall, 2) for role, cpu in used.items()}
        self.cores["total"] = round(sum(used.values()) / wall, 2)


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    import sqlite3
    from importlib.metadata import version

    import eventsourcing  # noqa: F401

    from infra.nats import server_binary

    try:
        nats_version = subprocess.run([server_binary(), "--version"], capture_output=True, text=True,
                                      timeout=10).stdout.strip()
    except Exception:  # noqa: BLE001 - informative only
        nats_version = "?"
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory_bytes": mem, "memory_gib": round(mem / GiB, 1),
            "platform": platform.platform(), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "eventsourcing": version("eventsourcing"),
            "nats_py": version("nats-py"), "msgspec": version("msgspec"), "nats_server": nats_version}


# ============================================================================ stores
class Store:
    """A fresh store for the ledger, and another of the same kind for the raw baseline."""

    def __init__(self, db: str | None, workdir: Path, keep: bool):
        from infra.store import is_postgres, store_env

        self.keep = keep
        self.pg = bool(db and is_postgres(db))
        self._cleanups: list[Callable[[], None]] = []
        if db and self.pg:  # (self.pg implies db; naming it narrows its type)
            import psycopg

            parts = urlsplit(db)
            query = [(k, v) for k, v in parse_qsl(parts.query) if k != "schema"]
            self.base = urlunsplit(parts._replace(query=""))
            tag = uuid.uuid4().hex[:10]
            self.schemas = [f"bench_{tag}", f"bench_{tag}_raw"]
            with psycopg.connect(self.base, autocommit=True) as conn:
                for s in self.schemas:
                    conn.execute(f'CREATE SCHEMA "{s}"')
                self.server_version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
            self._cleanups.append(self._drop_schemas)
            self.url = urlunsplit(parts._replace(query=urlencode(query + [("schema", self.schemas[0])])))
            raw_url = urlunsplit(parts._replace(query=urlencode(query + [("schema", self.schemas[1])])))
            self.raw_env = {k: v for k, v in store_env(raw_url).items() if k != "APPLICATION_RECORDER_TOPIC"}
            self.kind = f"PostgreSQL {self.server_version}"
        else:
            path = Path(db).expanduser().resolve() if db else workdir / "ledger.db"
            if path.exists():
                raise SystemExit(f"{path} exists: the benchmark writes a fresh store, name a new file")
            path.parent.mkdir(parents=True, exist_ok=True)
            raw = path.with_name(path.name + ".raw")
            self.files = [path, raw]
            self._cleanups.append(self._remove_files)
            self.url = str(path)
            self.raw_env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(raw),
                            "SQLITE_LOCK_TIMEOUT": "30"}
            self.kind = f"SQLite {__import__('sqlite3').sqlite_version} (WAL) on {_filesystem(path.parent)}"

    def describe(self) -> str:
        from infra.store import describe

        return describe(self.url)

    def _drop_schemas(self) -> None:
        import psycopg

        with psycopg.connect(self.base, autocommit=True) as conn:
            for s in self.schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{s}" CASCADE')

    def _remove_files(self) -> None:
        for f in self.files:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(f) + suffix).unlink(missing_ok=True)

    def cleanup(self) -> None:
        if self.keep:
            return
        for fn in self._cleanups:
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - best effort, say so
                print(f"cleanup: {e}", file=sys.stderr)


def _filesystem(path: Path) -> str:
    """The filesystem type a path is on (``ext4 local disk``, ``tmpfs``), from /proc/mounts."""
    try:
        best, fstype = "", "?"
        target = str(path.resolve())
        for line in Path("/proc/mounts").read_text().splitlines():
            dev, mount, kind = line.split()[:3]
            if (target == mount or target.startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best):
                best, fstype = mount, kind
        return f"{fstype}" + ("" if fstype in ("tmpfs", "overlay") else " (local disk)")
    except OSError:
        return "?"


# ============================================================================ the history
def history(plan: Plan) -> tuple[list[Any], str, int]:
    """The commands to load, which generator made them, and how many failed to decode."""
    from services import commands as c

    try:
        from scenarios.generate import generate_commands
    except ImportError:
        generate_commands = None  # type: ignore[assignment]
    if generate_commands is not None:
        source = (f"scenarios.generate.generate_commands({plan.enterprises}, {plan.years}, seed={plan.seed}, "
                  f"start_year=2016)")
        dicts: Iterator[dict[str, Any]] = generate_commands(plan.enterprises, plan.years, plan.seed, start_year=2016)
    else:
        source = f"journey() pattern of tests/support/streams.py × {plan.enterprises} enterprises"
        dicts = ({**obj, "command_id": f"load-{i}-{j}"} for i in range(plan.enterprises)
                 for j, obj in enumerate(journey(i, marker="MB")))
    cmds, bad = [], 0
    for d in dicts:
        try:
            cmds.append(c.convert_command(d))
        except c.InputError:
            bad += 1
    return cmds, source, bad


def _actor(authority: str) -> dict[str, str]:
    return {"authority": authority, "person": "benchmark service"}


def journey(i: int, county: str = "211402", marker: str = "MC") -> list[dict[str, Any]]:
    """The six commands of ``tests/support/streams.py``'s ``journey(i)``: register, then one
    application through recommend, assess, notice to a provincial 专精特新 designation."""
    from domain.values import make_uscc

    u = make_uscc(f"91{county}{marker}{i:07d}")
    city, prov = _actor(county[:4] + "00"), _actor(county[:2] + "0000")
    return [
        {"command": "register", "uscc": u, "name": f"基准企业{i}", "region": county, "occurred_on": "2019-01-02",
         "actor": city},
        {"command": "apply", "uscc": u, "application_id": "sp", "programme": "national", "tier": "specialized",
         "occurred_on": "2019-03-01", "actor": city},
        {"command": "recommend", "uscc": u, "application_id": "sp", "occurred_on": "2019-04-01", "actor": city},
        {"command": "assess", "uscc": u, "application_id": "sp", "score": 60 + i % 40, "occurred_on": "2019-05-01",
         "actor": prov},
        {"command": "open_notice", "uscc": u, "application_id": "sp", "occurred_on": "2019-05-02", "actor": prov},
        {"command": "approve", "uscc": u, "application_id": "sp", "occurred_on": "2019-05-20", "actor": prov,
         "document": f"辽工信发〔2019〕{i}号"},
    ]


# status of the designation row after each journey step (projections/pools.py), and the event making it
STEP_STATUS = {1: "applied", 2: "recommended", 3: "assessed", 4: "noticed", 5: "approved"}
EVENT_STATUS = {"Applied": "applied", "Recommended": "recommended", "Assessed": "assessed", "NoticeOpened": "noticed",
                "Approved": "approved"}


# ============================================================================ (a) commands
class Thing(Aggregate):
    """The raw baseline's aggregate: trivial, one event, one field."""

    @event("Made")
    def __init__(self, name: str) -> None:
        self.name = name


class RawBench(Application):  # type: ignore[type-arg]
    """The library as it comes: its own JSON transcoder and its own recorder."""


def raw_application(env: dict[str, str]) -> Any:
    return RawBench(env=env)


def measure_commands(ledger: Any, raw: Any, cmds: list[Any], plan: Plan, rep: Reporter) -> dict[str, Any]:
    from domain.errors import LedgerError
    from services import commands as c

    n = len(cmds)
    samples = max(1, min(plan.samples, n // max(plan.single * 2, 1)))
    bounds = [round(n * (k + 1) / samples) for k in range(samples)]
    start = 0
    many_rates, single_rates, raw_single, raw_many = [], [], [], []
    many_counts = {"accepted": 0, "repeated": 0, "refused": 0}
    single_counts = {"accepted": 0, "refused": 0}
    many_total_time = single_total_time = 0.0
    cpu = {"handle": 0.0, "raw_single": 0.0, "handle_many": 0.0, "raw_many": 0.0}  # this process's CPU seconds
    raw_single_n = raw_many_n = 0
    raw_seq = 0
    freeze_heap()
    with rep.bar(f"(a) loading {n:,} commands: handle_many × {samples} blocks, handle × {plan.single:,} per block, "
                 f"raw saves beside", n) as advance:
        for end in bounds:
            one_by_one = cmds[max(start, end - plan.single):end]
            batched = cmds[start:end - len(one_by_one)]
            # handle_many, in calls of a few batches (the same as one call: it flushes every batch)
            elapsed = 0.0
            step = plan.batch * 10
            for i in range(0, len(batched), step):
                t0, c0 = time.perf_counter(), time.process_time()
                counts = ledger.handle_many(batched[i:i + step], batch_size=plan.batch)
                elapsed += time.perf_counter() - t0
                cpu["handle_many"] += time.process_time() - c0
                for k, v in counts.items():
                    many_counts[k] += v
                advance(start + i + len(batched[i:i + step]))
            if batched:
                many_rates.append(len(batched) / elapsed)
                many_total_time += elapsed
            # handle, one command at a time, and the library alone, one save per aggregate: in
            # alternating rounds, so both see the same disk (their speed is mostly fsync's)
            rounds = max(1, min(plan.rounds, len(one_by_one) // 20))
            for r in range(rounds):
                part = one_by_one[r * len(one_by_one) // rounds:(r + 1) * len(one_by_one) // rounds]
                t0, c0 = time.perf_counter(), time.process_time()
                for cmd in part:
                    try:
                        ledger.handle(cmd)
                        single_counts["accepted"] += 1
                    except (LedgerError, c.InputError):
                        single_counts["refused"] += 1
                dt = time.perf_counter() - t0
                cpu["handle"] += time.process_time() - c0
                single_total_time += dt
                single_rates.append(len(part) / dt)
                t0, c0 = time.perf_counter(), time.process_time()
                for _ in part:
                    raw.save(Thing(name=f"thing {raw_seq}"))
                    raw_seq += 1
                raw_single.append(len(part) / (time.perf_counter() - t0))
                cpu["raw_single"] += time.process_time() - c0
                raw_single_n += len(part)
            advance(end)
            # the library alone, many aggregates per save
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(0, plan.raw_batched, plan.batch):
                raw.save(*[Thing(name=f"thing {raw_seq + j}") for j in range(plan.batch)])
                raw_seq += plan.batch
            raw_many.append(plan.raw_batched / (time.perf_counter() - t0))
            cpu["raw_many"] += time.process_time() - c0
            raw_many_n += plan.raw_batched
            start = end
    events = ledger.max_position()
    handle = median(single_rates)
    many = median(many_rates)
    per = lambda seconds, count: seconds * 1000 / count if count else float("nan")  # noqa: E731
    n_single, n_many = sum(single_counts.values()), sum(many_counts.values())
    return {
        "commands": n, "events": events, "events_per_command": events / n if n else 0,
        "handle": {
            "value": handle, "unit": "commands/s", "baseline": median(raw_single),
            "baseline_what": "raw eventsourcing: one save per one-event aggregate",
            "ratio": handle / median(raw_single),
            "target": 0.5, "pass": handle / median(raw_single) >= 0.5, "samples": single_rates,
            "baseline_samples": raw_single, "commands": sum(single_counts.values()), "outcomes": single_counts,
            "paired_ratios": [a / b for a, b in zip(single_rates, raw_single)],
            # CPU of this process (not the disk's fsync, nor a PostgreSQL server's work)
            "cpu_ms_per_command": per(cpu["handle"], n_single), "baseline_cpu_ms": per(cpu["raw_single"], raw_single_n),
            "statistic": (f"median of {len(single_rates)} rounds of {plan.single // plan.rounds} commands, "
                          f"alternating with as many raw saves"),
        },
        "handle_many": {
            "value": many, "unit": "commands/s", "baseline": median(raw_many),
            "baseline_what": f"raw eventsourcing: {plan.batch} one-event aggregates per save",
            "ratio": many / median(raw_many), "target": 0.5, "pass": many / median(raw_many) >= 0.5,
            "samples": many_rates, "baseline_samples": raw_many, "batch_size": plan.batch,
            "commands": sum(many_counts.values()), "outcomes": many_counts,
            "overall": sum(many_counts.values()) / many_total_time if many_total_time else 0,
            "cpu_ms_per_command": per(cpu["handle_many"], n_many), "baseline_cpu_ms": per(cpu["raw_many"], raw_many_n),
            "statistic": f"median of {len(many_rates)} blocks",
        },
    }


# ============================================================================ (b) rebuild
def drop_read_model(rm: Any) -> None:
    with rm._tx() as cur:
        for table in rm._row_tables():  # the rows and their versions (business time)
            cur.execute(f"DROP TABLE IF EXISTS {table}")
        for suffix in ("audit", "stats", "checkpoints"):
            cur.execute(f"DROP TABLE IF EXISTS {rm.prefix}_{suffix}")
    rm.close()


def raw_scan(ledger: Any, page: int, progress: Callable[[int], None] | None = None) -> int:
    """The floor of any rebuild: read every notification in pages and decode each."""
    recorder, to_domain_event = ledger.recorder, ledger.mapper.to_domain_event
    head = ledger.max_position()
    position, count = 0, 0
    while position < head:
        notes = recorder.select_notifications(start=position + 1, limit=page, stop=head)
        if not notes:
            break
        for note in notes:
            to_domain_event(note)
        count += len(notes)
        position = notes[-1].id
        if progress:
            progress(count)
    return count


def raw_write(ledger: Any, rm: Any, prefix: str) -> tuple[float, int]:
    """The floor of a rebuild's writes: the rows ``rm`` holds (rows, versions, audit
    entries, statistics), written again through the bare driver into empty tables of the
    same definition (a ReadModel of ``prefix`` makes them), as a rebuild writes them: the
    query-only indexes dropped first and made at the end, a commit every 20,000 rows, plain
    ``executemany`` of one-row INSERTs.  Reading the rows back is not timed.  Returns the
    seconds and the rows written; the tables are dropped afterwards."""
    from infra.readmodel import ReadModel, index_sql

    raw = ReadModel(ledger, prefix=prefix)
    tables = [*rm._row_tables(), f"{rm.prefix}_audit", f"{rm.prefix}_stats"]
    query_only = [(name, table, columns) for name, (table, columns, query) in raw._indexes().items() if query]
    with raw._tx() as cur:
        for name, _, _ in query_only:
            cur.execute(f"DROP INDEX IF EXISTS {name}")
    seconds, written = 0.0, 0
    for table in tables:
        with rm._tx(write=False) as cur:
            cur.execute(f"SELECT * FROM {table}")
            width = len(cur.description)
            rows = cur.fetchall()
        into = prefix + table.removeprefix(rm.prefix)
        insert = raw._sql(f"INSERT INTO {into} VALUES ({', '.join('?' * width)})")
        t0 = time.perf_counter()
        for i in range(0, len(rows), 20_000):
            with raw._tx() as cur:
                cur.executemany(insert, rows[i:i + 20_000])
        seconds += time.perf_counter() - t0
        written += len(rows)
        del rows
    t0 = time.perf_counter()
    with raw._tx() as cur:
        for name, table, columns in query_only:
            cur.execute(index_sql(name, table, columns))
    seconds += time.perf_counter() - t0
    drop_read_model(raw)
    return seconds, written


def measure_rebuild(ledger: Any, plan: Plan, rep: Reporter, floor: bool = False) -> dict[str, Any]:
    """Rebuilds against the raw scan; with ``floor``, also against the raw scan plus the raw
    write of the rows the rebuild made (:func:`raw_write`): what the two libraries alone
    take for what a rebuild must read and write."""
    from infra.readmodel import ReadModel

    head = ledger.max_position()
    rates, scans, counts, writes = [], [], [], []
    rows_written = 0
    freeze_heap()
    for r in range(plan.repeats):
        # Each repetition rebuilds fresh tables (prefix benchN), so every one starts from empty.
        rm = ReadModel(ledger, prefix=f"bench{r}")
        with rep.bar(f"(b) ReadModel.rebuild() {r + 1}/{plan.repeats}", head) as advance:
            t0 = time.perf_counter()
            n = rm.rebuild(lambda done, total: advance(done))
            rates.append(n / (time.perf_counter() - t0))
        counts.append(n)
        page = rm.batch_size
        if floor:
            with rep.bar(f"(b) raw write of the rebuilt rows {r + 1}/{plan.repeats}", 1) as advance:
                seconds, rows_written = raw_write(ledger, rm, f"raw{r}")
                writes.append(seconds)
                advance(1)
        drop_read_model(rm)
        with rep.bar(f"(b) raw scan + decode {r + 1}/{plan.repeats}", head) as advance:
            t0 = time.perf_counter()
            m = raw_scan(ledger, page, advance)
            scans.append(m / (time.perf_counter() - t0))
    value, base = median(rates), median(scans)
    out = {"value": value, "unit": "events/s", "events": counts[0], "baseline": base,
           "baseline_what": f"select_notifications in pages of {page} + mapper.to_domain_event of each",
           "ratio": value / base, "target": 50_000, "target_ratio": 0.5,
           "pass": value >= 50_000 and value / base >= 0.5, "pass_rate": value >= 50_000,
           "pass_ratio": value / base >= 0.5, "samples": rates, "baseline_samples": scans,
           "statistic": f"median of {plan.repeats} full rebuilds into empty tables"}
    if floor:
        # the two floors one after the other: what the rebuild's reader and its writer thread
        # would take if the fold between them cost nothing and they did not overlap
        write = median(writes)
        sequential = counts[0] / (counts[0] / base + write)
        out.update({"raw_write_seconds": write, "raw_write_rows": rows_written, "raw_write_samples": writes,
                    "floor": sequential, "floor_ratio": value / sequential,
                    "floor_what": f"raw scan, then executemany of the {rows_written:,} rows the rebuild wrote "
                                  f"into empty tables, one after the other"})
    return out


# ============================================================================ (e) memory
def child_rebuild(store: str) -> None:
    """``--child-rebuild STORE``: rebuild the read model of STORE, report RSS as JSON lines."""
    from infra.readmodel import ReadModel
    from services.ledger import Ledger

    ledger = Ledger(db=store)
    head = ledger.max_position()
    rm = ReadModel(ledger)  # the read model `cultivation rebuild` rebuilds
    base = rss_bytes()
    samples: list[tuple[int, int]] = [(0, base)]
    last = [0.0]

    def progress(done: int, total: int) -> None:
        samples.append((done, rss_bytes()))
        now = time.monotonic()
        if now - last[0] > 0.25:
            last[0] = now
            print(f"progress {done} {head}", flush=True)

    t0 = time.perf_counter()
    n = rm.rebuild(progress)
    elapsed = time.perf_counter() - t0
    peak = peak_rss_bytes()
    rm.close()
    print("result " + json.dumps({"events": n, "seconds": elapsed, "rss_before": base, "peak_rss": peak,
                                  "samples": samples[:: max(1, len(samples) // 200)] + [samples[-1]]}), flush=True)


def measure_memory(store: Store, rep: Reporter, head: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child-rebuild", store.url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=_die_with_parent)
    result: dict[str, Any] | None = None
    err: list[str] = []
    t = threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
    t.start()
    with rep.bar("(e) a separate process rebuilding the read model (peak RSS)", head) as advance:
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.startswith("progress "):
                advance(int(line.split()[1]))
            elif line.startswith("result "):
                result = json.loads(line[len("result "):])
    proc.wait()
    t.join(5)
    if result is None or proc.returncode != 0:
        raise RuntimeError(f"rebuild child failed ({proc.returncode}): {''.join(err)[-2000:]}")
    peak = result["peak_rss"]
    n = result["events"]
    # Growth of RSS over the second half of the rebuild, least squares, per event.
    pts = [(e, r) for e, r in result["samples"] if e >= n / 2]
    slope = 0.0
    if len(pts) >= 3:
        mx = sum(e for e, _ in pts) / len(pts)
        my = sum(r for _, r in pts) / len(pts)
        den = sum((e - mx) ** 2 for e, _ in pts)
        slope = max(0.0, sum((e - mx) * (r - my) for e, r in pts) / den) if den else 0.0
    extrapolated = peak + slope * max(0, TARGET_EVENTS - n)
    measured_at_target = n >= TARGET_EVENTS
    value = peak if measured_at_target else extrapolated
    return {"value": value, "unit": "bytes", "peak_rss": peak, "rss_before": result["rss_before"], "events": n,
            "seconds": result["seconds"], "growth_bytes_per_million_events": slope * 1e6,
            "extrapolated_to": None if measured_at_target else TARGET_EVENTS,
            "extrapolated_peak_rss": None if measured_at_target else extrapolated,
            "how": ("measured" if measured_at_target else
                    f"measured peak at {n:,} events + RSS growth over the second half of the rebuild "
                    f"({slope * 1e6 / MiB:.1f} MiB per million events, least squares) × the "
                    f"{TARGET_EVENTS - n:,} events still missing"
                    + ("; a run this small says little about 3M" if n < 100_000 else "")),
            "target": 2 * GiB, "pass": value < 2 * GiB, "statistic": "one run (VmHWM of the child process)"}


# ============================================================================ (c) relay
async def _connect(url: str) -> Any:
    import nats

    return await nats.connect(servers=[url], name="cultivation-benchmark", connect_timeout=5,
                              max_reconnect_attempts=3)


async def _fresh_stream(js: Any, name: str) -> None:
    from nats.js.errors import NotFoundError

    try:
        await js.delete_stream(name)
    except NotFoundError:
        pass


async def _raw_stream(js: Any) -> None:
    from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

    await _fresh_stream(js, RAW_STREAM)
    await js.add_stream(StreamConfig(name=RAW_STREAM, subjects=[f"{RAW_PREFIX}.>"], retention=RetentionPolicy.LIMITS,
                                     storage=StorageType.FILE, max_msgs=-1, max_bytes=-1, max_age=0,
                                     discard=DiscardPolicy.OLD, duplicate_window=120.0))


def prebuild_messages(ledger: Any, page: int = 5000) -> list[tuple[str, bytes, dict[str, str]]]:
    """What the relay publishes, built in advance: subject (in the raw stream), payload, headers."""
    from infra.nats import EVENT_ID_HEADER, POSITION_HEADER, Names
    from infra.relay import SubjectNamer, to_wire, wire_encoder

    namer = SubjectNamer(ledger)
    out = []
    position = 0
    while True:
        notes = ledger.recorder.select_notifications(start=position + 1, limit=page)
        if not notes:
            break
        for note in notes:
            wire = to_wire(note)
            subject = RAW_PREFIX + namer.subject(wire)[len(Names().events_prefix):]
            out.append((subject, wire_encoder.encode(wire), {EVENT_ID_HEADER: str(wire.event_id),
                                                             POSITION_HEADER: str(note.id)}))
        position = notes[-1].id
    return out


async def raw_publish(nc: Any, msgs: list[tuple[str, bytes, dict[str, str]]], batch: int,
                      advance: Callable[[int], None]) -> float:
    """Pipelined JetStream publishing, batch for batch as the relay does; returns seconds."""
    js = nc.jetstream(publish_async_max_pending=max(4000, batch * 2))
    # headers as the relay sends them, built before the clock starts (publish_async adds to the dict)
    headers = [{**h, "Nats-Expected-Last-Sequence": str(i)} for i, (_, _, h) in enumerate(msgs)]
    freeze_heap()
    t0 = time.perf_counter()
    for i in range(0, len(msgs), batch):
        futures = []
        for j in range(i, min(i + batch, len(msgs))):
            subject, payload, _ = msgs[j]
            futures.append(await js.publish_async(subject, payload, headers=headers[j], stream=RAW_STREAM))
        await asyncio.wait_for(asyncio.gather(*futures), 30)
        advance(min(i + batch, len(msgs)))
    return time.perf_counter() - t0


def measure_relay(ledger: Any, url: str, plan: Plan, rep: Reporter) -> dict[str, Any]:
    from infra.nats import Names, ensure_stream_and_bucket
    from infra.relay import Relay

    stream = Names().stream

    head = ledger.max_position()
    rep.say("(c) building the raw messages (subject, payload, headers) in advance")
    msgs = prebuild_messages(ledger)
    freeze_heap()

    async def go() -> tuple[list[float], list[float], int]:
        nc = await _connect(url)
        js = nc.jetstream()
        relay_rates, raw_rates, published = [], [], 0
        try:
            for r in range(plan.repeats):
                await _fresh_stream(js, stream)
                await ensure_stream_and_bucket(js)
                relay = Relay(ledger, nc, batch_size=plan.relay_batch)
                with rep.bar(f"(c) Relay.drain() into a fresh stream {r + 1}/{plan.repeats}", head) as advance:
                    stop = asyncio.Event()

                    async def watch() -> None:
                        while not stop.is_set():
                            advance(relay.position)
                            await asyncio.sleep(0.25)

                    watcher = asyncio.create_task(watch())
                    t0 = time.perf_counter()
                    await relay.drain(timeout=3600)
                    dt = time.perf_counter() - t0
                    stop.set()
                    await watcher
                relay_rates.append(relay.published / dt)
                published = relay.published
                await _raw_stream(js)
                raw_nc = await _connect(url)
                try:
                    with rep.bar(f"(c) raw publish_async into a fresh stream {r + 1}/{plan.repeats}",
                                 len(msgs)) as advance:
                        dt = await raw_publish(raw_nc, msgs, plan.relay_batch, advance)
                finally:
                    await raw_nc.close()
                raw_rates.append(len(msgs) / dt)
                info = await js.stream_info(RAW_STREAM)
                assert info.state.messages == len(msgs), (info.state.messages, len(msgs))
            await _fresh_stream(js, RAW_STREAM)
            info = await js.stream_info(stream)
            assert info.state.messages == head, (info.state.messages, head)
        finally:
            await nc.close()
        return relay_rates, raw_rates, published

    relay_rates, raw_rates, published = asyncio.run(go())
    value, base = median(relay_rates), median(raw_rates)
    return {"value": value, "unit": "events/s", "events": published, "baseline": base,
            "baseline_what": (f"nats-py publish_async of the prebuilt messages (same payload bytes, headers and "
                              f"subject lengths), {plan.relay_batch} per batch, then the acks"),
            "ratio": value / base, "target": 0.8, "pass": value / base >= 0.8, "samples": relay_rates,
            "baseline_samples": raw_rates, "batch_size": plan.relay_batch,
            "statistic": f"median of {plan.repeats} full drains into fresh streams"}


# ============================================================================ (d) latency
def start_serve(store: Store, url: str, home: Path, rep: Reporter, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "CULTIVATION_"))}
    env.update({"CULTIVATION_DB": store.url, "CULTIVATION_HOME": str(home), "NATS_URL": url,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))})
    home.mkdir(parents=True, exist_ok=True)
    log = open(home / "serve.log", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "serve", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=log, preexec_fn=_die_with_parent, cwd=str(ROOT))
    proc._bench_log = log  # type: ignore[attr-defined]
    line = proc.stdout.readline()  # type: ignore[union-attr]
    if "ready" not in line:
        proc.wait(10)
        raise RuntimeError(f"cultivation serve did not start: {line!r} {(home / 'serve.log').read_text()[-2000:]}")
    rep.say(f"(d) {line.strip()}")
    return proc


def stop_serve(proc: subprocess.Popen[str], timeout: float = 120) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    proc._bench_log.close()  # type: ignore[attr-defined]
    if proc.stdout:
        proc.stdout.close()
    return proc.returncode


def wait_live(ledger: Any, head: int, rep: Reporter, label: str, timeout: float = 1800) -> float:
    """Wait until the serve's live projector has applied and published up to ``head``."""
    from infra.projector import live_read_model

    live = live_read_model(ledger)
    try:
        t0 = time.perf_counter()
        with rep.bar(label, head) as advance:
            while True:
                pos, pub = live.position(), live.published_position()
                advance(min(pos, pub))
                if min(pos, pub) >= head:
                    return time.perf_counter() - t0
                if time.perf_counter() - t0 > timeout:
                    raise TimeoutError(f"live projection stuck at {pos}/{pub} of {head}")
                time.sleep(0.1)
    finally:
        live.close()


async def send_closed_loop(url: str, commands: list[dict[str, Any]], concurrency: int = 16) -> int:
    """Send with at most ``concurrency`` outstanding requests; returns how many were refused."""
    from infra.nats import Names

    nc = await _connect(url)
    queue = list(reversed(commands))
    refused = 0

    async def worker() -> None:
        nonlocal refused
        while queue:
            cmd = queue.pop()
            msg = await nc.request(Names().command_subject(cmd["actor"]["authority"], cmd["command"]),
                                   json.dumps(cmd).encode(), timeout=60)
            if not json.loads(msg.data).get("ok"):
                refused += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await nc.close()
    return refused


async def open_loop(url: str, commands: list[tuple[dict[str, Any], tuple[str, str, str]]], rate: float,
                    advance: Callable[[int], None], drain_timeout: float = 60) -> dict[str, Any]:
    """Send ``commands`` at fixed times t0 + i/rate (never waiting for a reply), watch the KV.

    Each command comes with the (uscc, application id, status) its designation row must show
    once it is applied; the KV watcher notes when each first appears in ``cultivation_pools``.
    """
    import msgspec
    from nats.js.api import DeliverPolicy

    from domain.enterprise import enterprise_id
    from infra.nats import Names

    names = Names()

    class Row(msgspec.Struct):
        uscc: str
        application_id: str
        status: str

    class Wire(msgspec.Struct):
        aggregate_id: str
        type: str

    decode = msgspec.json.Decoder(Row).decode
    decode_wire = msgspec.json.Decoder(Wire).decode
    sender, watcher = await _connect(url), await _connect(url)
    js = watcher.jetstream()
    seen: dict[tuple[str, str, str], float] = {}
    on_stream: dict[tuple[str, str], float] = {}
    replies: dict[int, tuple[float, bool]] = {}
    uscc_of = {str(enterprise_id(want[0])): want[0] for _, want in commands}

    async def on_event(msg: Any) -> None:  # the relay's publication, as any subscriber sees it
        now = time.perf_counter()
        try:
            w = decode_wire(msg.data)
        except msgspec.DecodeError:
            return
        if w.aggregate_id in uscc_of and w.type in EVENT_STATUS:
            on_stream.setdefault((uscc_of[w.aggregate_id], EVENT_STATUS[w.type]), now)

    async def on_update(msg: Any) -> None:
        now = time.perf_counter()
        try:
            row = decode(msg.data)
        except msgspec.DecodeError:
            return
        seen.setdefault((row.uscc, row.application_id, row.status), now)

    # A KV watcher of new updates: an ordered push consumer on the bucket's stream.
    await js.subscribe(f"$KV.{names.pool_bucket}.>", cb=on_update, ordered_consumer=True,
                       deliver_policy=DeliverPolicy.NEW, stream=names.kv_stream)
    inbox = sender.new_inbox()

    async def on_reply(msg: Any) -> None:
        now = time.perf_counter()
        i = int(msg.subject.rsplit(".", 1)[1])
        try:
            ok = bool(json.loads(msg.data).get("ok"))
        except ValueError:
            ok = False
        replies.setdefault(i, (now, ok))

    await sender.subscribe(f"{inbox}.*", cb=on_reply)
    await watcher.subscribe(f"{names.events_prefix}.>", cb=on_event)
    await sender.flush()
    await watcher.flush()
    payloads = [(Names().command_subject(cmd["actor"]["authority"], cmd["command"]), json.dumps(cmd).encode())
                for cmd, _ in commands]
    scheduled: list[float] = []
    lag = 0.0
    t0 = time.perf_counter() + 0.2
    for i, (subject, payload) in enumerate(payloads):
        due = t0 + i / rate
        scheduled.append(due)
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lag = max(lag, time.perf_counter() - due)
        await sender.publish(subject, payload, reply=f"{inbox}.{i}")
        if i % 100 == 0:
            advance(i)
    await sender.flush()
    sent_in = time.perf_counter() - t0
    advance(len(payloads))
    expected = [want for _, want in commands]
    deadline = time.perf_counter() + drain_timeout
    while time.perf_counter() < deadline:
        done = sum(1 for w in expected if w in seen)
        refused = sum(1 for r in replies.values() if not r[1])
        if done + refused >= len(expected) and len(replies) >= len(expected):
            break
        await asyncio.sleep(0.05)
    await sender.close()
    await watcher.close()
    latencies, reply_latencies, refused, lost = [], [], 0, 0
    relay_stage, projector_stage = [], []
    for i, want in enumerate(expected):
        reply = replies.get(i)
        if reply is not None:
            reply_latencies.append(reply[0] - scheduled[i])
            if not reply[1]:
                refused += 1
                continue
        if want in seen:
            latencies.append(seen[want] - scheduled[i])
        else:
            lost += 1
            latencies.append(float("inf"))
        streamed = on_stream.get((want[0], want[2]))
        if reply is not None and streamed is not None:
            relay_stage.append(streamed - reply[0])
            if want in seen:
                projector_stage.append(seen[want] - streamed)
    last_reply = max((r[0] for r in replies.values()), default=t0)
    return {"latencies": latencies, "reply_latencies": reply_latencies, "refused": refused, "lost": lost,
            "relay_stage": relay_stage, "projector_stage": projector_stage,
            "send_seconds": sent_in, "max_send_lag": lag, "replies": len(replies),
            "served_rate": len(replies) / (last_reply - t0) if last_reply > t0 else float("nan")}


def measure_latency(ledger: Any, store: Store, url: str, workdir: Path, plan: Plan, rep: Reporter,
                    nats_pid: int | None, in_process: bool = False) -> dict[str, Any]:
    """(d) against ``cultivation serve`` (its projector in a child process, with the other
    core), or (``in_process``) ``cultivation serve --projector-in-process``."""
    head = ledger.max_position()
    proc = start_serve(store, url, workdir / "serve-home", rep, *(["--projector-in-process"] if in_process else []))
    try:
        warm = wait_live(ledger, head, rep, f"(d) serve's live projector catching up {head:,} events from the stream")
        marker, tag = ("MD", "lat2") if in_process else ("MC", "lat")  # other enterprises, other command ids
        meter = CpuMeter(proc.pid, nats_pid, store.pg)
        result = latency_window(ledger, url, plan.rate, plan.seconds, marker, tag, rep, "(d)", meter)
    finally:
        code = stop_serve(proc)
    return {**result, "warmup_seconds": warm, "warmup_events": head, "serve_exit_code": code}


# Each step of (f) on enterprises of its own (a USCC marker each: letters of GB 32100's alphabet).
STEP_MARKERS = ("ME", "MF", "MG", "MH", "MJ", "MK", "ML", "MM")


def measure_rate_steps(ledger: Any, store: Store, url: str, workdir: Path, plan: Plan, rep: Reporter,
                       nats_pid: int | None) -> dict[str, Any]:
    """(f) the highest offered rate at which ``cultivation serve`` keeps command → KV p99 under
    50 ms: open-loop windows of ``plan.seconds`` at each of ``plan.rates`` against one serve,
    stopping at the first rate that misses (lost or refused commands miss too)."""
    head = ledger.max_position()
    proc = start_serve(store, url, workdir / "serve-steps-home", rep)
    steps: list[dict[str, Any]] = []
    try:
        wait_live(ledger, head, rep, f"(f) serve's live projector catching up {head:,} events from the stream")
        for k, rate in enumerate(plan.rates):
            meter = CpuMeter(proc.pid, nats_pid, store.pg)
            step = latency_window(ledger, url, rate, plan.seconds, STEP_MARKERS[k], f"step{k}", rep, "(f)", meter)
            steps.append(step)
            if not step["pass"]:
                break
    finally:
        code = stop_serve(proc)
    held = [s["offered_rate"] for s in steps if s["pass"]]
    best = max(held) if held else 0.0
    target = 1000.0 if store.pg else 2000.0
    return {"value": best, "unit": "/s", "target": target, "pass": best >= target, "serve_exit_code": code,
            "steps": [{k: s[k] for k in ("offered_rate", "p50_ms", "p99_ms", "reply_p99_ms", "served_rate", "lost",
                                         "refused", "pass", "stages_ms", "cpu_cores")} for s in steps],
            "statistic": (f"open-loop windows of {plan.seconds:g} s at {', '.join(f'{r:g}' for r in plan.rates)} "
                          f"commands/s against one serve, stopping at the first whose p99 (scheduled send → KV "
                          f"update seen by a watcher) is 50 ms or more")}


def latency_window(ledger: Any, url: str, rate: float, seconds: float, marker: str, tag: str, rep: Reporter,
                   label: str, meter: CpuMeter) -> dict[str, Any]:
    """One open-loop window against a running serve: ``rate`` commands/s for ``seconds``, on
    enterprises of their own (``marker``) registered first (closed loop, not timed); each
    command timed from its scheduled send to its designation's change in the KV bucket,
    and the CPU each process used meanwhile (``meter``)."""
    n_ent = max(1, int(rate * seconds) // 5)
    registers = [{**journey(i, marker=marker)[0], "command_id": f"{tag}-{i}-0"} for i in range(n_ent)]
    with rep.bar(f"{label} registering {n_ent:,} enterprises (closed loop, not timed)", None):
        refused = asyncio.run(send_closed_loop(url, registers))
    if refused:
        raise RuntimeError(f"{refused} registrations refused: is the store fresh?")
    wait_live(ledger, ledger.max_position(), rep, f"{label} projector catching up the registrations")
    # Step-major order: an enterprise's next command comes n_ent/rate seconds after its last.
    timed = []
    for step in range(1, 6):
        for i in range(n_ent):
            cmd = {**journey(i, marker=marker)[step], "command_id": f"{tag}-{i}-{step}"}
            timed.append((cmd, (cmd["uscc"], "sp", STEP_STATUS[step])))
    freeze_heap()  # the window's inputs and what earlier parts left: no full pass of the watcher's collector on them
    with rep.bar(f"{label} open loop: {len(timed):,} commands at {rate:g}/s, KV watched", len(timed)) as advance, \
            meter:
        res = asyncio.run(open_loop(url, timed, rate, advance))
    lat = sorted(res["latencies"])
    replies = sorted(res["reply_latencies"])
    relay_stage, projector_stage = sorted(res["relay_stage"]), sorted(res["projector_stage"])
    p50, p99 = percentile(lat, 50), percentile(lat, 99)
    ms = lambda x: x * 1000 if x != float("inf") else float("inf")  # noqa: E731
    return {"value": ms(p99), "unit": "ms", "p50_ms": ms(p50), "p90_ms": ms(percentile(lat, 90)), "p99_ms": ms(p99),
            "max_ms": ms(lat[-1]) if lat else float("nan"), "commands": len(res["latencies"]) + res["refused"],
            "offered_rate": rate, "seconds": seconds, "achieved_send_rate": len(timed) / res["send_seconds"],
            "max_send_lag_ms": res["max_send_lag"] * 1000, "refused": res["refused"], "lost": res["lost"],
            "reply_p50_ms": ms(percentile(replies, 50)), "reply_p99_ms": ms(percentile(replies, 99)),
            "served_rate": res["served_rate"],
            "stages_ms": {  # where the time goes: send → reply (service), reply → stream (relay), stream → KV
                "service": {"p50": ms(percentile(replies, 50)), "p99": ms(percentile(replies, 99))},
                "relay": {"p50": ms(percentile(relay_stage, 50)), "p99": ms(percentile(relay_stage, 99))},
                "projector": {"p50": ms(percentile(projector_stage, 50)), "p99": ms(percentile(projector_stage, 99))},
            },
            "cpu_cores": meter.cores, "machine_cores": os.cpu_count(),
            "target": 50.0, "pass": ms(p99) < 50.0 and res["lost"] == 0 and res["refused"] == 0,
            "statistic": (f"percentiles of all {len(res['latencies'])} commands of one {seconds:g} s open-loop "
                          f"window, from the scheduled send time to the KV update seen by a watcher")}


# ============================================================================ the run
def run(args: argparse.Namespace, plan: Plan, rep: Reporter) -> dict[str, Any]:
    from infra.nats import EmbeddedNats
    from services.ledger import Ledger

    results: dict[str, Any] = {"meta": {"machine": machine(), "plan": asdict(plan), "quick": args.quick,
                                        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}}
    t_start = time.perf_counter()
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="cultivation-bench-"))
        stack.callback(lambda: shutil.rmtree(workdir, ignore_errors=True) if not args.keep else None)
        store = Store(args.db, workdir, args.keep)
        stack.callback(store.cleanup)
        meta = results["meta"]
        meta.update(store=store.kind, store_url=store.describe())
        rep.say(f"store: {store.kind}: {store.describe()}")
        rep.say("generating the history …")
        cmds, source, bad = history(plan)
        meta.update(generator=source, commands=len(cmds), undecodable=bad)
        rep.say(f"history: {len(cmds):,} commands from {source}")
        ledger = Ledger(db=store.url)
        stack.callback(ledger.close)
        raw = raw_application(store.raw_env)
        stack.callback(raw.close)
        m: dict[str, Any] = {}
        if "a" in args.only:
            a = measure_commands(ledger, raw, cmds, plan, rep)
            m["handle"], m["handle_many"] = a["handle"], a["handle_many"]
            events, per_command = a["events"], a["events_per_command"]
            rep.say(f"(a) store loaded: {events:,} events; handle {a['handle']['value']:,.0f}/s, "
                    f"handle_many {a['handle_many']['value']:,.0f}/s")
        else:
            with rep.bar(f"loading {len(cmds):,} commands (not timed: (a) is not measured)", len(cmds)) as advance:
                done = [0]

                def count(_cmd: Any, _result: Any) -> None:
                    done[0] += 1
                    if done[0] % 5000 == 0:
                        advance(done[0])

                ledger.handle_many(cmds, on_result=count, batch_size=500)
            events = ledger.max_position()
            per_command = events / max(len(cmds), 1)
        del cmds
        meta.update(events=events, events_per_command=round(per_command, 2))
        if "b" in args.only:
            m["rebuild"] = measure_rebuild(ledger, plan, rep, floor=True)
        if "e" in args.only:
            m["memory"] = measure_memory(store, rep, events)
        if set("cdf") & set(args.only):
            nats = EmbeddedNats(store_dir=workdir / "nats")
            nats.start()
            stack.callback(nats.close)
            meta["nats_url"] = nats.url
            nats_pid = nats.proc.pid if nats.proc else None
            if "c" in args.only:
                m["relay"] = measure_relay(ledger, nats.url, plan, rep)
            if "d" in args.only:
                m["latency"] = measure_latency(ledger, store, nats.url, workdir, plan, rep, nats_pid)
                m["latency_one_process"] = measure_latency(ledger, store, nats.url, workdir, plan, rep, nats_pid,
                                                           in_process=True)
            if "f" in args.only:
                m["rate"] = measure_rate_steps(ledger, store, nats.url, workdir, plan, rep, nats_pid)
        results["measurements"] = {k: m[k] for k in MEASUREMENTS if k in m}
    meta["seconds"] = round(time.perf_counter() - t_start, 1)
    results["summary"] = summary_rows(results)
    return results


# ============================================================================ the table
def _n(x: float, unit: str = "") -> str:
    if x != x:  # nan
        return "—"
    if x == float("inf"):
        return "∞"
    return f"{x:,.0f}{unit}" if abs(x) >= 100 else f"{x:,.1f}{unit}"


def summary_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    m = results["measurements"]
    ok = lambda b: "PASS" if b else "MISS"  # noqa: E731
    rows = []
    if "handle" in m:
        h, hm = m["handle"], m["handle_many"]
        rows += [
            {"measurement": "(a) commands/s, handle (one by one)", "result": _n(h["value"], "/s"),
             "baseline": f"{_n(h['baseline'], '/s')} raw saves", "ratio": f"{h['ratio']:.2f}×",
             "target": TARGETS["handle"], "status": ok(h["pass"])},
            {"measurement": f"(a) commands/s, handle_many (batch {hm['batch_size']})", "result": _n(hm["value"], "/s"),
             "baseline": f"{_n(hm['baseline'], '/s')} raw saves ({hm['batch_size']}/save)",
             "ratio": f"{hm['ratio']:.2f}×", "target": TARGETS["handle_many"], "status": ok(hm["pass"])}]
    if "rebuild" in m:
        rb = m["rebuild"]
        floor = "" if "floor" not in rb else (
            f"; {_n(rb['floor'], '/s')} scan + raw write of its {rb['raw_write_rows']:,} rows "
            f"({rb['raw_write_seconds']:.2f} s) = {rb['floor_ratio']:.2f}×")
        rows.append({"measurement": "(b) rebuild, events/s", "result": _n(rb["value"], "/s"),
                     "baseline": f"{_n(rb['baseline'], '/s')} raw scan{floor}", "ratio": f"{rb['ratio']:.2f}×",
                     "target": TARGETS["rebuild"], "status": f"{ok(rb['pass_rate'])} / {ok(rb['pass_ratio'])}"})
    if "relay" in m:
        rl = m["relay"]
        rows.append({"measurement": f"(c) relay, events/s (batch {rl['batch_size']})", "result": _n(rl["value"], "/s"),
                     "baseline": f"{_n(rl['baseline'], '/s')} raw publish", "ratio": f"{rl['ratio']:.2f}×",
                     "target": TARGETS["relay"], "status": ok(rl["pass"])})
    for key, how in (("latency", "serve"), ("latency_one_process", "serve --projector-in-process")):
        if key in m:
            lt = m[key]
            rows.append({"measurement": f"(d) command → KV at {lt['offered_rate']:g}/s, p50 / p99 ({how})",
                         "result": f"{_n(lt['p50_ms'])} / {_n(lt['p99_ms'])} ms",
                         "baseline": f"reply p99 {_n(lt['reply_p99_ms'])} ms; CPU {lt['cpu_cores']['total']:.1f} "
                                     f"cores", "ratio": "—",
                         "target": TARGETS[key], "status": ok(lt["pass"])})
    if "rate" in m:
        rt = m["rate"]
        steps = ", ".join(f"{st['offered_rate']:g}/s {_n(st['p99_ms'])} ms (CPU {st['cpu_cores']['total']:.1f} "
                          f"cores)" for st in rt["steps"])
        rows.append({"measurement": "(f) highest rate with command → KV p99 < 50 ms (serve)",
                     "result": _n(rt["value"], "/s"), "baseline": f"p99 by step: {steps}", "ratio": "—",
                     "target": TARGETS["rate"], "status": ok(rt["pass"])})
    if "memory" in m:
        mem = m["memory"]
        rows.append({"measurement": f"(e) peak RSS, rebuild of {mem['events']:,} events",
                     "result": f"{mem['peak_rss'] / MiB:,.0f} MiB"
                               + ("" if mem["extrapolated_to"] is None else
                                  f" → {mem['extrapolated_peak_rss'] / MiB:,.0f} MiB at 3M (extrapolated)"),
                     "baseline": "—", "ratio": "—", "target": TARGETS["memory"], "status": ok(mem["pass"])})
    return rows


def print_table(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    meta = results["meta"]
    mm = meta["machine"]
    console = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 200)
    t = Table(title=(f"cultivation-ledger benchmarks — {meta['store']}, {meta['events']:,} events "
                     f"({meta['commands']:,} commands), {mm['cpus']} cores, {mm['memory_gib']} GiB"),
              title_justify="left")
    for col in ("measurement", "result", "baseline", "ratio", "target", "status"):
        t.add_column(col, justify="right" if col in ("result", "ratio") else "left")
    for r in results["summary"]:
        style = "green" if "MISS" not in r["status"] else "red"
        t.add_row(r["measurement"], r["result"], r["baseline"], r["ratio"], r["target"],
                  f"[{style}]{r['status']}[/]")
    console.print(t)
    m = results["measurements"]
    notes = [f"history: {meta['generator']}"]
    if "handle" in m:
        notes += [
            f"(a) {m['handle']['statistic']}; handle_many: {m['handle_many']['statistic']}",
            f"(a) CPU of this process per command: handle {m['handle']['cpu_ms_per_command']:.2f} ms vs raw save "
            f"{m['handle']['baseline_cpu_ms']:.2f} ms; handle_many {m['handle_many']['cpu_ms_per_command']:.2f} ms vs "
            f"raw {m['handle_many']['baseline_cpu_ms']:.3f} ms per aggregate (the rest of a one-by-one save is "
            f"waiting on the disk)"]
    if "rebuild" in m:
        notes.append(f"(b) {m['rebuild']['statistic']}")
    if "relay" in m:
        notes.append(f"(c) {m['relay']['statistic']}")
    for key, how in (("latency", "serve"), ("latency_one_process", "projector in process")):
        if key in m:
            lt = m[key]
            notes += [
                f"(d, {how}) {lt['statistic']}; lost {lt['lost']}, refused {lt['refused']}, sent at "
                f"{lt['achieved_send_rate']:,.0f}/s (max lag {lt['max_send_lag_ms']:.1f} ms), replies came back at "
                f"{lt['served_rate']:,.0f}/s",
                f"(d, {how}) stages p50 / p99: " + ", ".join(f"{k} {_n(v['p50'])} / {_n(v['p99'])} ms"
                                                            for k, v in lt["stages_ms"].items())
                + " (service: send → reply; relay: reply → on the stream; projector: on the stream → in the KV)"]
    if "memory" in m:
        notes.append(f"(e) {m['memory']['how']}")
    if "rate" in m:
        notes.append(f"(f) {m['rate']['statistic']}; stages p99 by step: " + "; ".join(
            f"{st['offered_rate']:g}/s " + ", ".join(f"{k} {_n(v['p99'])}" for k, v in st["stages_ms"].items())
            for st in m["rate"]["steps"]) + " ms")
    notes.append(f"{mm['cpu']}; Python {mm['python']}, SQLite {mm['sqlite']}, eventsourcing {mm['eventsourcing']}, "
                 f"nats-py {mm['nats_py']}, {mm['nats_server']}; run took {meta['seconds']:.0f} s")
    for line in notes:
        console.print(f"  {line}")


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return None if obj != obj else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--enterprises", type=int, help="enterprises in the generated history (default 8,000: "
                                                    "about 200,000 events; --quick 1,000)")
    p.add_argument("--years", type=int, help="years of history (default 10)")
    p.add_argument("--db", help="a new SQLite file, or postgresql://… (a fresh schema is made and dropped); "
                                "default: a SQLite file in a temporary folder")
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    p.add_argument("--quick", action="store_true", help="a small run for a smoke test (well under a minute)")
    p.add_argument("--repeats", type=int, help="repetitions of (b) and (c) (default 3, --quick 2)")
    p.add_argument("--rate", type=float, help="offered load of (d), commands/s (default 500)")
    p.add_argument("--seconds", type=float, help="length of (d) in seconds (default 10, --quick 3)")
    p.add_argument("--keep", action="store_true", help="keep the store and the temporary folder")
    p.add_argument("--rates", help="the offered rates of (f), commands/s, stepped up: e.g. 500,1000,2000,4000 "
                                   "(the default; --quick 100,200)")
    p.add_argument("--only", default="abcdef", metavar="LETTERS",
                   help="measure only these, e.g. --only d or --only bc (default abcdef: all); the store is\n"
                        "loaded either way (untimed when (a) is left out)")
    p.add_argument("--child-rebuild", metavar="STORE", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not args.only or set(args.only) - set("abcdef"):
        p.error(f"--only: letters among a, b, c, d, e, f (got {args.only!r})")
    if args.child_rebuild:
        child_rebuild(args.child_rebuild)
        return 0
    plan = Plan.quick() if args.quick else Plan()
    for name in ("enterprises", "years", "repeats", "rate", "seconds"):
        if getattr(args, name) is not None:
            setattr(plan, name, getattr(args, name))
    if args.rates:
        try:
            plan.rates = tuple(sorted(float(r) for r in args.rates.split(",")))
        except ValueError:
            p.error(f"--rates: commands/s separated by commas, e.g. 500,1000,2000 (got {args.rates!r})")
        if not 0 < len(plan.rates) <= len(STEP_MARKERS) or plan.rates[0] <= 0:
            p.error(f"--rates: 1 to {len(STEP_MARKERS)} rates above 0 (got {args.rates!r})")
    return measure_and_print(run, print_table, args, plan)


def measure_and_print(measure: Callable[[argparse.Namespace, Any, Reporter], dict[str, Any]],
                      table: Callable[[dict[str, Any]], None], args: argparse.Namespace, plan: Any) -> int:
    """A benchmark's run (this one's and ``scale.py``'s): SIGTERM stops it as Ctrl-C does,
    progress on stderr, then the results as JSON (``--json``) or as the table."""
    def terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminate)
    with Reporter() as rep:
        results = measure(args, plan, rep)
    if args.json:
        sys.stdout.write(json.dumps(_json_safe(results), indent=2, ensure_ascii=False) + "\n")
    else:
        table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
