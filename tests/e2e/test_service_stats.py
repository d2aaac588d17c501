"""``$SRV.STATS`` counts what the caller sees (issue 11, finding 8).

Before: the endpoint handler returned as soon as a request was queued and every refusal
was an answer, so the stats showed no errors and timed the queueing, not the commit.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Any

import nats

from entrypoints.nats_service import CommandService
from infra.nats import connect_options
from services.ledger import Ledger
from tests.support.hostile import journey, sample, send_raw, subject_of


async def _stats(nc: Any) -> dict[str, dict[str, Any]]:
    msg = await nc.request("$SRV.STATS.cultivation", b"", timeout=10)
    return {e["name"]: e for e in json.loads(msg.data)["endpoints"]}


def test_refusals_and_malformed_requests_count_as_errors_and_the_commit_is_timed(sqlite_store: str,
                                                                                nats_url: str) -> None:
    hold = 0.5  # seconds the test keeps the ledger's write lock while a command waits for its commit

    async def run() -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        ledger = Ledger(db=sqlite_store)
        nc = await nats.connect(**connect_options(nats_url))
        service = CommandService(ledger, nc)
        await service.start()
        client = await nats.connect(**connect_options(nats_url))
        try:
            ok = [journey(n)[0] for n in range(3)]
            refused = [{**ok[0], "command_id": "again-0"}, {**ok[1], "command_id": "again-1"}]  # register.exists
            malformed = [b'{"command_id": "m1", "name": "\xff"}',
                         json.dumps(sample("register", n="m2", name="a\u0000b")).encode()]
            replies = []
            for body in ok + refused:
                replies.append(await send_raw(client, subject_of(body), json.dumps(body).encode()))
            for data in malformed:
                replies.append(await send_raw(client, "cultivation.cmd.211402.register", data))
            before = (await _stats(client))["register"]

            # One more command, whose commit must wait for a write lock the test holds.
            lock = sqlite3.connect(sqlite_store, timeout=30, isolation_level=None)
            lock.execute("BEGIN IMMEDIATE")
            body = journey(9)[0]
            pending = asyncio.ensure_future(send_raw(client, subject_of(body), json.dumps(body).encode()))
            await asyncio.sleep(hold)
            assert not pending.done()  # it cannot be answered before its commit
            lock.execute("ROLLBACK")
            lock.close()
            replies.append(await pending)
            after = (await _stats(client))["register"]
            return before, after, replies
        finally:
            await client.close()
            await service.stop()
            await nc.close()
            ledger.close()

    before, after, replies = asyncio.run(run())
    assert [r["body"]["ok"] for r in replies] == [True, True, True, False, False, False, False, True]
    assert before["num_requests"] == 7
    assert before["num_errors"] == 4, before  # two refusals by a rule, two malformed requests
    assert before["last_error"] == "400: input.invalid"
    assert after["num_requests"] == 8 and after["num_errors"] == 4
    # The waiting command's time from arrival to reply covers the lock the test held.
    waited = after["processing_time"] - before["processing_time"]
    assert waited >= hold * 1e9, (waited, before, after)
    assert after["average_processing_time"] == after["processing_time"] // 8
