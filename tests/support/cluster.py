"""A JetStream cluster of the bundled nats-server on loopback: three nodes with distinct
client and route ports and store folders, routed to each other (issue 15)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import nats

from infra.nats import EmbeddedNats, free_port

T = TypeVar("T")


class Cluster:
    """``size`` nodes ``n0``…, each a real ``nats-server -js`` routed to the others."""

    def __init__(self, root: Path, size: int = 3):
        ports, routes = [free_port() for _ in range(size)], [free_port() for _ in range(size)]
        self.nodes = [EmbeddedNats(store_dir=root / f"n{i}", port=ports[i], name=f"n{i}", cluster_port=routes[i],
                                   routes=[p for j, p in enumerate(routes) if j != i]) for i in range(size)]

    @property
    def urls(self) -> str:
        return ",".join(n.url for n in self.nodes)

    def start(self) -> Cluster:
        for n in self.nodes:
            n.start()
        return self

    def node(self, name: str) -> EmbeddedNats:
        return next(n for n in self.nodes if n.name == name)

    def kill(self, name: str) -> None:
        """kill -9 of one node (its store folder stays, so it can come back)."""
        n = self.node(name)
        assert n.proc is not None
        n.proc.send_signal(signal.SIGKILL)
        n.proc.wait()
        n.proc = None

    def close(self) -> None:
        for n in self.nodes:
            n.close()


async def retrying(attempt: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
    """``attempt()`` until it succeeds, for at most ``timeout`` seconds: JetStream answers
    "no suitable peers" or times out while the cluster forms or elects a new leader."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await attempt()
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)


async def ready(url: str, timeout: float = 30.0) -> Any:
    """A connection once JetStream answers on the cluster (its meta leader elected)."""
    nc = await nats.connect(servers=url.split(","), max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    await retrying(nc.jetstream().account_info, timeout)
    return nc
