"""The demo history (``scenarios.demo``) in a SQLite ledger, and the Huludao row it gives."""

from __future__ import annotations

from pathlib import Path

from domain.errors import LedgerError
from scenarios.demo import demo_script
from services import commands as c
from services.ledger import Ledger

# docs/domain.md, "Huludao, 2023-06": (programme, tier, level) -> count
HULUDAO = {
    ("national", "key_little_giant", "national"): 2,
    ("national", "little_giant", "national"): 5,
    ("liaoning", "little_giant", "provincial"): 9,
    ("national", "specialized", "provincial"): 36,
    ("liaoning", "product", "provincial"): 35,
    ("national", "innovative", "provincial"): 33,
}


def load_demo(db: Path) -> Path:
    """The demo history in a fresh SQLite ledger at ``db``, each command with the outcome the
    demo expects of it (accepted, or refused with its code).  In batches, as ``cultivation
    demo`` loads it (``Ledger.handle_many``: the same outcomes as one by one, some 25,000
    commands in seconds rather than a minute)."""
    ledger = Ledger(db=str(db))
    try:
        script = demo_script()
        expected = {obj["command_id"]: want for obj, want in script}
        wrong: list[str] = []

        def check(cmd: c.Command, result: object) -> None:
            got = result.as_dict()["code"] if isinstance(result, (LedgerError, c.InputError)) else None
            if got != expected[cmd.command_id]:
                wrong.append(f"{cmd.command_id}: expected {expected[cmd.command_id]}, got {got}")

        ledger.handle_many([c.convert_command(obj) for obj, _ in script], check)
        assert not wrong, wrong[:10]
    finally:
        ledger.close()
    return db
