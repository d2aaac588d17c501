"""How the ledger's processes use Python's cyclic garbage collector.

Nearly every object the ledger makes is acyclic and freed by reference counting the moment
it is dropped; the cyclic collector's full passes only trace what is alive.  Two helpers:

- :func:`relaxed_gc`: fewer passes while a rebuild folds, or ``submit`` decides, millions
  of short-lived objects;
- :func:`freeze_heap`: the objects a long-running process holds once it is ready (modules,
  the policy, connections, caches) moved out of the collector's reach for good;
- :func:`refreeze` (every second in ``cultivation serve``, :func:`keep_frozen`): what it
  has come to hold since, the aggregates its cache keeps included, moved there too.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from contextlib import contextmanager

REFREEZE_SECONDS = 1.0  # how often a serving process moves what it has come to hold out of reach


@contextmanager
def relaxed_gc() -> Iterator[None]:
    """Fewer cyclic-GC passes while folding millions of short-lived, acyclic objects:
    the collector's full passes over a large heap cost more than the fold itself, and
    each young-generation pass traces the pages of events being folded (some 60,000
    objects: at a threshold of 50,000, 0.25 s of a 3.5 s rebuild of 200,000 positions).
    The same holds for ``cultivation submit``: every object a batch has alive when a
    middle-generation pass comes is moved to the old generation, and once those moves
    add up to a quarter of the old generation a full pass traces it all, the enterprises
    submit keeps included (27 % of the samples of a national submit keeping 100,000 were in
    the collector, by py-spy at 1.9 M commands).  Objects are still freed by reference
    counting; thresholds are restored after."""
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], 200_000), old[1], max(old[2], 50))
    try:
        yield
    finally:
        gc.set_threshold(*old)


def freeze_heap() -> None:
    """Collect once, then move every object alive now out of the cyclic collector's reach
    (``gc.freeze``): its full passes no longer trace them.  In ``cultivation serve`` and its
    projector those passes came every few seconds under load and each paused the process
    for 17–55 ms, in the middle of the command → KV path (2–6 ms once the heap of a ready
    process is frozen; measured with ``gc.callbacks`` at 1,000 and 2,000 commands/s).
    Objects made later are collected as before.  The benchmarks call it too, before each
    timed part, so their own inputs do not tax the code they measure."""
    gc.collect()
    gc.freeze()


def refreeze() -> None:
    """Collect the two young generations, then freeze what survived (``gc.freeze``), so that
    the old generation the collector's full passes trace stays as small as what a second
    brings.  At national size a serving ledger's cache of 20,000 enterprises churns: each
    command builds an enterprise that is not kept, about a dozen tracked objects that reach
    the old generation, and every few thousand commands a full pass traced them all, cache
    included: 8 full passes in 30,000 commands to distinct enterprises of the national
    store, 24–391 ms each (181 ms on average), on the event loop of the command service.
    Refrozen every 1,000 of those commands: no full pass, no pass over 57 ms
    (``benchmarks/cache.py --churn``, which measures both ways in one run).

    What is frozen is still freed by reference counting the moment it is dropped (an
    enterprise evicted from the cache is); only garbage *cycles* among frozen objects are
    never collected.  Those are rare here: over 80,000 such commands the frozen heap grew
    by what the cache and ``enterprise_id``'s cache of 65,536 codes came to hold, then
    stayed flat.  Young cycles (a closure, an exception and its frames) are collected
    first, by the young pass.

    >>> kept = [[i] for i in range(1000)]  # tracked objects a process has come to hold
    >>> refreeze()
    >>> any(x is kept[0] for x in gc.get_objects()), kept[0]  # out of every pass's reach, alive
    (False, [0])
    >>> gc.unfreeze()
    """
    gc.collect(1)
    gc.freeze()


async def keep_frozen(every: float = REFREEZE_SECONDS) -> None:
    """:func:`refreeze` every ``every`` seconds until cancelled (a task of ``cultivation serve``,
    in each of its processes)."""
    while True:
        await asyncio.sleep(every)
        refreeze()
