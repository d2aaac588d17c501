"""One relay active, standbys ready (issue 15, item 4): the relay lease on a NATS KV key with
a time to live (infra/lease.py), on a real nats-server.

- a lease is held by one relay at a time; a standby gets it once the holder stops renewing
  (a death) within the time to live, at once after a release (a clean stop);
- a holder that lost the key can neither renew nor believe it still holds it;
- two relays with leases on one store and stream: one publishes, the other stands by; when the
  active one dies without a word, the standby takes over and the stream still holds each
  event once, in ledger order.
"""

from __future__ import annotations

import asyncio
import time

import nats

from infra.lease import Lease, lease_holder
from infra.nats import Names, connect_options, ensure_stream_and_bucket
from infra.relay import Relay
from services.ledger import Ledger
from tests.support.streams import assert_stream_equals_log, load, read_stream

N = Names()
TTL = 1.5


async def _connected(url: str) -> tuple[object, object]:
    nc = await nats.connect(**connect_options(url))
    js = nc.jetstream()
    await ensure_stream_and_bucket(js, names=N, lease_ttl=TTL)
    return nc, js


def test_one_holder_at_a_time_and_a_standby_takes_over_when_the_holder_stops_renewing(nats_url: str) -> None:
    async def go() -> None:
        nc, js = await _connected(nats_url)
        a, b = Lease(js, N, TTL, holder="a"), Lease(js, N, TTL, holder="b")
        try:
            assert await a.acquire() and a.held()
            assert not await b.acquire() and not b.held()
            assert await lease_holder(js, N) == "a"
            assert await a.renew()  # renewing keeps it
            # a dies: it stops renewing; b gets the key once it has expired on the server
            died = time.monotonic()
            while not await b.acquire():
                assert time.monotonic() - died < TTL * 3, "the standby never got the lease"
                await asyncio.sleep(0.1)
            took = time.monotonic() - died
            assert TTL * 0.8 <= took < TTL * 3, took
            assert not a.held()  # a trusts its lease less long than the server keeps it
            assert not await a.renew() and a.revision is None  # and cannot take it back by renewing
            assert await lease_holder(js, N) == "b"
            # a clean stop releases: the other gets it at once
            await b.release()
            assert await lease_holder(js, N) is None
            assert await a.acquire()
        finally:
            await nc.close()

    asyncio.run(go())


def test_two_relays_one_publishes_the_standby_takes_over_when_the_active_one_dies(ledger: Ledger,
                                                                                   nats_url: str) -> None:
    load(ledger, 0, 30)  # 30 journeys: 180 events (one per command)

    async def go() -> None:
        nc1, js1 = await _connected(nats_url)
        nc2, js2 = await _connected(nats_url)
        one = Relay(ledger, nc1, batch_size=20, names=N, lease=Lease(js1, N, TTL, holder="one"))
        two = Relay(ledger, nc2, batch_size=20, names=N, lease=Lease(js2, N, TTL, holder="two"))
        r1, r2 = asyncio.Event(), asyncio.Event()
        t1 = asyncio.create_task(one.run(r1))
        await asyncio.wait_for(r1.wait(), 10)
        t2 = asyncio.create_task(two.run(r2))
        await asyncio.wait_for(r2.wait(), 10)
        deadline = time.monotonic() + 20
        while one.position < ledger.max_position():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert (one.role, two.role) == ("active", "standby") and two.published == 0
        # the active relay dies without releasing its lease (its connection cut, its task gone)
        t1.cancel()
        one.lease.revision = None  # type: ignore[union-attr]  # a killed process releases nothing
        await asyncio.gather(t1, return_exceptions=True)
        await nc1.close()
        died = time.monotonic()
        before = ledger.max_position()
        load(ledger, 30, 10)  # 120 more events while nobody publishes
        while two.position < ledger.max_position():
            assert time.monotonic() - died < TTL * 4 + 10, "the standby did not take over"
            await asyncio.sleep(0.05)
        assert two.role == "active" and two.published == ledger.max_position() - before
        two.stop()
        await t2
        assert await lease_holder(js2, N) is None  # released on the clean stop
        await nc2.close()

    asyncio.run(go())
    assert_stream_equals_log(ledger, asyncio.run(read_stream(nats_url)))
