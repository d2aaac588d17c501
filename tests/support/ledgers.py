"""Ledgers for tests: a ``Script`` that sends commands as dicts, valid USCCs, and a fresh
PostgreSQL schema per test (the fixtures using them are in ``tests/conftest.py``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from domain.values import make_uscc
from services import commands as c
from services.ledger import Ledger


def pg_schema_url(base: str) -> Iterator[str]:
    """A fresh schema on the PostgreSQL server ``base``, as a store URL; dropped afterwards."""
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


def uscc(n: int, region: str = "211400") -> str:
    """A valid USCC in ``region`` (characters 3-8) numbered ``n``."""
    return make_uscc(f"91{region}MA{n:07d}")
