#!/usr/bin/env python3
"""How the ledger's speed holds as the store grows: the national history, loaded in stages.

    python benchmarks/scale.py [--stages 200000,1000000,2000000] [--db PATH | postgresql://…] [--json] [--quick]

One fresh store (as ``benchmarks/run.py``: a SQLite file in a temporary folder, or a fresh
PostgreSQL schema named by ``--db``), loaded with the history of
``scenarios.generate.generate_commands`` (by default the national size, 360,000
enterprises, in business-date order) until it holds each stage's number of events.  At
each stage:

- **commands/s**: ``Ledger.handle_many`` (batches of 200) of the next slice of the history;
- **rebuild events/s**: ``ReadModel.rebuild()`` into empty tables, against the raw scan of
  the same log (``benchmarks/run.py``'s ``measure_rebuild`` and ``raw_scan``: one home);
- **pool as of**: ``ReadModel.pool`` of the province with the most enterprises, for its
  tier of the most designations, on the last business date loaded; p99 of repeated runs;
- **city report**: ``reports.figures.build_report`` for that province's busiest city.

At the last stage, the peak RSS of a separate process rebuilding the read model
(``run.py``'s ``measure_memory``).  Targets: commands/s and rebuild events/s at the last
stage ≥ 0.7× the first; rebuild ≥ 0.7× the raw scan at every stage; pool p99 < 100 ms;
city report < 2 s; peak RSS < 1 GiB.  Everything is removed at the end (``--keep`` keeps it).

The pool is measured twice: as ``cultivation.query.pool`` answers it (a page of up to 1,000
designations and the pool's size, :func:`services.queries.answer_pool`), which the target is
for, and as the whole listing the CLI prints (``ReadModel.pool``), for comparison.

``--loaded STORE`` measures a store loaded already (say by ``cultivation submit`` of the
national history) as one stage, without loading or timing commands: the rebuild against the
raw scan (into tables of their own, dropped after), the pool and the report on the last
business date of the store, and the peak RSS of ``cultivation rebuild``'s own rebuild of it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.run import (  # noqa: E402 - after the path is set
    GiB,
    MiB,
    Plan,
    Reporter,
    Store,
    machine,
    measure_and_print,
    measure_memory,
    measure_rebuild,
    median,
    percentile,
    raw_scan,
)
from infra.heap import freeze_heap  # noqa: E402

DEFAULT_STAGES = (200_000, 1_000_000, 2_000_000)
QUICK_STAGES = (4_000, 9_000)
POOL_TIER = "innovative"
READ_PAGE = 5000  # the raw scan's page: the read model's (ReadModel.batch_size)
TARGETS = {
    "commands": "last stage ≥ 0.7× the first",
    "rebuild": "last stage ≥ 0.7× the first",
    "rebuild_vs_raw": "≥ 0.7× raw scan at every stage",
    "pool": "p99 < 100 ms at every stage (a page of cultivation.query.pool)",
    "report": "< 2 s at every stage",
    "memory": "< 1 GiB",
}


@dataclass
class ScalePlan:
    stages: tuple[int, ...] = DEFAULT_STAGES  # events in the store at each stage
    enterprises: int = 360_000  # the national size (scenarios.generate.DEFAULT_ENTERPRISES)
    years: int = 10
    seed: int = 1
    slice: int = 20_000  # commands of the timed handle_many slice at each stage
    batch: int = 200  # handle_many batch size (as run.py)
    load_batch: int = 500  # untimed loading (as `cultivation submit`)
    repeats: int = 1  # rebuilds (and raw scans) per stage
    pool_runs: int = 50  # pool queries per stage (p99 of them)
    report_runs: int = 3  # city reports per stage (median and max)
    memory: bool = True  # peak RSS of a rebuild at the last stage

    @classmethod
    def quick(cls) -> ScalePlan:
        return cls(stages=QUICK_STAGES, enterprises=1_000, slice=1_000, pool_runs=10, report_runs=2)


def commands(plan: ScalePlan) -> Iterator[Any]:
    """The generated history, decoded; commands that do not decode are left out (none do)."""
    from scenarios.generate import generate_commands
    from services import commands as c

    for d in generate_commands(plan.enterprises, plan.years, plan.seed, start_year=2016):
        try:
            yield c.convert_command(d)
        except c.InputError:
            pass


def take(it: Iterator[Any], n: int) -> list[Any]:
    out = []
    for cmd in it:
        out.append(cmd)
        if len(out) >= n:
            break
    return out


def busiest(rm: Any) -> tuple[str, str, str]:
    """The province with the most enterprises, its city with the most, and the province's
    tier of the most designations (``innovative`` where none is yet)."""
    with rm._tx(write=False) as cur:
        table = rm.tables["enterprise"][0]
        cur.execute(f"SELECT substr(region, 1, 2), COUNT(*) FROM {table} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1")
        province = cur.fetchone()[0]
        cur.execute(rm._sql(f"SELECT substr(region, 1, 4), COUNT(*) FROM {table} WHERE substr(region, 1, 2) = ? "
                            f"GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"), (province,))
        city = cur.fetchone()[0]
        cur.execute(rm._sql(f"SELECT tier, COUNT(*) FROM {rm.tables['designation'][0]} "
                            f"WHERE substr(region, 1, 2) = ? GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"), (province,))
        row = cur.fetchone()
    return province + "0000", city + "00", row[0] if row else POOL_TIER


def measure_queries(ledger: Any, plan: ScalePlan, as_of: str, rep: Reporter) -> dict[str, Any]:
    from datetime import date

    from infra.readmodel import ReadModel
    from reports.figures import build_report
    from services.queries import PoolQuery, answer_pool

    rm = ReadModel(ledger)  # the read model the CLI queries, caught up (untimed) stage by stage
    try:
        with rep.bar("catching up the read model (not timed)", ledger.max_position()) as advance:
            rm.catch_up(lambda done, total: advance(done))
        province, city, tier = busiest(rm)
        query = PoolQuery(tier=tier, as_of=date.fromisoformat(as_of), region=province)
        pages, listings, size, page_size = [], [], 0, 0
        with rep.bar(f"pool of {province} ({tier}) as of {as_of}: a page and the whole listing × {plan.pool_runs}",
                     plan.pool_runs) as advance:
            for i in range(plan.pool_runs):
                t0 = time.perf_counter()
                answer = answer_pool(rm, ledger.policy, query)
                t1 = time.perf_counter()
                size = len(rm.pool(tier=tier, as_of=as_of, region=province))
                listings.append(time.perf_counter() - t1)
                pages.append(t1 - t0)
                page_size = answer.count
                advance(i + 1)
        if answer.total != size:
            raise RuntimeError(f"the pool's page says {answer.total} designations, its listing has {size}")
        pages.sort()
        listings.sort()
        reports = []
        with rep.bar(f"report of {city} as of {as_of} × {plan.report_runs}", plan.report_runs) as advance:
            for i in range(plan.report_runs):
                t0 = time.perf_counter()
                build_report(rm, ledger.policy, as_of=as_of, region=city)
                reports.append(time.perf_counter() - t0)
                advance(i + 1)
    finally:
        rm.close()
    p99 = percentile(pages, 99) * 1000
    return {"pool": {"value": p99, "unit": "ms", "p50_ms": percentile(pages, 50) * 1000, "p99_ms": p99,
                     "max_ms": pages[-1] * 1000, "runs": len(pages), "province": province, "tier": tier,
                     "as_of": as_of, "rows": size, "page_rows": page_size, "target": 100.0, "pass": p99 < 100.0,
                     "what": "cultivation.query.pool's answer: the first page (limit 1,000) and the pool's total",
                     "samples_ms": [t * 1000 for t in pages],
                     "listing": {"p50_ms": percentile(listings, 50) * 1000,
                                 "p99_ms": percentile(listings, 99) * 1000, "rows": size,
                                 "what": "ReadModel.pool: every row of the pool (the CLI's listing); no target",
                                 "samples_ms": [t * 1000 for t in listings]}},
            "report": {"value": median(reports), "unit": "s", "max": max(reports), "city": city, "as_of": as_of,
                       "runs": len(reports), "target": 2.0, "pass": max(reports) < 2.0, "samples": reports}}


def last_business_date(ledger: Any) -> str:
    """The latest business date of the store's events folded so far (the read model's)."""
    from infra.readmodel import ReadModel

    rm = ReadModel(ledger)
    try:
        rm.catch_up()
        with rm._tx(write=False) as cur:
            cur.execute(f"SELECT MAX(dated_to) FROM {rm.tables['enterprise'][0]}")
            row = cur.fetchone()
    finally:
        rm.close()
    return str(row[0]) if row and row[0] else time.strftime("%Y-%m-%d")


class LoadedStore:
    """A store loaded already (``--loaded``): measured as it is, never removed."""

    def __init__(self, url: str):
        from infra.store import describe, is_postgres

        self.url = url
        self.kind = "PostgreSQL" if is_postgres(url) else "SQLite (WAL)"
        self._describe = describe(url)

    def describe(self) -> str:
        return str(self._describe)

    def cleanup(self) -> None:
        pass


def run_loaded(args: argparse.Namespace, plan: ScalePlan, rep: Reporter) -> dict[str, Any]:
    """``--loaded STORE``: one stage, the store as it is (see the module's docstring)."""
    from services.ledger import Ledger

    store = LoadedStore(args.loaded)
    results: dict[str, Any] = {"meta": {"machine": machine(), "plan": asdict(plan), "quick": args.quick,
                                        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "store": store.kind,
                                        "store_url": store.describe(), "loaded": True,
                                        "generator": "a store loaded before the run (--loaded)"}}
    t_start = time.perf_counter()
    ledger = Ledger(db=store.url)
    try:
        events = ledger.max_position()
        rep.say(f"store: {store.kind}: {store.describe()}; {events:,} events")
        stage: dict[str, Any] = {"stage": events, "events": events, "commands_loaded": None, "commands": None}
        if plan.memory:
            # The rebuild `cultivation rebuild` makes, in a process of its own: its time and its
            # peak RSS (one rebuild of a national store is minutes; not a second one in here),
            # then the raw scan of the same log in this process.
            mem = measure_memory(store, rep, events)  # type: ignore[arg-type]
            results["memory"] = {"value": mem["peak_rss"], "unit": "bytes", "peak_rss": mem["peak_rss"],
                                 "events": mem["events"], "seconds": mem["seconds"], "target": GiB,
                                 "pass": mem["peak_rss"] < GiB,
                                 "statistic": "VmHWM of a separate process rebuilding the read model"}
            with rep.bar("(b) raw scan + decode", events) as advance:
                t0 = time.perf_counter()
                scanned = raw_scan(ledger, READ_PAGE, advance)
                base = scanned / (time.perf_counter() - t0)
            value = mem["events"] / mem["seconds"]
            rb = {"value": value, "unit": "events/s", "events": mem["events"], "seconds": mem["seconds"],
                  "baseline": base, "ratio": value / base, "samples": [value], "baseline_samples": [base],
                  "baseline_what": f"select_notifications in pages of {READ_PAGE} + mapper.to_domain_event of each",
                  "statistic": "one rebuild of the read model the CLI queries, in a process of its own"}
        else:
            rb = measure_rebuild(ledger, Plan(repeats=plan.repeats), rep)
        stage["rebuild"] = {k: rb[k] for k in ("value", "unit", "events", "baseline", "baseline_what", "ratio",
                                               "samples", "baseline_samples", "statistic")}
        stage["rebuild"].update({"target": 0.7, "pass": rb["ratio"] >= 0.7, "seconds": rb.get("seconds")})
        rep.say(f"rebuild {rb['value']:,.0f} events/s, raw scan {rb['baseline']:,.0f}/s ({rb['ratio']:.2f}×)")
        # (after the rebuild: the read model is caught up by then, or caught up here untimed)
        stage["last_business_date"] = as_of = last_business_date(ledger)
        stage.update(measure_queries(ledger, plan, as_of, rep))
        results["stages"] = [stage]
        results["meta"].update(events=events, commands=None)
    finally:
        ledger.close()
    results["meta"]["seconds"] = round(time.perf_counter() - t_start, 1)
    results["checks"] = checks(results)
    return results


def run(args: argparse.Namespace, plan: ScalePlan, rep: Reporter) -> dict[str, Any]:
    from services.ledger import Ledger

    results: dict[str, Any] = {"meta": {"machine": machine(), "plan": asdict(plan), "quick": args.quick,
                                        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}}
    meta = results["meta"]
    meta["generator"] = (f"scenarios.generate.generate_commands({plan.enterprises}, {plan.years}, "
                         f"seed={plan.seed}, start_year=2016)")
    t_start = time.perf_counter()
    stages: list[dict[str, Any]] = []
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="cultivation-scale-"))
        stack.callback(lambda: shutil.rmtree(workdir, ignore_errors=True) if not args.keep else None)
        store = Store(args.db, workdir, args.keep)
        stack.callback(store.cleanup)
        meta.update(store=store.kind, store_url=store.describe())
        rep.say(f"store: {store.kind}: {store.describe()}; history: {meta['generator']}")
        ledger = Ledger(db=store.url)
        stack.callback(ledger.close)
        history = commands(plan)
        loaded, last_date = 0, ""
        rebuild_plan = Plan(repeats=plan.repeats)
        for target in plan.stages:
            # Untimed load up to the stage, less the timed slice (events per command so far).
            with rep.bar(f"loading to {target:,} events (not timed)", target) as advance:
                while (short := target - ledger.max_position()
                       - round(plan.slice * (ledger.max_position() / loaded if loaded else 1))) > 0:
                    chunk = take(history, max(1, min(plan.load_batch * 10, short // 2)))
                    if not chunk:
                        break
                    ledger.handle_many(chunk, batch_size=plan.load_batch)
                    loaded += len(chunk)
                    last_date = str(chunk[-1].occurred_on)
                    advance(ledger.max_position())
            part = take(history, plan.slice)
            if not part:
                rep.say(f"the history ended at {ledger.max_position():,} events: no stage {target:,}")
                break
            freeze_heap()
            t0 = time.perf_counter()
            counts = ledger.handle_many(part, batch_size=plan.batch)
            elapsed = time.perf_counter() - t0
            loaded += len(part)
            last_date = str(part[-1].occurred_on)
            events = ledger.max_position()
            stage: dict[str, Any] = {"stage": target, "events": events, "commands_loaded": loaded,
                                     "last_business_date": last_date,
                                     "commands": {"value": len(part) / elapsed, "unit": "commands/s",
                                                  "commands": len(part), "seconds": elapsed, "outcomes": counts,
                                                  "batch_size": plan.batch}}
            rep.say(f"stage {target:,}: {events:,} events; handle_many {stage['commands']['value']:,.0f} commands/s")
            rb = measure_rebuild(ledger, rebuild_plan, rep)
            stage["rebuild"] = {k: rb[k] for k in ("value", "unit", "events", "baseline", "baseline_what", "ratio",
                                                   "samples", "baseline_samples", "statistic")}
            stage["rebuild"].update({"target": 0.7, "pass": rb["ratio"] >= 0.7})
            rep.say(f"stage {target:,}: rebuild {rb['value']:,.0f} events/s, raw scan {rb['baseline']:,.0f}/s "
                    f"({rb['ratio']:.2f}×)")
            stage.update(measure_queries(ledger, plan, last_date, rep))
            rep.say(f"stage {target:,}: pool p99 {stage['pool']['p99_ms']:.1f} ms ({stage['pool']['rows']:,} rows), "
                    f"report {stage['report']['value']:.2f} s")
            stages.append(stage)
        if plan.memory and stages:
            mem = measure_memory(store, rep, ledger.max_position())
            results["memory"] = {"value": mem["peak_rss"], "unit": "bytes", "peak_rss": mem["peak_rss"],
                                 "events": mem["events"], "seconds": mem["seconds"], "target": GiB,
                                 "pass": mem["peak_rss"] < GiB,
                                 "statistic": "VmHWM of a separate process rebuilding the read model, last stage"}
        meta["events"] = ledger.max_position()
        meta["commands"] = loaded
    results["stages"] = stages
    meta["seconds"] = round(time.perf_counter() - t_start, 1)
    results["checks"] = checks(results)
    return results


def checks(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every figure with its target, ratio and verdict."""
    stages = results["stages"]
    out: list[dict[str, Any]] = []
    if not stages:
        return out
    first, last = stages[0], stages[-1]
    for name in ("commands", "rebuild"):
        if len(stages) < 2 or first[name] is None:
            continue  # growth needs two stages (and timed commands: not with --loaded)
        ratio = last[name]["value"] / first[name]["value"]
        out.append({"check": name, "what": f"{name} {last['events']:,} vs {first['events']:,} events",
                    "value": last[name]["value"], "baseline": first[name]["value"], "ratio": ratio,
                    "target": 0.7, "target_text": TARGETS[name], "pass": ratio >= 0.7})
    for s in stages:
        rb = s["rebuild"]
        out.append({"check": "rebuild_vs_raw", "what": f"rebuild / raw scan at {s['events']:,} events",
                    "value": rb["value"], "baseline": rb["baseline"], "ratio": rb["ratio"], "target": 0.7,
                    "target_text": TARGETS["rebuild_vs_raw"], "pass": rb["ratio"] >= 0.7})
    for s in stages:
        p = s["pool"]
        out.append({"check": "pool", "what": f"pool p99, a page of {p['page_rows']:,} of {p['province']} "
                                             f"{p['tier']}'s {p['rows']:,} rows at {s['events']:,} events (the whole "
                                             f"listing: p99 {p['listing']['p99_ms']:,.0f} ms, no target)",
                    "value": p["p99_ms"], "baseline": None, "ratio": p["p99_ms"] / p["target"], "target": p["target"],
                    "target_text": TARGETS["pool"], "pass": p["pass"]})
    for s in stages:
        r = s["report"]
        out.append({"check": "report", "what": f"report of {r['city']} at {s['events']:,} events (max of "
                                               f"{r['runs']})",
                    "value": r["max"], "baseline": None, "ratio": r["max"] / r["target"], "target": r["target"],
                    "target_text": TARGETS["report"], "pass": r["pass"]})
    if "memory" in results:
        m = results["memory"]
        out.append({"check": "memory", "what": f"peak RSS, rebuild of {m['events']:,} events",
                    "value": m["peak_rss"], "baseline": None, "ratio": m["peak_rss"] / m["target"],
                    "target": m["target"], "target_text": TARGETS["memory"], "pass": m["pass"]})
    return out


def _figure(check: dict[str, Any]) -> str:
    v, name = check["value"], check["check"]
    if name == "memory":
        return f"{v / MiB:,.0f} MiB"
    if name == "pool":
        return f"{v:,.1f} ms"
    if name == "report":
        return f"{v:,.2f} s"
    unit = "commands/s" if name == "commands" else "events/s"
    return f"{v:,.0f} {unit} (vs {check['baseline']:,.0f})"


def print_table(results: dict[str, Any]) -> None:
    meta = results["meta"]
    commands = f"{meta['commands']:,} commands" if meta.get("commands") is not None else "loaded before the run"
    print(f"cultivation-ledger scale — {meta['store']}, {meta['events']:,} events ({commands}), "
          f"{meta['machine']['cpus']} cores; {meta['generator']}")
    print(f"{'stage':>10} {'events':>10} {'commands/s':>11} {'rebuild/s':>10} {'raw scan/s':>11} {'ratio':>6} "
          f"{'pool p50/p99 ms':>16} {'pool rows':>9} {'report s':>9}")
    for s in results["stages"]:
        rb, p = s["rebuild"], s["pool"]
        rate = f"{s['commands']['value']:>11,.0f}" if s["commands"] is not None else f"{'—':>11}"
        print(f"{s['stage']:>10,} {s['events']:>10,} {rate} {rb['value']:>10,.0f} "
              f"{rb['baseline']:>11,.0f} {rb['ratio']:>5.2f}× {p['p50_ms']:>7.1f}/{p['p99_ms']:<8.1f} "
              f"{p['rows']:>9,} {s['report']['value']:>9.2f}")
    print()
    for c in results["checks"]:
        print(f"  {'PASS' if c['pass'] else 'MISS'}  {c['what']}: {_figure(c)}, ratio {c['ratio']:.2f} "
              f"(target {c['target_text']})")
    print(f"  run took {meta['seconds']:.0f} s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    stages, quick = ",".join(map(str, DEFAULT_STAGES)), ",".join(map(str, QUICK_STAGES))
    p.add_argument("--stages", help=f"events in the store at each stage, comma-separated (default {stages}; "
                                    f"--quick {quick})")
    p.add_argument("--enterprises", type=int, help="enterprises of the generated history (default 360,000, the "
                                                   "national size; --quick 1,000)")
    p.add_argument("--slice", type=int, help="commands of the timed handle_many slice at each stage (default 20,000)")
    p.add_argument("--repeats", type=int, help="rebuilds and raw scans at each stage (default 1)")
    p.add_argument("--db", help="a new SQLite file, or postgresql://… (a fresh schema is made and dropped); "
                                "default: a SQLite file in a temporary folder")
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    p.add_argument("--quick", action="store_true", help="a small run for a smoke test (seconds)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-RSS rebuild at the last stage")
    p.add_argument("--keep", action="store_true", help="keep the store and the temporary folder")
    p.add_argument("--loaded", metavar="STORE", help="measure a store loaded already (a SQLite path or "
                                                     "postgresql://…), as one stage: no loading, no commands timed")
    args = p.parse_args(argv)
    plan = ScalePlan.quick() if args.quick else ScalePlan()
    if args.stages:
        try:
            plan.stages = tuple(sorted(int(s.replace("_", "")) for s in args.stages.split(",") if s.strip()))
        except ValueError:
            p.error(f"--stages: numbers of events, comma-separated (got {args.stages!r})")
        if not plan.stages or plan.stages[0] <= 0:
            p.error("--stages: at least one positive number of events")
    for name in ("enterprises", "slice", "repeats"):
        if getattr(args, name) is not None:
            if getattr(args, name) <= 0:
                p.error(f"--{name}: a positive number (got {getattr(args, name)})")
            setattr(plan, name, getattr(args, name))
    plan.memory = not args.no_memory
    if args.loaded:
        if args.stages or args.db or args.enterprises or args.slice:
            p.error("--loaded measures the store as it is: without --stages, --db, --enterprises or --slice")
        from infra.store import is_postgres

        if not is_postgres(args.loaded) and not Path(args.loaded).expanduser().is_file():
            p.error(f"--loaded: no SQLite store at {args.loaded} (a loaded store is measured, never made)")
        return measure_and_print(run_loaded, print_table, args, plan)
    return measure_and_print(run, print_table, args, plan)


if __name__ == "__main__":
    sys.exit(main())
