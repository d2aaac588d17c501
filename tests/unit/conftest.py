"""The unit room: no store, no subprocess, no NATS, so ``make unit`` runs in seconds.

The fixtures that would open one are refused here by name; a test that needs one belongs in
``tests/integration`` (a real SQLite or PostgreSQL store) or ``tests/e2e`` (processes, NATS).
"""

from __future__ import annotations

import pytest

_NOT_HERE = ("store", "any_ledger", "pg_store", "pg_base_url", "sqlite_store", "ledger", "script", "u", "nats_url",
             "embedded_nats")


def _refused(name: str):  # type: ignore[no-untyped-def]
    @pytest.fixture(name=name)
    def fixture() -> None:
        raise pytest.UsageError(f"fixture {name!r} opens a store or a server: the test belongs in tests/integration "
                                "or tests/e2e, not tests/unit")

    return fixture


for _name in _NOT_HERE:
    globals()[f"_refuse_{_name}"] = _refused(_name)
