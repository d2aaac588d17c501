"""The file of issue 10: ``cultivation generate`` of 2,000 enterprises over 10 years, seed 7,
with the refusals the generator expects of it, command by command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from entrypoints.cli import main


def issue_file(folder: Path) -> tuple[Path, dict[str, str]]:
    """The generated commands (a JSON-lines file in ``folder``) and the expected refusal code
    of each command the generator means to be refused, by command id."""
    out, expected = folder / "g.jsonl", folder / "e.jsonl"
    assert main(["generate", "--enterprises", "2000", "--years", "10", "--seed", "7", "--out", str(out),
                 "--expected", str(expected)]) == 0
    return out, {r["command_id"]: r["code"] for r in map(json.loads, expected.read_text().splitlines())}


def refusal_codes(result: dict[str, Any]) -> dict[str, str]:
    """The refusal code of each refused command of a ``submit --json`` result, by command id."""
    return {r["command_id"]: r["code"] for r in result["refusals"]}
