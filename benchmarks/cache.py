#!/usr/bin/env python3
"""What the ledger's cache of kept aggregates is worth, and what it costs.

    python benchmarks/cache.py [--history FILE.jsonl | --enterprises N] [--sizes 20000,100000] [--json]
    python benchmarks/cache.py --store STORE [--sample N] [--json]
    python benchmarks/cache.py --store STORE --churn N [--cache N] [--json]

**Worth** (the default): the commands of a history (a JSON Lines file such as ``cultivation
generate`` writes, else ``scenarios.generate.generate_commands`` of ``--enterprises``, by
default the national size) replayed through a least-recently-used cache of each size, as
the ledger keeps enterprises between commands (``services.ledger.Ledger``): the share of
the commands that name an enterprise (``uscc``) whose enterprise is kept.  Beside it, the
same with eviction at random (seed 1), to show whether another policy would do better.
No store is touched: the replay is of ids only.  (The ledger takes a batch's enterprises
out of the cache and puts them back after the batch; replayed one command at a time, as
here, the hit rate is the same but for an enterprise named twice in one batch.)

**Cost** (``--store``): ``--sample`` aggregates of a loaded store built with
``Ledger.load_many``, as a cache would hold them: the bytes each holds (``tracemalloc``),
the objects each adds to what Python's cyclic garbage collector traces, and how long one
full collection takes with them alive (the pause a long-running ``serve`` sees now and then).

**Churn** (``--store`` and ``--churn N``): what that pause becomes while a cache of ``--cache``
aggregates (default serve's, ``services.ledger.AGGREGATE_CACHE``) keeps the last ones built,
as at national size, where nearly every command names an enterprise not kept: ``N``
aggregates built one at a time (``Ledger.load_many`` of one) into a least-recently-used
cache, every pass of the cyclic collector timed (``gc.callbacks``), two ways in one run on
aggregates of their own: the heap frozen once at the start, as ``serve`` did before, and
also refrozen every second (``infra.heap.refreeze``), as ``serve`` does now.  Only reads.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
import tracemalloc
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402 - after the path is set

DEFAULT_SIZES = (20_000, 50_000, 100_000, 200_000)


class _Named(msgspec.Struct):
    uscc: str | None = None


def enterprise_keys(history: str | None, enterprises: int) -> Iterator[str]:
    """The USCC each command of the history names, in order (commands naming none are left out)."""
    if history:
        decode = msgspec.json.Decoder(_Named).decode
        with open(history, "rb") as f:
            for line in f:
                if line.strip():
                    uscc = decode(line).uscc
                    if uscc:
                        yield uscc
        return
    from scenarios.generate import generate_commands

    for cmd in generate_commands(enterprises, 10, 1, start_year=2016):
        uscc = cmd.get("uscc")
        if uscc:
            yield uscc


def lru_hits(keys: list[int], size: int) -> int:
    """Commands whose key an LRU of ``size`` keys holds when they come (the ledger's policy)."""
    kept: OrderedDict[int, None] = OrderedDict()
    hits = 0
    for k in keys:
        if k in kept:
            hits += 1
            kept.move_to_end(k)
        else:
            kept[k] = None
            if len(kept) > size:
                kept.popitem(last=False)
    return hits


def random_hits(keys: list[int], size: int, seed: int = 1) -> int:
    """The same with a key evicted at random when the cache is full."""
    if size == 0:
        return 0
    rnd = random.Random(seed)
    slot: dict[int, int] = {}
    held: list[int] = []
    hits = 0
    for k in keys:
        if k in slot:
            hits += 1
        elif len(held) < size:
            slot[k] = len(held)
            held.append(k)
        else:
            j = rnd.randrange(size)
            del slot[held[j]]
            held[j] = k
            slot[k] = j
    return hits


def worth(history: str | None, enterprises: int, sizes: list[int]) -> dict[str, Any]:
    index: dict[str, int] = {}
    keys = [index.setdefault(u, len(index)) for u in enterprise_keys(history, enterprises)]
    rows = []
    for size in sizes:
        lru, rnd = lru_hits(keys, size), random_hits(keys, size)
        rows.append({"size": size, "lru_hit_rate": lru / len(keys) if keys else 0.0,
                     "random_hit_rate": rnd / len(keys) if keys else 0.0})
    return {"history": history or f"generate_commands({enterprises}, 10, seed=1)", "commands": len(keys),
            "enterprises": len(index), "sizes": rows}


def cost(store: str, sample: int) -> dict[str, Any]:
    from infra.store import check_store, store_url
    from services.ledger import Ledger

    url = store_url(store)
    check_store(url, create=False)  # a measurement never makes a ledger where there is none
    ledger = Ledger(db=url, cache_size=0)
    try:
        ids = ledger.bulk.aggregate_ids(sample)
        gc.collect()
        gc.freeze()  # what is alive now is not the cache's
        before = len(gc.get_objects())
        tracemalloc.start()
        kept: dict[Any, Any] = {}
        for i in range(0, len(ids), 500):
            kept.update(ledger.load_many(ids[i:i + 500]))
        held, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        gc.collect()
        tracked = len(gc.get_objects()) - before
        t0 = time.perf_counter()
        gc.collect()
        pause = time.perf_counter() - t0
        n = sum(1 for a in kept.values() if a is not None)
        return {"store": store, "aggregates": n, "bytes_each": held / n if n else 0.0,
                "tracked_objects_each": tracked / n if n else 0.0, "full_collection_ms": pause * 1000}
    finally:
        gc.unfreeze()
        ledger.close()


def churn(store: str, n: int, size: int) -> dict[str, Any]:
    from infra.store import check_store, store_url
    from services.ledger import Ledger

    url = store_url(store)
    check_store(url, create=False)
    ledger = Ledger(db=url, cache_size=0)
    try:
        ids = ledger.bulk.aggregate_ids(2 * n)
        if len(ids) < 2 * n:
            raise ValueError(f"--churn {n:,} needs {2 * n:,} aggregates in the store (two ways, their own each); "
                             f"it has {len(ids):,}")
        once = _churn_way(ledger, ids[:n], size, refreezing=False)
        re = _churn_way(ledger, ids[n:], size, refreezing=True)
        return {"store": store, "cache": size, "frozen_once": once, "refrozen": re,
                "collector_ratio": re["collector_ms_total"] / once["collector_ms_total"]
                if once["collector_ms_total"] else float("nan")}
    finally:
        gc.unfreeze()
        ledger.close()


def _churn_way(ledger: Any, ids: list[Any], size: int, refreezing: bool) -> dict[str, Any]:
    """``ids`` built one at a time into an LRU of ``size``, the heap frozen at the start and,
    ``refreezing``, every second as ``serve`` does; every collector pass timed."""
    from infra.heap import REFREEZE_SECONDS, freeze_heap, refreeze

    kept: OrderedDict[Any, Any] = OrderedDict()
    passes: list[tuple[int, float]] = []
    started = [0.0]

    def timed(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            passes.append((info["generation"], (time.perf_counter() - started[0]) * 1000))

    builds: list[float] = []
    freeze_heap()
    gc.callbacks.append(timed)
    try:
        t0 = last = time.perf_counter()
        for oid in ids:
            b0 = time.perf_counter()
            kept.update(ledger.load_many([oid]))
            while len(kept) > size:
                kept.popitem(last=False)
            now = time.perf_counter()
            builds.append((now - b0) * 1000)
            if refreezing and now - last >= REFREEZE_SECONDS:
                refreeze()
                last = now
        elapsed = time.perf_counter() - t0
    finally:
        gc.callbacks.remove(timed)
    frozen = gc.get_freeze_count()
    kept.clear()
    gc.unfreeze()
    full = [ms for g, ms in passes if g == 2]
    builds.sort()
    return {"aggregates": len(ids), "seconds": elapsed, "full_passes": len(full),
            "full_pass_ms_max": max(full, default=0.0), "full_pass_ms_total": sum(full),
            "any_pass_ms_max": max((ms for _, ms in passes), default=0.0),
            "collector_ms_total": sum(ms for _, ms in passes),
            "build_ms_p50": builds[len(builds) // 2], "build_ms_p99": builds[int(len(builds) * 0.99)],
            "build_ms_max": builds[-1], "frozen_objects": frozen}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--history", metavar="FILE", help="a JSON Lines history (default: generate one)")
    p.add_argument("--enterprises", type=int, default=360_000,
                   help="enterprises of the generated history (default 360,000, the national size)")
    p.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                   help=f"cache sizes to replay, comma-separated (default {','.join(map(str, DEFAULT_SIZES))})")
    p.add_argument("--store", help="measure what kept aggregates cost on this loaded store instead")
    p.add_argument("--sample", type=int, default=20_000, help="aggregates to build with --store (default 20,000)")
    p.add_argument("--churn", type=int, metavar="N",
                   help="with --store: build 2 × N aggregates through a cache of --cache, the heap frozen once, "
                        "then also refrozen every second, and time every pass of the cyclic collector")
    p.add_argument("--cache", type=int, help="aggregates kept by --churn (default serve's, 20,000)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    args = p.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        p.error(f"--sizes: {args.sizes!r} is not a comma-separated list of whole numbers")
    if any(s < 0 for s in sizes) or args.enterprises < 1 or args.sample < 1:
        p.error("--sizes must be 0 or more, --enterprises and --sample 1 or more")
    if (args.churn is not None or args.cache is not None) and not args.store:
        p.error("--churn and --cache measure a loaded store: name it with --store")
    if args.churn is not None and args.churn < 1 or args.cache is not None and args.cache < 1:
        p.error("--churn and --cache must be 1 or more")
    if args.store and args.churn:
        from infra.store import StoreError
        from services.ledger import AGGREGATE_CACHE

        try:
            result = churn(args.store, args.churn, args.cache or AGGREGATE_CACHE)
        except (StoreError, ValueError) as e:
            p.error(f"--store: {e}")
        if args.json:
            print(json.dumps(result))
            return 0
        print(f"{args.churn:,} aggregates each way built one at a time, the last {result['cache']:,} kept "
              f"({result['store']})")
        print(f"{'':>26}  {'full passes':>11}  {'longest':>9}  {'collector':>10}  {'build p99':>9}  {'longest':>9}")
        for way, label in (("frozen_once", "heap frozen once"), ("refrozen", "refrozen every second")):
            w = result[way]
            print(f"{label:>26}  {w['full_passes']:>11,}  {w['any_pass_ms_max']:>6.0f} ms  "
                  f"{w['collector_ms_total']:>7.0f} ms  {w['build_ms_p99']:>6.1f} ms  {w['build_ms_max']:>6.0f} ms")
        print(f"time in the collector, refrozen / frozen once: {result['collector_ratio']:.2f}×")
        return 0
    if args.store:
        from infra.store import StoreError

        try:
            result = cost(args.store, args.sample)
        except StoreError as e:
            p.error(f"--store: {e}")
        if args.json:
            print(json.dumps(result))
        else:
            print(f"{result['aggregates']:,} aggregates of {result['store']}: {result['bytes_each']:,.0f} bytes each, "
                  f"{result['tracked_objects_each']:.1f} objects traced by the cyclic collector each; "
                  f"one full collection with them alive {result['full_collection_ms']:.0f} ms")
        return 0
    result = worth(args.history, args.enterprises, sizes)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['commands']:,} commands naming {result['enterprises']:,} enterprises ({result['history']})")
    print(f"{'kept':>10}  {'LRU (the ledger)':>17}  {'random eviction':>16}")
    for row in result["sizes"]:
        print(f"{row['size']:>10,}  {row['lru_hit_rate']:>16.1%}  {row['random_hit_rate']:>16.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
