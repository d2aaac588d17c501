"""A pool's pages, read from its keys (the pool's index) and then the rows of each page's
keys, walk exactly the pool's valid designations, as they stood on the date, on each real
store: the same rows as the whole listing, each once, with its size as ``total``."""

from __future__ import annotations

from datetime import date

import msgspec

from infra.readmodel import ReadModel
from scenarios.generate import generate_commands
from services import commands as c
from services.ledger import Ledger
from services.queries import PoolQuery, answer_pool, page, pool_items


def walk(rm: ReadModel, ledger: Ledger, **query: object) -> tuple[list[msgspec.Struct], set[int]]:
    """Every item of a pool query, page by page (of 7), and the totals the pages gave."""
    items, totals, after = [], set(), None
    while True:
        a = answer_pool(rm, ledger.policy, msgspec.convert({**query, "limit": 7, "after": after}, PoolQuery))
        items += a.items
        totals.add(a.total)
        assert a.count == len(a.items) <= 7
        if a.next is None:
            return items, totals
        after = a.next


def test_pages_of_a_pool_are_its_listing(any_ledger: Ledger) -> None:
    cmds = [c.convert_command(d) for d in generate_commands(150, 10, 5, start_year=2016)]
    any_ledger.handle_many(cmds, batch_size=200)
    rm = ReadModel(any_ledger)
    try:
        seen = 0
        for tier in ("innovative", "specialized"):
            for as_of in ("2020-06-30", "2023-07-26", "2025-12-31"):
                for region in (None, "210000", "370200"):
                    whole = pool_items(rm, tier=tier, as_of=as_of, region=region)
                    items, totals = walk(rm, any_ledger, tier=tier, as_of=as_of, region=region)
                    assert [i.key for i in items] == sorted(d.key for d in whole)
                    assert sorted(msgspec.to_builtins(items), key=lambda d: d["key"]) == \
                        sorted(msgspec.to_builtins(whole), key=lambda d: d["key"])
                    assert totals == {len(whole)}
                    seen += len(whole)
        assert seen > 50  # the history designates enough for pages to matter
        # the other listings page the whole list by the same rule
        ever = pool_items(rm, tier="innovative", as_of="2025-12-31", count="ever")
        items, totals = walk(rm, any_ledger, tier="innovative", as_of="2025-12-31", count="ever")
        assert [i.key for i in items] == [i.key for i in page(ever, len(ever), None)[0]] and totals == {len(ever)}
        # a page after the last key is empty, and says so
        last = answer_pool(rm, any_ledger.policy, PoolQuery(tier="innovative", as_of=date(2025, 12, 31),
                                                            after="~"))
        assert (last.items, last.count, last.next) == ([], 0, None) and last.total > 0
    finally:
        rm.close()
