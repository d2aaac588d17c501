"""Issue 15, item 1: the stream, the bucket and the projector's consumer are replicated on a
real JetStream cluster (three bundled nats-server nodes routed on loopback), scaled up when
the setting grows, and a kill -9 of the stream's leader costs a bounded stall, not the stream."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from infra.nats import EmbeddedNats, Names, ensure_stream_and_bucket, replicas_for, replication
from tests.support.cluster import Cluster, ready, retrying

N = Names()  # the default ledger's NATS names


@pytest.fixture
def cluster(tmp_path: Path):  # type: ignore[no-untyped-def]
    c = Cluster(tmp_path).start()
    yield c
    c.close()


def test_the_default_is_three_replicas_on_a_cluster_of_three_and_one_on_a_single_server(cluster, tmp_path) -> None:
    async def go() -> tuple[int, int]:
        nc = await ready(cluster.urls)
        with EmbeddedNats(store_dir=tmp_path / "single") as single:
            one = await ready(single.url)
            counts = replicas_for(nc, {}), replicas_for(one, {})
            await one.close()
        await nc.close()
        return counts

    assert asyncio.run(go()) == (3, 1)


def test_stream_and_bucket_are_created_with_three_replicas_and_report_their_leader(cluster) -> None:
    async def go() -> list[dict]:
        nc = await ready(cluster.urls)
        js = nc.jetstream()
        await retrying(lambda: ensure_stream_and_bucket(js, replicas_for(nc, {})))
        rows = await retrying(lambda: _settled(js))
        await nc.close()
        return rows

    rows = asyncio.run(go())
    assert [r["stream"] for r in rows] == [N.stream, f"KV_{N.pool_bucket}"]
    for r in rows:
        assert r["replicas"] == 3 and r["cluster"] == "cultivation"
        assert r["leader"] in ("n0", "n1", "n2")
        assert sorted([r["leader"], *(f["name"] for f in r["followers"])]) == ["n0", "n1", "n2"]


async def _settled(js) -> list[dict]:  # type: ignore[no-untyped-def]
    rows = await replication(js)
    assert all(r["leader"] and len(r["followers"]) == r["replicas"] - 1 for r in rows), rows
    return rows


def test_an_existing_single_replica_stream_and_bucket_are_scaled_up(cluster) -> None:
    async def go() -> tuple[list[int], int]:
        nc = await ready(cluster.urls)
        js = nc.jetstream()
        await retrying(lambda: ensure_stream_and_bucket(js, 1))
        await js.publish(f"{N.events_prefix}.210000.specialized.Approved", b"{}")
        before = [r["replicas"] for r in await replication(js)]
        await retrying(lambda: ensure_stream_and_bucket(js, 3))
        await retrying(lambda: _settled(js))
        after = [r["replicas"] for r in await replication(js)]
        msgs = (await js.stream_info(N.stream)).state.messages
        await nc.close()
        return before + after, msgs

    counts, msgs = asyncio.run(go())
    assert counts == [1, 1, 3, 3] and msgs == 1  # scaled up in place: the message kept


def test_a_kill_of_the_stream_leader_costs_a_stall_not_the_stream(cluster) -> None:
    async def go() -> tuple[int, float]:
        nc = await ready(cluster.urls)
        js = nc.jetstream()
        await retrying(lambda: ensure_stream_and_bucket(js, 3))
        await retrying(lambda: _settled(js))
        for i in range(20):
            await js.publish(f"{N.events_prefix}.210000.specialized.Approved", b"{}", headers={"Nats-Msg-Id": f"a{i}"})
        leader = (await replication(js))[0]["leader"]
        cluster.kill(leader)
        t0 = time.monotonic()
        await retrying(lambda: js.publish(f"{N.events_prefix}.210000.specialized.Approved", b"{}",
                                               headers={"Nats-Msg-Id": "after"}, timeout=2))
        stall = time.monotonic() - t0
        info = await js.stream_info(N.stream)
        assert info.cluster.leader != leader
        await nc.close()
        return info.state.messages, stall

    messages, stall = asyncio.run(go())
    print(f"stream leader killed: the next publish acknowledged after {stall:.1f} s")
    assert messages == 21  # nothing lost, nothing doubled
