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
    demo expects of it (accepted, or refused with its code)."""
    ledger = Ledger(db=str(db))
    try:
        for obj, expected in demo_script():
            try:
                ledger.handle(c.convert_command(obj))
                got = None
            except (LedgerError, c.InputError) as e:
                got = e.as_dict()["code"]
            assert got == expected, obj["command_id"]
    finally:
        ledger.close()
    return db
